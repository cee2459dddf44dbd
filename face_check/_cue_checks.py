"""The checks :func:`face_check.cues.judge_cue` makes on the tracked frames, with their thresholds.

Each returns a :class:`~face_check.Signal` named by its failure code: ``identity_broken`` (descriptors
of a few chosen frames), ``motion_discontinuous`` (head-shape steps between frames, and for a turn the
poses in between), ``planar`` and ``still`` (the change left after the best homography), and for the
cue itself ``too_early`` with ``not_performed`` (a blink, a turn or a hand pass, and when it began).
The frames come from :mod:`face_check._cue_frames`; the order and meaning of the codes are described
in :mod:`face_check.cues`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from face_check import _runtime
from face_check._cue_frames import _RIGID, _deformation, _Frame
from face_check.matching import MATCH_THRESHOLD, descriptor, distance
from face_check.results import Signal
from face_check.signals import BLINK_CLOSED_RATIO, BLINK_OPEN_RATIO, TURN_MIN_DEG

CUE_IDENTITY_SAMPLES = 5  # descriptors per call (~100 ms each)

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

# --- still / planar / discontinuity (values measured in tests/face_check/test_face_cues.py) ---
STILL_MAX_CHANGE = 5.0
PLANAR_MIN_DEFORM = 0.05  # landmark deformation (RMS after a similarity fit, in eye distances) to judge planarity
PLANAR_MAX_CHANGE = 8.0  # planar when no moved frame differs from the first by more than this after a homography
JUMP_MIN_EXCURSION = 0.05  # head-shape change (eye distances) below which continuity is not judged
JUMP_MAX_SHARE = 0.7
MAX_STEP_GAP_S = 0.5  # consecutive frames further apart than this are not compared
EDGE_MARGIN_S = 0.25  # frames this close to a lost or covered face are left out of shape and stillness checks


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


def _still(core: list[_Frame]) -> Signal:
    """No change of the face itself at all against the first frame: a photo, even tilted, or a paused
    stream."""
    still = max(fr.change for fr in core)
    return Signal(
        "still",
        still < STILL_MAX_CHANGE,
        round(still, 3),
        STILL_MAX_CHANGE,
        f"largest change of the face against the first frame in {len(core)} frames, after the best "
        "homography and brightness and contrast normalisation (grey levels, 13 px blocks of a 150 px chip)",
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
