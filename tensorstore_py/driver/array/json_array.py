"""Nested JSON arrays <-> NumPy arrays of a TensorStore data type (the array driver's "array").

The shape comes from the first element at each nesting level; every other element must match
it, and each leaf is parsed as the data type's JSON form (errors name the position).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import invalid_argument
from ...json_util import dumps, expect_bool, expect_int, expect_string

__all__ = ["array_from_json", "array_to_json", "element_parser"]


def _position(index: tuple) -> str:
    return "{" + ", ".join(map(str, index)) + "}"


def _float(j: Any) -> float:
    if isinstance(j, (int, float)) and not isinstance(j, bool):
        return float(j)
    if isinstance(j, str):
        try:
            return float(j)
        except ValueError:
            pass
        if j.strip().lstrip("+-")[:2] in ("0x", "0X"):
            try:  # strtod's hexadecimal form, which TensorStore accepts
                return float.fromhex(j)
            except ValueError:
                pass
    raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")


def _numeric_string(j: Any, unsigned: bool = False) -> Any:
    """A JSON string holding an integer stands for it (TensorStore reads "5" as 5; for an
    unsigned type a sign of "-", even "-0", makes it no integer)."""
    if isinstance(j, str):
        text = j.strip()
        if text.lstrip("+-").isdigit() and not (unsigned and text.startswith("-")):
            return int(text)
    return j


def _int_parser(np_dtype: np.dtype) -> Callable[[Any], int]:
    if np_dtype.name in ("int2", "int4"):
        bits = 2 if np_dtype.name == "int2" else 4
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        info = np.iinfo(np_dtype)
        lo, hi = int(info.min), int(info.max)
    if np_dtype.itemsize == 8 and np_dtype.kind in "iu":
        # 64-bit integers are named rather than given a range.
        what = "64-bit " + ("signed" if np_dtype.kind == "i" else "unsigned") + " integer"

        def parse64(j: Any) -> int:
            v = _numeric_string(j, np_dtype.kind == "u")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not lo <= int(v) <= hi:
                raise invalid_argument(f"Expected {what}, but received: {dumps(j)}")
            return int(v)

        return parse64
    unsigned = lo == 0

    def parse(j: Any) -> int:
        v = _numeric_string(j, unsigned)
        if v is not j and not lo <= v <= hi:
            v = j  # out of range: the message quotes the string as given
        return expect_int(v, lo, hi)

    return parse


def _complex(j: Any) -> complex:
    if isinstance(j, list) and len(j) == 2:
        return complex(_float(j[0]), _float(j[1]))
    return complex(_float(j), 0.0)


def _string(j: Any) -> bytes:
    return expect_string(j).encode("utf-8")


def element_parser(dtype: Any) -> Callable[[Any], Any]:
    """Parses one JSON element of `dtype` (INVALID_ARGUMENT naming what was expected)."""
    name = dtype.name
    if name == "json":
        return lambda j: j
    if name == "ustring":
        return expect_string
    if name == "string":
        return _string
    if name == "bool":
        return expect_bool
    np_dtype = dtype.numpy_dtype
    if name in ("char", "byte"):
        raise invalid_argument(f"Conversion from JSON to {name} is not implemented")
    if name.startswith("complex"):
        # TensorStore cannot read these back; here a spec written for a complex array reopens.
        return _complex
    if np_dtype.kind in "iu" or name in ("int2", "int4"):
        return _int_parser(np_dtype)
    return _float


def _is_pair(node: Any) -> bool:
    return isinstance(node, list) and len(node) == 2 and not any(isinstance(x, list) for x in node)


def _shape_of(j: Any, rank: int | None, pairs: bool = False) -> list[int]:
    """The shape the first elements imply (`pairs`: a [re, im] pair is an element)."""
    shape: list[int] = []
    node = j
    while isinstance(node, list) and (rank is None or len(shape) < rank) and not (pairs and rank is None and _is_pair(node)):
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    return shape


def array_from_json(j: Any, dtype: Any, rank: int | None = None) -> np.ndarray:
    """The array `j` (nested JSON lists) holds, of `dtype`; `rank` if known beforehand."""
    parse = element_parser(dtype)
    # A complex element is a [re, im] pair: with a known rank, nesting stops there.
    is_complex = dtype.name.startswith("complex")
    shape = _shape_of(j, rank if is_complex else None, is_complex)
    if rank is not None and len(shape) != rank:
        raise invalid_argument(f"Array rank ({len(shape)}) does not match expected rank ({rank})")
    out = np.empty(shape, dtype=dtype.numpy_dtype)
    flat: list = []

    def walk(node: Any, depth: int, index: tuple) -> None:
        if depth == len(shape):
            if isinstance(node, list) and not is_complex:
                raise invalid_argument(f"Expected rank-{len(shape)} array, but found array element {dumps(node)} at position {_position(index)}.")
            try:
                flat.append(parse(node))
            except (ValueError, TypeError) as exc:
                message = getattr(exc, "message", str(exc))
                raise invalid_argument(f"Error parsing array element at position {_position(index)}: {message}") from None
            return
        if not isinstance(node, list):
            raise invalid_argument(f"Expected rank-{len(shape)} array, but found non-array element {dumps(node)} at position {_position(index)}.")
        if len(node) != shape[depth]:
            raise invalid_argument(
                f"Expected array of shape {_position(tuple(shape))}, but found array element {dumps(node)} of length "
                f"{len(node)} at position {_position(index)}."
            )
        for i, child in enumerate(node):
            walk(child, depth + 1, index + (i,))

    walk(j, 0, ())
    if out.dtype.hasobject:
        flat_out = out.reshape(-1)
        for i, v in enumerate(flat):
            flat_out[i] = v
    elif flat:
        kind = np.float64 if out.dtype.kind not in "iubc" else (object if out.dtype.kind != "c" else np.complex128)
        with np.errstate(over="ignore", invalid="ignore"):
            out[...] = np.asarray(flat, dtype=kind).reshape(shape).astype(out.dtype)
    return out


def _element_json(dtype_name: str, kind: str) -> Callable[[Any], Any]:
    if dtype_name == "json":
        return lambda v: v
    if dtype_name == "ustring":
        return str
    if dtype_name == "string":

        def string(v: bytes) -> str:
            try:
                return bytes(v).decode("utf-8")
            except UnicodeDecodeError:
                raise invalid_argument("Invalid UTF-8 sequence encountered") from None

        return string
    if dtype_name == "bool":
        return bool
    if kind == "c":
        return lambda v: [float(complex(v).real), float(complex(v).imag)]
    if kind in "iu" or dtype_name in ("int2", "int4"):
        return int
    return float


def array_to_json(array: np.ndarray, dtype: Any) -> Any:
    """`array` as nested JSON lists of its elements' JSON form."""
    if dtype.name in ("char", "byte"):
        return array.view(np.uint8).tolist()
    if array.dtype.kind in "iub":
        return array.tolist()
    if array.dtype.kind == "f" and array.dtype.itemsize >= 4:
        return array.astype(np.float64).tolist()
    if array.dtype.kind == "V":  # ml_dtypes: through an exact wider type
        return array.astype(np.int64 if dtype.name in ("int2", "int4") else np.float64).tolist()
    convert = _element_json(dtype.name, array.dtype.kind)

    def walk(node: Any, depth: int) -> Any:
        if depth == array.ndim:
            return convert(node)
        return [walk(child, depth + 1) for child in node]

    # tolist() keeps the elements of object arrays as they are, nested `ndim` deep.
    return walk(array.tolist(), 0)
