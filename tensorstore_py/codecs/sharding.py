"""The zarr v3 ``sharding_indexed`` array -> bytes codec and the shard format.

A shard is one stored object holding a grid of inner chunks (``grid_shape`` = shard shape /
inner chunk shape).  Its index is an array of shape ``grid_shape + (2,)`` of uint64
``(offset, nbytes)`` pairs, one per inner chunk in C order, with ``(2**64-1, 2**64-1)`` for a
chunk that is not stored; it is encoded with the index codec chain (``bytes`` and optionally
``crc32c``: it must have a fixed size) and placed at the start or the end of the shard.  Inner
chunks are encoded with the inner codec chain and laid out in C order of their grid position
after (or before) the index; offsets count from the start of the shard.  Inner chunks equal to
the fill value are not stored, and a shard without stored chunks is not stored at all.

For a kvstore adapter that reads only what it needs:

* `ShardingCodec.index_nbytes` and ``index_location``: read ``[0, n)`` or the suffix of ``n``
  bytes;
* `ShardingCodec.decode_index(index_bytes, shard_size)` -> `ShardIndex`, whose
  ``entry(i)`` / ``entry_for(cell)`` give each inner chunk's ``(offset, nbytes)`` or ``None``;
* `ShardingCodec.encode_shard({cell: bytes})` builds a whole shard from encoded inner chunks
  (`encode_shard_parts`: the same as its pieces, for a kvstore that writes them unjoined), and ``inner`` (a `ResolvedCodecChain`) encodes and decodes one inner chunk.

Errors follow TensorStore: a shard shorter than its index, a bad index checksum and index
entries outside the shard are DATA_LOSS; a wrongly sized index encoding is FAILED_PRECONDITION.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .._ext import copy as _copy
from ..errors import StatusError, data_loss, invalid_argument
from ..kvstore.byte_parts import ByteParts
from .base import as_byte_view
from .chain import ArrayToBytesCodec, CodecChain, Describe, ResolvedCodecChain, format_vector

__all__ = ["ShardingCodec", "ShardIndex", "MISSING", "INDEX_LOCATIONS"]

#: The offset and length of an inner chunk that is not stored.
MISSING = (1 << 64) - 1
INDEX_LOCATIONS = ("start", "end")
_INT64_MAX = (1 << 63) - 1
# TensorStore words index chain errors as resolution, not propagation, errors.
_PROPAGATING = "Error propagating data type and shape through"
_RESOLVING = "Error resolving codec spec through"

Cell = Union[int, Sequence[int]]


class ShardIndex:
    """The decoded index of one shard: ``(offset, nbytes)`` per inner chunk, in C order.

    Entries are checked when they are used (`entry`), as TensorStore does, so one bad entry
    fails only the reads that need it; `check_all` checks every one.
    """

    __slots__ = ("table", "grid_shape", "shard_size")

    def __init__(self, table: np.ndarray, grid_shape: tuple[int, ...],
                 shard_size: Optional[int] = None):
        #: uint64 array of shape (number of inner chunks, 2).
        self.table = table
        self.grid_shape = grid_shape
        #: Size of the whole shard, when known: entries must lie inside it.
        self.shard_size = shard_size

    def __len__(self) -> int:
        return self.table.shape[0]

    def linear(self, cell: Cell) -> int:
        if isinstance(cell, (int, np.integer)):
            return int(cell)
        return int(np.ravel_multi_index(tuple(cell), self.grid_shape)) if self.grid_shape else 0

    def entry(self, i: int) -> Optional[tuple[int, int]]:
        """``(offset, nbytes)`` of inner chunk `i` (C-order position), or ``None`` if missing."""
        offset, nbytes = int(self.table[i, 0]), int(self.table[i, 1])
        if offset == MISSING and nbytes == MISSING:
            return None
        if offset > _INT64_MAX or nbytes > _INT64_MAX or offset + nbytes > _INT64_MAX:
            raise data_loss(f"Invalid shard index entry {i} with offset={offset}, "
                            f"length={nbytes}")
        if self.shard_size is not None and offset + nbytes > self.shard_size:
            raise data_loss(f"Shard index entry {i} with byte range [{offset}, "
                            f"{offset + nbytes}) is invalid for shard of size {self.shard_size}")
        return offset, nbytes

    def entry_for(self, cell: Cell) -> Optional[tuple[int, int]]:
        return self.entry(self.linear(cell))

    def check_all(self) -> None:
        for i in range(len(self)):
            self.entry(i)

    def present(self) -> list[int]:
        """Positions of the stored inner chunks."""
        missing = (self.table[:, 0] == MISSING) & (self.table[:, 1] == MISSING)
        return [int(i) for i in np.flatnonzero(~missing)]

    def is_empty(self) -> bool:
        return not self.present()


class ShardingCodec(ArrayToBytesCodec):
    """``sharding_indexed``: `chunk_shape` (inner chunk), `codecs` (inner chain),
    `index_codecs` (index chain), `index_location` ``"start"`` / ``"end"``.

    Any option may be ``None`` in a constraint; `resolve` uses the plain ``bytes`` codec for a
    missing chain and ``"end"`` for the location (a dialect fills its own defaults first).
    """

    is_sharding = True

    def __init__(self, chunk_shape: Optional[Sequence[int]], codecs: Optional[CodecChain] = None,
                 index_codecs: Optional[CodecChain] = None,
                 index_location: Optional[str] = None):
        if index_location is not None and index_location not in INDEX_LOCATIONS:
            raise invalid_argument(f'Expected one of "start", "end", but received: '
                                   f'"{index_location}"')
        self.chunk_shape = None if chunk_shape is None else tuple(int(s) for s in chunk_shape)
        self.codecs = codecs
        self.index_codecs = index_codecs
        self.index_location = index_location
        # Set by `resolve`:
        self.grid_shape: tuple[int, ...] = ()
        self.inner: ResolvedCodecChain
        self.index_chain: ResolvedCodecChain
        self.index_nbytes = 0
        self._fill_bytes = b""

    def __repr__(self) -> str:
        return (f"ShardingCodec(chunk_shape={self.chunk_shape!r}, codecs={self.codecs!r}, "
                f"index_codecs={self.index_codecs!r}, index_location={self.index_location!r})")

    def __eq__(self, other: object) -> bool:
        return type(other) is ShardingCodec and (
            (self.chunk_shape, self.codecs, self.index_codecs, self.index_location)
            == (other.chunk_shape, other.codecs, other.index_codecs,  # type: ignore
                other.index_location))  # type: ignore

    def __hash__(self) -> int:
        return hash(("sharding_indexed", self.chunk_shape, self.index_location))

    # ------------------------------------------------------------------------------------------
    # Resolution.

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any = None,
                strict: bool = False, describe: Optional[Describe] = None) -> "ShardingCodec":
        describe = describe or repr
        shape = tuple(shape)
        dtype = np.dtype(dtype)
        # Without a sub-chunk shape the shard is one inner chunk, as TensorStore chooses.
        chunk_shape = self.chunk_shape if self.chunk_shape is not None else shape
        if len(chunk_shape) != len(shape):
            raise invalid_argument(
                f"Error propagating chunk layout through codec {describe(self)}: "
                f"sharding_indexed sub-chunk shape of {format_vector(self.chunk_shape)} is not "
                f"compatible with array of rank {len(shape)}")
        fill = np.zeros((), dtype) if fill_value is None else np.asarray(fill_value, dtype)
        bound = ShardingCodec(chunk_shape, self.codecs, self.index_codecs,
                              self.index_location or "end")
        bound.shape = shape
        bound.dtype = dtype
        bound.grid_shape = tuple(-(-s // c) for s, c in zip(shape, chunk_shape))
        inner = self.codecs if self.codecs is not None else CodecChain(describe=describe)
        try:
            bound.inner = inner.resolve(chunk_shape, dtype, fill, strict=strict)
        except StatusError as exc:
            if "does not evenly divide" in exc.message:
                raise
            if exc.message.startswith(_RESOLVING):
                raise exc.with_prefix(f"{_RESOLVING} codec {describe(self)}: Error resolving "
                                      "sub-chunk codecs") from None
            raise exc.with_prefix(
                f"Error propagating chunk layout through codec {describe(self)}") from None
        index = self.index_codecs if self.index_codecs is not None else CodecChain(
            describe=describe)
        try:
            bound.index_chain = index.resolve(bound.grid_shape + (2,), np.uint64, strict=strict)
        except StatusError as exc:
            message = exc.message
            if message.startswith(_PROPAGATING):
                message = _RESOLVING + message[len(_PROPAGATING):]
            raise type(exc)(exc.code, f"{_RESOLVING} codec {describe(self)}: Error resolving "
                                      f"index_codecs: {message}") from None
        size = bound.index_chain.encoded_size()
        if size is None:
            raise invalid_argument(
                "Invalid index_codecs specified: only fixed-size encodings are supported")
        bound.index_nbytes = size
        bound._fill_bytes = np.ascontiguousarray(fill).tobytes()
        return bound

    def late_check(self) -> None:
        """The sub-chunk shape must divide the shard shape (checked after the chain's other
        checks, in TensorStore's order)."""
        if any(s % c for c, s in zip(self.chunk_shape, self.shape)):  # type: ignore[arg-type]
            raise invalid_argument(
                f"sharding_indexed sub-chunk shape of {format_vector(self.chunk_shape)} does not "
                f"evenly divide chunk shape of {format_vector(self.shape)}")

    @property
    def num_inner(self) -> int:
        return math.prod(self.grid_shape)

    def cells(self) -> Iterable[tuple[int, ...]]:
        """Grid positions of the inner chunks, in C (storage) order."""
        return itertools.product(*(range(g) for g in self.grid_shape))

    def inner_slices(self, cell: Sequence[int]) -> tuple[slice, ...]:
        return tuple(slice(i * c, (i + 1) * c) for i, c in zip(cell, self.chunk_shape))

    # ------------------------------------------------------------------------------------------
    # The index.

    def index_range(self, shard_size: int) -> tuple[int, int]:
        """``[start, stop)`` of the index inside a shard of `shard_size` bytes."""
        if self.index_location == "start":
            return 0, self.index_nbytes
        return shard_size - self.index_nbytes, shard_size

    def index_bytes_of(self, shard: Any) -> memoryview:
        """The index part of a whole shard (DATA_LOSS when the shard is too short)."""
        view = as_byte_view(shard)
        if view.nbytes < self.index_nbytes:
            raise data_loss(f"Existing shard has size of {view.nbytes} bytes, but expected at "
                            f"least {self.index_nbytes} bytes")
        start, stop = self.index_range(view.nbytes)
        return view[start:stop]

    def decode_index(self, index_bytes: Any, shard_size: Optional[int] = None) -> ShardIndex:
        """Decodes the index bytes of a shard (see `ShardIndex`)."""
        try:
            table = self.index_chain.decode(index_bytes)
        except StatusError as exc:
            raise exc.with_prefix("Error decoding shard index") from None
        return ShardIndex(np.asarray(table, dtype=np.uint64).reshape(-1, 2), self.grid_shape,
                          shard_size)

    def read_index(self, shard: Any) -> ShardIndex:
        """The checked-size index of a whole shard held in memory."""
        view = as_byte_view(shard)
        return self.decode_index(self.index_bytes_of(view), view.nbytes)

    def encode_index(self, table: np.ndarray) -> Any:
        return self.index_chain.encode(table.reshape(self.grid_shape + (2,)))

    # ------------------------------------------------------------------------------------------
    # Whole shards from encoded inner chunks.

    def encode_shard(self, chunks: Mapping[Cell, Any]) -> Optional[bytes]:
        """A shard holding the encoded inner chunks `chunks` ({grid cell or C-order position:
        bytes}; ``None`` values are skipped), or ``None`` when no chunk is stored."""
        parts = self.encode_shard_parts(chunks)
        return None if parts is None else bytes(parts)

    def encode_shard_parts(self, chunks: Mapping[Cell, Any]) -> Optional[ByteParts]:
        """`encode_shard` as the shard's pieces in their stored order, not joined (for a
        kvstore that writes them as they are: no copy of the shard)."""
        n = self.num_inner
        by_pos: dict[int, memoryview] = {}
        for cell, data in chunks.items():
            if data is None:
                continue
            pos = int(cell) if isinstance(cell, (int, np.integer)) else (
                int(np.ravel_multi_index(tuple(cell), self.grid_shape)) if self.grid_shape else 0)
            if not 0 <= pos < n:
                raise invalid_argument(f"Inner chunk {cell} is outside the shard grid "
                                       f"{format_vector(self.grid_shape)}")
            by_pos[pos] = as_byte_view(data)
        if not by_pos:
            return None
        table = np.full((n, 2), MISSING, dtype=np.uint64)
        order = sorted(by_pos)
        offset = self.index_nbytes if self.index_location == "start" else 0
        for pos in order:
            size = by_pos[pos].nbytes
            table[pos, 0] = offset
            table[pos, 1] = size
            offset += size
        index = as_byte_view(self.encode_index(table))
        pieces = [by_pos[pos] for pos in order]
        if self.index_location == "start":
            pieces.insert(0, index)
        else:
            pieces.append(index)
        return ByteParts(pieces)

    def split_shard(self, shard: Any) -> dict[int, memoryview]:
        """{C-order position: encoded inner chunk} of every stored chunk of a whole shard."""
        view = as_byte_view(shard)
        index = self.read_index(view)
        out = {}
        for pos in index.present():
            offset, nbytes = index.entry(pos)  # type: ignore[misc]
            out[pos] = view[offset: offset + nbytes]
        return out

    # ------------------------------------------------------------------------------------------
    # The array -> bytes codec interface (a whole shard at once).

    def encoded_size(self) -> Optional[int]:
        return None

    def _is_fill(self, block: np.ndarray) -> bool:
        # Bit-for-bit, as stored: a NaN fill value matches NaN data.
        flat = np.ascontiguousarray(block).reshape(-1)
        if not flat.size:
            return True
        itemsize = self.dtype.itemsize
        as_bytes = flat.view(np.uint8).reshape(-1, itemsize)
        fill = np.frombuffer(self._fill_bytes, dtype=np.uint8)
        return bool((as_bytes == fill).all())

    def encode(self, array: np.ndarray) -> Optional[bytes]:
        chunks: dict[int, Any] = {}
        for pos, cell in enumerate(self.cells()):
            block = array[self.inner_slices(cell)]
            if self._is_fill(block):
                continue
            data = self.inner.encode(block)
            if data is not None:
                chunks[pos] = data
        return self.encode_shard(chunks)

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        view = as_byte_view(data)
        index = self.read_index(view)
        if out is None:
            out = np.empty(self.shape, dtype=self.dtype)
        fill = np.frombuffer(self._fill_bytes, dtype=self.dtype).reshape(())
        for pos, cell in enumerate(self.cells()):
            target = out[self.inner_slices(cell)]
            entry = index.entry(pos)
            if entry is None:
                if target.size:
                    _copy.strided_fill(target, fill)
                continue
            offset, nbytes = entry
            self.inner.decode(view[offset: offset + nbytes], out=target)
        return out
