"""The n5 `attributes.json` of an array: parsing, validation and JSON, as TensorStore reads it.

N5 dimensions are listed in the same order as TensorStore's dimensions; what differs is the
memory layout of a block (the first dimension varies fastest, i.e. Fortran order).

Besides the mandatory `dimensions`, `blockSize`, `dataType` and `compression`, TensorStore
understands `axes` (dimension labels), `units` and `resolution` (dimension units: resolution
is the multiplier, units the base unit) and keeps every other attribute unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from typing import Any, Callable, Optional

from ... import codecs
from ... import dtypes as _dtypes
from ...errors import failed_precondition, invalid_argument
from ...json_util import ObjectReader, dumps, expect_int, expect_string, member_error, parse_array
from ...json_util import loads as json_loads
from ...schema import Unit

__all__ = [
    "N5Metadata", "N5MetadataConstraints", "SUPPORTED_DTYPES", "parse_metadata",
    "parse_metadata_constraints", "validate_dtype", "check_constraints", "MAX_CHUNK_BYTES",
]  # fmt: skip

#: The data types n5 can store, in TensorStore's order (used verbatim in its message).
SUPPORTED_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64")

#: The n5 specification caps a block at 2 GiB; TensorStore applies it to the decoded block.
MAX_CHUNK_BYTES = 1 << 31

MAX_RANK = 32

# TensorStore bounds shapes by its largest index for a JSON shape vector (2**63 - 2).
_SHAPE_MAX = (1 << 63) - 2

# Members TensorStore interprets; anything else is an "extra attribute", kept verbatim.
_KNOWN = ("dimensions", "blockSize", "dataType", "compression", "axes", "units", "resolution")


def validate_dtype(dt: _dtypes.dtype) -> _dtypes.dtype:
    """`dt` if n5 can store it, else INVALID_ARGUMENT listing the types it can."""
    if dt.name not in SUPPORTED_DTYPES:
        raise invalid_argument(
            f"{dt.name} data type is not one of the supported data types: {', '.join(SUPPORTED_DTYPES)}"
        )
    return dt


def _parse_dtype(j: Any) -> _dtypes.dtype:
    name = expect_string(j)
    try:
        dt = _dtypes.dtype(name)
    except (TypeError, ValueError):
        raise invalid_argument(f"Unsupported data type: {dumps(j)}") from None
    return validate_dtype(dt)


def _parse_resolution_value(j: Any) -> float:
    if isinstance(j, bool) or not isinstance(j, (int, float)):
        raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")
    return float(j)


def _parse_labels(j: Any, rank: Optional[int]) -> list[str]:
    labels = parse_array(j, expect_string, rank)
    seen: dict[str, int] = {}
    for label in labels:
        if label:
            seen[label] = seen.get(label, 0) + 1
    duplicates = [label for label, n in seen.items() if n > 1]
    if duplicates:
        names = ", ".join(dumps(d) for d in duplicates)
        raise invalid_argument(f"Dimension label(s) {names} not unique")
    return labels


class _RankTracker:
    """The first vector member fixes the rank; later ones must have that length."""

    def __init__(self) -> None:
        self.rank: Optional[int] = None

    def vector(self, element: Callable[[Any], Any]) -> Callable[[Any], list]:
        def parse(j: Any) -> list:
            if self.rank is None and isinstance(j, list) and len(j) > MAX_RANK:
                raise invalid_argument(f"Rank {len(j)} is outside valid range [0, {MAX_RANK}]")
            out = parse_array(j, element, self.rank)
            self.rank = len(out)
            return out

        return parse

    def labels(self, j: Any) -> list[str]:
        if self.rank is None and isinstance(j, list) and len(j) > MAX_RANK:
            raise invalid_argument(f"Rank {len(j)} is outside valid range [0, {MAX_RANK}]")
        out = _parse_labels(j, self.rank)
        self.rank = len(out)
        return out


@dataclasses.dataclass
class N5MetadataConstraints:
    """The spec's `metadata` member: any subset of the attributes (all optional)."""

    shape: Optional[list[int]] = None
    chunk_shape: Optional[list[int]] = None
    dtype: Optional[_dtypes.dtype] = None
    compressor: Any = None  # codecs.Codec or None
    axes: Optional[list[str]] = None
    units: Optional[list[str]] = None
    resolution: Optional[list[float]] = None
    extra: dict = dataclasses.field(default_factory=dict)
    rank: Optional[int] = None

    def to_json(self) -> dict:
        out: dict[str, Any] = copy.deepcopy(self.extra)
        if self.axes is not None and any(self.axes):
            out["axes"] = list(self.axes)
        if self.chunk_shape is not None:
            out["blockSize"] = list(self.chunk_shape)
        if self.compressor is not None:
            out["compression"] = self.compressor.to_json()
        if self.dtype is not None:
            out["dataType"] = self.dtype.name
        if self.shape is not None:
            out["dimensions"] = list(self.shape)
        if self.resolution is not None:
            out["resolution"] = [float(x) for x in self.resolution]
        if self.units is not None:
            out["units"] = list(self.units)
        return _sorted(out)


@dataclasses.dataclass
class N5Metadata:
    """A complete, validated `attributes.json`."""

    shape: list[int]
    chunk_shape: list[int]
    dtype: _dtypes.dtype
    compressor: Any  # codecs.Codec
    axes: list[str]
    units: Optional[list[str]] = None
    resolution: Optional[list[float]] = None
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def to_json(self) -> dict:
        return N5MetadataConstraints(
            shape=self.shape, chunk_shape=self.chunk_shape, dtype=self.dtype, compressor=self.compressor,
            axes=self.axes, units=self.units, resolution=self.resolution, extra=self.extra,
        ).to_json()  # fmt: skip

    def encode(self) -> bytes:
        """The `attributes.json` bytes as TensorStore writes them (compact, sorted keys)."""
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()

    def dimension_units(self) -> list:
        """One `Unit` per dimension when `units` is present (multiplier from `resolution`)."""
        return units_from(self.rank, self.units, self.resolution)


def units_from(rank: Optional[int], units: Optional[list[str]], resolution: Optional[list[float]]) -> list:
    """Dimension units the attributes imply ([] when the rank is unknown, None where unknown)."""
    if rank is None:
        return []
    if units is None:
        return [None] * rank
    multipliers = resolution if resolution is not None else [1.0] * rank
    return [Unit(float(m), u) for m, u in zip(multipliers, units)]


def format_units(units: list) -> str:
    """Dimension units as TensorStore prints them in messages (`["4 nm", null]`)."""
    return "[" + ", ".join("null" if u is None else json.dumps(str(u), ensure_ascii=False) for u in units) + "]"


def _sorted(j: Any) -> Any:
    if isinstance(j, dict):
        return {k: _sorted(j[k]) for k in sorted(j)}
    if isinstance(j, list):
        return [_sorted(v) for v in j]
    return j


def _read(j: Any, required: bool) -> dict[str, Any]:
    """Parses the members in TensorStore's order; a stored attributes.json needs the first four."""
    r = ObjectReader(j)
    ranks = _RankTracker()
    out: dict[str, Any] = {}

    def member(name: str, kind: str, parse: Callable[[Any], Any]) -> Any:
        if required and not r.has(name):
            raise member_error(name, invalid_argument(f"Expected {kind}, but member is missing"))
        return r.get(name, parse, None)

    out["shape"] = member("dimensions", "array", ranks.vector(lambda x: expect_int(x, 0, _SHAPE_MAX)))
    out["chunk_shape"] = member("blockSize", "array", ranks.vector(lambda x: expect_int(x, 1, _SHAPE_MAX)))
    out["dtype"] = member("dataType", "string", _parse_dtype)
    out["compressor"] = member("compression", "object", codecs.n5_compression_from_json)
    out["axes"] = r.get("axes", ranks.labels, None)
    out["units"] = r.get("units", ranks.vector(expect_string), None)
    out["resolution"] = r.get("resolution", ranks.vector(_parse_resolution_value), None)
    out["extra"] = {k: copy.deepcopy(v) for k, v in r.json.items() if k not in _KNOWN}
    out["rank"] = ranks.rank
    return out


def parse_metadata_constraints(j: Any) -> N5MetadataConstraints:
    """Parses the spec's `metadata` member."""
    return N5MetadataConstraints(**_read(j, required=False))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text}")
    return value


def loads(data: bytes) -> Any:
    """Strict JSON as TensorStore parses it: no NaN/Infinity, no out-of-range numbers."""
    try:
        return json_loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:
        deep = "nested more than" in str(exc)
        raise (exc if deep else invalid_argument("Invalid JSON")) from None


def parse_metadata(j: Any) -> N5Metadata:
    """Parses a stored `attributes.json` (INVALID_ARGUMENT naming the member on error)."""
    m = _read(j, required=True)
    rank = len(m["shape"])
    metadata = N5Metadata(
        shape=m["shape"],
        chunk_shape=m["chunk_shape"],
        dtype=m["dtype"],
        compressor=m["compressor"],
        axes=m["axes"] if m["axes"] is not None else [""] * rank,
        units=m["units"],
        resolution=m["resolution"],
        extra=m["extra"],
    )
    check_chunk_size(metadata.chunk_shape, metadata.dtype)
    return metadata


def check_chunk_size(chunk_shape: list[int], dtype: _dtypes.dtype) -> None:
    """INVALID_ARGUMENT when one decoded block would exceed n5's 2 GiB limit."""
    limit = MAX_CHUNK_BYTES // dtype.numpy_dtype.itemsize
    if math.prod(chunk_shape) > limit:
        raise invalid_argument(
            f'"blockSize" of {{{", ".join(map(str, chunk_shape))}}} with data type of {dtype.name} '
            "exceeds maximum chunk size of 2GB"
        )


def _mismatch(name: str, expected: Any, received: Any) -> Exception:
    text = "<discarded>" if received is _DISCARDED else dumps(received)
    return failed_precondition(f"Expected {dumps(name)} of {dumps(expected)} but received: {text}")


_DISCARDED: Any = object()


def check_constraints(stored: N5Metadata, c: N5MetadataConstraints) -> None:
    """FAILED_PRECONDITION when an attribute the spec names differs from the stored one."""
    if c.shape is not None and list(c.shape) != list(stored.shape):
        raise _mismatch("dimensions", c.shape, stored.shape)
    if c.axes is not None and list(c.axes) != list(stored.axes):
        raise _mismatch("axes", c.axes, stored.axes)
    if c.chunk_shape is not None and list(c.chunk_shape) != list(stored.chunk_shape):
        raise _mismatch("blockSize", c.chunk_shape, stored.chunk_shape)
    if c.dtype is not None and c.dtype != stored.dtype:
        raise _mismatch("dataType", c.dtype.name, stored.dtype.name)
    if c.compressor is not None and c.compressor.to_json() != stored.compressor.to_json():
        raise _mismatch("compression", c.compressor.to_json(), stored.compressor.to_json())
    if c.units is not None and c.units != stored.units:
        raise _mismatch("units", c.units, _DISCARDED if stored.units is None else stored.units)
    if c.resolution is not None and c.resolution != stored.resolution:
        expected = [float(x) for x in c.resolution]
        received = _DISCARDED if stored.resolution is None else [float(x) for x in stored.resolution]
        raise _mismatch("resolution", expected, received)
    for name, value in c.extra.items():
        if name not in stored.extra:
            raise _mismatch(name, value, _DISCARDED)
        if not _json_same(stored.extra[name], value):
            raise _mismatch(name, value, stored.extra[name])


def _json_same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and 1.0 are the same number, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def format_doubles(values: list[float]) -> str:
    """A vector of doubles as TensorStore prints one in messages (`{1, 2.5}`)."""
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"

