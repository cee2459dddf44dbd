"""Frozen result types returned by face_check.

They hold only plain Python values (ints, floats, tuples, strings) except :class:`Image`, whose
pixels are a read-only numpy array, so results can be logged, compared and shared between threads
without copying. numpy is only imported for type checking here, keeping ``import face_check`` light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from face_check.errors import QualityReason

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Box",
    "Challenge",
    "Cue",
    "CueJudgement",
    "Embedding",
    "Face",
    "FaceMatch",
    "Image",
    "LivenessResult",
    "ModelInfo",
    "Pose",
    "QualityReport",
    "Signal",
    "TimedFrame",
]


@dataclass(frozen=True, eq=False)
class Image:
    """A decoded picture: ``pixels`` is an H x W x 3 uint8 RGB array that is not writeable.

    ``source_format`` is ``"jpeg"``, ``"png"``, ``"webp"`` (from :func:`face_check.load_image`) or
    ``"array"`` (from :func:`face_check.image_from_rgb`); ``decoder`` names the decoder and version.
    Compared by identity: two images with equal pixels are still two images.
    """

    pixels: np.ndarray = field(repr=False)
    width: int
    height: int
    source_format: str
    decoder: str


@dataclass(frozen=True)
class ModelInfo:
    """Which models produced a result: names, package versions and weight-file digests."""

    detector: str
    landmarks: str
    embedding: str
    dlib_version: str
    models_package: str
    opencv_version: str
    weights_sha256: tuple[tuple[str, str], ...]  # (file name, first 16 hex digits of its SHA-256)

    @property
    def name(self) -> str:
        """One line for logs and audit records."""
        return (
            f"{self.embedding} + {self.landmarks} + {self.detector} "
            f"({self.models_package}, dlib {self.dlib_version}, opencv {self.opencv_version})"
        )


@dataclass(frozen=True)
class Box:
    """Face box in image pixels; ``right``/``bottom`` are exclusive. May extend past the image edge."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Pose:
    """Head pose from 2-D landmark geometry (no camera calibration, so approximate).

    ``yaw_ratio`` is the nose's horizontal offset from the middle of the jaw outline in half jaw
    widths; positive means the nose points to the image's right (the subject turned to their own
    left in an unmirrored camera). ``yaw_deg`` is ``asin(yaw_ratio)``, a cylinder-head model that
    under-reads large turns by roughly a quarter. ``roll_deg`` is the tilt of the line through the
    eye centres (positive: clockwise on screen). Pitch is not estimated: solvePnP with a generic
    3-D face gave non-monotonic numbers on our photos, so we report nothing rather than noise.
    """

    yaw_ratio: float
    yaw_deg: float
    roll_deg: float


@dataclass(frozen=True)
class QualityReport:
    """Measures of one face and the problems they show (empty ``problems`` means usable).

    ``sharpness`` is the variance of the Laplacian of the face crop scaled to 128x128 and
    normalised to unit contrast (so it does not fall just because the picture is dark);
    ``brightness`` is the mean luma (0-255) of the face crop.
    """

    face_width_px: int
    face_height_px: int
    sharpness: float
    brightness: float
    pose: Pose
    problems: tuple[QualityReason, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Face:
    """One detected face: box, the 68 dlib landmarks (iBUG order) as (x, y), and its quality."""

    box: Box
    landmarks: tuple[tuple[int, int], ...]
    detector_score: float
    quality: QualityReport
    model: ModelInfo


@dataclass(frozen=True)
class Embedding:
    """A 128-d face descriptor, reusable as a cached reference for :func:`face_check.compare`."""

    vector: tuple[float, ...] = field(repr=False)
    face: Face
    model: ModelInfo


@dataclass(frozen=True)
class FaceMatch:
    """Result of a 1:1 comparison: Euclidean descriptor distance and the threshold applied."""

    distance: float
    threshold: float
    same_person: bool
    model: ModelInfo
    reference_face: Face
    probe_face: Face


class Challenge(StrEnum):
    """What the officer asked the person to do during the frames (directions are the subject's own)."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"


@dataclass(frozen=True)
class Signal:
    """One liveness signal: whether it fired, the measured value and the threshold it was held to."""

    name: str
    fired: bool
    value: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class LivenessResult:
    """Signals over a frame sequence, for the officer to weigh. Deliberately not a verdict.

    ``blink``: eyes closed in some frame and open before and after it. ``turn_left`` /
    ``turn_right``: head yaw moved that way from the first frame. ``same_identity``: fired when all
    sampled frames match the first one. ``near_identical``: fired when the aligned face crops barely
    change (what a still photo held to the camera looks like, but also a perfectly still person).
    Per-frame series are ``None`` where a frame had no single face.
    """

    challenge: Challenge
    frames_total: int
    frames_analysed: int
    blink: Signal
    turn_left: Signal
    turn_right: Signal
    same_identity: Signal
    near_identical: Signal
    eye_openness: tuple[float | None, ...]
    landmark_ear: tuple[float | None, ...]
    yaw_deg: tuple[float | None, ...]
    model: ModelInfo

    @property
    def requested(self) -> Signal:
        """The signal that corresponds to the challenge the officer asked for."""
        return {
            Challenge.BLINK: self.blink,
            Challenge.TURN_LEFT: self.turn_left,
            Challenge.TURN_RIGHT: self.turn_right,
        }[self.challenge]


class Cue(StrEnum):
    """A random live cue shown to the citizen during an officer video call (see :func:`face_check.judge_cue`).

    Directions are the subject's own. ``hand``: pass a hand in front of the face. The first three
    have the same values as :class:`Challenge`, so ``Cue(Challenge.BLINK)`` works.
    """

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    HAND = "hand"


@dataclass(frozen=True)
class TimedFrame:
    """One decoded video frame and its time ``t`` in seconds (any monotonic clock, the same as the
    cue's ``shown_at``). Raises ``TypeError`` / ``ValueError`` for a non-Image or a non-finite time."""

    t: float
    image: Image

    def __post_init__(self) -> None:
        if not isinstance(self.image, Image):
            raise TypeError(f"expected face_check.Image, got {type(self.image).__name__}")
        if isinstance(self.t, bool) or not isinstance(self.t, int | float) or not math.isfinite(self.t):
            raise ValueError(f"frame time must be a finite number of seconds, got {self.t!r}")


@dataclass(frozen=True)
class CueJudgement:
    """Whether the cue was seen performed in the frames of ``[shown_at, shown_at + window]``.

    An aid for the officer, not a verdict. ``signals`` has one :class:`Signal` per condition checked,
    named by its failure code (``face_check.FAILED_TEXT`` has Thai and English lines for each): a
    signal *fires* when that condition did **not** hold, with the measured value, the threshold and a
    sentence. ``failed`` lists the fired codes in order; ``performed`` is true only when none fired.
    Checks that could not run (e.g. after ``too_few_frames``) are left out, never passed.
    ``frames_in_window`` counts the frames inside the window, ``frames_ignored`` those outside it,
    ``frames_used`` those analysed (the window's frames, evenly thinned to at most ``MAX_CUE_FRAMES``).
    """

    cue: Cue
    performed: bool
    signals: tuple[Signal, ...]
    failed: tuple[str, ...]
    frames_used: int
    frames_in_window: int
    frames_ignored: int
    shown_at: float
    window: float
    models: tuple[ModelInfo, ...]

    def signal(self, name: str) -> Signal | None:
        """The signal called ``name`` (a failure code), or None if that check did not run."""
        return next((s for s in self.signals if s.name == name), None)
