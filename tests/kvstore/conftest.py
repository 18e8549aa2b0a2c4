"""Shared helpers: the library under test as `ts`, the reference as `ref`."""

from __future__ import annotations

import pytest

import tensorstore as ref  # noqa: F401
import tensorstore_py as ts  # noqa: F401


def outcome(fn):
    """('ok', value) or ('error', exception type family, message) for differential checks."""
    try:
        return ("ok", fn())
    except ValueError as exc:
        return ("error", "ValueError", str(exc))
    except TypeError as exc:
        return ("error", "TypeError", None)
    except KeyError:
        return ("error", "KeyError", None)


@pytest.fixture(params=["memory", "file"])
def driver_pair(request, tmp_path):
    """Equivalent spec JSON for the reference and for tensorstore_py, on separate storage."""
    if request.param == "memory":
        return request.param, {"driver": "memory", "path": "p/"}, {"driver": "memory", "path": "p/"}
    a, b = tmp_path / "ref", tmp_path / "mine"
    return (
        request.param,
        {"driver": "file", "path": str(a) + "/"},
        {"driver": "file", "path": str(b) + "/"},
    )
