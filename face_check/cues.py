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

This module holds :func:`judge_cue`, the bounds on its input and work and the minimum material to
judge, and ``FAILED_CODES`` with ``FAILED_TEXT``. The per-frame analysis (detection, tracking,
landmarks, aligned chips and their change) is in :mod:`face_check._cue_frames`, the checks with
their thresholds in :mod:`face_check._cue_checks`; every threshold named above is re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from face_check import _runtime

# Besides what judge_cue uses, the thresholds of its checks (the docstring above names them) are
# re-exported from here, hence the noqa.
from face_check._cue_checks import (  # noqa: F401
    BLINK_MAX_CLOSED_S,
    CUE_IDENTITY_SAMPLES,
    EDGE_MARGIN_S,
    HAND_MAX_OCCLUDED_S,
    HAND_MIN_OCCLUDED_FRAMES,
    JUMP_MAX_SHARE,
    JUMP_MIN_EXCURSION,
    MAX_STEP_GAP_S,
    PLANAR_MAX_CHANGE,
    PLANAR_MIN_DEFORM,
    REACTION_MIN_S,
    STILL_MAX_CHANGE,
    TURN_ONSET_DEG,
    _blink,
    _continuity,
    _edges,
    _hand,
    _identity,
    _planar,
    _still,
    _turn,
    _turn_path,
)
from face_check._cue_frames import OCCLUDED_BLOCK_DIFF, OCCLUDED_BLOCK_SHARE, _track  # noqa: F401
from face_check.matching import MATCH_THRESHOLD  # noqa: F401
from face_check.results import Cue, CueJudgement, Signal, TimedFrame
from face_check.signals import BLINK_CLOSED_RATIO, BLINK_OPEN_RATIO, TURN_MIN_DEG  # noqa: F401

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

# --- enough material to judge ---
MIN_CUE_FRAMES = 8  # frames inside the window
MIN_FACE_FRAMES = 4  # frames showing the face unoccluded...
MIN_FACE_SHARE = 0.4  # ...and at least this share of the window's frames
MAX_MULTI_FACE_FRAMES = 1  # one stray second detection is tolerated

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


def _check_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _thin(frames: list[TimedFrame], limit: int) -> list[TimedFrame]:
    if len(frames) <= limit:
        return frames
    step = (len(frames) - 1) / (limit - 1)
    return [frames[round(i * step)] for i in range(limit)]


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
    track = _track(used, cue)
    multi = sum(fr.faces > 1 for fr in track)
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
    signals.append(_still(core))
    if cue is Cue.BLINK:
        signals.extend(_blink(visible, shown_at))
    elif cue is Cue.HAND:
        signals.extend(_hand(track, shown_at))
    else:
        assert turn is not None
        signals.extend(_turn(visible, shown_at, turn))
    return done()
