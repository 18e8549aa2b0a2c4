"""How precomputed metadata relates to schema constraints: domain, chunk layout, codec, units.

`create_scale` builds the metadata of a new scale (in a new or an existing `info`) from the
spec's constraints and schema, choosing what is left open as TensorStore 0.1.86 does;
`open_scale` picks the scale a spec names; `validate_schema` checks an opened scale against
the schema.  The `neuroglancer_precomputed` codec JSON is registered here too.
"""

from __future__ import annotations

import math
from typing import Any

from ...errors import StatusError, already_exists, failed_precondition, invalid_argument, not_found
from ...index import IndexDomain
from ...json_util import dumps
from ...schema import ChunkLayout, CodecSpec, Schema
from ...schema.codec_spec import register_codec_spec
from ...schema.chunk_shape import choose_chunk_grid, choose_chunk_shape
from ...schema.chunk_layout import CODEC as _CODEC
from ...schema.grid import Grid
from ...schema.schema import merge_index_domains
from .metadata import (
    ENCODINGS,
    MultiscaleMetadata,
    OpenConstraints,
    ScaleMetadata,
    check_dtype,
    scale_key_from_resolution,
    validate_encoding_dtype,
    validate_multiscale_for_open,
    validate_scale_for_open,
)
from .sharding import ShardingSpec, compressed_z_index_bits, shard_shape_in_chunks

__all__ = [
    "create_scale", "open_scale", "validate_schema", "metadata_domain", "metadata_chunk_layout",
    "metadata_codec", "metadata_units", "LABELS",
]  # fmt: skip

LABELS = ["x", "y", "z", "channel"]
_NEG_INF = -(2**62 - 1)
_POS_INF = 2**62


# -- codec JSON ----------------------------------------------------------------------------------


def _parse_codec(j: dict) -> dict:
    from ...json_util import ObjectReader, expect_int

    r = ObjectReader(j)
    r.get("driver")
    out: dict[str, Any] = {"driver": "neuroglancer_precomputed"}

    def one_of(values):
        def parse(v: Any) -> str:
            if v not in values:
                raise invalid_argument(f"Expected one of {', '.join(dumps(x) for x in values)}, but received: {dumps(v)}")
            return v

        return parse

    encoding = r.get("encoding", one_of(ENCODINGS), None)
    if encoding is not None:
        out["encoding"] = encoding
    for name, enc, hi in (("jpeg_quality", "jpeg", 100), ("png_level", "png", 9)):
        if r.has(name):
            def check(v: Any, enc: str = enc, hi: int = hi) -> int:
                if encoding != enc:
                    raise invalid_argument(f'Only valid for "{enc}" encoding')
                return expect_int(v, 0, hi)

            out[name] = r.get(name, check)
    shard = r.get("shard_data_encoding", one_of(("raw", "gzip")), None)
    if shard is not None:
        out["shard_data_encoding"] = shard
    r.finish()
    return out


def _merge_codec(a: dict, b: dict) -> dict:
    out = dict(a)
    for name in ("encoding", "jpeg_quality", "png_level", "shard_data_encoding"):
        if name in b:
            if name in out and out[name] != b[name]:
                raise invalid_argument(f'"{name}" mismatch')
            out[name] = b[name]
    return out


register_codec_spec("neuroglancer_precomputed", _parse_codec, _merge_codec)


# -- what an opened scale reports ------------------------------------------------------------------


def metadata_domain(m: MultiscaleMetadata, s: ScaleMetadata) -> IndexDomain:
    return IndexDomain(
        inclusive_min=list(s.voxel_offset) + [0],
        shape=list(s.size) + [m.num_channels],
        labels=LABELS,
    )


def write_chunk_shape(s: ScaleMetadata, num_channels: int) -> list[int]:
    chunk = s.chunk_sizes[0]
    if s.sharding is None:
        return list(chunk) + [num_channels]
    per_shard = shard_shape_in_chunks(s.sharding, s.size, chunk)
    if per_shard is None:
        per_shard = [-(-n // c) for n, c in zip(s.size, chunk)]
    return [p * c for p, c in zip(per_shard, chunk)] + [num_channels]


def metadata_chunk_layout(m: MultiscaleMetadata, s: ScaleMetadata, chunk_size: list[int]) -> ChunkLayout:
    kwargs: dict[str, Any] = dict(
        grid_origin=list(s.voxel_offset) + [0],
        inner_order=[3, 2, 1, 0],
        read_chunk_shape=list(chunk_size) + [m.num_channels],
        write_chunk_shape=write_chunk_shape(s, m.num_channels),
    )
    layout = ChunkLayout(**kwargs)
    if s.encoding == "compressed_segmentation":
        # The `codec_chunk_shape` keyword constrains the read chunk, as in the reference.
        layout._set_shape(_CODEC, list(s.compressed_segmentation_block_size) + [1], True)
    return layout


def metadata_codec(s: ScaleMetadata) -> CodecSpec:
    j: dict[str, Any] = {"driver": "neuroglancer_precomputed", "encoding": s.encoding}
    if s.encoding == "jpeg":
        j["jpeg_quality"] = s.jpeg_quality
    if s.encoding == "png" and s.png_level is not None:
        j["png_level"] = s.png_level
    if s.sharding is not None:
        j["shard_data_encoding"] = s.sharding.data_encoding
    return CodecSpec(j)


def metadata_units(s: ScaleMetadata) -> tuple:
    from ...schema import Unit

    return tuple(Unit(r, "nm") for r in s.resolution) + (None,)


# -- dimension units ---------------------------------------------------------------------------


def _units_string(units) -> str:
    parts = []
    for u in units:
        if u is None:
            parts.append("null")
        else:
            parts.append(dumps(_unit_text(u)))
    return "[" + ", ".join(parts) + "]"


def _unit_text(u) -> str:
    m = u.multiplier
    mult = "" if m == 1 else (f"{int(m)}" if float(m).is_integer() else repr(m))
    if not u.base_unit:
        return mult or ""
    return f"{mult} {u.base_unit}".strip()


def _schema_units(schema: Schema) -> list | None:
    units = schema.dimension_units
    if units is None:
        return None
    units = list(units)
    if len(units) != 4:
        raise invalid_argument(f"Rank of dimension units ({len(units)}) does not match rank of domain (4)")
    if units[3] is not None:
        raise invalid_argument(
            f"Invalid dimension units {_units_string(units)}: neuroglancer_precomputed format does not allow "
            "units to be specified for channel dimension"
        )
    for u in units[:3]:
        if u is not None and u.base_unit != "nm":
            raise invalid_argument(
                f"Invalid dimension units {_units_string(units)}: neuroglancer_precomputed format requires a base "
                'unit of "nm" for the "x", "y", and "z" dimensions'
            )
    return units


def _check_units_for_resolution(resolution: list[float], units: list | None) -> None:
    if units is None:
        return
    for r, u in zip(resolution, units[:3]):
        if u is not None and u.multiplier != r:
            shown = ", ".join(_float_text(x) for x in resolution)
            raise invalid_argument(
                f'Dimension units {_units_string(units)} do not match "resolution" in metadata: {{{shown}}}'
            )


def _float_text(x: float) -> str:
    return f"{x:g}"


# -- open ------------------------------------------------------------------------------------------


def open_scale(m: MultiscaleMetadata, c: OpenConstraints, schema: Schema) -> int:
    """Index of the scale the constraints select (NOT_FOUND / FAILED_PRECONDITION otherwise)."""
    validate_multiscale_for_open(c.multiscale, m)
    units = _schema_units(schema) or [None] * 4
    if c.scale_index is not None:
        if c.scale_index >= len(m.scales):
            raise failed_precondition(f"Scale {c.scale_index} does not exist, number of scales is {len(m.scales)}")
        index = c.scale_index
    else:
        index = -1
        for i, s in enumerate(m.scales):
            if c.scale.key is not None and s.key != c.scale.key:
                continue
            if any(u is not None and u.multiplier != r for u, r in zip(units[:3], s.resolution)):
                continue
            if c.scale.resolution is not None and c.scale.resolution != s.resolution:
                continue
            index = i
            break
        if index < 0:
            parts = []
            if any(u is not None for u in units):
                parts.append(f"dimension_units={_units_string(units)}")
            if c.scale.key is not None:
                parts.append(f"key={dumps(c.scale.key)}")
            raise not_found("No scale found matching " + ", ".join(parts))
    validate_scale_for_open(c.scale, m.scales[index])
    return index


def validate_schema(m: MultiscaleMetadata, index: int, chunk_size: list[int], schema: Schema) -> None:
    """Errors when an opened scale contradicts the schema constraints."""
    s = m.scales[index]
    if schema.dtype is not None and schema.dtype.name != m.data_type:
        raise failed_precondition(
            f"data_type from metadata ({m.data_type}) does not match dtype in schema ({schema.dtype.name})"
        )
    if schema.codec is not None:
        from ...schema.codec_spec import merge_codec_specs

        try:
            merge_codec_specs(metadata_codec(s), schema.codec)
        except StatusError as exc:
            raise exc.with_prefix("codec from metadata does not match codec in schema") from None
        if "shard_data_encoding" in schema.codec.to_json() and s.sharding is None:
            raise invalid_argument("shard_data_encoding requires sharded format")
    if schema.domain is not None:
        try:
            merge_index_domains(metadata_domain(m, s), schema.domain)
        except StatusError as exc:
            raise exc.with_prefix("domain from metadata does not match domain in schema") from None
    if schema.fill_value is not None:
        raise invalid_argument("fill_value not supported by neuroglancer_precomputed format")
    units = _schema_units(schema)
    _check_units_for_resolution(s.resolution, units)


# -- create ------------------------------------------------------------------------------------------


def _effective_domain(existing: MultiscaleMetadata | None, c: OpenConstraints, schema: Schema) -> IndexDomain:
    lo = [_NEG_INF] * 3 + [0]
    hi = [_POS_INF] * 4
    il = [True, True, True, False]
    iu = [True] * 4
    if existing is not None:
        validate_multiscale_for_open(c.multiscale, existing)
        hi[3], iu[3] = existing.num_channels, False
    if c.multiscale.num_channels is not None:
        hi[3], iu[3] = c.multiscale.num_channels, False
    if c.scale.size is not None:
        for i in range(3):
            lo[i] = c.scale.voxel_offset[i]
            hi[i] = lo[i] + c.scale.size[i]
            il[i] = iu[i] = False
    constraint = IndexDomain(
        inclusive_min=lo, exclusive_max=hi, implicit_lower_bounds=il, implicit_upper_bounds=iu, labels=LABELS
    )
    if schema.domain is None:
        return constraint
    try:
        return merge_index_domains(schema.domain, constraint)
    except StatusError as exc:
        raise exc.with_prefix(
            'Error applying domain constraints from "multiscale_metadata" and "scale_metadata"'
        ) from None


def _finite(domain: IndexDomain) -> bool:
    return all(lo > _NEG_INF and hi < _POS_INF for lo, hi in zip(domain.inclusive_min, domain.exclusive_max))


def _choose_sharding(layout: ChunkLayout | None, shape: list[int], chunk: list[int]) -> tuple[int, int]:
    """(preshift_bits + minishard_bits, total z-index bits) for the requested write chunk."""
    bits = compressed_z_index_bits(shape, chunk)
    total = sum(bits)
    hard = soft = None
    elements = None
    if layout is not None and layout.rank == 4:
        grid = layout.write_chunk
        hard, soft = grid.shape, grid.shape_soft_constraint
        elements = grid.elements if grid.elements is not None else grid.elements_soft_constraint
    target_bits = 0
    if elements is not None:
        chunk_elements = chunk[0] * chunk[1] * chunk[2]
        target_chunks = (elements + chunk_elements // 2) // chunk_elements
        while target_bits < total and (1 << target_bits) < target_chunks:
            target_bits += 1
        if target_bits > 0 and (1 << target_bits) - target_chunks > target_chunks - (1 << (target_bits - 1)):
            target_bits -= 1

    def cost(per_dim: list[int]) -> float:
        total_cost = 0.0
        for d in range(3):
            desired, is_hard = 0, False
            if hard is not None and hard[d]:
                desired, is_hard = hard[d], True
            elif soft is not None and soft[d]:
                desired = soft[d]
            if desired == 0:
                continue
            if desired == -1 or desired >= _POS_INF:
                desired = chunk[d] << bits[d]
            cur = chunk[d] << per_dim[d]
            if is_hard and cur != desired:
                return math.inf
            total_cost += abs(cur - desired) / desired
        return total_cost

    per_dim = [0, 0, 0]
    best_total = 0
    best_cost = cost(per_dim)
    i = 0
    within = 0
    while within < total:
        d = i % 3
        i += 1
        if per_dim[d] == bits[d]:
            continue
        within += 1
        per_dim[d] += 1
        cur = cost(per_dim)
        if cur < best_cost or (cur == best_cost and within <= target_bits):
            best_cost, best_total = cur, within
    if best_cost == math.inf:
        raise invalid_argument("Cannot satisfy write chunk shape constraint")
    return best_total, total


def _layout_for_create(domain: IndexDomain, c: OpenConstraints, schema: Schema) -> ChunkLayout:
    layout = ChunkLayout(
        rank=4,
        grid_origin=list(domain.inclusive_min),
        inner_order=[3, 2, 1, 0],
        chunk_shape=[0, 0, 0, domain.shape[3]],
    )
    if c.scale.chunk_size is not None:
        layout.update(read_chunk_shape=list(c.scale.chunk_size) + [0])
    if schema.chunk_layout is not None:
        layout._merge(schema.chunk_layout)
    return layout


def create_scale(existing: MultiscaleMetadata | None, c: OpenConstraints, schema: Schema) -> tuple[MultiscaleMetadata, int]:
    """The `info` with a new scale built from the constraints, and that scale's index."""
    domain = _effective_domain(existing, c, schema)
    if not _finite(domain):
        raise invalid_argument("domain must be specified")
    layout = _layout_for_create(domain, c, schema)
    dtype = None
    for name in (existing.data_type if existing else None, c.multiscale.data_type, schema.dtype.name if schema.dtype else None):
        if name is None:
            continue
        if dtype is not None and dtype != name:
            raise invalid_argument(f"data_type from metadata ({dtype}) does not match dtype in schema ({name})")
        dtype = name
    if dtype is None:
        raise invalid_argument("dtype must be specified")
    check_dtype(dtype)
    origin = list(domain.inclusive_min)[:3]
    shape = list(domain.shape)[:3]
    num_channels = domain.shape[3]
    mtype = c.multiscale.type or ("segmentation" if dtype in ("uint32", "uint64") else "image")

    units = _schema_units(schema)
    if c.scale.resolution is not None:
        _check_units_for_resolution(c.scale.resolution, units)
        resolution = list(c.scale.resolution)
    else:
        resolution = [1.0 if units is None or units[i] is None else float(units[i].multiplier) for i in range(3)]

    codec: dict[str, Any] = {"driver": "neuroglancer_precomputed"}
    if c.scale.encoding is not None:
        codec["encoding"] = c.scale.encoding
    if c.scale.jpeg_quality is not None:
        codec["jpeg_quality"] = c.scale.jpeg_quality
    if c.scale.png_level is not None:
        codec["png_level"] = c.scale.png_level
    if c.scale.sharding is not None:
        codec["shard_data_encoding"] = c.scale.sharding.data_encoding
    if schema.codec is not None:
        from ...schema.codec_spec import merge_codec_specs

        codec = merge_codec_specs(CodecSpec(codec), schema.codec).to_json()
    encoding = codec.get("encoding", "raw")

    _, read_shape = choose_chunk_grid(layout, layout.read_chunk, list(domain.inclusive_min), list(domain.exclusive_max))
    chunk_size = list(read_shape[:3])

    block_size = None
    if encoding == "compressed_segmentation":
        if c.scale.compressed_segmentation_block_size is not None:
            block_size = list(c.scale.compressed_segmentation_block_size)
        else:
            grid = Grid(rank=4, shape=[0, 0, 0, 1], elements_soft_constraint=512)
            schema_codec_grid = layout.codec_chunk
            if schema_codec_grid.rank == 4:
                grid.update(grid=schema_codec_grid)
            block_size = choose_chunk_shape(grid, [0] * 4, chunk_size + [1])[:3]

    if c.scale.has_sharding:
        sharding = c.scale.sharding
    else:
        within, total = _choose_sharding(schema.chunk_layout, shape, chunk_size)
        preshift = min(within, 9)
        minishard = within - preshift
        if within == 0 and "shard_data_encoding" not in codec:
            sharding = None
        else:
            data_encoding = codec.get("shard_data_encoding") or ("raw" if encoding == "jpeg" else "gzip")
            sharding = ShardingSpec(preshift, "identity", minishard, total - within, "gzip", data_encoding)

    key = c.scale.key if c.scale.key is not None else scale_key_from_resolution(resolution)
    if existing is None:
        if c.scale_index not in (None, 0):
            raise failed_precondition(f"Cannot create scale {c.scale_index} in new multiscale volume")
        metadata = MultiscaleMetadata(type=mtype, data_type=dtype, num_channels=num_channels, scales=[])
    else:
        if c.scale_index is not None:
            if c.scale_index < len(existing.scales):
                raise already_exists(f"Scale index {c.scale_index} already exists")
            if c.scale_index != len(existing.scales):
                raise failed_precondition(
                    f"Scale index to create ({c.scale_index}) must equal the existing number of scales ({len(existing.scales)})"
                )
        else:
            for s in existing.scales:
                if s.key == key:
                    raise already_exists(f"Scale with key {dumps(key)} already exists")
            if c.scale.key is None:
                for s in existing.scales:
                    if s.resolution == resolution:
                        raise already_exists(f"Scale with resolution {dumps(s.resolution)} already exists")
        import copy

        metadata = copy.deepcopy(existing)
    try:
        validate_encoding_dtype(encoding, metadata.data_type, metadata.num_channels)
    except StatusError as exc:
        raise failed_precondition(exc.message) from None
    scale = ScaleMetadata(
        key=key,
        size=shape,
        voxel_offset=origin,
        chunk_sizes=[chunk_size],
        encoding=encoding,
        jpeg_quality=codec.get("jpeg_quality", 75),
        png_level=codec.get("png_level"),
        compressed_segmentation_block_size=block_size,
        resolution=resolution,
        sharding=sharding,
        extra=dict(c.scale.extra),
    )
    if sharding is not None and sum(compressed_z_index_bits(shape, chunk_size)) > 64:
        raise failed_precondition(
            f'"size" of {dumps(shape)} with "chunk_size" of {dumps(chunk_size)} is not compatible with sharded '
            "format because the chunk keys would exceed 64 bits"
        )
    metadata.scales.append(scale)
    index = len(metadata.scales) - 1
    validate_schema(metadata, index, chunk_size, schema)
    return metadata, index
