"""``ts.array``: a TensorStore over an in-memory array, sharing its buffer when it can."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import dtypes

__all__ = ["array", "as_stored_array"]

_NO_COPY = "Unable to avoid copy while creating an array as requested."


def as_stored_array(value: Any, dtype: dtypes.dtype | None, copy: bool | None, write: bool | None) -> tuple[np.ndarray, dtypes.dtype]:
    """(array, dtype): `value` converted as `ts.array` converts it, shared when allowed."""
    if dtype is not None and dtype.name in ("string", "ustring", "json"):
        # Elements are converted (checked) one by one: never shared.
        if copy is False:
            raise ValueError(_NO_COPY)
        from .elements import object_elements

        return object_elements(value, dtype.name, np.ndim(value)), dtype
    if dtype is not None:
        target = dtype.numpy_dtype
        if isinstance(value, np.ndarray) and value.dtype != target and not target.hasobject:
            if not np.can_cast(value.dtype, target, "safe"):
                raise TypeError(f"Cannot cast array data from {value.dtype!r} to {target!r} according to the rule 'safe'")
    else:
        target = None
    if not isinstance(value, np.ndarray) and copy is False:
        raise ValueError(_NO_COPY)
    data = np.array(value, dtype=target, copy=copy)
    if data.dtype.byteorder == ">" or (data.dtype.byteorder == "<" and np.little_endian is False):
        if copy is False:
            raise ValueError(_NO_COPY)
        data = data.astype(data.dtype.newbyteorder("="))
    if dtype is None:
        try:
            dtype = dtypes.from_numpy(data.dtype)
        except ValueError:
            raise ValueError(f"No TensorStore data type corresponding to NumPy dtype: {data.dtype!r}") from None
        if dtype.name in ("char", "byte") and data.dtype.itemsize > 1:
            raise ValueError(f"No TensorStore data type corresponding to NumPy dtype: {data.dtype!r}")
    if write and not data.flags.writeable:
        if copy is False:
            raise ValueError(_NO_COPY)
        data = data.copy()
    return data, dtype


def array(
    array: Any,
    dtype: dtypes.DTypeLike = None,
    *,
    context: Any = None,
    copy: bool | None = None,
    write: bool | None = None,
) -> Any:
    """A TensorStore reading and writing an in-memory array.

    `copy`: None shares `array` when it is a NumPy array of the requested data type and copies
    otherwise; True always copies; False never does (ValueError when it would have to).
    `write`: None makes the store writable when the (possibly shared) array is; True requires
    it (copying a read-only array unless `copy` is False); False makes it read-only.
    """
    from ...context import Context
    from ...index import IndexTransform
    from ...tensorstore import TensorStore
    from .driver import make_array_driver

    data, ts_dtype = as_stored_array(array, dtypes.get(dtype), copy, write)
    driver = make_array_driver(data, ts_dtype, context if context is not None else Context())
    writable = bool(data.flags.writeable) if write is None else bool(write)
    return TensorStore(driver, IndexTransform(domain=driver.domain), True, writable)
