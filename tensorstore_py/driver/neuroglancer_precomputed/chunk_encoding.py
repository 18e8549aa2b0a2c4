"""Chunk encodings of the precomputed format: raw, compressed_segmentation, jpeg, png.

A chunk is handled as a numpy array of shape ``(x, y, z, channel)`` in Fortran order, whose
memory is the format's ``[channel][z][y][x]`` layout.  Chunks at the upper edge of the volume
are stored truncated to the volume, so every codec takes the stored extent ``(ex, ey, ez)``.
jpeg and png store the chunk as a 2-D image ``ex`` wide and ``ey * ez`` high.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Callable

import numpy as np

from ...errors import data_loss, invalid_argument

__all__ = ["ENCODERS", "DECODERS"]


def _stored_view(chunk: np.ndarray, extent: tuple[int, int, int]) -> np.ndarray:
    """The stored part of a chunk as ``(c, z, y, x)``."""
    ex, ey, ez = extent
    return chunk[:ex, :ey, :ez, :].transpose(3, 2, 1, 0)


def _le(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("<")


# -- raw ----------------------------------------------------------------------------------------


def encode_raw(chunk: np.ndarray, extent, params) -> bytes:
    view = _stored_view(chunk, extent)
    return np.ascontiguousarray(view, dtype=_le(chunk.dtype)).tobytes()


def decode_raw(data: bytes, extent, nc: int, dtype: np.dtype, params) -> np.ndarray:
    ex, ey, ez = extent
    expected = ex * ey * ez * nc * dtype.itemsize
    if len(data) != expected:
        raise data_loss(f"Expected chunk length to be {expected}, but received {len(data)} bytes")
    arr = np.frombuffer(data, dtype=_le(dtype)).reshape(nc, ez, ey, ex)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


# -- compressed_segmentation -------------------------------------------------------------------


def encode_compressed_segmentation(chunk: np.ndarray, extent, params) -> bytes:
    from ..._ext import compressed_segmentation as cseg

    return cseg.encode(_stored_view(chunk, extent), tuple(params["block_size"]))


def decode_compressed_segmentation(data: bytes, extent, nc: int, dtype: np.dtype, params) -> np.ndarray:
    from ..._ext import compressed_segmentation as cseg

    ex, ey, ez = extent
    return cseg.decode(data, (nc, ez, ey, ex), tuple(params["block_size"]), dtype)


# -- images ------------------------------------------------------------------------------------


def _image_array(chunk: np.ndarray, extent) -> np.ndarray:
    """(ey * ez, ex, c) rows of the 2-D image a chunk is stored as."""
    ex, ey, ez = extent
    view = chunk[:ex, :ey, :ez, :].transpose(2, 1, 0, 3)
    return np.ascontiguousarray(view).reshape(ez * ey, ex, chunk.shape[3])


def _from_image(pixels: np.ndarray, extent, nc: int) -> np.ndarray:
    ex, ey, ez = extent
    return pixels.reshape(ez, ey, ex, nc).transpose(3, 0, 1, 2)


_MODES_8 = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def encode_jpeg(chunk: np.ndarray, extent, params) -> bytes:
    pixels = _image_array(chunk, extent)
    image = _image_8bit(pixels)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=int(params["jpeg_quality"]))
    return out.getvalue()


def _image_8bit(pixels: np.ndarray):
    from PIL import Image

    height, width, nc = pixels.shape
    return Image.frombytes(_MODES_8[nc], (width, height), np.ascontiguousarray(pixels).tobytes())


def _open_image(data: bytes, kind: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise data_loss(f"Error decoding {kind}: {exc}") from None
    if image.format != kind.upper():
        raise data_loss(f"Error decoding {kind}: not a {kind} image")
    return image


def _check_image(width: int, height: int, channels: int, extent, nc: int, kind: str) -> None:
    ex, ey, ez = extent
    if (width, height, channels) != (ex, ey * ez, nc):
        raise data_loss(
            f"Image dimensions ({width}, {height}, {channels}) are not compatible with expected chunk shape "
            f"({ex}, {ey * ez}, {nc})"
        )


def decode_jpeg(data: bytes, extent, nc: int, dtype: np.dtype, params) -> np.ndarray:
    image = _open_image(data, "jpeg")
    channels = len(image.getbands())
    _check_image(image.width, image.height, channels, extent, nc, "jpeg")
    pixels = np.asarray(image, dtype=np.uint8)
    return _from_image(pixels, extent, nc)


def encode_png(chunk: np.ndarray, extent, params) -> bytes:
    pixels = _image_array(chunk, extent)
    level = params.get("png_level")
    level = 6 if level is None else int(level)
    if pixels.dtype == np.uint8:
        image = _image_8bit(pixels)
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=level)
        return out.getvalue()
    return _write_png16(pixels, level)


def decode_png(data: bytes, extent, nc: int, dtype: np.dtype, params) -> np.ndarray:
    if dtype == np.uint16 and nc > 1:
        pixels = _read_png(data, 16, nc)
        _check_image(pixels.shape[1], pixels.shape[0], pixels.shape[2], extent, nc, "png")
        return _from_image(pixels, extent, nc)
    image = _open_image(data, "png")
    bands = len(image.getbands())
    _check_image(image.width, image.height, bands, extent, nc, "png")
    if dtype == np.uint16:
        if image.mode not in ("I;16", "I;16B", "I"):
            raise data_loss(f"Error decoding png: expected a 16-bit image, but received mode {image.mode}")
        pixels = np.asarray(image).astype(np.uint16)
    else:
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            raise data_loss(f"Error decoding png: expected an 8-bit image, but received mode {image.mode}")
        pixels = np.asarray(image, dtype=np.uint8)
    return _from_image(pixels, extent, nc)


# Pillow has no 16-bit multi-channel PNG support: these two cover 16-bit images with zlib alone.

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def _write_png16(pixels: np.ndarray, level: int) -> bytes:
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


def _read_png(data: bytes, depth: int, nc: int) -> np.ndarray:
    if not data.startswith(_PNG_SIGNATURE):
        raise data_loss("Error decoding png: missing PNG signature")
    pos = len(_PNG_SIGNATURE)
    header = None
    idat = []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise data_loss("Error decoding png: truncated chunk")
        pos += 12 + length
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"IEND":
            break
    if header is None:
        raise data_loss("Error decoding png: missing IHDR")
    width, height, bit_depth, color_type, _, _, interlace = header
    channels = {0: 1, 4: 2, 2: 3, 6: 4}.get(color_type)
    if bit_depth != depth or channels != nc or interlace:
        raise data_loss(f"Error decoding png: unsupported image (depth {bit_depth}, color type {color_type})")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise data_loss(f"Error decoding png: {exc}") from None
    bpp = nc * depth // 8
    stride = width * bpp
    if len(raw) != height * (stride + 1):
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


# ---------------------------------------------------------------------------------------------

Encoder = Callable[[np.ndarray, tuple, dict], bytes]
Decoder = Callable[[bytes, tuple, int, np.dtype, dict], np.ndarray]

ENCODERS: dict[str, Encoder] = {
    "raw": encode_raw,
    "compressed_segmentation": encode_compressed_segmentation,
    "jpeg": encode_jpeg,
    "png": encode_png,
}
DECODERS: dict[str, Decoder] = {
    "raw": decode_raw,
    "compressed_segmentation": decode_compressed_segmentation,
    "jpeg": decode_jpeg,
    "png": decode_png,
}


def check_encoding(encoding: str) -> None:
    if encoding not in ENCODERS:
        raise invalid_argument(f"Unsupported encoding: {encoding}")
