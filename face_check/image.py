"""Turning untrusted bytes into an :class:`Image`, refusing anything hostile with ``ImageRejected``.

Order of checks (each cheaper than the next, so hostile input is refused before it costs much):
1. size in bytes against ``max_bytes``;
2. format by magic bytes (JPEG, PNG, WebP), never by file name or claimed MIME type;
3. declared dimensions parsed from the container header (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X)
   against ``max_pixels`` *before* any decoding, which is what stops decompression bombs;
4. an end-of-data check (JPEG EOI after the first scan, PNG IEND, WebP RIFF length), because
   libjpeg happily returns a grey-padded picture for a truncated file;
5. decoding with OpenCV inside a ``try``; a ``None`` result or ``cv2.error`` becomes ``corrupt``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from face_check import _runtime
from face_check.errors import ImageRejected, RejectReason
from face_check.results import Image

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "declared_size", "image_from_rgb", "load_image"]

# 10 MiB covers a full-resolution phone JPEG; ID-card photos are tens of kilobytes.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# 25 megapixels is a 6000x4000 camera frame; decoding it needs 75 MB for the RGB array, which is
# the most one request should be allowed to make this process allocate.
DEFAULT_MAX_PIXELS = 25_000_000

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM have no length field


def _sniff(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "content is not JPEG, PNG or WebP")


def _png_size(data: bytes) -> tuple[int, int]:
    # The PNG spec requires IHDR to be the first chunk: length 13, then width and height (big-endian).
    if len(data) < 33:
        raise ImageRejected(RejectReason.TRUNCATED, "PNG shorter than its header")
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ImageRejected(RejectReason.CORRUPT, "PNG does not start with an IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    if data.rfind(b"IEND", 33) < 0:
        raise ImageRejected(RejectReason.TRUNCATED, "PNG has no IEND chunk")
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments up to the first SOFn; refuse if the file ends before its EOI."""
    pos = 2
    size: tuple[int, int] | None = None
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise ImageRejected(RejectReason.CORRUPT, f"JPEG marker expected at byte {pos}")
        while pos < n and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:  # EOI before any scan
            break
        if pos + 2 > n:
            break
        (seg_len,) = struct.unpack(">H", data[pos : pos + 2])
        if seg_len < 2:
            raise ImageRejected(RejectReason.CORRUPT, "JPEG segment length below 2")
        if marker in _JPEG_SOF:
            if pos + 7 > n:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows, the header is over
            if size is None:
                raise ImageRejected(RejectReason.CORRUPT, "JPEG scan before any frame header")
            # In entropy-coded data every 0xFF is stuffed or an RSTn marker, so FF D9 after the first
            # scan can only be the real end-of-image marker; without it the file was cut short.
            if data.find(b"\xff\xd9", pos + seg_len) < 0:
                raise ImageRejected(RejectReason.TRUNCATED, "JPEG has no end-of-image marker")
            return size
        pos += seg_len
    raise ImageRejected(RejectReason.TRUNCATED, "JPEG ends before its first scan")


def _webp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise ImageRejected(RejectReason.TRUNCATED, "WebP shorter than its header")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if len(data) < 8 + riff_size:
        raise ImageRejected(RejectReason.TRUNCATED, "WebP shorter than its RIFF length")
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8 ":
        # Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if body[3:6] != b"\x9d\x01\x2a":
            raise ImageRejected(RejectReason.CORRUPT, "WebP VP8 start code missing")
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        # Lossless: signature 0x2F, then 14-bit (width - 1) and 14-bit (height - 1), little-endian.
        if body[0] != 0x2F:
            raise ImageRejected(RejectReason.CORRUPT, "WebP VP8L signature missing")
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        # Extended: flags byte (bit 1 = animation), 3 reserved, 24-bit (width-1), 24-bit (height-1).
        if body[0] & 0x02:
            raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "animated WebP is not a photo")
        w = int.from_bytes(body[4:7], "little") + 1
        h = int.from_bytes(body[7:10], "little") + 1
        return w, h
    raise ImageRejected(RejectReason.CORRUPT, "WebP has no VP8, VP8L or VP8X chunk")


def declared_size(data: bytes) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` read from the header alone, without decoding pixels.

    Raises :class:`ImageRejected` for an unknown format, a malformed or truncated container.
    """
    fmt = _sniff(data)
    width, height = {"jpeg": _jpeg_size, "png": _png_size, "webp": _webp_size}[fmt](data)
    if width <= 0 or height <= 0:
        raise ImageRejected(RejectReason.CORRUPT, f"{fmt} header declares {width}x{height} pixels")
    return fmt, width, height


def load_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image:
    """Decode untrusted ``data`` (JPEG, PNG or still WebP) into an RGB :class:`Image`.

    Raises :class:`ImageRejected` (never anything else for bad bytes) when the data is empty, longer
    than ``max_bytes``, not one of the three formats by content, declares more than ``max_pixels``
    pixels, is truncated, or does not decode. EXIF orientation is applied by the decoder, so phone
    pictures come out upright. ``TypeError`` only for a non-bytes argument (a programming error).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"load_image needs bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "no bytes")
    if len(data) > max_bytes:
        raise ImageRejected(RejectReason.TOO_LARGE, f"{len(data)} bytes, limit {max_bytes}")
    fmt, width, height = declared_size(data)
    if width * height > max_pixels:
        raise ImageRejected(
            RejectReason.TOO_MANY_PIXELS,
            f"header declares {width}x{height} = {width * height} pixels, limit {max_pixels}",
        )
    cv2, np = _runtime.cv2_numpy()
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV raises for some malformed streams instead of returning None
        raise ImageRejected(RejectReason.CORRUPT, f"decoder error: {exc}") from None
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ImageRejected(RejectReason.CORRUPT, f"{fmt} data did not decode")
    h, w = bgr.shape[:2]
    # EXIF orientation may swap the axes; anything else means the header lied about the size.
    if {w, h} != {width, height}:
        raise ImageRejected(RejectReason.CORRUPT, f"header says {width}x{height}, decoded {w}x{h}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return _freeze(rgb, fmt, _runtime.decoder_name())


def image_from_rgb(pixels: np.ndarray, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Wrap an in-memory H x W x 3 uint8 RGB frame (e.g. decoded from a video call) as an Image.

    The array is copied, so later changes by the caller do not leak into results. Raises
    :class:`ImageRejected` (``bad_array`` / ``too_many_pixels``) for anything else.
    """
    _, np = _runtime.cv2_numpy()
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ImageRejected(RejectReason.BAD_ARRAY, f"need HxWx3 uint8 RGB, got {arr.shape} {arr.dtype}")
    if arr.shape[0] * arr.shape[1] > max_pixels:
        raise ImageRejected(RejectReason.TOO_MANY_PIXELS, f"{arr.shape[1]}x{arr.shape[0]} pixels")
    return _freeze(np.array(arr, copy=True, order="C"), "array", "numpy")


def _freeze(rgb: np.ndarray, fmt: str, decoder: str) -> Image:
    rgb.flags.writeable = False  # an Image is frozen; this makes accidental in-place edits fail loudly
    return Image(pixels=rgb, width=int(rgb.shape[1]), height=int(rgb.shape[0]), source_format=fmt, decoder=decoder)
