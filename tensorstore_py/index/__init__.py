"""The index-space layer: Dim, IndexDomain, IndexTransform, output maps and ``ts.d`` expressions.

Pure algebra (no I/O); see ../shared/DESIGN.md.
"""

from .interval import Dim
from .domain import IndexDomain
from .indexable import Indexable
from .output_map import OutputIndexMap, OutputIndexMaps, OutputIndexMethod
from .transform import IndexTransform
from .dim_expression import DimExpression, d

__all__: list[str] = [
    "Dim", "IndexDomain", "IndexTransform", "OutputIndexMap", "OutputIndexMaps", "OutputIndexMethod", "Indexable",
    "DimExpression", "d",
]  # fmt: skip
