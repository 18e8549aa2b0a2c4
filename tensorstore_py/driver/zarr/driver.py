"""An open zarr v2 array."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...context import Context, ContextSpecBuilder
from ...index import IndexDomain
from ...index.compose import propagate_bounds
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedArray
from ..kvs_backed import OpenedDriver
from .chunk_format import ZarrChunkFormat
from .metadata import ZarrMetadata
from .spec import ZarrSpec

__all__ = ["ZarrDriver"]


class ZarrDriver(OpenedDriver):
    def __init__(self, spec: ZarrSpec, metadata: ZarrMetadata, kvstore_driver: Any, path: str, context: Context):
        self.spec = spec
        self.metadata = metadata
        self.kv = kvstore_driver
        self.path = path
        self.cache_pool = context.get_resource("cache_pool", spec.resources.get("cache_pool"))
        self.data_copy = context.get_resource("data_copy_concurrency", spec.resources.get("data_copy_concurrency"))
        self.field_index = metadata.dtype.field_index(spec.field)
        self.format = ZarrChunkFormat(metadata, self.field_index, path, metadata.dimension_separator)
        self.engine = ChunkedArray(self.format, kvstore_driver, self.data_copy.executor)
        self._domain = spec.metadata_domain(metadata)
        # I/O resolves against the bounds as they are now: resizable bounds are not open-ended.
        d = self._domain
        self._io_domain = IndexDomain._make(d._lo, d._hi, [False] * d.rank, [False] * d.rank, d._labels)

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self):
        return self.metadata.dtype.fields[self.field_index].dtype

    def read(self, transform):
        return self.engine.read(propagate_bounds(transform, self._io_domain))

    def write(self, transform, array):
        return self.engine.write(propagate_bounds(transform, self._io_domain), array)

    # -- introspection -----------------------------------------------------------------------

    def spec_json(self, builder: ContextSpecBuilder | None, minimal: bool) -> dict:
        j: dict[str, Any] = {"driver": "zarr", "dtype": self.dtype.name}
        j["kvstore"] = self.kv.spec_json(self.path, builder) if builder is not None else self.kv.spec_json(self.path)
        if not minimal:
            j["metadata"] = self.metadata.to_json()
        if self.spec.field is not None:
            j["field"] = self.spec.field
        if self.spec.metadata_key is not None:
            j["metadata_key"] = self.spec.metadata_key
        if builder is not None:
            for name, resource in (("cache_pool", self.cache_pool), ("data_copy_concurrency", self.data_copy)):
                member = builder.member_json(resource)
                if member is not _MISSING:
                    j[name] = member
        return j

    def context_resources(self) -> list:
        return [self.cache_pool, self.data_copy]

    @property
    def url_suffix(self) -> str:
        return "zarr2:"

    @property
    def chunk_layout(self) -> ChunkLayout:
        rank = self._domain.rank
        chunks = list(self.format.chunk_shape)
        grid_rank = self.metadata.rank
        order = list(range(grid_rank)) if self.metadata.order == "C" else list(range(grid_rank))[::-1]
        inner = order + list(range(grid_rank, rank))
        return ChunkLayout(
            grid_origin=[0] * rank,
            inner_order=inner,
            read_chunk_shape=chunks,
            write_chunk_shape=chunks,
        )

    @property
    def codec(self) -> CodecSpec:
        compressor = self.metadata.compressor
        return CodecSpec(
            {"driver": "zarr", "compressor": None if compressor is None else compressor.to_json(), "filters": None}
        )

    @property
    def fill_value(self) -> np.ndarray | None:
        v = self.metadata.fill_values[self.field_index]
        return None if v is None else np.asarray(v)

    @property
    def dimension_units(self) -> tuple:
        return (None,) * self._domain.rank

    @property
    def schema(self) -> Schema:
        schema = Schema(
            dtype=self.dtype,
            domain=self._domain,
            chunk_layout=self.chunk_layout,
            codec=self.codec,
        )
        fill = self.fill_value
        if fill is not None:
            schema.update(fill_value=fill)
        return schema


from ...json_util import MISSING as _MISSING  # noqa: E402
