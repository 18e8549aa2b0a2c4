"""Python values as elements of TensorStore's object data types (string, ustring, json).

Writes to any store of these types go through `object_elements`, which checks each element's
type as TensorStore's conversion does (TypeError otherwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["object_elements", "to_json_value"]


def to_json_value(v: Any) -> Any:
    """`v` as a JSON value (dict / list / str / int / float / bool / None)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 64):  # JSON numbers are 64-bit integers or doubles
            raise OverflowError("int too big to convert")
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, np.generic):
        return to_json_value(v.item())
    if isinstance(v, np.ndarray):
        return to_json_value(v.tolist())
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    raise TypeError(f"Object '{type(v).__name__}' does not support conversion to JSON")


def _bytes(v: Any) -> bytes:
    if isinstance(v, bytes):
        return bytes(v)
    raise TypeError(f"expected bytes, {type(v).__name__} found")


def _str(v: Any) -> str:
    if isinstance(v, str):
        return str(v)
    raise TypeError("bad argument type for built-in operation")


_CONVERTERS = {"string": _bytes, "ustring": _str, "json": to_json_value}


def object_elements(source: Any, dtype_name: str, rank: int) -> np.ndarray:
    """`source` as an object array of `dtype_name` elements, of rank at most `rank`.

    A json value that is itself a list is one element when its nesting is deeper than `rank`.
    """
    convert = _CONVERTERS[dtype_name]
    if isinstance(source, np.ndarray) and source.dtype.kind in "SU" and dtype_name != "json":
        source = source.astype(object)
    if dtype_name == "json":
        deeper = source.ndim > rank if isinstance(source, np.ndarray) else (
            not isinstance(source, (list, tuple)) or _depth(source) > rank)
        if deeper:
            out = np.empty((), dtype=object)
            out[()] = convert(source)
            return out
    data = np.asarray(source, dtype=object) if not (isinstance(source, np.ndarray) and source.dtype == object) else source
    out = np.empty(data.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(data.reshape(-1)):
        flat[i] = convert(v)
    return out


def _depth(v: Any) -> int:
    depth = 0
    while isinstance(v, (list, tuple)):
        depth += 1
        if not v:
            break
        v = v[0]
    return depth
