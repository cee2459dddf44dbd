"""face_check: face detection, 1:1 verification and liveness signals for officer video proofing.

A leaf package: it imports nothing from idgw, policies or providers. Importing it is cheap: OpenCV,
dlib and numpy are imported on first use, and the dlib models load once per process.

Public API (keyword-only where more than one argument, frozen dataclass results, each recording
the models that produced it):

- ``load_image(data, *, max_bytes, max_pixels) -> Image`` / ``image_from_rgb(array) -> Image``
- ``detect(image) -> list[Face]`` and ``single_face(image) -> Face`` (raises ``QualityError``)
- ``embed(image) -> Embedding`` and ``compare(*, reference, probe) -> FaceMatch``
- ``liveness(frames, *, challenge) -> LivenessResult``
- ``judge_cue(frames, *, cue, shown_at, window, mirrored=False) -> CueJudgement`` over
  ``TimedFrame`` s, with ``FAILED_TEXT[code]["th" | "en"]`` for the officer console
"""

from face_check.cues import (
    CUE_IDENTITY_SAMPLES,
    FAILED_CODES,
    FAILED_TEXT,
    MAX_CUE_FRAMES,
    MAX_CUE_INPUT_FRAMES,
    MAX_CUE_WINDOW_S,
    MIN_CUE_FRAMES,
    REACTION_MIN_S,
    STILL_MAX_CHANGE,
    judge_cue,
)
from face_check.detection import (
    MAX_BRIGHTNESS,
    MAX_YAW_DEG,
    MIN_BRIGHTNESS,
    MIN_FACE_PX,
    MIN_SHARPNESS,
    detect,
    single_face,
)
from face_check.errors import FaceCheckError, ImageRejected, QualityError, QualityReason, RejectReason
from face_check.image import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, image_from_rgb, load_image
from face_check.matching import MATCH_THRESHOLD, OFFICER_THRESHOLD, compare, embed
from face_check.results import (
    Box,
    Challenge,
    Cue,
    CueJudgement,
    Embedding,
    Face,
    FaceMatch,
    Image,
    LivenessResult,
    ModelInfo,
    Pose,
    QualityReport,
    Signal,
    TimedFrame,
)
from face_check.signals import (
    BLINK_CLOSED_RATIO,
    MAX_FRAMES,
    NEAR_IDENTICAL_MAX_DIFF,
    TURN_MIN_DEG,
    liveness,
)

__all__ = [
    "BLINK_CLOSED_RATIO",
    "CUE_IDENTITY_SAMPLES",
    "FAILED_CODES",
    "FAILED_TEXT",
    "MAX_CUE_FRAMES",
    "MAX_CUE_INPUT_FRAMES",
    "MAX_CUE_WINDOW_S",
    "MIN_CUE_FRAMES",
    "REACTION_MIN_S",
    "STILL_MAX_CHANGE",
    "MAX_FRAMES",
    "NEAR_IDENTICAL_MAX_DIFF",
    "TURN_MIN_DEG",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MATCH_THRESHOLD",
    "MAX_BRIGHTNESS",
    "MAX_YAW_DEG",
    "MIN_BRIGHTNESS",
    "MIN_FACE_PX",
    "MIN_SHARPNESS",
    "OFFICER_THRESHOLD",
    "Box",
    "Challenge",
    "Cue",
    "CueJudgement",
    "Embedding",
    "Face",
    "FaceCheckError",
    "FaceMatch",
    "Image",
    "ImageRejected",
    "LivenessResult",
    "ModelInfo",
    "Pose",
    "QualityError",
    "QualityReason",
    "QualityReport",
    "RejectReason",
    "Signal",
    "TimedFrame",
    "compare",
    "detect",
    "embed",
    "image_from_rgb",
    "judge_cue",
    "liveness",
    "load_image",
    "single_face",
]
