"""Index intervals: TensorStore's index limits, interval validity rules and `ts.Dim`.

An interval is kept as (inclusive_min, inclusive_max) with TensorStore's conventions: finite
indices lie in [-(2**62-2), 2**62-2]; -(2**62-1) as a lower bound means -inf and 2**62-1 as an
upper (inclusive) bound means +inf.  Each bound may be *implicit* (resizable, exceedable lazily).
"""

from __future__ import annotations

import operator
from typing import Any, Iterator, Optional

import numpy as np

from ..errors import invalid_argument

__all__ = ["Dim", "INF_INDEX", "MAX_FINITE_INDEX", "INF_SIZE", "MAX_RANK"]

#: +inf as an inclusive upper bound (and -INF_INDEX as -inf lower bound).
INF_INDEX = (1 << 62) - 1
MAX_FINITE_INDEX = INF_INDEX - 1
#: Size reported for an unbounded interval (2**63 - 1).
INF_SIZE = (1 << 63) - 1
MAX_RANK = 32
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def valid_closed(lo: int, hi: int) -> bool:
    """TensorStore's rule for a closed interval [lo, hi] (hi == lo - 1 means empty)."""
    return -INF_INDEX <= lo < INF_INDEX and -INF_INDEX < hi <= INF_INDEX and hi >= lo - 1


def valid_sized(lo: int, size: int) -> bool:
    return -INF_INDEX <= lo < INF_INDEX and 0 <= size and lo + size - 1 <= INF_INDEX


def closed_or_error(lo: int, hi: int) -> tuple[int, int]:
    if not valid_closed(lo, hi):
        raise invalid_argument(f"({lo}, {hi}) do not specify a valid closed index interval")
    return lo, hi


def half_open_or_error(lo: int, exclusive_max: int) -> tuple[int, int]:
    if not valid_closed(lo, exclusive_max - 1):
        raise invalid_argument(f"({lo}, {exclusive_max}) do not specify a valid half-open index interval")
    return lo, exclusive_max - 1


def sized_or_error(lo: int, size: int) -> tuple[int, int]:
    if not valid_sized(lo, size):
        raise invalid_argument(f"({lo}, {size}) do not specify a valid sized index interval")
    return lo, lo + size - 1


def interval_size(lo: int, hi: int) -> int:
    """Number of indices in [lo, hi]; unbounded intervals report up to 2**63 - 1."""
    return min(hi - lo + 1, INF_SIZE)


def format_interval(lo: int, hi: int, implicit_lo: bool, implicit_hi: bool) -> str:
    """``[0, 5*)`` / ``(-inf*, +inf)`` as TensorStore prints an optionally-implicit interval."""
    left = "(-inf" if lo == -INF_INDEX else f"[{lo}"
    right = "+inf" if hi == INF_INDEX else str(hi + 1)
    return f"{left}{'*' if implicit_lo else ''}, {right}{'*' if implicit_hi else ''})"


def format_plain_interval(lo: int, hi: int) -> str:
    """``[0, 5)`` without implicit markers (used by transform reprs and error messages)."""
    return format_interval(lo, hi, False, False)


def format_labeled(label: str, lo: int, hi: int, implicit_lo: bool, implicit_hi: bool) -> str:
    text = format_interval(lo, hi, implicit_lo, implicit_hi)
    return f'"{label}": {text}' if label else text


def as_index(value: Any) -> int:
    """`value` as a Python int if it is integer-like (not bool-checked: NumPy ints accepted)."""
    return operator.index(value)


def _is_int_like(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _flags_for(lo: int, hi: int, a: tuple, b: tuple) -> tuple:
    # A result bound is implicit unless it coincides with an explicit bound of an operand.
    il = (a[2] or a[0] != lo) and (b[2] or b[0] != lo)
    iu = (a[3] or a[1] != hi) and (b[3] or b[1] != hi)
    return lo, hi, il, iu


def intersect_intervals(a: tuple, b: tuple) -> tuple:
    """Intersection of (lo, hi, implicit_lo, implicit_hi) bounds.

    Each bound (and its flag) comes from the tighter operand, a tie is explicit if either is.
    """
    alo, ahi, ail, aiu = a
    blo, bhi, bil, biu = b
    lo, il = (alo, ail) if alo > blo else (blo, bil) if blo > alo else (alo, ail and bil)
    hi, iu = (ahi, aiu) if ahi < bhi else (bhi, biu) if bhi < ahi else (ahi, aiu and biu)
    return lo, max(hi, lo - 1), il, iu


def hull_intervals(a: tuple, b: tuple) -> tuple:
    """Smallest interval containing both; empty intervals do not contribute."""
    if a[1] < a[0]:
        lo, hi = b[0], b[1]
    elif b[1] < b[0]:
        lo, hi = a[0], a[1]
    else:
        lo, hi = min(a[0], b[0]), max(a[1], b[1])
    return _flags_for(lo, hi, a, b)


def merge_labels(a: str, b: str) -> str:
    if a and b and a != b:
        raise invalid_argument("Dimension labels do not match")
    return a or b


_DIM_SIGNATURES = """__init__(): incompatible constructor arguments. The following argument types are supported:
    1. tensorstore.Dim(label: str | None = None, *, implicit_lower: bool = True, implicit_upper: bool = True)
    2. tensorstore.Dim(size: Optional[int], label: str | None = None, *, inclusive_min: Optional[int] = None, implicit_lower: bool = False, implicit_upper: bool | None = None)
    3. tensorstore.Dim(inclusive_min: Optional[int] = -inf, exclusive_max: Optional[int] = +inf, *, label: str | None = None, implicit_lower: bool | None = None, implicit_upper: bool | None = None)
    4. tensorstore.Dim(*, inclusive_min: Optional[int] = -inf, inclusive_max: Optional[int] = +inf, label: str | None = None, implicit_lower: bool | None = None, implicit_upper: bool | None = None)
"""


class _NoMatch(Exception):
    pass


def _bind(args: tuple, kwargs: dict, positional: tuple, keyword_only: tuple) -> dict:
    """Binds like one pybind11 overload: raises _NoMatch if the arguments do not fit."""
    if len(args) > len(positional):
        raise _NoMatch
    bound = dict(zip(positional, args))
    for k, v in kwargs.items():
        if k in bound or (k not in positional and k not in keyword_only):
            raise _NoMatch
        bound[k] = v
    return bound


def _as_bool(v: Any, convert: bool, optional: bool) -> Any:
    """pybind11's bool conversion: strict first; with conversion None is False and numbers use truthiness."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if v is None and optional:
        return None
    if convert and (v is None or isinstance(v, (int, float, np.number))):
        return bool(v)
    raise _NoMatch


def _check_types(bound: dict, convert: bool, ints: tuple = (), bools: tuple = (), opt_bools: tuple = ()) -> dict:
    """Validates bound arguments against one overload; returns them with bools converted."""
    out = dict(bound)
    for k, v in bound.items():
        if k == "label":
            if v is not None and not isinstance(v, str):
                raise _NoMatch
        elif k in ints:
            if v is not None and (isinstance(v, float) or not _is_int_like(v)):
                raise _NoMatch
        elif k in bools or k in opt_bools:
            out[k] = _as_bool(v, convert, k in opt_bools)
    return out


def _arg_text(args: tuple, kwargs: dict) -> str:
    parts = ", ".join(repr(a) for a in args)
    if kwargs:
        kw = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"{parts}; kwargs: {kw}" if parts else f"kwargs: {kw}"
    return parts


class Dim:
    """One dimension of an index domain: an optionally-implicit interval plus a label.

    Constructed like TensorStore's ``ts.Dim``: ``Dim()`` (unbounded), ``Dim(size)``,
    ``Dim(inclusive_min, exclusive_max)`` or ``Dim(inclusive_min=..., inclusive_max=...)``, each
    with optional ``label``, ``implicit_lower`` and ``implicit_upper``.
    """

    __slots__ = ("_lo", "_hi", "_il", "_iu", "_label")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Like pybind11: every overload is tried without implicit conversions first, then with.
        for convert in (False, True):
            for overload in (self._init_unbounded, self._init_sized, self._init_half_open, self._init_closed):
                try:
                    overload(args, kwargs, convert)
                    return
                except _NoMatch:
                    continue
        raise TypeError(_DIM_SIGNATURES + "\nInvoked with: " + _arg_text(args, kwargs))

    def _set(self, lo: int, hi: int, il: bool, iu: bool, label: Optional[str]) -> None:
        self._lo, self._hi, self._il, self._iu = lo, hi, bool(il), bool(iu)
        self._label = label or ""

    def _init_unbounded(self, args: tuple, kwargs: dict, convert: bool) -> None:
        b = _bind(args, kwargs, ("label",), ("implicit_lower", "implicit_upper"))
        b = _check_types(b, convert, bools=("implicit_lower", "implicit_upper"))
        self._set(-INF_INDEX, INF_INDEX, b.get("implicit_lower", True), b.get("implicit_upper", True), b.get("label"))

    def _init_sized(self, args: tuple, kwargs: dict, convert: bool) -> None:
        b = _bind(args, kwargs, ("size", "label"), ("inclusive_min", "implicit_lower", "implicit_upper"))
        if "size" not in b:
            raise _NoMatch
        b = _check_types(b, convert, ints=("size", "inclusive_min"), bools=("implicit_lower",),
                         opt_bools=("implicit_upper",))  # fmt: skip
        lo = 0 if b.get("inclusive_min") is None else as_index(b["inclusive_min"])
        size = b["size"]
        if size is None:
            lo, hi = half_open_or_error(lo, INF_INDEX + 1)
            iu_default = True
        else:
            lo, hi = sized_or_error(lo, as_index(size))
            iu_default = False
        iu = b.get("implicit_upper")
        self._set(lo, hi, b.get("implicit_lower", False), iu_default if iu is None else iu, b.get("label"))

    def _init_half_open(self, args: tuple, kwargs: dict, convert: bool) -> None:
        b = _bind(args, kwargs, ("inclusive_min", "exclusive_max"), ("label", "implicit_lower", "implicit_upper"))
        b = _check_types(b, convert, ints=("inclusive_min", "exclusive_max"), opt_bools=("implicit_lower", "implicit_upper"))
        lo_given = b.get("inclusive_min") is not None
        hi_given = b.get("exclusive_max") is not None
        lo = as_index(b["inclusive_min"]) if lo_given else -INF_INDEX
        emax = as_index(b["exclusive_max"]) if hi_given else INF_INDEX + 1
        lo, hi = half_open_or_error(lo, emax)
        self._set_defaults(lo, hi, lo_given, hi_given, b)

    def _init_closed(self, args: tuple, kwargs: dict, convert: bool) -> None:
        b = _bind(args, kwargs, (), ("inclusive_min", "inclusive_max", "label", "implicit_lower", "implicit_upper"))
        # The reference binds this overload's flags without conversion (1 is not accepted as True).
        b = _check_types(b, False, ints=("inclusive_min", "inclusive_max"), opt_bools=("implicit_lower", "implicit_upper"))
        lo_given = b.get("inclusive_min") is not None
        hi_given = b.get("inclusive_max") is not None
        lo = as_index(b["inclusive_min"]) if lo_given else -INF_INDEX
        hi = as_index(b["inclusive_max"]) if hi_given else INF_INDEX
        lo, hi = closed_or_error(lo, hi)
        self._set_defaults(lo, hi, lo_given, hi_given, b)

    def _set_defaults(self, lo: int, hi: int, lo_given: bool, hi_given: bool, b: dict) -> None:
        il = b.get("implicit_lower")
        iu = b.get("implicit_upper")
        self._set(lo, hi, (not lo_given) if il is None else il, (not hi_given) if iu is None else iu, b.get("label"))

    @classmethod
    def _make(cls, lo: int, hi: int, il: bool, iu: bool, label: str) -> "Dim":
        d = cls.__new__(cls)
        d._set(lo, hi, il, iu, label)
        return d

    def _tuple(self) -> tuple:
        return (self._lo, self._hi, self._il, self._iu)

    inclusive_min = property(lambda self: self._lo, doc="Inclusive lower bound (-inf as -(2**62-1)).")
    inclusive_max = property(lambda self: self._hi, doc="Inclusive upper bound (+inf as 2**62-1).")
    exclusive_max = property(lambda self: self._hi + 1, doc="Exclusive upper bound.")
    exclusive_min = property(lambda self: self._lo - 1, doc="Exclusive lower bound.")
    size = property(lambda self: interval_size(self._lo, self._hi), doc="Number of indices.")
    empty = property(lambda self: self._hi < self._lo, doc="Whether the interval holds no index.")
    implicit_lower = property(lambda self: self._il, doc="Whether the lower bound is implicit.")
    implicit_upper = property(lambda self: self._iu, doc="Whether the upper bound is implicit.")

    @property
    def finite(self) -> bool:
        """Whether both bounds are finite."""
        return self._lo != -INF_INDEX and self._hi != INF_INDEX

    @property
    def label(self) -> str:
        """The dimension label (empty string when unlabeled)."""
        return self._label

    @label.setter
    def label(self, value: str) -> None:
        self._label = value or ""

    @implicit_lower.setter
    def implicit_lower(self, value: bool) -> None:
        self._il = bool(value)

    @implicit_upper.setter
    def implicit_upper(self, value: bool) -> None:
        self._iu = bool(value)

    def __contains__(self, other: Any) -> bool:
        if isinstance(other, Dim):
            return other.empty or (self._lo <= other._lo and other._hi <= self._hi)
        i = as_index(other)
        return self._lo <= i <= self._hi

    def __iter__(self) -> Iterator[int]:
        if not self.finite:
            raise ValueError(f"Cannot iterate over infinite interval {self}")
        return iter(range(self._lo, self._hi + 1))

    def __len__(self) -> int:
        return self.size

    def intersect(self, other: "Dim") -> "Dim":
        """The intersection of two intervals (labels must agree when both are set)."""
        label = merge_labels(self._label, other._label)
        return Dim._make(*intersect_intervals(self._tuple(), other._tuple()), label)

    def hull(self, other: "Dim") -> "Dim":
        """The smallest interval containing both intervals."""
        label = merge_labels(self._label, other._label)
        return Dim._make(*hull_intervals(self._tuple(), other._tuple()), label)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dim):
            return NotImplemented
        return self._tuple() == other._tuple() and self._label == other._label

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return format_labeled(self._label, self._lo, self._hi, self._il, self._iu)

    def __repr__(self) -> str:
        parts = []
        if self._lo != -INF_INDEX:
            parts.append(f"inclusive_min={self._lo}")
        if self._il != (self._lo == -INF_INDEX):
            parts.append(f"implicit_lower={self._il}")
        if self._hi != INF_INDEX:
            parts.append(f"exclusive_max={self._hi + 1}")
        if self._iu != (self._hi == INF_INDEX):
            parts.append(f"implicit_upper={self._iu}")
        if self._label:
            parts.append(f'label="{self._label}"')
        return "Dim(" + ", ".join(parts) + ")"

    def __reduce__(self):
        return (Dim._make, (self._lo, self._hi, self._il, self._iu, self._label))
