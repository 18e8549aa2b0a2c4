"""An open scale of a precomputed volume: chunk format, engine hookup and introspection."""

from __future__ import annotations

from typing import Any

from ...context import Context
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedDriver
from ..kvs_backed import OpenedDriver
from .chunk_format import PrecomputedChunkFormat
from .metadata import MultiscaleMetadata, resolve_scale_key
from .schema_rules import metadata_chunk_layout, metadata_codec, metadata_domain, metadata_units
from .sharded_kvstore import ShardedKvStore

__all__ = ["PrecomputedDriver", "PrecomputedChunkFormat"]


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
