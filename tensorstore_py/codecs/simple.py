"""Codecs backed by streaming decompressors: bz2, xz (Python's modules) and zstd (zstandard),
plus n5's ``raw``.

Python's bz2 and lzma modules and zstandard release the GIL while they work.  Decoding is
bounded by the expected size, so a chunk that claims to expand enormously fails fast.
"""

from __future__ import annotations

import bz2
import lzma
import threading
from typing import Any

import zstandard

from ..errors import data_loss
from ..json_util import ObjectReader
from .base import (
    N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, as_byte_view, deliver, int_member, size_mismatch,
)  # fmt: skip

__all__ = ["Bz2Codec", "ZarrBz2", "N5Bzip2", "XzCodec", "N5Xz", "ZstdCodec", "ZarrZstd",
           "N5Zstd", "N5Raw"]

ZSTD_MIN_LEVEL = -131072
ZSTD_MAX_LEVEL = 22
# Frames declaring at most this many bytes are decoded in one call into a buffer of that size.
_ZSTD_DIRECT_LIMIT = 1 << 28


def _run_stream(decomp: Any, src: memoryview, expected_size: int | None, what: str,
                errors: tuple[type[BaseException], ...]) -> bytes:
    """Feeds one whole compressed stream to a bz2/lzma-style decompressor object."""
    limit = -1 if expected_size is None else expected_size + 1
    try:
        out = decomp.decompress(src, max_length=limit)
    except errors as exc:
        raise data_loss(f"Error decoding {what} data: {exc}") from None
    if expected_size is not None and len(out) > expected_size:
        raise data_loss(f"{what} data decodes to more than the expected {expected_size} bytes")
    if not decomp.eof:
        raise data_loss(f"{what} data is truncated after {len(out)} decoded bytes")
    if decomp.unused_data:
        raise data_loss(f"Error decoding {what} data: End of data expected; remaining length: "
                        f"{len(decomp.unused_data)}")
    return deliver(out, expected_size, what)


class Bz2Codec(Codec):
    """bzip2 with block size `level` x 100 kB (1..9)."""

    def __init__(self, level: int = 9):
        self.level = level

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        return bz2.compress(as_byte_view(data), self.level)

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        return _run_stream(bz2.BZ2Decompressor(), src, expected_size, "bzip2", (OSError, ValueError))


@ZARR_COMPRESSORS.register("bz2")
class ZarrBz2(Bz2Codec):
    """zarr v2 ``{"id": "bz2", "level": 1..9}`` (default 1)."""

    def __init__(self, level: int = 1):
        super().__init__(level)

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "ZarrBz2":
        return cls(int_member(reader, "level", 1, 9, 1))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@N5_COMPRESSIONS.register("bzip2")
class N5Bzip2(Bz2Codec):
    """n5 ``{"type": "bzip2", "blockSize": 1..9}`` (default 9)."""

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Bzip2":
        return cls(int_member(reader, "blockSize", 1, 9, 9))

    def params(self) -> dict[str, Any]:
        return {"blockSize": self.level}


@N5_COMPRESSIONS.register("xz")
class N5Xz(Codec):
    """n5 ``{"type": "xz", "preset": 0..9}`` (default 6): the .xz container with CRC64."""

    def __init__(self, preset: int = 6):
        self.preset = preset

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Xz":
        return cls(int_member(reader, "preset", 0, 9, 6))

    def params(self) -> dict[str, Any]:
        return {"preset": self.preset}

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        return lzma.compress(as_byte_view(data), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                             preset=self.preset)

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        decomp = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return _run_stream(decomp, src, expected_size, "xz", (lzma.LZMAError, ValueError))


XzCodec = N5Xz


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DICT_ID_BYTES = (0, 1, 2, 4)


def _single_frame_size(src: memoryview) -> int | None:
    """The size of the zstd frame `src` starts with, from its header and block headers (the
    frame format of RFC 8878), or None if it is not a plain zstd frame or is cut short."""
    n = src.nbytes
    if n < 6 or src[:4] != _ZSTD_MAGIC:
        return None
    descriptor = src[4]
    if descriptor & 0x08:  # reserved bit
        return None
    single_segment = (descriptor >> 5) & 1
    content_size_bytes = (single_segment, 2, 4, 8)[descriptor >> 6]
    pos = 5 + (1 - single_segment) + _DICT_ID_BYTES[descriptor & 3] + content_size_bytes
    while True:
        if pos + 3 > n:
            return None
        header = src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16)
        pos += 3
        block_type = (header >> 1) & 3
        if block_type == 3:  # reserved
            return None
        pos += 1 if block_type == 1 else header >> 3  # an RLE block stores one byte
        if header & 1:  # the last block
            break
    if descriptor & 0x04:  # content checksum
        pos += 4
    return pos if pos <= n else None


class _PerThread(threading.local):
    """zstandard contexts are not thread-safe; each thread keeps its own."""

    def __init__(self) -> None:
        self.compressors: dict[tuple[int, bool], zstandard.ZstdCompressor] = {}
        self.decompressor = zstandard.ZstdDecompressor()


_ZSTD = _PerThread()


class ZstdCodec(Codec):
    """Zstandard frames (with the content size recorded) at `level` (0 = zstd's default),
    with a content checksum in each frame when `checksum` (checked on decode by zstd)."""

    def __init__(self, level: int = 0, checksum: bool = False):
        self.level = level
        self.checksum = checksum

    def _compressor(self) -> zstandard.ZstdCompressor:
        key = (self.level, bool(self.checksum))
        cctx = _ZSTD.compressors.get(key)
        if cctx is None:
            cctx = _ZSTD.compressors[key] = zstandard.ZstdCompressor(
                level=self.level, write_checksum=bool(self.checksum))
        return cctx

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        return self._compressor().compress(as_byte_view(data))

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        dctx = _ZSTD.decompressor
        try:
            declared = zstandard.frame_content_size(src)
        except zstandard.ZstdError as exc:
            raise data_loss(f"Error decoding zstd data: {exc}") from None
        if declared >= 0 and expected_size is not None and declared != expected_size:
            raise size_mismatch(declared, expected_size, "zstd")
        try:
            if 0 <= declared <= _ZSTD_DIRECT_LIMIT:
                out = dctx.decompress(src, allow_extra_data=False)
            elif declared < 0 and expected_size:
                out = dctx.decompress(src, max_output_size=expected_size, allow_extra_data=False)
            else:
                # Unknown (or implausibly large, unverified) size: stream, never pre-allocate.
                out = self._decode_unsized(dctx, src)
        except zstandard.ZstdError as exc:
            raise data_loss(f"Error decoding zstd data: {exc}") from None
        return deliver(out, expected_size, "zstd")

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        # Straight into the caller's buffer (no decoded bytes object and copy) when `src` is
        # exactly one plain frame declaring `dst`'s size; anything else, and any error, goes
        # through `_decode`, whose checks and messages are the reference.
        if _single_frame_size(src) == src.nbytes:
            try:
                declared = zstandard.frame_content_size(src)
                if declared == dst.nbytes:
                    reader = _ZSTD.decompressor.stream_reader(src, read_size=src.nbytes, read_across_frames=False)
                    with reader:
                        # The read past the end makes zstd finish the frame (and its checksum).
                        if reader.readinto(dst) == dst.nbytes and not reader.read(1):
                            return
            except zstandard.ZstdError:
                pass
        dst[:] = self._decode(src, dst.nbytes)

    @staticmethod
    def _decode_unsized(dctx: zstandard.ZstdDecompressor, src: memoryview) -> bytes:
        dobj = dctx.decompressobj()
        out = dobj.decompress(src)
        if not dobj.eof:
            raise data_loss(f"zstd data is truncated after {len(out)} decoded bytes")
        if dobj.unused_data:
            raise data_loss("Error decoding zstd data: End of data expected; remaining length: "
                            f"{len(dobj.unused_data)}")
        return out


@ZARR_COMPRESSORS.register("zstd")
class ZarrZstd(ZstdCodec):
    """zarr v2 ``{"id": "zstd", "level": -131072..22}`` (default 1)."""

    def __init__(self, level: int = 1):
        super().__init__(level)

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "ZarrZstd":
        return cls(int_member(reader, "level", ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL, 1))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@N5_COMPRESSIONS.register("zstd")
class N5Zstd(ZstdCodec):
    """n5 ``{"type": "zstd", "level": -131072..22}`` (default 0)."""

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Zstd":
        return cls(int_member(reader, "level", ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL, 0))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@N5_COMPRESSIONS.register("raw")
class N5Raw(Codec):
    """n5 ``{"type": "raw"}``: chunk bytes stored as they are."""

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Raw":
        return cls()

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        return as_byte_view(data).tobytes()

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        return deliver(src.tobytes(), expected_size, "raw")

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        if src.nbytes != dst.nbytes:
            raise size_mismatch(src.nbytes, dst.nbytes, "raw")
        dst[:] = src

