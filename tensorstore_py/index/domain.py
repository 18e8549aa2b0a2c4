"""`ts.IndexDomain`: a rank-n box of optionally-implicit intervals with dimension labels."""

from __future__ import annotations

import operator
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..errors import StatusError, invalid_argument
from ..json_util import ObjectReader, from_python, expect_array, expect_int, expect_string, parse_array, sorted_json
from .indexable import Indexable
from .interval import (
    INF_INDEX, INF_SIZE, MAX_RANK, Dim, closed_or_error, format_labeled, half_open_or_error,
    hull_intervals, intersect_intervals, interval_size, merge_labels, sized_or_error,
)  # fmt: skip

__all__ = ["IndexDomain", "check_rank", "check_labels_unique", "domain_to_json", "parse_domain_json"]


def check_rank(rank: int) -> int:
    if not 0 <= rank <= MAX_RANK:
        raise invalid_argument(f"Invalid rank: {rank}")
    return rank


def check_labels_unique(labels: Sequence[str]) -> None:
    # TensorStore sorts the labels and reports every repeat, so "x" thrice is named twice.
    ordered = sorted(x for x in labels if x)
    dup = [b for a, b in zip(ordered, ordered[1:]) if a == b]
    if dup:
        raise invalid_argument("Dimension label(s) " + ", ".join(f'"{x}"' for x in dup) + " not unique")


class IndexDomain(Indexable):
    """A box in index space: per dimension an interval, implicit-bound flags and a label."""

    __slots__ = ("_lo", "_hi", "_il", "_iu", "_labels")

    _lo: tuple[int, ...]
    _hi: tuple[int, ...]
    _il: tuple[bool, ...]
    _iu: tuple[bool, ...]
    _labels: tuple[str, ...]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "json" in kwargs:
            if args or len(kwargs) != 1:
                raise TypeError("IndexDomain(json=...) takes no other arguments")
            other = parse_domain_json(from_python(kwargs["json"]), "", wrap="Error parsing index domain from JSON")
            self._copy_from(other)
            return
        if len(args) == 1 and not kwargs and args[0] is not None and not _is_int(args[0]):
            dims = list(args[0])
            if not all(isinstance(x, Dim) for x in dims):
                raise TypeError("IndexDomain(dimensions) requires a sequence of ts.Dim")
            check_rank(len(dims))
            self._set(
                [x.inclusive_min for x in dims], [x.inclusive_max for x in dims],
                [x.implicit_lower for x in dims], [x.implicit_upper for x in dims], [x.label for x in dims],
            )  # fmt: skip
            return
        if len(args) > 1:
            raise TypeError("IndexDomain() takes at most 1 positional argument")
        if args:
            if "rank" in kwargs:
                raise TypeError("IndexDomain() got multiple values for argument 'rank'")
            kwargs = dict(kwargs, rank=args[0])
        allowed = {"rank", "inclusive_min", "implicit_lower_bounds", "exclusive_max", "inclusive_max",
                   "shape", "implicit_upper_bounds", "labels"}  # fmt: skip
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"IndexDomain() got an unexpected keyword argument '{sorted(unknown)[0]}'")
        lo, hi, il, iu, labels = components_from_kwargs(kwargs, "")
        self._set(lo, hi, il, iu, labels)

    # -- construction helpers ------------------------------------------------------------------

    def _set(self, lo: Sequence[int], hi: Sequence[int], il: Sequence[bool], iu: Sequence[bool], labels: Sequence[str]) -> None:
        labels = tuple(x or "" for x in labels)
        check_labels_unique(labels)
        self._lo, self._hi = tuple(lo), tuple(hi)
        self._il, self._iu = tuple(bool(x) for x in il), tuple(bool(x) for x in iu)
        self._labels = labels

    def _copy_from(self, other: "IndexDomain") -> None:
        self._lo, self._hi, self._il, self._iu, self._labels = other._lo, other._hi, other._il, other._iu, other._labels

    @classmethod
    def _make(cls, lo: Sequence[int], hi: Sequence[int], il: Sequence[bool], iu: Sequence[bool], labels: Sequence[str]) -> "IndexDomain":
        d = cls.__new__(cls)
        d._lo, d._hi = tuple(lo), tuple(hi)
        d._il, d._iu = tuple(il), tuple(iu)
        d._labels = tuple(labels)
        return d

    def _dim_tuple(self, i: int) -> tuple:
        return (self._lo[i], self._hi[i], self._il[i], self._iu[i])

    # -- properties ----------------------------------------------------------------------------

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return len(self._lo)

    ndim = rank

    @property
    def origin(self) -> tuple[int, ...]:
        """Inclusive lower bounds."""
        return self._lo

    inclusive_min = origin

    @property
    def inclusive_max(self) -> tuple[int, ...]:
        return self._hi

    @property
    def exclusive_max(self) -> tuple[int, ...]:
        return tuple(h + 1 for h in self._hi)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(interval_size(lo, hi) for lo, hi in zip(self._lo, self._hi))

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def implicit_lower_bounds(self) -> tuple[bool, ...]:
        return self._il

    @property
    def implicit_upper_bounds(self) -> tuple[bool, ...]:
        return self._iu

    @property
    def size(self) -> int:
        """Total number of index vectors (product of the shape)."""
        n = 1
        for s in self.shape:
            n *= s
        # TensorStore saturates at the largest Index value.
        return min(n, INF_SIZE)

    @property
    def index_exp(self) -> tuple[slice, ...]:
        """The domain as a tuple of slices (finite domains only)."""
        return tuple(
            slice(None if lo == -INF_INDEX else lo, None if hi == INF_INDEX else hi + 1)
            for lo, hi in zip(self._lo, self._hi)
        )

    @property
    def index_exclusive_max(self) -> tuple[int, ...]:
        return self.exclusive_max

    @property
    def T(self) -> "IndexDomain":
        """The domain with its dimensions in reverse order."""
        r = slice(None, None, -1)
        return IndexDomain._make(self._lo[r], self._hi[r], self._il[r], self._iu[r], self._labels[r])

    @property
    def domain(self) -> "IndexDomain":
        return self

    # -- Indexable hooks -----------------------------------------------------------------------

    def _indexable_transform(self):
        from .transform import identity_transform

        return identity_transform(self)

    def _indexable_with_transform(self, t) -> "IndexDomain":
        return t.domain

    # -- dims ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.rank

    def __iter__(self) -> Iterator[Dim]:
        return (self._dim(i) for i in range(self.rank))

    def _dim(self, i: int) -> Dim:
        return Dim._make(self._lo[i], self._hi[i], self._il[i], self._iu[i], self._labels[i])

    def __getitem__(self, key: Any) -> Any:
        from .dim_expression import DimExpression
        from .dimsel import SelectionTypeError, normalize_selection, resolve_existing
        from .transform import IndexTransform

        if isinstance(key, (str, int)) or _is_int(key):
            try:
                (i,) = resolve_existing((key if isinstance(key, str) else operator.index(key),), self._labels)
            except StatusError as e:
                raise IndexError(e.message) from None
            return self._dim(i)
        if isinstance(key, IndexDomain):
            return self._slice_by_domain(key)
        if isinstance(key, DimExpression) and not key._is_pure_selection():
            return key._apply_to(self._indexable_transform(), domain_only=True).domain
        if isinstance(key, IndexTransform):
            from .transform import compose_with_domain

            return compose_with_domain(self, key)
        try:
            terms = normalize_selection(key)
        except SelectionTypeError:
            raise TypeError(_getitem_type_error(self, key)) from None
        try:
            dims = resolve_existing(terms, self._labels)
        except StatusError as e:
            raise ValueError(str(e)) from None  # a plain ValueError, as TensorStore's traceback shows
        return IndexDomain._make(
            [self._lo[i] for i in dims], [self._hi[i] for i in dims], [self._il[i] for i in dims],
            [self._iu[i] for i in dims], [self._labels[i] for i in dims],
        )  # fmt: skip

    def _slice_by_domain(self, other: "IndexDomain") -> "IndexDomain":
        from .transform import slice_by_domain, identity_transform

        try:
            return slice_by_domain(identity_transform(self), other).domain
        except StatusError as e:
            raise IndexError(str(e)) from None

    # -- set operations ------------------------------------------------------------------------

    def _combine(self, other: "IndexDomain", fn, what: str) -> "IndexDomain":
        if not isinstance(other, IndexDomain):
            raise TypeError(f"{what}(): expected an IndexDomain")
        if other.rank != self.rank:
            raise invalid_argument(f"Cannot {what} index domain {self} with index domain {other}: Ranks do not match")
        out = [], [], [], [], []
        for i in range(self.rank):
            try:
                label = merge_labels(self._labels[i], other._labels[i])
            except StatusError as e:
                raise invalid_argument(
                    f"Cannot {what} index domain {self} with index domain {other}: "
                    f"Mismatch in dimension {i}: {e.message}"
                ) from None
            for lst, v in zip(out, (*fn(self._dim_tuple(i), other._dim_tuple(i)), label)):
                lst.append(v)
        return IndexDomain._make(*out)

    def intersect(self, other: "IndexDomain") -> "IndexDomain":
        """Per-dimension intersection (ranks must match; labels must be compatible)."""
        return self._combine(other, intersect_intervals, "intersect")

    def hull(self, other: "IndexDomain") -> "IndexDomain":
        """Per-dimension hull (ranks must match; labels must be compatible)."""
        return self._combine(other, hull_intervals, "hull")

    # -- JSON, repr, equality ------------------------------------------------------------------

    def to_json(self) -> dict:
        """TensorStore's JSON representation (members in sorted order)."""
        return domain_to_json(self, "")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndexDomain):
            return NotImplemented
        return (self._lo, self._hi, self._il, self._iu, self._labels) == (
            other._lo, other._hi, other._il, other._iu, other._labels)  # fmt: skip

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "{ " + ", ".join(
            format_labeled(self._labels[i], *self._dim_tuple(i)) for i in range(self.rank)
        ) + " }"

    __str__ = __repr__

    def __reduce__(self):
        return (_domain_from_json, (self.to_json(),))

    def _repr_plain(self) -> str:
        """``{origin={0, 0}, shape={3, 4}}`` as TensorStore's status payloads print a box."""
        return "{origin={" + ", ".join(map(str, self._lo)) + "}, shape={" + ", ".join(map(str, self.shape)) + "}}"


def _domain_from_json(j: dict) -> IndexDomain:
    return IndexDomain(json=j)


def _is_int(x: Any) -> bool:
    if isinstance(x, (str, float)):
        return False
    try:
        operator.index(x)
    except TypeError:
        return False
    return True


def _getitem_type_error(domain: IndexDomain, key: Any) -> str:
    return (
        "__getitem__(): incompatible function arguments. The following argument types are supported:\n"
        "    1. (self: tensorstore.IndexDomain, identifier: int | str) -> tensorstore.Dim\n"
        "    2. (self: tensorstore.IndexDomain, selection: tensorstore.DimSelectionLike) -> tensorstore.IndexDomain\n"
        "    3. (self: tensorstore.IndexDomain, other: tensorstore.IndexDomain) -> tensorstore.IndexDomain\n"
        "    4. (self: tensorstore.IndexDomain, expr: tensorstore.DimExpression) -> tensorstore.IndexDomain\n"
        "    5. (self: tensorstore.IndexDomain, transform: tensorstore.IndexTransform) -> tensorstore.IndexDomain\n"
        f"\nInvoked with: {domain!r}, {key!r}"
    )


# ---------------------------------------------------------------------------------------------
# Component-vector construction (shared with IndexTransform's input_* keyword arguments).

_COMPONENT_ORDER = ("rank", "inclusive_min", "implicit_lower_bounds", "exclusive_max", "inclusive_max",
                    "shape", "implicit_upper_bounds", "labels")  # fmt: skip


def components_from_kwargs(kw: dict, prefix: str) -> tuple[list, list, list, list, list]:
    """Bounds, implicit flags and labels from ``rank=, inclusive_min=, shape=...`` arguments.

    `prefix` is ``"input_"`` for IndexTransform, whose messages name ``input_shape`` etc.
    """
    vals = {k: kw.get(prefix + k) for k in _COMPONENT_ORDER}
    # Argument types are checked first (TensorStore's binding refuses them before any logic).
    lists: dict[str, list] = {}
    for k in _COMPONENT_ORDER:
        v = vals[k]
        if v is None:
            continue
        if k == "rank":
            if not _is_int(v):
                raise TypeError(f"incompatible constructor arguments: `{prefix}rank` must be an integer")
            continue
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise TypeError(f"incompatible constructor arguments: `{prefix}{k}` must be a sequence")
        items = list(v)
        if k == "labels":
            if not all(x is None or isinstance(x, str) for x in items):
                raise TypeError(f"incompatible constructor arguments: `{prefix}labels` must hold strings or None")
            lists[k] = ["" if x is None else x for x in items]
        elif k.startswith("implicit"):
            if not all(x is None or isinstance(x, (bool, int, float, np.bool_, np.number)) for x in items):
                raise TypeError(f"incompatible constructor arguments: `{k}` must hold booleans")
            lists[k] = [bool(x) for x in items]
        else:
            if not all(_is_int(x) for x in items):
                raise TypeError(f"incompatible constructor arguments: `{prefix}{k}` must hold integers")
            lists[k] = [operator.index(x) for x in items]
    if vals["rank"] is not None:
        check_rank(operator.index(vals["rank"]))
    rank: Optional[int] = None
    rank_from = ""
    upper_from = ""
    for k in _COMPONENT_ORDER:
        if vals[k] is None:
            continue
        if k in ("exclusive_max", "inclusive_max", "shape"):
            if upper_from:
                raise invalid_argument(f"Cannot specify both `{prefix}{upper_from}` and `{prefix}{k}`")
            upper_from = k
        n = operator.index(vals[k]) if k == "rank" else len(lists[k])
        if rank is None:
            rank, rank_from = n, k
        elif n != rank:
            raise invalid_argument(
                f"Rank specified by `{prefix}{k}` ({n}) does not match rank specified by `{prefix}{rank_from}` ({rank})"
            )
    uppers = [k for k in ("exclusive_max", "inclusive_max", "shape") if vals[k] is not None]
    if rank is None:
        raise invalid_argument(f"Must specify `{prefix}rank`")
    check_rank(rank)
    # As TensorStore: repeated labels are reported before invalid bounds.
    check_labels_unique(lists.get("labels", []))
    has_lower = "inclusive_min" in lists or "shape" in lists
    has_upper = bool(uppers)
    lo_in = lists.get("inclusive_min", [0 if "shape" in lists else -INF_INDEX] * rank)
    lo, hi = [], []
    for i in range(rank):
        if "shape" in lists:
            a, b = sized_or_error(lo_in[i], lists["shape"][i])
        elif "exclusive_max" in lists:
            a, b = half_open_or_error(lo_in[i], lists["exclusive_max"][i])
        elif "inclusive_max" in lists:
            a, b = closed_or_error(lo_in[i], lists["inclusive_max"][i])
        else:
            a, b = half_open_or_error(lo_in[i], INF_INDEX + 1)
        lo.append(a)
        hi.append(b)
    il = lists.get("implicit_lower_bounds", [not has_lower] * rank)
    iu = lists.get("implicit_upper_bounds", [not has_upper] * rank)
    labels = lists.get("labels", [""] * rank)
    check_labels_unique(labels)
    return lo, hi, il, iu, labels


# ---------------------------------------------------------------------------------------------
# JSON


def _bound_json(value: int, implicit: bool, upper: bool) -> Any:
    if upper:
        v: Any = "+inf" if value == INF_INDEX + 1 else value
    else:
        v = "-inf" if value == -INF_INDEX else value
    return [v] if implicit else v


def domain_to_json(d: IndexDomain, prefix: str) -> dict:
    """``{"exclusive_max": ..., "inclusive_min": ..., "labels": ...}`` (or ``{"rank": n}``)."""
    j: dict = {}
    rank = d.rank
    if any(d._hi[i] != INF_INDEX or not d._iu[i] for i in range(rank)):
        j[prefix + "exclusive_max"] = [_bound_json(d._hi[i] + 1, d._iu[i], True) for i in range(rank)]
    if any(d._lo[i] != -INF_INDEX or not d._il[i] for i in range(rank)):
        j[prefix + "inclusive_min"] = [_bound_json(d._lo[i], d._il[i], False) for i in range(rank)]
    if any(d._labels):
        j[prefix + "labels"] = list(d._labels)
    if not j:
        j[prefix + "rank"] = rank
    return dict(sorted(j.items()))


def _parse_bound(upper: bool):
    inf_text = "+inf" if upper else "-inf"

    def parse_value(v: Any) -> int:
        if v == inf_text and isinstance(v, str):
            return INF_INDEX + 1 if upper else -INF_INDEX
        ok = False
        if isinstance(v, int) and not isinstance(v, bool):
            ok = True
        elif isinstance(v, float) and v.is_integer():
            v, ok = int(v), True
        if ok and ((not upper and -INF_INDEX <= v < (1 << 63)) or (upper and -(1 << 63) <= v <= INF_INDEX + 1)):
            return v
        from ..json_util import dumps

        raise invalid_argument(f'Expected 64-bit signed integer or "{inf_text}", but received: {dumps(v)}')

    def parse(v: Any) -> tuple[int, bool]:
        if isinstance(v, list):
            if len(v) != 1:
                from ..json_util import dumps

                raise invalid_argument(f"Expected array of size 1 indicating an implicit value, but received: {dumps(v)}")
            return parse_value(v[0]), True
        return parse_value(v), False

    return parse


def _parse_size(v: Any) -> tuple[int, bool]:
    implicit = False
    if isinstance(v, list):
        if len(v) != 1:
            from ..json_util import dumps

            raise invalid_argument(f"Expected array of size 1 indicating an implicit value, but received: {dumps(v)}")
        v, implicit = v[0], True
    if v == "+inf" and isinstance(v, str):
        return INF_SIZE, implicit
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not -(1 << 63) <= v < (1 << 63):
        from ..json_util import dumps

        raise invalid_argument(f'Expected 64-bit signed integer or "+inf", but received: {dumps(v)}')
    return v, implicit


def parse_domain_components(r: ObjectReader, prefix: str, rank: Optional[int] = None):
    """Reads the domain members (``rank``/``inclusive_min``/...) of a JSON object.

    Returns None when none is present, else a function building the IndexDomain: TensorStore
    validates the intervals only after the whole object (extra members included) was read.
    `prefix` is ``"input_"`` inside a transform.
    """
    names = [prefix + k for k in ("rank", "inclusive_min", "shape", "inclusive_max", "exclusive_max", "labels")]
    if not any(r.has(n) for n in names):
        for n in names:
            r.skip(n)
        return None

    def with_rank(parse):
        def f(j):
            arr = expect_array(j, rank)
            return parse_array(arr, parse)
        return f

    if r.has(names[0]):
        rank = r.get(names[0], lambda j: expect_int(j, 0, MAX_RANK))
    else:
        r.skip(names[0])
    lower = r.get(names[1], with_rank(_parse_bound(False)), None)
    if lower is not None:
        rank = len(lower)
    if sum(1 for n in names[2:5] if r.has(n)) > 1:
        raise invalid_argument("At most one of " + ", ".join(f'"{n}"' for n in names[2:5]) + " members is allowed")
    shape = r.get(names[2], with_rank(_parse_size), None)
    if shape is not None:
        rank = len(shape)
    imax = r.get(names[3], with_rank(_parse_bound(True)), None)
    if imax is not None:
        rank = len(imax)
    emax = r.get(names[4], with_rank(_parse_bound(True)), None)
    if emax is not None:
        rank = len(emax)

    def parse_labels(j):
        labels = parse_array(expect_array(j, rank), expect_string)
        check_labels_unique(labels)
        return labels

    labels = r.get(names[5], parse_labels, None)
    if labels is not None:
        rank = len(labels)

    def build() -> IndexDomain:
        assert rank is not None
        lo, hi, il, iu = [], [], [], []
        for i in range(rank):
            if lower is not None:
                a, ail = lower[i]
            else:
                a, ail = (0, False) if shape is not None else (-INF_INDEX, True)
            if shape is not None:
                size, iu_i = shape[i]
                if size == INF_SIZE:
                    a, b = a, INF_INDEX
                else:
                    a, b = sized_or_error(a, size)
            elif imax is not None:
                b, iu_i = imax[i]
                if b == INF_INDEX + 1:
                    b -= 1
                a, b = closed_or_error(a, b)
            elif emax is not None:
                e, iu_i = emax[i]
                a, b = half_open_or_error(a, e)
            else:
                b, iu_i = INF_INDEX, True
                a, b = half_open_or_error(a, b + 1)
            lo.append(a)
            hi.append(b)
            il.append(ail)
            iu.append(iu_i)
        return IndexDomain._make(lo, hi, il, iu, labels if labels is not None else [""] * rank)

    return build


def parse_domain_json(j: Any, prefix: str, wrap: str = "") -> IndexDomain:
    """An IndexDomain from its JSON object; errors prefixed with `wrap` when given."""
    try:
        # TensorStore's JSON objects keep their members sorted, which shows in its messages.
        r = ObjectReader(sorted_json(j))
        build = parse_domain_components(r, prefix)
        if build is None:
            raise invalid_argument(
                "At least one of " + ", ".join(
                    f'"{prefix}{k}"' for k in ("rank", "inclusive_min", "shape", "inclusive_max", "exclusive_max", "labels")
                ) + " members must be specified"
            )
        r.finish()
        return build()
    except StatusError as e:
        if wrap:
            raise e.with_prefix(wrap) from None
        raise
