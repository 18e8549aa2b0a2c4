"""DEFLATE codecs (zarr ``zlib`` / ``gzip``, n5 ``gzip``, zip members): libdeflate through the
``deflate`` package, with the Cython zlib kernel for the streams libdeflate cannot judge alone.

Why two libraries (measured in bench/bench_codecs.py): libdeflate compresses 2-4x faster than
zlib at the same level, to about the same size (within a few per cent either way; ISA-L and
zlib-ng's level 1 write up to 50% more on some data), and decodes 1.5-4x faster; its levels
1..9 mean what zlib's do, so a requested level keeps its meaning.  But its one-shot decoder does
not say where the stream ended, so it cannot refuse trailing bytes by itself nor go on to a
second gzip member.  The fast path therefore accepts a decoded chunk only when it has exactly
the expected size and the input ends with that data's own trailer (zlib: Adler-32; gzip: CRC-32
and size; only trailing bytes crafted to end in that same trailer would slip through, and they
cannot change the decoded data); anything else (corrupt or truncated input, trailing bytes,
concatenated gzip members, an unknown size, bare DEFLATE) goes to the streaming zlib kernel,
which decides and words the error.  Both release the GIL while they work; the kernel decodes
straight into the caller's buffer, libdeflate into its own, copied once.
"""

from __future__ import annotations

from typing import Any

import deflate as _libdeflate

from .._ext import zlib_codec as _z
from ..errors import data_loss
from ..json_util import ObjectReader
from .base import N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, as_byte_view, int_member, bool_member

__all__ = ["DeflateCodec", "RawDeflateCodec", "ZarrZlib", "ZarrGzip", "N5Gzip"]

# zlib's "default level" (-1) is 6; libdeflate's levels 0..9 match zlib's.
_DEFAULT_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"
# The deflate package takes the decoded size as a C unsigned int.
_ONE_SHOT_MAX_SIZE = 0xFFFFFFFF


def _libdeflate_level(level: int) -> int:
    if not -1 <= level <= 9:
        raise ValueError(f"zlib level must be in [-1, 9], got {level}")
    return _DEFAULT_LEVEL if level < 0 else level


def _ends_with_zlib_trailer(src: memoryview, out: bytearray) -> bool:
    return src[-4:] == _libdeflate.adler32(out).to_bytes(4, "big")


def _ends_with_gzip_trailer(src: memoryview, out: bytearray) -> bool:
    trailer = (_libdeflate.crc32(out).to_bytes(4, "little")
               + (len(out) & 0xFFFFFFFF).to_bytes(4, "little"))
    return src[-8:] == trailer


class DeflateCodec(Codec):
    """DEFLATE with a zlib or gzip wrapper.

    Encoding writes the wrapper named by `gzip`; decoding a gzip-labelled chunk also accepts a
    zlib wrapper, and concatenated gzip members, as gzip tools do.
    """

    def __init__(self, level: int, gzip: bool):
        self.level = level
        self.gzip = gzip

    @property
    def _decode_format(self) -> int:
        return _z.FORMAT_AUTO if self.gzip else _z.FORMAT_ZLIB

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        compress = _libdeflate.gzip_compress if self.gzip else _libdeflate.zlib_compress
        return bytes(compress(as_byte_view(data), _libdeflate_level(self.level)))

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        if expected_size is not None:
            out = self._decode_whole(src, expected_size)
            if out is not None:
                return out
            out = bytearray(expected_size)
            self._decode_streaming(src, memoryview(out))
            return out
        try:
            return _z.decompress(src, self._decode_format, self.gzip)
        except _z.ZlibError as exc:
            raise data_loss(f"Error decoding {self.kind} data: {exc}") from None

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        out = self._decode_whole(src, dst.nbytes)
        if out is not None:
            dst[:] = out
        else:
            self._decode_streaming(src, dst)

    def _decode_whole(self, src: memoryview, size: int) -> bytearray | None:
        """libdeflate's one-shot decode, or None when it cannot vouch for the result alone."""
        if size == 0 or size > _ONE_SHOT_MAX_SIZE or len(src) < 8:
            return None
        is_gzip = self._decode_format == _z.FORMAT_AUTO and src[:2] == _GZIP_MAGIC
        try:
            if is_gzip:
                out = _libdeflate.gzip_decompress(src, size)
            elif self._decode_format == _z.FORMAT_RAW:
                return None  # no trailer: only the streaming decoder sees where it ends
            else:
                out = _libdeflate.zlib_decompress(src, size)
        except _libdeflate.DeflateError:
            return None  # corrupt, truncated, or larger than `size`: the kernel says which
        if len(out) != size:
            return None
        ends = _ends_with_gzip_trailer if is_gzip else _ends_with_zlib_trailer
        return out if ends(src, out) else None

    def _decode_streaming(self, src: memoryview, dst: memoryview) -> None:
        try:
            _z.decompress_into(src, dst, self._decode_format, self.gzip, True)
        except _z.ZlibError as exc:
            raise data_loss(f"Error decoding {self.kind} data: {exc}") from None


class RawDeflateCodec(DeflateCodec):
    """Bare DEFLATE without a wrapper (zip archive members, compression method 8)."""

    kind = "deflate"

    def __init__(self, level: int = 6):
        super().__init__(level, gzip=False)

    @property
    def _decode_format(self) -> int:
        return _z.FORMAT_RAW

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        return bytes(_libdeflate.deflate_compress(as_byte_view(data),
                                                  _libdeflate_level(self.level)))


@ZARR_COMPRESSORS.register("zlib")
class ZarrZlib(DeflateCodec):
    """zarr v2 ``{"id": "zlib", "level": 0..9}`` (default level 1): zlib-wrapped DEFLATE."""

    def __init__(self, level: int = 1):
        super().__init__(level, gzip=False)

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "ZarrZlib":
        return cls(int_member(reader, "level", 0, 9, 1))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@ZARR_COMPRESSORS.register("gzip")
class ZarrGzip(DeflateCodec):
    """zarr v2 ``{"id": "gzip", "level": 0..9}`` (default level 1): gzip-wrapped DEFLATE."""

    def __init__(self, level: int = 1):
        super().__init__(level, gzip=True)

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "ZarrGzip":
        return cls(int_member(reader, "level", 0, 9, 1))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@N5_COMPRESSIONS.register("gzip")
class N5Gzip(DeflateCodec):
    """n5 ``{"type": "gzip", "level": -1..9, "useZlib": bool}``; -1 is zlib's default level."""

    def __init__(self, level: int = -1, use_zlib: bool = False):
        super().__init__(level, gzip=not use_zlib)
        self.use_zlib = use_zlib

    @property
    def _decode_format(self) -> int:
        # Either wrapper is accepted: the flag only decides what we write.
        return _z.FORMAT_AUTO

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Gzip":
        level = int_member(reader, "level", -1, 9, -1)
        return cls(level, bool_member(reader, "useZlib", False))

    def params(self) -> dict[str, Any]:
        return {"level": self.level, "useZlib": self.use_zlib}
