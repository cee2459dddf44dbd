"""1:1 verification: 128-d dlib ResNet descriptors compared by Euclidean distance."""

from __future__ import annotations

import math
from typing import Any

from face_check import _runtime
from face_check.detection import single_face_with_shape
from face_check.errors import QualityError
from face_check.results import Embedding, FaceMatch, Image

__all__ = ["MATCH_THRESHOLD", "OFFICER_THRESHOLD", "compare", "embed"]

# Distance at or below which two faces are taken as the same person: dlib's published operating point
# for this model (99.38% on LFW). It is the default of compare() and the bar for identity continuity
# within one video call. The shared photos cannot judge it: 0.6 was chosen looking at them. On 70
# held-out photos of 20 people (docs/face_check.md, bench/face_bench.py --heldout) it gave FMR 5/2784
# (0.18%) and FNMR 1/142 (0.70%), and the genuine and impostor distances overlap (0.528-0.614).
MATCH_THRESHOLD = 0.6
# The bar for the officer console's "matches the reference photo" hint: on the same held-out set no
# impostor pair was within 0.5 (FMR 0/2784, which only bounds it below about 1:900) while 7 of 142
# genuine pairs (4.9%) were not. A wrongly missing hint makes the officer look harder; a wrong one
# could reassure them. Neither this nor 0.6 reaches the FMR 1:10,000 the proofing rules target, so
# the score assists and the officer decides.
OFFICER_THRESHOLD = 0.5

# dlib's default: the 150x150 aligned chip includes a 25% margin around the landmark-defined face.
_CHIP_PADDING = 0.25


def descriptor(pixels: Any, shape: Any) -> tuple[float, ...]:
    """Internal: the 128-d descriptor of the face whose landmarks are ``shape``."""
    models = _runtime.models()
    with models.encoder_lock:
        vec = models.encoder.compute_face_descriptor(pixels, shape, 0, _CHIP_PADDING)
    return tuple(float(v) for v in vec)


def _embed(image: Image, side: str | None) -> Embedding:
    try:
        face, shape = single_face_with_shape(image)
    except QualityError as exc:
        if side is None:
            raise
        raise QualityError(exc.reason, exc.detail, reasons=exc.reasons, side=side) from exc
    return Embedding(vector=descriptor(image.pixels, shape), face=face, model=face.model)


def embed(image: Image) -> Embedding:
    """Descriptor of the single usable face in ``image``; keep it to compare many probes cheaply.

    Raises :class:`QualityError` as :func:`face_check.single_face` does.
    """
    return _embed(image, None)


def distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Euclidean distance between two descriptors."""
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def compare(
    *,
    reference: Image | Embedding,
    probe: Image | Embedding,
    threshold: float = MATCH_THRESHOLD,
) -> FaceMatch:
    """Compare the one face in ``reference`` (e.g. the ID photo) with the one face in ``probe``.

    Either side may be an :class:`Image` or a cached :class:`Embedding` from :func:`embed`.
    Refuses with :class:`QualityError` (``error.side`` is ``"reference"`` or ``"probe"``) unless
    each side shows exactly one usable face. ``same_person`` is ``distance <= threshold``.
    """
    ref = reference if isinstance(reference, Embedding) else _embed(_image(reference), "reference")
    prb = probe if isinstance(probe, Embedding) else _embed(_image(probe), "probe")
    if ref.model.embedding != prb.model.embedding:
        raise ValueError("descriptors from different models cannot be compared")
    dist = distance(ref.vector, prb.vector)
    return FaceMatch(
        distance=round(dist, 6),
        threshold=threshold,
        same_person=dist <= threshold,
        model=prb.model,
        reference_face=ref.face,
        probe_face=prb.face,
    )


def _image(value: object) -> Image:
    if not isinstance(value, Image):
        raise TypeError(f"expected face_check.Image or Embedding, got {type(value).__name__}")
    return value
