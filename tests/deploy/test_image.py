"""The Dockerfile's promises, checked without a docker engine: two stages with the compilers only
in the first, one pinned base, a fixed non-root user, the face extras as a build argument, a
health check, the entry point docker-compose.yml relies on; a build context (.dockerignore) that
holds what the COPY lines need and no secrets; and the regular (not editable) install the image
makes carries every template, static file, migration and policy file the code reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.compose import ROOT, dockerfile_instruction, dockerfile_lines

PACKAGES = ("idgw", "policies", "providers", "face_check")


def stages() -> list[list[str]]:
    """The Dockerfile's instructions split at each FROM (the ARGs before the first FROM dropped)."""
    result: list[list[str]] = []
    for line in dockerfile_lines():
        if line.upper().startswith("FROM "):
            result.append([line])
        elif result:
            result[-1].append(line)
    return result


def global_args() -> dict[str, str]:
    args = {}
    for line in dockerfile_lines():
        if line.upper().startswith("FROM "):
            break
        m = re.fullmatch(r"ARG (\w+)=(\S+)", line)
        if m:
            args[m.group(1)] = m.group(2)
    return args


def test_two_stages_on_one_pinned_base():
    build, final = stages()
    assert re.fullmatch(r"FROM \$\{PYTHON_IMAGE\} AS build", build[0])
    assert final[0] == "FROM ${PYTHON_IMAGE}"  # the venv's python links into the same image
    base = global_args()["PYTHON_IMAGE"]
    m = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?", base)
    assert m, f"the base must be one exact release: {base}"
    requires = re.search(r'requires-python = ">=3\.(\d+),<3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert int(requires.group(1)) <= int(m.group(2)) < int(requires.group(2))


def test_compilers_only_in_the_build_stage():
    build, final = stages()
    assert any("build-essential" in line for line in build)
    for line in final:
        assert not re.search(r"apt-get|apk |build-essential|gcc|pip install", line), line
    assert "COPY --from=build /opt/idgw /opt/idgw" in final


def test_the_face_extras_are_a_build_argument():
    build, _ = stages()
    assert "ARG FACE=1" in build
    (install,) = [line for line in build if "pip install" in line]
    assert '"$FACE" = "1" ]; then /opt/idgw/bin/pip install ".[face]"' in install
    assert '"$FACE" = "0" ]; then /opt/idgw/bin/pip install .;' in install
    assert "exit 1" in install  # any other value fails the build rather than guessing
    compose_args = (ROOT / "docker-compose.yml").read_text()
    assert "FACE: ${IDGW_FACE:-1}" in compose_args


def test_a_fixed_non_root_user():
    _, final = stages()
    (user,) = [line for line in final if line.startswith("USER ")]
    uid, _, gid = user.removeprefix("USER ").partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and gid.isdigit() and int(gid) >= 1000
    (adduser,) = [line for line in final if "useradd" in line]
    assert f"--uid {uid}" in adduser and f"--gid {gid}" in adduser and "nologin" in adduser
    assert final.index(user) > max(i for i, line in enumerate(final) if line.startswith(("RUN", "COPY")))


def test_health_check_entry_point_and_environment():
    _, final = stages()
    (health,) = [line for line in final if line.startswith("HEALTHCHECK ")]
    assert "/healthz" in health and "CMD [" in health
    assert "EXPOSE 8000" in final
    assert dockerfile_instruction("ENTRYPOINT") == ["idgw"]
    cmd = dockerfile_instruction("CMD")
    assert cmd[:1] == ["serve"] and "--no-migrate" in cmd and cmd[cmd.index("--port") + 1] == "8000"
    env = " ".join(line for line in final if line.startswith("ENV "))
    for setting in ("PATH=/opt/idgw/bin:$PATH", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env


# --- the build context ------------------------------------------------------------------------------

def dockerignore() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def in_context(path: str) -> bool:
    """Whether ``path`` (relative to the repository) reaches the builder: the last pattern that
    matches it or one of its parent directories decides, as docker's does."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    included = True
    for negated, regex in dockerignore():
        if any(regex.fullmatch(p) for p in prefixes):
            included = negated
    return included


def copy_sources() -> list[str]:
    build, _ = stages()
    sources = []
    for line in build:
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    return sources


def test_the_context_holds_what_the_build_copies():
    sources = copy_sources()
    assert set(PACKAGES) <= set(sources) and "pyproject.toml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert in_context(source), source
        assert in_context(f"{source}/x.py") or (ROOT / source).is_file(), source


@pytest.mark.parametrize("path", ["deploy/idgw.env", "var/idgw.db", ".venv/bin/python", ".git/HEAD",
                                  "tests/conftest.py", "bench/ab.py", "tests/rp_node/node_modules/x.js",
                                  "idgw/__pycache__/app.cpython-311.pyc", "idgw/web/__pycache__/x.pyc",
                                  "docker-compose.yml", "Dockerfile"])
def test_the_context_keeps_out_secrets_state_and_tooling(path):
    assert not in_context(path)


def test_the_regular_install_carries_every_file_the_code_reads(tmp_path):
    """The image installs a wheel-style copy, not the editable checkout the tests use: a template or
    migration missing from the package data would work here and fail in the image."""
    context = tmp_path / "context"
    for source in copy_sources():
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            context.mkdir(exist_ok=True)
            shutil.copy2(src, context / source)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"),
                            str(context)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("idgw-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    tracked = subprocess.run(["git", "ls-files", "--", *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    # dot files (a .keep holding a directory in git) are not package data; the directories they
    # hold have files of their own
    wanted = {p for p in tracked if (ROOT / p).exists() and "/tests/" not in p and not Path(p).name.startswith(".")}
    missing = sorted(p for p in wanted if p not in names)
    assert missing == [], f"not in the installed package (pyproject.toml package-data): {missing}"
    assert re.search(r"^idgw = idgw\.cli:main$", entry_points, re.M)
