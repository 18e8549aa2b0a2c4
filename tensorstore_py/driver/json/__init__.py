"""The ``json`` driver: a JSON value at a JSON Pointer inside a kvstore value."""

from __future__ import annotations

from .driver import JsonDriver, JsonDriverSpec

__all__ = ["JsonDriver", "JsonDriverSpec"]
