"""The `zarr3` driver spec: the `metadata` member and metadata negotiation with the schema.

What a spec implies about the array (domain, chunk layout, codec, fill value) is derived as
TensorStore derives it, so `ts.Spec(...).schema`, the metadata created for a new array and the
checks made when opening an existing one agree.  Layout decisions are made on the zarr3 codec
JSON (the dialect of this package): the chunk grid is the write chunk, the innermost
`sharding_indexed` sub-chunk the read chunk, and `transpose` codecs the inner order.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np

from ...errors import StatusError, failed_precondition, invalid_argument
from ...index import IndexDomain
from ...json_util import INDEX_MAX, ObjectReader, dumps, quote_string
from ...json_util import loads as json_loads
from ...schema import ChunkLayout, CodecSpec, Schema
from ...schema.chunk_shape import choose_inner_order, choose_read_write_chunk_shapes
from ...schema.codec_spec import merge_codec_specs
from ..base import lazy_driver_class, register_driver
from ...cache.metadata import remembered
from ..kvs_backed import KvsBackedDriverSpec
from ..origin_zero_domain import OriginZeroDomain
from .metadata import (
    ChunkKeyEncoding,
    Zarr3Metadata,
    Zarr3MetadataConstraints,
    fill_value_to_json,
    parse_metadata,
    parse_metadata_constraints,
    resolve_codecs,
)

__all__ = ["Zarr3Spec", "layout_of_codecs"]

_DEFAULT_INDEX_CODECS = [{"configuration": {"endian": "little"}, "name": "bytes"}, {"name": "crc32c"}]


# ---------------------------------------------------------------------------------------------
# What a codecs list says about the chunk layout.


def _config(codec: dict) -> dict:
    c = codec.get("configuration")
    return c if isinstance(c, dict) else {}


def _sharding(codecs: list) -> Optional[dict]:
    for c in codecs:
        if isinstance(c, dict) and c.get("name") == "sharding_indexed":
            return c
    return None


def _compose_order(order: Optional[list[int]], codecs: list, rank: int) -> Optional[list[int]]:
    """The stored dimension order after the `transpose` codecs in `codecs` (and nested shards)."""
    for c in codecs:
        if not isinstance(c, dict):
            continue
        if c.get("name") == "transpose":
            t = _config(c).get("order")
            if isinstance(t, list) and len(t) == rank and all(isinstance(x, int) for x in t):
                base = order if order is not None else list(range(rank))
                order = [base[i] for i in t]
        elif c.get("name") == "sharding_indexed":
            inner = _config(c).get("codecs")
            if isinstance(inner, list):
                order = _compose_order(order, inner, rank)
    return order


def layout_of_codecs(codecs: Optional[list], rank: int) -> tuple[Optional[list[int]], Optional[list[int]]]:
    """(innermost sub-chunk shape or None, inner order or None) implied by a codecs list."""
    if codecs is None:
        return None, None
    read = None
    level = codecs
    while True:
        shard = _sharding(level)
        if shard is None:
            break
        shape = _config(shard).get("chunk_shape")
        if isinstance(shape, list):
            read = shape
        inner = _config(shard).get("codecs")
        if not isinstance(inner, list):
            break
        level = inner
    return read, _compose_order(None, codecs, rank)


def _innermost_codecs(codecs: list) -> list:
    """The list that holds the array -> bytes codec of the innermost chunks."""
    shard = _sharding(codecs)
    if shard is None:
        return codecs
    inner = _config(shard).get("codecs")
    return _innermost_codecs(inner) if isinstance(inner, list) else codecs


def _strip_keyword(exc: StatusError, name: str) -> StatusError:
    prefix = f"Invalid {name}: "
    message = exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message
    return type(exc)(exc.code, message)


def _layout_set(layout: ChunkLayout, **kwargs: Any) -> None:
    (name,) = kwargs
    try:
        layout.update(**kwargs)
    except StatusError as exc:
        raise _strip_keyword(exc, name).with_prefix(f"Error setting {name}") from None


def _layout_from_metadata(
    layout: ChunkLayout, rank: Optional[int], chunk_shape: Optional[list[int]], codecs: Optional[list],
    for_create: bool = False,
) -> ChunkLayout:
    layout = layout.copy()
    if rank is None:
        return layout
    layout.update(rank=rank)
    if rank == 0:
        return layout
    _layout_set(layout, grid_origin=[0] * rank)
    read, order = layout_of_codecs(codecs, rank)
    if order is not None:
        _layout_set(layout, inner_order=order)
    if chunk_shape is not None:
        _layout_set(layout, write_chunk_shape=list(chunk_shape))
        if for_create and read is not None and any(w % r for w, r in zip(chunk_shape, read)):
            read = None  # the codec's own check reports this, as TensorStore does
        _layout_set(layout, read_chunk_shape=list(read if read is not None else chunk_shape))
    elif read is not None:
        _layout_set(layout, read_chunk_shape=list(read))
    return layout


def codec_spec_of(codecs_json: Optional[list]) -> CodecSpec:
    j: dict[str, Any] = {"driver": "zarr3"}
    if codecs_json is not None:
        j["codecs"] = copy.deepcopy(codecs_json)
    return CodecSpec(j)


# ---------------------------------------------------------------------------------------------
# The spec.


@register_driver
class Zarr3Spec(OriginZeroDomain, KvsBackedDriverSpec):
    """Spec of a zarr v3 array: the common members plus `metadata` (a subset of zarr.json)."""

    id = "zarr3"
    url_scheme = "zarr3"
    default_members = {"metadata": {}}
    default_metadata_key = "zarr.json"
    auto_detect_key = "zarr.json"
    auto_detect_priority = 10

    def __init__(self) -> None:
        super().__init__()
        self.metadata = Zarr3MetadataConstraints()
        self._initial_domain: Optional[IndexDomain] = None

    # -- JSON --------------------------------------------------------------------------------

    def parse_driver_members(self, r: ObjectReader) -> None:
        self.metadata = r.get("metadata", parse_metadata_constraints, Zarr3MetadataConstraints())
        self._merge_metadata_schema(self.metadata)
        if self.transform is None:
            self._initial_domain = self._merged_domain()

    def _merge_metadata_schema(self, c: Zarr3MetadataConstraints) -> None:
        """The metadata's type and rank are schema constraints too (reported as such)."""
        if c.dtype is not None:
            if self.schema.dtype is not None and self.schema.dtype != c.dtype:
                raise invalid_argument(
                    f"Specified dtype ({c.dtype.name}) does not match existing value ({self.schema.dtype.name})"
                )
            self.schema.update(dtype=c.dtype)
        if c.rank is not None:
            if self.schema.rank is not None and self.schema.rank != c.rank:
                raise invalid_argument(
                    f"Rank specified by schema ({self.schema.rank}) does not match rank specified by metadata ({c.rank})"
                )
            self.schema.update(rank=c.rank)

    def driver_members_json(self) -> dict:
        metadata = self.metadata.to_json()
        return {"metadata": metadata} if len(metadata) > 1 or self.metadata.extra else {}

    def domain_shape_and_labels(self, rank: int) -> tuple:
        c = self.metadata
        names = c.dimension_names
        return c.shape, ([n or "" for n in names] if names is not None else None)

    def domain_mismatch(self, exc: StatusError) -> BaseException:
        return failed_precondition(f"Mismatch between metadata and schema: {exc.message}")

    # -- what the spec implies ---------------------------------------------------------------

    def effective_chunk_layout(self) -> ChunkLayout:
        return _layout_from_metadata(
            self.schema.chunk_layout, self._rank(), self.metadata.chunk_shape, self.metadata.codecs_json
        )

    def effective_codec(self) -> CodecSpec:
        codec = codec_spec_of(self.metadata.codecs_json)
        return merge_codec_specs(codec, self.schema.codec) if self.schema.codec is not None else codec

    def effective_schema(self) -> Schema:
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
        fill = self.metadata.fill_value if self.metadata.fill_value is not None else self.schema.fill_value
        if fill is not None:
            schema.update(fill_value=fill)
        if self.schema.dimension_units is not None:
            schema.update(dimension_units=self.schema.dimension_units)
        return schema

    # -- metadata negotiation ----------------------------------------------------------------

    def parse_stored_metadata(self, data: bytes) -> Zarr3Metadata:
        return parse_metadata(json_loads(data))

    def encode_metadata(self, metadata: Zarr3Metadata) -> bytes:
        return metadata.encode()

    def create_metadata(self) -> Zarr3Metadata:
        """New metadata from the spec's metadata constraints and schema, as TensorStore picks it."""
        c, schema = self.metadata, self.schema
        domain = self._merged_domain()
        if domain is None or any(hi > INDEX_MAX for hi in domain.inclusive_max):
            raise invalid_argument("domain must be specified")
        rank = domain.rank
        dtype = c.dtype or schema.dtype
        if dtype is None:
            raise invalid_argument("dtype must be specified")
        from .metadata import DATA_TYPES

        if dtype.name not in DATA_TYPES:
            raise invalid_argument(f"Data type not supported: {dtype.name}")
        codecs_json = self._chosen_codecs()
        # Only the metadata's own codecs constrain the layout; a schema codec adapts to it.
        layout = _layout_from_metadata(schema.chunk_layout, rank, c.chunk_shape, c.codecs_json, for_create=True)
        if rank:
            read, write = choose_read_write_chunk_shapes(
                layout.read_chunk, layout.write_chunk, list(domain.inclusive_min), list(domain.exclusive_max)
            )
        else:
            read, write = [], []
        codecs_json = _with_layout(codecs_json, read, write, layout, rank)
        if c.fill_value is not None:
            fill = c.fill_value
        elif schema.fill_value is not None:
            fill = np.asarray(schema.fill_value).astype(dtype.numpy_dtype)
        else:
            fill = np.zeros((), dtype=dtype.numpy_dtype)
        attributes = copy.deepcopy(c.attributes)
        if schema.dimension_units is not None and any(u is not None for u in schema.dimension_units):
            attributes = dict(attributes or {})
            attributes["dimension_units"] = [None if u is None else _unit_string(u) for u in schema.dimension_units]
        labels = list(domain.labels)
        names = c.dimension_names if c.dimension_names is not None else (
            [n if n else None for n in labels] if any(labels) else None
        )
        from .codec_json import fill_zarr3_defaults, parse_zarr3_codecs

        fill_value = np.asarray(fill, dtype=dtype.numpy_dtype)
        chain = fill_zarr3_defaults(parse_zarr3_codecs(codecs_json, constraint=True))
        metadata = Zarr3Metadata(
            shape=list(domain.shape),
            dtype=dtype,
            chunk_shape=[int(x) for x in write],
            chunk_key_encoding=c.chunk_key_encoding or ChunkKeyEncoding(),
            fill_value=fill_value,
            codecs=resolve_codecs(chain, [int(x) for x in write], dtype, fill_value, strict=False),
            attributes=attributes,
            dimension_names=names,
            extra=dict(c.extra),
        )
        self._validate_schema(metadata)
        return metadata

    def _chosen_codecs(self) -> Optional[list]:
        if self.metadata.codecs_json is not None:
            return copy.deepcopy(self.metadata.codecs_json)
        codec = self.schema.codec
        if codec is not None:
            j = codec.to_json()
            if "codecs" in j:
                return copy.deepcopy(j["codecs"])
        return None

    def validate_metadata(self, metadata: Zarr3Metadata) -> None:
        _check_constraints(metadata, self.metadata)
        self._validate_schema(metadata)

    def _validate_schema(self, metadata: Zarr3Metadata) -> None:
        schema = self.schema
        self.check_rank_and_domain(metadata)
        if schema.dtype is not None and schema.dtype != metadata.dtype:
            raise failed_precondition(
                f"data_type from metadata ({metadata.dtype.name}) does not match dtype in schema ({schema.dtype.name})"
            )
        if schema.fill_value is not None:
            wanted = np.asarray(schema.fill_value).astype(metadata.dtype.numpy_dtype)
            if wanted.tobytes() != metadata.fill_value.tobytes():
                raise failed_precondition(
                    f"Invalid fill_value: schema requires fill value of {dumps(fill_value_to_json(metadata.dtype, wanted))}, "
                    f"but metadata specifies fill value of {dumps(fill_value_to_json(metadata.dtype, metadata.fill_value))}"
                )

    def metadata_domain(self, metadata: Zarr3Metadata) -> IndexDomain:
        rank = metadata.rank
        return remembered(metadata, "domain", lambda: IndexDomain._make(
            [0] * rank, [s - 1 for s in metadata.shape], [False] * rank, [True] * rank, metadata.labels
        ))

    def metadata_shape(self, metadata: Zarr3Metadata) -> list[int]:
        return list(metadata.shape)

    def resized_metadata(self, metadata: Zarr3Metadata, shape: list[int]) -> Zarr3Metadata:
        import dataclasses

        return dataclasses.replace(metadata, shape=list(shape))

    def make_driver(self, metadata: Zarr3Metadata, kvstore_driver: Any, path: str, context: Any):
        return _driver_class()(self, metadata, kvstore_driver, path, context)


def _unit_string(unit: Any) -> str:
    return str(unit)


def _with_layout(
    codecs: Optional[list], read: list[int], write: list[int], layout: ChunkLayout, rank: int
) -> list:
    """The codecs of a new array: sharding where read and write chunks differ, the inner order
    as transposes of the innermost chunks (codec_json fills in the other defaults)."""
    codecs = copy.deepcopy(codecs) if codecs is not None else []
    shard = _sharding(codecs)
    if shard is None and list(read) != list(write):
        # Array -> array codecs stay outside; the rest goes into the shard.
        a2a = [c for c in codecs if isinstance(c, dict) and c.get("name") == "transpose"]
        rest = [c for c in codecs if not (isinstance(c, dict) and c.get("name") == "transpose")]
        shard = {"name": "sharding_indexed", "configuration": {"chunk_shape": list(read), "codecs": rest}}
        codecs = a2a + [shard]
    if shard is not None:
        config = shard.setdefault("configuration", {})
        config.setdefault("chunk_shape", list(read))
        config.setdefault("index_codecs", copy.deepcopy(_DEFAULT_INDEX_CODECS))
        inner = config.setdefault("codecs", [])
        _complete_innermost(inner, codecs, layout, rank)
    else:
        _complete_innermost(codecs, codecs, layout, rank)
    return codecs


def _complete_innermost(target: list, whole: list, layout: ChunkLayout, rank: int) -> None:
    """Appends a transpose to the innermost chain when the layout's inner order needs one."""
    if rank == 0:
        return
    current = _compose_order(None, whole, rank) or list(range(rank))
    wanted = choose_inner_order(layout, rank, default=current)
    if current == wanted:
        return
    innermost = _innermost_codecs(target)
    inverse = [0] * rank
    for i, d in enumerate(current):
        inverse[d] = i
    order = [inverse[d] for d in wanted]
    position = sum(1 for c in innermost if isinstance(c, dict) and c.get("name") == "transpose")
    innermost.insert(position, {"configuration": {"order": order}, "name": "transpose"})


def _check_constraints(metadata: Zarr3Metadata, c: Zarr3MetadataConstraints) -> None:
    """Stored metadata must agree with every member the spec's `metadata` gives."""
    wanted = c.to_json()
    if not wanted:
        return
    stored = metadata.to_json()
    for name, value in wanted.items():
        if name == "codecs":
            continue
        if stored.get(name) != value:
            raise failed_precondition(
                f"Expected {quote_string(name)} of {quote_string(dumps(value))} but received: {quote_string(dumps(stored.get(name)))}"
            )


# ---------------------------------------------------------------------------------------------
# ts.CodecSpec({"driver": "zarr3", "codecs": [...]}).


def _parse_codec_spec(j: dict) -> dict:
    from .codec_json import parse_zarr3_codecs, zarr3_codecs_json

    r = ObjectReader(j)
    r.get("driver")
    codecs = r.get("codecs", lambda v: zarr3_codecs_json(parse_zarr3_codecs(v, constraint=True)), None)
    r.finish()
    out: dict[str, Any] = {"driver": "zarr3"}
    if codecs is not None:
        out["codecs"] = codecs
    return out


def _merge_codec_spec(a: dict, b: dict) -> dict:
    if "codecs" not in b:
        return a
    if "codecs" not in a:
        return b
    ca, cb = a["codecs"], b["codecs"]
    for x, y in zip(ca, cb):
        if x != y:
            raise invalid_argument(f"Cannot merge zarr codec constraints {dumps(x)} and {dumps(y)}")
    if len(ca) != len(cb):
        raise invalid_argument(f"Cannot merge zarr codec constraints {dumps(ca)} and {dumps(cb)}")
    return a


from ...schema.codec_spec import register_codec_spec  # noqa: E402

register_codec_spec("zarr3", _parse_codec_spec, _merge_codec_spec)


_driver_class = lazy_driver_class(__package__, "Zarr3Driver")
