"""Hostile and ordinary inputs to load_image / image_from_rgb. Needs no photos: every input is made
here, so these run (and must pass) on any machine."""

from __future__ import annotations

import struct
import time
import zlib

import cv2
import numpy as np
import pytest

import face_check
from face_check import ImageRejected, RejectReason

QUICK = 0.5  # seconds; a refusal must not cost a decode


def encoded(ext: str, w: int = 320, h: int = 240, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    pixels = cv2.GaussianBlur(pixels, (0, 0), 3)  # photo-like, so the codecs work normally
    ok, buf = cv2.imencode(ext, pixels)
    assert ok
    return buf.tobytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG (valid CRCs) whose IHDR declares width x height, with one tiny IDAT:
    the classic decompression bomb shape, without needing gigabytes to build."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def rejected(data: bytes, reason: RejectReason, **limits) -> ImageRejected:
    start = time.perf_counter()
    with pytest.raises(ImageRejected) as info:
        face_check.load_image(data, **limits)
    elapsed = time.perf_counter() - start
    assert info.value.reason is reason, info.value
    assert elapsed < QUICK, f"refusal took {elapsed:.2f}s"
    return info.value


def test_empty_bytes_are_rejected():
    rejected(b"", RejectReason.EMPTY)


def test_truncated_jpeg_is_rejected():
    data = encoded(".jpg")
    rejected(data[: len(data) * 6 // 10], RejectReason.TRUNCATED)


def test_jpeg_cut_inside_its_header_is_rejected():
    rejected(encoded(".jpg")[:40], RejectReason.TRUNCATED)


def test_png_declaring_50000_by_50000_pixels_is_refused_before_decoding():
    err = rejected(png_declaring(50_000, 50_000), RejectReason.TOO_MANY_PIXELS)
    assert "50000x50000" in err.detail


def test_text_file_named_jpg_is_rejected(tmp_path):
    path = tmp_path / "passport.jpg"
    path.write_text("this is not a picture, whatever the name says\n")
    rejected(path.read_bytes(), RejectReason.UNSUPPORTED_FORMAT)


def test_20_mb_file_is_rejected_without_reading_it_as_an_image():
    data = b"\xff\xd8\xff\xe0" + bytes(20 * 1024 * 1024)
    rejected(data, RejectReason.TOO_LARGE)
    assert face_check.DEFAULT_MAX_BYTES < len(data)


def test_jpeg_declaring_huge_frame_is_refused_before_decoding():
    data = bytearray(encoded(".jpg", 64, 48))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65_000, 65_000)
    rejected(bytes(data), RejectReason.TOO_MANY_PIXELS)


def test_webp_declaring_huge_canvas_is_refused_before_decoding():
    body = bytes([0, 0, 0, 0]) + (16383).to_bytes(3, "little") + (16383).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    data = b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk + bytes(16)
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    rejected(data, RejectReason.TOO_MANY_PIXELS)


def test_pixel_limit_is_the_callers_choice():
    data = encoded(".png", 320, 240)
    rejected(data, RejectReason.TOO_MANY_PIXELS, max_pixels=320 * 240 - 1)
    assert face_check.load_image(data, max_pixels=320 * 240).width == 320


@pytest.mark.parametrize("ext", [".png", ".webp"])
def test_truncated_png_and_webp_are_rejected(ext):
    data = encoded(ext)
    rejected(data[: len(data) // 2], RejectReason.TRUNCATED)


@pytest.mark.parametrize("ext", [".gif", ".bmp", ".tiff"])
def test_other_formats_are_unsupported(ext):
    if ext == ".gif":
        data = b"GIF89a" + bytes(64)
    else:
        ok, buf = cv2.imencode(ext, np.zeros((8, 8, 3), np.uint8))
        assert ok
        data = buf.tobytes()
    rejected(data, RejectReason.UNSUPPORTED_FORMAT)


def test_garbage_after_a_valid_jpeg_header_is_rejected_not_crashing():
    data = bytearray(encoded(".jpg"))
    sos = data.find(b"\xff\xda")
    data[sos + 20 : -2] = bytes(len(data) - sos - 22)  # wipe the entropy-coded data
    with pytest.raises(ImageRejected):
        face_check.load_image(bytes(data)[: sos + 10])


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_random_corruption_gives_an_image_or_a_typed_refusal(ext):
    clean = encoded(ext, 96, 64, seed=1)
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(150):
        data = bytearray(clean)
        for pos in rng.integers(0, len(data), size=rng.integers(1, 8)):
            data[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            image = face_check.load_image(bytes(data))
        except ImageRejected as exc:
            outcomes.add(exc.reason)
        else:
            assert image.pixels.shape == (image.height, image.width, 3)
            outcomes.add("decoded")
    assert outcomes  # every mutation ended in one of the two allowed ways


@pytest.mark.parametrize("ext,fmt", [(".jpg", "jpeg"), (".png", "png"), (".webp", "webp")])
def test_accepted_formats_decode_to_read_only_rgb(ext, fmt):
    pixels = np.zeros((48, 64, 3), np.uint8)
    pixels[:, :, 2] = 255  # pure red in OpenCV's BGR order
    ok, buf = cv2.imencode(ext, pixels, [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else [])
    assert ok
    image = face_check.load_image(buf.tobytes())
    assert (image.width, image.height, image.source_format) == (64, 48, fmt)
    r, g, b = image.pixels[24, 32]
    assert r > 200 and g < 50 and b < 50, "pixels must be RGB, not OpenCV's BGR"
    assert "opencv" in image.decoder
    with pytest.raises(ValueError):
        image.pixels[0, 0, 0] = 1


def test_format_is_sniffed_from_content_not_name():
    image = face_check.load_image(encoded(".png"))
    assert image.source_format == "png"


def test_non_bytes_argument_is_a_programming_error():
    with pytest.raises(TypeError):
        face_check.load_image("photo.jpg")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_image_from_rgb_rejects_wrong_arrays(array):
    with pytest.raises(ImageRejected) as info:
        face_check.image_from_rgb(array)
    assert info.value.reason is RejectReason.BAD_ARRAY


def test_image_from_rgb_copies_the_callers_array():
    array = np.zeros((20, 30, 3), np.uint8)
    image = face_check.image_from_rgb(array)
    array[:] = 255
    assert image.pixels.max() == 0
    assert (image.width, image.height, image.source_format) == (30, 20, "array")
