"""Turning untrusted bytes into an :class:`Image`, refusing anything hostile with ``ImageRejected``.

Order of checks (each cheaper than the next, so hostile input is refused before it costs much):
1. size in bytes against ``max_bytes``;
2. format by magic bytes (JPEG, PNG, WebP), never by file name or claimed MIME type;
3. a walk over the whole container, linear in its length and bounded in steps: every JPEG marker
   segment and scan up to EOI, every PNG chunk up to IEND, every RIFF chunk of a WebP. It reads the
   declared dimensions (JPEG SOFn, PNG IHDR, WebP VP8/VP8L, checked against a VP8X canvas), refuses
   a file that ends before its end marker (libjpeg happily returns a grey-padded picture for a
   truncated file), and refuses more scans or segments/chunks than a photo has (``too_many_scans``,
   ``too_many_segments``): libjpeg-turbo decodes every progressive scan over the whole frame, so
   thousands of tiny scans cost seconds without breaking any size limit;
4. the declared dimensions against ``max_pixels`` *before* any decoding;
5. PNG: the image data is inflated with a cap at the size the header implies
   (``decompression_bomb``), because libpng inflates whatever follows the last row, and so are the
   compressed metadata chunks libpng inflates (zTXt, iTXt, iCCP), with a cap on their total; WebP:
   the VP8/VP8L bitstream's own size must equal the VP8X canvas that the pixel limit judged;
6. decoding with OpenCV inside a ``try``; a ``None`` result or ``cv2.error`` becomes ``corrupt``.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from face_check import _runtime
from face_check.errors import ImageRejected, RejectReason
from face_check.results import Image

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MAX_JPEG_SCANS",
    "MAX_JPEG_SEGMENTS",
    "MAX_PNG_CHUNKS",
    "MAX_WEBP_CHUNKS",
    "PNG_INFLATE_SLACK",
    "PNG_METADATA_INFLATE_LIMIT",
    "declared_size",
    "image_from_rgb",
    "load_image",
]

# 10 MiB covers a full-resolution phone JPEG; ID-card photos are tens of kilobytes.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# 25 megapixels is a 6000x4000 camera frame; decoding it needs 75 MB for the RGB array, which is
# the most one request should be allowed to make this process allocate.
DEFAULT_MAX_PIXELS = 25_000_000

# JPEG scans (SOS markers, ITU-T T.81 B.2.3). A baseline JPEG has 1 (at most 4 when each colour
# component is sent as a scan of its own); libjpeg's default progressive script writes 10 (6 for
# greyscale) and tuned encoders (mozjpeg, jpegtran -scans) stay in the tens. libjpeg-turbo runs
# every scan over the whole frame's coefficients however few bytes the scan has, so the cost grows
# with scans times pixels: a 33 kB 2048x2048 file with 1,000 scans took 2.5 s to decode here, and
# the security review measured 236 s for 261,000 scans in one file under the byte limit.
MAX_JPEG_SCANS = 64
# Every marker the JPEG walk reads outside entropy-coded data (APPn, COM, DQT, DHT, SOF, DRI, SOS,
# RSTn, EOI). A camera JPEG has about a dozen; the largest honest counts come from an ICC profile
# split over APP2 segments (at most 255: the sequence number is one byte), Extended XMP split over
# 64 kB APP1 segments, and a DHT before each progressive scan. Each costs the walk (and libjpeg) a
# step, and a 10 MiB file could otherwise hold 2.6 million empty ones.
MAX_JPEG_SEGMENTS = 512
# PNG chunks. libpng writes IDAT in 8 KiB chunks (about 1,300 in a 10 MiB file) and some encoders
# write one IDAT per row (up to 6,000 for a 25-megapixel photo); ancillary chunks are a handful.
# A 10 MiB file of empty chunks would otherwise be 870,000 steps.
MAX_PNG_CHUNKS = 8192
# Bytes of inflated PNG image data tolerated beyond the exact size the header implies (PNG spec 7.2:
# each row is a filter byte plus the packed pixels). Encoders write exactly that; libpng only warns
# ("Too much image data") and keeps inflating whatever follows, which is the bomb: 1 GiB of deflated
# zeros is a 1 MB file and took 2.2 s to decode here as a 100x100 picture.
PNG_INFLATE_SLACK = 4096
# Bytes that the compressed metadata chunks (zTXt, iTXt with its compression flag set, iCCP) may
# inflate to, all together. libpng inflates every one of them while decoding, each up to its own 8 MB
# limit and up to 1,000 text chunks: a 7.8 MB file of 1,000 zTXt chunks of deflated zeros took 16 s
# to decode here and was accepted. Honest files carry a colour profile (a few kB, rarely 1 MB) and a
# little text.
PNG_METADATA_INFLATE_LIMIT = 4 << 20
# RIFF chunks in a still WebP (VP8X, ICCP, ALPH, VP8/VP8L, EXIF, XMP and the odd unknown one).
MAX_WEBP_CHUNKS = 64
_INFLATE_STEP = 1 << 16  # each decompress() call returns at most this much: memory stays bounded

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM have no length field
# Fill bytes: any marker may be preceded by extra 0xFF bytes (T.81 B.1.1.2).
_JPEG_FILL = re.compile(rb"\xff+")
# Inside entropy-coded data an 0xFF byte is followed by 0x00 (stuffing, T.81 F.1.2.3), by another
# 0xFF (fill) or is the RSTn marker D0-D7 that continues the scan; any other byte after 0xFF is the
# marker that ends the scan. A regular expression finds it in linear time, in C.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

# PNG spec 11.2.2 (IHDR): samples per pixel and the bit depths allowed for each colour type.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7 passes (PNG spec 8.2): first column, first row, column step, row step.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


@dataclass(frozen=True)
class _Layout:
    """What the container walk learnt: format, declared size and, for PNG, where the data is."""

    fmt: str
    width: int
    height: int
    idat: tuple[tuple[int, int], ...] = ()  # PNG: (start, end) of each IDAT chunk's data
    metadata: tuple[tuple[int, int], ...] = ()  # PNG: (start, end) of each compressed metadata stream
    raw_size: int = 0  # PNG: bytes of filtered scanlines the header implies
    image: tuple[int, int] | None = None  # WebP: the VP8/VP8L bitstream's own size, if found


def _sniff(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "content is not JPEG, PNG or WebP")


def _png_raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines the IHDR implies (PNG spec 7.2, 8.2): a filter byte per row plus
    the packed samples; an interlaced image is seven reduced images, and an empty pass has no rows."""

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits_per_pixel + 7) // 8) if w > 0 and h > 0 else 0

    if not interlaced:
        return rows(width, height)
    return sum(rows((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in _ADAM7)


def _png_walk(data: bytes) -> _Layout:
    """Walk every chunk from IHDR to IEND (PNG spec 5.3, 5.6), without inflating anything."""
    n = len(data)
    pos = len(_PNG_MAGIC)
    chunks = 0
    header: tuple[int, int, int] | None = None
    idat: list[tuple[int, int]] = []
    metadata: list[tuple[int, int]] = []
    idat_over = False
    while True:
        if pos + 12 > n:
            raise ImageRejected(RejectReason.TRUNCATED, "PNG ends before its IEND chunk")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if length > 0x7FFFFFFF:  # PNG spec 5.3: a chunk length is at most 2^31 - 1
            raise ImageRejected(RejectReason.CORRUPT, f"PNG chunk length {length} at byte {pos}")
        body, end = pos + 8, pos + 8 + length
        if end + 4 > n:
            raise ImageRejected(RejectReason.TRUNCATED, "PNG chunk runs past the end of the file")
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise ImageRejected(RejectReason.TOO_MANY_SEGMENTS, f"PNG has more than {MAX_PNG_CHUNKS} chunks")
        if not ctype.isalpha():
            raise ImageRejected(RejectReason.CORRUPT, f"PNG chunk type {ctype!r} at byte {pos}")
        # libpng refuses a critical chunk (upper-case first letter) with a bad CRC and only drops an
        # ancillary one; checking the same keeps the walk from trusting bytes libpng would refuse.
        if not ctype[0] & 0x20:
            (crc,) = struct.unpack(">I", data[end : end + 4])
            if zlib.crc32(memoryview(data)[pos + 4 : end]) != crc:
                raise ImageRejected(RejectReason.CORRUPT, f"PNG {ctype.decode()} chunk fails its CRC")
        if header is None:
            if ctype != b"IHDR" or length != 13:
                raise ImageRejected(RejectReason.CORRUPT, "PNG does not start with an IHDR chunk")
            width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[body:end])
            if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
                raise ImageRejected(
                    RejectReason.CORRUPT,
                    f"PNG header: colour type {colour}, bit depth {depth}, "
                    f"methods {compression}/{filtering}/{interlace}",
                )
            header = (width, height, _png_raw_size(width, height, _PNG_CHANNELS[colour] * depth, interlace == 1))
        elif ctype == b"IHDR":
            raise ImageRejected(RejectReason.CORRUPT, "PNG has a second IHDR chunk")
        elif ctype == b"IDAT":
            if idat_over:  # PNG spec 5.6: multiple IDAT chunks shall be consecutive
                raise ImageRejected(RejectReason.CORRUPT, "PNG IDAT chunks are not consecutive")
            idat.append((body, end))
        else:
            idat_over = bool(idat)
            if ctype == b"acTL":  # APNG frames (fdAT) would be image data outside the inflation cap
                raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "animated PNG is not a photo")
            if ctype == b"IEND":
                break
            stream = _png_metadata_stream(data, ctype, body, end)
            if stream is not None:
                metadata.append(stream)
        pos = end + 4
    if not idat:
        raise ImageRejected(RejectReason.CORRUPT, "PNG has no IDAT chunk")
    width, height, raw_size = header
    return _Layout("png", width, height, idat=tuple(idat), raw_size=raw_size, metadata=tuple(metadata))


def _png_metadata_stream(data: bytes, ctype: bytes, body: int, end: int) -> tuple[int, int] | None:
    """Where the zlib stream of a metadata chunk that libpng inflates lies, or None (PNG spec 11.3.3.3
    iCCP, 11.3.4.4 zTXt, 11.3.4.5 iTXt). A chunk libpng cannot parse is skipped by libpng too."""
    if ctype not in (b"zTXt", b"iCCP", b"iTXt"):
        return None
    keyword_end = data.find(b"\x00", body, min(end, body + 80))  # keyword: 1-79 bytes, then a NUL
    if keyword_end < 0:
        return None
    if ctype != b"iTXt":
        return keyword_end + 2, end  # the compression method byte, then the stream
    if keyword_end + 3 > end or data[keyword_end + 1] != 1:  # iTXt: compression flag, method byte
        return None
    language_end = data.find(b"\x00", keyword_end + 3, end)
    translated_end = data.find(b"\x00", language_end + 1, end) if language_end >= 0 else -1
    return (translated_end + 1, end) if translated_end >= 0 else None


def _check_png_inflation(data: bytes, layout: _Layout) -> None:
    """Inflate the IDAT stream in bounded steps, refusing it once it exceeds what the header implies,
    and the compressed metadata streams, refusing them once together past ``PNG_METADATA_INFLATE_LIMIT``.

    Runs after the pixel limit, so the work is bounded by ``max_pixels``, never by the compressed
    data (deflate reaches 1032:1, so 10 MiB could otherwise inflate to 10 GiB).
    """
    _check_png_metadata(data, layout)
    limit = layout.raw_size + PNG_INFLATE_SLACK
    inflater = zlib.decompressobj()
    view = memoryview(data)
    total = 0
    try:
        for start, end in layout.idat:
            pending: bytes | memoryview = view[start:end]
            while pending and not inflater.eof:
                total += len(inflater.decompress(pending, _INFLATE_STEP))
                if total > limit:
                    raise ImageRejected(
                        RejectReason.DECOMPRESSION_BOMB,
                        f"PNG image data inflates past {limit} bytes; "
                        f"a {layout.width}x{layout.height} header implies {layout.raw_size}",
                    )
                pending = inflater.unconsumed_tail
            if inflater.eof:  # libpng skips (does not inflate) IDAT bytes after the stream's end
                break
        if not inflater.eof:
            # All input consumed: only the output zlib still holds back (under one match) is left.
            total += len(inflater.decompress(b"", _INFLATE_STEP))
    except zlib.error as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"PNG image data does not inflate: {exc}") from None
    if total > limit:
        raise ImageRejected(RejectReason.DECOMPRESSION_BOMB, f"PNG image data inflates past {limit} bytes")
    if total < layout.raw_size:  # libpng fails on this too ("Not enough image data")
        raise ImageRejected(
            RejectReason.CORRUPT, f"PNG image data inflates to {total} bytes; the header implies {layout.raw_size}"
        )


def _check_png_metadata(data: bytes, layout: _Layout) -> None:
    view = memoryview(data)
    total = 0
    for start, end in layout.metadata:
        inflater = zlib.decompressobj()
        pending: bytes | memoryview = view[start:end]
        try:
            while pending and not inflater.eof:
                total += len(inflater.decompress(pending, _INFLATE_STEP))
                if total > PNG_METADATA_INFLATE_LIMIT:
                    raise ImageRejected(
                        RejectReason.DECOMPRESSION_BOMB,
                        f"PNG metadata chunks (zTXt, iTXt, iCCP) inflate past {PNG_METADATA_INFLATE_LIMIT} bytes",
                    )
                pending = inflater.unconsumed_tail
        except zlib.error:
            continue  # libpng drops an ancillary chunk that does not inflate, after the same work


def _jpeg_walk(data: bytes) -> _Layout:
    """Walk every marker segment and scan from SOI to EOI (ITU-T T.81 B.1-B.2), counting them.

    Linear in the file's length and at most ``MAX_JPEG_SEGMENTS`` steps: entropy-coded data is
    skipped with one regular-expression search per scan. Refuses a file that ends before its EOI,
    because libjpeg pads a truncated file with grey instead of failing.
    """
    n = len(data)
    pos = len(_JPEG_MAGIC) - 1  # just after SOI
    size: tuple[int, int] | None = None
    scans = segments = 0
    while True:
        if pos >= n:
            raise ImageRejected(RejectReason.TRUNCATED, "JPEG ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise ImageRejected(RejectReason.CORRUPT, f"JPEG marker expected at byte {pos}")
        fill = _JPEG_FILL.match(data, pos)
        pos = fill.end() if fill else pos + 1
        if pos >= n:
            raise ImageRejected(RejectReason.TRUNCATED, "JPEG ends inside a marker")
        marker = data[pos]
        pos += 1
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise ImageRejected(
                RejectReason.TOO_MANY_SEGMENTS, f"JPEG has more than {MAX_JPEG_SEGMENTS} marker segments"
            )
        if marker == 0xD9:  # EOI
            break
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0x00, 0xD8):  # a stuffed zero or a second SOI outside a scan: libjpeg fails too
            raise ImageRejected(RejectReason.CORRUPT, f"JPEG marker FF{marker:02X} out of place at byte {pos - 1}")
        if pos + 2 > n:
            raise ImageRejected(RejectReason.TRUNCATED, "JPEG ends inside a segment length")
        (seg_len,) = struct.unpack(">H", data[pos : pos + 2])
        if seg_len < 2:
            raise ImageRejected(RejectReason.CORRUPT, "JPEG segment length below 2")
        end = pos + seg_len
        if end > n:
            raise ImageRejected(RejectReason.TRUNCATED, "JPEG segment runs past the end of the file")
        if marker in _JPEG_SOF:
            if size is not None:
                raise ImageRejected(RejectReason.CORRUPT, "JPEG has a second frame header")
            if seg_len < 8:
                raise ImageRejected(RejectReason.CORRUPT, "JPEG frame header too short")
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            size = (width, height)
        elif marker == 0xDA:  # start of scan: header, then entropy-coded data up to the next marker
            if size is None:
                raise ImageRejected(RejectReason.CORRUPT, "JPEG scan before any frame header")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise ImageRejected(RejectReason.TOO_MANY_SCANS, f"JPEG has more than {MAX_JPEG_SCANS} scans")
            found = _JPEG_SCAN_END.search(data, end)
            if found is None:
                raise ImageRejected(RejectReason.TRUNCATED, "JPEG has no end-of-image marker")
            pos = found.start()
            continue
        pos = end
    if size is None or scans == 0:
        raise ImageRejected(RejectReason.CORRUPT, "JPEG ends before its first scan")
    return _Layout("jpeg", *size)


def _vp8_size(fourcc: bytes, body: bytes) -> tuple[int, int]:
    if fourcc == b"VP8 ":
        # Lossy (RFC 6386 9.1): 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if len(body) < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise ImageRejected(RejectReason.CORRUPT, "WebP VP8 start code missing")
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    # Lossless: signature 0x2F, then 14-bit (width - 1) and 14-bit (height - 1), little-endian.
    if len(body) < 5 or body[0] != 0x2F:
        raise ImageRejected(RejectReason.CORRUPT, "WebP VP8L signature missing")
    (bits,) = struct.unpack("<I", body[1:5])
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def _webp_walk(data: bytes) -> _Layout:
    """Walk the RIFF chunks of a still WebP. The declared size is the VP8X canvas if there is one,
    else the image chunk's; :func:`_check_webp_image` then requires the two to agree.

    libwebp decodes VP8 (lossy) and VP8L (lossless, including ALPH) in time and memory bounded by
    the frame's pixel count, so once the real bitstream's dimensions pass ``max_pixels`` there is
    no bomb left to defuse; the walk makes sure those are the dimensions checked.
    """
    if len(data) < 20:
        raise ImageRejected(RejectReason.TRUNCATED, "WebP shorter than its header")
    (riff_size,) = struct.unpack("<I", data[4:8])
    riff_end = 8 + riff_size
    if len(data) < riff_end:
        raise ImageRejected(RejectReason.TRUNCATED, "WebP shorter than its RIFF length")
    pos = 12
    chunks = 0
    canvas: tuple[int, int] | None = None
    image: tuple[int, int] | None = None
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body, end = pos + 8, pos + 8 + size
        if end > riff_end:
            raise ImageRejected(RejectReason.TRUNCATED, f"WebP {fourcc!r} chunk runs past the RIFF length")
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise ImageRejected(RejectReason.TOO_MANY_SEGMENTS, f"WebP has more than {MAX_WEBP_CHUNKS} chunks")
        if chunks == 1 and fourcc not in (b"VP8X", b"VP8 ", b"VP8L"):
            raise ImageRejected(RejectReason.CORRUPT, "WebP has no VP8, VP8L or VP8X chunk")
        if fourcc == b"VP8X" and chunks == 1:
            # Extended: flags byte (bit 1 = animation), 3 reserved, 24-bit (width-1), 24-bit (height-1).
            if size < 10:
                raise ImageRejected(RejectReason.CORRUPT, "WebP VP8X chunk too short")
            if data[body] & 0x02:
                raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "animated WebP is not a photo")
            canvas = (
                int.from_bytes(data[body + 4 : body + 7], "little") + 1,
                int.from_bytes(data[body + 7 : body + 10], "little") + 1,
            )
        elif fourcc in (b"ANIM", b"ANMF"):
            raise ImageRejected(RejectReason.UNSUPPORTED_FORMAT, "animated WebP is not a photo")
        elif fourcc in (b"VP8 ", b"VP8L") and image is None:
            image = _vp8_size(fourcc, data[body:end])
        pos = end + (size & 1)  # RIFF pads odd-sized chunks to an even length
    declared = canvas or image
    if declared is None:
        raise ImageRejected(RejectReason.CORRUPT, "WebP has no VP8 or VP8L image chunk")
    return _Layout("webp", *declared, image=image)


def _check_webp_image(layout: _Layout) -> None:
    """After the pixel limit: the image chunk exists and matches the canvas. libwebp refuses a
    mismatch as well; checking it here means ``max_pixels`` judged the bitstream that is decoded."""
    if layout.image is None:
        raise ImageRejected(RejectReason.CORRUPT, "WebP has no VP8 or VP8L image chunk")
    if layout.image != (layout.width, layout.height):
        w, h = layout.image
        raise ImageRejected(RejectReason.CORRUPT, f"WebP canvas {layout.width}x{layout.height} but image {w}x{h}")


def _walk(data: bytes) -> _Layout:
    fmt = _sniff(data)
    layout = {"jpeg": _jpeg_walk, "png": _png_walk, "webp": _webp_walk}[fmt](data)
    if layout.width <= 0 or layout.height <= 0:
        raise ImageRejected(RejectReason.CORRUPT, f"{fmt} header declares {layout.width}x{layout.height} pixels")
    return layout


def declared_size(data: bytes) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` read from the container alone, without decoding pixels.

    Raises :class:`ImageRejected` for an unknown format, a malformed or truncated container, or one
    with more scans, segments or chunks than the limits above.
    """
    layout = _walk(data)
    return layout.fmt, layout.width, layout.height


def load_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image:
    """Decode untrusted ``data`` (JPEG, PNG or still WebP) into an RGB :class:`Image`.

    Raises :class:`ImageRejected` (never anything else for bad bytes) when the data is empty, longer
    than ``max_bytes``, not one of the three formats by content, declares more than ``max_pixels``
    pixels, is truncated, has more JPEG scans or container segments than a photo has, holds PNG
    data that inflates beyond its declared size, or does not decode. EXIF orientation is applied by
    the decoder, so phone pictures come out upright. ``TypeError`` only for a non-bytes argument (a programming error).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"load_image needs bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "no bytes")
    if len(data) > max_bytes:
        raise ImageRejected(RejectReason.TOO_LARGE, f"{len(data)} bytes, limit {max_bytes}")
    layout = _walk(data)
    fmt, width, height = layout.fmt, layout.width, layout.height
    if width * height > max_pixels:
        raise ImageRejected(
            RejectReason.TOO_MANY_PIXELS,
            f"header declares {width}x{height} = {width * height} pixels, limit {max_pixels}",
        )
    if fmt == "png":
        _check_png_inflation(data, layout)
    elif fmt == "webp":
        _check_webp_image(layout)
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
