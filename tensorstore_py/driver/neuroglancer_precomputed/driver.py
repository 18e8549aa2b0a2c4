"""An open scale of a precomputed volume: chunk format, engine hookup and introspection."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...context import Context
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedDriver, ChunkFormat
from ..kvs_backed import OpenedDriver
from .chunk_encoding import DECODERS, ENCODERS
from .metadata import MultiscaleMetadata, ScaleMetadata, resolve_scale_key
from .schema_rules import metadata_chunk_layout, metadata_codec, metadata_domain, metadata_units
from .sharded_kvstore import ShardedKvStore
from .sharding import compressed_z_index_bits, decode_compressed_z_index, encode_compressed_z_index, key_chunk_id

__all__ = ["PrecomputedDriver", "PrecomputedChunkFormat"]

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
        self._encode = ENCODERS[scale.encoding]
        self._decode = DECODERS[scale.encoding]
        self.params = {
            "block_size": scale.compressed_segmentation_block_size,
            "jpeg_quality": scale.jpeg_quality,
            "png_level": scale.png_level,
        }

    # -- keys -----------------------------------------------------------------------------------

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        if self.sharded:
            from .sharding import chunk_id_key

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

    def decode_at(self, cell, data: bytes) -> np.ndarray:
        extent = self.extent(cell)
        stored = self._decode(data, extent, self.num_channels, self.numpy_dtype, self.params)
        as_xyzc = stored.transpose(3, 2, 1, 0)
        if extent == self.chunk_shape[:3]:
            return as_xyzc
        chunk = self.new_chunk()
        chunk[: extent[0], : extent[1], : extent[2], :] = as_xyzc
        return chunk

    def encode_at(self, cell, chunk: np.ndarray) -> bytes | None:
        if not chunk.any():
            return None
        return self._encode(chunk, self.extent(cell), self.params)

    def decode_chunk(self, data: bytes, cell: tuple[int, ...]) -> np.ndarray:
        return self.decode_at(cell, data)

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes | None:
        return self.encode_at(cell, chunk)

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes:
        return self._encode(chunk, self.extent(cell), self.params)

    def new_chunk(self) -> np.ndarray:
        return np.zeros(self.chunk_shape, dtype=self.numpy_dtype, order="F")

    def component(self, chunk: np.ndarray) -> np.ndarray:
        return chunk

    def fill_value(self) -> np.ndarray:
        return np.zeros((), dtype=self.numpy_dtype)


class PrecomputedDriver(ChunkedDriver, OpenedDriver):
    driver_id = "neuroglancer_precomputed"

    def __init__(self, spec: Any, metadata: MultiscaleMetadata, scale_index: int, kvstore_driver: Any, path: str, context: Context):
        self._bind(spec, kvstore_driver, path, context)
        self.metadata = metadata
        self.scale_index = scale_index
        self.scale = metadata.scales[scale_index]
        chunk_size = list(self.scale.chunk_sizes[0])
        if spec.constraints.scale.chunk_size is not None:
            chunk_size = list(spec.constraints.scale.chunk_size)
        self.chunk_size = chunk_size
        scale_path = resolve_scale_key(path, self.scale.key) + "/"
        fmt = PrecomputedChunkFormat(metadata, self.scale, chunk_size, scale_path)
        chunk_kv = kvstore_driver
        if self.scale.sharding is not None:
            chunk_kv = ShardedKvStore(kvstore_driver, scale_path, self.scale.sharding, self.data_copy.executor)
        self.chunk_kv = chunk_kv
        self._start_engine(fmt, metadata_domain(metadata, self.scale), chunk_kv)

    @property
    def dtype(self):
        return self.metadata.dtype

    def format_members_json(self, minimal: bool) -> dict:
        j: dict[str, Any] = {"scale_index": self.scale_index}
        if not minimal:
            j["multiscale_metadata"] = {"num_channels": self.metadata.num_channels, "type": self.metadata.type}
            scale_json = self.scale.spec_json()
            scale_json["chunk_size"] = list(self.chunk_size)
            j["scale_metadata"] = scale_json
        return j

    @property
    def url_suffix(self) -> str:
        if self.scale_index != 0:
            from ...errors import invalid_argument

            raise invalid_argument("neuroglancer-precomputed URL syntax not supported with non-zero scale_index")
        return "neuroglancer-precomputed:"

    @property
    def chunk_layout(self) -> ChunkLayout:
        return metadata_chunk_layout(self.metadata, self.scale, self.chunk_size)

    @property
    def codec(self) -> CodecSpec:
        return metadata_codec(self.scale)

    @property
    def fill_value(self) -> None:
        return None

    @property
    def dimension_units(self) -> tuple:
        return metadata_units(self.scale)

    @property
    def schema(self) -> Schema:
        return Schema(
            dtype=self.dtype,
            domain=self._domain,
            chunk_layout=self.chunk_layout,
            codec=self.codec,
            dimension_units=self.dimension_units,
        )
