"""Shared by the zarr3 tests: the reference package, outcome comparison, data types."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")

DATA_TYPES = [
    "bool", "int2", "int4", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float8_e3m4", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2",
    "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn", "float16", "bfloat16", "float32", "float64",
    "complex64", "complex128",
]  # fmt: skip


def outcome(lib: Any, fn: Callable[[Any], Any]) -> Any:
    """("ok", value) or (exception kind, message head, payloads) of `fn(lib)`."""
    try:
        return ("ok", fn(lib))
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        kind = next(t.__name__ for t in (IndexError, TypeError, KeyError, ValueError, Exception) if isinstance(exc, t))
        head, *payloads = str(exc).split(" [")
        return (kind, head, frozenset(payloads))


def same(fn: Callable[[Any], Any]) -> Any:
    """Asserts both libraries give the same outcome for `fn`; returns it."""
    theirs = outcome(ref, fn)
    ours = outcome(ts, fn)
    assert ours == theirs, f"\nours:   {ours}\ntheirs: {theirs}"
    return ours


def random_array(dtype_name: str, shape, seed: int = 0) -> np.ndarray:
    """Values valid for `dtype_name` (finite, representable), as a numpy array of its type."""
    rng = np.random.default_rng(seed)
    dt = ts.dtype(dtype_name).numpy_dtype
    if dtype_name == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype_name in ("int2", "int4"):
        lo, hi = (-2, 1) if dtype_name == "int2" else (-8, 7)
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    if dtype_name.startswith(("int", "uint")):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dtype_name.startswith("complex"):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dtype_name == "float8_e8m0fnu":
        return (2.0 ** rng.integers(-5, 5, size=shape)).astype(dt)
    return (rng.standard_normal(shape) * 2).astype(dt)


def zarr_json(store: Any) -> dict:
    return json.loads(store.kvstore.read("zarr.json").result().value)
