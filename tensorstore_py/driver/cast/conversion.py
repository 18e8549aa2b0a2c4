"""Element conversions between TensorStore data types, with TensorStore's rules.

Which conversions exist (read uses base -> view, write uses view -> base):

* numbers (bool, integers, floats, complex) convert to each other, except complex -> bool;
* numbers other than bool convert to string and ustring (decimal text, floats as C's ``%g``,
  complex as ``(re,im)``), never back;
* numbers convert to and from json, except json -> complex;
* string, ustring and json convert to each other (string must hold UTF-8);
* char and byte convert only to each other; every type converts to itself.

Integer narrowing wraps; float -> integer truncates toward zero.  Values outside the target
range (and NaN) are undefined behaviour in TensorStore's C++ (its results even depend on an
element's position in a vectorised loop); here they follow the scalar x86-64 instructions.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import invalid_argument
from ...json_util import dumps
from ..array.json_array import element_parser
from ..chunk_memory import empty_output

__all__ = ["can_convert", "converter"]

_TEXT = ("string", "ustring")
_RAW = ("char", "byte")


def _is_number(name: str) -> bool:
    return name not in _TEXT and name not in _RAW and name != "json"


def can_convert(src: str, dst: str) -> bool:
    """Whether TensorStore converts elements of data type `src` to `dst`."""
    if src == dst:
        return True
    if src in _RAW or dst in _RAW:
        return src in _RAW and dst in _RAW
    if _is_number(src) and _is_number(dst):
        return not (src.startswith("complex") and dst == "bool")
    if _is_number(src) and dst in _TEXT:
        return src != "bool"
    if src == "json" or dst == "json":
        return not dst.startswith("complex")
    return src in _TEXT and dst in _TEXT


# -- numbers -----------------------------------------------------------------------------------

_INT_BITS = {"int2": 2, "int4": 4}


def _kind(dtype: Any) -> str:
    """'b', 'i', 'u', 'f' or 'c' for a numeric TensorStore data type."""
    if dtype.name in _INT_BITS:
        return "i"
    return dtype.numpy_dtype.kind if dtype.numpy_dtype.kind in "biuc" else "f"


def _truncate_to_int(x: np.ndarray, bits: int) -> np.ndarray:
    """float64 -> int64 holding what the x86-64 truncating conversion to a signed `bits`-bit
    integer gives (the "integer indefinite" value for NaN and out-of-range values)."""
    limit = float(1 << (bits - 1))
    invalid = ~((x > -limit - 1) & (x < limit))  # NaN compares false
    with np.errstate(invalid="ignore"):
        truncated = np.trunc(np.where(invalid, 0.0, x)).astype(np.int64)
    return np.where(invalid, np.int64(-(1 << (bits - 1))), truncated)


def _float_to_int(x: np.ndarray, target: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    name = target.name
    if name in ("uint64", "uint32"):
        # Values from 2**(bits-1) up are converted with that subtracted, then the bit set again.
        bits = 64 if name == "uint64" else 32
        half = float(1 << (bits - 1))
        big = x >= half
        low = _truncate_to_int(np.where(big, x - half, x), bits).astype(target.numpy_dtype)
        return np.where(big, low ^ target.numpy_dtype.type(1 << (bits - 1)), low)
    if name == "int64":
        return _truncate_to_int(x, 64)
    # Narrower integers (and int32) go through a 32-bit conversion and keep its low bits.
    wide = _truncate_to_int(x, 32)
    return _wrap_int(wide, target)


def _wrap_int(values: np.ndarray, target: Any) -> np.ndarray:
    """Integers wrapped (two's complement) into `target`."""
    bits = _INT_BITS.get(target.name)
    if bits is not None:
        v = np.asarray(values).astype(np.int64) & ((1 << bits) - 1)
        v = np.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
        return v.astype(target.numpy_dtype)
    return np.asarray(values).astype(target.numpy_dtype)


def _number_to_number(src: Any, dst: Any) -> Callable[[np.ndarray], np.ndarray]:
    sk, dk = _kind(src), _kind(dst)
    if dk == "b":
        return lambda a: np.asarray(a) != 0
    if sk == "c" and dk != "c":
        inner = _number_to_number(_FLOAT64, dst)
        return lambda a: inner(np.real(a).astype(np.float64))
    if dk in "iu":
        if sk in "f":
            return lambda a: _float_to_int(a, dst)
        return lambda a: _wrap_int(np.asarray(a).astype(np.int64) if sk == "b" or src.name in _INT_BITS else a, dst)

    # ml_dtypes types go through an exact intermediate (float64 holds every narrow float and
    # int64 every narrow integer), so nothing is rounded twice.
    via = None
    if src.numpy_dtype.kind == "V" or src.name in _INT_BITS:
        via = np.float64 if sk in "f" else np.int64

    def to_float(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        with np.errstate(over="ignore", invalid="ignore"):
            if via is not None:
                a = a.astype(via)
            return a.astype(dst.numpy_dtype)

    return to_float


def _format_float(v: float) -> str:
    return format(v, "g")


def _number_text(src: Any) -> Callable[[Any], str]:
    kind = _kind(src)
    if kind == "c":
        return lambda v: f"({_format_float(float(v.real))},{_format_float(float(v.imag))})"
    if kind in "iu":
        return lambda v: str(int(v))
    return lambda v: _format_float(float(v))


def _number_json(src: Any) -> Callable[[Any], Any]:
    kind = _kind(src)
    if kind == "c":
        return lambda v: [float(v.real), float(v.imag)]
    if kind == "b":
        return bool
    if kind in "iu":
        return int
    return float


def _utf8(v: bytes) -> str:
    try:
        return bytes(v).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_argument("Invalid UTF-8 sequence encountered") from None


def _json_string(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    return j


def _elementwise(fn: Callable[[Any], Any], out_dtype: Any) -> Callable[[np.ndarray], np.ndarray]:
    def convert(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        out = empty_output(a.shape, out_dtype)
        flat = out.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):  # narrowing json numbers rounds to inf
            for i, v in enumerate(a.reshape(-1)):
                flat[i] = fn(v)
        return out

    return convert


def converter(src: Any, dst: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A function converting arrays of `src` elements to arrays of `dst` elements (raising
    INVALID_ARGUMENT for an element that does not convert)."""
    s, d = src.name, dst.name
    if s == d:
        return lambda a: a
    if s in _RAW:
        return lambda a: np.asarray(a).view(np.uint8).view(dst.numpy_dtype)
    if _is_number(s) and _is_number(d):
        return _number_to_number(src, dst)
    obj = np.dtype(object)
    if _is_number(s):
        if d == "json":
            return _elementwise(_number_json(src), obj)
        text = _number_text(src)
        return _elementwise((lambda v: text(v).encode()) if d == "string" else text, obj)
    if s == "json":
        if _is_number(d):
            return _elementwise(element_parser(dst), dst.numpy_dtype)
        return _elementwise((lambda j: _json_string(j).encode()) if d == "string" else _json_string, obj)
    if s == "string":
        return _elementwise(_utf8, obj)
    # ustring -> string / json
    return _elementwise((lambda v: v.encode()) if d == "string" else str, obj)


class _Float64:
    name = "float64"
    numpy_dtype = np.dtype(np.float64)


_FLOAT64 = _Float64()
