"""An open n5 array: what a `TensorStore` of driver "n5" delegates to."""

from __future__ import annotations

from typing import Any

from ...cache.metadata import remembered
from ...context import Context
from ...schema import ChunkLayout, CodecSpec, Schema
from ..chunked import ChunkedDriver
from ..kvs_backed import OpenedDriver
from .chunk_format import N5ChunkFormat
from .codec import codec_spec_for
from .metadata import N5Metadata
from .spec import N5Spec, n5_inner_order

__all__ = ["N5Driver"]


class N5Driver(ChunkedDriver, OpenedDriver):
    """Reads and writes one n5 array through the chunked engine."""

    driver_id = "n5"

    def __init__(self, spec: N5Spec, metadata: N5Metadata, kvstore_driver: Any, path: str, context: Context):
        self._bind(spec, kvstore_driver, path, context)
        self.metadata = metadata
        self._start_engine(N5ChunkFormat(metadata, path), spec.metadata_domain(metadata))

    @property
    def dtype(self):
        return self.metadata.dtype

    def format_members_json(self, minimal: bool) -> dict:
        return {} if minimal else {"metadata": self.metadata.to_json()}

    def format_identity(self) -> str:
        return remembered(self.metadata, "identity", super().format_identity)

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
