"""Hostile files that are valid and within the byte and pixel limits but cost a core to decode, the
container walkers that refuse them, the time-boxed upsampled detection pass, and the reason given
for a photo that is not upright.

Every hostile file is made here (OpenCV, zlib and hand-written segments), so the image tests need
no photos; the rotation tests need ../shared/data/faces and fail without it. Nothing here asserts a
time: bench/face_bench.py measures time to refusal before and after.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import cv2
import numpy as np
import pytest
from face_helpers import load, photo_path, portrait_frame

import face_check
from face_check import ImageRejected, QualityError, QualityReason, RejectReason, _runtime, detection, image

# ---------------------------------------------------------------- makers


def photo_like(w: int, h: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels > 1 else (h, w)
    return cv2.GaussianBlur(rng.integers(0, 256, size=shape, dtype=np.uint8), (0, 0), 2)


def jpeg(pixels: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", pixels, list(params))
    assert ok
    return buf.tobytes()


def progressive(pixels: np.ndarray) -> bytes:
    return jpeg(pixels, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)


def with_scans(total: int, side: int = 128) -> bytes:
    """A valid progressive JPEG of a flat grey square with ``total`` scans: libjpeg's own 6-scan
    script, then its last scan (an AC refinement of 12 bytes) repeated. libjpeg-turbo only warns
    about the repeated progression and runs every scan over the whole frame."""
    data = progressive(np.full((side, side), 128, np.uint8))
    assert data.endswith(b"\xff\xd9")
    scans = data.count(b"\xff\xda")  # 0xFF in entropy-coded data is stuffed, so these are all SOS
    last = data[data.rfind(b"\xff\xda") : -2]
    return data[:-2] + last * (total - scans) + b"\xff\xd9"


def with_comments(count: int) -> bytes:
    """A baseline JPEG with ``count`` empty COM segments after SOI."""
    data = jpeg(photo_like(64, 48))
    return data[:2] + b"\xff\xfe\x00\x02" * count + data[2:]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def scanlines(pixels: np.ndarray, *, interlace: bool = False) -> bytes:
    """PNG filtered scanlines (filter type 0) of an 8- or 16-bit array, Adam7 passes if asked."""
    out = bytearray()
    for x0, y0, dx, dy in ADAM7 if interlace else ((0, 0, 1, 1),):
        sub = pixels[y0::dy, x0::dx]
        if sub.size == 0:
            continue  # PNG spec 8.2: an empty pass has no rows, not even filter bytes
        for row in sub:
            out += b"\x00" + row.astype(">u2" if pixels.dtype == np.uint16 else np.uint8).tobytes()
    return bytes(out)


def png(
    width: int,
    height: int,
    raw: bytes,
    *,
    colour: int = 2,
    depth: int = 8,
    interlace: bool = False,
    idat_size: int = 0,
    before_idat: tuple[bytes, ...] = (),
) -> bytes:
    """A PNG with valid CRCs whose image data is ``raw`` (filtered scanlines), deflated, split into
    IDAT chunks of ``idat_size`` bytes (one chunk if 0)."""
    z = zlib.compress(raw, 9)
    step = idat_size or len(z)
    idats = b"".join(png_chunk(b"IDAT", z[i : i + step]) for i in range(0, len(z), step))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, int(interlace))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(before_idat) + idats + png_chunk(b"IEND", b"")


def png_bomb(inflated: int, *, width: int = 100, height: int = 100, idat_size: int = 0) -> bytes:
    """A PNG declaring width x height RGB whose IDAT stream inflates to ``inflated`` zero bytes."""
    co = zlib.compressobj(9)
    z = b"".join(co.compress(bytes(1 << 20)) for _ in range(inflated >> 20)) + co.flush()
    step = idat_size or len(z)
    idats = b"".join(png_chunk(b"IDAT", z[i : i + step]) for i in range(0, len(z), step))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + idats + png_chunk(b"IEND", b"")


def refused(data: bytes, reason: RejectReason, **limits) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        face_check.load_image(data, **limits)
    assert info.value.reason is reason, info.value
    return info.value


# ---------------------------------------------------------------- JPEG scans and segments


def test_progressive_jpeg_with_a_thousand_scans_is_refused_before_decoding():
    data = with_scans(1000)
    assert len(data) < 20_000  # tiny, well inside every byte and pixel limit
    err = refused(data, RejectReason.TOO_MANY_SCANS)
    assert str(image.MAX_JPEG_SCANS) in err.detail


def test_scan_limit_is_exact():
    ok = face_check.load_image(with_scans(image.MAX_JPEG_SCANS))
    assert (ok.width, ok.height) == (128, 128)
    refused(with_scans(image.MAX_JPEG_SCANS + 1), RejectReason.TOO_MANY_SCANS)


def test_jpeg_with_hundreds_of_header_segments_is_refused():
    refused(with_comments(image.MAX_JPEG_SEGMENTS), RejectReason.TOO_MANY_SEGMENTS)
    assert face_check.load_image(with_comments(image.MAX_JPEG_SEGMENTS // 2)).width == 64


def test_normal_baseline_progressive_and_restart_jpegs_still_load():
    pixels = photo_like(160, 120)
    baseline = face_check.load_image(jpeg(pixels, cv2.IMWRITE_JPEG_QUALITY, 95))
    prog = face_check.load_image(progressive(pixels))
    rst = face_check.load_image(jpeg(pixels, cv2.IMWRITE_JPEG_RST_INTERVAL, 2))
    grey = face_check.load_image(progressive(pixels[:, :, 0]))
    for img in (baseline, prog, rst, grey):
        assert (img.width, img.height, img.source_format) == (160, 120, "jpeg")
    rgb = pixels[:, :, ::-1].astype(int)
    for img in (baseline, prog, rst):
        assert np.abs(img.pixels.astype(int) - rgb).mean() < 4  # the same picture, up to JPEG loss


def test_jpeg_fill_bytes_before_markers_are_accepted():
    data = jpeg(photo_like(64, 48))
    sof = data.find(b"\xff\xc0")
    padded = data[:sof] + b"\xff" * 5 + data[sof:]  # T.81 B.1.1.2: any marker may be preceded by fill
    assert face_check.load_image(padded).width == 64


# ---------------------------------------------------------------- PNG bombs and chunks


def test_png_bomb_is_refused_before_decoding():
    data = png_bomb(64 << 20)  # header says 100x100 (30,100 bytes of rows); the data inflates to 64 MiB
    assert len(data) < 100_000
    err = refused(data, RejectReason.DECOMPRESSION_BOMB)
    assert "100x100" in err.detail


def test_png_bomb_split_over_many_idat_chunks_is_refused():
    refused(png_bomb(8 << 20, idat_size=1024), RejectReason.DECOMPRESSION_BOMB)


def test_png_data_within_the_slack_still_loads_and_beyond_it_is_refused():
    pixels = photo_like(40, 30)
    raw = scanlines(pixels)
    assert face_check.load_image(png(40, 30, raw + bytes(100))).width == 40
    refused(png(40, 30, raw + bytes(image.PNG_INFLATE_SLACK + 1)), RejectReason.DECOMPRESSION_BOMB)


def test_png_data_shorter_than_its_header_implies_is_corrupt():
    raw = scanlines(photo_like(40, 30))
    refused(png(40, 30, raw[:-1]), RejectReason.CORRUPT)


def test_png_with_too_many_chunks_is_refused():
    raw = scanlines(photo_like(40, 30))
    text = png_chunk(b"tEXt", b"k\x00v")
    refused(png(40, 30, raw, before_idat=(text,) * image.MAX_PNG_CHUNKS), RejectReason.TOO_MANY_SEGMENTS)


def test_png_with_a_bad_idat_crc_is_corrupt():
    data = bytearray(png(40, 30, scanlines(photo_like(40, 30))))
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF
    refused(bytes(data), RejectReason.CORRUPT)


def deflated_zeros(size: int) -> bytes:
    co = zlib.compressobj(9)
    whole = b"".join(co.compress(bytes(1 << 20)) for _ in range(size >> 20))
    return whole + co.compress(bytes(size % (1 << 20))) + co.flush()


@pytest.mark.parametrize(
    "chunk_of",
    [
        lambda z: png_chunk(b"zTXt", b"Comment\x00\x00" + z),
        lambda z: png_chunk(b"iTXt", b"Comment\x00\x01\x00th\x00Kommentar\x00" + z),
        lambda z: png_chunk(b"iCCP", b"icc\x00\x00" + z),
    ],
    ids=["zTXt", "iTXt", "iCCP"],
)
def test_png_metadata_bombs_are_refused_before_decoding(chunk_of):
    # libpng inflates every zTXt, compressed iTXt and iCCP while decoding (each up to 8 MB, up to 1,000
    # text chunks): 1,000 zTXt chunks of deflated zeros, 7.8 MB, took 16 s to decode and were accepted.
    raw = scanlines(photo_like(40, 30))
    one = refused(png(40, 30, raw, before_idat=(chunk_of(deflated_zeros(64 << 20)),)), RejectReason.DECOMPRESSION_BOMB)
    assert "metadata" in one.detail
    many = (chunk_of(deflated_zeros(1 << 20)),) * 8  # each honest-sized, too much together
    refused(png(40, 30, raw, before_idat=many), RejectReason.DECOMPRESSION_BOMB)


def test_png_metadata_within_the_limit_still_loads():
    raw = scanlines(photo_like(40, 30))
    profile = png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(3000)))  # not a real profile: libpng warns
    text = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"made by a test " * 1000))
    plain = png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + b"<x/>" * 200_000)  # not compressed
    broken = png_chunk(b"zTXt", b"Comment\x00\x00not deflate")  # libpng drops it
    budget = png_chunk(b"zTXt", b"Comment\x00\x00" + deflated_zeros(image.PNG_METADATA_INFLATE_LIMIT - 20_000))
    img = face_check.load_image(png(40, 30, raw, before_idat=(profile, text, plain, broken, budget)))
    assert (img.width, img.height) == (40, 30)


def test_animated_png_is_unsupported():
    actl = png_chunk(b"acTL", struct.pack(">II", 2, 0))
    refused(png(40, 30, scanlines(photo_like(40, 30)), before_idat=(actl,)), RejectReason.UNSUPPORTED_FORMAT)


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("w,h", [(1, 1), (3, 5), (9, 7), (33, 17), (64, 48)])
def test_normal_png_plain_and_interlaced_decodes_exactly(w, h, interlace):
    pixels = photo_like(w, h, seed=w * h)
    img = face_check.load_image(png(w, h, scanlines(pixels, interlace=interlace), interlace=interlace))
    assert np.array_equal(img.pixels, pixels)  # PNG is lossless and these are RGB already


@pytest.mark.parametrize(
    "colour,depth,channels",
    [(0, 8, 1), (0, 16, 1), (2, 16, 3), (4, 8, 2), (6, 8, 4), (6, 16, 4)],
)
@pytest.mark.parametrize("interlace", [False, True])
def test_png_sizes_for_other_colour_types_and_depths(colour, depth, channels, interlace):
    pixels = photo_like(13, 11, channels=channels)
    if depth == 16:
        pixels = pixels.astype(np.uint16) * 257
    raw = scanlines(pixels, interlace=interlace)
    img = face_check.load_image(png(13, 11, raw, colour=colour, depth=depth, interlace=interlace))
    assert (img.width, img.height) == (13, 11)
    refused(png(13, 11, raw[:-1], colour=colour, depth=depth, interlace=interlace), RejectReason.CORRUPT)


def test_low_bit_depth_and_palette_pngs_load():
    # 1-bit grey, 8x3: one byte of samples per row; 2-bit palette of 4 colours, 5x2: two bytes a row.
    grey1 = png(8, 3, b"\x00\xaa" * 3, colour=0, depth=1)
    assert face_check.load_image(grey1).width == 8
    plte = png_chunk(b"PLTE", bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]))
    pal2 = png(5, 2, b"\x00\x1b\x00" * 2, colour=3, depth=2, before_idat=(plte,))
    assert face_check.load_image(pal2).height == 2


def test_normal_pngs_from_opencv_still_load():
    pixels = photo_like(200, 150)
    for level in (0, 9):
        ok, buf = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, level])
        assert ok
        assert np.array_equal(face_check.load_image(buf.tobytes()).pixels, pixels[:, :, ::-1])


# ---------------------------------------------------------------- WebP


def webp(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def vp8x(width: int, height: int, flags: int = 0) -> bytes:
    return riff_chunk(
        b"VP8X", bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )


def image_chunk_of(encoded: bytes) -> bytes:
    assert encoded[12:16] in (b"VP8 ", b"VP8L")
    return encoded[12:]


def test_normal_webp_lossy_lossless_and_extended_load():
    pixels = photo_like(96, 64)
    lossy = cv2.imencode(".webp", pixels, [cv2.IMWRITE_WEBP_QUALITY, 80])[1].tobytes()
    lossless = cv2.imencode(".webp", pixels, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    extended = webp(vp8x(96, 64), riff_chunk(b"ICCP", b"not really a profile"), image_chunk_of(lossy))
    for data in (lossy, lossless, extended):
        img = face_check.load_image(data)
        assert (img.width, img.height, img.source_format) == (96, 64, "webp")


def test_webp_whose_canvas_hides_a_larger_bitstream_is_refused():
    # The VP8X canvas says 16x16; the VP8L bitstream is 96x64. max_pixels must judge the bitstream.
    big = image_chunk_of(cv2.imencode(".webp", photo_like(96, 64), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes())
    refused(webp(vp8x(16, 16), big), RejectReason.CORRUPT)


def test_webp_with_too_many_chunks_or_animation_is_refused():
    lossy = image_chunk_of(cv2.imencode(".webp", photo_like(32, 32))[1].tobytes())
    junk = riff_chunk(b"JUNK", b"")
    refused(webp(vp8x(32, 32), *(junk,) * image.MAX_WEBP_CHUNKS, lossy), RejectReason.TOO_MANY_SEGMENTS)
    refused(webp(vp8x(32, 32), riff_chunk(b"ANMF", bytes(16)), lossy), RejectReason.UNSUPPORTED_FORMAT)


# ---------------------------------------------------------------- the walkers on garbage

JPEG_GARBAGE = [
    b"\xff\xd8\xff",  # SOI and a lone fill byte
    b"\xff\xd8\xff\xc0",  # a marker without its length
    b"\xff\xd8\xff\xc0\x00",  # half a length
    b"\xff\xd8\xff\xc0\x00\x11\x08",  # a length past the end
    b"\xff\xd8\xff\xc0\x00\x01" + bytes(20) + b"\xff\xd9",  # a length below 2
    b"\xff\xd8\xff\xc0\x00\x05\x08\x00\x10\xff\xd9",  # a frame header too short to hold the size
    b"\xff\xd8" + b"\xff" * 5000,  # nothing but fill bytes
    b"\xff\xd8\xff\xda\x00\x02\x00\x00\xff\xd9",  # a scan before any frame
    b"\xff\xd8\xff\xd9",  # SOI, EOI: no frame, no scan
    b"\xff\xd8\xff\x00\x00\x02\xff\xd9",  # a stuffed zero outside entropy-coded data
    b"\xff\xd8\xff\xd8\x00\x02\xff\xd9",  # a second SOI
    b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(10),  # APP0 and nothing after it
    b"\xff\xd8\x00\x00\x00\x00",  # no marker where one must be
]


@pytest.mark.parametrize("data", JPEG_GARBAGE, ids=range(len(JPEG_GARBAGE)))
def test_jpeg_garbage_is_refused(data):
    with pytest.raises(ImageRejected):
        face_check.load_image(data)


def test_jpeg_whose_scan_never_ends_is_truncated():
    data = jpeg(photo_like(64, 48))
    refused(data[:-2], RejectReason.TRUNCATED)  # EOI cut off
    sos = data.find(b"\xff\xda")
    refused(data[: sos + 2] + b"\xff\x00" * 5000, RejectReason.TRUNCATED)


PNG_GARBAGE = [
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)),  # no IDAT, no IEND
    b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)) + png_chunk(b"IEND", b""),
    b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 3, 2, 0, 0, 0)) + png_chunk(b"IEND", b""),
    b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 2)) + png_chunk(b"IEND", b""),
    b"\x89PNG\r\n\x1a\n" + png_chunk(b"IDAT", b"") + png_chunk(b"IEND", b""),  # IDAT first
    b"\x89PNG\r\n\x1a\n" + b"\xff\xff\xff\xffIHDR" + bytes(40),  # length above 2^31 - 1
    b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIH\x00R" + bytes(30),  # chunk type not letters
    png(4, 4, b"\x00" * 3),  # inflates short
    png(4, 4, scanlines(photo_like(4, 4)))[:-12] + png_chunk(b"IDAT", b"\x00"),  # no IEND
]


@pytest.mark.parametrize("data", PNG_GARBAGE, ids=range(len(PNG_GARBAGE)))
def test_png_garbage_is_refused(data):
    with pytest.raises(ImageRejected):
        face_check.load_image(data)


def test_png_with_non_consecutive_idat_or_a_bad_deflate_stream_is_corrupt():
    raw = scanlines(photo_like(8, 8))
    z = zlib.compress(raw)
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    head, tail = b"\x89PNG\r\n\x1a\n" + ihdr, png_chunk(b"IEND", b"")
    split = head + png_chunk(b"IDAT", z[:10]) + png_chunk(b"tEXt", b"k\x00v") + png_chunk(b"IDAT", z[10:]) + tail
    refused(split, RejectReason.CORRUPT)
    refused(head + png_chunk(b"IDAT", b"\x78\x9c\xff\xff\xff") + tail, RejectReason.CORRUPT)


def mutations(clean: bytes, rng: np.random.Generator):
    """Truncations, byte flips, inserted markers and fill, duplicated and deleted ranges, and
    rewritten length fields: the shapes of damage a container walker has to survive."""
    n = len(clean)
    for _ in range(300):
        data = bytearray(clean)
        kind = int(rng.integers(0, 6))
        a, b = sorted(int(x) for x in rng.integers(0, n, size=2))
        if kind == 0:
            data = data[: int(rng.integers(1, n))]
        elif kind == 1:
            for pos in rng.integers(0, n, size=rng.integers(1, 6)):
                data[pos] = int(rng.integers(0, 256))
        elif kind == 2:
            data[a:a] = bytes([0xFF, int(rng.integers(0, 256))]) * int(rng.integers(1, 4))
        elif kind == 3:
            data[b:b] = clean[a:b][:4096]
        elif kind == 4:
            del data[a : min(b, a + 64)]
        else:  # a 2- or 4-byte field set to an extreme
            width = int(rng.choice([2, 4]))
            value = int(rng.choice([0, 1, 2, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF])) & ((1 << (8 * width)) - 1)
            if a + width <= len(data):
                data[a : a + width] = value.to_bytes(width, "big" if rng.random() < 0.5 else "little")
        yield bytes(data)


FUZZ_INPUTS = {
    "progressive_jpeg": lambda: progressive(photo_like(48, 32, seed=3)),
    "restart_jpeg": lambda: jpeg(photo_like(48, 32, seed=4), cv2.IMWRITE_JPEG_RST_INTERVAL, 1),
    "interlaced_png": lambda: png(21, 13, scanlines(photo_like(21, 13, seed=5), interlace=True), interlace=True),
    "chunked_png": lambda: png(21, 13, scanlines(photo_like(21, 13, seed=6)), idat_size=64),
    "lossy_webp": lambda: cv2.imencode(".webp", photo_like(48, 32, seed=7))[1].tobytes(),
    "extended_webp": lambda: webp(
        vp8x(48, 32),
        riff_chunk(b"EXIF", b"II*\x00"),
        image_chunk_of(cv2.imencode(".webp", photo_like(48, 32, seed=8), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()),
    ),
}


@pytest.mark.parametrize("name", sorted(FUZZ_INPUTS))
def test_mutated_containers_end_in_an_image_or_a_typed_refusal(name):
    rng = np.random.default_rng(sorted(FUZZ_INPUTS).index(name))
    outcomes: dict[str, int] = {}
    for data in mutations(FUZZ_INPUTS[name](), rng):
        try:
            img = face_check.load_image(data)
        except ImageRejected as exc:
            key = exc.reason.value
        else:  # any other exception fails the test
            assert img.pixels.shape == (img.height, img.width, 3)
            key = "decoded"
        outcomes[key] = outcomes.get(key, 0) + 1
    assert sum(outcomes.values()) == 300
    assert len(outcomes) > 1, outcomes  # the mutations did reach more than one outcome


# ---------------------------------------------------------------- detection: the time-boxed retry


class RecordingDetector:
    """Wraps dlib's detector to record the size and upsampling of every run."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.runs: list[tuple[int, int, int]] = []

    def run(self, pixels, upsample, threshold):
        self.runs.append((pixels.shape[1], pixels.shape[0], upsample))
        return self.inner.run(pixels, upsample, threshold)


@pytest.fixture()
def recorder(monkeypatch) -> RecordingDetector:
    models = _runtime.models()
    rec = RecordingDetector(models.detector)
    monkeypatch.setattr(_runtime, "_models", dataclasses.replace(models, detector=rec))
    return rec


def faceless(w: int, h: int) -> face_check.Image:
    return face_check.image_from_rgb(photo_like(w, h, seed=11))


def test_upsampled_pass_runs_in_full_on_a_vga_frame(recorder):
    assert face_check.detect(faceless(640, 480)) == []
    assert recorder.runs == [(640, 480, 0), (640, 480, 1)]


def test_upsampled_pass_is_capped_on_a_mid_sized_frame(recorder):
    assert face_check.detect(faceless(800, 600)) == []
    (w0, h0, up0), (w1, h1, up1) = recorder.runs
    assert (w0, h0, up0) == (800, 600, 0) and up1 == 1
    assert w1 * h1 <= detection.UPSAMPLE_MAX_PIXELS * 1.01 and w1 > 400  # shrunk, still a 1.6x gain


def test_upsampled_pass_is_skipped_where_it_could_find_nothing_new(recorder):
    assert face_check.detect(faceless(2560, 1920)) == []
    assert recorder.runs == [(1280, 960, 0)]


def test_a_small_face_in_a_vga_frame_is_still_found_by_the_retry():
    tiny = portrait_frame("obama_1.jpg", face_px=50)
    with pytest.raises(QualityError) as info:
        face_check.single_face(face_check.image_from_rgb(tiny))
    assert info.value.reason is QualityReason.FACE_TOO_SMALL


# ---------------------------------------------------------------- rotation


def rotated_jpeg(name: str, code: int) -> bytes:
    """The shared photo turned, re-encoded by OpenCV: a JPEG without EXIF, so nothing can undo it."""
    pixels = np.asarray(load(name).pixels)
    data = jpeg(cv2.rotate(pixels, code)[:, :, ::-1], cv2.IMWRITE_JPEG_QUALITY, 95)
    assert b"Exif" not in data[:64]
    return data


def not_upright(data: bytes) -> QualityError:
    img = face_check.load_image(data)
    with pytest.raises(QualityError) as info:
        face_check.single_face(img)
    assert info.value.reason is QualityReason.FACE_NOT_UPRIGHT, info.value
    assert info.value.reasons == (QualityReason.FACE_NOT_UPRIGHT,)
    return info.value


def test_photo_turned_90_degrees_is_refused_as_not_upright():
    # obama_3 turned 90 degrees used to be refused as face_too_small (a false small face).
    err = not_upright(rotated_jpeg("obama_3.jpg", cv2.ROTATE_90_CLOCKWISE))
    assert "upright" in err.detail and "270 degrees" in err.detail


@pytest.mark.parametrize("name", ["obama_1.jpg", "biden_2.jpg", "rose_leslie_1.jpg"])
@pytest.mark.parametrize("code", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180])
def test_turned_photos_are_refused_as_not_upright(name, code):
    not_upright(rotated_jpeg(name, code))


def test_upside_down_face_the_detector_finds_is_not_accepted():
    # dlib's HOG detector finds kit_harington_1 upside down and it passed every quality check.
    not_upright(rotated_jpeg("kit_harington_1.jpg", cv2.ROTATE_180))


def test_compare_names_the_side_that_is_not_upright():
    ref = face_check.embed(load("obama_1.jpg"))
    probe = face_check.load_image(rotated_jpeg("obama_2.jpg", cv2.ROTATE_90_COUNTERCLOCKWISE))
    with pytest.raises(QualityError) as info:
        face_check.compare(reference=ref, probe=probe)
    assert info.value.reason is QualityReason.FACE_NOT_UPRIGHT and info.value.side == "probe"


def test_shared_photos_still_load_upright_and_progressive_copies_match():
    for path in sorted(photo_path("obama_1.jpg").parent.iterdir()):
        if path.suffix not in {".jpg", ".png"} or path.name.startswith("multi_"):
            continue
        img = face_check.load_image(path.read_bytes())
        face = face_check.single_face(img)
        assert face.quality.ok, path.name
    original = load("obama_1.jpg")
    again = face_check.load_image(progressive(np.asarray(original.pixels)[:, :, ::-1]))
    assert face_check.compare(reference=original, probe=again).distance < 0.1
