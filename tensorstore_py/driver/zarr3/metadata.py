"""The zarr v3 array metadata (`zarr.json`): data types, fill values, chunk keys, validation.

Parsing is strict as TensorStore 0.1.86 is: every required member present, extensions accepted
only when marked ``{"must_understand": false}``, no storage transformers.  The spec's
``metadata`` member is the same object with every member optional (`Zarr3MetadataConstraints`);
creation fills the gaps from the schema (spec.py).  The `codecs` member is parsed into a
`CodecChain` by the zarr3 codec dialect (codec_json.py) and kept with its JSON.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Optional

import numpy as np

from ... import dtypes
from ...errors import invalid_argument
from ...json_util import ObjectReader, dumps, expect_array, expect_int, expect_object, expect_string, member_error, parse_array

__all__ = [
    "DATA_TYPES", "ChunkKeyEncoding", "resolve_codecs", "Zarr3Metadata", "Zarr3MetadataConstraints", "parse_data_type",
    "fill_value_from_json", "fill_value_to_json", "parse_metadata", "parse_metadata_constraints",
]  # fmt: skip

#: The data types TensorStore's zarr3 driver accepts, in the order its messages list them.
DATA_TYPES = (
    "bool", "int2", "int4", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float8_e3m4", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2",
    "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn", "float16", "bfloat16", "float32", "float64",
    "complex64", "complex128",
)  # fmt: skip

_INT_RANGE_MAX = (1 << 63) - 2  # the largest finite index, as "shape" and "chunk_shape" allow
_KNOWN_MEMBERS = (
    "zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value",
    "codecs", "attributes", "dimension_names", "storage_transformers",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Data types and fill values.


def parse_data_type(j: Any) -> dtypes.dtype:
    """The `data_type` member (a name) as a TensorStore dtype."""
    if not isinstance(j, str):
        raise invalid_argument(
            f"Expected string, array, or object with 'name' and 'configuration', but received: {dumps(j)}"
        )
    if j in DATA_TYPES:
        return dtypes.ALL_DTYPES[j]
    if re.fullmatch(r"r\d*", j):
        bits = j[1:]
        if not bits or int(bits) == 0 or int(bits) % 8:
            raise invalid_argument(f"{j} data type is invalid; expected r<N> where N is a positive multiple of 8")
        # Raw-bits types open in TensorStore as an extra byte dimension: not supported here yet.
        raise invalid_argument(f"{j} raw data types are not supported by this implementation")
    raise invalid_argument(
        f"{j} data type is not one of the supported data types: {', '.join(DATA_TYPES)}, r<N>"
    )


def _is_float(dt: dtypes.dtype) -> bool:
    return dt.name.startswith(("float", "bfloat"))


def _int_bounds(dt: dtypes.dtype) -> tuple[int, int]:
    if dt.name == "int2":
        return -2, 1
    if dt.name == "int4":
        return -8, 7
    info = np.iinfo(dt.numpy_dtype)
    return int(info.min), int(info.max)


def _float_from_json(j: Any, np_dtype: np.dtype) -> np.ndarray:
    if isinstance(j, bool) or not isinstance(j, (int, float, str)):
        raise invalid_argument(f"Expected floating-point number, but received: {dumps(j)}")
    if isinstance(j, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if j in special:
            return np.asarray(special[j]).astype(np_dtype)
        digits = j[2:] if j.startswith("0x") else ""
        width = 2 * np_dtype.itemsize
        if not digits or len(digits) > width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
            raise invalid_argument(f'Expected "Infinity", "-Infinity", "NaN", or hex string, but received: {dumps(j)}')
        bits = int(digits, 16)
        unsigned = np.dtype(f"u{np_dtype.itemsize}")
        return np.asarray(bits, dtype=unsigned).view(np_dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(float(j)).astype(np_dtype)


def _float_to_json(value: np.ndarray) -> Any:
    x = float(value)
    if math.isnan(x):
        canonical = np.asarray(math.nan).astype(value.dtype)
        if canonical.tobytes() == value.tobytes():
            return "NaN"
        return "0x" + value.tobytes()[::-1].hex()
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def fill_value_from_json(dt: dtypes.dtype, j: Any) -> np.ndarray:
    """The `fill_value` member for data type `dt`, as a 0-d array."""
    np_dtype = dt.numpy_dtype
    if dt.name == "bool":
        if not isinstance(j, bool):
            raise invalid_argument(f"Expected boolean, but received: {dumps(j)}")
        return np.asarray(j, dtype=np_dtype)
    if dt.name.startswith("complex"):
        part = np.dtype("float32" if dt.name == "complex64" else "float64")
        items = expect_array(j, 2)
        re_, im = (_float_from_json(v, part) for v in items)
        out = np.zeros((), dtype=np_dtype)
        out.real, out.imag = re_, im
        return out
    if _is_float(dt):
        return _float_from_json(j, np_dtype)
    lo, hi = _int_bounds(dt)
    if dt.name in ("int64", "uint64"):
        what = "64-bit signed integer" if dt.name == "int64" else "64-bit unsigned integer"
        value = _integral(j)
        if value is None or not lo <= value <= hi:
            raise invalid_argument(f"Expected {what}, but received: {dumps(j)}")
        return np.asarray(value, dtype=np_dtype)
    value = _integral(j)
    if value is None or not lo <= value <= hi:
        raise invalid_argument(f"Expected integer in the range [{lo}, {hi}], but received: {dumps(j)}")
    return np.asarray(value).astype(np_dtype)


def _integral(j: Any) -> Optional[int]:
    if isinstance(j, bool):
        return None
    if isinstance(j, int):
        return j
    if isinstance(j, float) and math.isfinite(j) and j == int(j):
        return int(j)
    return None


def fill_value_to_json(dt: dtypes.dtype, value: np.ndarray) -> Any:
    """The JSON TensorStore writes for a fill value of data type `dt`."""
    value = np.asarray(value, dtype=dt.numpy_dtype)
    if dt.name == "bool":
        return bool(value)
    if dt.name.startswith("complex"):
        part = np.dtype("float32" if dt.name == "complex64" else "float64")
        return [_float_to_json(np.asarray(value.real, part)), _float_to_json(np.asarray(value.imag, part))]
    if _is_float(dt):
        return _float_to_json(value)
    return int(value.astype(np.int64)) if dt.name in ("int2", "int4") else int(value)


# ---------------------------------------------------------------------------------------------
# Members.


@dataclasses.dataclass(frozen=True)
class ChunkKeyEncoding:
    """`default` ("c/1/2", separator "/" unless given) or `v2` ("1.2", separator "." unless given)."""

    kind: str = "default"
    separator: Optional[str] = None  # None: not given, the kind's default

    @property
    def effective_separator(self) -> str:
        if self.separator is not None:
            return self.separator
        return "/" if self.kind == "default" else "."

    def key(self, cell: tuple[int, ...]) -> str:
        sep = self.effective_separator
        if self.kind == "default":
            return sep.join(["c", *map(str, cell)])
        return sep.join(map(str, cell)) if cell else "0"

    def cell_of(self, name: str, rank: int) -> Optional[tuple[int, ...]]:
        sep = self.effective_separator
        parts = name.split(sep)
        if self.kind == "default":
            if parts[0] != "c":
                return None
            parts = parts[1:]
        elif rank == 0:
            return () if parts == ["0"] else None
        if len(parts) != rank or not all(p.isdigit() for p in parts):
            return None
        return tuple(int(p) for p in parts)

    def to_json(self) -> dict:
        j: dict[str, Any] = {"name": self.kind}
        if self.separator is not None:
            j["configuration"] = {"separator": self.separator}
        return j


def parse_chunk_key_encoding(j: Any) -> ChunkKeyEncoding:
    r = ObjectReader(j)

    def kind(v: Any) -> str:
        s = expect_string(v)
        if s not in ("default", "v2"):
            raise invalid_argument(f'Expected one of "default", "v2", but received: {dumps(s)}')
        return s

    name = r.get("name", kind)
    separator = None
    if r.has("configuration"):

        def config(v: Any) -> Optional[str]:
            c = ObjectReader(v)

            def sep(s: Any) -> str:
                s = expect_string(s)
                if s not in (".", "/"):
                    raise invalid_argument(f'Expected one of ".", "/", but received: {dumps(s)}')
                return s

            out = c.get("separator", sep, None)
            c.finish()
            return out

        separator = r.get("configuration", config)
    r.finish()
    return ChunkKeyEncoding(name, separator)


def parse_chunk_grid(j: Any, rank: Optional[int]) -> list[int]:
    r = ObjectReader(j)

    def name(v: Any) -> str:
        s = expect_string(v)
        if s != "regular":
            raise invalid_argument(f'Expected "regular", but received: {dumps(s)}')
        return s

    r.get("name", name)

    def config(v: Any) -> list[int]:
        c = ObjectReader(v)
        shape = c.get(
            "chunk_shape", lambda s: parse_array(s, lambda x: expect_int(x, 1, _INT_RANGE_MAX), rank)
        )
        c.finish()
        return shape

    shape = r.get("configuration", config)
    r.finish()
    return shape


def _parse_shape(j: Any) -> list[int]:
    return parse_array(j, lambda x: expect_int(x, 0, _INT_RANGE_MAX))


def _parse_dimension_names(rank: Optional[int]):
    def parse(j: Any) -> list[Optional[str]]:
        def name(v: Any) -> Optional[str]:
            if v is None or isinstance(v, str):
                return v
            raise invalid_argument(f"Expected string or null, but received: {dumps(v)}")

        return parse_array(j, name, rank)

    return parse


def _zarr_format(j: Any) -> int:
    return expect_int(j, 3, 3)


def _node_type(j: Any) -> str:
    if j != "array":
        raise invalid_argument(f'Expected "array", but received: {dumps(j)}')
    return j


def _storage_transformers(j: Any) -> list:
    items = expect_array(j)
    if items:
        raise invalid_argument("No storage transformers supported")
    return items


def _check_extensions(extra: dict) -> None:
    for name, value in extra.items():
        if not (isinstance(value, dict) and value.get("must_understand") is False):
            raise invalid_argument(f'Unsupported metadata field {dumps(name)} is not marked {{"must_understand": false}}')


# ---------------------------------------------------------------------------------------------
# The metadata.


@dataclasses.dataclass
class Zarr3Metadata:
    """A complete, valid `zarr.json` of an array."""

    shape: list[int]
    dtype: dtypes.dtype
    chunk_shape: list[int]
    chunk_key_encoding: ChunkKeyEncoding
    fill_value: np.ndarray  # 0-d, of `dtype`
    codecs: Any  # codecs.chain.ResolvedCodecChain bound to (chunk_shape, dtype)
    attributes: Optional[dict] = None
    dimension_names: Optional[list] = None
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def to_json(self, stored: bool = True) -> dict:
        """The metadata JSON: as `zarr.json` holds it (`stored`), or as a spec reports it."""
        from .codec_json import zarr3_codecs_json

        j: dict[str, Any] = {
            "chunk_grid": {"configuration": {"chunk_shape": list(self.chunk_shape)}, "name": "regular"},
            "chunk_key_encoding": self.chunk_key_encoding.to_json(),
            "codecs": zarr3_codecs_json(self.codecs, stored=stored),
            "data_type": self.dtype.name,
            "fill_value": fill_value_to_json(self.dtype, self.fill_value),
            "node_type": "array",
            "shape": list(self.shape),
            "zarr_format": 3,
        }
        if self.attributes is not None:
            j["attributes"] = self.attributes
        if self.dimension_names is not None and any(n is not None for n in self.dimension_names):
            j["dimension_names"] = list(self.dimension_names)
        j.update(self.extra)
        return {k: j[k] for k in sorted(j)}

    def encode(self) -> bytes:
        """`zarr.json` as TensorStore writes it (compact, sorted members)."""
        return dumps(self.to_json()).encode()

    @property
    def labels(self) -> list[str]:
        names = self.dimension_names or [None] * self.rank
        return [n or "" for n in names]


def _parse_codecs(j: Any, constraint: bool) -> Any:
    from .codec_json import parse_zarr3_codecs

    # TensorStore takes no shorthand (a bare codec name) in place of a codec object.
    for i, item in enumerate(expect_array(j)):
        if not isinstance(item, dict):
            raise invalid_argument(f"Error parsing value at position {i}: Expected object, but received: {dumps(item)}")

    return parse_zarr3_codecs(j, constraint=constraint)


def parse_metadata(j: Any) -> Zarr3Metadata:
    """A stored `zarr.json` (already JSON-decoded), its codecs resolved; errors as TensorStore's."""
    r = ObjectReader(j)
    r.get("zarr_format", _zarr_format_required(r))
    if not r.has("node_type"):
        raise member_error("node_type", invalid_argument('Expected "array", but member is missing'))
    r.get("node_type", _node_type)
    c = _read_members(r, required=True)
    _check_extensions(r.remaining())
    extra = dict(r.remaining())
    return _complete(c, extra)


def _zarr_format_required(r: ObjectReader):
    if not r.has("zarr_format"):
        raise member_error("zarr_format", invalid_argument("Expected integer in the range [3, 3], but received: <discarded>"))
    return _zarr_format


def _missing(name: str, what: str) -> BaseException:
    return member_error(name, invalid_argument(f"Expected {what}, but member is missing"))


@dataclasses.dataclass
class Zarr3MetadataConstraints:
    """The spec's `metadata` member: any subset of `zarr.json`."""

    zarr_format: Optional[int] = None
    shape: Optional[list[int]] = None
    dtype: Optional[dtypes.dtype] = None
    chunk_shape: Optional[list[int]] = None
    chunk_key_encoding: Optional[ChunkKeyEncoding] = None
    fill_value: Optional[np.ndarray] = None
    codecs: Any = None
    codecs_json: Optional[list] = None
    attributes: Optional[dict] = None
    dimension_names: Optional[list] = None
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def rank(self) -> Optional[int]:
        for v in (self.shape, self.chunk_shape, self.dimension_names):
            if v is not None:
                return len(v)
        return None

    def to_json(self) -> dict:
        j: dict[str, Any] = {}
        if self.zarr_format is not None:
            j["zarr_format"] = self.zarr_format
        if self.shape is not None:
            j["shape"] = list(self.shape)
        if self.dtype is not None:
            j["data_type"] = self.dtype.name
        if self.chunk_shape is not None:
            j["chunk_grid"] = {"configuration": {"chunk_shape": list(self.chunk_shape)}, "name": "regular"}
        if self.chunk_key_encoding is not None:
            j["chunk_key_encoding"] = self.chunk_key_encoding.to_json()
        if self.fill_value is not None and self.dtype is not None:
            j["fill_value"] = fill_value_to_json(self.dtype, self.fill_value)
        if self.codecs_json is not None:
            j["codecs"] = self.codecs_json
        if self.attributes is not None:
            j["attributes"] = self.attributes
        if self.dimension_names is not None:
            j["dimension_names"] = list(self.dimension_names)
        j.update(self.extra)
        j["node_type"] = "array"
        return {k: j[k] for k in sorted(j)}


def _read_members(r: ObjectReader, required: bool) -> Zarr3MetadataConstraints:
    c = Zarr3MetadataConstraints()
    if required and not r.has("shape"):
        raise _missing("shape", "array")
    c.shape = r.get("shape", _parse_shape, None)
    if required and not r.has("data_type"):
        raise _missing("data_type", "string")
    c.dtype = r.get("data_type", parse_data_type, None)
    if required and not r.has("chunk_grid"):
        raise _missing("chunk_grid", "object")
    c.chunk_shape = r.get("chunk_grid", lambda v: parse_chunk_grid(v, len(c.shape) if c.shape is not None else None), None)
    if required and not r.has("chunk_key_encoding"):
        raise _missing("chunk_key_encoding", "object")
    c.chunk_key_encoding = r.get("chunk_key_encoding", parse_chunk_key_encoding, None)
    if r.has("fill_value"):
        if c.dtype is None:
            raise member_error("fill_value", invalid_argument('must be specified in conjunction with "data_type"'))
        c.fill_value = r.get("fill_value", lambda v: fill_value_from_json(c.dtype, v))
    elif required:
        # TensorStore parses the missing member as null for the type: the type's own message.
        try:
            fill_value_from_json(c.dtype, None)
        except ValueError as exc:
            raise member_error("fill_value", invalid_argument(str(getattr(exc, "message", exc)).replace("null", "<discarded>"))) from None
    if required and not r.has("codecs"):
        raise _missing("codecs", "array")
    if r.has("codecs"):
        c.codecs_json = r.get("codecs", lambda v: _copy_json(expect_array(v)))
        c.codecs = r.get("codecs", lambda v: _parse_codecs(v, not required))
    c.attributes = r.get("attributes", lambda v: _copy_json(expect_object(v)), None)
    rank = c.rank
    c.dimension_names = r.get("dimension_names", _parse_dimension_names(rank), None)
    r.get("storage_transformers", _storage_transformers, None)
    return c


def _copy_json(j: Any) -> Any:
    import copy

    return copy.deepcopy(j)


def resolve_codecs(chain: Any, chunk_shape: list[int], dtype: dtypes.dtype, fill_value: np.ndarray, strict: bool) -> Any:
    """The codec chain bound to the array's chunks (INVALID_ARGUMENT when they do not fit)."""
    from .codec_json import resolve_zarr3_codecs

    return resolve_zarr3_codecs(chain, tuple(chunk_shape), dtype.numpy_dtype, fill_value, strict=strict)


def _complete(c: Zarr3MetadataConstraints, extra: dict) -> Zarr3Metadata:
    assert c.shape is not None and c.dtype is not None and c.chunk_shape is not None
    assert c.chunk_key_encoding is not None and c.fill_value is not None
    return Zarr3Metadata(
        shape=c.shape,
        dtype=c.dtype,
        chunk_shape=c.chunk_shape,
        chunk_key_encoding=c.chunk_key_encoding,
        fill_value=c.fill_value,
        codecs=resolve_codecs(c.codecs, c.chunk_shape, c.dtype, c.fill_value, strict=True),
        attributes=c.attributes,
        dimension_names=c.dimension_names,
        extra=extra,
    )


def parse_metadata_constraints(j: Any) -> Zarr3MetadataConstraints:
    """The spec's `metadata` member."""
    r = ObjectReader(j)
    zarr_format = r.get("zarr_format", _zarr_format, None)
    r.get("node_type", _node_type, None)
    c = _read_members(r, required=False)
    c.zarr_format = zarr_format
    _check_extensions(r.remaining())
    c.extra = dict(r.remaining())
    return c
