"""Image array -> bytes codecs: JPEG and PNG (as Neuroglancer's precomputed format uses them).

An array of shape ``(channels, d1, ..., dn, width)``, C-ordered, is stored as one 2-D image
``width`` pixels wide and ``d1 * ... * dn`` rows high, channels interleaved per pixel (a
precomputed chunk ``(c, z, y, x)`` is an image ``x`` wide and ``y * z`` high).  JPEG takes 8-bit
samples, PNG 8- or 16-bit; 1 to 4 channels (grey, grey+alpha, RGB, RGBA).  Pillow does the
8-bit work; it has no 16-bit multi-channel PNG, so those are written and read with zlib alone
(`write_png16` / `read_png`).  Undecodable or mis-sized images are DATA_LOSS.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import Any, Optional

import numpy as np

from ..errors import data_loss, invalid_argument
from .chain import ArrayToBytesCodec, Describe, format_vector

__all__ = ["JpegCodec", "PngCodec", "decode_jpeg", "png_header", "read_png", "write_png16"]

_MODES_8 = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class _ImageCodec(ArrayToBytesCodec):
    """What JPEG and PNG share: the array <-> image layout and the checks on a decoded image."""

    kind = ""
    dtypes: tuple[np.dtype, ...] = ()

    def _bind(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        dtype = np.dtype(dtype)
        if len(shape) < 2:
            raise invalid_argument(f"{self.kind} requires an array of rank 2 or more, not shape "
                                   f"{format_vector(shape)}")
        if not 1 <= shape[0] <= 4:
            raise invalid_argument(f"{self.kind} supports 1 to 4 channels, not {shape[0]}")
        if dtype.newbyteorder("=") not in self.dtypes:
            names = " or ".join(str(d) for d in self.dtypes)
            raise invalid_argument(f"{self.kind} requires {names} samples, not {dtype}")
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype.newbyteorder("=")
        self.channels = self.shape[0]
        self.width = self.shape[-1]
        self.height = math.prod(self.shape[1:-1])

    def pixels(self, array: np.ndarray) -> np.ndarray:
        """`array` as ``(height, width, channels)`` C-ordered pixels."""
        rank = array.ndim
        interleaved = array.transpose(*range(1, rank), 0)
        return np.ascontiguousarray(interleaved).reshape(self.height, self.width, self.channels)

    def from_pixels(self, pixels: np.ndarray, out: Optional[np.ndarray]) -> np.ndarray:
        rank = len(self.shape)
        arr = pixels.reshape(*self.shape[1:], self.channels).transpose(rank - 1, *range(rank - 1))
        if out is None:
            return arr
        out[...] = arr
        return out

    def check_image(self, width: int, height: int, channels: int) -> None:
        if (width, height, channels) != (self.width, self.height, self.channels):
            raise data_loss(
                f"Image dimensions ({width}, {height}, {channels}) are not compatible with "
                f"expected chunk shape {format_vector(self.shape)}")


def _image_8bit(pixels: np.ndarray) -> Any:
    from PIL import Image

    height, width, nc = pixels.shape
    return Image.frombytes(_MODES_8[nc], (width, height), np.ascontiguousarray(pixels).tobytes())


def open_image(data: Any, kind: str) -> Any:
    """A Pillow image of `kind` ("jpeg" / "png") decoded from `data`, or DATA_LOSS."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError, EOFError) as exc:
        raise data_loss(f"Error decoding {kind}: {exc}") from None
    if image.format != kind.upper():
        raise data_loss(f"Error decoding {kind}: not a {kind} image")
    return image


class JpegCodec(_ImageCodec):
    """Baseline JPEG of 8-bit samples at `quality` (0..100)."""

    kind = "jpeg"
    dtypes = (np.dtype(np.uint8),)

    def __init__(self, quality: int = 75):
        self.quality = int(quality)

    def __repr__(self) -> str:
        return f"JpegCodec(quality={self.quality})"

    def __eq__(self, other: object) -> bool:
        return type(other) is JpegCodec and other.quality == self.quality  # type: ignore

    def __hash__(self) -> int:
        return hash(("jpeg", self.quality))

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Optional[Describe] = None) -> "JpegCodec":
        bound = JpegCodec(self.quality)
        bound._bind(shape, dtype)
        return bound

    def encode(self, array: np.ndarray) -> bytes:
        out = io.BytesIO()
        _image_8bit(self.pixels(array)).save(out, format="JPEG", quality=self.quality)
        return out.getvalue()

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        return self.from_pixels(decode_jpeg(data, self), out)


class PngCodec(_ImageCodec):
    """PNG of 8- or 16-bit samples at zlib `level` (0..9)."""

    kind = "png"
    dtypes = (np.dtype(np.uint8), np.dtype(np.uint16))

    def __init__(self, level: int = 6):
        self.level = int(level)

    def __repr__(self) -> str:
        return f"PngCodec(level={self.level})"

    def __eq__(self, other: object) -> bool:
        return type(other) is PngCodec and other.level == self.level  # type: ignore

    def __hash__(self) -> int:
        return hash(("png", self.level))

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Optional[Describe] = None) -> "PngCodec":
        bound = PngCodec(self.level)
        bound._bind(shape, dtype)
        return bound

    def encode(self, array: np.ndarray) -> bytes:
        pixels = self.pixels(array)
        if pixels.dtype == np.uint8:
            out = io.BytesIO()
            _image_8bit(pixels).save(out, format="PNG", compress_level=self.level)
            return out.getvalue()
        return write_png16(pixels, self.level)

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        nc = self.channels
        data = bytes(data) if not isinstance(data, bytes) else data
        # Structure, CRCs and the header's size are checked before anything is inflated: a
        # corrupt chunk is refused, and a small chunk claiming a huge image costs nothing.
        width, height, depth, color_type, interlace = png_header(data)
        self.check_image(width, height, _PNG_CHANNELS.get(color_type, 0))
        if self.dtype == np.uint16 and nc > 1:
            return self.from_pixels(read_png(data, 16, nc), out)
        image = open_image(data, "png")
        if self.dtype == np.uint16:
            if image.mode not in ("I;16", "I;16B", "I"):
                raise data_loss("Error decoding png: expected a 16-bit image, but received mode "
                                f"{image.mode}")
            pixels = np.asarray(image).astype(np.uint16)
        else:
            if image.mode not in ("L", "LA", "RGB", "RGBA"):
                raise data_loss("Error decoding png: expected an 8-bit image, but received mode "
                                f"{image.mode}")
            pixels = np.asarray(image, dtype=np.uint8)
        return self.from_pixels(pixels, out)


# JPEG: libjpeg-turbo (through simplejpeg) with its warnings, which flag corrupt scan data,
# treated as errors as TensorStore treats them; Pillow would hand back the wrong pixels.

_JPEG_CHANNELS = {"gray": 1, "rgb": 3, "ycbcr": 3, "cmyk": 4, "ycck": 4}
_JPEG_SPACES = {1: "GRAY", 3: "RGB", 4: "CMYK"}


def decode_jpeg(data: Any, codec: "_ImageCodec") -> np.ndarray:
    """``(height, width, channels)`` samples of a JPEG of the size `codec` expects, or DATA_LOSS."""
    import simplejpeg

    data = bytes(data) if not isinstance(data, bytes) else data
    try:
        height, width, space, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise data_loss(_jpeg_message(exc)) from None
    codec.check_image(width, height, _JPEG_CHANNELS.get(str(space).lower(), 0))
    colorspace = _JPEG_SPACES[codec.channels]
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True)
    except ValueError as exc:
        # Bytes between the last scan and the end-of-image marker are reported only once the
        # image is complete; TensorStore stops reading before that point and accepts them.
        if "extraneous bytes before marker 0xd9" not in str(exc):
            raise data_loss(_jpeg_message(exc)) from None
        pixels = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=False)
    return pixels.reshape(height, width, codec.channels)


def _jpeg_message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else "Error decoding jpeg"


# PNG: every chunk's CRC and the header are checked first (Pillow skips IDAT's CRC).

_PNG_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}


def png_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, color type, interlace) of a PNG whose chunks are intact."""
    if not data.startswith(_PNG_SIGNATURE):
        raise data_loss("Failed to decode PNG: Not a PNG file")
    pos = len(_PNG_SIGNATURE)
    header = None
    seen_idat = False
    while True:
        if pos + 8 > len(data):
            if seen_idat:
                return header
            raise data_loss("Failed to decode PNG: Truncated file" if header is not None
                            else "Failed to decode PNG: IHDR: missing")
        (length,) = struct.unpack_from(">I", data, pos)
        tag = data[pos + 4 : pos + 8]
        name = tag.decode("latin-1")
        if header is None and tag == b"IHDR" and length != 13:
            raise data_loss(f"IHDR: {'too short' if length < 13 else 'too long'}")
        if length > 0x7FFFFFFF:
            raise data_loss(f"Failed to decode PNG: {name}: PNG unsigned integer out of range")
        end = pos + 8 + length
        if end + 4 > len(data):
            raise data_loss(f"Failed to decode PNG: {name}: Truncated chunk")
        if seen_idat and tag != b"IDAT":
            return header  # the image data are complete; like libpng, read no further
        (crc,) = struct.unpack_from(">I", data, end)
        critical = not tag[:1].islower()  # damaged ancillary chunks are skipped, as libpng does
        if critical and zlib.crc32(data[pos + 4 : end]) & 0xFFFFFFFF != crc:
            raise data_loss(f"Failed to decode PNG: {name}: CRC error")
        body = data[pos + 8 : end]
        pos = end + 4
        if header is None:
            if tag != b"IHDR":
                raise data_loss(f"Failed to decode PNG: {name}: missing IHDR")
            width, height, depth, color_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
            if not (0 < width <= 0x7FFFFFFF and 0 < height <= 0x7FFFFFFF):
                raise data_loss("Failed to decode PNG: IHDR: invalid image size")
            if compression or filtering or interlace > 1:
                raise data_loss("Failed to decode PNG: IHDR: invalid compression, filter or interlace method")
            header = (width, height, depth, color_type, interlace)
        elif tag == b"IDAT":
            seen_idat = True
        elif tag == b"IEND":
            raise data_loss("Failed to decode PNG: IEND: missing IDAT")


# Pillow has no 16-bit multi-channel PNG support: these two cover 16-bit images with zlib alone.

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_IMAGE_BYTES = 1 << 31  # callers have already matched the header against the chunk shape
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def write_png16(pixels: np.ndarray, level: int) -> bytes:
    """A 16-bit PNG of ``(height, width, channels)`` samples, rows unfiltered."""
    height, width, nc = pixels.shape
    rows = np.ascontiguousarray(pixels, dtype=">u2").view(np.uint8).reshape(height, width * nc * 2)
    filtered = np.zeros((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 16, _COLOR_TYPES[nc], 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


def read_png(data: Any, depth: int, nc: int) -> np.ndarray:
    """``(height, width, nc)`` samples of a non-interlaced PNG of bit `depth`, with zlib."""
    data = bytes(data) if not isinstance(data, bytes) else data
    width, height, bit_depth, color_type, interlace = png_header(data)
    if bit_depth != depth or _PNG_CHANNELS.get(color_type) != nc or interlace:
        raise data_loss(f"Error decoding png: unsupported image (depth {bit_depth}, color type {color_type})")
    bpp = nc * depth // 8
    stride = width * bpp
    expected = height * (stride + 1)
    if expected > _MAX_IMAGE_BYTES:
        raise data_loss(f"Failed to decode PNG: image of {width}x{height} is too large")
    idat = []
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    try:
        # Never inflate past what the header promises (a small stream can expand 1000-fold).
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat), expected + 1)
    except zlib.error as exc:
        raise data_loss(f"Error decoding png: {exc}") from None
    if len(raw) != expected or not inflater.eof:
        raise data_loss("Error decoding png: wrong amount of image data")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(height):
        kind = rows[r, 0]
        line = rows[r, 1:].astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:
            # Sub: a running sum per byte lane.
            cur = line.reshape(width, bpp).cumsum(axis=0).reshape(stride) & 0xFF
        elif kind == 2:
            cur = (line + prev) & 0xFF
        elif kind in (3, 4):
            cur = np.array(_unfilter_sequential(int(kind), line.tolist(), prev.tolist(), bpp), dtype=np.int64)
        else:
            raise data_loss(f"Error decoding png: invalid filter type {kind}")
        out[r] = cur
        prev = cur
    if depth == 8:
        return out.reshape(height, width, nc)
    return out.view(">u2").astype(np.uint16).reshape(height, width, nc)


def _unfilter_sequential(kind: int, line: list, prev: list, bpp: int) -> list:
    """PNG Average (3) and Paeth (4) filters, which depend on the byte just decoded."""
    cur = [0] * len(line)
    for i, value in enumerate(line):
        left = cur[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 3:
            pred = (left + up) >> 1
        else:
            upleft = prev[i - bpp] if i >= bpp else 0
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
        cur[i] = (value + pred) & 0xFF
    return cur
