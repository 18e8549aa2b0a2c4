"""zarr v2 data types: the `dtype` member of `.zarray`, simple ("<i4") or structured."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from ... import dtypes
from ...errors import invalid_argument
from ...json_util import dumps, expect_array, expect_int, expect_string

__all__ = ["ZarrField", "ZarrDType", "parse_dtype"]

# Type code (without byte order) -> TensorStore dtype name.
_SIMPLE = {
    "b1": "bool", "i1": "int8", "u1": "uint8", "i2": "int16", "u2": "uint16", "i4": "int32",
    "u4": "uint32", "i8": "int64", "u8": "uint64", "f2": "float16", "f4": "float32",
    "f8": "float64", "c8": "complex64", "c16": "complex128",
}  # fmt: skip
# TensorStore extensions spelled without a byte order.
_EXTENSION = ("bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2", "float8_e5m2fnuz",
              "float8_e3m4", "float4_e2m1fn", "float8_e8m0fnu", "int2", "int4")
_SIMPLE_RE = re.compile(r"^([<>|])([a-zA-Z]\d+)$")
_BYTES_RE = re.compile(r"^\|([SV])(\d+)$")


@dataclasses.dataclass(frozen=True)
class ZarrField:
    """One field of a zarr dtype (a simple dtype is one unnamed field)."""

    name: str
    encoded: str  # the zarr spelling, e.g. "<i4"
    dtype: dtypes.dtype  # TensorStore element type
    endian: str  # "<", ">" or "|"
    field_shape: tuple[int, ...]  # sub-array dims, appended to the array's domain
    byte_offset: int
    num_bytes: int  # bytes of the whole field (element size times field_shape product)

    @property
    def numpy_dtype(self) -> np.dtype:
        """Element dtype with the stored byte order."""
        base = self.dtype.numpy_dtype
        if self.dtype.name == "char":
            return np.dtype("S1")
        if self.dtype.name == "byte":
            return np.dtype("V1")
        return base.newbyteorder(self.endian) if self.endian in "<>" and base.itemsize > 1 else base


@dataclasses.dataclass(frozen=True)
class ZarrDType:
    """A parsed zarr dtype: its fields and the NumPy dtype of one stored element."""

    fields: tuple[ZarrField, ...]
    has_fields: bool  # structured (fields are selected by name)
    bytes_per_outer_element: int

    def to_json(self) -> Any:
        if not self.has_fields:
            return self.fields[0].encoded
        out = []
        for f in self.fields:
            item: list[Any] = [f.name, f.encoded]
            if f.field_shape:
                item.append(list(f.field_shape))
            out.append(item)
        return out

    @property
    def numpy_dtype(self) -> np.dtype:
        """The stored element dtype (structured when the zarr dtype has fields)."""
        if not self.has_fields:
            f = self.fields[0]
            return _field_numpy(f, with_shape=True)
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [_field_numpy(f, with_shape=True) for f in self.fields],
                "offsets": [f.byte_offset for f in self.fields],
                "itemsize": self.bytes_per_outer_element,
            }
        )

    def field_index(self, field: str | None) -> int:
        if not self.has_fields:
            if field is not None:
                raise invalid_argument(f"Requested field {dumps(field)} but dtype does not have named fields")
            return 0
        if field is None:
            names = ",".join(dumps(f.name) for f in self.fields)
            raise invalid_argument(f'Must specify a "field" that is one of: [{names}]')
        for i, f in enumerate(self.fields):
            if f.name == field:
                return i
        names = ",".join(dumps(f.name) for f in self.fields)
        raise invalid_argument(f"Requested field {dumps(field)} is not one of: [{names}]")


def _field_numpy(f: ZarrField, with_shape: bool) -> np.dtype:
    if f.dtype.name in ("char", "byte"):
        # Byte strings keep their zarr meaning: one "S<n>"/"V<n>" item, exposed as n chars.
        n = f.field_shape[-1] if f.field_shape else 1
        base = np.dtype(f"S{n}" if f.dtype.name == "char" else f"V{n}")
        outer = f.field_shape[:-1]
        return np.dtype((base, outer)) if with_shape and outer else base
    base = f.numpy_dtype
    return np.dtype((base, f.field_shape)) if with_shape and f.field_shape else base


def _parse_simple(s: Any) -> tuple[dtypes.dtype, str, str, tuple[int, ...]]:
    """(dtype, endian, normalised spelling, extra shape) for a simple zarr dtype string."""
    s = expect_string(s)
    if s in _EXTENSION and s in dtypes.ALL_DTYPES:
        return dtypes.ALL_DTYPES[s], "<", s, ()
    m = _BYTES_RE.match(s)
    if m:
        n = int(m.group(2))
        if n <= 0:
            raise invalid_argument(f"Unsupported zarr dtype: {dumps(s)}")
        name = "char" if m.group(1) == "S" else "byte"
        return dtypes.ALL_DTYPES[name], "|", s, (n,)
    m = _SIMPLE_RE.match(s)
    if not m or m.group(2) not in _SIMPLE:
        raise invalid_argument(f"Unsupported zarr dtype: {dumps(s)}")
    endian, code = m.group(1), m.group(2)
    dt = dtypes.ALL_DTYPES[_SIMPLE[code]]
    if dt.numpy_dtype.itemsize == 1:
        endian = "|"
    elif endian == "|":
        raise invalid_argument(f"Unsupported zarr dtype: {dumps(s)}")
    return dt, endian, endian + code, ()


def parse_dtype(j: Any) -> ZarrDType:
    """Parses the `.zarray` `dtype` member."""
    if isinstance(j, str):
        dt, endian, encoded, extra = _parse_simple(j)
        size = dt.numpy_dtype.itemsize if not extra else int(np.prod(extra))
        f = ZarrField("", encoded, dt, endian, extra, 0, size)
        return ZarrDType((f,), False, size)
    items = expect_array(j)
    if not items:
        raise invalid_argument("Expected at least one field")
    fields = []
    offset = 0
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            parts = expect_array(item)
            if len(parts) not in (2, 3):
                raise invalid_argument(f"Expected array of size 2 or 3, but received: {dumps(item)}")
            name = expect_string(parts[0])
            if not name:
                raise invalid_argument("Field name must be non-empty")
            if name in seen:
                raise invalid_argument(f"Field name {dumps(name)} occurs more than once")
            seen.add(name)
            dt, endian, encoded, extra = _parse_simple(parts[1])
            shape: tuple[int, ...] = ()
            if len(parts) == 3:
                shape = tuple(expect_int(x, 1) for x in expect_array(parts[2]))
            shape = shape + extra
            elem = 1 if extra else dt.numpy_dtype.itemsize
            num_bytes = elem * int(np.prod(shape, dtype=np.int64)) if shape else elem
        except ValueError as exc:
            raise invalid_argument(f"Error parsing value at position {i}: {exc}") from None
        fields.append(ZarrField(name, encoded, dt, endian, shape, offset, num_bytes))
        offset += num_bytes
    return ZarrDType(tuple(fields), True, offset)
