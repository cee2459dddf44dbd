"""Liveness signals on generated frame sequences made from the real photos: each signal is shown
firing and not firing. Needs ../shared/data/faces (fails, not skips, without it)."""

from __future__ import annotations

import numpy as np
import pytest
from face_helpers import close_eyes, jitter, portrait_frame, turn_head

import face_check
from face_check import Challenge, QualityError, QualityReason

FACES = ["obama_1.jpg", "biden_2.jpg"]  # near-frontal, different skin tones


def frames(arrays) -> list[face_check.Image]:
    return [face_check.image_from_rgb(a) for a in arrays]


@pytest.fixture(scope="module", params=FACES)
def subject(request):
    base = portrait_frame(request.param)
    face = face_check.single_face(face_check.image_from_rgb(base))
    return base, face


@pytest.fixture()
def rng():
    return np.random.default_rng(20240606)


def test_still_photo_repeated_is_flagged_near_identical(subject):
    base, _ = subject
    result = face_check.liveness(frames([base] * 6), challenge=Challenge.BLINK)
    assert result.near_identical.fired, result.near_identical
    assert not result.blink.fired
    assert not result.turn_left.fired and not result.turn_right.fired
    assert result.same_identity.fired
    assert result.frames_analysed == result.frames_total == 6


def test_still_photo_with_hand_shake_is_still_flagged(subject, rng):
    base, _ = subject
    shaken = [jitter(base, rng, shift=2.0, noise=2.0) for _ in range(6)]
    result = face_check.liveness(frames(shaken), challenge=Challenge.BLINK)
    assert result.near_identical.fired, result.near_identical
    assert result.near_identical.value < face_check.NEAR_IDENTICAL_MAX_DIFF


def test_blink_fires_when_the_middle_frames_have_closed_eyes(subject, rng):
    base, face = subject
    shut = close_eyes(base, face.landmarks)
    seq = [jitter(shut if i in (3, 4) else base, rng) for i in range(8)]
    result = face_check.liveness(frames(seq), challenge="blink")
    assert result.blink.fired, result.blink
    assert result.requested is result.blink
    assert result.eye_openness[3] < result.eye_openness[0] * face_check.BLINK_CLOSED_RATIO
    assert not result.near_identical.fired, "closing the eyes is a real change"
    assert result.same_identity.fired


def test_blink_does_not_fire_on_open_eyes_with_natural_jitter(subject, rng):
    base, _ = subject
    seq = [jitter(base, rng, shift=2.0, noise=3.0) for _ in range(8)]
    result = face_check.liveness(frames(seq), challenge="blink")
    assert not result.blink.fired, result.blink
    assert result.blink.value > 0.8


def test_blink_does_not_fire_when_eyes_never_reopen(subject, rng):
    base, face = subject
    shut = close_eyes(base, face.landmarks)
    seq = [jitter(shut if i >= 4 else base, rng) for i in range(8)]
    assert not face_check.liveness(frames(seq), challenge="blink").blink.fired


@pytest.mark.parametrize("challenge,sign", [(Challenge.TURN_LEFT, 1.0), (Challenge.TURN_RIGHT, -1.0)])
def test_requested_turn_fires_and_the_opposite_does_not(subject, rng, challenge, sign):
    base, face = subject
    amounts = [0.0, 0.07, 0.14, 0.2, 0.2, 0.12]
    seq = [jitter(turn_head(base, face.box, sign * a), rng, shift=1.0) for a in amounts]
    result = face_check.liveness(frames(seq), challenge=challenge)
    opposite = result.turn_right if challenge is Challenge.TURN_LEFT else result.turn_left
    assert result.requested.fired, result.requested
    assert result.requested.value >= face_check.TURN_MIN_DEG
    assert not opposite.fired, opposite
    assert not result.near_identical.fired
    assert not result.blink.fired


def test_mirrored_frames_swap_the_turn_direction(subject, rng):
    base, face = subject
    seq = [turn_head(base, face.box, a) for a in (0.0, 0.1, 0.2, 0.2)]
    plain = face_check.liveness(frames(seq), challenge=Challenge.TURN_LEFT)
    mirrored = face_check.liveness(frames(seq), challenge=Challenge.TURN_LEFT, mirrored=True)
    assert plain.turn_left.fired and not plain.turn_right.fired
    assert mirrored.turn_right.fired and not mirrored.turn_left.fired


def test_no_turn_fires_for_a_still_head(subject, rng):
    base, _ = subject
    seq = [jitter(base, rng, shift=2.0) for _ in range(6)]
    result = face_check.liveness(frames(seq), challenge=Challenge.TURN_LEFT)
    assert not result.turn_left.fired and not result.turn_right.fired
    assert result.turn_left.value < 3 and result.turn_right.value < 3


def test_two_different_people_are_not_the_same_identity(rng):
    a = portrait_frame("obama_1.jpg")
    b = portrait_frame("biden_2.jpg")
    seq = [jitter(x, rng) for x in (a, a, b, b, a, b)]
    result = face_check.liveness(frames(seq), challenge=Challenge.BLINK)
    assert not result.same_identity.fired, result.same_identity
    assert result.same_identity.value > face_check.MATCH_THRESHOLD
    assert not result.near_identical.fired


def test_frames_without_a_single_face_are_counted_not_analysed(subject):
    base, _ = subject
    grey = np.full_like(base, 128)
    result = face_check.liveness(frames([base, grey, base, base]), challenge="blink")
    assert (result.frames_total, result.frames_analysed) == (4, 3)
    assert result.eye_openness[1] is None and result.yaw_deg[1] is None
    assert result.model.embedding == "dlib_face_recognition_resnet_model_v1"


def test_too_few_usable_frames_is_a_quality_error(subject):
    base, _ = subject
    grey = np.full_like(base, 128)
    with pytest.raises(QualityError) as info:
        face_check.liveness(frames([base, grey, grey]), challenge="blink")
    assert info.value.reason is QualityReason.TOO_FEW_FRAMES


def test_unknown_challenge_and_too_many_frames_are_rejected(subject):
    base, _ = subject
    with pytest.raises(ValueError):
        face_check.liveness(frames([base, base]), challenge="smile")
    too_many = [face_check.image_from_rgb(base)] * (face_check.MAX_FRAMES + 1)
    with pytest.raises(ValueError):
        face_check.liveness(too_many, challenge="blink")
