"""Accuracy on the real shared photos with the real model: every genuine pair matches, every
impostor pair does not, and the two-face photo is refused. These are the only face_check tests
that skip, and only when ../shared/data/faces is missing (CI always has it)."""

from __future__ import annotations

import itertools

import pytest
from face_helpers import FACES_DIR, MISSING

import face_check
from face_check import QualityError, QualityReason

pytestmark = pytest.mark.skipif(not FACES_DIR.is_dir(), reason=MISSING)

MULTI = "multi_obama_biden.jpg"


def identity(name: str) -> str:
    return name.rsplit("_", 1)[0]  # SOURCES.md: the label is the file name before the last _N


@pytest.fixture(scope="module")
def embeddings() -> dict[str, face_check.Embedding]:
    names = sorted(p.name for p in FACES_DIR.iterdir() if p.suffix in {".jpg", ".png"} and p.name != MULTI)
    assert len(names) >= 10
    return {n: face_check.embed(face_check.load_image((FACES_DIR / n).read_bytes())) for n in names}


def pairs(embeddings, genuine: bool):
    return [(a, b) for a, b in itertools.combinations(sorted(embeddings), 2) if (identity(a) == identity(b)) == genuine]


def test_every_genuine_pair_matches(embeddings):
    genuine = pairs(embeddings, True)
    assert len(genuine) == 14
    for a, b in genuine:
        match = face_check.compare(reference=embeddings[a], probe=embeddings[b])
        assert match.same_person, f"{a} vs {b}: distance {match.distance:.3f}"
        assert match.threshold == face_check.MATCH_THRESHOLD


def test_no_impostor_pair_matches(embeddings):
    impostor = pairs(embeddings, False)
    assert len(impostor) == 91
    for a, b in impostor:
        match = face_check.compare(reference=embeddings[a], probe=embeddings[b])
        assert not match.same_person, f"{a} vs {b}: distance {match.distance:.3f}"


def test_compare_from_images_agrees_with_cached_embeddings(embeddings):
    ref = face_check.load_image((FACES_DIR / "obama_1.jpg").read_bytes())
    probe = face_check.load_image((FACES_DIR / "obama_2.jpg").read_bytes())
    direct = face_check.compare(reference=ref, probe=probe)
    cached = face_check.compare(reference=embeddings["obama_1.jpg"], probe=probe)
    assert direct.distance == pytest.approx(cached.distance, abs=1e-6)
    assert direct.same_person and cached.same_person
    assert direct.reference_face.box.width > 0 and direct.probe_face.quality.ok


def test_two_face_photo_is_refused_with_a_reason(embeddings):
    two = face_check.load_image((FACES_DIR / MULTI).read_bytes())
    assert len(face_check.detect(two)) >= 2
    with pytest.raises(QualityError) as info:
        face_check.compare(reference=embeddings["obama_1.jpg"], probe=two)
    assert info.value.reason is QualityReason.MULTIPLE_FACES
    assert info.value.side == "probe"
    with pytest.raises(QualityError) as info:
        face_check.compare(reference=two, probe=embeddings["biden_1.jpg"])
    assert info.value.side == "reference"


def test_results_record_model_names_and_versions(embeddings):
    match = face_check.compare(reference=embeddings["biden_1.jpg"], probe=embeddings["biden_2.jpg"])
    model = match.model
    assert model.embedding == "dlib_face_recognition_resnet_model_v1"
    assert model.landmarks == "shape_predictor_68_face_landmarks"
    assert "HOG" in model.detector
    assert model.dlib_version and model.opencv_version
    assert model.models_package.startswith("face-recognition-models 0.3")
    assert all(len(digest) == 16 for _, digest in model.weights_sha256)
    assert "dlib" in model.name


def test_concurrent_compares_equal_serial_ones(embeddings):
    from concurrent.futures import ThreadPoolExecutor

    names = ["obama_1.jpg", "obama_3.jpg", "biden_2.jpg", "rose_leslie_2.jpg"]
    images = [face_check.load_image((FACES_DIR / n).read_bytes()) for n in names]
    ref = embeddings["obama_2.jpg"]
    serial = [face_check.compare(reference=ref, probe=img).distance for img in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda img: face_check.compare(reference=ref, probe=img).distance, images))
    assert threaded == serial
