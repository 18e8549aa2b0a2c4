"""Shared helpers for the n5 driver tests (importing the package registers the driver)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import tensorstore_py as ts
import tensorstore_py.driver.n5  # noqa: F401 - registers "n5"

ref = pytest.importorskip("tensorstore")

NUMERIC_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"]

COMPRESSIONS = {
    "raw": {"type": "raw"},
    "gzip": {"type": "gzip"},
    "gzip-zlib-3": {"type": "gzip", "level": 3, "useZlib": True},
    "bzip2": {"type": "bzip2", "blockSize": 2},
    "xz": {"type": "xz", "preset": 1},
    "blosc-lz4": {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
    "blosc-zstd-bit": {"type": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2},
    "blosc-zlib-none": {"type": "blosc", "cname": "zlib", "clevel": 1, "shuffle": 0},
    "zstd": {"type": "zstd", "level": 3},
}


def random_data(dtype: str, shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    np_dtype = np.dtype(dtype)
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=np_dtype, endpoint=True)
    return (rng.standard_normal(shape) * 1000).astype(np_dtype)


def strip_spec(message: str) -> str:
    """An open error without the `[tensorstore_spec=...]` payload."""
    return re.sub(r" \[tensorstore_spec=.*\]$", "", message)


def outcome(fn) -> Any:
    """fn()'s value, or ("error", message) for a ValueError: comparable across libraries."""
    try:
        return fn()
    except ValueError as exc:
        return ("error", strip_spec(str(exc)))


def lib_args(lib, kwargs: dict) -> dict:
    """Keyword arguments with library objects spelled as ("dtype", name) / ("L", cls, kw)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, tuple) and v and v[0] == "dtype":
            v = getattr(lib, v[1])
        elif isinstance(v, tuple) and v and v[0] == "L":
            v = getattr(lib, v[1])(**v[2])
        out[k] = v
    return out
