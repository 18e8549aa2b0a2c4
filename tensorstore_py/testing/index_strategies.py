"""Strategies for the index space: dtypes, `IndexDomain`s, index expressions and transforms.

Every expression these strategies draw is valid for the domain it was drawn for: applying it
to a transform, domain or store of that domain never raises, and index arrays stay inside
the bounds, so reading through the result never fails for lack of data.  Expressions are
values with a readable repr (``[1:3, ::2]``, ``[ts.d['x'].translate_by[2]]``) and an
`apply` method that takes the library module, so one drawn expression can index objects of
`tensorstore_py` and of `tensorstore` alike.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

import tensorstore_py as ts

__all__ = [
    "NUMERIC_DTYPES", "dtypes", "index_domains", "IndexExpression", "IndexChain", "index_expressions",
    "index_expression_chains", "index_transforms",
]  # fmt: skip

#: Dtypes every chunked driver of zarr v2 and zarr3 stores, in shrinking order (simplest first).
NUMERIC_DTYPES = (
    "uint8", "int8", "bool", "uint16", "int16", "uint32", "int32", "uint64", "int64",
    "float32", "float64", "float16", "complex64", "complex128",
)  # fmt: skip

#: Labels drawn for dimensions (the empty label first: it is what shrinking aims at).
LABELS = ("x", "y", "z", "c", "t")

_INF = ts.inf


def dtypes(allowed: Sequence[str | ts.dtype] | None = None) -> st.SearchStrategy[ts.dtype]:
    """A `ts.dtype` from `allowed` (default `NUMERIC_DTYPES`); shrinks towards the first."""
    names = [a if isinstance(a, str) else a.name for a in (allowed or NUMERIC_DTYPES)]
    if not names:
        raise ValueError("dtypes(): no dtype allowed")
    return st.sampled_from([ts.dtype(n) for n in names])


@st.composite
def index_domains(
    draw: Any,
    *,
    min_rank: int = 0,
    max_rank: int = 3,
    min_extent: int = 0,
    max_extent: int = 6,
    max_size: int | None = None,
    origin: tuple[int, int] = (-5, 5),
    labels: bool = True,
    implicit: bool = True,
    infinite: bool = False,
) -> ts.IndexDomain:
    """An `IndexDomain` of rank in [`min_rank`, `max_rank`].

    Finite dimensions have an origin within `origin` and an extent within [`min_extent`,
    `max_extent`], their product (over finite dimensions) at most `max_size`.  With `labels`,
    dimensions may carry distinct labels; with `implicit`, bounds may be implicit; with
    `infinite`, bounds may be -inf / +inf.  Shrinks towards rank `min_rank`, origin 0, no
    labels, explicit finite bounds.
    """
    rank = draw(st.integers(min_rank, max_rank))
    lo: list[int] = []
    hi: list[int] = []
    names: list[str] = []
    il: list[bool] = []
    iu: list[bool] = []
    size = 1
    for _ in range(rank):
        a = draw(st.integers(origin[0], origin[1]))
        cap = max_extent if max_size is None else min(max_extent, max_size // max(size, 1))
        n = draw(st.integers(min(min_extent, cap), cap))
        size *= max(n, 1)
        low, high = a, a + n - 1
        if infinite and draw(st.booleans()):
            low = -_INF
        if infinite and draw(st.booleans()):
            high = _INF
        if labels:
            label = draw(st.sampled_from(("",) + LABELS))
            names.append("" if label in names else label)
        il.append(implicit and draw(st.booleans()))
        iu.append(implicit and draw(st.booleans()))
        lo.append(low)
        hi.append(high)
    return ts.IndexDomain(
        inclusive_min=lo, inclusive_max=hi, implicit_lower_bounds=il, implicit_upper_bounds=iu,
        labels=names if labels else None,
    )


# ---------------------------------------------------------------------------------------------
# Index expressions.


def _term_repr(term: Any) -> str:
    if term is None:
        return "None"
    if term is Ellipsis:
        return "..."
    if isinstance(term, slice):
        text = ("" if term.start is None else str(term.start)) + ":" + ("" if term.stop is None else str(term.stop))
        return text + ("" if term.step is None else f":{term.step}")
    if isinstance(term, np.ndarray):
        return repr(term.tolist())
    return repr(term)


def _key_repr(key: tuple) -> str:
    if not key:
        return "[()]"
    return "[" + ", ".join(_term_repr(t) for t in key) + "]"


class IndexExpression:
    """One indexing step: NumPy-style (``mode`` "", "oindex", "vindex" with ``key``), or a
    dimension expression ``ts.d[selection].op[arg]`` (``op`` set).

    ``apply(x, module)`` indexes `x` (a transform, domain, Spec or TensorStore of `module`,
    default `tensorstore_py`); the repr is the Python source of the step.
    """

    __slots__ = ("mode", "key", "selection", "op", "arg")

    def __init__(self, mode: str = "", key: tuple = (), selection: tuple | None = None, op: str = "",
                 arg: Any = None):  # fmt: skip
        self.mode, self.key, self.selection, self.op, self.arg = mode, key, selection, op, arg

    def dim_expression(self, module: ModuleType = ts) -> Any:
        sel = self.selection if len(self.selection) != 1 else self.selection[0]
        e = module.d[sel]
        if self.op == "diagonal":
            return e.diagonal
        if self.op == "index":
            return e[self.arg]
        return getattr(e, self.op)[self.arg]

    def apply(self, target: Any, module: ModuleType = ts) -> Any:
        if self.selection is not None:
            return target[self.dim_expression(module)]
        if self.mode:
            return getattr(target, self.mode)[self.key]
        return target[self.key]

    def __repr__(self) -> str:
        if self.selection is None:
            return ("." + self.mode if self.mode else "") + _key_repr(self.key)
        sel = ", ".join(_term_repr(s) for s in self.selection)
        if self.op == "diagonal":
            tail = ".diagonal"
        elif self.op == "index":
            tail = _key_repr(self.arg)
        else:
            arg = self.arg if isinstance(self.arg, tuple) else (self.arg,)
            tail = "." + self.op + ("[" + ", ".join(_term_repr(a) for a in arg) + "]")
        return f"[ts.d[{sel}]{tail}]"


class IndexChain:
    """Index expressions applied one after the other; the repr is the chain's source."""

    __slots__ = ("steps",)

    def __init__(self, steps: tuple[IndexExpression, ...] = ()):
        self.steps = tuple(steps)

    def apply(self, target: Any, module: ModuleType = ts) -> Any:
        for step in self.steps:
            target = step.apply(target, module)
        return target

    def __repr__(self) -> str:
        return "".join(map(repr, self.steps)) or "(no indexing)"


def _is_inf_lo(x: int) -> bool:
    return x <= -_INF


def _is_inf_hi(x: int) -> bool:
    return x - 1 >= _INF


def _window(lo: int, hi: int) -> tuple[int, int]:
    """A finite [a, b) of indices to draw from a dimension [lo, hi)."""
    if _is_inf_lo(lo) and _is_inf_hi(hi):
        return -4, 4
    if _is_inf_lo(lo):
        return hi - 8, hi
    if _is_inf_hi(hi):
        return lo, lo + 8
    return lo, hi


def _draw_slice(draw: Any, lo: int, hi: int) -> slice:
    finite = not (_is_inf_lo(lo) or _is_inf_hi(hi))
    a, b = _window(lo, hi)
    steps = [None, 1, 2, 3] + ([-1, -2] if finite and b > a else [])
    step = draw(st.sampled_from(steps))
    if step is not None and step < 0:
        start = draw(st.one_of(st.none(), st.integers(a, b - 1)))
        top = b - 1 if start is None else start
        stop = draw(st.one_of(st.none(), st.integers(a, top)))
        return slice(start, stop, step)
    # A strided slice needs a finite start.
    start_none = st.none() if step in (None, 1) or not _is_inf_lo(lo) else st.nothing()
    start = draw(st.one_of(start_none, st.integers(a, b)))
    stop = draw(st.one_of(st.none(), st.integers(a if start is None else start, b)))
    return slice(start, stop, step)


def _draw_terms(
    draw: Any, lo: Sequence[int], hi: Sequence[int], *, mode: str, allow_new: int, full: bool, arrays: bool
) -> list:
    """Terms for dimensions [lo, hi) in order: int, slice, index array, bool array, and (when
    not `full`) None up to `allow_new` times.  `mode` sets the broadcasting rules of arrays."""
    terms: list = []
    array_len = draw(st.integers(1, 3))
    used_bool = used_int_array = False
    new_dims = 0
    for l, h in zip(lo, hi):
        if not full and new_dims < allow_new and draw(st.integers(0, 5)) == 0:
            terms.append(None)
            new_dims += 1
        a, b = _window(l, h)
        kinds = ["slice"]
        if b > a:
            kinds.append("int")
            if arrays and not (mode != "oindex" and used_bool):
                kinds.append("array")
            # Boolean arrays address indices 0, 1, ... whatever the origin.
            if arrays and 0 <= l and h <= 16 and (mode == "oindex" or not (used_bool or used_int_array)):
                kinds.append("bool")
        kind = draw(st.sampled_from(kinds))
        if kind == "slice":
            terms.append(_draw_slice(draw, l, h))
        elif kind == "int":
            terms.append(draw(st.integers(a, b - 1)))
        elif kind == "array":
            n = array_len if mode != "oindex" else draw(st.integers(1, 3))
            terms.append(np.array(draw(st.lists(st.integers(a, b - 1), min_size=n, max_size=n)), dtype=np.int64))
            used_int_array = True
        else:
            flags = [False] * l + draw(st.lists(st.booleans(), min_size=h - l, max_size=h - l))
            terms.append(np.array(flags, dtype=bool))
            used_bool = True
    return terms


def _domain_parts(domain: ts.IndexDomain) -> tuple[list[int], list[int], list[str]]:
    return list(domain.inclusive_min), list(domain.exclusive_max), list(domain.labels)


@st.composite
def _numpy_expressions(draw: Any, domain: ts.IndexDomain, max_rank: int, arrays: bool,
                       modes: Sequence[str]) -> IndexExpression:  # fmt: skip
    lo, hi, _ = _domain_parts(domain)
    rank = len(lo)
    mode = draw(st.sampled_from(list(modes))) if arrays else ""
    n = draw(st.integers(0, rank))
    ellipsis = n < rank and draw(st.booleans())
    if ellipsis:
        # Terms before and after the ellipsis address the first and the last dimensions.
        before = draw(st.integers(0, n))
        dims = list(range(before)) + list(range(rank - (n - before), rank))
    else:
        before = n
        dims = list(range(n))
    terms = _draw_terms(
        draw, [lo[d] for d in dims], [hi[d] for d in dims], mode=mode,
        allow_new=max(0, max_rank - rank) if mode == "" else 0, full=mode != "", arrays=arrays,
    )
    if ellipsis:
        # (_draw_terms may have put None terms in; count real terms to find the split.)
        seen = 0
        split = 0
        for i, t in enumerate(terms):
            if seen == before:
                split = i
                break
            if t is not None:
                seen += 1
        else:
            split = len(terms)
        terms.insert(split, Ellipsis)
    return IndexExpression(mode=mode, key=tuple(terms))


def _array_dims(target: ts.IndexDomain | ts.IndexTransform) -> set[int]:
    """Input dimensions an index array map of `target` depends on (they cannot become implicit)."""
    if isinstance(target, ts.IndexDomain):
        return set()
    out = set()
    for m in target.output:
        if m.method == ts.OutputIndexMethod.array:
            arr = np.asarray(m.index_array)
            out |= {d for d in range(arr.ndim) if arr.shape[d] != 1}
    return out


@st.composite
def _dim_expressions(draw: Any, target: ts.IndexDomain | ts.IndexTransform, arrays: bool,
                     implicit: bool) -> IndexExpression:  # fmt: skip
    domain = target if isinstance(target, ts.IndexDomain) else target.domain
    lo, hi, labels = _domain_parts(domain)
    rank = len(lo)
    ops = ["translate_by", "translate_to", "translate_backward_by", "stride", "transpose", "label", "diagonal",
           "mark_bounds_implicit", "index"] + (["oindex", "vindex"] if arrays else [])  # fmt: skip
    op = draw(st.sampled_from(ops))
    candidates = list(range(rank))
    if op == "stride":
        candidates = [d for d in candidates if not (_is_inf_lo(lo[d]) or _is_inf_hi(hi[d]))]
    elif op == "translate_to":
        candidates = [d for d in candidates if not _is_inf_lo(lo[d])]
    elif op == "mark_bounds_implicit":
        candidates = [d for d in candidates if d not in _array_dims(target)]
    if not candidates:
        op, candidates = "translate_by", list(range(rank))
    dims = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates), unique=True))
    k = len(dims)
    selection = tuple(
        labels[d] if labels[d] and draw(st.booleans()) else (d - rank if draw(st.integers(0, 3)) == 3 else d)
        for d in dims
    )
    if op in ("translate_by", "translate_backward_by", "translate_to"):
        if k > 1 and draw(st.booleans()):
            arg: Any = tuple(draw(st.integers(-5, 5)) for _ in dims)
        else:
            arg = draw(st.integers(-5, 5))
    elif op == "stride":
        arg = draw(st.sampled_from([2, 3, -1, -2]))
    elif op == "transpose":
        arg = tuple(draw(st.permutations(range(rank)))[:k])
    elif op == "label":
        others = {labels[d] for d in range(rank) if d not in dims}
        free = [x for x in LABELS + ("u", "v", "w") if x not in others]
        arg = tuple(draw(st.permutations(free))[:k])
    elif op == "mark_bounds_implicit":
        arg = draw(st.booleans()) if implicit else False
    elif op == "diagonal":
        arg = None
    else:
        mode = "" if op == "index" else op
        arg = tuple(_draw_terms(draw, [lo[d] for d in dims], [hi[d] for d in dims], mode=mode, allow_new=0,
                                full=True, arrays=arrays))  # fmt: skip
    return IndexExpression(selection=selection, op=op, arg=arg)


def index_expressions(
    target: ts.IndexDomain | ts.IndexTransform, *, max_rank: int = 4, arrays: bool = True, dim_expressions: bool = True,
    modes: Sequence[str] = ("", "oindex", "vindex"), implicit: bool = True,
) -> st.SearchStrategy[IndexExpression]:
    """An `IndexExpression` valid for `target` (a domain, or a transform such as a store's
    ``store.transform``, whose index-array maps rule some operations out): NumPy-style terms (int, slice with any step,
    index and boolean arrays, ``None``, ``...``; plain, ``.oindex`` or ``.vindex``) or a
    ``ts.d`` dimension expression (translate, stride, transpose, label, diagonal,
    mark_bounds_implicit, indexing).  Indices stay inside the domain's bounds (implicit ones
    too); the result has rank at most `max_rank` (``None`` terms add dimensions).  `modes`
    limits NumPy-style keys to plain (""), ``.oindex`` or ``.vindex`` indexing; without
    `arrays` they are plain and hold no index arrays.  Without `implicit`, no bound is
    marked implicit: a store reads a view's implicit bounds as its own current bounds, so
    views of stores compared with `model.read_view` should pass ``implicit=False``."""
    domain = target if isinstance(target, ts.IndexDomain) else target.domain
    strategies = [_numpy_expressions(domain, max_rank, arrays, modes)]
    if dim_expressions and domain.rank:
        strategies.append(_dim_expressions(target, arrays, implicit))
    return st.one_of(strategies)


@st.composite
def index_expression_chains(
    draw: Any, domain: ts.IndexDomain, *, max_length: int = 3, max_rank: int = 4, arrays: bool = True,
    dim_expressions: bool = True, implicit: bool = True,
) -> IndexChain:
    """Up to `max_length` index expressions, each valid for the domain the previous ones left."""
    current = ts.IndexTransform(domain=domain)
    steps = []
    for _ in range(draw(st.integers(0, max_length))):
        step = draw(index_expressions(current, max_rank=max_rank, arrays=arrays, dim_expressions=dim_expressions,
                                      implicit=implicit))  # fmt: skip
        current = step.apply(current)
        steps.append(step)
    return IndexChain(tuple(steps))


@st.composite
def index_transforms(
    draw: Any, domains: st.SearchStrategy[ts.IndexDomain] | None = None, *, max_length: int = 3,
    max_rank: int = 4, arrays: bool = True,
) -> ts.IndexTransform:
    """An `IndexTransform`: the identity over a drawn domain, indexed by a drawn chain (so its
    output maps are constants, strided single-dimension maps and index arrays)."""
    domain = draw(domains if domains is not None else index_domains())
    chain = draw(index_expression_chains(domain, max_length=max_length, max_rank=max_rank, arrays=arrays))
    return chain.apply(ts.IndexTransform(domain=domain))
