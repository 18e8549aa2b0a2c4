"""How n5 stores one chunk: key `"i/j/k"`, block header, big-endian Fortran-order elements."""

from __future__ import annotations

import numpy as np

from ...cache.metadata import remembered
from ..chunked import ChunkFormat
from .block import n5_codec_chain
from .metadata import N5Metadata

__all__ = ["N5ChunkFormat"]


class N5ChunkFormat(ChunkFormat):
    """The engine's view of one n5 array (one metadata snapshot).

    Chunks are held in memory in native byte order and Fortran layout, the layout of the block
    on disk, so decoding is a decompression plus an in-place byte swap (the codec chain of
    block.py, resolved once per metadata snapshot).
    """

    def __init__(self, metadata: N5Metadata, key_prefix: str):
        self.metadata = metadata
        self.key_prefix = key_prefix
        self.chunk_shape = tuple(metadata.chunk_shape)
        self.shape = tuple(metadata.shape)
        self.numpy_dtype = metadata.dtype.numpy_dtype
        # Depends on the metadata alone: resolved once per parsed metadata, not on every open.
        self.codecs = remembered(
            metadata, "codecs", lambda: n5_codec_chain(metadata.compressor).resolve(self.chunk_shape, self.numpy_dtype)
        )
        self._zero = np.zeros((), dtype=self.numpy_dtype)

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        # Rank 0 arrays have a single chunk named "0", as in TensorStore.
        name = "/".join(str(i) for i in cell) if cell else "0"
        return (self.key_prefix + name).encode()

    def cell_of_key(self, key: bytes) -> tuple[int, ...] | None:
        prefix = self.key_prefix.encode()
        if not key.startswith(prefix):
            return None
        parts = key[len(prefix) :].split(b"/")
        rank = len(self.chunk_shape)
        if rank == 0:
            return () if parts == [b"0"] else None
        if len(parts) != rank or not all(p.isdigit() for p in parts):
            return None
        return tuple(int(p) for p in parts)

    def decode_chunk(self, data: bytes, cell: tuple[int, ...] = ()) -> np.ndarray:
        return self.codecs.decode(data)

    def new_chunk(self) -> np.ndarray:
        return np.zeros(self.chunk_shape, dtype=self.numpy_dtype, order="F")

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes | None:
        # n5 has no fill value: a chunk whose bytes are all zero is not stored (it reads back as
        # zeros).  Bytes, not values, as TensorStore compares: -0.0 is stored.
        if not _bytes(chunk).any():
            return None
        return self.codecs.encode_bytes(chunk)

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...] = ()) -> bytes:
        return self.codecs.encode_bytes(chunk)

    def component(self, chunk: np.ndarray) -> np.ndarray:
        return chunk

    def fill_value(self) -> np.ndarray:
        return self._zero


def _bytes(chunk: np.ndarray) -> np.ndarray:
    flat = chunk.reshape(-1, order="F" if chunk.flags.f_contiguous else "C")
    if not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat)
    return flat.view(np.uint8)
