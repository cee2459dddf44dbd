"""Time-bound judgement of one random live cue during an officer video call.

The server shows the citizen a random cue (:class:`~face_check.Cue`) at ``shown_at`` and judges it
from the frames the gateway captured in ``[shown_at, shown_at + window]``. :func:`judge_cue` checks,
in order (each is a :class:`~face_check.Signal` named by its failure code, firing when the condition
did not hold):

``too_few_frames``   fewer than ``MIN_CUE_FRAMES`` frames in the window.
``no_face``          the face was seen unoccluded in fewer than ``MIN_FACE_FRAMES`` frames or
                     ``MIN_FACE_SHARE`` of the window's frames.
``multiple_faces``   a second face appeared in more than ``MAX_MULTI_FACE_FRAMES`` frames.
``identity_broken``  the descriptors of up to ``CUE_IDENTITY_SAMPLES`` frames (first, last, both
                     sides of a hand occlusion, after the largest appearance jumps, then spread) are
                     not all within ``MATCH_THRESHOLD`` of each other.
``motion_discontinuous``  one step between consecutive frames holds ``JUMP_MAX_SHARE`` or more of the
                     whole window's head-shape change (rigid landmarks, after a similarity fit), or a
                     turn was never seen between 20 % and 80 % of the way (two photos swapped: a real
                     head passes through the poses in between).
``planar``           the face moved out of plane (landmarks deformed or the yaw changed), yet every
                     such frame is, pixel for pixel, a homography of the first within
                     ``PLANAR_MAX_CHANGE``: a flat picture tilted in front of the camera.
``still``            no change of the face itself at all: chips aligned on the landmarks, then by the
                     best homography (ECC), normalised for brightness and contrast, all within
                     ``STILL_MAX_CHANGE`` of the first (a photo, even tilted, or a paused stream).
``too_early``        the cue's motion was seen, but only beginning before ``shown_at`` plus
                     ``REACTION_MIN_S`` (no one reacts that fast: a recording already in motion).
``not_performed``    the cue's motion was not seen at all.

A blink is an eye closure (the image eye openness of :mod:`face_check.signals` below
``BLINK_CLOSED_RATIO`` of the open level) with open frames before and after; a turn a yaw change of
``TURN_MIN_DEG`` in the requested direction; a hand pass ``HAND_MIN_OCCLUDED_FRAMES`` or more frames
where the face is lost or a large part of it changes, with the face seen before and after.

Cost is bounded: at most ``MAX_CUE_FRAMES`` frames are analysed (a detection on a copy scaled so
the face is about 110 px wide, landmarks, a 150 px chip and an ECC refinement, 10-20 ms each) and
``CUE_IDENTITY_SAMPLES`` descriptors (about 100 ms each). ``docs/face_check.md`` says what these
checks catch and what they cannot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from face_check import _runtime
from face_check.detection import _pose
from face_check.matching import MATCH_THRESHOLD, descriptor, distance
from face_check.results import Cue, CueJudgement, Image, Signal, TimedFrame
from face_check.signals import BLINK_CLOSED_RATIO, BLINK_OPEN_RATIO, TURN_MIN_DEG, _eye_openness

__all__ = [
    "CUE_IDENTITY_SAMPLES",
    "FAILED_CODES",
    "FAILED_TEXT",
    "HAND_MIN_OCCLUDED_FRAMES",
    "JUMP_MAX_SHARE",
    "MAX_CUE_FRAMES",
    "MAX_CUE_INPUT_FRAMES",
    "MAX_CUE_WINDOW_S",
    "MIN_CUE_FRAMES",
    "PLANAR_MAX_CHANGE",
    "REACTION_MIN_S",
    "STILL_MAX_CHANGE",
    "judge_cue",
]

# --- bounds on the work one call may ask for ---
MAX_CUE_INPUT_FRAMES = 1000  # more frames than this is refused (ValueError): a minute and a half at 10 fps
MAX_CUE_WINDOW_S = 30.0  # a longer window is refused (ValueError); cues are judged over ~4-5 s
MAX_CUE_FRAMES = 50  # the window's frames are thinned evenly in time to at most this many
CUE_IDENTITY_SAMPLES = 5  # descriptors per call (~100 ms each)

# --- enough material to judge ---
MIN_CUE_FRAMES = 8  # frames inside the window
MIN_FACE_FRAMES = 4  # frames showing the face unoccluded...
MIN_FACE_SHARE = 0.4  # ...and at least this share of the window's frames
MAX_MULTI_FACE_FRAMES = 1  # one stray second detection is tolerated

# --- timing ---
# Simple visual reaction times are 0.2-0.3 s, and the cue also has to travel to the citizen's screen
# and the video back to the gateway; motion starting earlier than this after shown_at was under way
# before the person could have seen the cue.
REACTION_MIN_S = 0.25

# --- blink ---
BLINK_MAX_CLOSED_S = 1.5  # a longer closure is not a blink

# --- turn ---
TURN_ONSET_DEG = 4.0  # a turn "begins" when the yaw has moved this far from where it started (jitter: < 2)

# --- hand ---
HAND_MIN_OCCLUDED_FRAMES = 2  # a single missed detection is not a hand
HAND_MAX_OCCLUDED_S = 3.0  # a longer loss of the face is not a hand passing
# A frame counts as occluded (hand cue only) when the face is lost, or when this share of the chip's
# blocks changed by more than OCCLUDED_BLOCK_DIFF grey levels against the first frame.
OCCLUDED_BLOCK_DIFF = 25.0
OCCLUDED_BLOCK_SHARE = 0.2

# --- still / planar / discontinuity (values measured in tests/face_check/test_face_cues.py) ---
STILL_MAX_CHANGE = 5.0
PLANAR_MIN_DEFORM = 0.05  # landmark deformation (RMS after a similarity fit, in eye distances) to judge planarity
PLANAR_MAX_CHANGE = 8.0  # planar when no moved frame differs from the first by more than this after a homography
JUMP_MIN_EXCURSION = 0.05  # head-shape change (eye distances) below which continuity is not judged
JUMP_MAX_SHARE = 0.7
MAX_STEP_GAP_S = 0.5  # consecutive frames further apart than this are not compared
EDGE_MARGIN_S = 0.25  # frames this close to a lost or covered face are left out of shape and stillness checks

FAILED_CODES = (
    "too_few_frames",
    "no_face",
    "multiple_faces",
    "identity_broken",
    "motion_discontinuous",
    "planar",
    "still",
    "too_early",
    "not_performed",
)

# One line per failure code for the officer console: what the check saw, not a verdict.
FAILED_TEXT: dict[str, dict[str, str]] = {
    "too_few_frames": {
        "th": "ได้รับภาพวิดีโอในช่วงคำสั่งน้อยเกินไปจนตัดสินไม่ได้ โปรดให้คำสั่งใหม่",
        "en": "Too few video frames arrived during the cue to judge it; give the cue again.",
    },
    "no_face": {
        "th": "มองเห็นใบหน้าในภาพวิดีโอไม่มากพอในช่วงคำสั่ง",
        "en": "The face was not visible in enough frames during the cue.",
    },
    "multiple_faces": {
        "th": "พบใบหน้ามากกว่าหนึ่งคนในภาพระหว่างคำสั่ง",
        "en": "More than one face appeared in the picture during the cue.",
    },
    "identity_broken": {
        "th": "ใบหน้าในภาพไม่ใช่บุคคลเดียวกันตลอดช่วงคำสั่ง",
        "en": "The face did not stay the same person throughout the cue.",
    },
    "motion_discontinuous": {
        "th": "ใบหน้าเปลี่ยนท่าทางแบบกระโดดระหว่างภาพ ซึ่งศีรษะจริงไม่เคลื่อนไหวเช่นนั้น (เช่น การสลับภาพถ่าย)",
        "en": "The face jumped between frames in a way a real head does not move (e.g. photos swapped).",
    },
    "planar": {
        "th": "ใบหน้าเคลื่อนไหวเหมือนภาพแบนราบ (ภาพพิมพ์หรือหน้าจอ) ไม่ใช่ศีรษะจริง",
        "en": "The face moved like a flat picture (a printed photo or a screen), not like a head.",
    },
    "still": {
        "th": "ใบหน้าไม่มีการเคลื่อนไหวของตัวเองเลยในช่วงคำสั่ง (เหมือนภาพนิ่ง)",
        "en": "The face itself did not change at all during the cue, as with a still photo.",
    },
    "too_early": {
        "th": "การเคลื่อนไหวเริ่มก่อนที่ผู้ใช้จะเห็นคำสั่งได้ทัน (อาจเป็นวิดีโอที่บันทึกไว้ล่วงหน้า)",
        "en": "The movement began before the person could have seen the cue (possibly a recording).",
    },
    "not_performed": {
        "th": "ไม่พบการทำตามคำสั่งในวิดีโอ",
        "en": "The requested action was not seen in the video.",
    },
}

_DETECT_MAX_SIDE = 640  # first detection pass (and the retry) on a copy at most this long
_DETECT_FACE_PX = 110  # later passes on a copy scaled so the last face is about this wide (HOG window: 80)
_TRACK_IOU = 0.3  # with several faces, the one overlapping the last face this much continues the track
_CHIP = 150
_BLOCK = 13
_EDGE = 10
# Points that move with the skull, not with expressions: the jaw outline at ear level, brows, nose and
# eye corners. Head-shape continuity is judged on these (mouth and eyelids move fast on their own).
_RIGID = (0, 1, 2, 3, 13, 14, 15, 16, *range(17, 36), 36, 39, 42, 45)


@dataclass
class _Frame:
    t: float
    image: Image
    faces: int = 0  # faces found
    pts: Any = None  # 68 x 2 landmarks of the tracked face, or None
    shape: Any = None  # dlib shape, for a descriptor
    box: tuple[int, int, int, int] | None = None
    yaw: float = 0.0
    openness: float = 0.0
    gray: Any = None  # the grey frame, until its chip is cut
    chip: Any = None  # normalised grey chip (zero mean, unit contrast)
    chip_pts: Any = None  # landmarks in chip coordinates
    chip_std: float = 0.0
    change: float = 0.0  # largest block change against the reference chip (grey levels)
    changed_share: float = 0.0  # share of blocks changed by more than OCCLUDED_BLOCK_DIFF
    occluded: bool = False

    @property
    def visible(self) -> bool:
        return self.pts is not None and not self.occluded


def _check_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _scaled(pixels: Any, scale: float) -> Any:
    cv2, _ = _runtime.cv2_numpy()
    if scale >= 1.0:
        return pixels
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _find(pixels: Any, last_width: int | None) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom; full resolution): one HOG pass on a copy scaled for the
    last face's size, then, if nothing is found, one on a copy at most _DETECT_MAX_SIDE long."""
    models = _runtime.models()
    h, w = pixels.shape[:2]
    base = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    scales = [base]
    if last_width:
        quick = min(base, _DETECT_FACE_PX / last_width)
        if quick < 0.9 * base:
            scales.insert(0, quick)
    for scale in scales:
        with models.detector_lock:
            rects, _, _ = models.detector.run(_scaled(pixels, scale), 0, 0.0)
        if len(rects):
            return [
                (
                    round(r.left() / scale),
                    round(r.top() / scale),
                    round((r.right() + 1) / scale),
                    round((r.bottom() + 1) / scale),
                )
                for r in rects
            ]
    return []


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _analyse(frame: _Frame, last_box: tuple[int, int, int, int] | None) -> None:
    """Detection, landmarks, pose and eye openness of the tracked face (the chip comes later)."""
    cv2, np = _runtime.cv2_numpy()
    dlib = _runtime.dlib_module()
    models = _runtime.models()
    pixels = frame.image.pixels
    boxes = _find(pixels, None if last_box is None else last_box[2] - last_box[0])
    frame.faces = len(boxes)
    if not boxes:
        return
    if len(boxes) == 1:
        box = boxes[0]
    else:
        if last_box is None:
            return
        box = max(boxes, key=lambda b: _iou(b, last_box))
        if _iou(box, last_box) < _TRACK_IOU:
            return
    rect = dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1)
    with models.detector_lock:
        shape = models.predictor(pixels, rect)
    pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    frame.gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    frame.pts, frame.shape, frame.box = pts, shape, box
    frame.yaw = _pose(pts).yaw_deg
    frame.openness = _eye_openness(frame.gray, pts)


def _similarity(src: Any, dst: Any) -> Any:
    """2x3 least-squares similarity transform taking points ``src`` onto ``dst`` (Umeyama)."""
    _, np = _runtime.cv2_numpy()
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    var = float((a**2).sum())
    if var < 1e-9:
        return np.hstack([np.eye(2), (mu_d - mu_s)[:, None]])
    u, sig, vt = np.linalg.svd(b.T @ a)
    fix = np.diag([1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rot = u @ fix @ vt
    scale = float((sig * np.diag(fix)).sum()) / var
    m = scale * rot
    return np.hstack([m, (mu_d - m @ mu_s)[:, None]])


def _apply(m: Any, pts: Any) -> Any:
    return pts @ m[:, :2].T + m[:, 2]


def _template(pts: Any) -> Any:
    """The first face's landmarks placed in the chip: eye centres level, 0.3 chip widths apart, at
    0.38 of its height (the chip then spans brow to chin with a margin)."""
    _, np = _runtime.cv2_numpy()
    left, right = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    target = np.array([[0.35 * _CHIP, 0.38 * _CHIP], [0.65 * _CHIP, 0.38 * _CHIP]])
    return _apply(_similarity(np.array([left, right]), target), pts)


def _make_chip(frame: _Frame, template: Any) -> None:
    """Grey chip of the face, similarity-aligned to ``template`` on the rigid points, lightly blurred
    against noise and normalised; ``chip_pts`` are the landmarks in chip coordinates."""
    cv2, np = _runtime.cv2_numpy()
    idx = list(_RIGID)
    m = _similarity(frame.pts[idx], template[idx])
    chip = cv2.warpAffine(frame.gray, m, (_CHIP, _CHIP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    chip = cv2.GaussianBlur(chip.astype(np.float32), (0, 0), 1.5)
    frame.chip, frame.chip_std = _normalise(chip)
    frame.chip_pts = _apply(m, frame.pts)
    frame.gray = None


def _normalise(chip: Any) -> tuple[Any, float]:
    """Zero mean and unit contrast over the chip's inside, so global brightness and contrast drop out."""
    inner = chip[_EDGE:-_EDGE, _EDGE:-_EDGE]
    mean, std = float(inner.mean()), float(inner.std())
    return (chip - mean) / max(std, 1e-3), std


def _block_change(reference: _Frame, other: _Frame) -> Any:
    """Per-block mean absolute difference (grey levels at the reference's contrast) between the two
    chips after the best homography: started from the landmarks' homography, refined by ECC on the
    pixels, both chips renormalised. A flat picture seen from another angle is a homography of
    itself, so it leaves only noise here; a head's own changes (eyes, parallax, expressions) do not.
    (A homography fitted to the landmarks alone does not tell a tilted photo from a turn: dlib places
    the landmarks of a foreshortened face as if the head had turned.)"""
    cv2, np = _runtime.cv2_numpy()
    start, _ = cv2.findHomography(reference.chip_pts.astype(np.float32), other.chip_pts.astype(np.float32), 0)
    warp = (np.eye(3) if start is None else start).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
    try:
        _, warp = cv2.findTransformECC(reference.chip, other.chip, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 1)
    except cv2.error:
        pass  # no convergence (very different chips): keep the landmarks' homography, which reads larger
    aligned = cv2.warpPerspective(
        other.chip, warp, (_CHIP, _CHIP), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    a, _ = _normalise(aligned)
    diff = np.abs(reference.chip - a)[_EDGE:-_EDGE, _EDGE:-_EDGE] * reference.chip_std
    side = (_CHIP - 2 * _EDGE) // _BLOCK
    return cv2.resize(diff, (side, side), interpolation=cv2.INTER_AREA)


def _iod(pts: Any) -> float:
    _, np = _runtime.cv2_numpy()
    return float(np.linalg.norm(pts[36:42].mean(axis=0) - pts[42:48].mean(axis=0)))


def _similarity_residual(src: Any, dst: Any) -> float:
    """RMS distance left after the best similarity transform of ``src`` onto ``dst``."""
    _, np = _runtime.cv2_numpy()
    fitted = _apply(_similarity(src, dst), src)
    return float(np.sqrt(((fitted - dst) ** 2).sum(axis=1).mean()))


def _deformation(a: _Frame, b: _Frame, points: Sequence[int]) -> float:
    """Shape change from ``a`` to ``b`` in eye distances: what a similarity transform cannot explain."""
    idx = list(points)
    return _similarity_residual(a.pts[idx], b.pts[idx]) / max(_iod(b.pts), 1.0)


def _thin(frames: list[TimedFrame], limit: int) -> list[TimedFrame]:
    if len(frames) <= limit:
        return frames
    step = (len(frames) - 1) / (limit - 1)
    return [frames[round(i * step)] for i in range(limit)]


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    out, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def judge_cue(
    frames: Sequence[TimedFrame],
    *,
    cue: Cue | str,
    shown_at: float,
    window: float,
    mirrored: bool = False,
) -> CueJudgement:
    """Judge whether ``cue``, shown to the citizen at ``shown_at``, was performed in the frames whose
    time is in ``[shown_at, shown_at + window]`` (other frames are ignored and counted).

    ``frames`` may come in any order; ``mirrored`` says they are left-right mirrored (turn
    directions are the subject's own). Never raises for picture content (no face, several faces,
    noise): that is reported as failure codes. Raises ``ValueError`` for an unknown cue, a
    non-finite ``shown_at``, a ``window`` outside (0, ``MAX_CUE_WINDOW_S``] or more than
    ``MAX_CUE_INPUT_FRAMES`` frames, and ``TypeError`` for items that are not :class:`TimedFrame`.
    """
    cue = Cue(cue)
    shown_at = _check_number("shown_at", shown_at)
    window = _check_number("window", window)
    if not 0 < window <= MAX_CUE_WINDOW_S:
        raise ValueError(f"window must be in (0, {MAX_CUE_WINDOW_S}] seconds, got {window}")
    if hasattr(frames, "__len__") and len(frames) > MAX_CUE_INPUT_FRAMES:
        raise ValueError(f"{len(frames)} frames, at most {MAX_CUE_INPUT_FRAMES}")
    given = []
    for item in frames:
        if not isinstance(item, TimedFrame):
            raise TypeError(f"expected face_check.TimedFrame, got {type(item).__name__}")
        given.append(item)
        if len(given) > MAX_CUE_INPUT_FRAMES:
            raise ValueError(f"more than {MAX_CUE_INPUT_FRAMES} frames")
    end = shown_at + window
    inside = sorted((f for f in given if shown_at <= f.t <= end), key=lambda f: f.t)
    ignored = len(given) - len(inside)
    used = _thin(inside, MAX_CUE_FRAMES)
    models = _runtime.models()
    signals: list[Signal] = []

    def done() -> CueJudgement:
        failed = tuple(s.name for s in signals if s.fired)
        return CueJudgement(
            cue=cue,
            performed=not failed,
            signals=tuple(signals),
            failed=failed,
            frames_used=len(used),
            frames_in_window=len(inside),
            frames_ignored=ignored,
            shown_at=shown_at,
            window=window,
            models=(models.info,),
        )

    signals.append(
        Signal(
            "too_few_frames",
            len(inside) < MIN_CUE_FRAMES,
            float(len(inside)),
            float(MIN_CUE_FRAMES),
            f"{len(inside)} frames inside the {window:.1f} s window ({ignored} outside it ignored)",
        )
    )
    if signals[-1].fired:
        return done()

    # Per-frame analysis, tracking the face from frame to frame.
    track = [_Frame(f.t, f.image) for f in used]
    last_box = None
    for fr in track:
        _analyse(fr, last_box)
        if fr.box is not None:
            last_box = fr.box
    faced = [fr for fr in track if fr.pts is not None]
    multi = sum(fr.faces > 1 for fr in track)

    # Change of each face against the first: ECC-refined, brightness-normalised block differences.
    if faced:
        template = _template(faced[0].pts)
        for fr in faced:
            _make_chip(fr, template)
        ref = faced[0]
        for fr in faced[1:]:
            blocks = _block_change(ref, fr)
            fr.change = float(blocks.max())
            fr.changed_share = float((blocks > OCCLUDED_BLOCK_DIFF).mean())
    for fr in track:
        fr.occluded = fr.pts is None or (cue is Cue.HAND and fr.changed_share >= OCCLUDED_BLOCK_SHARE)
    visible = [fr for fr in track if fr.visible]

    need = max(MIN_FACE_FRAMES, math.ceil(MIN_FACE_SHARE * len(used)))
    signals.append(
        Signal(
            "no_face",
            len(visible) < need,
            float(len(visible)),
            float(need),
            f"the face was seen unoccluded in {len(visible)} of {len(used)} frames analysed; need {need}",
        )
    )
    signals.append(
        Signal(
            "multiple_faces",
            multi > MAX_MULTI_FACE_FRAMES,
            float(multi),
            float(MAX_MULTI_FACE_FRAMES),
            f"{multi} of {len(used)} frames showed more than one face",
        )
    )
    if signals[-2].fired:
        return done()

    # In a hand pass, frames next to a lost or covered face are left out of the shape and stillness
    # checks: a half-covered face has misplaced landmarks and a hand in its chip.
    edge = _edges(track) if cue is Cue.HAND else set()
    core = [fr for fr in visible if id(fr) not in edge] or visible
    turn = None
    if cue in (Cue.TURN_LEFT, Cue.TURN_RIGHT):
        left = -1.0 if mirrored else 1.0  # unmirrored: the subject's left moves the nose to the image's right
        turn = _turn_path(visible, left if cue is Cue.TURN_LEFT else -left, shown_at)
    signals.append(_identity(track, visible))
    signals.append(_continuity(track, edge, turn))
    signals.append(_planar(visible, core))
    still = max(fr.change for fr in core)
    signals.append(
        Signal(
            "still",
            still < STILL_MAX_CHANGE,
            round(still, 3),
            STILL_MAX_CHANGE,
            f"largest change of the face against the first frame in {len(core)} frames, after the best "
            "homography and brightness and contrast normalisation (grey levels, 13 px blocks of a 150 px chip)",
        )
    )
    if cue is Cue.BLINK:
        signals.extend(_blink(visible, shown_at))
    elif cue is Cue.HAND:
        signals.extend(_hand(track, shown_at))
    else:
        assert turn is not None
        signals.extend(_turn(visible, shown_at, turn))
    return done()


def _identity(track: list[_Frame], visible: list[_Frame]) -> Signal:
    """Descriptors of a few well-chosen frames must all match each other."""
    _, np = _runtime.cv2_numpy()
    picks: list[_Frame] = [visible[0], visible[-1]]
    # Both sides of the hand occlusion (the same person must come back).
    occluded = [i for i, fr in enumerate(track) if fr.occluded]
    if occluded:
        before = [fr for fr in track[: occluded[0]] if fr.visible]
        after = [fr for fr in track[occluded[-1] + 1 :] if fr.visible]
        picks += before[-1:] + after[:1]
    # After the largest appearance jumps between consecutive frames (a swap to another face).
    jumps = sorted(
        ((float(np.abs(a.chip - b.chip).mean()), j + 1) for j, (a, b) in enumerate(pairwise(visible))),
        reverse=True,
    )
    picks += [visible[j] for _, j in jumps[:2]]
    # Then spread over the window.
    count = len(visible)
    picks += [visible[round(i * (count - 1) / (CUE_IDENTITY_SAMPLES - 1))] for i in range(CUE_IDENTITY_SAMPLES)]
    chosen: list[_Frame] = []
    for fr in picks:
        if all(fr is not c for c in chosen) and len(chosen) < CUE_IDENTITY_SAMPLES:
            chosen.append(fr)
    vectors = [descriptor(fr.image.pixels, fr.shape) for fr in chosen]
    worst = max((distance(a, b) for i, a in enumerate(vectors) for b in vectors[i + 1 :]), default=0.0)
    return Signal(
        "identity_broken",
        worst > MATCH_THRESHOLD,
        round(worst, 4),
        MATCH_THRESHOLD,
        f"largest descriptor distance between {len(chosen)} frames sampled over the window",
    )


@dataclass
class _TurnPath:
    excursion: float  # degrees in the requested direction, from the rest pose
    peak: int  # index (into the visible frames) of the largest excursion
    onset: float | None  # time the yaw had moved TURN_ONSET_DEG from the start
    between: int  # frames seen with the yaw between 20 % and 80 % of the way


def _turn_path(visible: list[_Frame], sign: float, shown_at: float) -> _TurnPath:
    """The turn in the requested direction, measured from the rest pose: the median yaw of the frames
    before anyone could react (or the first frame), so that coming back from a turn the other way
    does not count. If the yaw already rose by TURN_ONSET_DEG within those frames, the turn was under
    way when the cue was shown, and its onset is the first frame."""
    s = [sign * fr.yaw for fr in visible]
    early = [v for fr, v in zip(visible, s, strict=True) if fr.t < shown_at + REACTION_MIN_S] or s[:1]
    rest = sorted(early)[len(early) // 2]
    rel = [v - rest for v in s]
    peak = max(range(len(rel)), key=lambda i: rel[i])
    best = max(rel[peak], 0.0)
    rise = max((b - a for i, a in enumerate(early) for b in early[i + 1 :]), default=0.0)
    if rise >= TURN_ONSET_DEG:
        onset: float | None = visible[0].t
    else:
        onset = next((visible[i].t for i in range(peak + 1) if rel[i] >= TURN_ONSET_DEG), None)
    between = sum(0.2 * best <= rel[i] <= 0.8 * best for i in range(peak))
    return _TurnPath(best, peak, onset, between)


def _continuity(track: list[_Frame], edge: set[int], turn: _TurnPath | None) -> Signal:
    """A real head passes through the poses between two: no single step may hold most of the change.

    Steps are compared between consecutive frames that show the face clearly (not next to a frame
    where it was lost: a half-covered face has misplaced landmarks) and count only if the new shape
    persists (a one-frame landmark glitch returns). For a turn, the yaw must also be seen between
    20 % and 80 % of the way at least once, which also covers a swap hidden behind a hand or a gap.
    """
    clear = [i for i, fr in enumerate(track) if fr.visible and id(fr) not in edge]
    base = track[clear[0]] if clear else None
    excursion = max((_deformation(base, track[i], _RIGID) for i in clear), default=0.0)
    largest, gaps = 0.0, 0
    padded = [*clear, None, None]
    for n, x in enumerate(clear):
        y, z = padded[n + 1], padded[n + 2]
        if y is None or y != x + 1:
            continue
        a, b = track[x], track[y]
        if b.t - a.t > MAX_STEP_GAP_S:
            gaps += 1
            continue
        step = _deformation(a, b, _RIGID)
        if z == y + 1 and track[z].t - b.t <= MAX_STEP_GAP_S:
            c = track[z]
            if _deformation(b, c, _RIGID) >= _deformation(a, c, _RIGID):
                continue  # the next frame went back: a glitch of one frame, not a new pose
        largest = max(largest, step)
    judged = excursion >= JUMP_MIN_EXCURSION and largest > 0
    share = largest / excursion if judged else 0.0
    notes = [f"{gaps} steps over {MAX_STEP_GAP_S} s apart not compared"] if gaps else []
    if judged:
        detail = (
            f"largest step between consecutive frames is {share:.2f} of the head-shape change over the "
            f"window ({largest:.3f} of {excursion:.3f} eye distances)"
        )
    else:
        detail = (
            f"steps not judged: the head shape changed by {excursion:.3f} eye distances "
            f"(judged from {JUMP_MIN_EXCURSION})"
        )
    jumped = False
    if turn is not None and turn.excursion >= TURN_MIN_DEG:
        jumped = turn.between == 0
        notes.append(
            f"{turn.between} frames seen between 20 % and 80 % of the {turn.excursion:.1f} deg turn"
            + (" (it happened in one jump)" if jumped else "")
        )
    return Signal(
        "motion_discontinuous",
        (judged and share >= JUMP_MAX_SHARE) or jumped,
        round(share, 3),
        JUMP_MAX_SHARE,
        "; ".join([detail, *notes]),
    )


def _planar(visible: list[_Frame], core: list[_Frame]) -> Signal:
    """The face moved (landmarks deformed or the yaw changed), yet every moved frame is a homography
    of the first one: a flat picture tilted or turned in front of the camera."""
    base = visible[0]
    moved = [
        fr
        for fr in core
        if _deformation(base, fr, range(68)) >= PLANAR_MIN_DEFORM or abs(fr.yaw - base.yaw) >= TURN_MIN_DEG
    ]
    if not moved:
        return Signal(
            "planar",
            False,
            0.0,
            PLANAR_MAX_CHANGE,
            f"not judged: the face did not move out of plane (landmarks deformed under {PLANAR_MIN_DEFORM} "
            f"eye distances, yaw within {TURN_MIN_DEG:.0f} deg)",
        )
    worst = max(fr.change for fr in moved)
    return Signal(
        "planar",
        worst < PLANAR_MAX_CHANGE,
        round(worst, 3),
        PLANAR_MAX_CHANGE,
        f"in {len(moved)} frames where the face moved out of plane, the largest change left after the best "
        f"homography was {worst:.1f} grey levels",
    )


def _edges(track: list[_Frame]) -> set[int]:
    """Visible frames within EDGE_MARGIN_S of a frame where the face was lost or occluded."""
    lost = [fr.t for fr in track if not fr.visible]
    return {id(fr) for fr in track if fr.visible and any(abs(fr.t - t) <= EDGE_MARGIN_S for t in lost)}


def _timing(kind: str, events: list[tuple[float, bool]], shown_at: float, measure: Signal) -> list[Signal]:
    """too_early and not_performed from the cue's motion events: (onset time, complete)."""
    earliest = shown_at + REACTION_MIN_S
    complete = [t for t, ok in events if ok]
    valid = [t for t in complete if t >= earliest]
    early = [t for t in complete if t < earliest]
    if valid:
        detail = f"the {kind} began {valid[0] - shown_at:.2f} s after the cue was shown"
        value = valid[0] - shown_at
    elif early:
        detail = f"the only {kind} seen began {early[0] - shown_at:.2f} s after the cue was shown, too soon to react"
        value = early[0] - shown_at
    else:
        detail = f"no {kind} seen"
        value = 0.0
    return [Signal("too_early", not valid and bool(early), round(value, 3), REACTION_MIN_S, detail), measure]


def _blink(visible: list[_Frame], shown_at: float) -> list[Signal]:
    _, np = _runtime.cv2_numpy()
    openness = [fr.openness for fr in visible]
    level = float(np.percentile(openness, 80))
    if level <= 0:
        rel = [1.0] * len(visible)
    else:
        rel = [o / level for o in openness]
    events: list[tuple[float, bool]] = []
    lowest_valid = None
    for a, b in _runs([r < BLINK_CLOSED_RATIO for r in rel]):
        before = [i for i in range(a) if rel[i] >= BLINK_OPEN_RATIO]
        after = any(rel[i] >= BLINK_OPEN_RATIO for i in range(b + 1, len(rel)))
        if not after or visible[b].t - visible[a].t > BLINK_MAX_CLOSED_S:
            continue
        onset = visible[before[-1] + 1].t if before else visible[0].t
        events.append((onset, True))
        if before and onset >= shown_at + REACTION_MIN_S:
            low = min(rel[a : b + 1])
            lowest_valid = low if lowest_valid is None else min(lowest_valid, low)
        elif not before:
            events[-1] = (min(onset, shown_at), True)  # closed from the start: began before the cue
    lowest = min(rel)
    performed = lowest_valid is not None
    measure = Signal(
        "not_performed",
        not events,
        round(lowest_valid if performed else lowest, 4),
        BLINK_CLOSED_RATIO,
        f"lowest eye openness {lowest_valid if performed else lowest:.2f} of the open level {level:.3f}; "
        + ("closed between open frames" if events else "no closure between open frames"),
    )
    return _timing("blink", events, shown_at, measure)


def _turn(visible: list[_Frame], shown_at: float, path: _TurnPath) -> list[Signal]:
    events = [(path.onset, True)] if path.excursion >= TURN_MIN_DEG and path.onset is not None else []
    measure = Signal(
        "not_performed",
        not events,
        round(path.excursion, 2),
        TURN_MIN_DEG,
        f"largest yaw change in the requested direction: {path.excursion:.1f} deg",
    )
    return _timing("turn", events, shown_at, measure)


def _hand(track: list[_Frame], shown_at: float) -> list[Signal]:
    events: list[tuple[float, bool]] = []
    longest = 0
    for a, b in _runs([fr.occluded for fr in track]):
        before = any(fr.visible for fr in track[:a])
        after = any(fr.visible for fr in track[b + 1 :])
        frames = b - a + 1
        if not after or frames < HAND_MIN_OCCLUDED_FRAMES or track[b].t - track[a].t > HAND_MAX_OCCLUDED_S:
            continue
        events.append((track[a].t if before else min(track[a].t, shown_at), True))
        longest = max(longest, frames)
    measure = Signal(
        "not_performed",
        not events,
        float(longest),
        float(HAND_MIN_OCCLUDED_FRAMES),
        f"longest run of frames with the face hidden or largely changed, seen before and after: {longest}",
    )
    return _timing("hand pass", events, shown_at, measure)
