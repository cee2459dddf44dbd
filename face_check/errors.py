"""Typed refusals raised by face_check.

Every refusal carries a machine-readable ``reason`` (a ``StrEnum`` member, so it can be logged,
compared and shown to an officer without parsing messages) and a human-readable ``detail``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FaceCheckError", "ImageRejected", "QualityError", "QualityReason", "RejectReason"]


class RejectReason(StrEnum):
    """Why an input could not be turned into an image (see :func:`face_check.load_image`)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"  # more bytes than max_bytes
    TOO_MANY_PIXELS = "too_many_pixels"  # declared or decoded dimensions exceed max_pixels
    UNSUPPORTED_FORMAT = "unsupported_format"  # not JPEG, PNG or still WebP by content
    TRUNCATED = "truncated"  # the container ends before its own end marker
    CORRUPT = "corrupt"  # the header or the data could not be parsed or decoded
    TOO_MANY_SCANS = "too_many_scans"  # a JPEG with more scans (SOS markers) than any encoder writes
    TOO_MANY_SEGMENTS = "too_many_segments"  # more JPEG marker segments, PNG or WebP chunks than a photo has
    DECOMPRESSION_BOMB = "decompression_bomb"  # PNG image data inflates beyond what its header implies
    BAD_ARRAY = "bad_array"  # an in-memory frame of the wrong shape or type


class QualityReason(StrEnum):
    """Why a face (or a set of frames) is not usable for comparison or liveness signals."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    BLURRED = "blurred"
    TOO_DARK = "too_dark"
    OVEREXPOSED = "overexposed"
    TURNED = "turned"
    FACE_NOT_UPRIGHT = "face_not_upright"  # no usable face upright, but one in the picture turned 90/180/270
    TOO_FEW_FRAMES = "too_few_frames"


class FaceCheckError(Exception):
    """Base of every refusal raised by face_check; ``reason`` is stable, ``detail`` is for people."""

    reason: StrEnum

    def __init__(self, reason: StrEnum, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class ImageRejected(FaceCheckError):
    """The bytes (or array) are not an acceptable image. ``reason`` is a :class:`RejectReason`."""

    reason: RejectReason

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(reason, detail)


class QualityError(FaceCheckError):
    """No single usable face.

    ``reason`` is the first (most decisive) :class:`QualityReason`; ``reasons`` lists every problem
    found; ``side`` is ``"reference"`` or ``"probe"`` when raised by :func:`face_check.compare`, so
    the caller can tell the officer which picture to retake.
    """

    reason: QualityReason

    def __init__(
        self,
        reason: QualityReason,
        detail: str = "",
        *,
        reasons: tuple[QualityReason, ...] = (),
        side: str | None = None,
    ) -> None:
        self.reasons = reasons or (reason,)
        self.side = side
        prefix = f"{side}: " if side else ""
        super().__init__(reason, prefix + detail)
