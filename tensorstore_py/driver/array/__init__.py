"""The ``array`` driver and ``ts.array``."""

from __future__ import annotations

from .driver import ArrayDriver, ArrayDriverSpec
from .api import array

__all__ = ["array", "ArrayDriver", "ArrayDriverSpec"]
