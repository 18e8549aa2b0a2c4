"""The ``stack`` driver and ``ts.stack`` / ``ts.concat`` / ``ts.overlay``."""

from __future__ import annotations

from .api import concat, overlay, stack
from .driver import StackDriver, StackDriverSpec

__all__ = ["stack", "concat", "overlay", "StackDriver", "StackDriverSpec"]
