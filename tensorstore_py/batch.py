"""`ts.Batch` and the typing names TensorStore exports."""

from __future__ import annotations

from typing import Any, Literal, Sequence, TypeVar, Union

import numpy as np

__all__ = [
    "Batch", "RecheckCacheOption", "DimSelectionLike", "NumpyIndexTerm", "NumpyIndexingSpec", "T",
]  # fmt: skip

T = TypeVar("T")

#: When cached data or metadata must be revalidated (see `ts.open`).
RecheckCacheOption = Union[bool, Literal["open"], float]
#: An integer, slice, ellipsis, newaxis or index array in a NumPy-style index.
NumpyIndexTerm = Union[int, slice, "type(Ellipsis)", None, Sequence[int], np.ndarray]
NumpyIndexingSpec = Union[NumpyIndexTerm, tuple]
#: Dimensions named by index, label or slice, as `ts.d[...]` takes them.
DimSelectionLike = Union[int, str, slice, Sequence[Union[int, str, slice]], Any]


class Batch:
    """Groups reads so that a driver may coalesce them.

    tensorstore_py starts every operation at once, so a batch never delays anything: `submit`
    only marks it used, and operations given ``batch=`` behave as without one.  Code written
    for TensorStore (``with ts.Batch() as batch: ...``) runs unchanged.
    """

    def __init__(self) -> None:
        self._submitted = False

    def submit(self) -> None:
        """Submits the batch (operations have already started)."""
        self._submitted = True

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.submit()

    def __repr__(self) -> str:
        return "<tensorstore_py.Batch>"
