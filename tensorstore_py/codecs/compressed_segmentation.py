"""The compressed_segmentation array -> bytes codec (Neuroglancer's label encoding).

The codec takes a ``(channel, z, y, x)`` array of uint32 or uint64 labels, C-ordered as the
format lays it out, and stores each channel as a grid of blocks of ``block_size`` voxels
(given ``(bx, by, bz)``, fastest dimension first, as Neuroglancer spells it), each block a
table of its distinct labels plus bit-packed indices into it.  The kernels are in
``_ext/compressed_segmentation.pyx`` (GIL released, every offset checked against the
buffer); they read and write any strides, so decoding goes straight into the caller's array.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .._ext import compressed_segmentation as _cseg
from ..errors import invalid_argument
from .chain import ArrayToBytesCodec, Describe, format_vector

__all__ = ["CompressedSegmentationCodec"]

_LABEL_TYPES = (np.dtype(np.uint32), np.dtype(np.uint64))


class CompressedSegmentationCodec(ArrayToBytesCodec):
    """compressed_segmentation with blocks of `block_size` = ``(bx, by, bz)`` voxels."""

    def __init__(self, block_size: Sequence[int]):
        block = tuple(int(b) for b in block_size)
        if len(block) != 3 or any(b <= 0 for b in block):
            raise invalid_argument(f"block_size must be 3 positive integers, not {list(block)}")
        self.block_size = block

    def __repr__(self) -> str:
        return f"CompressedSegmentationCodec({list(self.block_size)})"

    def __eq__(self, other: object) -> bool:
        return (type(other) is CompressedSegmentationCodec
                and other.block_size == self.block_size)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(("compressed_segmentation", self.block_size))

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Optional[Describe] = None
                ) -> "CompressedSegmentationCodec":
        dtype = np.dtype(dtype)
        if len(shape) != 4:
            raise invalid_argument("compressed_segmentation requires a (channel, z, y, x) "
                                   f"array, not shape {format_vector(shape)}")
        if dtype.newbyteorder("=") not in _LABEL_TYPES:
            raise invalid_argument(
                f"compressed_segmentation requires uint32 or uint64 labels, not {dtype}")
        bound = CompressedSegmentationCodec(self.block_size)
        bound.shape = tuple(int(s) for s in shape)
        bound.dtype = dtype.newbyteorder("=")
        return bound

    def encode(self, array: np.ndarray) -> bytes:
        return _cseg.encode(array, self.block_size)

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        if out is not None and out.dtype != self.dtype:
            out[...] = _cseg.decode(data, self.shape, self.block_size, self.dtype)
            return out
        return _cseg.decode(data, self.shape, self.block_size, self.dtype, out)
