"""One n5 block on the wire: the header, then the compressed big-endian elements; and the n5
dialect of the codec chain that reads and writes it.

Header (all big endian): mode (uint16: 0 default, 1 varlength), number of dimensions (uint16),
the block's size along each dimension (uint32 each), and for varlength blocks the number of
elements (uint32).  The elements follow in Fortran order (first dimension fastest), compressed
as a whole by the array's compression.

TensorStore always writes full blocks, edge blocks included; Java N5 truncates edge blocks to
the array's bounds.  Both are read: a smaller block fills the low corner of the chunk and the
rest reads as zero.  Every failure is a FAILED_PRECONDITION naming what was wrong, as the
reference reports corrupt chunks; no input can crash the decoder.

As a codec chain (`n5_codec_chain`): a `TransposeCodec` "F" (the first dimension varies
fastest), then `N5BlockCodec`, the array -> bytes codec that writes the header and hands the
elements to its own inner chain, `BytesCodec` "big" plus the ``compression`` as the bytes ->
bytes codec.  The compression sits inside the block codec, not after it, because the header
is stored uncompressed in front of the compressed elements.  ``raw`` is no codec at all.
Chunks are held in memory in native byte order and Fortran layout, so decoding is one
decompression into the chunk's buffer plus an in-place byte swap.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Sequence

import numpy as np

from ...codecs import BytesCodec, Codec, CodecChain, N5Raw, ResolvedCodecChain, TransposeCodec
from ...codecs.chain import ArrayToBytesCodec, Describe
from ...errors import StatusError, failed_precondition

__all__ = ["BlockHeader", "decode_header", "encode_header", "decode_block", "encode_block",
           "N5BlockCodec", "n5_codec_chain"]

MODE_DEFAULT = 0
MODE_VARLENGTH = 1

# Distinct truncated block shapes whose inner chains are kept (edge blocks have few shapes;
# corrupt headers could name any number).
_MAX_CACHED_SHAPES = 16


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


def _payload_error(exc: BaseException) -> BaseException:
    message = exc.message if isinstance(exc, StatusError) else str(exc)
    return failed_precondition(message)


def _check_raw_length(available: int, offset: int, needed: int) -> None:
    # The reference's wording for a raw block of the wrong length, counted from the block's
    # start.
    if available < needed:
        total = offset + needed
        raise failed_precondition(
            f"Not enough data: expected at least {total} or {total - offset - available} more; at byte {offset + available}"
        )
    if available > needed:
        raise failed_precondition(f"End of data expected; remaining length: {available - needed}; at byte {offset + needed}")


class N5BlockCodec(ArrayToBytesCodec):
    """The n5 block: header, then the elements big endian, compressed by `compression`
    (``None`` or `N5Raw`: stored as they are).

    It receives the chunk C-ordered with the dimensions reversed (after the chain's transpose),
    so the header lists the block's sizes fastest dimension first, as n5 does.
    """

    def __init__(self, compression: Codec | None):
        self.compression = None if isinstance(compression, N5Raw) else compression
        self._inner: ResolvedCodecChain | None = None
        self._by_shape: dict[tuple[int, ...], ResolvedCodecChain] = {}
        self._block_size: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"N5BlockCodec({self.compression!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is N5BlockCodec and other.compression == self.compression  # type: ignore

    def __hash__(self) -> int:
        return hash(("n5_block", self.compression))

    def _inner_chain(self) -> CodecChain:
        return CodecChain([], BytesCodec("big"), [] if self.compression is None else [self.compression])

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Describe | None = None) -> "N5BlockCodec":
        bound = N5BlockCodec(self.compression)
        bound._inner = self._inner_chain().resolve(shape, dtype)
        bound.shape = bound._inner.shape
        bound.dtype = bound._inner.dtype
        bound._block_size = tuple(reversed(bound.shape))
        return bound

    def _chain_for(self, stored: tuple[int, ...]) -> ResolvedCodecChain:
        """The inner chain of a truncated block of `stored` shape (C order, reversed dims)."""
        chain = self._by_shape.get(stored)
        if chain is None:
            chain = self._inner_chain().resolve(stored, self.dtype)
            if len(self._by_shape) < _MAX_CACHED_SHAPES:
                self._by_shape[stored] = chain
        return chain

    def encode(self, array: np.ndarray) -> bytes:
        payload = self._inner.encode(array)  # type: ignore[union-attr]
        return encode_header(self._block_size) + payload

    def decode(self, data: Any, out: np.ndarray | None = None) -> np.ndarray:
        header = decode_header(data, self._block_size)
        payload = memoryview(data)[header.offset :]
        stored = tuple(reversed(header.shape))
        full = stored == self.shape
        chain = self._inner if full else self._chain_for(stored)
        if self.compression is None:
            _check_raw_length(len(payload), header.offset, chain.decoded_nbytes)  # type: ignore[union-attr]
        try:
            if full:
                return chain.decode(payload, out)  # type: ignore[union-attr]
            if out is None:
                out = np.zeros(self.shape, self.dtype)
            else:
                out[...] = 0
            chain.decode(payload, out[tuple(slice(0, s) for s in stored)])  # type: ignore[union-attr]
            return out
        except (ValueError, TypeError) as exc:
            raise _payload_error(exc) from None


def n5_codec_chain(compression: Codec | None) -> CodecChain:
    """The codec chain of n5 blocks compressed with `compression` (an n5 ``compression``
    codec; `N5Raw` or ``None``: uncompressed).  Resolve it with the block size and the
    array's native dtype."""
    return CodecChain([TransposeCodec("F")], N5BlockCodec(compression), [])


def decode_block(data: Any, block_size: Sequence[int], dtype: np.dtype, codec: Any) -> np.ndarray:
    """A full chunk (native byte order, Fortran layout, shape `block_size`) from block bytes."""
    return n5_codec_chain(codec).resolve(tuple(block_size), dtype).decode(data)


def encode_block(chunk: np.ndarray, codec: Any) -> bytes:
    """The block bytes (full size, default mode) of a chunk of native-order elements."""
    return n5_codec_chain(codec).resolve(chunk.shape, chunk.dtype).encode_bytes(chunk)
