"""The layering of docs/architecture.md, held by the import-linter contracts in .importlinter.

`make test` runs lint-imports before pytest; the first test runs it here too, so that plain `pytest`
checks the layering. The others prove each contract bites: a copy of the four packages with one
forbidden import added must make lint-imports name that contract broken and the offending module,
so a contract that checks nothing (a typo in a module name, a layer that matches no module) fails
here instead of passing forever."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
PACKAGES = ("idgw", "policies", "providers", "face_check")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(*, cwd: Path, contract: str | None = None) -> subprocess.CompletedProcess:
    # PYTHONPATH=cwd puts the tree under test ahead of the editable install of the real packages.
    # --no-cache: a cache from the real tree must never answer for the copy (or the reverse).
    args = [LINT_IMPORTS, "--no-cache", "--no-logo", str(CONFIG)]
    if contract:
        args += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_contracts_hold():
    result = lint_imports(cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the four packages' Python files (not templates, media or models: imports only)."""
    root = tmp_path_factory.mktemp("layering")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package,
                        ignore=lambda _dir, names: [n for n in names if n == "__pycache__"
                                                    or ("." in n and not n.endswith(".py"))])
    return root


def test_the_copy_keeps_the_contracts(tree):
    """The copy alone passes: every failure below is the added import's, not the copy's."""
    result = lint_imports(cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr


# (contract id, file in the copy (a new one, or an existing one the line is appended to), the
# import, the module lint-imports must name)
VIOLATIONS = [
    ("leaves-import-no-gateway", "policies/_probe.py", "import idgw.storage\n", "policies._probe"),
    ("leaves-import-no-gateway", "face_check/_probe.py", "from idgw import audit\n", "face_check._probe"),
    ("leaves-independent", "face_check/_probe.py", "import policies\n", "face_check._probe"),
    ("leaves-no-framework", "policies/_probe.py", "import sqlalchemy\n", "policies._probe"),
    ("leaves-no-framework", "providers/_probe.py", "from fastapi import FastAPI\n", "providers._probe"),
    ("face-check-only-from-proofing", "idgw/web/_probe.py", "import face_check\n", "idgw.web._probe"),
    ("ops-at-the-edge", "idgw/login/_probe.py", "from idgw.observe import metrics\n", "idgw.login._probe"),
    ("ops-at-the-edge", "idgw/web/_probe.py", "import idgw.health\n", "idgw.web._probe"),
    ("page-machinery", "idgw/web/i18n.py", "import idgw.delegation.choice\n", "idgw.web.i18n"),
    ("page-machinery", "idgw/web/pages.py", "from idgw.web import steps\n", "idgw.web.pages"),
    ("oidc-knows-no-login-method", "idgw/oidc/_probe.py", "from idgw.authn import totp\n", "idgw.oidc._probe"),
    ("oidc-knows-no-login-method", "idgw/oidc/_probe.py", "import providers\n", "idgw.oidc._probe"),
    # Indirect: idgw.purge is not forbidden itself, but it imports idgw.delegation.
    ("oidc-knows-no-login-method", "idgw/oidc/_probe.py", "import idgw.purge\n", "idgw.oidc._probe"),
    ("layers", "idgw/storage/_probe.py", "import idgw.audit\n", "idgw.storage._probe"),
    ("layers", "idgw/login/_probe.py", "from idgw.web import pages\n", "idgw.login._probe"),
    ("layers", "idgw/authn/_probe.py", "import idgw.release\n", "idgw.authn._probe"),
    ("layers", "idgw/security.py", "import idgw.storage\n", "idgw.security"),
    ("layers", "idgw/observe/_probe.py", "import idgw.app\n", "idgw.observe._probe"),
    # The circle broken by idgw/cli_common.py (cli.py <-> cli_policy.py) must stay broken.
    ("layers", "idgw/cli_common.py", "import idgw.cli_policy\n", "idgw.cli_common"),
]


@pytest.mark.parametrize(("contract", "path", "source", "module"), VIOLATIONS,
                         ids=[f"{c}-{m}-{i}" for i, (c, _, _, m) in enumerate(VIOLATIONS)])
def test_a_forbidden_import_breaks_its_contract(tree, contract, path, source, module):
    target = tree / path
    original = target.read_text(encoding="utf-8") if target.exists() else None
    target.write_text((original + "\n" if original is not None else "") + source, encoding="utf-8")
    try:
        result = lint_imports(cwd=tree, contract=contract)
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and module in result.stdout, result.stdout + result.stderr
