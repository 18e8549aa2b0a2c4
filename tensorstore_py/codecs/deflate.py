"""DEFLATE codecs (zarr ``zlib`` / ``gzip``, n5 ``gzip``) on the Cython zlib kernel.

The kernel releases the GIL for the whole inflate/deflate loop and decodes straight into the
caller's buffer, so chunk decoding on the data-copy executor runs in parallel.
"""

from __future__ import annotations

from typing import Any

from .._ext import zlib_codec as _z
from ..errors import data_loss
from ..json_util import ObjectReader
from .base import N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, as_byte_view, int_member, bool_member

__all__ = ["DeflateCodec", "RawDeflateCodec", "ZarrZlib", "ZarrGzip", "N5Gzip"]


class DeflateCodec(Codec):
    """DEFLATE with a zlib or gzip wrapper.

    Encoding writes the wrapper named by `gzip`; decoding a gzip-labelled chunk also accepts a
    zlib wrapper (zlib detects the header), and concatenated gzip members, as gzip tools do.
    """

    def __init__(self, level: int, gzip: bool):
        self.level = level
        self.gzip = gzip

    @property
    def _decode_format(self) -> int:
        return _z.FORMAT_AUTO if self.gzip else _z.FORMAT_ZLIB

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        fmt = _z.FORMAT_GZIP if self.gzip else _z.FORMAT_ZLIB
        return _z.compress(as_byte_view(data), self.level, fmt)

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        if expected_size is not None:
            out = bytearray(expected_size)
            self._decode_into(src, memoryview(out))
            return out
        try:
            return _z.decompress(src, self._decode_format, self.gzip)
        except _z.ZlibError as exc:
            raise data_loss(f"Error decoding {self.kind} data: {exc}") from None

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
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
        return _z.compress(as_byte_view(data), self.level, _z.FORMAT_RAW)


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
