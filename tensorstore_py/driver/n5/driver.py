"""An open n5 array: what a `TensorStore` of driver "n5" delegates to."""

from __future__ import annotations

from typing import Any

from ...context import Context, ContextSpecBuilder
from ...index import IndexDomain
from ...index.compose import propagate_bounds
from ...json_util import MISSING
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedArray
from ..kvs_backed import OpenedDriver
from .chunk_format import N5ChunkFormat
from .codec import codec_spec_for
from .metadata import N5Metadata
from .spec import N5Spec, n5_inner_order

__all__ = ["N5Driver"]


class N5Driver(OpenedDriver):
    """Reads and writes one n5 array through the chunked engine."""

    def __init__(self, spec: N5Spec, metadata: N5Metadata, kvstore_driver: Any, path: str, context: Context):
        self.spec = spec
        self.metadata = metadata
        self.kv = kvstore_driver
        self.path = path
        self.cache_pool = context.get_resource("cache_pool", spec.resources.get("cache_pool"))
        self.data_copy = context.get_resource("data_copy_concurrency", spec.resources.get("data_copy_concurrency"))
        self.format = N5ChunkFormat(metadata, path)
        self.engine = ChunkedArray(self.format, kvstore_driver, self.data_copy.executor)
        self._domain = spec.metadata_domain(metadata)
        # I/O resolves against the bounds as they are now: resizable bounds are not open-ended.
        self._io_domain = IndexDomain(inclusive_min=[0] * metadata.rank, shape=list(metadata.shape))

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self):
        return self.metadata.dtype

    def read(self, transform):
        return self.engine.read(propagate_bounds(transform, self._io_domain))

    def write(self, transform, array):
        return self.engine.write(propagate_bounds(transform, self._io_domain), array)

    # -- introspection -----------------------------------------------------------------------

    def spec_json(self, builder: ContextSpecBuilder | None, minimal: bool) -> dict:
        j: dict[str, Any] = {"driver": "n5", "dtype": self.dtype.name}
        j["kvstore"] = self.kv.spec_json(self.path, builder) if builder is not None else self.kv.spec_json(self.path)
        if not minimal:
            j["metadata"] = self.metadata.to_json()
        if builder is not None:
            for name, resource in (("cache_pool", self.cache_pool), ("data_copy_concurrency", self.data_copy)):
                member = builder.member_json(resource)
                if member is not MISSING:
                    j[name] = member
        return j

    def context_resources(self) -> list:
        return [self.cache_pool, self.data_copy]

    @property
    def url_suffix(self) -> str:
        return "n5:"

    @property
    def chunk_layout(self) -> ChunkLayout:
        rank = self.metadata.rank
        if rank == 0:
            return ChunkLayout(rank=0)
        chunks = list(self.metadata.chunk_shape)
        return ChunkLayout(
            grid_origin=[0] * rank,
            inner_order=n5_inner_order(rank),
            read_chunk_shape=chunks,
            write_chunk_shape=chunks,
        )

    @property
    def codec(self) -> CodecSpec:
        return codec_spec_for(self.metadata.compressor)

    @property
    def fill_value(self) -> None:
        # n5 stores no fill value; missing chunks read as zero.
        return None

    @property
    def dimension_units(self) -> tuple:
        return tuple(self.metadata.dimension_units())

    @property
    def schema(self) -> Schema:
        schema = Schema(dtype=self.dtype, domain=self._domain, chunk_layout=self.chunk_layout, codec=self.codec)
        units = self.dimension_units
        if any(u is not None for u in units):
            schema.update(dimension_units=units)
        return schema
