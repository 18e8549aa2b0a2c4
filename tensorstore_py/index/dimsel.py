"""Dimension selections: ``ts.d[0, "x", 1:3]`` resolved against a list of labels."""

from __future__ import annotations

import operator
from typing import Any, Sequence

from ..errors import invalid_argument

__all__ = ["normalize_selection", "resolve_existing", "SelectionTypeError", "DimRange"]


class SelectionTypeError(TypeError):
    """A dimension selection term of an unsupported type."""


class DimRange:
    """A ``start:stop:step`` range of dimension indices (``ts.d[1:3]``)."""

    __slots__ = ("start", "stop", "step")

    def __init__(self, start: int | None, stop: int | None, step: int | None):
        self.start, self.stop, self.step = start, stop, step

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DimRange) and (self.start, self.stop, self.step) == (other.start, other.stop, other.step)

    def __repr__(self) -> str:
        text = ("" if self.start is None else str(self.start)) + ":" + ("" if self.stop is None else str(self.stop))
        if self.step is not None and self.step != 1:
            text += f":{self.step}"
        return text


def _term(x: Any) -> Any:
    if isinstance(x, str):
        return x
    if isinstance(x, slice):
        parts = []
        for p in (x.start, x.stop, x.step):
            if p is not None:
                try:
                    p = operator.index(p)
                except TypeError:
                    raise SelectionTypeError from None
            parts.append(p)
        return DimRange(*parts)
    if isinstance(x, float) or x is None or x is Ellipsis:
        raise SelectionTypeError
    try:
        return operator.index(x)  # Python bools count as 0 and 1, as in TensorStore
    except TypeError:
        raise SelectionTypeError from None


def normalize_selection(sel: Any) -> tuple:
    """Flattens a selection into terms: ints, labels, ranges, and any nesting of them in
    sequences or other dimension selections (``ts.d[1, [2, 3]]`` is ``ts.d[1, 2, 3]``).

    Raises SelectionTypeError for anything TensorStore refuses as a DimSelectionLike.
    """
    out: list = []
    _flatten(sel, out)
    return tuple(out)


def _flatten(sel: Any, out: list) -> None:
    from .dim_expression import DimExpression

    if isinstance(sel, (str, slice, int)):
        out.append(_term(sel))
    elif isinstance(sel, DimExpression):
        out.extend(sel._selection_terms())
    elif isinstance(sel, (tuple, list, range)):
        for x in sel:
            _flatten(x, out)
    elif hasattr(sel, "__array__"):
        import numpy as np

        arr = np.asarray(sel)
        if arr.ndim > 1 or arr.dtype.kind not in "iu":
            raise SelectionTypeError
        out.extend(int(v) for v in arr.reshape(-1))
    elif hasattr(sel, "__index__"):
        out.append(_term(sel))
    elif hasattr(sel, "__iter__"):
        for x in sel:  # any other iterable (bytes, dict keys, iterators), as TensorStore
            _flatten(x, out)
    else:
        raise SelectionTypeError


def _label_error(label: str, labels: Sequence[str]) -> str:
    return f'Label "{label}" does not match one of {{' + ", ".join(f'"{x}"' for x in labels) + "}"


def resolve_existing(terms: Sequence[Any], labels: Sequence[str]) -> list[int]:
    """Dimension indices selected by `terms` in a space with `labels` (no new dims).

    Errors are INVALID_ARGUMENT status errors; callers pick the Python exception type.
    """
    rank = len(labels)
    dims: list[int] = []
    for t in terms:
        if isinstance(t, str):
            if t == "":
                raise invalid_argument("Dimension cannot be specified by empty label")
            if t not in labels:
                raise invalid_argument(_label_error(t, labels))
            dims.append(labels.index(t))
        elif isinstance(t, DimRange):
            dims.extend(resolve_range(t, rank))
        else:
            if not -rank <= t < rank:
                raise invalid_argument(f"Dimension index {t} is outside valid range [-{rank}, {rank})")
            dims.append(t + rank if t < 0 else t)
    if len(dims) > rank:
        raise invalid_argument(f"Number of dimensions ({len(dims)}) exceeds input rank ({rank}).")
    check_unique(dims)
    return dims


def check_unique(dims: Sequence[int]) -> None:
    """Rejects repeated dimensions; each repeat is listed once per earlier occurrence, as TensorStore does."""
    repeats = [d for i, d in enumerate(dims) for e in dims[:i] if e == d]
    if repeats:
        raise invalid_argument("Input dimensions {" + ", ".join(map(str, repeats)) + "} specified more than once")


def resolve_range(r: DimRange, rank: int) -> list[int]:
    """Indices of a dimension range, normalized and checked the way TensorStore does."""
    step = 1 if r.step is None else r.step
    if step == 0:
        raise invalid_argument("step must not be 0")
    if r.start is not None:
        if not -rank <= r.start < rank:
            raise invalid_argument(f"Dimension index {r.start} is outside valid range [-{rank}, {rank})")
        start = r.start + rank if r.start < 0 else r.start
    else:
        start = 0 if step > 0 else rank - 1
    if r.stop is not None:
        if not -rank - 1 <= r.stop <= rank:
            raise invalid_argument(
                f"Dimension exclusive stop index {r.stop} is outside valid range [-{rank + 1}, {rank}]"
            )
        stop = r.stop + rank if r.stop < 0 else r.stop
        if (step > 0 and stop < start) or (step < 0 and stop > start):
            raise invalid_argument(f"{r!r} is not a valid range")
    else:
        stop = rank if step > 0 else -1
    count = -((start - stop) // step)  # ceil((stop - start) / step)
    return [start + step * i for i in range(max(count, 0))]
