"""Fill values: conversion to the array's data type, broadcasting against a domain, JSON.

A fill value is stored in its smallest broadcast-equivalent form (TensorStore's "unbroadcast"):
leading dimensions that are broadcast (size 1 or stride 0) are dropped and inner broadcast
dimensions shrink to size 1, so ``[[1, 2]]`` over a 4x2 domain is kept as ``[1, 2]``.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Optional, Sequence

import numpy as np

from .. import dtypes as _dtypes
from ..errors import invalid_argument
from ..json_util import dumps
from ._constraints import format_number

__all__ = [
    "convert_fill_value", "unbroadcast", "check_broadcastable", "normalize_fill_value",
    "fill_value_to_json", "fill_value_from_json", "format_array", "format_shape", "same_fill_value",
]  # fmt: skip


def same_fill_value(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two fill values are the same constraint: equal dtype, unbroadcast shape and
    elements (NaN matching NaN)."""
    a, b = unbroadcast(np.asarray(a)), unbroadcast(np.asarray(b))
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    equal = a == b
    if a.dtype.kind in "fc":
        equal = equal | (np.isnan(a) & np.isnan(b))
    return bool(np.all(equal))


def format_array(a: np.ndarray) -> str:
    """An array as TensorStore prints it in messages: ``5``, ``{1, 2}``, ``{{0, 0}, {0, 0}}``."""
    a = np.asarray(a)
    if a.ndim == 0:
        v = a.item()
        if a.dtype in (np.dtype(np.uint8), np.dtype(np.int8)):
            # The reference streams 8-bit integers as characters.
            return chr(int(v) & 0xFF)
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, (float, np.floating)):
            return format_number(float(v))
        return str(v)
    return "{" + ", ".join(format_array(x) for x in a) + "}"


def format_shape(shape: Sequence[int]) -> str:
    return "{" + ", ".join(str(int(s)) for s in shape) + "}"


def _object_array(value: Any, dtype: _dtypes.dtype) -> np.ndarray:
    arr = np.empty((), dtype=object)
    if dtype.name == "json":
        arr[()] = value
        return arr
    nested = np.array(value, dtype=object)
    want = bytes if dtype.name == "string" else str
    for x in nested.flat:
        if not isinstance(x, want):
            raise TypeError(f"expected {want.__name__}, {type(x).__name__} found")
    return nested


def convert_fill_value(value: Any, dtype: Optional[_dtypes.dtype]) -> np.ndarray:
    """A Python/NumPy fill value as an array of `dtype` (inferred when `dtype` is None).

    NumPy arrays must convert safely (``TypeError`` otherwise); NumPy scalars convert like C
    casts; Python scalars and lists as NumPy converts them (an out-of-range integer is an
    ``OverflowError``).
    """
    if dtype is None:
        return np.array(value)
    if dtype.numpy_dtype == np.dtype(object):
        return _object_array(value, dtype)
    if isinstance(value, np.ndarray):
        return value.astype(dtype.numpy_dtype, casting="safe")
    if isinstance(value, np.generic):
        # NumPy scalars convert like C casts in the reference (np.int64(300) -> uint8 44).
        with np.errstate(all="ignore"):
            return np.asarray(value).astype(dtype.numpy_dtype)
    return np.array(value, dtype=dtype.numpy_dtype)


def unbroadcast(a: np.ndarray) -> np.ndarray:
    """The smallest array that broadcasts back to `a` (see the module docstring)."""
    a = np.asarray(a)
    index: list[Any] = []
    leading = True
    for size, stride in zip(a.shape, a.strides):
        if size == 1 or stride == 0:
            index.append(0 if leading else slice(0, 1))
        else:
            leading = False
            index.append(slice(None))
    return np.array(a[tuple(index)]) if index else a.copy()


def check_broadcastable(shape: Sequence[int], target: Sequence[int]) -> None:
    """Raises unless an array of `shape` broadcasts to `target` (extra leading 1s allowed)."""
    ok = True
    extra = len(shape) - len(target)
    if extra > 0:
        ok = all(s == 1 for s in shape[:extra])
        src = list(shape[extra:])
    else:
        src = list(shape)
    if ok:
        aligned = list(target[len(target) - len(src) :]) if src else []
        ok = all(s == 1 or s == t for s, t in zip(src, aligned))
    if not ok:
        raise invalid_argument(
            f"Cannot broadcast array of shape {format_shape(shape)} to target shape {format_shape(target)}"
        )


def normalize_fill_value(value: Any, dtype: Any, domain_shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """`value` converted to `dtype`, checked against `domain_shape`, in unbroadcast form.

    For drivers: ``normalize_fill_value(42, ts.float32, [1000, 2000])`` is ``array(42.,
    dtype=float32)``; broadcasting it to the domain is ``np.broadcast_to(result, shape)``.
    """
    arr = convert_fill_value(value, _dtypes.get(dtype) if dtype is not None else None)
    if domain_shape is not None:
        check_broadcastable(arr.shape, domain_shape)
    return unbroadcast(arr)


# ---------------------------------------------------------------------------------------------
# JSON


def _element_to_json(x: Any, dtype_name: str) -> Any:
    if isinstance(x, (bytes, np.bytes_)):
        return bytes(x).decode("latin-1")
    if dtype_name == "json":
        return x
    if isinstance(x, (complex, np.complexfloating)):
        return [float(x.real), float(x.imag)]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)) or dtype_name in ("int2", "int4"):
        return int(x)
    if isinstance(x, (float, np.floating)) or dtype_name in ("bfloat16", "float16") or dtype_name.startswith("float"):
        return float(x)
    if isinstance(x, np.void):
        return base64.b64encode(bytes(x)).decode()
    return x


def fill_value_to_json(a: np.ndarray) -> Any:
    """Nested JSON lists (a scalar for rank 0) of the array's elements."""
    a = np.asarray(a)
    try:
        name = _dtypes.from_numpy(a.dtype).name if a.dtype != np.dtype(object) else "json"
    except ValueError:
        name = "json"
    if a.ndim == 0:
        return _element_to_json(a[()], name)
    return [fill_value_to_json(x) if np.ndim(x) else _element_to_json(x, name) for x in a]


def _json_element_parser(dtype: _dtypes.dtype):
    name = dtype.name
    if name == "bool":
        def parse(j: Any) -> Any:
            if not isinstance(j, bool):
                raise invalid_argument(f"Expected boolean, but received: {dumps(j)}")
            return j
        return parse
    if dtype.numpy_dtype.kind in "iu":
        info = np.iinfo(dtype.numpy_dtype)

        def parse_int(j: Any) -> Any:
            v = None
            if isinstance(j, int) and not isinstance(j, bool):
                v = j
            elif isinstance(j, float) and math.isfinite(j) and j == int(j):
                v = int(j)
            if v is None or not info.min <= v <= info.max:
                raise invalid_argument(f"Expected integer in the range [{info.min}, {info.max}], but received: {dumps(j)}")
            return v
        return parse_int
    if dtype.numpy_dtype.kind == "c":
        def parse_complex(j: Any) -> Any:
            raise invalid_argument(f"Conversion from JSON to {name} is not implemented")
        return parse_complex
    if name == "json":
        return lambda j: j
    if name in ("string", "ustring", "char"):
        def parse_str(j: Any) -> Any:
            if not isinstance(j, str):
                raise invalid_argument(f"Expected string, but received: {dumps(j)}")
            return j.encode("latin-1") if name != "ustring" else j
        return parse_str

    def parse_float(j: Any) -> Any:
        if isinstance(j, (int, float)) and not isinstance(j, bool):
            return float(j)
        if isinstance(j, str) and j in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
            return float(j.replace("Infinity", "inf"))
        raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")
    return parse_float


def _json_shape(j: Any) -> list[int]:
    shape = []
    while isinstance(j, list):
        shape.append(len(j))
        if not j:
            break
        j = j[0]
    return shape


def fill_value_from_json(j: Any, dtype: Optional[_dtypes.dtype]) -> np.ndarray:
    """Parses a (nested) JSON fill value; without a dtype the elements stay JSON objects."""
    if dtype is not None and dtype.name == "json":
        arr = np.empty((), dtype=object)
        arr[()] = j
        return arr
    if dtype is not None and dtype.numpy_dtype.kind == "c":
        raise invalid_argument(f"Conversion from JSON to {dtype.name} is not implemented")
    shape = _json_shape(j)
    parse = _json_element_parser(dtype) if dtype is not None else (lambda x: x)
    flat: list[Any] = []

    def walk(node: Any, depth: int, pos: list[int]) -> None:
        if depth == len(shape):
            if isinstance(node, list) and dtype is not None and dtype.numpy_dtype.kind != "c":
                raise invalid_argument(
                    f"Expected array of shape {format_shape(shape)}, but found array element "
                    f"{dumps(node)} at position {format_shape(pos)}."
                )
            try:
                flat.append(parse(node))
            except ValueError as exc:
                msg = exc.message if hasattr(exc, "message") else str(exc)
                raise invalid_argument(f"Error parsing array element at position {format_shape(pos)}: {msg}") from None
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            length = f"of length {len(node)}" if isinstance(node, list) else "not an array"
            raise invalid_argument(
                f"Expected array of shape {format_shape(shape)}, but found array element "
                f"{dumps(node)} {length} at position {format_shape(pos)}."
            )
        for i, child in enumerate(node):
            walk(child, depth + 1, pos + [i])

    walk(j, 0, [])
    np_dtype = dtype.numpy_dtype if dtype is not None else np.dtype(object)
    out = np.empty(len(flat), dtype=np_dtype)
    for i, v in enumerate(flat):
        out[i] = v
    return out.reshape(shape)
