"""Helpers for the face_check tests: where the real photos are, and generated video frames.

A plain module with a name of its own (not a conftest.py) so that ``from face_helpers import ...``
cannot pick up another directory's conftest module.

The photos live beside the repository in ``../shared/data/faces`` (CI always has them). Only the
accuracy tests skip without them; the frame-based tests fail with a clear message instead, because
they cannot exercise a face model without a face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FACES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"
MISSING = f"the shared test photos are not at {FACES_DIR} (CI checks ../shared out beside the repo)"

FRAME_W, FRAME_H = 640, 480


def photo_path(name: str) -> Path:
    path = FACES_DIR / name
    if not path.is_file():
        pytest.fail(MISSING)
    return path


def load(name: str):
    import face_check

    return face_check.load_image(photo_path(name).read_bytes())


def portrait_frame(name: str, face_px: int = 200) -> np.ndarray:
    """A 640x480 RGB video-call-like frame: the photo scaled so the face box is ``face_px`` wide,
    centred, with the border replicated where the photo runs out."""
    import cv2

    import face_check

    img = load(name)
    face = face_check.single_face(img)
    scale = face_px / face.box.width
    small = cv2.resize(np.asarray(img.pixels), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx = round((face.box.left + face.box.right) / 2 * scale)
    cy = round((face.box.top + face.box.bottom) / 2 * scale)
    padded = cv2.copyMakeBorder(small, FRAME_H, FRAME_H, FRAME_W, FRAME_W, cv2.BORDER_REPLICATE)
    y0, x0 = cy + FRAME_H - FRAME_H // 2, cx + FRAME_W - FRAME_W // 2
    return np.ascontiguousarray(padded[y0 : y0 + FRAME_H, x0 : x0 + FRAME_W])


def jitter(frame: np.ndarray, rng: np.random.Generator, shift: float = 2.0, noise: float = 2.0):
    """Small natural camera/head jitter: a sub-pixel shift of up to ``shift`` px and sensor noise."""
    import cv2

    dx, dy = rng.uniform(-shift, shift, size=2)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    noisy = moved.astype(np.float32) + rng.normal(0.0, noise, moved.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def close_eyes(frame: np.ndarray, landmarks) -> np.ndarray:
    """Paint both eyes shut: fill each eye (slightly enlarged) with the median colour of the skin
    ring around it and draw a thin dark lash line along the lower lid, as a closed eye looks."""
    import cv2

    pts = np.asarray(landmarks, dtype=np.float64)
    out = frame.astype(np.float32)
    for start in (36, 42):
        eye = pts[start : start + 6]
        centre = eye.mean(axis=0)
        inner = ((eye - centre) * [1.25, 2.0] + centre).astype(np.int32)
        outer = ((eye - centre) * [1.6, 3.2] + centre).astype(np.int32)
        m_in = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(m_in, [inner], 255)
        m_out = np.zeros_like(m_in)
        cv2.fillPoly(m_out, [outer], 255)
        skin = np.median(frame[(m_out > 0) & (m_in == 0)], axis=0)
        mask = cv2.GaussianBlur(m_in, (5, 5), 0).astype(np.float32)[..., None] / 255
        out = out * (1 - mask) + skin * mask
        width = float(np.linalg.norm(eye[3] - eye[0]))
        lid = np.array([eye[0], (eye[5] + eye[1]) / 2, (eye[4] + eye[2]) / 2, eye[3]])
        lid[1:3, 1] += (eye[4:6, 1].mean() - eye[1:3, 1].mean()) * 0.3
        cv2.polylines(out, [lid.astype(np.int32)], False, (skin * 0.4).tolist(), max(1, round(width / 14)), cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def turn_head(frame: np.ndarray, box, amount: float) -> np.ndarray:
    """Fake a head turn: slide the middle of the face sideways by up to ``amount`` box widths
    while its outline stays put (a Gaussian-profile horizontal warp centred on the nose, 0.2 box
    widths wide). Positive moves the nose to the image's right, which is the subject turning to
    their own left in an unmirrored camera. Beyond about 0.2 the landmarks stop following."""
    import cv2

    h, w = frame.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    cx = (box.left + box.right) / 2
    cy = (box.top + box.bottom) / 2 + 0.05 * box.height
    envelope = np.exp(-0.5 * ((xs - cx) / (0.2 * box.width)) ** 2) * np.exp(
        -0.5 * ((ys - cy) / (0.6 * box.height)) ** 2
    )
    map_x = (xs - amount * box.width * envelope).astype(np.float32)
    return cv2.remap(frame, map_x, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
