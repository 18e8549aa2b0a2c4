"""The `zarr` driver spec: its JSON members and metadata negotiation with the schema."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ... import dtypes
from ...cache.metadata import remembered
from ...errors import failed_precondition, invalid_argument
from ...index import IndexDomain, IndexTransform
from ...json_util import ObjectReader, expect_string
from ...schema import ChunkLayout, CodecSpec, Schema
from ...schema.chunk_shape import choose_read_write_chunk_grid
from ... import codecs
from ..base import lazy_driver_class, register_driver
from ..kvs_backed import KvsBackedDriverSpec
from .dtype import ZarrDType, parse_dtype
from .metadata import (
    ZarrMetadata,
    ZarrMetadataConstraints,
    check_chunk_size,
    check_constraints,
    parse_fill_value,
    parse_metadata_constraints,
)

__all__ = ["ZarrSpec", "zarr_dtype_for"]

_DEFAULT_COMPRESSOR_JSON = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}

# TensorStore dtype name -> zarr spelling (little endian unless one byte).
_ZARR_CODE = {
    "bool": "|b1", "int8": "|i1", "uint8": "|u1", "int16": "<i2", "uint16": "<u2", "int32": "<i4",
    "uint32": "<u4", "int64": "<i8", "uint64": "<u8", "float16": "<f2", "float32": "<f4",
    "float64": "<f8", "complex64": "<c8", "complex128": "<c16", "bfloat16": "bfloat16",
}  # fmt: skip


def zarr_dtype_for(dtype: dtypes.dtype) -> ZarrDType:
    code = _ZARR_CODE.get(dtype.name)
    if code is None:
        raise invalid_argument(f"Data type not supported: {dtype.name}")
    return parse_dtype(code)


@register_driver
class ZarrSpec(KvsBackedDriverSpec):
    id = "zarr"
    aliases = ("zarr2",)
    url_scheme = "zarr2"
    default_metadata_key = ".zarray"
    auto_detect_key = ".zarray"
    auto_detect_priority = 20
    default_members = {"metadata": {}}

    def __init__(self) -> None:
        super().__init__()
        self.metadata = ZarrMetadataConstraints()
        self.metadata_key: str | None = None
        self.field: str | None = None

    # -- JSON --------------------------------------------------------------------------------

    def parse_driver_members(self, r: ObjectReader) -> None:
        self.metadata = r.get("metadata", parse_metadata_constraints, ZarrMetadataConstraints())
        self.metadata_key = r.get("metadata_key", expect_string, None)
        self.field = r.get("field", expect_string, None)
        key_encoding = r.get("key_encoding", _parse_key_encoding, None)
        if key_encoding is not None and self.metadata.dimension_separator is None:
            self.metadata.dimension_separator = key_encoding
        if self.metadata.dtype is not None:
            fi = self.metadata.dtype.field_index(self.field)
            f = self.metadata.dtype.fields[fi]
            self._merge_dtype(f.dtype)
        if self.metadata.shape is not None and self.metadata.dtype is not None:
            self._merge_rank(len(self.metadata.shape) + len(self.metadata.dtype.fields[self.metadata.dtype.field_index(self.field)].field_shape))
        # What the metadata implies becomes part of the spec, as TensorStore normalises it.
        dtype = self.effective_dtype()
        if dtype is not None and self.schema.dtype is None:
            self.schema.update(dtype=dtype)
        if self.transform is None:
            domain = self.effective_domain()
            if domain is not None:
                self.transform = IndexTransform(domain=domain)

    def _merge_dtype(self, dt: dtypes.dtype) -> None:
        if self.schema.dtype is not None and self.schema.dtype != dt:
            raise invalid_argument(f"Mismatch between data type in schema ({self.schema.dtype.name}) and metadata ({dt.name})")

    def _merge_rank(self, rank: int) -> None:
        if self.schema.rank is not None and self.schema.rank != rank:
            raise invalid_argument(f"Rank specified by schema ({self.schema.rank}) does not match rank specified by metadata ({rank})")

    def driver_members_json(self) -> dict:
        out: dict[str, Any] = {}
        metadata = self.metadata.to_json()
        if metadata:
            out["metadata"] = metadata
        if self.metadata_key is not None:
            out["metadata_key"] = self.metadata_key
        if self.field is not None:
            out["field"] = self.field
        return out

    @property
    def metadata_key_or_default(self) -> str:
        return self.metadata_key if self.metadata_key is not None else self.default_metadata_key

    # -- metadata negotiation ------------------------------------------------------------------

    def parse_stored_metadata(self, data: bytes) -> ZarrMetadata:
        from .metadata import parse_metadata
        
        from ...json_util import loads

        return parse_metadata(loads(data))

    def encode_metadata(self, metadata: ZarrMetadata) -> bytes:
        return metadata.encode()

    def create_metadata(self) -> ZarrMetadata:
        c, schema = self.metadata, self.schema
        dtype = c.dtype
        if dtype is None:
            if schema.dtype is None:
                raise invalid_argument('"dtype" must be specified')
            dtype = zarr_dtype_for(schema.dtype)
        field_index = dtype.field_index(self.field)
        field = dtype.fields[field_index]
        n_field = len(field.field_shape)
        shape = c.shape
        domain = schema.domain
        if shape is None:
            if domain is None:
                raise invalid_argument("domain must be specified")
            origin = list(domain.origin)
            if any(o != 0 for o in origin[: len(origin) - n_field]):
                raise invalid_argument(f"Domain origin must be zero, but received: {domain}")
            shape = list(domain.shape)[: domain.rank - n_field]
        rank = len(shape)
        layout = schema.chunk_layout
        order = c.order
        inner_order = None if layout is None else layout.inner_order
        if inner_order is not None:
            inner = list(inner_order)[:rank]
            if inner == list(range(rank)):
                layout_order = "C"
            elif inner == list(range(rank))[::-1]:
                layout_order = "F"
            else:
                raise invalid_argument(f'Invalid "inner_order" constraint: {{{", ".join(map(str, inner_order))}}}')
            if order is None:
                order = layout_order
        order = order or "C"
        chunks = c.chunks
        if chunks is None:
            grid_layout = ChunkLayout(rank=rank) if layout is None else layout
            if grid_layout.rank is None:
                grid_layout = _with_rank(grid_layout, rank)
            _, write = choose_read_write_chunk_grid(grid_layout, [0] * rank, list(shape))
            chunks = list(write)[:rank]
        check_chunk_size(list(chunks), dtype)
        if schema.dimension_units is not None and any(u is not None for u in schema.dimension_units):
            raise invalid_argument("Dimension units not supported by zarr driver")
        if c.has_compressor:
            compressor = c.compressor
        else:
            compressor = _compressor_from_codec(schema.codec)
        if c.has_fill_value:
            fill_values = parse_fill_value(dtype, c.fill_value_json)
        elif schema.fill_value is not None:
            fill_values = [None] * len(dtype.fields)
            fill_values[field_index] = np.asarray(schema.fill_value).astype(field.dtype.numpy_dtype)
        else:
            fill_values = [None] * len(dtype.fields)
        return ZarrMetadata(
            shape=list(shape),
            chunks=list(chunks),
            dtype=dtype,
            compressor=compressor,
            order=order,
            fill_values=fill_values,
            dimension_separator=c.dimension_separator or ".",
        )

    def validate_metadata(self, metadata: ZarrMetadata) -> None:
        """Errors when stored metadata contradicts the spec's constraints."""
        check_constraints(metadata, self.metadata)
        field_index = metadata.dtype.field_index(self.field)
        field = metadata.dtype.fields[field_index]
        if self.schema.dtype is not None and self.schema.dtype != field.dtype:
            raise failed_precondition(
                f"dtype from metadata ({field.dtype.name}) does not match dtype in schema ({self.schema.dtype.name})"
            )
        if self.schema.domain is not None:
            from ...schema.schema import merge_index_domains

            try:
                merge_index_domains(self.metadata_domain(metadata), self.schema.domain)
            except ValueError as exc:
                raise invalid_argument(f"domain from metadata does not match domain in schema: {exc}") from None
        if self.schema.rank is not None and self.schema.rank != metadata.rank + len(field.field_shape):
            raise failed_precondition(
                f"Rank specified by schema ({self.schema.rank}) does not match rank of metadata ({metadata.rank + len(field.field_shape)})"
            )

    def base_domain(self, rank: int) -> IndexDomain:
        inf = (1 << 62) - 1
        return IndexDomain(
            inclusive_min=[0] * rank, inclusive_max=[inf] * rank, implicit_upper_bounds=[True] * rank
        )

    def metadata_domain(self, metadata: ZarrMetadata) -> IndexDomain:
        return remembered(metadata, ("domain", self.field), lambda: self._metadata_domain(metadata))

    def _metadata_domain(self, metadata: ZarrMetadata) -> IndexDomain:
        field = metadata.dtype.fields[metadata.dtype.field_index(self.field)]
        shape = list(metadata.shape) + list(field.field_shape)
        n, rank = len(metadata.shape), len(shape)
        # Opened on every ts.open: built directly (bounds are valid by construction).
        return IndexDomain._make(
            [0] * rank, [s - 1 for s in shape], [False] * rank, [True] * n + [False] * (rank - n), [""] * rank
        )

    def metadata_shape(self, metadata: ZarrMetadata) -> list[int]:
        field = metadata.dtype.fields[metadata.dtype.field_index(self.field)]
        return list(metadata.shape) + list(field.field_shape)

    def resized_metadata(self, metadata: ZarrMetadata, shape: list[int]) -> ZarrMetadata:
        import dataclasses

        field = metadata.dtype.fields[metadata.dtype.field_index(self.field)]
        grid = shape[: len(metadata.shape)]
        if list(shape[len(grid) :]) != list(field.field_shape):
            raise invalid_argument("Cannot resize the dimensions of a field's sub-array")
        return dataclasses.replace(metadata, shape=list(grid))

    def make_driver(self, metadata: ZarrMetadata, kvstore_driver, path: str, context):
        return _driver_class()(self, metadata, kvstore_driver, path, context)

    def url_component(self) -> str:
        if self.field is not None:
            raise invalid_argument("zarr2 URL syntax not supported with selected_field specified")
        return super().url_component()

    def _field(self):
        dtype = self.metadata.dtype
        return None if dtype is None else dtype.fields[dtype.field_index(self.field)]

    def effective_dtype(self):
        field = self._field()
        return field.dtype if field is not None else self.schema.dtype

    def effective_rank(self) -> int | None:
        if self.transform is not None:
            return self.transform.input_rank  # a view's rank, whatever the stored array's
        field = self._field()
        if self.metadata.shape is not None and field is not None:
            return len(self.metadata.shape) + len(field.field_shape)
        return super().effective_rank()

    def effective_domain(self) -> IndexDomain | None:
        """The domain the spec implies, as TensorStore derives it: from origin 0, the metadata's
        shape (unbounded where it has none), then the field's dimensions, merged with the
        schema's domain; the array's own dimensions keep implicit (resizable) upper bounds."""
        field = self._field()
        field_shape = list(field.field_shape) if field is not None else []
        shape, schema_domain = self.metadata.shape, self.schema.domain
        if schema_domain is None and (shape is None or field is None):
            return None  # (without the data type, the field's dimensions are unknown)
        n = len(shape) if shape is not None else schema_domain.rank - len(field_shape)
        if n < 0:
            return schema_domain  # (a rank the field cannot have: refused when opened)
        rank = n + len(field_shape)
        unbounded = (1 << 62) - 1  # +inf as an inclusive upper bound
        upper = [s - 1 for s in shape] if shape is not None else [unbounded] * n
        domain = IndexDomain(inclusive_min=[0] * rank, inclusive_max=upper + [e - 1 for e in field_shape],
                             implicit_upper_bounds=[True] * n + [False] * len(field_shape))
        if schema_domain is not None:
            from ...schema.schema import merge_index_domains

            domain = merge_index_domains(domain, schema_domain)
        return IndexDomain(inclusive_min=list(domain.inclusive_min), inclusive_max=list(domain.inclusive_max),
                           implicit_lower_bounds=[False] * rank,
                           implicit_upper_bounds=[True] * n + [False] * len(field_shape), labels=list(domain.labels))

    def effective_schema(self) -> Schema:
        """The constraints this spec implies, as TensorStore's `Spec.schema` reports them."""
        schema = copy.deepcopy(self.schema)
        dtype = self.effective_dtype()
        if dtype is not None and schema.dtype is None:
            schema.update(dtype=dtype)
        rank = self.effective_rank()
        domain = self.transform.domain if self.transform is not None else self.effective_domain()
        if domain is not None:
            schema = _replace_domain(schema, domain)
        elif rank is not None and schema.rank is None:
            schema.update(rank=rank)
        if rank is not None:
            field = self._field()
            extra = list(field.field_shape) if field is not None else []
            layout: dict = {"grid_origin": [0] * rank}
            if self.metadata.order is not None:
                grid_rank = rank - len(extra)
                order = list(range(grid_rank)) if self.metadata.order == "C" else list(range(grid_rank))[::-1]
                layout["inner_order"] = order + list(range(grid_rank, rank))
            if self.metadata.chunks is not None:
                shape = list(self.metadata.chunks) + extra
                layout["read_chunk_shape"] = shape
                layout["write_chunk_shape"] = shape
            schema.update(chunk_layout=ChunkLayout(**layout))
        codec: dict = {"driver": "zarr", "filters": None}
        if self.metadata.has_compressor:
            compressor = self.metadata.compressor
            codec["compressor"] = None if compressor is None else compressor.to_json()
        schema.update(codec=CodecSpec(codec))
        if self.metadata.has_fill_value and self.metadata.dtype is not None:
            value = parse_fill_value(self.metadata.dtype, self.metadata.fill_value_json)[self.metadata.dtype.field_index(self.field)]
            if value is not None and schema.fill_value is None:
                schema.update(fill_value=value)
        return schema

    def spec_domain_transform_bounds(self, domain: IndexDomain) -> IndexDomain:
        """zarr dimensions are resizable: a domain constraint gives implicit upper bounds."""
        return IndexDomain(
            inclusive_min=list(domain.origin),
            exclusive_max=list(domain.exclusive_max),
            implicit_lower_bounds=[False] * domain.rank,
            implicit_upper_bounds=[True] * domain.rank,
            labels=list(domain.labels),
        )


def _replace_domain(schema: Schema, domain: IndexDomain) -> Schema:
    j = schema.to_json()
    j["domain"] = domain.to_json()
    j.pop("rank", None)
    return Schema(json=j)


def _with_rank(layout: ChunkLayout, rank: int) -> ChunkLayout:
    merged = ChunkLayout(rank=rank)
    merged.update(layout)
    return merged


def _parse_key_encoding(j: Any) -> str:
    s = expect_string(j)
    if s not in (".", "/"):
        raise invalid_argument(f"Expected one of [\".\",\"/\"], but received: {j!r}")
    return s


def _compressor_from_codec(codec) -> Any:
    if codec is not None:
        j = codec.to_json()
        if "compressor" in j:
            return codecs.zarr_compressor_from_json(j["compressor"])
    return codecs.zarr_compressor_from_json(dict(_DEFAULT_COMPRESSOR_JSON))


_driver_class = lazy_driver_class(__package__, "ZarrDriver")
