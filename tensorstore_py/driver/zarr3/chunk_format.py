"""How zarr v3 stores one chunk: its key and its codec chain.

Unsharded, a grid cell is one stored value under its chunk key (`c/1/2`, `1.2` ...).  Sharded,
the engine's grid is the innermost sub-chunk grid and a cell's key names the shard plus the
sub-chunk's position in it (see sharded_store.py); the chunk bytes are encoded with the
innermost codec chain.  Either way edge chunks are stored whole, padded with the fill value.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..chunk_memory import ChunkBuffers, empty_output
from ..chunked import ChunkFormat
from .metadata import Zarr3Metadata

__all__ = ["Zarr3ChunkFormat", "entry_suffix", "split_entry_key"]


def entry_suffix(position: tuple[int, ...]) -> bytes:
    """A sub-chunk's position within its shard as a key suffix (big-endian uint32 per dim)."""
    return struct.pack(f">{len(position)}I", *position)


def split_entry_key(key: bytes, rank: int) -> tuple[bytes, tuple[int, ...]]:
    """(shard key, position) of a sub-chunk key made by `entry_suffix`."""
    n = 4 * rank
    if len(key) < n:
        raise ValueError(f"Invalid sub-chunk key: {key!r}")
    return key[: len(key) - n], struct.unpack(f">{rank}I", key[len(key) - n :]) if rank else ()


class Zarr3ChunkFormat(ChunkFormat):
    """The engine's view of one zarr3 array (one metadata snapshot).

    `chain` is the resolved codec chain of one engine chunk: the whole chain when unsharded,
    the innermost shard's inner chain when sharded.  A sharded cell's key is its shard's key
    followed by its position at every sharding level (see sharded_store.py).
    """

    def __init__(self, metadata: Zarr3Metadata, key_prefix: str, chain: Any, levels: list[tuple[int, ...]]):
        self.metadata = metadata
        self.key_prefix = key_prefix
        self.chain = chain
        write = tuple(metadata.chunk_shape)
        #: Sub-chunk shapes of the sharding levels, outermost first (empty: unsharded).
        self.levels = [tuple(s) for s in levels]
        self._outer = [write] + self.levels[:-1]
        self.chunk_shape = self.levels[-1] if self.levels else write
        self.shape = tuple(metadata.shape)
        self.numpy_dtype = metadata.dtype.numpy_dtype
        self.shard_shape = tuple(w // r for w, r in zip(write, self.chunk_shape)) if self.levels else None
        self._write = write
        self._encoding = metadata.chunk_key_encoding
        self._fill = np.asarray(metadata.fill_value, dtype=self.numpy_dtype)
        self._fill_chunk: np.ndarray | None = None
        self._fill_bytes: np.ndarray | None = None
        shape, dtype = self.chunk_shape, self.numpy_dtype
        self._buffers = ChunkBuffers(lambda: np.empty(shape, dtype=dtype))

    # -- keys --------------------------------------------------------------------------------

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        if self.shard_shape is None:
            return (self.key_prefix + self._encoding.key(cell)).encode()
        origin = [c * r for c, r in zip(cell, self.chunk_shape)]
        shard = tuple(o // w for o, w in zip(origin, self._write))
        key = (self.key_prefix + self._encoding.key(shard)).encode()
        for big, small in zip(self._outer, self.levels):
            key += entry_suffix(tuple((o % b) // s for o, b, s in zip(origin, big, small)))
        return key

    def shard_key(self, shard: tuple[int, ...]) -> bytes:
        return (self.key_prefix + self._encoding.key(shard)).encode()

    def cell_of_key(self, key: bytes) -> tuple[int, ...] | None:
        # Stored keys (from a listing) name whole write chunks: map one to its first cell.
        prefix = self.key_prefix.encode()
        if not key.startswith(prefix):
            return None
        try:
            name = key[len(prefix) :].decode()
        except UnicodeDecodeError:
            return None
        grid = self._encoding.cell_of(name, len(self.shape))
        if grid is None or self.shard_shape is None:
            return grid
        return tuple(g * s for g, s in zip(grid, self.shard_shape))

    def describe_chunk(self, cell: tuple[int, ...]) -> str:
        from ...json_util import dumps

        if self.shard_shape is None:
            return super().describe_chunk(cell)
        shard = tuple(c // s for c, s in zip(cell, self.shard_shape))
        return dumps((self.key_prefix + self._encoding.key(shard)))

    # -- data --------------------------------------------------------------------------------

    def decode_chunk(self, data: bytes, cell: tuple[int, ...] = ()) -> np.ndarray:
        return self.chain.decode(data, self._buffers.take())

    def decode_chunk_into(self, data: bytes, cell: tuple[int, ...], out: np.ndarray) -> bool:
        if out.dtype != self.numpy_dtype:
            return False
        self.chain.decode(data, out)
        return True

    def adopt_chunk(self, array: np.ndarray) -> np.ndarray | None:
        if array.dtype != self.numpy_dtype or not array.flags.c_contiguous:
            return None
        view = array.view()
        view.flags.writeable = False  # merges copy read-only chunks first: the caller's array stays
        return view

    def empty_chunk(self) -> np.ndarray:
        # A write that covers the chunk overwrites every element: no fill value to copy in.
        return empty_output(self.chunk_shape, self.numpy_dtype)

    def new_chunk(self) -> np.ndarray:
        if self._fill_chunk is None:
            chunk = np.empty(self.chunk_shape, dtype=self.numpy_dtype)
            chunk[...] = self._fill
            self._fill_chunk = chunk
        return self._fill_chunk.copy()

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes | None:
        if self._equals_fill(chunk):
            return None
        return self.encode_full_chunk(chunk, cell)

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes | None:
        data = self.chain.encode(chunk)
        if data is None:
            return None
        return data if isinstance(data, bytes) else bytes(data)

    def encode_view(self, chunk: np.ndarray) -> memoryview | None:
        return self.chain.encode_view(chunk)

    def equals_fill(self, chunk: np.ndarray) -> bool:
        return self._equals_fill(chunk)

    def _equals_fill(self, chunk: np.ndarray) -> bool:
        """Bit-for-bit the fill value everywhere (then nothing is stored, as in TensorStore)."""
        if chunk.size == 0:
            return True
        itemsize = chunk.dtype.itemsize
        fill = self._fill.reshape(1).view(np.uint8)
        flat = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
        if flat[:itemsize].tobytes() != fill.tobytes():
            return False
        if self._fill_bytes is None:
            self._fill_bytes = self.new_chunk().reshape(-1).view(np.uint8)
        return bool(np.array_equal(flat, self._fill_bytes))

    def component(self, chunk: np.ndarray) -> np.ndarray:
        return chunk

    def fill_value(self) -> np.ndarray:
        return self._fill
