"""An open zarr v2 array."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...cache.metadata import remembered
from ...context import Context
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedDriver
from ..kvs_backed import OpenedDriver
from .chunk_format import ZarrChunkFormat
from .metadata import ZarrMetadata
from .spec import ZarrSpec

__all__ = ["ZarrDriver"]


class ZarrDriver(ChunkedDriver, OpenedDriver):
    driver_id = "zarr"

    def __init__(self, spec: ZarrSpec, metadata: ZarrMetadata, kvstore_driver: Any, path: str, context: Context):
        self._bind(spec, kvstore_driver, path, context)
        self.metadata = metadata
        self.field_index = metadata.dtype.field_index(spec.field)
        fmt = ZarrChunkFormat(metadata, self.field_index, path, metadata.dimension_separator)
        self._start_engine(fmt, spec.metadata_domain(metadata))

    @property
    def dtype(self):
        return self.metadata.dtype.fields[self.field_index].dtype

    def format_members_json(self, minimal: bool) -> dict:
        j: dict[str, Any] = {}
        if not minimal:
            j["metadata"] = self.metadata.to_json()
        if self.spec.field is not None:
            j["field"] = self.spec.field
        if self.spec.metadata_key is not None:
            j["metadata_key"] = self.spec.metadata_key
        return j

    def format_identity(self) -> str:
        return remembered(self.metadata, ("identity", self.spec.field, self.spec.metadata_key), super().format_identity)

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

