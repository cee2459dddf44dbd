"""Face detection, 68-point landmarks and a quality report per face.

Detector: dlib's HOG frontal-face detector (about 25 ms per 640x480 frame on one core). dlib's CNN
detector is far more robust to pose but takes seconds per frame on a CPU, so it is not used.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from face_check import _runtime
from face_check.errors import QualityError, QualityReason
from face_check.results import Box, Face, Image, Pose, QualityReport

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_BRIGHTNESS",
    "MAX_YAW_DEG",
    "MIN_BRIGHTNESS",
    "MIN_FACE_PX",
    "MIN_SHARPNESS",
    "ROTATION_MAX_SIDE",
    "UPSAMPLE_MAX_PIXELS",
    "detect",
    "single_face",
]

# The detection pass runs on a copy no larger than this on its long side: HOG cost grows with the
# pixel count, and a face that fills a phone photo is still far above the detector's 80 px window
# after scaling. Landmarks and descriptors are then computed on the full-resolution picture.
DETECT_MAX_SIDE = 1280
# When the first pass finds nothing, a second pass with dlib's 2x upsampling looks for faces of
# 40-80 px so that they are reported as too small rather than missing. It costs 4.2-4.4x the first
# pass (measured on this machine, one core, on face-less frames: 94 ms on 640x480 against 23 ms,
# 383 ms on 1280x960 against 88 ms), and a caller can make every frame face-less, so its input is
# capped at this many pixels (about 100 ms here): a larger detection copy is shrunk to it first, and
# the pass is skipped when the shrunk copy, upsampled, would not be at least _MIN_UPSAMPLE_GAIN
# times the first pass's scale (above 1024x768, where it could find little that the first missed).
UPSAMPLE_MAX_PIXELS = 640 * 480
_MIN_UPSAMPLE_GAIN = 1.25
# When no face of usable size is found upright, the picture is tried turned by 90, 270 and 180
# degrees to tell "rotated photo" (face_not_upright) from "no face". Only first passes on a copy at
# most this long (about 25-30 ms each here), and only on pictures already being refused.
ROTATION_MAX_SIDE = 640
# The HOG detector finds some faces upside down (kit_harington_1 turned 180 degrees passed every
# quality check). The one face single_face accepts is therefore scored again on a crop twice its
# size, scaled so the face is this wide, as it stands and turned 180 degrees (about 3 ms each): on
# the 15 shared photos upright faces score 0.85-2.75 against at most 0.25 turned, and that
# upside-down face 0.3 against 3.0.
_UPRIGHT_CHECK_FACE_PX = 100

# Quality limits. The 15 single-face shared test photos (faces 126-447 px) measure sharpness
# 0.029-0.58 (the lowest is a soft video still that must still pass), brightness 95-152 and |yaw| up
# to 31 degrees; on a 640x480 frame of a 216 px face a Gaussian blur of sigma 3 reads 0.011 and
# sigma 4 reads 0.007, and light cut to 15% reads brightness 22.
MIN_FACE_PX = 80  # dlib's HOG window is 80 px; the ResNet upsamples smaller faces to 150 px chips
MIN_SHARPNESS = 0.015  # Laplacian variance of the unit-contrast 128x128 face crop
MIN_BRIGHTNESS = 40.0  # mean face luma; below this the descriptor's distances become unreliable
MAX_BRIGHTNESS = 230.0  # mean face luma; above this the face is washed out
MAX_YAW_DEG = 40.0  # beyond this a frontal-trained descriptor loses accuracy quickly

_CROP = 128


def _check_image(image: Image) -> None:
    if not isinstance(image, Image):
        raise TypeError(f"expected face_check.Image, got {type(image).__name__}")


def _scaled(pixels: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return pixels
    cv2, _ = _runtime.cv2_numpy()
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _find_rects(pixels: np.ndarray) -> list[tuple[Any, float]]:
    """Face rectangles (in full-resolution coordinates) with detector scores, best first."""
    dlib = _runtime.dlib_module()
    models = _runtime.models()
    h, w = pixels.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
    small = _scaled(pixels, scale)
    # Every dlib call holds the lock: concurrent upsampled HOG runs crashed dlib 20.0 (segfault).
    with models.detector_lock:
        rects, scores, _ = models.detector.run(small, 0, 0.0)
    if len(rects) == 0:
        # The 2x-upsampled retry, on at most UPSAMPLE_MAX_PIXELS (see there): bounded cost per call.
        shrink = min(1.0, math.sqrt(UPSAMPLE_MAX_PIXELS / (small.shape[0] * small.shape[1])))
        if 2 * shrink >= _MIN_UPSAMPLE_GAIN:
            source = _scaled(small, shrink)
            scale *= shrink
            with models.detector_lock:
                rects, scores, _ = models.detector.run(source, 1, 0.0)
    found = []
    for rect, score in zip(rects, scores, strict=True):
        full = dlib.rectangle(
            round(rect.left() / scale),
            round(rect.top() / scale),
            round((rect.right() + 1) / scale) - 1,
            round((rect.bottom() + 1) / scale) - 1,
        )
        found.append((full, float(score)))
    found.sort(key=lambda item: -item[1])
    return found


def _pose(pts: np.ndarray) -> Pose:
    _, np = _runtime.cv2_numpy()
    # Jaw outline near ear level (points 0-2 and 14-16) against the nose ridge (27-30): on a turning
    # head the nose swings sideways much further than the outline. This responded monotonically to
    # synthetic turns on every test photo, which the 6-point solvePnP estimate did not.
    left = pts[0:3].mean(axis=0)
    right = pts[14:17].mean(axis=0)
    nose = pts[27:31].mean(axis=0)
    axis = right - left
    half = float(np.linalg.norm(axis)) / 2
    if half < 1e-6:
        ratio = 0.0
    else:
        ratio = float(np.dot(nose - (left + right) / 2, axis / (2 * half)) / half)
    eye_l = pts[36:42].mean(axis=0)
    eye_r = pts[42:48].mean(axis=0)
    roll = math.degrees(math.atan2(float(eye_r[1] - eye_l[1]), float(eye_r[0] - eye_l[0])))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, ratio))))
    return Pose(yaw_ratio=round(ratio, 4), yaw_deg=round(yaw, 2), roll_deg=round(roll, 2))


def _face_crop_gray(pixels: np.ndarray, box: Box) -> np.ndarray | None:
    cv2, _ = _runtime.cv2_numpy()
    h, w = pixels.shape[:2]
    x0, y0 = max(box.left, 0), max(box.top, 0)
    x1, y1 = min(box.right, w), min(box.bottom, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return cv2.cvtColor(pixels[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)


def _quality(pixels: np.ndarray, box: Box, pts: np.ndarray) -> QualityReport:
    cv2, np = _runtime.cv2_numpy()
    crop = _face_crop_gray(pixels, box)
    if crop is None:
        brightness, sharpness = 0.0, 0.0
    else:
        brightness = float(crop.mean())
        fixed = cv2.resize(crop, (_CROP, _CROP), interpolation=cv2.INTER_AREA).astype(np.float32)
        std = float(fixed.std())
        # Dividing by the crop's own contrast keeps a dim but sharp face from reading as blurred;
        # darkness is reported separately through brightness.
        if std < 1e-3:
            sharpness = 0.0
        else:
            lap = cv2.Laplacian((fixed - fixed.mean()) / std, cv2.CV_32F)
            sharpness = float(lap.var())
    pose = _pose(pts)
    problems: list[QualityReason] = []
    if min(box.width, box.height) < MIN_FACE_PX:
        problems.append(QualityReason.FACE_TOO_SMALL)
    if brightness < MIN_BRIGHTNESS:
        problems.append(QualityReason.TOO_DARK)
    elif brightness > MAX_BRIGHTNESS:
        problems.append(QualityReason.OVEREXPOSED)
    if sharpness < MIN_SHARPNESS:
        problems.append(QualityReason.BLURRED)
    if abs(pose.yaw_deg) > MAX_YAW_DEG:
        problems.append(QualityReason.TURNED)
    return QualityReport(
        face_width_px=box.width,
        face_height_px=box.height,
        sharpness=round(sharpness, 3),
        brightness=round(brightness, 2),
        pose=pose,
        problems=tuple(problems),
    )


def detect_with_shapes(image: Image) -> list[tuple[Face, Any]]:
    """Internal: like :func:`detect` but also returns dlib's landmark object for each face."""
    _check_image(image)
    _, np = _runtime.cv2_numpy()
    models = _runtime.models()
    pixels = image.pixels
    out = []
    for rect, score in _find_rects(pixels):
        with models.detector_lock:
            shape = models.predictor(pixels, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
        face = Face(
            box=box,
            landmarks=tuple((int(x), int(y)) for x, y in pts),
            detector_score=round(score, 4),
            quality=_quality(pixels, box, pts),
            model=models.info,
        )
        out.append((face, shape))
    return out


def detect(image: Image) -> list[Face]:
    """Every face the detector finds, best score first, each with landmarks and a quality report.

    Never raises for picture content: an empty list means no face; judging usability is left to
    :func:`single_face` (or to the caller, through ``face.quality.problems``).
    """
    return [face for face, _ in detect_with_shapes(image)]


def _no_face_error(image: Image) -> QualityError:
    cv2, _ = _runtime.cv2_numpy()
    luma = float(cv2.cvtColor(image.pixels, cv2.COLOR_RGB2GRAY).mean())
    if luma < MIN_BRIGHTNESS:
        return QualityError(QualityReason.TOO_DARK, f"no face found and the picture is dark (mean luma {luma:.0f})")
    return QualityError(QualityReason.NO_FACE, "no face found")


# Turns tried by _turn_showing_a_face, most likely first: a phone held sideways, then upside down.
_TURNS = ((90, "ROTATE_90_CLOCKWISE"), (270, "ROTATE_90_COUNTERCLOCKWISE"), (180, "ROTATE_180"))


def _turn_showing_a_face(pixels: np.ndarray) -> int | None:
    """Degrees clockwise that the picture must be turned for the detector to find a face, or None.

    First passes only, on a copy at most ``ROTATION_MAX_SIDE`` long, so anything found is at least
    the detector's 80 px window there, and so at least as large in the full picture.
    """
    cv2, _ = _runtime.cv2_numpy()
    models = _runtime.models()
    h, w = pixels.shape[:2]
    small = _scaled(pixels, min(1.0, ROTATION_MAX_SIDE / max(h, w)))
    for degrees, code in _TURNS:
        turned = cv2.rotate(small, getattr(cv2, code))
        with models.detector_lock:
            rects, _, _ = models.detector.run(turned, 0, 0.0)
        if len(rects):
            return degrees
    return None


def _upside_down(pixels: np.ndarray, box: Box) -> bool:
    """True when the detector scores the face higher turned 180 degrees than as it stands."""
    cv2, _ = _runtime.cv2_numpy()
    models = _runtime.models()
    h, w = pixels.shape[:2]
    side = max(box.width, box.height)
    cx, cy = (box.left + box.right) // 2, (box.top + box.bottom) // 2
    crop = pixels[max(0, cy - side) : min(h, cy + side), max(0, cx - side) : min(w, cx + side)]
    if min(crop.shape[:2]) < 2:
        return False
    scale = _UPRIGHT_CHECK_FACE_PX / side
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    best = []
    for view in (crop, cv2.rotate(crop, cv2.ROTATE_180)):
        with models.detector_lock:
            _, scores, _ = models.detector.run(view, 0, -1.0)
        best.append(max(scores, default=-1.0))
    upright, turned = best
    return turned > max(upright, 0.0)


def single_face_with_shape(image: Image) -> tuple[Face, Any]:
    """Internal: like :func:`single_face` but also returns dlib's landmark object."""
    found = detect_with_shapes(image)
    if all(QualityReason.FACE_TOO_SMALL in face.quality.problems for face, _ in found):
        # Nothing of usable size upright (a sideways photo often yields a small false face from the
        # upsampled pass, hence face_too_small): say so if the face is there, turned. The turned copy
        # is only used to choose the reason; a rotated picture is never accepted.
        degrees = _turn_showing_a_face(image.pixels)
        if degrees is not None:
            raise QualityError(
                QualityReason.FACE_NOT_UPRIGHT,
                f"the face was not found upright (found with the picture turned {degrees} degrees "
                "clockwise); hold the camera upright or rotate the photo",
            )
    if not found:
        raise _no_face_error(image)
    if len(found) > 1:
        raise QualityError(
            QualityReason.MULTIPLE_FACES,
            f"{len(found)} faces found; the picture must show one person",
        )
    face, shape = found[0]
    if QualityReason.FACE_TOO_SMALL not in face.quality.problems and _upside_down(image.pixels, face.box):
        raise QualityError(
            QualityReason.FACE_NOT_UPRIGHT,
            "the face was found upside down; hold the camera upright or rotate the photo",
        )
    problems = face.quality.problems
    if problems:
        q = face.quality
        raise QualityError(
            problems[0],
            f"face {q.face_width_px}x{q.face_height_px}px, sharpness {q.sharpness:.2f}, "
            f"brightness {q.brightness:.0f}, yaw {q.pose.yaw_deg:.0f} deg",
            reasons=problems,
        )
    return face, shape


def single_face(image: Image) -> Face:
    """The one usable face in ``image``, or :class:`QualityError` saying why there is none.

    Reasons: ``face_not_upright`` (no face of usable size upright, but one in the picture turned
    by 90, 180 or 270 degrees), ``no_face`` (or ``too_dark`` when nothing was found in a dark
    picture), ``multiple_faces``, and per-face ``face_too_small``, ``too_dark``, ``overexposed``,
    ``blurred``, ``turned`` (all of them in ``error.reasons``).
    """
    return single_face_with_shape(image)[0]
