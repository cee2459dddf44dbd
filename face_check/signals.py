"""Liveness signals over a short sequence of video frames, for an officer to weigh.

Each signal reports its measured value and threshold; none of them, alone or together, is a
verdict. Frames are analysed only when they show exactly one face.

Blink. dlib's 68-point model places the eyelid points from a shape prior: on frames whose eyes were
painted shut its landmark eye aspect ratio (EAR) went *up* on 4 of 5 test faces, so the landmark EAR
is reported per frame but does not drive the signal. Instead, the eye corners (which the model does
place reliably) define an eye-aligned patch, and the "image EAR" is the vertical extent of the dark
structure in it (iris, pupil, lash line) divided by the eye width. It is judged relative to the
same person's open level in the sequence, and darkness relative to the patch's own skin, so it does
not depend on skin tone or exposure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from face_check import _runtime
from face_check.detection import detect_with_shapes
from face_check.errors import QualityError, QualityReason
from face_check.matching import MATCH_THRESHOLD, descriptor, distance
from face_check.results import Challenge, Image, LivenessResult, Signal

__all__ = [
    "BLINK_CLOSED_RATIO",
    "BLINK_OPEN_RATIO",
    "IDENTITY_SAMPLES",
    "MAX_FRAMES",
    "NEAR_IDENTICAL_MAX_DIFF",
    "TURN_MIN_DEG",
    "liveness",
]

# A frame counts as "eyes closed" when its image EAR is below this share of the sequence's open
# level (80th percentile), and as "open" above BLINK_OPEN_RATIO. On 12 test faces open-eye frames
# with 2 px jitter and sensor noise stayed at 0.94 or more; painted-shut eyes fell to 0.48 or less.
BLINK_CLOSED_RATIO = 0.65
BLINK_OPEN_RATIO = 0.8
# Yaw change (degrees, cylinder model, see Pose) from the first frame that counts as a turn. Natural
# jitter moved it by under 2 degrees on the test faces; a deliberate head turn of 15-30 degrees
# reads as 12-25 because the cylinder model under-reads.
TURN_MIN_DEG = 10.0
# Largest block-mean grey-level difference between aligned face chips (see _change) below which the
# frames are flagged as near-identical. On 8 test faces a still photo re-shot with 2 px shake and
# noise measured 0.7-1.7; painted-shut eyes 11-48; a synthetic turn 36-80.
NEAR_IDENTICAL_MAX_DIFF = 5.0
# Descriptors cost ~100 ms each, so identity is checked on this many frames spread over the sequence.
IDENTITY_SAMPLES = 4
# Every frame costs a detection (~25-40 ms); this bounds the work one request can ask for.
MAX_FRAMES = 120

_EYE_PATCH = 32
_BAND_TOP = round(_EYE_PATCH * 0.15)  # band of 0.7 eye widths centred on the eye line
_DARKNESS = 0.7  # iris, pupil and lashes are darker than 70% of the surrounding skin
_CHIP = 150
_BLOCK = 13
_EDGE = 10


def _eye_openness(gray: Any, pts: Any) -> float:
    """Image EAR, averaged over both eyes (see the module docstring)."""
    cv2, np = _runtime.cv2_numpy()
    values = []
    for start in (36, 42):
        corner_a, corner_b = pts[start], pts[start + 3]
        width = float(np.linalg.norm(corner_b - corner_a))
        if width < 2:
            return 0.0
        centre = (corner_a + corner_b) / 2
        angle = math.degrees(math.atan2(corner_b[1] - corner_a[1], corner_b[0] - corner_a[0]))
        # Rotate the eye line level and scale the eye width to the patch width, centred on the eye.
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, _EYE_PATCH / width)
        m[:, 2] += _EYE_PATCH / 2 - centre
        patch = cv2.warpAffine(
            gray, m, (_EYE_PATCH, _EYE_PATCH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        # The skin level is the median of the whole square patch (mostly lid and cheek); the search
        # band is only 0.7 eye widths tall, enough for a wide-open eye but short of brow and socket
        # shadows. The outer sixths of the eye width are left out because eye corners are shadowed.
        # These three choices (0.7 band, 0.7 darkness, 90th percentile) separated open from painted
        # shut eyes best on 12 test faces: open >= 0.94 of the open level, shut <= 0.48.
        skin = float(np.median(patch))
        band = patch[_BAND_TOP : _EYE_PATCH - _BAND_TOP, _EYE_PATCH // 6 : 5 * _EYE_PATCH // 6]
        dark = band < _DARKNESS * skin
        run = np.zeros(dark.shape[1], dtype=np.int32)
        longest = np.zeros(dark.shape[1], dtype=np.int32)
        for row in dark:  # longest vertical run of dark pixels in each column
            run = np.where(row, run + 1, 0)
            longest = np.maximum(longest, run)
        values.append(float(np.percentile(longest, 90)) / _EYE_PATCH)
    return sum(values) / len(values)


def _landmark_ear(pts: Any) -> float:
    """Classic eye aspect ratio (Soukupova and Cech 2016) from landmarks, averaged over both eyes."""
    _, np = _runtime.cv2_numpy()

    def ear(eye: Any) -> float:
        horiz = float(np.linalg.norm(eye[0] - eye[3]))
        vert = float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
        return vert / (2 * horiz) if horiz > 0 else 0.0

    return (ear(pts[36:42]) + ear(pts[42:48])) / 2


def _chip_gray(pixels: Any, shape: Any) -> Any:
    """The landmark-aligned face chip the ResNet sees, grey and lightly blurred against noise."""
    cv2, np = _runtime.cv2_numpy()
    dlib = _runtime.dlib_module()
    with _runtime.models().detector_lock:  # dlib releases the GIL; keep its calls one at a time
        chip = dlib.get_face_chip(pixels, shape, size=_CHIP, padding=0.25)
    gray = cv2.cvtColor(np.asarray(chip), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(gray, (0, 0), 1.5)


def _change(first: Any, other: Any) -> float:
    """Largest local grey-level change between two face chips after aligning them.

    Landmarks wobble by a pixel or two between frames, which alone made chips of one still photo
    differ by up to 10 grey levels at edges; an affine ECC refinement removes that (still photo:
    under 2), leaving real changes such as closed eyes (over 10) or a turn (over 35).
    """
    cv2, np = _runtime.cv2_numpy()
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        _, warp = cv2.findTransformECC(first, other, warp, cv2.MOTION_AFFINE, criteria, None, 1)
    except cv2.error:
        pass  # no convergence (very different chips): compare unaligned, which only reads larger
    aligned = cv2.warpAffine(
        other, warp, (_CHIP, _CHIP), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    # Ignore the chip's outer 10 px, where the warp pulls in replicated border; average the rest in
    # 13x13 blocks so that sensor noise cancels but an eye-sized change does not.
    diff = np.abs(first - aligned)[_EDGE:-_EDGE, _EDGE:-_EDGE]
    side = (_CHIP - 2 * _EDGE) // _BLOCK
    return float(cv2.resize(diff, (side, side), interpolation=cv2.INTER_AREA).max())


def _spread(count: int, k: int) -> list[int]:
    if count <= k:
        return list(range(count))
    return sorted({round(i * (count - 1) / (k - 1)) for i in range(k)})


def _blink_signal(openness: list[float]) -> Signal:
    _, np = _runtime.cv2_numpy()
    open_level = float(np.percentile(openness, 80))
    if open_level <= 0:
        return Signal("blink", False, 1.0, BLINK_CLOSED_RATIO, "no eye structure visible")
    rel = [o / open_level for o in openness]
    fired = False
    for j, r in enumerate(rel):
        if (
            r < BLINK_CLOSED_RATIO
            and any(x >= BLINK_OPEN_RATIO for x in rel[:j])
            and any(x >= BLINK_OPEN_RATIO for x in rel[j + 1 :])
        ):
            fired = True
            break
    lowest = min(rel)
    detail = f"lowest eye openness {lowest:.2f} of the open level {open_level:.3f}; " + (
        "closed between open frames" if fired else "no closed frame between open ones"
    )
    return Signal("blink", fired, round(lowest, 4), BLINK_CLOSED_RATIO, detail)


def _turn_signal(name: str, yaws: list[float], sign: float) -> Signal:
    moved = max(sign * (y - yaws[0]) for y in yaws)
    fired = moved >= TURN_MIN_DEG
    return Signal(
        name, fired, round(moved, 2), TURN_MIN_DEG, f"largest yaw change that way from the first frame: {moved:.1f} deg"
    )


def liveness(
    frames: Sequence[Image],
    *,
    challenge: Challenge | str,
    mirrored: bool = False,
) -> LivenessResult:
    """Signals over ``frames`` (in time order) recorded while the person did ``challenge``.

    ``mirrored`` says the frames are left-right mirrored (a selfie preview); turn directions are the
    subject's own. All signals are computed whatever the challenge; ``result.requested`` picks the
    one that was asked for. Raises :class:`QualityError` (``too_few_frames``) when fewer than two
    frames show exactly one face, ``ValueError`` for more than ``MAX_FRAMES`` frames.
    """
    challenge = Challenge(challenge)
    frames = list(frames)
    if len(frames) > MAX_FRAMES:
        raise ValueError(f"{len(frames)} frames, at most {MAX_FRAMES}")
    cv2, np = _runtime.cv2_numpy()
    models = _runtime.models()

    openness: list[float | None] = []
    ears: list[float | None] = []
    yaws: list[float | None] = []
    analysed: list[tuple[Image, Any, Any]] = []  # (frame, dlib shape, chip)
    for frame in frames:
        found = detect_with_shapes(frame)
        if len(found) != 1:
            openness.append(None)
            ears.append(None)
            yaws.append(None)
            continue
        face, shape = found[0]
        pts = np.array(face.landmarks, dtype=np.float64)
        gray = cv2.cvtColor(frame.pixels, cv2.COLOR_RGB2GRAY)
        openness.append(round(_eye_openness(gray, pts), 4))
        ears.append(round(_landmark_ear(pts), 4))
        yaws.append(face.quality.pose.yaw_deg)
        analysed.append((frame, shape, _chip_gray(frame.pixels, shape)))
    if len(analysed) < 2:
        raise QualityError(
            QualityReason.TOO_FEW_FRAMES,
            f"{len(analysed)} of {len(frames)} frames show exactly one face; need at least 2",
        )

    blink = _blink_signal([o for o in openness if o is not None])
    valid_yaws = [y for y in yaws if y is not None]
    # Unmirrored camera: the subject turning to their own left moves the nose to the image's right,
    # which is positive yaw (see Pose).
    left_sign = -1.0 if mirrored else 1.0
    turn_left = _turn_signal("turn_left", valid_yaws, left_sign)
    turn_right = _turn_signal("turn_right", valid_yaws, -left_sign)

    picks = _spread(len(analysed), IDENTITY_SAMPLES)
    vectors = [descriptor(analysed[i][0].pixels, analysed[i][1]) for i in picks]
    worst = max(distance(vectors[0], v) for v in vectors[1:])
    same_identity = Signal(
        "same_identity",
        worst <= MATCH_THRESHOLD,
        round(worst, 4),
        MATCH_THRESHOLD,
        f"largest descriptor distance from the first of {len(picks)} sampled frames",
    )

    first_chip = analysed[0][2]
    change = max(_change(first_chip, chip) for _, _, chip in analysed[1:])
    near_identical = Signal(
        "near_identical",
        change < NEAR_IDENTICAL_MAX_DIFF,
        round(change, 3),
        NEAR_IDENTICAL_MAX_DIFF,
        "largest local grey-level change of the aligned face against the first frame",
    )
    return LivenessResult(
        challenge=challenge,
        frames_total=len(frames),
        frames_analysed=len(analysed),
        blink=blink,
        turn_left=turn_left,
        turn_right=turn_right,
        same_identity=same_identity,
        near_identical=near_identical,
        eye_openness=tuple(openness),
        landmark_ear=tuple(ears),
        yaw_deg=tuple(yaws),
        model=models.info,
    )
