"""judge_cue on synthetic frame sequences made from the shared photos (../shared/data/faces; fails,
not skips, without them). Frames are 640x480 at 10 fps with the face 200 px wide, and jittered by up
to 2 px with sensor noise, as in test_face_liveness.py.

What these cannot show: real head turns (the "turns" here are a 2-D warp of a photo, see
face_helpers.turn_head), real blinks, real hands, or real video codecs. They show each check firing
on the attack it is for, and a synthetic performance of each cue passing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from face_helpers import (
    FRAME_H,
    FRAME_W,
    blinking_clip,
    close_eyes,
    degrade,
    jitter,
    pass_hand,
    photo_path,
    portrait_frame,
    still_clip,
    tilt_picture,
    turn_head,
    write_y4m,
)

import face_check
from face_check import FAILED_CODES, FAILED_TEXT, Cue, TimedFrame

FPS = 10
N = 30  # frames in most sequences here: a 3 s window (the gateway's are 4-5 s; 3 s keeps the tests quick)
CUES = [Cue.BLINK, Cue.TURN_LEFT, Cue.TURN_RIGHT, Cue.HAND]


def timed(arrays, *, start: float = 0.0, fps: float = FPS) -> list[TimedFrame]:
    return [TimedFrame(start + i / fps, face_check.image_from_rgb(a)) for i, a in enumerate(arrays)]


def judge(frames, cue, *, shown_at: float = 0.0, window: float = 3.0, **kw):
    return face_check.judge_cue(frames, cue=cue, shown_at=shown_at, window=window, **kw)


def centre(box):
    return ((box.left + box.right) / 2, (box.top + box.bottom) / 2)


@pytest.fixture(scope="module")
def obama():
    base = portrait_frame("obama_1.jpg")
    return base, face_check.single_face(face_check.image_from_rgb(base))


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20250601)


@pytest.fixture(scope="module")
def tilted_photo(obama):
    """A printed photo held to the camera for 3 s: brightness drifting by 3 %, turned 5 degrees in
    its plane and tilted 6 degrees away, with hand shake and sensor noise."""
    base, face = obama
    rng = np.random.default_rng(7)
    out = []
    for i in range(N):
        k = i / (N - 1)
        frame = tilt_picture(base, centre(face.box), yaw_deg=6 * k, roll_deg=5 * k)
        frame = np.clip(frame.astype(np.float32) * (1 + 0.03 * k), 0, 255).astype(np.uint8)
        out.append(jitter(frame, rng))
    return timed(out)


@pytest.fixture(scope="module")
def still_photo_results(tilted_photo):
    return {cue: judge(tilted_photo, cue) for cue in CUES}


@pytest.mark.parametrize("cue", CUES)
def test_a_tilted_photo_with_brightness_drift_fails_every_cue(still_photo_results, cue):
    result = still_photo_results[cue]
    assert not result.performed
    assert "still" in result.failed and "not_performed" in result.failed, result.failed
    assert result.signal("still").value < face_check.STILL_MAX_CHANGE
    assert result.frames_used == result.frames_in_window == N and result.frames_ignored == 0
    assert "identity_broken" not in result.failed  # it is the right face, just not alive


def test_a_photo_tilted_far_to_fake_a_turn_moves_like_a_flat_picture(obama, rng):
    base, face = obama
    angles = [0.0] * 8 + [25 * min(1.0, i / 8) for i in range(1, N - 7)]
    seq = [jitter(tilt_picture(base, centre(face.box), yaw_deg=a), rng) for a in angles]
    result = judge(timed(seq), Cue.TURN_LEFT)
    assert {"planar", "not_performed"} <= set(result.failed), result.signals
    # The face's yaw barely changes when a flat picture turns: ratios along a line survive perspective.
    assert result.signal("not_performed").value < face_check.cues.TURN_MIN_DEG / 2


@pytest.mark.parametrize(
    "first,second,cue",
    [("obama_1.jpg", "obama_4.jpg", Cue.TURN_LEFT), ("alex_lacamoire_1.jpg", "alex_lacamoire_2.png", Cue.TURN_LEFT)],
)
def test_two_photos_at_different_angles_swapped_fail_the_turn(rng, first, second, cue):
    a, b = portrait_frame(first), portrait_frame(second)
    seq = [jitter(a if i < 12 else b, rng) for i in range(N)]
    result = judge(timed(seq), cue)
    assert not result.performed
    assert "motion_discontinuous" in result.failed, result.signal("motion_discontinuous")
    assert "identity_broken" not in result.failed  # the same person: only the motion gives it away
    assert result.signal("not_performed").value >= face_check.cues.TURN_MIN_DEG  # the yaw did change


def test_a_swap_hidden_in_a_gap_of_the_stream_still_fails_the_turn(rng):
    a, b = portrait_frame("obama_1.jpg"), portrait_frame("obama_4.jpg")
    frames = timed([jitter(a if i < 12 else b, rng) for i in range(N)])
    frames = frames[:10] + frames[16:]  # 0.7 s without frames around the swap
    result = judge(frames, Cue.TURN_LEFT)
    assert "motion_discontinuous" in result.failed
    assert "0 frames seen between" in result.signal("motion_discontinuous").detail


def test_a_blink_that_began_before_the_person_could_react_is_too_early(obama, rng):
    base, face = obama
    shut = close_eyes(base, face.landmarks)
    seq = [jitter(shut if i in (1, 2) else base, rng) for i in range(N)]
    result = judge(timed(seq), Cue.BLINK)
    assert result.failed == ("too_early",), result.signals
    assert result.signal("too_early").value < face_check.REACTION_MIN_S


def test_a_turn_already_under_way_when_the_cue_was_shown_is_too_early(obama, rng):
    base, face = obama
    seq = [jitter(turn_head(base, face.box, 0.14 * min(1.0, i / 6)), rng, shift=1.5) for i in range(N)]
    result = judge(timed(seq), Cue.TURN_LEFT)
    assert "too_early" in result.failed and not result.performed


def _mild_motion(base, box, i):
    """Mild non-rigid change of a live face at rest: the nose region drifts by up to 1 % of the face."""
    return turn_head(base, box, 0.01 * math.sin(i / 3))


def test_a_synthetic_blink_after_the_cue_passes(obama, rng):
    base, face = obama
    shut = close_eyes(base, face.landmarks)
    seq = [jitter(shut if i in (15, 16, 17) else _mild_motion(base, face.box, i), rng) for i in range(N)]
    result = judge(timed(seq), Cue.BLINK)
    assert result.performed, result.signals
    assert result.failed == ()
    assert result.signal("too_early").value == pytest.approx(1.5)
    assert result.models[0].embedding == "dlib_face_recognition_resnet_model_v1"
    assert {s.name for s in result.signals} == set(FAILED_CODES)


def _turn_amounts(sign: float) -> list[float]:
    """At rest for 0.8 s, a turn over 0.6 s, held, and back: 0.14 face widths of nose travel."""
    out = []
    for i in range(N):
        t = i / FPS
        k = 0.0 if t < 0.8 else min(1.0, (t - 0.8) / 0.6)
        if t > 2.2:
            k = max(0.0, 1 - (t - 2.2) / 0.6)
        out.append(sign * 0.14 * k)
    return out


@pytest.mark.parametrize("cue,sign", [(Cue.TURN_LEFT, 1.0), (Cue.TURN_RIGHT, -1.0)])
def test_a_synthetic_smooth_turn_after_the_cue_passes(obama, rng, cue, sign):
    base, face = obama
    seq = [jitter(turn_head(base, face.box, a), rng, shift=1.5) for a in _turn_amounts(sign)]
    result = judge(timed(seq), cue)
    assert result.performed, result.signals
    assert result.signal("not_performed").value >= face_check.cues.TURN_MIN_DEG
    assert result.signal("motion_discontinuous").value < face_check.cues.JUMP_MAX_SHARE
    assert 0.8 < result.signal("too_early").value < 1.2
    # Mirrored frames: the same picture motion is the other direction for the subject.
    if cue is Cue.TURN_LEFT:
        mirrored = judge(timed(seq), cue, mirrored=True)
        assert mirrored.failed == ("not_performed",)


def _hand_pass(base, face, rng, *, live: bool):
    seq = []
    for i in range(N):
        t = i / FPS
        frame = _mild_motion(base, face.box, i) if live else base
        if live and i in (24, 25):
            frame = close_eyes(frame, face.landmarks)  # a spontaneous blink after the hand
        if 0.9 <= t <= 1.7:
            frame = pass_hand(frame, face.box, -1.2 + 2.4 * (t - 0.9) / 0.8)
        seq.append(jitter(frame, rng))
    return timed(seq)


def test_a_synthetic_hand_pass_passes(obama, rng):
    base, face = obama
    result = judge(_hand_pass(base, face, rng, live=True), Cue.HAND)
    assert result.performed, result.signals
    assert result.signal("not_performed").value >= face_check.cues.HAND_MIN_OCCLUDED_FRAMES


def test_a_hand_passed_in_front_of_a_still_photo_is_still(obama, rng):
    base, face = obama
    result = judge(_hand_pass(base, face, rng, live=False), Cue.HAND)
    assert "still" in result.failed and "not_performed" not in result.failed, result.signals


def test_a_different_person_mid_window_breaks_identity(rng):
    a, b = portrait_frame("obama_1.jpg"), portrait_frame("biden_2.jpg")
    seq = [jitter(b if 10 <= i <= 20 else a, rng) for i in range(N)]
    result = judge(timed(seq), Cue.BLINK)
    assert "identity_broken" in result.failed
    assert result.signal("identity_broken").value > face_check.MATCH_THRESHOLD
    brief = [jitter(b if i in (15, 16, 17) else a, rng) for i in range(N)]  # three frames only
    assert "identity_broken" in judge(timed(brief), Cue.BLINK).failed


def test_frames_outside_the_window_are_ignored_and_counted(obama, rng):
    base, face = obama
    shut = close_eyes(base, face.landmarks)
    other = portrait_frame("biden_2.jpg")
    # A blink and another person, both before the cue was shown; open eyes in the window.
    before = [jitter(shut if i in (3, 4) else other if i > 6 else base, rng) for i in range(10)]
    inside = [jitter(base, rng) for _ in range(20)]
    after = [jitter(other, rng) for _ in range(5)]
    frames = timed(before, start=-1.0) + timed(inside, start=0.0) + timed(after, start=5.0)
    result = judge(list(reversed(frames)), Cue.BLINK, window=2.0)  # order does not matter
    assert (result.frames_in_window, result.frames_ignored) == (20, 15)
    assert "identity_broken" not in result.failed
    assert set(result.failed) == {"still", "not_performed"}
    assert "15 outside it ignored" in result.signal("too_few_frames").detail


def test_empty_and_faceless_input_is_reported_never_raised():
    empty = judge([], Cue.BLINK)
    assert empty.failed == ("too_few_frames",) and not empty.performed and empty.frames_used == 0
    few = judge(timed([portrait_frame("obama_1.jpg")] * 3), Cue.HAND)
    assert few.failed == ("too_few_frames",)
    grey = np.full((FRAME_H, FRAME_W, 3), 128, np.uint8)
    noise = np.random.default_rng(1).integers(0, 256, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
    faceless = judge(timed([grey, noise] * 6), Cue.TURN_RIGHT)
    assert faceless.failed == ("no_face",), faceless.signals
    assert faceless.signal("no_face").value == 0


def test_several_faces_in_every_frame_are_reported_never_raised(rng):
    import cv2

    two = face_check.load_image(photo_path("multi_obama_biden.jpg").read_bytes())
    frame = cv2.resize(np.asarray(two.pixels), (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)
    result = judge(timed([jitter(frame, rng) for _ in range(10)]), Cue.BLINK)
    assert not result.performed
    assert {"no_face", "multiple_faces"} <= set(result.failed), result.signals


def test_absurd_input_is_refused(obama):
    base, _ = obama
    one = TimedFrame(0.0, face_check.image_from_rgb(base))
    for kwargs in (
        {"window": 0.0},
        {"window": -1.0},
        {"window": face_check.MAX_CUE_WINDOW_S + 1},
        {"window": float("inf")},
        {"shown_at": float("nan")},
        {"shown_at": True},
    ):
        args = {"cue": Cue.BLINK, "shown_at": 0.0, "window": 4.0, **kwargs}
        with pytest.raises(ValueError):
            face_check.judge_cue([one], **args)
    with pytest.raises(ValueError):
        face_check.judge_cue([one], cue="smile", shown_at=0.0, window=4.0)
    with pytest.raises(ValueError):
        face_check.judge_cue([one] * (face_check.MAX_CUE_INPUT_FRAMES + 1), cue="blink", shown_at=0.0, window=4.0)
    with pytest.raises(ValueError):
        face_check.judge_cue(iter([one] * (face_check.MAX_CUE_INPUT_FRAMES + 1)), cue="blink", shown_at=0, window=4)
    with pytest.raises(TypeError):
        face_check.judge_cue([face_check.image_from_rgb(base)], cue="blink", shown_at=0.0, window=4.0)
    with pytest.raises(ValueError):
        TimedFrame(float("nan"), face_check.image_from_rgb(base))
    with pytest.raises(TypeError):
        TimedFrame(0.0, base)


def test_cue_values_and_failure_texts():
    assert [c.value for c in Cue] == ["blink", "turn_left", "turn_right", "hand"]
    assert Cue(face_check.Challenge.TURN_LEFT) is Cue.TURN_LEFT
    assert [c.value for c in face_check.Challenge] == ["blink", "turn_left", "turn_right"]  # liveness() unchanged
    assert set(FAILED_TEXT) == set(FAILED_CODES)
    for code, text in FAILED_TEXT.items():
        assert set(text) == {"th", "en"}, code
        assert text["en"].endswith(".") and text["th"] and "\n" not in text["th"] + text["en"]
        assert any("\u0e00" <= ch <= "\u0e7f" for ch in text["th"]), code  # Thai script


# --- The looping clips the gateway's browser tests play through Chromium's fake camera.


@pytest.mark.parametrize("name,fps", [("obama_1.jpg", 10), ("biden_2.jpg", 15)])
def test_a_blinking_clip_after_codec_like_damage_passes_blink_and_nothing_else(name, fps):
    # 3 s looped twice, a window that starts at an arbitrary point and spans the loop's seam.
    clip = [degrade(f) for f in blinking_clip(photo_path(name), seconds=3, fps=fps)]
    loop = timed(clip + clip, start=-1.3, fps=fps)
    result = judge(loop, Cue.BLINK, window=4.0)
    assert result.performed, result.signals
    if fps == 15:
        assert result.frames_in_window > face_check.MAX_CUE_FRAMES == result.frames_used  # thinned
    turn = judge(loop, Cue.TURN_RIGHT, window=4.0)
    assert turn.failed == ("not_performed",)


def test_a_still_clip_fails_blink_and_turn():
    clip = [degrade(f) for f in still_clip(photo_path("obama_1.jpg"), seconds=3, fps=10)]
    for cue in (Cue.BLINK, Cue.TURN_LEFT):
        result = judge(timed(clip), cue)
        assert set(result.failed) == {"still", "not_performed"}, result.signals


def test_clips_are_deterministic_and_write_as_y4m(tmp_path):
    a = blinking_clip(photo_path("rose_leslie_1.jpg"), seconds=1, fps=10)
    b = blinking_clip(photo_path("rose_leslie_1.jpg"), seconds=1, fps=10)
    assert len(a) == 10 and all(x.shape == (FRAME_H, FRAME_W, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[4], a[5])  # eyes shut from frame 5 (half a second)
    path = tmp_path / "clip.y4m"
    write_y4m(a, path, fps=10)
    data = path.read_bytes()
    header = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
    assert data.startswith(header)
    assert len(data) == len(header) + 10 * (len(b"FRAME\n") + FRAME_W * FRAME_H * 3 // 2)
    with pytest.raises(ValueError):
        write_y4m([a[0][:, :639]], tmp_path / "odd.y4m", fps=10)
