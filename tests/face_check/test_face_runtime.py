"""Import cost, package boundaries and the once-per-process, thread-safe model load."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import face_check
from face_check import _runtime

PACKAGE_DIR = Path(face_check.__file__).resolve().parent


def test_import_does_not_load_opencv_dlib_or_numpy():
    code = (
        "import sys, face_check\n"
        "heavy = sorted(m for m in ('cv2', 'dlib', 'numpy') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE_DIR.parent
    )
    assert out.stdout.strip() == "", f"imported at `import face_check`: {out.stdout.strip()}"


def test_package_imports_nothing_from_the_rest_of_the_project():
    forbidden = {"idgw", "policies", "providers"}
    for path in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_models_load_once_even_when_many_threads_ask_at_once(monkeypatch):
    calls = []
    started = threading.Event()

    def slow_load():
        calls.append(threading.get_ident())
        started.wait(0.2)  # widen the race window
        return object()

    monkeypatch.setattr(_runtime, "_models", None)
    monkeypatch.setattr(_runtime, "_load", slow_load)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _runtime.models(), range(16)))
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_model_files_are_found_without_pkg_resources():
    folder = _runtime.models_dir()
    assert (folder / "dlib_face_recognition_resnet_model_v1.dat").stat().st_size > 1_000_000
    code = "import sys, face_check._runtime as r; r.models_dir(); print('face_recognition_models' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE_DIR.parent
    )
    assert out.stdout.strip() == "False"


def test_concurrent_detection_does_not_crash():
    # Regression: a face-less frame makes the detector retry with upsampling, and two threads doing
    # that at once crashed the process with a segmentation fault before detection took a lock.
    rng = np.random.default_rng(0)
    blank = face_check.image_from_rgb(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: len(face_check.detect(blank)), range(24)))
    assert found == [found[0]] * 24
