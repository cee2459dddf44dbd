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
    return portrait_from_path(photo_path(name), face_px=face_px)


def portrait_from_path(path, *, face_px: int = 200, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    """Like :func:`portrait_frame` for any photo file, and a frame of ``size`` (width, height)."""
    import cv2

    import face_check

    img = face_check.load_image(Path(path).read_bytes())
    face = face_check.single_face(img)
    width, height = size
    scale = face_px / face.box.width
    small = cv2.resize(np.asarray(img.pixels), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx = round((face.box.left + face.box.right) / 2 * scale)
    cy = round((face.box.top + face.box.bottom) / 2 * scale)
    padded = cv2.copyMakeBorder(small, height, height, width, width, cv2.BORDER_REPLICATE)
    y0, x0 = cy + height - height // 2, cx + width - width // 2
    return np.ascontiguousarray(padded[y0 : y0 + height, x0 : x0 + width])


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


def tilt_picture(frame: np.ndarray, centre, *, yaw_deg: float = 0.0, roll_deg: float = 0.0, focal: float = 600.0):
    """The frame as a flat picture (a printed photo or a screen) held ``focal`` px from a pinhole
    camera of that focal length (600 px is a typical 640x480 webcam), turned by ``yaw_deg`` about
    the vertical axis through ``centre`` and by ``roll_deg`` in its own plane."""
    import math

    import cv2

    h, w = frame.shape[:2]
    cx, cy = centre
    camera = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1.0]])
    a, r = math.radians(yaw_deg), math.radians(roll_deg)
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    rot = turn @ roll
    plane = np.column_stack([rot[:, 0], rot[:, 1], [0, 0, focal]])  # picture points (u, v) -> camera space
    to_plane = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    h_mat = camera @ plane @ to_plane
    return cv2.warpPerspective(frame, h_mat / h_mat[2, 2], (w, h), borderMode=cv2.BORDER_REPLICATE)


def pass_hand(frame: np.ndarray, box, offset: float) -> np.ndarray:
    """Paint a flat, shaded, skin-toned hand (palm and four fingers) over the face, its centre
    ``offset`` face widths to the right of the face's centre (sweep it from -1.2 to 1.2)."""
    import cv2

    w = box.right - box.left
    cx = (box.left + box.right) / 2 + offset * w
    cy = (box.top + box.bottom) / 2 + 0.1 * w
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(cx), int(cy + 0.25 * w)), (int(0.55 * w), int(0.6 * w)), 0, 0, 360, 255, -1)
    for k in range(4):
        x = int(cx - 0.42 * w + k * 0.28 * w)
        cv2.rectangle(mask, (x, int(cy - 0.9 * w)), (x + int(0.22 * w), int(cy + 0.3 * w)), 255, -1)
    alpha = cv2.GaussianBlur(mask, (7, 7), 0).astype(np.float32)[..., None] / 255
    shade = np.linspace(0.85, 1.1, frame.shape[0], dtype=np.float32)[:, None, None]
    hand = np.array([205, 160, 130], np.float32) * shade
    out = frame.astype(np.float32) * (1 - alpha) + hand * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


# --- Looping camera clips (public: the gateway's browser tests write them to .y4m for Chromium's fake
# camera with write_y4m). Deterministic for a given seed; every frame is a fresh RGB uint8 array.


def _clip(photo_path, seconds: float, fps: float, blink: bool, size, face_px: int, seed: int) -> list[np.ndarray]:
    import face_check

    if seconds <= 0 or fps <= 0:
        raise ValueError("seconds and fps must be positive")
    base = portrait_from_path(photo_path, face_px=face_px, size=size)
    shut = close_eyes(base, face_check.single_face(face_check.image_from_rgb(base)).landmarks) if blink else base
    period = max(2, round(fps))  # one blink a second...
    closed = max(1, round(0.3 * fps))  # ...with the eyes shut for about 0.3 s (3 frames at 10 fps)
    start = period // 2  # not on the loop's first frame
    rng = np.random.default_rng(seed)
    out = []
    for i in range(max(1, round(seconds * fps))):
        eyes_shut = blink and start <= i % period < start + closed
        frame = jitter(shut if eyes_shut else base, rng, shift=2.0, noise=2.0)
        flicker = 1.0 + rng.uniform(-0.03, 0.03)  # slight brightness flicker of auto-exposure
        out.append(np.clip(frame.astype(np.float32) * flicker, 0, 255).astype(np.uint8))
    return out


def blinking_clip(
    photo_path,
    *,
    seconds: float,
    fps: float,
    size: tuple[int, int] = (FRAME_W, FRAME_H),
    face_px: int = 200,
    seed: int = 0,
) -> list[np.ndarray]:
    """A camera clip made from one photo: the face ``face_px`` wide in a ``size`` (width, height)
    frame, eyes painted shut for about 0.3 s once a second (3 frames at 10 fps, the first at half a
    second), every frame shifted by up to 2 px, with sensor noise and a brightness flicker of up to 3 %.

    ``face_check.judge_cue(cue="blink")`` passes on it: it is exactly the replay of a periodically
    blinking face that the blink cue alone cannot tell from a live person (docs/face_check.md).
    """
    return _clip(photo_path, seconds, fps, True, size, face_px, seed)


def still_clip(
    photo_path,
    *,
    seconds: float,
    fps: float,
    size: tuple[int, int] = (FRAME_W, FRAME_H),
    face_px: int = 200,
    seed: int = 0,
) -> list[np.ndarray]:
    """The same clip as :func:`blinking_clip` without the blinks: a photo held to the camera."""
    return _clip(photo_path, seconds, fps, False, size, face_px, seed)


def degrade(frame: np.ndarray, *, quality: int = 60, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    """What a video codec and the receiving side do to a frame, roughly: a JPEG round trip at
    ``quality`` and a resize to ``size`` (width, height)."""
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    out = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if (out.shape[1], out.shape[0]) != tuple(size):
        out = cv2.resize(out, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out)


def write_y4m(frames: list[np.ndarray], path, *, fps: int) -> None:
    """Write RGB frames (all the same even width and height) as a YUV 4:2:0 .y4m file, the format
    Chromium's ``--use-file-for-fake-video-capture`` plays in a loop."""
    import cv2

    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("width and height must be even for 4:2:0")
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            if frame.shape[:2] != (h, w):
                raise ValueError("all frames must have the same size")
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
