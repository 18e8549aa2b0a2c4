"""Hypothesis strategies for tensorstore_py objects (the public entry point).

Every strategy draws valid objects only: domains and transforms construct, index
expressions apply to the domain they were drawn for, Specs open with ``create=True`` on a
memory kvstore, and stores read back the arrays written to them.  Each takes bounds (rank,
extent, size, drivers, dtypes) and shrinks towards small, readable examples: rank 0 or 1,
origin 0, uint8, no labels, no constraints, zarr.
"""

from __future__ import annotations

from .index_strategies import (
    LABELS,
    NUMERIC_DTYPES,
    IndexChain,
    IndexExpression,
    dtypes,
    index_domains,
    index_expression_chains,
    index_expressions,
    index_transforms,
)
from .spec_strategies import (
    DRIVER_DTYPES,
    DRIVERS,
    arrays_for,
    chunk_layouts,
    codecs,
    fill_values,
    spec_json,
    specs,
    stores,
)

__all__ = [
    "LABELS", "NUMERIC_DTYPES", "DRIVERS", "DRIVER_DTYPES", "IndexChain", "IndexExpression", "dtypes",
    "index_domains", "index_expressions", "index_expression_chains", "index_transforms", "chunk_layouts", "codecs",
    "fill_values", "spec_json", "specs", "stores", "arrays_for",
]  # fmt: skip
