"""The `n5` driver spec: its `metadata` member and metadata negotiation with the schema.

What the spec implies about the array (domain, chunk layout, codec, dimension units) is
derived here exactly as TensorStore derives it, so `ts.Spec(...)` properties, the metadata
TensorStore would create, and the checks made when opening an existing array all agree.
"""

from __future__ import annotations

from typing import Any, Optional

from ...errors import StatusError, failed_precondition, invalid_argument
from ...index import IndexDomain
from ...json_util import INDEX_MAX, ObjectReader
from ...schema import ChunkLayout, CodecSpec, Schema
from ...schema.chunk_shape import choose_read_write_chunk_grid
from ...schema.codec_spec import merge_codec_specs
from ...schema.unit import merge_dimension_units
from ... import codecs
from ..base import lazy_driver_class, register_driver
from ...cache.metadata import remembered
from ..kvs_backed import KvsBackedDriverSpec
from ..origin_zero_domain import OriginZeroDomain
from .codec import codec_spec_for
from .metadata import (
    N5Metadata,
    N5MetadataConstraints,
    check_chunk_size,
    check_constraints,
    format_doubles,
    format_units,
    loads,
    parse_metadata,
    parse_metadata_constraints,
    units_from,
    validate_dtype,
)

__all__ = ["N5Spec", "n5_inner_order"]


def n5_inner_order(rank: int) -> list[int]:
    """n5 blocks are Fortran order: the last dimension is outermost."""
    return list(range(rank))[::-1]


def _strip_keyword(exc: StatusError, name: str) -> StatusError:
    # The keyword API prefixes "Invalid <name>: "; these constraints come from the metadata.
    prefix = f"Invalid {name}: "
    message = exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message
    return type(exc)(exc.code, message)


def _layout_set(layout: ChunkLayout, **kwargs: Any) -> None:
    (name,) = kwargs
    try:
        layout.update(**kwargs)
    except StatusError as exc:
        raise _strip_keyword(exc, name) from None


def _schema_set(schema: Schema, **kwargs: Any) -> None:
    (name,) = kwargs
    try:
        schema.update(**kwargs)
    except StatusError as exc:
        raise _strip_keyword(exc, name) from None


@register_driver
class N5Spec(OriginZeroDomain, KvsBackedDriverSpec):
    """Spec of an n5 array: the common members plus `metadata` (a subset of attributes.json)."""
    default_members = {"metadata": {}}

    id = "n5"
    url_scheme = "n5"
    default_metadata_key = "attributes.json"
    # As in TensorStore, the key's presence alone identifies n5 to the `auto` driver (a group's
    # attributes.json then fails to parse as an array, with the reference's message).
    auto_detect_key = "attributes.json"
    auto_detect_priority = 30

    def __init__(self) -> None:
        super().__init__()
        self.metadata = N5MetadataConstraints()
        # TensorStore fixes a spec's transform when the spec is parsed, from the domain known
        # then; later domain constraints (`Spec.update(shape=...)`) go to the schema only.
        self._initial_domain: Optional[IndexDomain] = None

    # -- JSON --------------------------------------------------------------------------------

    def parse_driver_members(self, r: ObjectReader) -> None:
        if self.schema.dtype is not None:
            validate_dtype(self.schema.dtype)
        self.metadata = r.get("metadata", self._parse_metadata_member, N5MetadataConstraints())
        if self.transform is None:
            self._initial_domain = self._merged_domain()

    def _parse_metadata_member(self, j: Any) -> N5MetadataConstraints:
        c = parse_metadata_constraints(j)
        # The metadata's type and rank are schema constraints too (reported as such).
        if c.dtype is not None:
            _schema_set(self.schema, dtype=c.dtype)
        if c.rank is not None:
            _schema_set(self.schema, rank=c.rank)
        return c

    def driver_members_json(self) -> dict:
        metadata = self.metadata.to_json()
        return {"metadata": metadata} if metadata else {}

    def domain_shape_and_labels(self, rank: int) -> tuple:
        c = self.metadata
        return c.shape, (list(c.axes) if c.axes is not None else None)

    # -- what the spec implies ---------------------------------------------------------------

    def effective_chunk_layout(self) -> ChunkLayout:
        """The schema's chunk layout plus what n5 fixes: Fortran inner order, grid origin 0, blockSize."""
        return _layout_from_metadata(self.schema.chunk_layout, self._rank(), self.metadata.chunk_shape)

    def effective_codec(self) -> CodecSpec:
        """{"driver": "n5"} with the metadata's compression, merged with the schema's codec."""
        codec = codec_spec_for(self.metadata.compressor)
        return merge_codec_specs(codec, self.schema.codec) if self.schema.codec is not None else codec

    def effective_dimension_units(self) -> Optional[tuple]:
        """Units from `units`/`resolution` merged with the schema's (None: rank unknown)."""
        units = units_from(self.metadata.rank, self.metadata.units, self.metadata.resolution)
        schema_units = self.schema.dimension_units
        if schema_units is not None:
            units = _merge_units(units, list(schema_units))
            _check_resolution(units, self.metadata.units, self.metadata.resolution)
        if not units:
            rank = self._rank()
            return None if rank is None else (None,) * rank
        return tuple(units)

    def effective_fill_value(self) -> None:
        """n5 has no fill value."""
        return None

    def effective_schema(self) -> Schema:
        """Everything the spec says about the array, as `ts.Spec.schema` reports it."""
        schema = Schema()
        rank = self._rank()
        if rank is not None:
            schema.update(rank=rank)
        if self.schema.dtype is not None:
            schema.update(dtype=self.schema.dtype)
        domain = self.transform.domain if self.transform is not None else self.effective_domain()
        if domain is not None:
            schema.update(domain=domain)
        schema.update(chunk_layout=self.effective_chunk_layout())
        schema.update(codec=self.effective_codec())
        units = self.effective_dimension_units()
        if units is not None and any(u is not None for u in units):
            schema.update(dimension_units=units)
        return schema

    # -- metadata negotiation ----------------------------------------------------------------

    def parse_stored_metadata(self, data: bytes) -> N5Metadata:
        return parse_metadata(loads(data))

    def encode_metadata(self, metadata: N5Metadata) -> bytes:
        return metadata.encode()

    def create_metadata(self) -> N5Metadata:
        """New metadata from the spec's metadata constraints and schema, as TensorStore picks it."""
        c, schema = self.metadata, self.schema
        domain = self._merged_domain()
        if domain is None or any(hi > INDEX_MAX for hi in domain.inclusive_max) or any(
            lo < -INDEX_MAX for lo in domain.inclusive_min
        ):
            raise invalid_argument("domain must be specified")
        rank = domain.rank
        if schema.dtype is None:
            raise invalid_argument("dtype must be specified")
        dtype = validate_dtype(schema.dtype)
        layout = self.effective_chunk_layout()
        if rank:
            _, chunk_shape = choose_read_write_chunk_grid(layout, list(domain.origin), list(domain.exclusive_max))
        else:
            chunk_shape = []
        codec_json = self.effective_codec().to_json()
        if "compression" in codec_json:
            compressor = codecs.n5_compression_from_json(codec_json["compression"])
        else:
            compressor = codecs.N5Blosc(cname="lz4", clevel=5, shuffle=2 if dtype.numpy_dtype.itemsize == 1 else 1)
        units, resolution = c.units, c.resolution
        effective_units = units_from(c.rank, c.units, c.resolution)
        if schema.dimension_units is not None:
            effective_units = _merge_units(effective_units, list(schema.dimension_units))
            _check_resolution(effective_units, c.units, c.resolution)
        if any(u is not None for u in effective_units):
            units = list(units) if units is not None else [""] * rank
            resolution = [float(x) for x in resolution] if resolution is not None else [1.0] * rank
            for i, unit in enumerate(effective_units):
                if unit is not None:
                    resolution[i] = unit.multiplier
                    units[i] = unit.base_unit
        metadata = N5Metadata(
            shape=list(domain.shape),
            chunk_shape=[int(x) for x in chunk_shape],
            dtype=dtype,
            compressor=compressor,
            axes=list(domain.labels),
            units=units,
            resolution=resolution,
            extra=dict(c.extra),
        )
        check_chunk_size(metadata.chunk_shape, dtype)
        self._validate_schema(metadata)
        return metadata

    def validate_metadata(self, metadata: N5Metadata) -> None:
        """Errors when stored metadata contradicts the spec's metadata constraints or schema."""
        check_constraints(metadata, self.metadata)
        self._validate_schema(metadata)

    def _validate_schema(self, metadata: N5Metadata) -> None:
        schema = self.schema
        self.check_rank_and_domain(metadata)
        if schema.dtype is not None and schema.dtype != metadata.dtype:
            raise failed_precondition(
                f"dtype from metadata ({metadata.dtype.name}) does not match dtype in schema ({schema.dtype.name})"
            )
        if schema.codec is not None:
            try:
                merge_codec_specs(codec_spec_for(metadata.compressor), schema.codec)
            except StatusError as exc:
                raise failed_precondition(f"codec from metadata does not match codec in schema: {exc.message}") from None
        layout = schema.chunk_layout
        if layout.rank != -1:
            effective = _layout_from_metadata(layout, metadata.rank, metadata.chunk_shape)
            codec_shape = effective.codec_chunk.shape
            if codec_shape is not None and any(x is not None for x in codec_shape):
                raise invalid_argument("codec_chunk_shape not supported")
        if schema.fill_value is not None:
            raise invalid_argument("fill_value not supported by N5 format")
        if schema.dimension_units is not None:
            stored = units_from(metadata.rank, metadata.units, metadata.resolution)
            wanted = list(schema.dimension_units)
            try:
                merged = _merge_units(wanted, stored)
            except StatusError as exc:
                raise failed_precondition(exc.message) from None
            if merged != stored:
                raise failed_precondition(
                    f"Dimension units in metadata {format_units(stored)} do not match dimension units in schema {format_units(wanted)}"
                )

    def metadata_domain(self, metadata: N5Metadata) -> IndexDomain:
        rank = metadata.rank
        return remembered(metadata, "domain", lambda: IndexDomain(
            inclusive_min=[0] * rank,
            shape=list(metadata.shape),
            implicit_lower_bounds=[False] * rank,
            implicit_upper_bounds=[True] * rank,
            labels=list(metadata.axes),
        ))

    def metadata_shape(self, metadata: N5Metadata) -> list[int]:
        return list(metadata.shape)

    def resized_metadata(self, metadata: N5Metadata, shape: list[int]) -> N5Metadata:
        import dataclasses

        return dataclasses.replace(metadata, shape=list(shape))

    def make_driver(self, metadata: N5Metadata, kvstore_driver: Any, path: str, context: Any):
        return _driver_class()(self, metadata, kvstore_driver, path, context)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the spec and the opened driver.


def _layout_from_metadata(layout: ChunkLayout, rank: Optional[int], chunk_shape: Optional[list[int]]) -> ChunkLayout:
    layout = layout.copy()
    if rank is None:
        return layout
    _layout_set(layout, rank=rank)
    if rank == 0:
        return layout
    _layout_set(layout, inner_order=n5_inner_order(rank))
    if chunk_shape is not None:
        _layout_set(layout, chunk_shape=list(chunk_shape))
    _layout_set(layout, grid_origin=[0] * rank)
    return layout


def _merge_units(existing: list, new: list) -> list:
    if not new:
        return list(existing)
    if not existing:
        return list(new)
    if len(existing) != len(new):
        raise invalid_argument(f"Cannot merge dimension units {format_units(new)} and {format_units(existing)}")
    return merge_dimension_units(existing, new)


def _check_resolution(units: list, metadata_units: Optional[list], resolution: Optional[list]) -> None:
    # Without `units` the metadata's `resolution` still constrains the schema's multipliers.
    if metadata_units is not None or resolution is None:
        return
    for i, unit in enumerate(units):
        if unit is not None and resolution[i] != unit.multiplier:
            raise invalid_argument(
                f'"resolution" from metadata {format_doubles(resolution)} does not match dimension units '
                f"from schema {format_units(units)}"
            )


_driver_class = lazy_driver_class(__package__, "N5Driver")
