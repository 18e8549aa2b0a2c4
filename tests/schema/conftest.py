"""Shared helpers for the schema tests: run the same call on both libraries and compare."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest


_PAYLOAD = re.compile(r" \[[a-z_]+='[^']*'\]")


def _normalize_payloads(message: str) -> str:
    # The reference appends status payloads (" [transform='...'] [domain='...']") in an order
    # that varies from case to case; compare them as a set.
    payloads = sorted(_PAYLOAD.findall(message))
    return _PAYLOAD.sub("", message) + "".join(payloads)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """('ok', value) or (exception type name, message) for a call."""
    try:
        return ("ok", fn())
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        kind = type(exc).__name__ if type(exc).__name__ in ("TypeError", "IndexError") else "ValueError"
        return (kind, _normalize_payloads(str(exc)))


@pytest.fixture
def same_outcome():
    def check(ours: Callable[[], Any], theirs: Callable[[], Any]) -> tuple[str, Any]:
        a, b = outcome(ours), outcome(theirs)
        assert a == b
        return a

    return check
