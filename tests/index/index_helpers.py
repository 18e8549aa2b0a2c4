"""Shared helpers for the index-layer tests: run an expression against both libraries."""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

import tensorstore as ref

import tensorstore_py as ts

_PAYLOAD = re.compile(r" \[(domain|transform|left_transform)='[^']*'\]")


def strip_payloads(msg: str) -> str:
    """Drops TensorStore's ``[domain='...']`` status payloads, whose order is not stable."""
    return _PAYLOAD.sub("", msg)


def outcome(fn: Callable[[Any], Any], mod: Any) -> tuple:
    """('ok', repr, str, json) or (exception category, message) for `fn(mod)`."""
    try:
        r = fn(mod)
    except (ValueError, IndexError, TypeError, KeyError) as e:
        kind = "ValueError" if isinstance(e, ValueError) else type(e).__name__
        return (kind, strip_payloads(str(e)))
    j = r.to_json() if hasattr(r, "to_json") else None
    if isinstance(r, np.ndarray):
        return ("ok", r.tolist())
    return ("ok", repr(r), str(r), j)


def same(fn: Callable[[Any], Any]) -> tuple:
    """Asserts both libraries give the same outcome for `fn`; returns it."""
    ours, theirs = outcome(fn, ts), outcome(fn, ref)
    assert ours == theirs, f"\n ours: {ours}\n  ref: {theirs}"
    return ours


