"""An open zarr3 array: what a `TensorStore` of driver "zarr3" delegates to."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...cache.metadata import remembered
from ...context import Context
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedDriver
from ..kvs_backed import OpenedDriver
from .chunk_format import Zarr3ChunkFormat
from .metadata import Zarr3Metadata
from .spec import Zarr3Spec, layout_of_codecs

__all__ = ["Zarr3Driver"]


def _levels(resolved: Any) -> list:
    """The bound sharding codecs from the outermost in, and the chain of the innermost chunks."""
    levels = []
    chain = resolved
    while getattr(chain.array_to_bytes, "is_sharding", False):
        levels.append(chain.array_to_bytes)
        chain = chain.array_to_bytes.inner
    return levels


class Zarr3Driver(ChunkedDriver, OpenedDriver):
    """Reads and writes one zarr3 array through the chunked engine.

    Sharded arrays are read and written per innermost sub-chunk through a `ShardedStore` per
    sharding level, so a read touches only the sub-chunks it needs.
    """

    driver_id = "zarr3"

    def __init__(self, spec: Zarr3Spec, metadata: Zarr3Metadata, kvstore_driver: Any, path: str, context: Context):
        self._bind(spec, kvstore_driver, path, context)
        self.metadata = metadata
        resolved = metadata.codecs
        levels = _levels(resolved)
        chunk_kv = kvstore_driver
        if levels and not _has_array_to_array(resolved, levels):
            from .sharded_store import ShardedStore

            for codec in levels:
                chunk_kv = ShardedStore(chunk_kv, codec, metadata.rank, self.data_copy.executor)
            fmt = Zarr3ChunkFormat(metadata, path, levels[-1].inner, [tuple(c.chunk_shape) for c in levels])
        else:
            # Transposes outside the shard (or no sharding): whole stored chunks through the chain.
            fmt = Zarr3ChunkFormat(metadata, path, resolved, [])
        self._start_engine(fmt, spec.metadata_domain(metadata), chunk_kvstore=chunk_kv)

    @property
    def dtype(self):
        return self.metadata.dtype

    def format_members_json(self, minimal: bool) -> dict:
        j = {} if minimal else {"metadata": self.metadata.to_json(stored=False)}
        # As TensorStore, a store opened on assumed metadata says so in its spec (one opened
        # with assume_cached_metadata does not).
        if self.spec.open_mode.get("assume_metadata"):
            j["assume_metadata"] = True
        return j

    def format_identity(self) -> str:
        return remembered(self.metadata, ("identity", bool(self.spec.open_mode.get("assume_metadata"))), super().format_identity)

    @property
    def url_suffix(self) -> str:
        return "zarr3:"

    @property
    def chunk_layout(self) -> ChunkLayout:
        rank = self.metadata.rank
        if rank == 0:
            return ChunkLayout(rank=0)
        codecs_json = self.metadata.to_json(stored=False)["codecs"]
        read, order = layout_of_codecs(codecs_json, rank)
        write = list(self.metadata.chunk_shape)
        return ChunkLayout(
            grid_origin=[0] * rank,
            inner_order=order if order is not None else list(range(rank)),
            read_chunk_shape=list(read) if read is not None else write,
            write_chunk_shape=write,
        )

    @property
    def codec(self) -> CodecSpec:
        return CodecSpec({"driver": "zarr3", "codecs": self.metadata.to_json(stored=False)["codecs"]})

    @property
    def fill_value(self) -> np.ndarray:
        return np.asarray(self.metadata.fill_value)

    @property
    def dimension_units(self) -> tuple:
        from ...schema import Unit

        units = (self.metadata.attributes or {}).get("dimension_units")
        if not isinstance(units, list) or len(units) != self.metadata.rank:
            return (None,) * self.metadata.rank
        return tuple(None if u is None else Unit(u) for u in units)

    @property
    def schema(self) -> Schema:
        schema = Schema(dtype=self.dtype, domain=self._domain, chunk_layout=self.chunk_layout, codec=self.codec)
        schema.update(fill_value=self.fill_value)
        units = self.dimension_units
        if any(u is not None for u in units):
            schema.update(dimension_units=units)
        return schema


def _has_array_to_array(resolved: Any, levels: list) -> bool:
    """Whether codecs outside a shard rearrange the array (then shards are decoded whole)."""
    if resolved.array_to_array:
        return True
    return any(level.inner.array_to_array for level in levels[:-1])

