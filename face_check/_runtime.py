"""Lazy imports and the once-per-process model load.

cv2, dlib and numpy are imported on first use, not at ``import face_check``, so that modules which
only need the types (and the web app's start-up) do not pay for them. The three dlib models (about
130 MB of weights) are loaded once per process under a lock. Inference also runs under locks: two
threads running the HOG detector with upsampling at once crashed the process (segmentation fault,
dlib 20.0), and dlib's DNN objects keep per-call scratch buffers. Detection and landmarks share one
lock and the ResNet has another, so one thread can embed while another detects.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from face_check.results import ModelInfo

_MODELS_PACKAGE = "face_recognition_models"
_LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
_EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DETECTOR_NAME = "dlib.get_frontal_face_detector (HOG + linear SVM)"

_load_lock = threading.Lock()
_models: Models | None = None


@dataclass(frozen=True)
class Models:
    detector: Any
    predictor: Any
    encoder: Any
    detector_lock: threading.Lock  # held for detector and shape-predictor calls
    encoder_lock: threading.Lock  # held for ResNet descriptor calls
    info: ModelInfo


def cv2_numpy() -> tuple[Any, Any]:
    """Import OpenCV and numpy on first use (Python caches the modules after the first call)."""
    import cv2
    import numpy

    return cv2, numpy


def dlib_module() -> Any:
    import dlib

    return dlib


def decoder_name() -> str:
    cv2, _ = cv2_numpy()
    return f"opencv {cv2.__version__} imdecode"


def models_dir() -> Path:
    """Folder holding the weight files of the ``face-recognition-models`` distribution.

    Found with ``find_spec`` rather than by importing the package, because its ``__init__`` imports
    ``pkg_resources``, which recent setuptools no longer ships; the files themselves are plain data.
    """
    spec = importlib.util.find_spec(_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed; install the project's 'face' extra")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (_LANDMARKS_FILE, _EMBEDDING_FILE):
        if not (folder / name).is_file():
            raise RuntimeError(f"model file {name} missing from {folder}")
    return folder


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _load() -> Models:
    cv2, _ = cv2_numpy()
    dlib = dlib_module()
    folder = models_dir()
    landmarks_path = folder / _LANDMARKS_FILE
    embedding_path = folder / _EMBEDDING_FILE
    info = ModelInfo(
        detector=DETECTOR_NAME,
        landmarks=landmarks_path.stem,
        embedding=embedding_path.stem,
        dlib_version=str(dlib.__version__),
        models_package=f"face-recognition-models {importlib.metadata.version(_MODELS_PACKAGE)}",
        opencv_version=str(cv2.__version__),
        # Digests make an audit record say exactly which weights judged a face, not just a name.
        weights_sha256=(
            (landmarks_path.name, _digest(landmarks_path)),
            (embedding_path.name, _digest(embedding_path)),
        ),
    )
    return Models(
        detector=dlib.get_frontal_face_detector(),
        predictor=dlib.shape_predictor(str(landmarks_path)),
        encoder=dlib.face_recognition_model_v1(str(embedding_path)),
        detector_lock=threading.Lock(),
        encoder_lock=threading.Lock(),
        info=info,
    )


def models() -> Models:
    """The process-wide models, loaded on the first call; safe to call from many threads."""
    global _models
    loaded = _models
    if loaded is None:
        with _load_lock:
            if _models is None:  # another thread may have loaded them while we waited
                _models = _load()
            loaded = _models
    return loaded
