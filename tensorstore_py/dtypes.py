"""TensorStore data types (`ts.int32`, `ts.bfloat16`, ...) and their NumPy equivalents."""

from __future__ import annotations

from typing import Any, Union

import ml_dtypes
import numpy as np

__all__ = ["dtype", "DTypeLike", "ALL_DTYPES", "from_numpy"]


class dtype:
    """A TensorStore data type.

    Constructed from a TensorStore name (``ts.dtype("int32")``), a NumPy dtype or scalar type
    (``ts.dtype(np.float32)``), or another `dtype`.
    """

    __slots__ = ("_name", "_numpy_dtype", "_type")

    def __new__(cls, value: "DTypeLike" = None):  # noqa: D102 - documented on the class
        if isinstance(value, dtype):
            return value
        if value is None:
            raise TypeError("dtype() requires a data type name or NumPy dtype")
        if value is bytes or value is str:  # Python's own string types, as TensorStore maps them
            return _BY_NAME["string" if value is bytes else "ustring"]
        if isinstance(value, str):
            found = _BY_NAME.get(value)
            if found is None:
                raise ValueError(f'No TensorStore data type with name: "{value}"')
            return found
        # Python's own string types name TensorStore's variable-length strings.
        if value is bytes:
            return ALL_DTYPES["string"]
        if value is str:
            return ALL_DTYPES["ustring"]
        try:
            np_dtype = np.dtype(value)
        except TypeError as exc:
            raise TypeError(f"Cannot convert {value!r} to a TensorStore data type") from exc
        if np_dtype.kind == "O":
            # `object` is ambiguous (json, string, ustring): TensorStore wants the name.
            raise _no_numpy_equivalent(np_dtype)
        return from_numpy(np_dtype)

    @classmethod
    def _make(cls, name: str, numpy_dtype: np.dtype, scalar_type: type) -> "dtype":
        self = object.__new__(cls)
        self._name = name
        self._numpy_dtype = numpy_dtype
        self._type = scalar_type
        return self

    @property
    def name(self) -> str:
        """The TensorStore name, e.g. ``"int32"``."""
        return self._name

    @property
    def numpy_dtype(self) -> np.dtype:
        """The NumPy dtype used for arrays of this type (``object`` for string and json)."""
        return self._numpy_dtype

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype, under the name NumPy looks for: ``np.dtype(ts.int32)`` (and so
        ``np.dtype(store.dtype)``, which Dask's ``from_array`` calls) works."""
        return self._numpy_dtype

    @property
    def type(self) -> type:
        """The Python/NumPy scalar type of this data type."""
        return self._type

    def to_json(self) -> str:
        return self._name

    def __call__(self, value: Any) -> Any:
        """Converts `value` to this data type's scalar type (for ``json``: to plain JSON values,
        lists, dicts with string keys, numbers, strings, bools and None)."""
        if self._name == "json":
            return to_json_value(value)
        return self._type(value)

    def __eq__(self, other: object) -> bool:
        # As TensorStore: the other side is anything `ts.dtype()` accepts (names, NumPy dtypes
        # and scalar types, bytes/str); an unknown name or NumPy dtype raises ValueError.
        if isinstance(other, dtype):
            return self is other
        if other is None:
            return False
        try:
            return dtype(other) is self
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'dtype("{self._name}")'

    def __reduce__(self):
        return (dtype, (self._name,))


DTypeLike = Union[dtype, str, np.dtype, type, None]

_NUMERIC = [
    ("bool", np.dtype(np.bool_)),
    ("int8", np.dtype(np.int8)),
    ("uint8", np.dtype(np.uint8)),
    ("int16", np.dtype(np.int16)),
    ("uint16", np.dtype(np.uint16)),
    ("int32", np.dtype(np.int32)),
    ("uint32", np.dtype(np.uint32)),
    ("int64", np.dtype(np.int64)),
    ("uint64", np.dtype(np.uint64)),
    ("float16", np.dtype(np.float16)),
    ("float32", np.dtype(np.float32)),
    ("float64", np.dtype(np.float64)),
    ("complex64", np.dtype(np.complex64)),
    ("complex128", np.dtype(np.complex128)),
]
_ML = [
    "int2", "int4", "bfloat16", "float4_e2m1fn", "float8_e3m4", "float8_e4m3b11fnuz",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
]  # fmt: skip

ALL_DTYPES: dict[str, dtype] = {}
for _name, _np in _NUMERIC:
    ALL_DTYPES[_name] = dtype._make(_name, _np, _np.type)
for _name in _ML:
    _t = getattr(ml_dtypes, _name, None)
    if _t is not None:
        ALL_DTYPES[_name] = dtype._make(_name, np.dtype(_t), _t)
ALL_DTYPES["char"] = dtype._make("char", np.dtype("S0"), np.bytes_)
ALL_DTYPES["byte"] = dtype._make("byte", np.dtype("V0"), np.void)
ALL_DTYPES["string"] = dtype._make("string", np.dtype(object), bytes)
ALL_DTYPES["ustring"] = dtype._make("ustring", np.dtype(object), str)
ALL_DTYPES["json"] = dtype._make("json", np.dtype(object), np.object_)

_BY_NAME = dict(ALL_DTYPES)
# NumPy dtypes (native byte order) to TensorStore types; char/byte/string are not inferred.
_BY_NUMPY: dict[np.dtype, dtype] = {d.numpy_dtype: d for n, d in ALL_DTYPES.items() if n not in ("char", "byte", "string", "ustring", "json")}


def from_numpy(np_dtype: np.dtype) -> dtype:
    """The TensorStore type for a NumPy dtype; byte order is ignored."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype.byteorder not in ("=", "|"):
        np_dtype = np_dtype.newbyteorder("=")
    found = _BY_NUMPY.get(np_dtype)
    if found is not None:
        return found
    if np_dtype.kind == "S":
        return ALL_DTYPES["char"]
    if np_dtype.kind == "V" and np_dtype.fields is None:
        return ALL_DTYPES["byte"]
    if np_dtype.kind == "O":
        return ALL_DTYPES["json"]
    raise _no_numpy_equivalent(np_dtype)


def _no_numpy_equivalent(np_dtype: np.dtype) -> ValueError:
    return ValueError(f"No TensorStore data type corresponding to NumPy dtype: {np_dtype!r}")


_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def to_json_value(value: Any) -> Any:
    """`value` as plain JSON values, as TensorStore converts Python objects to JSON.

    Sequences (tuples, ranges, NumPy arrays, bytes ...) become lists, dict keys become strings,
    NumPy scalars become Python numbers, objects with a ``to_json()`` method give its result.
    Integers must fit in int64 or uint64 (NumPy integers: in int64).
    """
    if value is None or value is True or value is False:
        return value
    t = type(value)
    if t is int:
        if not _INT64_MIN <= value <= _UINT64_MAX:
            raise OverflowError("int too big to convert")
        return value
    if t is float or t is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {k if type(k) is str else str(k): to_json_value(v) for k, v in value.items()}
    to_json = getattr(value, "to_json", None)
    if to_json is not None and callable(to_json):
        return to_json_value(to_json())
    if isinstance(value, (np.ndarray, list, tuple, range, bytes, bytearray, memoryview)) or (
        hasattr(t, "__len__") and hasattr(t, "__getitem__")
    ):
        return [to_json_value(v) for v in _as_sequence(value)]
    if isinstance(value, np.integer):
        v = int(value)
        if not _INT64_MIN <= v < 2**63:
            raise OverflowError("int too big to convert")
        return v
    if isinstance(value, int):
        return to_json_value(int(value))
    if hasattr(t, "__float__") and not isinstance(value, complex):
        # NumPy bools and complex scalars included: TensorStore takes their float value.
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"Object '{t.__name__}' does not support conversion to JSON")


def _as_sequence(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise TypeError("len() of unsized object")
        return value.tolist() if value.ndim == 1 and value.dtype.kind in "iuf" else list(value)
    if isinstance(value, memoryview):
        return value.tolist()
    return [value[i] for i in range(len(value))]


def get(value: DTypeLike) -> dtype | None:
    """`dtype(value)`, or None for None."""
    return None if value is None else dtype(value)
