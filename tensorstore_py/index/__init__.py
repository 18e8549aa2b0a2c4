"""The index-space layer: Dim, IndexDomain, IndexTransform, output maps and ``ts.d`` expressions.

Pure algebra (no I/O), the first layer above dtypes.  Entry points for the other layers:

- `Indexable` (indexable.py): mixin giving ``x[...]``, ``.oindex``/``.vindex``, ``.T``,
  ``.label[...]``, ``.translate_*[...]``, ``.mark_bounds_implicit[...]``, ``.transpose()`` and the
  domain properties to any class defining ``_indexable_transform()`` and
  ``_indexable_with_transform(t)``; ``_indexable_resolve(key, mode)`` returns the new transform.
- transform.py: `identity_transform(domain)`, `propagate_bounds(transform, domain)` (resolve a
  transform against an array's current domain, raising TensorStore's OUT_OF_RANGE errors) and
  `compose(t, x)` (``t[x]``).
"""

from .interval import Dim
from .domain import IndexDomain
from .indexable import Indexable
from .output_map import OutputIndexMap, OutputIndexMaps, OutputIndexMethod
from .transform import IndexTransform
from .dim_expression import DimExpression, d
from . import indexable as _indexable

# NumPy-style keys are parsed by `numpy_indexing`, which imports the modules above: its names are
# bound now that they exist, so the first `store[...]` of a program does not pay for the import.
_indexable._load_late_names()

__all__: list[str] = [
    "Dim", "IndexDomain", "IndexTransform", "OutputIndexMap", "OutputIndexMaps", "OutputIndexMethod", "Indexable",
    "DimExpression", "d",
]  # fmt: skip
