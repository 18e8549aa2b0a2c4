"""The ``bytes`` array -> bytes codec: elements in C order with a fixed byte order.

Encoding makes at most one pass over the elements: it copies the (possibly transposed, strided)
array into a C-ordered buffer, swapping bytes on the way when the stored byte order is not the
machine's, in the GIL-free `_ext.copy` kernels.  A C-contiguous array already in the stored
byte order is handed on without a copy.  Decoding is the mirror image and writes straight into
the caller's output array.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Optional

import numpy as np

from .._ext import copy as _copy
from ..errors import failed_precondition, invalid_argument, out_of_range
from .base import Codec, as_byte_view
from .chain import ArrayToBytesCodec, Describe, format_vector

_INDEX_MAX = (1 << 63) - 1

__all__ = ["BytesCodec", "NATIVE_ENDIAN", "not_enough_data", "end_of_data_expected",
           "check_exact_size"]

NATIVE_ENDIAN = sys.byteorder


def not_enough_data(have: int, need: int) -> Exception:
    """TensorStore's message for input that ends before `need` bytes."""
    return failed_precondition(
        f"Not enough data: expected at least {need} or {need - have} more; at byte {have}")


def end_of_data_expected(have: int, need: int) -> Exception:
    """TensorStore's message for input with bytes after the `need` it should have."""
    return failed_precondition(
        f"End of data expected; remaining length: {have - need}; at byte {need}")


def check_exact_size(have: int, need: int) -> None:
    if have < need:
        raise not_enough_data(have, need)
    if have > need:
        raise end_of_data_expected(have, need)


def _byte_order_matters(dtype: np.dtype) -> bool:
    # numpy marks types whose byte order is irrelevant (1-byte, strings, raw bytes) with "|".
    return dtype.itemsize > 1 and dtype.byteorder != "|"


class BytesCodec(ArrayToBytesCodec):
    """``bytes`` with `endian` ``"little"`` / ``"big"``, or ``None`` (open, or irrelevant for
    1-byte types).  Bound copies (from `resolve`) carry `shape` and `dtype` (the decoded
    array's: native byte order unless the dtype given to `resolve` names one)."""

    def __init__(self, endian: Optional[str] = None):
        if endian not in (None, "little", "big"):
            raise invalid_argument(f"endian must be little or big, not {endian!r}")
        self.endian = endian
        self._swap = False
        self._nbytes = 0

    def __repr__(self) -> str:
        return f"BytesCodec(endian={self.endian!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is BytesCodec and other.endian == self.endian  # type: ignore

    def __hash__(self) -> int:
        return hash(("bytes", self.endian))

    @staticmethod
    def byte_order_matters(dtype: np.dtype) -> bool:
        """Whether the stored form of `dtype` depends on the byte order."""
        return _byte_order_matters(np.dtype(dtype))

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Optional[Describe] = None) -> "BytesCodec":
        dtype = np.dtype(dtype)
        matters = _byte_order_matters(dtype)
        # The decoded array keeps the byte order its dtype names (native unless explicit): a
        # format that holds chunks in their stored order (zarr v2 ">i4") then decodes with
        # no swap at all.
        if dtype.byteorder == ">":
            memory_endian = "big"
        elif dtype.byteorder == "<":
            memory_endian = "little"
        else:
            memory_endian = NATIVE_ENDIAN
        endian = self.endian
        if not matters:
            endian = None
        elif endian is None:
            if strict:
                what = describe(self) if describe else "bytes"
                raise failed_precondition(
                    f"Error resolving codec spec through codec {what}: \"bytes\" codec requires "
                    f"that \"endian\" option is specified for data type {_dtype_name(dtype)}")
            endian = "little"
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > _INDEX_MAX:
            raise out_of_range(f"Integer overflow computing encoded size of array of shape {format_vector(shape)}")
        bound = BytesCodec(endian)
        bound.shape = tuple(shape)
        bound.dtype = dtype
        bound._swap = matters and endian != memory_endian
        bound._nbytes = nbytes
        return bound

    def encoded_size(self) -> Optional[int]:
        return self._nbytes

    def view_of(self, array: np.ndarray) -> Optional[memoryview]:
        """`encode`'s bytes when they are `array`'s own memory, as a view of it; else None."""
        if self._swap or not array.flags.c_contiguous or array.shape != self.shape or array.dtype != self.dtype:
            return None
        return as_byte_view(array)

    def encode(self, array: np.ndarray) -> Any:
        if not self._swap and array.flags.c_contiguous:
            return as_byte_view(array)
        buf = np.empty(self.shape, dtype=self.dtype)
        if buf.size:
            if self._swap:
                _copy.strided_copy_byteswap(buf, array)
            else:
                _copy.strided_copy(buf, array)
        return as_byte_view(buf)

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        # bytes (what kvstores return) need no memoryview to be measured or viewed.
        src = data if type(data) is bytes else as_byte_view(data)
        check_exact_size(len(src), self._nbytes)
        stored = np.frombuffer(src, dtype=self.dtype).reshape(self.shape) if self._nbytes else \
            np.empty(self.shape, self.dtype)
        if out is None:
            if not self._swap:
                return stored
            out = np.empty(self.shape, dtype=self.dtype)
        if out.size:
            if self._swap:
                _copy.strided_copy_byteswap(out, stored)
            else:
                _copy.strided_copy(out, stored)
        return out

    def decode_into_from(self, codec: Codec, data: Any, out: Optional[np.ndarray]
                         ) -> Optional[np.ndarray]:
        # The common case without a temporary: decompress straight into the chunk's buffer,
        # then swap in place.
        if out is not None and not out.flags.c_contiguous:
            return None
        target = out if out is not None else np.empty(self.shape, dtype=self.dtype)
        if target.size:
            try:  # a fresh buffer of a dtype with a buffer format (every chunk decode comes here)
                view = memoryview(target).cast("B") if out is None else as_byte_view(target, writable=True)
            except (TypeError, ValueError):
                view = as_byte_view(target, writable=True)
            codec.decode(data, out=view, expected_size=self._nbytes)
            if self._swap:
                _copy.strided_copy_byteswap(target, target)
        else:
            codec.decode(data, expected_size=0)
        return target


def _dtype_name(dtype: np.dtype) -> str:
    from ..dtypes import from_numpy

    try:
        return from_numpy(dtype).name
    except (TypeError, ValueError):  # a numpy type TensorStore has no name for
        return str(dtype)
