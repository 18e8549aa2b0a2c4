"""The ``crc32c`` bytes -> bytes codec: the data followed by its CRC-32C, little endian.

The checksum comes from the `_ext.crc32c` kernel: the SSE4.2 crc32 instruction in three
interleaved streams where the CPU has it, slicing-by-8 tables elsewhere, with the GIL released
on buffers of 16 KiB and more.  google-crc32c is as fast on one thread but holds the GIL, so
threads verifying shards in parallel queue behind each other (bench/bench_crc32c.py).
A mismatch is DATA_LOSS, as in TensorStore.
"""

from __future__ import annotations

import struct
from typing import Any

from .._ext import crc32c as _kernel
from ..errors import data_loss
from .base import Codec, as_byte_view

__all__ = ["Crc32cCodec", "crc32c"]

_SIZE = 4


def crc32c(data: Any) -> int:
    """The CRC-32C (Castagnoli) of a bytes-like object (any C-contiguous buffer)."""
    return _kernel.value(data)


class Crc32cCodec(Codec):
    """Appends a 4-byte little-endian CRC-32C; decoding checks and strips it."""

    kind = "crc32c"
    fixed_size_delta = _SIZE
    # A digest mismatch is DATA_LOSS in every dialect.
    keeps_data_loss = True

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        view = as_byte_view(data)
        out = bytearray(view.nbytes + _SIZE)
        out[: view.nbytes] = view
        struct.pack_into("<I", out, view.nbytes, crc32c(view))
        return out

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        if src.nbytes < _SIZE:
            # Too short to hold a digest: the next stage reports the missing bytes, as
            # TensorStore's streaming decoder does.
            return src
        body = src[: src.nbytes - _SIZE]
        (stored,) = struct.unpack_from("<I", src, src.nbytes - _SIZE)
        computed = crc32c(body)
        if stored != computed:
            raise data_loss(f"Digest mismatch, stored digest is 0x{stored:08x} but computed "
                            f"digest is 0x{computed:08x}")
        return body

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        body = self._decode(src, None)
        if body.nbytes != dst.nbytes:
            from .bytes_codec import check_exact_size

            check_exact_size(body.nbytes, dst.nbytes)
        dst[:] = body
