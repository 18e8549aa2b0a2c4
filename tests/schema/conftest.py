"""Shared helpers for the schema tests: run the same call on both libraries and compare."""

from __future__ import annotations

from typing import Any, Callable

import pytest


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """('ok', value) or (exception type name, message) for a call."""
    try:
        return ("ok", fn())
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        return (type(exc).__name__ if type(exc).__name__ in ("TypeError", "IndexError") else "ValueError", str(exc))


@pytest.fixture
def same_outcome():
    def check(ours: Callable[[], Any], theirs: Callable[[], Any]) -> tuple[str, Any]:
        a, b = outcome(ours), outcome(theirs)
        assert a == b
        return a

    return check
