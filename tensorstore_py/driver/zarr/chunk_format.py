"""How zarr v2 stores one chunk: its key, its fill, and its encoding (the codec chain of
codec_chain.py, resolved once per metadata snapshot)."""

from __future__ import annotations

import numpy as np

from ...cache.metadata import remembered
from ..chunk_memory import ChunkBuffers, empty_output
from ..chunked import ChunkFormat
from .codec_chain import zarr_codec_chain
from .metadata import ZarrMetadata

__all__ = ["ZarrChunkFormat"]


def _dtypes(metadata: ZarrMetadata, field) -> tuple[np.dtype, np.dtype]:
    """(element dtype of the field, stored element dtype) of `metadata`."""
    name = field.dtype.name
    numpy_dtype = field.dtype.numpy_dtype if name not in ("char", "byte") else (
        np.dtype("S1") if name == "char" else np.dtype("V1")
    )
    return numpy_dtype, metadata.dtype.numpy_dtype


def _derived(metadata: ZarrMetadata, field_index: int) -> tuple:
    """What a chunk format takes from the metadata and field alone (see `ZarrChunkFormat`)."""
    field = metadata.dtype.fields[field_index]
    numpy_dtype, stored_dtype = _dtypes(metadata, field)
    grid_chunks = tuple(metadata.chunks)
    codecs = remembered(metadata, "codecs", lambda: zarr_codec_chain(metadata).resolve(grid_chunks, stored_dtype))
    return (
        field,
        grid_chunks + field.field_shape,
        tuple(metadata.shape) + field.field_shape,
        numpy_dtype,
        stored_dtype,
        not metadata.dtype.has_fields or len(metadata.dtype.fields) == 1,
        grid_chunks,
        codecs,
    )


class ZarrChunkFormat(ChunkFormat):
    def __init__(self, metadata: ZarrMetadata, field_index: int, key_prefix: str, separator: str):
        self.metadata = metadata
        self.field_index = field_index
        self.key_prefix = key_prefix
        self.separator = separator
        self.grid_rank = metadata.rank
        # Depends on the metadata alone: worked out once per parsed metadata (the codec chain
        # resolved included), not on every open.
        (self.field, self.chunk_shape, self.shape, self.numpy_dtype, self.stored_dtype,
         self.component_covers_chunk, self._grid_chunks, self.codecs) = remembered(
            metadata, ("format", field_index), lambda: _derived(metadata, field_index))
        self._fill_chunk: np.ndarray | None = None
        self._buffers: ChunkBuffers | None = None

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        grid = cell[: self.grid_rank]
        name = self.separator.join(str(i) for i in grid) if grid else "0"
        return (self.key_prefix + name).encode()

    def cell_of_key(self, key: bytes) -> tuple[int, ...] | None:
        prefix = self.key_prefix.encode()
        if not key.startswith(prefix):
            return None
        parts = key[len(prefix) :].split(self.separator.encode())
        if self.grid_rank == 0:
            return () if parts == [b"0"] else None
        if len(parts) != self.grid_rank or not all(p.isdigit() for p in parts):
            return None
        return tuple(int(p) for p in parts) + (0,) * len(self.field.field_shape)

    def _empty(self) -> np.ndarray:
        return empty_output(self._grid_chunks, self.stored_dtype, self.metadata.order)

    def decode_chunk(self, data: bytes, cell: tuple[int, ...] = ()) -> np.ndarray:
        if not self.codecs.bytes_to_bytes:
            # Uncompressed chunks come back as a read-only view of `data`, without a copy.
            return self.codecs.decode(data)
        buffers = self._buffers
        if buffers is None:  # (made on the first decode: most opens never decode this way)
            buffers = self._buffers = ChunkBuffers(self._empty)
        return self.codecs.decode(data, out=buffers.take())

    def decode_chunk_into(self, data: bytes, cell: tuple[int, ...], out: np.ndarray) -> bool:
        if out.dtype != self.stored_dtype:
            return False
        self.codecs.decode(data, out=out)
        return True

    def adopt_chunk(self, array: np.ndarray) -> np.ndarray | None:
        in_order = array.flags.c_contiguous if self.metadata.order == "C" else array.flags.f_contiguous
        if array.dtype != self.stored_dtype or not in_order:
            return None
        return _read_only_view(array)

    def empty_chunk(self) -> np.ndarray:
        return self._empty()

    def new_chunk(self) -> np.ndarray:
        if self._fill_chunk is None:
            chunk = self._empty()
            dtype = self.metadata.dtype
            for f, v in zip(dtype.fields, self.metadata.fill_values):
                target = chunk[f.name] if dtype.has_fields else _field_view(chunk, f)
                target[...] = 0 if v is None else v
            self._fill_chunk = chunk
        return self._fill_chunk.copy(order="K")

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes | None:
        if self._equals_fill(chunk):
            return None
        return self.encode_full_chunk(chunk, cell)

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes:
        return self.codecs.encode_bytes(chunk)

    def encode_view(self, chunk: np.ndarray) -> memoryview | None:
        return self.codecs.encode_view(chunk)

    def equals_fill(self, chunk: np.ndarray) -> bool:
        return self._equals_fill(chunk)

    def _equals_fill(self, chunk: np.ndarray) -> bool:
        """Whether the chunk is bit-for-bit the fill chunk (then it is deleted, not stored)."""
        if all(v is None for v in self.metadata.fill_values):
            return False  # a null fill value has no chunk equal to it: always stored
        fill = self.new_chunk() if self._fill_chunk is None else self._fill_chunk
        a = chunk.reshape(-1, order="A").view(np.uint8)
        b = fill.reshape(-1, order="A").view(np.uint8)
        # Real data usually differs in its first element: answer that without a full pass.
        head = self.stored_dtype.itemsize
        if a[:head].tobytes() != b[:head].tobytes():
            return False
        return bool(np.array_equal(a, b))

    def component(self, chunk: np.ndarray) -> np.ndarray:
        if self.metadata.dtype.has_fields:
            return chunk[self.field.name]
        return _field_view(chunk, self.field)

    def fill_value(self) -> np.ndarray:
        v = self.metadata.fill_values[self.field_index]
        if v is None:
            return np.zeros((), dtype=self.numpy_dtype)
        return np.asarray(v).astype(self.numpy_dtype, copy=False)


def _read_only_view(array: np.ndarray) -> np.ndarray:
    """A view that cannot modify the caller's array (merges copy read-only chunks first)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _field_view(chunk: np.ndarray, field) -> np.ndarray:
    """zarr "|S<n>"/"|V<n>" elements are exposed as n one-byte elements along a last dim."""
    if field.dtype.name in ("char", "byte") and field.field_shape:
        one = np.dtype("S1") if field.dtype.name == "char" else np.dtype("V1")
        return chunk.view(one).reshape(chunk.shape + field.field_shape)
    return chunk

