"""Dimension expressions: ``ts.d[sel].op[...]...`` applied to transforms, domains and stores.

An expression is a dimension selection followed by a chain of operations.  Applying it walks
the chain, keeping track of which dimensions are currently selected (operations such as
``diagonal`` or indexing replace the selection by the dimensions they produce).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from ..errors import StatusError, invalid_argument, out_of_range
from .dimsel import DimRange, SelectionTypeError, check_unique, normalize_selection, resolve_range
from .interval import INF_INDEX, MAX_FINITE_INDEX, format_interval
from .output_map import OutputIndexMap, OutputIndexMethod

if TYPE_CHECKING:
    from .transform import IndexTransform

__all__ = ["DimExpression", "DimSelection", "d"]

_TYPE_ERROR = (
    "__getitem__(): incompatible function arguments. The following argument types are supported:\n"
    "    1. (selection: tensorstore.DimSelectionLike) -> tensorstore.DimSelection\n\nInvoked with: {}"
)


def _sel_repr(terms: Sequence[Any]) -> str:
    if not terms:
        return "()"
    return ",".join(repr(t) if isinstance(t, (str, DimRange)) else str(t) for t in terms)


def _vector_repr(v: Any) -> str:
    """Repr of translate/stride arguments: ``1,2`` / ``1,`` (1-tuple) / ``None``."""
    if isinstance(v, tuple):
        text = ",".join("None" if x is None else str(x) for x in v)
        return text + "," if len(v) == 1 else text
    if isinstance(v, (list, np.ndarray)):
        return ",".join("None" if x is None else str(x) for x in list(v))
    return "None" if v is None else str(v)


def _as_vector(v: Any, n: int, what: str = "indices") -> list[Optional[int]]:
    """A per-dimension argument: a scalar (broadcast) or one value per selected dimension."""
    if isinstance(v, (tuple, list, np.ndarray)):
        items = list(v)
        if len(items) != n:
            raise invalid_argument(f"Number of dimensions ({n}) does not match number of {what} ({len(items)})")
    else:
        items = [v] * n
    out: list[Optional[int]] = []
    for x in items:
        out.append(None if x is None else operator.index(x))
    return out


class _Op:
    """One operation in a chain: name (for repr), argument and how to apply it."""

    __slots__ = ("name", "arg", "text")

    def __init__(self, name: str, arg: Any, text: str):
        self.name, self.arg, self.text = name, arg, text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Op) and self.text == other.text


class _OpIndexer:
    """``expr.label`` etc.: waits for ``[...]`` to add the operation."""

    __slots__ = ("_expr", "_name", "_fmt")

    __iter__ = None  # subscriptable, not iterable (as TensorStore)

    def __init__(self, expr: "DimExpression", name: str, fmt: Callable[[Any], str]):
        self._expr, self._name, self._fmt = expr, name, fmt

    def __getitem__(self, arg: Any) -> "DimExpression":
        if self._name == "transpose":
            try:
                terms = normalize_selection(arg)
            except SelectionTypeError:
                raise TypeError(
                    "__getitem__(): incompatible function arguments. The following argument types are supported:\n"
                    "    1. (self: tensorstore.DimExpression._Transpose, target: tensorstore.DimSelectionLike) -> "
                    f"tensorstore.DimExpression\n\nInvoked with: {self._expr!r}.transpose, {arg!r}"
                ) from None
            return self._expr._chain(_Op("transpose", terms, f".transpose[{_sel_repr(terms)}]"))
        if self._name in ("oindex", "vindex", "index"):
            from .numpy_indexing import expand_vector_slices, key_repr, parse_key

            arg = expand_vector_slices(arg)
            # Validate now: TensorStore rejects a bad key when the expression is built.
            parse_key(arg, "default" if self._name == "index" else self._name)
            if self._expr._ops and _has_newaxis(arg):
                raise IndexError("tensorstore.newaxis (`None`) not valid in chained indexing operations")
            prefix = "" if self._name == "index" else f".{self._name}"
            return self._expr._chain(_Op(self._name, arg, f"{prefix}[{key_repr(arg)}]"))
        return self._expr._chain(_Op(self._name, arg, f".{self._name}[{self._fmt(arg)}]"))


def _label_repr(arg: Any) -> str:
    items = list(arg) if isinstance(arg, (tuple, list)) else [arg]
    return ",".join(repr(x) for x in items)


def _bool_or_slice_repr(arg: Any) -> str:
    if isinstance(arg, slice):
        return ("" if arg.start is None else str(arg.start)) + ":" + ("" if arg.stop is None else str(arg.stop))
    return str(arg)


class DimExpression:
    """A dimension selection followed by operations; apply with ``x[expr]``."""

    __slots__ = ("_terms", "_ops")

    __iter__ = None  # subscriptable, not iterable (as TensorStore)

    def __init__(self, terms: tuple = (), ops: tuple = ()):
        self._terms = tuple(terms)
        self._ops = tuple(ops)

    # -- construction --------------------------------------------------------------------------

    def _chain(self, op: _Op) -> "DimExpression":
        return DimExpression(self._terms, self._ops + (op,))

    def _selection_terms(self) -> tuple:
        if self._ops:
            raise SelectionTypeError
        return self._terms

    def _is_pure_selection(self) -> bool:
        return not self._ops

    @property
    def label(self) -> _OpIndexer:
        return _OpIndexer(self, "label", _label_repr)

    @property
    def translate_by(self) -> _OpIndexer:
        return _OpIndexer(self, "translate_by", _vector_repr)

    @property
    def translate_backward_by(self) -> _OpIndexer:
        return _OpIndexer(self, "translate_backward_by", _vector_repr)

    @property
    def translate_to(self) -> _OpIndexer:
        return _OpIndexer(self, "translate_to", _vector_repr)

    @property
    def stride(self) -> _OpIndexer:
        return _OpIndexer(self, "stride", _vector_repr)

    @property
    def transpose(self) -> _OpIndexer:
        return _OpIndexer(self, "transpose", str)

    @property
    def mark_bounds_implicit(self) -> _OpIndexer:
        return _OpIndexer(self, "mark_bounds_implicit", _bool_or_slice_repr)

    @property
    def oindex(self) -> _OpIndexer:
        return _OpIndexer(self, "oindex", str)

    @property
    def vindex(self) -> _OpIndexer:
        return _OpIndexer(self, "vindex", str)

    @property
    def diagonal(self) -> "DimExpression":
        return self._chain(_Op("diagonal", None, ".diagonal"))

    def __getitem__(self, key: Any) -> "DimExpression":
        return _OpIndexer(self, "index", str)[key]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DimExpression):
            return NotImplemented
        return self._terms == other._terms and self._ops == other._ops

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"d[{_sel_repr(self._terms)}]" + "".join(op.text for op in self._ops)

    # -- application ---------------------------------------------------------------------------

    def _apply_to(self, t: "IndexTransform", domain_only: bool = False, index_errors: bool = True) -> "IndexTransform":
        """The transform after applying this expression to `t`.

        Errors surface as IndexError (``x[expr]``) or, with `index_errors` False, as the status
        error itself (ValueError), as the ``x.label[...]`` style shorthands report them.
        """
        from .compose import domain_only as _domain_only

        token = _domain_only.set(domain_only)
        try:
            if not self._ops:
                raise invalid_argument("Must specify at least one operation in dimension expression")
            sel: Optional[list[int]] = None
            for i, op in enumerate(self._ops):
                if op.name in ("index", "oindex", "vindex") and (
                        op.arg is None or isinstance(op.arg, slice) or _is_scalar_int(op.arg)):
                    # A lone scalar term (not a tuple) applies to every selected dimension.
                    if op.arg is None and sel is None:
                        check_unique(_count_selection(self._terms, t._domain.labels, True, t.input_rank))
                    n = len(_count_selection(self._terms, t._domain.labels, op.arg is None) if sel is None else sel)
                    op = _Op(op.name, (op.arg,) * n, op.text)
                if sel is None and op.name in ("index", "oindex", "vindex") and not _has_newaxis(op.arg):
                    sel = _resolve_for_indexing(self._terms, t._domain.labels)
                elif sel is None and op.name not in ("index", "oindex", "vindex"):
                    sel = _resolve(self._terms, t._domain.labels)
                if sel is None:
                    t, sel = _apply_indexing_with_newaxis(t, self._terms, op)
                else:
                    t, sel = _APPLY[op.name](t, sel, op.arg)
            return t
        except StatusError as e:
            if not index_errors:
                raise
            raise IndexError(str(e)) from None
        finally:
            _domain_only.reset(token)


class DimSelection(DimExpression):
    """A bare dimension selection (``ts.d[...]`` before any operation)."""

    __slots__ = ()


class _DimsBuilder:
    """The ``ts.d`` object: ``ts.d[selection]`` starts a dimension expression."""

    __slots__ = ()

    __iter__ = None  # subscriptable, not iterable (as TensorStore)

    def __getitem__(self, sel: Any) -> DimSelection:
        try:
            terms = normalize_selection(sel)
        except SelectionTypeError:
            raise TypeError(_TYPE_ERROR.format(repr(sel))) from None
        return DimSelection(terms)


d = _DimsBuilder()


def _is_scalar_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _count_selection(terms: Sequence[Any], labels: Sequence[str], new_dims: bool, rank: Optional[int] = None) -> list:
    """The selected positions, counted the way the indexing operation will resolve them.

    With `new_dims` (a lone ``None``), every selected dimension is a new one; given `rank`, the
    positions are normalized against the resulting rank.
    """
    if not new_dims:
        return _resolve_for_indexing(terms, labels)
    if rank is not None:
        n_new = len(_count_selection(terms, labels, True))
        new_rank = rank + n_new
        resolved: list[int] = []
        for term in terms:
            if isinstance(term, DimRange):
                resolved.extend(resolve_range(term, new_rank))
            else:
                if not -new_rank <= term < new_rank:
                    raise invalid_argument(f"Dimension index {term} is outside valid range [-{new_rank}, {new_rank})")
                resolved.append(term + new_rank if term < 0 else term)
        return resolved
    out: list = []
    for term in terms:
        if isinstance(term, DimRange):
            out.extend([None] * _num_new_dims(term))
        elif isinstance(term, str):
            raise invalid_argument("New dimensions cannot be specified by label")
        else:
            out.append(term)
    return out


def _has_newaxis(key: Any) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return any(x is None for x in items)


def _resolve_for_indexing(terms: Sequence[Any], labels: Sequence[str]) -> list[int]:
    """Selection for an indexing operation: TensorStore resolves these with its own duplicate check."""
    dims: list[int] = []
    for term in terms:
        dims.extend(resolve_existing_single(term, labels))
    _check_no_repeats(dims)
    return dims


def resolve_existing_single(term: Any, labels: Sequence[str]) -> list[int]:
    from .dimsel import resolve_existing

    if isinstance(term, DimRange):
        return resolve_range(term, len(labels))
    rank = len(labels)
    if isinstance(term, str):
        return resolve_existing((term,), labels)
    if not -rank <= term < rank:
        raise invalid_argument(f"Dimension index {term} is outside valid range [-{rank}, {rank})")
    return [term + rank if term < 0 else term]


def _resolve(terms: Sequence[Any], labels: Sequence[str]) -> list[int]:
    from .dimsel import resolve_existing

    return resolve_existing(terms, labels)


# ---------------------------------------------------------------------------------------------
# Operations.  Each takes (transform, selected dims, argument) -> (transform, new selection).


def _with_domain(t: "IndexTransform", lo, hi, il, iu, labels) -> "IndexTransform":
    from .domain import IndexDomain, check_labels_unique
    from .transform import IndexTransform

    check_labels_unique(labels)
    return IndexTransform._make(IndexDomain._make(lo, hi, il, iu, labels), t._outputs)


def _parts(t: "IndexTransform") -> tuple[list, list, list, list, list]:
    dm = t._domain
    return list(dm._lo), list(dm._hi), list(dm._il), list(dm._iu), list(dm._labels)


def _op_label(t, sel, arg):
    labels_in = list(arg) if isinstance(arg, (tuple, list)) else [arg]
    if len(labels_in) != len(sel):
        raise invalid_argument(f"Number of dimensions ({len(sel)}) does not match number of labels ({len(labels_in)}).")
    lo, hi, il, iu, labels = _parts(t)
    for k, lab in zip(sel, labels_in):
        if not isinstance(lab, str):
            raise TypeError("labels must be strings")
        labels[k] = lab
    return _with_domain(t, lo, hi, il, iu, labels), sel


def _translate(t, sel, shifts: list[Optional[int]]):
    from .transform import IndexTransform

    lo, hi, il, iu, labels = _parts(t)
    delta = [0] * len(lo)
    for k, s in zip(sel, shifts):
        if s is None or s == 0:
            continue
        if lo[k] != -INF_INDEX:
            if not -MAX_FINITE_INDEX <= lo[k] + s <= MAX_FINITE_INDEX:
                raise invalid_argument(
                    f"{lo[k]} + {s} is outside valid range [{-MAX_FINITE_INDEX}, {MAX_FINITE_INDEX + 1})"
                )
            lo[k] += s
        if hi[k] != INF_INDEX:
            if not -MAX_FINITE_INDEX - 1 <= hi[k] + s <= MAX_FINITE_INDEX:
                raise invalid_argument(
                    f"{hi[k] + 1} + {s} is outside valid range [{-MAX_FINITE_INDEX}, {MAX_FINITE_INDEX + 1})"
                )
            hi[k] += s
        delta[k] = s
    outputs = []
    for m in t._outputs:
        if m._method == OutputIndexMethod.single_input_dimension and delta[m._dim]:
            m = OutputIndexMap.single(m._dim, m._offset - m._stride * delta[m._dim], m._stride)
        outputs.append(m)
    t2 = IndexTransform._make(t._domain, outputs)
    return _with_domain(t2, lo, hi, il, iu, labels), sel


def _op_translate_by(t, sel, arg):
    return _translate(t, sel, _as_vector(arg, len(sel)))


def _op_translate_backward_by(t, sel, arg):
    return _translate(t, sel, [None if v is None else -v for v in _as_vector(arg, len(sel))])


def _op_translate_to(t, sel, arg):
    origins = _as_vector(arg, len(sel))
    shifts: list[Optional[int]] = []
    dm = t._domain
    for k, o in zip(sel, origins):
        if o is None:
            shifts.append(None)
            continue
        if dm._lo[k] == -INF_INDEX:
            raise invalid_argument(
                f"Interval {format_interval(dm._lo[k], dm._hi[k], False, False)} is not bounded below"
            )
        if not -MAX_FINITE_INDEX <= o <= MAX_FINITE_INDEX:
            raise out_of_range(f"Origin {o} is outside valid range [{-MAX_FINITE_INDEX}, {MAX_FINITE_INDEX + 1})")
        shifts.append(o - dm._lo[k])
    return _translate(t, sel, shifts)


def _op_stride(t, sel, arg):
    from .compose import compose, inverse_image
    from .domain import IndexDomain
    from .transform import IndexTransform

    strides = _as_vector(arg, len(sel))
    lo, hi, il, iu, labels = _parts(t)
    outputs = [OutputIndexMap.single(i) for i in range(len(lo))]
    for k, s in zip(sel, strides):
        if s is None or s == 1:
            continue
        if s == 0:
            raise invalid_argument(f"Applying stride to input dimension {k}: Stride must be non-zero")
        lo[k], hi[k], il[k], iu[k] = inverse_image(lo[k], hi[k], il[k], iu[k], 0, s)
        outputs[k] = OutputIndexMap.single(k, 0, s)
    n = IndexTransform._make(IndexDomain._make(lo, hi, il, iu, labels), outputs)
    return compose(t, n, propagate=False), sel


def _op_mark_bounds_implicit(t, sel, arg):
    if isinstance(arg, slice):
        lower, upper = arg.start, arg.stop
    else:
        lower = upper = arg
    lo, hi, il, iu, labels = _parts(t)
    if lower or upper:
        for k in sel:
            for j, m in enumerate(t._outputs):
                if m._method == OutputIndexMethod.array and m._array.shape[k] != 1:
                    raise invalid_argument(
                        f"Cannot mark input dimension {k} as having implicit bounds because it indexes the index "
                        f"array map for output dimension {j}"
                    )
    for k in sel:
        if lower is not None:
            il[k] = bool(lower)
        if upper is not None:
            iu[k] = bool(upper)
    return _with_domain(t, lo, hi, il, iu, labels), sel


def _permute(t, perm: list[int]):
    """Transform whose new input dim i is old input dim perm[i]."""
    from .domain import IndexDomain
    from .transform import IndexTransform

    dm = t._domain
    inv = {old: new for new, old in enumerate(perm)}
    domain = IndexDomain._make([dm._lo[p] for p in perm], [dm._hi[p] for p in perm], [dm._il[p] for p in perm],
                               [dm._iu[p] for p in perm], [dm._labels[p] for p in perm])  # fmt: skip
    outputs = []
    for m in t._outputs:
        if m._method == OutputIndexMethod.single_input_dimension:
            m = OutputIndexMap.single(inv[m._dim], m._offset, m._stride)
        elif m._method == OutputIndexMethod.array:
            m = OutputIndexMap.from_array(np.ascontiguousarray(np.transpose(m._array, perm)), m._offset, m._stride, m._range)
        outputs.append(m)
    return IndexTransform._make(domain, outputs)


def _op_transpose(t, sel, terms):
    rank = t.input_rank
    n = len(sel)
    if n == 0 and len(terms) == 1 and not isinstance(terms[0], (str, DimRange)):
        return t, []
    if len(terms) == 1 and not isinstance(terms[0], (str, DimRange)):
        start = terms[0]
        limit = rank - n + 1
        if not -limit <= start < limit:
            raise invalid_argument(f"Dimension index {start} is outside valid range [-{limit}, {limit})")
        start = start + limit if start < 0 else start
        targets = list(range(start, start + n))
    else:
        # Ranges are expanded first; the count is checked before single indices are validated.
        raw: list = []
        for term in terms:
            if isinstance(term, DimRange):
                raw.extend(("ok", x) for x in resolve_range(term, rank))
            elif isinstance(term, str):
                raise invalid_argument("Target dimensions cannot be specified by label")
            else:
                raw.append(("raw", term))
        if len(raw) != n:
            raise invalid_argument(
                f"Number of selected dimensions ({n}) must equal number of target dimensions ({len(raw)})"
            )
        targets = []
        for kind, x in raw:
            if kind == "raw":
                if not -rank <= x < rank:
                    raise invalid_argument(f"Dimension index {x} is outside valid range [-{rank}, {rank})")
                x = x + rank if x < 0 else x
            targets.append(x)
        seen: set[int] = set()
        for x in targets:
            if x in seen:
                raise invalid_argument(f"Target dimension {x} occurs more than once")
            seen.add(x)
    perm: list[Optional[int]] = [None] * rank
    for s, tg in zip(sel, targets):
        perm[tg] = s
    rest = iter(k for k in range(rank) if k not in sel)
    full = [p if p is not None else next(rest) for p in perm]
    return _permute(t, full), targets


def _op_diagonal(t, sel, _arg):
    from .compose import compose
    from .domain import IndexDomain
    from .transform import IndexTransform

    dm = t._domain
    rank = dm.rank
    pos = 0  # the diagonal dimension always comes first
    bounds = (-INF_INDEX, INF_INDEX, True, True)
    label = ""
    if sel:
        # Plain interval intersection; a bound stays implicit only if it is implicit in every dim.
        lo_ = max(dm._lo[k] for k in sel)
        hi_ = max(min(dm._hi[k] for k in sel), lo_ - 1)
        bounds = (lo_, hi_, all(dm._il[k] for k in sel), all(dm._iu[k] for k in sel))
    rest = [k for k in range(rank) if k not in sel]
    new_order: list[Any] = rest[:pos] + ["diag"] + rest[pos:] if sel else ["diag"] + rest
    lo, hi, il, iu, labels = [], [], [], [], []
    where = {}
    for i, item in enumerate(new_order):
        if item == "diag":
            b = bounds
            labels.append(label)
        else:
            b = (dm._lo[item], dm._hi[item], dm._il[item], dm._iu[item])
            labels.append(dm._labels[item])
            where[item] = i
        lo.append(b[0]); hi.append(b[1]); il.append(b[2]); iu.append(b[3])  # noqa: E702
    diag = new_order.index("diag")
    outputs = [OutputIndexMap.single(diag if k in sel else where[k]) for k in range(rank)]
    n = IndexTransform._make(IndexDomain._make(lo, hi, il, iu, labels), outputs)
    return compose(t, n, propagate=False, normalize=False), [diag]


def _index_op(mode: str):
    def apply(t, sel, key):
        from .compose import compose
        from .numpy_indexing import build_index_transform, parse_key

        terms = parse_key(key, mode)
        n, new_sel = build_index_transform(t._domain, terms, mode, selection=sel)
        return compose(t, n), new_sel

    return apply


def _apply_indexing_with_newaxis(t, sel_terms, op):
    """Indexing with ``None`` terms: the selection names positions in the result domain."""
    from .compose import compose
    from .domain import IndexDomain
    from .numpy_indexing import build_index_transform, check_rank, parse_key
    from .transform import IndexTransform

    key = op.arg
    terms = parse_key(key)
    consumed = sum(tm.consumed for tm in terms) + sum(1 for tm in terms if tm.kind == "new")
    n_new = sum(1 for tm in terms if tm.kind == "new")
    rank = t.input_rank + n_new
    check_rank(rank)
    labels = t._domain.labels
    # Positions in the intermediate space (old dims plus new ones); labels name old dims and are
    # placed once the new dims' positions are known.
    resolved: list = []
    for term in sel_terms:
        if isinstance(term, DimRange):
            resolved.extend(resolve_range(term, rank))
        elif isinstance(term, str):
            resolved.append(("label", _resolve((term,), labels)[0]))
        else:
            if not -rank <= term < rank:
                raise invalid_argument(f"Dimension index {term} is outside valid range [-{rank}, {rank})")
            resolved.append(term + rank if term < 0 else term)
    _check_no_repeats([x for x in resolved if isinstance(x, int)])
    if consumed > len(resolved) or (consumed != len(resolved) and not any(tm.kind == "ellipsis" for tm in terms)):
        raise invalid_argument(
            f"Indexing expression requires {consumed} dimensions but selection has {len(resolved)} dimensions"
        )
    # Line the selected positions up with the terms (an ellipsis stands for the leftover ones).
    fill = len(resolved) - consumed
    flat_kinds: list[str] = []
    expanded: list = []
    for tm in terms:
        if tm.kind == "ellipsis":
            flat_kinds.extend(["slice"] * fill)
            expanded.extend([slice(None)] * fill)
        else:
            flat_kinds.extend([tm.kind] * (1 if tm.kind == "new" else tm.consumed))
            expanded.append(tm)
    new_positions = []
    for x, kind in zip(resolved, flat_kinds):
        if kind == "new":
            if not isinstance(x, int):
                raise invalid_argument("Dimensions specified by label cannot be used with newaxis")
            new_positions.append(x)
    old_positions = [p for p in range(rank) if p not in new_positions]
    result_sel = [x if isinstance(x, int) else old_positions[x[1]] for x in resolved]
    _check_no_repeats(result_sel)
    dm = t._domain
    lo, hi, il, iu, labels = [], [], [], [], []
    old = iter(range(dm.rank))
    where = {}
    for p in range(rank):
        if p in new_positions:
            lo.append(0); hi.append(0); il.append(True); iu.append(True); labels.append("")  # noqa: E702
        else:
            k = next(old)
            where[k] = p
            lo.append(dm._lo[k]); hi.append(dm._hi[k]); il.append(dm._il[k]); iu.append(dm._iu[k])  # noqa: E702
            labels.append(dm._labels[k])
    n = IndexTransform._make(IndexDomain._make(lo, hi, il, iu, labels),
                             [OutputIndexMap.single(where[k]) for k in range(dm.rank)])  # fmt: skip
    # In the intermediate space the new dims exist as [0*, 1*); a ``None`` term is then just ``:``
    # on its dim, which keeps TensorStore's placement rules (a newaxis breaks index-array runs).
    key_terms = [slice(None) if (not isinstance(tm, slice) and tm.kind == "new") else
                 (tm if isinstance(tm, slice) else _term_to_key(tm)) for tm in expanded]  # fmt: skip
    mode = "default" if op.name == "index" else op.name
    names = [-1] * rank
    for k, p in where.items():
        names[p] = k
    n2, produced = build_index_transform(n._domain, parse_key(tuple(key_terms), mode), mode, selection=result_sel,
                                         dim_names=names)  # fmt: skip
    return compose(t, compose(n, n2, propagate=False, normalize=False)), produced


def _num_new_dims(r: DimRange) -> int:
    """How many new dimensions a range names; ranges open towards unknown positions are refused."""
    step = 1 if r.step is None else r.step
    if step == 0:
        raise invalid_argument("step must not be 0")

    def ceil_div(a: int, b: int) -> int:
        return -((-a) // b)

    if r.start is not None:
        if r.stop is not None:
            if (r.stop < 0) == (r.start < 0) and ((step > 0 and r.stop >= r.start) or (step < 0 and r.stop <= r.start)):
                return ceil_div(r.stop - r.start, step)
        elif step > 0 and r.start < 0:
            return ceil_div(-r.start, step)
        elif step < 0 and r.start >= 0:
            return ceil_div(r.start + 1, -step)
    elif r.stop is not None:
        if step > 0 and r.stop >= 0:
            return ceil_div(r.stop, step)
        if step < 0 and r.stop < 0:
            return ceil_div(-(r.stop + 1), -step)
    raise invalid_argument(f"`{r!r}` is not a valid specification for new dimensions")


def _check_no_repeats(dims: Sequence[int]) -> None:
    seen: set[int] = set()
    for x in dims:
        if x in seen:
            raise invalid_argument(f"Dimension {x} specified more than once")
        seen.add(x)


def _term_to_key(tm) -> Any:
    if tm.kind == "int":
        return tm.value
    if tm.kind == "slice":
        return slice(*tm.value)
    return tm.value


_APPLY = {
    "label": _op_label,
    "translate_by": _op_translate_by,
    "translate_backward_by": _op_translate_backward_by,
    "translate_to": _op_translate_to,
    "stride": _op_stride,
    "transpose": _op_transpose,
    "mark_bounds_implicit": _op_mark_bounds_implicit,
    "diagonal": _op_diagonal,
    "index": _index_op("default"),
    "oindex": _index_op("oindex"),
    "vindex": _index_op("vindex"),
}
