"""The layering the architecture asks for, checked on the source (docs/architecture.md): the leaf
packages import nothing from the gateway, and only idgw.proofing imports face_check (the face
checks run on media the gateway received in a call, nowhere else)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path.relative_to(ROOT).as_posix(), name.split(".")[0], name


def test_leaf_packages_do_not_import_the_gateway():
    for leaf in ("face_check", "policies", "providers"):
        bad = [(f, n) for f, top, n in imports(leaf) if top == "idgw"]
        assert bad == [], f"{leaf} imports the gateway: {bad}"
    assert [(f, n) for f, top, n in imports("face_check") if top in ("policies", "providers")] == []


def test_only_proofing_imports_face_check():
    importers = sorted({f for f, top, _ in imports("idgw") if top == "face_check"})
    assert importers and all(f.startswith("idgw/proofing/") for f in importers), importers
