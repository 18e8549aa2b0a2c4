"""The zarr v2 `.zarray` metadata: parsing, validation, JSON, fill values and chunk layout."""

from __future__ import annotations

import base64
import dataclasses
import math
from typing import Any

import numpy as np

from ... import codecs
from ...errors import failed_precondition, invalid_argument
from ...json_util import ObjectReader, dumps, expect_array, expect_int, expect_string, parse_array
from .dtype import ZarrDType, ZarrField, parse_dtype

__all__ = ["ZarrMetadata", "ZarrMetadataConstraints", "parse_metadata", "parse_metadata_constraints"]

_MEMBERS = ("zarr_format", "shape", "chunks", "dtype", "compressor", "order", "fill_value", "filters", "dimension_separator")


@dataclasses.dataclass
class ZarrMetadata:
    """A complete `.zarray`."""

    shape: list[int]
    chunks: list[int]
    dtype: ZarrDType
    compressor: Any  # codecs.Codec or None
    order: str
    fill_values: list[np.ndarray | None]  # one per field
    dimension_separator: str = "."
    zarr_format: int = 2

    @property
    def rank(self) -> int:
        return len(self.shape)

    def to_json(self) -> dict:
        return {
            "chunks": list(self.chunks),
            "compressor": None if self.compressor is None else self.compressor.to_json(),
            "dimension_separator": self.dimension_separator,
            "dtype": self.dtype.to_json(),
            "fill_value": encode_fill_value(self.dtype, self.fill_values),
            "filters": None,
            "order": self.order,
            "shape": list(self.shape),
            "zarr_format": 2,
        }

    def encode(self) -> bytes:
        """The `.zarray` bytes as TensorStore writes them (compact, sorted keys)."""
        return dumps(self.to_json()).encode()


@dataclasses.dataclass
class ZarrMetadataConstraints:
    """The spec's `metadata` member: any subset of the `.zarray` members."""

    shape: list[int] | None = None
    chunks: list[int] | None = None
    dtype: ZarrDType | None = None
    compressor: Any = dataclasses.field(default=None)
    has_compressor: bool = False
    order: str | None = None
    fill_value_json: Any = None
    has_fill_value: bool = False
    dimension_separator: str | None = None
    has_filters: bool = False
    zarr_format: int | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        if self.chunks is not None:
            out["chunks"] = list(self.chunks)
        if self.has_compressor:
            out["compressor"] = None if self.compressor is None else self.compressor.to_json()
        if self.dimension_separator is not None:
            out["dimension_separator"] = self.dimension_separator
        if self.dtype is not None:
            out["dtype"] = self.dtype.to_json()
        if self.has_fill_value and self.dtype is not None:
            out["fill_value"] = encode_fill_value(self.dtype, parse_fill_value(self.dtype, self.fill_value_json))
        elif self.has_fill_value:
            out["fill_value"] = self.fill_value_json
        if self.order is not None:
            out["order"] = self.order
        if self.has_filters:
            out["filters"] = None
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.zarr_format is not None:
            out["zarr_format"] = self.zarr_format
        return {k: out[k] for k in sorted(out)}

    @property
    def rank(self) -> int | None:
        if self.shape is not None:
            return len(self.shape)
        if self.chunks is not None:
            return len(self.chunks)
        return None


# zarr sizes are bounded by TensorStore's largest finite index plus one, as its JSON binder says.
_SIZE_MAX = (1 << 63) - 2


def _parse_shape(j: Any) -> list[int]:
    return parse_array(j, lambda x: expect_int(x, 0, _SIZE_MAX))


def _parse_chunks(j: Any) -> list[int]:
    return parse_array(j, lambda x: expect_int(x, 1, _SIZE_MAX))


def _expect_one_of(j: Any, choices: tuple[str, ...]) -> str:
    if j not in choices:
        listed = ", ".join(dumps(c) for c in choices)
        raise invalid_argument(f"Expected one of {listed}, but received: {dumps(j)}")
    return j


def _parse_order(j: Any) -> str:
    return _expect_one_of(j, ("C", "F"))


def _parse_separator(j: Any) -> str:
    return _expect_one_of(j, (".", "/"))


def _parse_filters(j: Any) -> None:
    # Other writers (zarr-python, numcodecs users) store an empty list for "no filters".
    if j is not None and j != []:
        raise invalid_argument("filters are not supported")


def _parse_zarr_format(j: Any) -> int:
    return expect_int(j, 2, 2)


def _read_members(r: ObjectReader, extra_members: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["zarr_format"] = r.get("zarr_format", _parse_zarr_format, None)
    out["shape"] = r.get("shape", _parse_shape, None)
    out["chunks"] = r.get("chunks", _parse_chunks, None)
    out["dtype"] = r.get("dtype", parse_dtype, None)
    out["has_compressor"] = r.has("compressor")
    out["compressor"] = r.get("compressor", codecs.zarr_compressor_from_json, None)
    out["order"] = r.get("order", _parse_order, None)
    out["has_fill_value"] = r.has("fill_value")
    out["fill_value_json"] = r.get("fill_value", None, None)
    out["has_filters"] = r.has("filters")
    r.get("filters", _parse_filters, None)
    out["dimension_separator"] = r.get("dimension_separator", _parse_separator, None)
    if not extra_members:
        r.finish()
    if out["shape"] is not None and out["chunks"] is not None and len(out["shape"]) != len(out["chunks"]):
        raise invalid_argument(
            f'Error parsing object member "chunks": Array has length {len(out["chunks"])} but should have length {len(out["shape"])}'
        )
    if out["has_fill_value"] and out["dtype"] is not None:
        try:
            parse_fill_value(out["dtype"], out["fill_value_json"])
        except ValueError as exc:
            raise invalid_argument(f'Error parsing object member "fill_value": {exc}') from None
    return out


def parse_metadata_constraints(j: Any) -> ZarrMetadataConstraints:
    return ZarrMetadataConstraints(**_read_members(ObjectReader(j)))


def parse_metadata(j: Any) -> ZarrMetadata:
    """Parses a stored `.zarray` (every member but dimension_separator required).

    Members it does not know are ignored, as TensorStore ignores them in stored metadata (a
    spec's `metadata` constraints, by contrast, must not have any)."""
    m = _read_members(ObjectReader(j), extra_members=True)
    for name in ("zarr_format", "shape", "chunks", "dtype", "order"):
        if m[name] is None:
            raise invalid_argument(f'Error parsing object member "{name}": Expected member to be present')
    for name in ("compressor", "fill_value"):
        if not m[f"has_{name}"]:
            raise invalid_argument(f'Error parsing object member "{name}": Expected member to be present')
    dtype: ZarrDType = m["dtype"]
    if not m["has_filters"]:
        raise invalid_argument('Error parsing object member "filters": Expected member to be present')
    check_chunk_size(m["chunks"], dtype)
    return ZarrMetadata(
        shape=m["shape"],
        chunks=m["chunks"],
        dtype=dtype,
        compressor=m["compressor"],
        order=m["order"],
        fill_values=parse_fill_value(dtype, m["fill_value_json"]),
        dimension_separator=m["dimension_separator"] or ".",
    )


_INDEX_MAX = (1 << 63) - 1


def check_chunk_size(chunks: list[int], dtype: ZarrDType) -> None:
    """Refuses chunks whose element or byte count overflows a 64-bit index, as TensorStore does
    (such an array could never be read or written)."""
    elements = 1
    for c in chunks:
        elements *= c
        if elements > _INDEX_MAX:
            raise invalid_argument(f"Product of chunk dimensions {{{', '.join(map(str, chunks))}}} is too large")
    if elements * dtype.bytes_per_outer_element > _INDEX_MAX:
        raise invalid_argument("Total number of bytes per chunk is too large")


# ---------------------------------------------------------------------------------------------
# Fill values.


def _parse_float(j: Any) -> float:
    if isinstance(j, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if j in special:
            return special[j]
        raise invalid_argument(f"Invalid floating-point value: {dumps(j)}")
    if isinstance(j, bool) or not isinstance(j, (int, float)):
        raise invalid_argument(f"Expected number, but received: {dumps(j)}")
    return float(j)


def _encode_float(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(v)


def _parse_scalar(f: ZarrField, j: Any) -> np.ndarray:
    np_dtype = f.dtype.numpy_dtype
    kind = np_dtype.kind
    if f.dtype.name == "bool":
        if not isinstance(j, bool):
            raise invalid_argument(f"Expected boolean, but received: {dumps(j)}")
        return np.array(j, dtype=np.bool_)
    if kind in "iu":
        info = np.iinfo(np_dtype)
        return np.array(expect_int(j, int(info.min), int(info.max)), dtype=np_dtype)
    if kind == "c":
        parts = expect_array(j, 2)
        return np.array(complex(_parse_float(parts[0]), _parse_float(parts[1])), dtype=np_dtype)
    # float16/32/64 and the ml_dtypes floats
    with np.errstate(over="ignore"):
        return np.array(_parse_float(j), dtype=np_dtype)


def parse_fill_value(dtype: ZarrDType, j: Any) -> list[np.ndarray | None]:
    """Per-field fill values (None means "unspecified": zeros are read)."""
    if j is None:
        return [None] * len(dtype.fields)
    if dtype.has_fields or dtype.fields[0].dtype.name in ("char", "byte"):
        raw = _decode_base64(j, dtype.bytes_per_outer_element)
        arr = np.frombuffer(raw, dtype=dtype.numpy_dtype, count=1)
        if not dtype.has_fields:
            return [_native(arr.view(dtype.fields[0].numpy_dtype).reshape(dtype.fields[0].field_shape).copy())]
        return [_native(np.array(arr[0][f.name])) for f in dtype.fields]
    return [_parse_scalar(dtype.fields[0], j)]


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("=")) if a.dtype.byteorder not in ("=", "|") else a


def _decode_base64(j: Any, size: int) -> bytes:
    s = expect_string(j)
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError:
        raise invalid_argument(f"Expected base64-encoded string, but received: {dumps(j)}") from None
    if len(raw) != size:
        raise invalid_argument(f"Expected {size} base64-encoded bytes, but received: {len(raw)} bytes")
    return raw


def encode_fill_value(dtype: ZarrDType, values: list[np.ndarray | None]) -> Any:
    if all(v is None for v in values):
        return None
    if dtype.has_fields or dtype.fields[0].dtype.name in ("char", "byte"):
        element = np.zeros((), dtype=dtype.numpy_dtype)
        if dtype.has_fields:
            for f, v in zip(dtype.fields, values):
                if v is not None:
                    element[f.name] = v
        elif values[0] is not None:
            element = np.frombuffer(np.ascontiguousarray(values[0]).tobytes(), dtype=dtype.numpy_dtype, count=1)[0]
        return base64.b64encode(np.asarray(element).tobytes()).decode()
    v = values[0]
    kind = v.dtype.kind
    if v.dtype == np.bool_:
        return bool(v)
    if kind in "iu":
        return int(v)
    if kind == "c":
        return [_encode_float(float(v.real)), _encode_float(float(v.imag))]
    return _encode_float(float(v))


def fill_value_from_schema(dtype: ZarrDType, field_index: int, value: np.ndarray) -> list[np.ndarray | None]:
    """Fill values for a new array whose selected field gets the schema's fill value."""
    out: list[np.ndarray | None] = [None] * len(dtype.fields)
    f = dtype.fields[field_index]
    out[field_index] = np.asarray(value, dtype=f.dtype.numpy_dtype)
    return out


def check_constraints(stored: ZarrMetadata, c: ZarrMetadataConstraints) -> None:
    """FAILED_PRECONDITION when a member the spec names differs from the stored metadata."""
    constraints = c.to_json()
    if not constraints:
        return
    stored_json = stored.to_json()
    for name, value in constraints.items():
        if stored_json.get(name) != value:
            raise failed_precondition(f'Expected "{name}" of {dumps(value)} but received: {dumps(stored_json.get(name))}')
