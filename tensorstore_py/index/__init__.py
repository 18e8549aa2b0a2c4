"""The index-space layer: Dim, IndexDomain, IndexTransform, output maps and ``ts.d`` expressions.

Pure algebra (no I/O); see ../shared/DESIGN.md.
"""

from .interval import Dim
from .domain import IndexDomain
from .indexable import Indexable

__all__: list[str] = ["Dim", "IndexDomain", "Indexable"]
