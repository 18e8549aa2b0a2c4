"""One n5 block on the wire: the header, then the compressed big-endian elements.

Header (all big endian): mode (uint16: 0 default, 1 varlength), number of dimensions (uint16),
the block's size along each dimension (uint32 each), and for varlength blocks the number of
elements (uint32).  The elements follow in Fortran order (first dimension fastest), compressed
as a whole by the array's compression.

TensorStore always writes full blocks, edge blocks included; Java N5 truncates edge blocks to
the array's bounds.  Both are read: a smaller block fills the low corner of the chunk and the
rest reads as zero.  Every failure is a FAILED_PRECONDITION naming what was wrong, as the
reference reports corrupt chunks; no input can crash the decoder.
"""

from __future__ import annotations

import math
import struct
import sys
from typing import Any, Sequence

import numpy as np

from ...codecs import N5Raw
from ...errors import StatusError, failed_precondition

try:
    from ..._ext import copy as _copy_ext
except ImportError:  # pragma: no cover - only before the extension is built
    _copy_ext = None

__all__ = ["BlockHeader", "decode_header", "encode_header", "decode_block", "encode_block"]

MODE_DEFAULT = 0
MODE_VARLENGTH = 1

_SWAP = sys.byteorder == "little"


class BlockHeader:
    """What a block's header says: its mode, size per dimension and payload offset."""

    __slots__ = ("mode", "shape", "num_elements", "offset")

    def __init__(self, mode: int, shape: tuple[int, ...], num_elements: int, offset: int):
        self.mode = mode
        self.shape = shape
        self.num_elements = num_elements
        self.offset = offset

    def __repr__(self) -> str:
        return f"BlockHeader(mode={self.mode}, shape={self.shape}, num_elements={self.num_elements}, offset={self.offset})"


def _vector(values: Sequence[int]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def decode_header(data: Any, block_size: Sequence[int]) -> BlockHeader:
    """Parses and checks a block header against the array's `block_size`."""
    view = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
    rank = len(block_size)
    header_size = 4 + 4 * rank
    if len(view) < header_size:
        raise failed_precondition(f"Expected header of length {header_size}, but chunk has size {len(view)}")
    mode, num_dims = struct.unpack_from(">HH", view, 0)
    if mode not in (MODE_DEFAULT, MODE_VARLENGTH):
        raise failed_precondition(f"Unexpected N5 chunk mode: {mode}")
    if num_dims != rank:
        raise failed_precondition(f"Received chunk with {num_dims} dimensions but expected {rank}")
    shape = struct.unpack_from(f">{rank}I", view, 4)
    if any(s > b for s, b in zip(shape, block_size)):
        raise failed_precondition(f"Received chunk of size {_vector(shape)} which exceeds blockSize of {_vector(block_size)}")
    count = math.prod(shape)
    offset = header_size
    if mode == MODE_VARLENGTH:
        if len(view) < header_size + 4:
            raise failed_precondition(
                f"Expected varlength header of length {header_size + 4}, but chunk has size {len(view)}"
            )
        (num_elements,) = struct.unpack_from(">I", view, header_size)
        offset += 4
        # Numeric blocks hold exactly one element per position, whatever the mode.
        if num_elements != count:
            raise failed_precondition(
                f"Varlength chunk of size {_vector(shape)} holds {num_elements} elements, but {count} were expected"
            )
    return BlockHeader(mode, tuple(shape), count, offset)


def encode_header(shape: Sequence[int]) -> bytes:
    """A default-mode header for a block of `shape`."""
    return struct.pack(f">HH{len(shape)}I", MODE_DEFAULT, len(shape), *shape)


def _byteswap_inplace(a: np.ndarray) -> None:
    if a.dtype.itemsize > 1 and _SWAP and a.size:
        if _copy_ext is not None:
            _copy_ext.strided_copy_byteswap(a, a)
        else:  # pragma: no cover
            a.byteswap(inplace=True)


def _payload_error(exc: BaseException) -> BaseException:
    message = exc.message if isinstance(exc, StatusError) else str(exc)
    return failed_precondition(message)


def _check_raw_length(available: int, offset: int, needed: int) -> None:
    # The reference's wording for a raw block of the wrong length.
    if available < needed:
        total = offset + needed
        raise failed_precondition(
            f"Not enough data: expected at least {total} or {total - offset - available} more; at byte {offset + available}"
        )
    if available > needed:
        raise failed_precondition(f"End of data expected; remaining length: {available - needed}; at byte {offset + needed}")


def decode_block(data: Any, block_size: Sequence[int], dtype: np.dtype, codec: Any) -> np.ndarray:
    """A full chunk (native byte order, Fortran layout, shape `block_size`) from block bytes."""
    header = decode_header(data, block_size)
    payload = memoryview(data)[header.offset :]
    itemsize = dtype.itemsize
    nbytes = header.num_elements * itemsize
    full = header.shape == tuple(block_size)
    if isinstance(codec, N5Raw):
        _check_raw_length(len(payload), header.offset, nbytes)
    target = np.empty(block_size if full else header.shape, dtype=dtype, order="F")
    try:
        codec.decode(payload, out=_bytes_of(target), expected_size=nbytes)
    except (ValueError, TypeError) as exc:
        raise _payload_error(exc) from None
    _byteswap_inplace(target)
    if full:
        return target
    chunk = np.zeros(block_size, dtype=dtype, order="F")
    chunk[tuple(slice(0, s) for s in header.shape)] = target
    return chunk


def encode_block(chunk: np.ndarray, codec: Any) -> bytes:
    """The block bytes (full size, default mode) of a chunk of native-order elements."""
    big = np.empty(chunk.shape, dtype=chunk.dtype.newbyteorder(">") if chunk.dtype.itemsize > 1 else chunk.dtype, order="F")
    if big.size:
        if _copy_ext is not None and big.dtype.itemsize > 1 and _SWAP:
            _copy_ext.strided_copy_byteswap(big, chunk)
        elif _copy_ext is not None:
            _copy_ext.strided_copy(big, chunk)
        else:  # pragma: no cover
            np.copyto(big, chunk, casting="unsafe")
    return encode_header(chunk.shape) + codec.encode(_bytes_of(big), big.dtype.itemsize)


def _bytes_of(a: np.ndarray) -> memoryview:
    """The raw bytes of a Fortran- or C-contiguous array, without copying."""
    flat = a.reshape(-1, order="F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
    return memoryview(flat.view(np.uint8)) if flat.size else memoryview(bytearray())
