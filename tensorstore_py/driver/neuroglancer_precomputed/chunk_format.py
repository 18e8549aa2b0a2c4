"""How a precomputed scale stores one chunk: its key (unsharded ``x0-x1_y0-y1_z0-z1`` or a
sharded chunk id) and its encoding, the codec chain of chunk_encoding.py, resolved once per
stored extent (full chunks, and the few truncated shapes at the volume's upper edges)."""

from __future__ import annotations

import re

import numpy as np

from ...codecs import ResolvedCodecChain
from ...errors import data_loss
from ..chunked import ChunkFormat
from .chunk_encoding import precomputed_codec_chain
from .metadata import MultiscaleMetadata, ScaleMetadata
from .sharding import (
    chunk_id_key, compressed_z_index_bits, decode_compressed_z_index, encode_compressed_z_index,
    key_chunk_id,
)  # fmt: skip

__all__ = ["PrecomputedChunkFormat"]


_CHUNK_NAME = re.compile(rb"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)")


class PrecomputedChunkFormat(ChunkFormat):
    """Chunks of one scale: ``(x, y, z, channel)`` arrays in Fortran order (``[c][z][y][x]``)."""

    def __init__(self, metadata: MultiscaleMetadata, scale: ScaleMetadata, chunk_size: list[int], key_prefix: str):
        self.scale = scale
        self.num_channels = metadata.num_channels
        self.chunk_shape = tuple(chunk_size) + (metadata.num_channels,)
        self.shape = tuple(scale.size) + (metadata.num_channels,)
        self.origin = tuple(scale.voxel_offset) + (0,)
        self.numpy_dtype = np.dtype(metadata.dtype.numpy_dtype)
        self.component_covers_chunk = True
        self.key_prefix = key_prefix
        self.sharded = scale.sharding is not None
        self.z_bits = compressed_z_index_bits(scale.size, chunk_size)
        self.codecs = precomputed_codec_chain(scale)
        # raw chunks of the wrong length get the reference's own message.
        self._raw = scale.encoding == "raw"
        self._by_extent: dict[tuple[int, ...], ResolvedCodecChain] = {}

    # -- keys -----------------------------------------------------------------------------------

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        if self.sharded:
            return chunk_id_key(encode_compressed_z_index(cell[:3], self.z_bits))
        parts = []
        for i in range(3):
            lo = self.origin[i] + cell[i] * self.chunk_shape[i]
            hi = min(lo + self.chunk_shape[i], self.origin[i] + self.shape[i])
            parts.append(f"{lo}-{hi}")
        return (self.key_prefix + "_".join(parts)).encode()

    def cell_of_key(self, key: bytes) -> tuple[int, int, int] | None:
        if self.sharded:
            return decode_compressed_z_index(key_chunk_id(key), self.z_bits)
        prefix = self.key_prefix.encode()
        # "lo-hi" per dimension, where lo (with a voxel offset) may itself be negative.
        match = _CHUNK_NAME.fullmatch(key[len(prefix) :]) if key.startswith(prefix) else None
        if match is None:
            return None
        los = [int(match.group(i)) for i in (1, 3, 5)]
        cell = tuple((lo - self.origin[i]) // self.chunk_shape[i] for i, lo in enumerate(los))
        # Only the exact name the grid gives that cell (aligned, edge-clipped) is a chunk.
        return cell if self.chunk_key(cell) == key else None  # type: ignore[return-value]

    def extent(self, cell) -> tuple[int, int, int]:
        """The stored (edge-truncated) extent of a cell."""
        return tuple(  # type: ignore[return-value]
            min(self.chunk_shape[i], self.shape[i] - cell[i] * self.chunk_shape[i]) for i in range(3)
        )

    # -- codec --------------------------------------------------------------------------------

    def _chain(self, extent: tuple[int, int, int]) -> ResolvedCodecChain:
        chain = self._by_extent.get(extent)
        if chain is None:
            chain = self.codecs.resolve(extent + (self.num_channels,), self.numpy_dtype)
            self._by_extent[extent] = chain
        return chain

    def decode_chunk(self, data: bytes, cell: tuple[int, ...]) -> np.ndarray:
        extent = self.extent(cell)
        chain = self._chain(extent)
        if self._raw and len(data) != chain.decoded_nbytes:
            raise data_loss(f"Expected chunk length to be {chain.decoded_nbytes}, but received {len(data)} bytes")
        if extent == self.chunk_shape[:3]:
            return chain.decode(data)
        # An edge chunk decodes straight into the low corner of a zero chunk.
        chunk = self.new_chunk()
        chain.decode(data, chunk[: extent[0], : extent[1], : extent[2], :])
        return chunk

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes:
        ex, ey, ez = self.extent(cell)
        return self._chain((ex, ey, ez)).encode_bytes(chunk[:ex, :ey, :ez, :])

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes | None:
        if not chunk.any():
            return None
        return self.encode_full_chunk(chunk, cell)

    def new_chunk(self) -> np.ndarray:
        return np.zeros(self.chunk_shape, dtype=self.numpy_dtype, order="F")

    def component(self, chunk: np.ndarray) -> np.ndarray:
        return chunk

    def fill_value(self) -> np.ndarray:
        return np.zeros((), dtype=self.numpy_dtype)
