"""NumPy-style indexing (plain, ``.oindex``, ``.vindex``) turned into index transforms.

TensorStore's rules differ from NumPy's in a few ways that matter here: indices are absolute
coordinates in the domain (no wrap-around of negative values), slices must lie within the
explicit bounds (implicit ones may be exceeded), boolean arrays select positions counted from 0,
and integers never count as "advanced" indices when deciding where index-array dimensions go.

The result of parsing a key is a transform ``N`` from the new input space to the old one;
the caller composes ``t ∘ N``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import StatusError, invalid_argument, out_of_range
from .interval import INF_INDEX, MAX_FINITE_INDEX, MAX_RANK, closed_or_error, format_interval
from .output_map import OutputIndexMap, OutputIndexMethod

# Loaded on first indexing, after the package: these are complete by then.
from .compose import compose, explicitly_empty  # noqa: E402
from .domain import IndexDomain  # noqa: E402
from .transform import IndexTransform  # noqa: E402

__all__ = ["apply_numpy_key", "parse_key", "build_index_transform", "key_repr"]

_BAD_TERM = (
    "Only integers, slices (`:`), ellipsis (`...`), tensorstore.newaxis (`None`) and integer or boolean "
    "arrays are valid indices"
)


@dataclass(eq=False)
class Term:
    kind: str  # "int", "slice", "new", "ellipsis", "array", "bool"
    value: Any = None
    consumed: int = 0
    dims: list = field(default_factory=list)  # old dims consumed


def _index(v: Any) -> Optional[int]:
    """A slice bound: None or an integer."""
    if v is None:
        return None
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("slice indices must be integers or None or have an __index__ method") from None


def _is_vector(p: Any) -> bool:
    return isinstance(p, (tuple, list, np.ndarray))


def split_vector_slice(x: slice) -> Optional[list[slice]]:
    """A TensorStore vector slice (``slice((1, 2), (7, 8))``: sequences of bounds, one per
    dimension, scalars broadcast) as one scalar slice per dimension; None for a plain slice."""
    parts = (x.start, x.stop, x.step)
    if not any(_is_vector(p) for p in parts):
        return None
    first: Optional[tuple[str, list]] = None
    for name, p in zip(("start", "stop", "step"), parts):
        if _is_vector(p):
            values = list(p)
            if first is not None and len(values) != len(first[1]):
                raise IndexError(
                    f"{name}={_bracketed(values)} (rank {len(values)}) is incompatible with "
                    f"{first[0]}={_bracketed(first[1])} (rank {len(first[1])})"
                )
            first = (name, values)
    assert first is not None
    n = len(first[1])
    spread = [list(p) if _is_vector(p) else [p] * n for p in parts]
    return [slice(*(_index(spread[k][i]) for k in range(3))) for i in range(n)]


def _bracketed(values: Sequence[Any]) -> str:
    return "[" + ",".join(str(v) for v in values) + "]"


def expand_vector_slices(key: Any) -> Any:
    """`key` with each vector slice replaced by its per-dimension slices (a lone vector slice
    becomes a tuple of them), which is also how TensorStore prints such a key."""
    items = key if isinstance(key, tuple) else (key,)
    out: list = []
    changed = False
    for x in items:
        parts = split_vector_slice(x) if isinstance(x, slice) else None
        if parts is None:
            out.append(x)
        else:
            out.extend(parts)
            changed = True
    return tuple(out) if changed else key


def _slice_terms(x: slice) -> list[Term]:
    """One slice term, or one per dimension for a vector slice."""
    parts = split_vector_slice(x)
    if parts is None:
        return [Term("slice", (_index(x.start), _index(x.stop), _index(x.step)), 1)]
    return [Term("slice", (p.start, p.stop, p.step), 1) for p in parts]


def parse_key(key: Any, mode: str = "default") -> list[Term]:
    """Splits a NumPy-style key into typed terms (raising TensorStore's IndexErrors).

    Outside ``oindex`` mode the index arrays must broadcast together; that is checked here,
    before the key meets any domain, as TensorStore does.
    """
    items = key if isinstance(key, tuple) else (key,)
    terms: list[Term] = []
    for x in items:
        if x is None:
            terms.append(Term("new"))
        elif x is Ellipsis:
            terms.append(Term("ellipsis"))
        elif isinstance(x, slice):
            terms.extend(_slice_terms(x))
        elif isinstance(x, bool) or isinstance(x, np.bool_):
            terms.append(Term("bool", np.asarray(x, dtype=bool), 0))
        elif isinstance(x, (int, np.integer)):
            terms.append(Term("int", int(x), 1))
        elif isinstance(x, np.ndarray):
            terms.append(_array_term(x, "Arrays used as indices must be of integer (or boolean) type"))
        elif hasattr(x, "__index__"):
            terms.append(Term("int", operator.index(x), 1))
        elif isinstance(x, (list, tuple, range)) or hasattr(x, "__array__"):
            # Converted as NumPy would; a sequence that does not give an integer or boolean
            # array is not an index at all (TensorStore's wording differs from an ndarray's).
            arr = np.asarray(x)
            if arr.size == 0 and arr.dtype.kind == "f":
                arr = arr.astype(np.int64)
            terms.append(_array_term(arr, _BAD_TERM))
        else:
            raise IndexError(_BAD_TERM)
    if sum(1 for t in terms if t.kind == "ellipsis") > 1:
        raise IndexError("An index can only have a single ellipsis (`...`)")
    if mode != "oindex":
        try:
            _broadcast([_array_term_shape(t) for t in terms if t.kind in ("array", "bool")])
        except StatusError as e:
            raise IndexError(str(e)) from None
    return terms


def _array_term(arr: np.ndarray, wrong_type: str) -> Term:
    if arr.dtype == bool:
        return Term("bool", arr, arr.ndim)
    if arr.dtype.kind in "iu":
        # uint64 beyond int64 is refused by NumPy's safe cast (TypeError), as in TensorStore.
        return Term("array", arr.astype(np.int64, casting="safe"), 1)
    raise IndexError(wrong_type)


def check_rank(rank: int) -> None:
    """The rank an indexing operation produces must be one TensorStore supports."""
    if rank > MAX_RANK:
        raise invalid_argument(f"Rank {rank} is outside valid range [0, {MAX_RANK}]")


def _c_remainder(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def slice_interval(domain: "IndexDomain", j: int, start: Optional[int], stop: Optional[int],
                   step: Optional[int]) -> tuple:  # fmt: skip
    """New (lo, hi, il, iu) and the (offset, stride) mapping new indices to old ones.

    Follows TensorStore's strided-slice rules: a given start/stop makes the corresponding
    bound explicit; the result starts at ``start / step`` (truncated), so that a later bound
    propagation may still widen a bound left implicit.
    """
    lo, hi, il, iu = domain._lo[j], domain._hi[j], domain._il[j], domain._iu[j]
    stride = 1 if step is None else step
    c_lo = -INF_INDEX if il else lo
    c_hi = INF_INDEX if iu else hi
    if stride == 0:
        raise invalid_argument(f"Invalid stride {stride}")
    if start is None:
        start = lo if stride > 0 else hi
    else:
        if not -INF_INDEX <= start <= INF_INDEX:
            raise invalid_argument(f"Invalid start index {start}")
        il = False
    if stop is None:
        inclusive_stop = hi if stride > 0 else lo
    else:
        iu = False
        if abs(stop) > MAX_FINITE_INDEX:
            inclusive_stop = stop
        else:
            inclusive_stop = stop + (-1 if stride > 0 else 1)
    if abs(stride) != 1 and abs(start) >= INF_INDEX:
        raise invalid_argument(f"Slicing with non-unit stride of {stride} requires a finite start index")
    if stride > 0:
        a_lo, a_hi = start, inclusive_stop
    else:
        a_lo, a_hi = inclusive_stop, start
        il, iu = iu, il
    if not (-INF_INDEX <= a_lo < INF_INDEX and -INF_INDEX < a_hi <= INF_INDEX and a_hi >= a_lo - 1):
        closed_or_error(a_lo, a_hi)  # (`valid_closed` inline above: this runs on every slice)
    if a_hi >= a_lo and (a_lo < c_lo or a_hi > c_hi):
        raise out_of_range(
            f"Slice interval {format_interval(a_lo, a_hi, False, False)} is not contained within domain "
            f"{format_interval(c_lo, c_hi, False, False)}"
        )
    new_start = start if stride == 1 else _trunc_div(start, stride)
    if abs(inclusive_stop) == INF_INDEX:
        new_size = INF_INDEX + 1 - new_start
    else:
        new_size = -((-(a_hi - a_lo + 1)) // abs(stride))
    offset = start - new_start * stride
    return (new_start, new_start + new_size - 1, il, iu), (offset, stride)


def _broadcast(shapes: Sequence[tuple]) -> tuple:
    """Joint shape of index arrays, NumPy-style, reporting conflicts as TensorStore does."""
    joint: list[int] = []
    for shape in shapes:
        if len(joint) < len(shape):
            joint[:0] = [1] * (len(shape) - len(joint))
        for i, size in enumerate(shape):
            k = len(joint) - (len(shape) - i)
            if size != 1:
                if joint[k] != 1 and joint[k] != size:
                    raise invalid_argument(
                        f"Incompatible index array shapes: {{{', '.join(map(str, shape))}}} vs "
                        f"{{{', '.join(map(str, joint))}}}"
                    )
                joint[k] = size
    return tuple(joint)


def arrays_consecutive(terms: Sequence[Term]) -> bool:
    """Whether the index arrays of a key are not separated by a slice, ``None`` or ``...``."""
    seen_array = False
    broken = False
    for t in terms:
        if t.kind in ("array", "bool"):
            if broken:
                return False
            seen_array = True
        elif t.kind in ("slice", "new", "ellipsis") and seen_array:
            broken = True
    return True


def build_index_transform(domain: "IndexDomain", terms: list[Term], mode: str,
                          selection: Optional[Sequence[int]] = None,
                          dim_names: Optional[Sequence[int]] = None) -> tuple["IndexTransform", list[int]]:  # fmt: skip
    """The transform N (new -> old input space) for `terms` applied to `selection` of `domain`.

    `selection` (old dimension indices, in order) defaults to all dimensions, NumPy style.
    `dim_names` renumbers dimensions in error messages (when `domain` is an intermediate space).
    Returns N and the new dimensions the terms produced (for chaining dimension expressions).
    """
    rank = domain.rank
    full = selection is None
    if not full and any(t.kind == "bool" and t.value.ndim == 0 for t in terms):
        if mode == "oindex":
            raise IndexError("Zero-rank bool array incompatible with outer indexing of a dimension selection")
    sel = list(range(rank)) if full else list(selection)
    if mode != "oindex":
        # TensorStore checks that index arrays broadcast together before anything else.
        _broadcast([_array_term_shape(t) for t in terms if t.kind in ("array", "bool")])
    consumed = sum(t.consumed for t in terms)
    has_ellipsis = any(t.kind == "ellipsis" for t in terms)
    if consumed > len(sel) or (not full and not has_ellipsis and consumed != len(sel)):
        if full:
            raise invalid_argument(
                f"Indexing expression requires {consumed} dimensions, and cannot be applied to a domain of rank {rank}"
            )
        raise invalid_argument(f"Indexing expression requires {consumed} dimensions but selection has {len(sel)} dimensions")
    expanded: list[Term] = []
    fill = len(sel) - consumed
    for t in terms:
        if t.kind == "ellipsis":
            expanded.extend(Term("slice", (None, None, None), 1) for _ in range(fill))
        else:
            expanded.append(t)
    if not has_ellipsis:
        expanded.extend(Term("slice", (None, None, None), 1) for _ in range(fill))
    pos = 0
    for t in expanded:
        t.dims = sel[pos:pos + t.consumed]
        pos += t.consumed

    # Convert boolean arrays to index arrays (positions counted from 0, like NumPy's nonzero).
    arrays: list[tuple[Term, list[np.ndarray]]] = []
    for t in expanded:
        if t.kind == "array":
            arrays.append((t, [t.value]))
        elif t.kind == "bool":
            if t.value.ndim == 0:
                arrays.append((t, [np.zeros(int(bool(t.value)), dtype=np.int64)]))
            else:
                arrays.append((t, [a.astype(np.int64) for a in np.nonzero(t.value)]))

    # Location of each produced dimension: (old-dim location, term order, sub-index).
    location_of_term: dict[int, float] = {}
    pending_new: list[int] = []
    for idx, t in enumerate(expanded):
        if t.kind == "new":
            pending_new.append(idx)
            continue
        if t.dims:
            here = float(min(t.dims) if not full else t.dims[0])
            location_of_term[idx] = here
            for p in pending_new:
                location_of_term[p] = here
            pending_new = []
        elif pending_new is not None and t.kind == "bool":
            location_of_term[idx] = None  # type: ignore[assignment]
    end = float(rank)
    for p in pending_new:
        location_of_term[p] = end

    array_terms = [i for i, t in enumerate(expanded) if t.kind in ("array", "bool")]
    bcast_shape: tuple = ()
    group_loc: Optional[float] = None
    if mode in ("default", "vindex") and array_terms:
        bcast_shape = _broadcast([a.shape for _, lst in arrays for a in lst])
        if mode == "vindex":
            group_loc = -1.0
        else:
            adjacent = arrays_consecutive(terms)
            if not full and any(t.kind == "bool" and t.value.ndim == 0 for t in expanded):
                adjacent = False
            if adjacent:
                first_loc = location_of_term.get(array_terms[0])
                if first_loc is None:
                    # A 0-d boolean consumes nothing: use the next consumed dimension's spot.
                    later = [location_of_term[i] for i in range(array_terms[0], len(expanded))
                             if location_of_term.get(i) is not None]  # fmt: skip
                    first_loc = later[0] if later else end
                group_loc = first_loc
            else:
                group_loc = -1.0

    # Produce the new dimensions.
    items: list[tuple] = []  # (location, order, sub, kind, payload)
    for d in range(rank):
        if d not in sel:
            items.append((float(d), 0, 0, "keep", d))
    new_selection_order: list[tuple] = []
    group_done = False
    for idx, t in enumerate(expanded):
        loc = location_of_term.get(idx)
        if t.kind == "slice":
            items.append((loc, 1, idx, "slice", idx))
            new_selection_order.append(("slice", idx))
        elif t.kind == "new":
            items.append((loc, 1, idx, "new", idx))
            new_selection_order.append(("new", idx))
        elif t.kind in ("array", "bool"):
            if mode == "oindex":
                shape = arrays[[a[0] for a in arrays].index(t)][1][0].shape
                if loc is None:
                    later = [location_of_term[i] for i in range(idx, len(expanded)) if location_of_term.get(i) is not None]
                    loc = later[0] if later else end
                for k in range(len(shape)):
                    items.append((loc, 1, idx + k / 100.0, "odim", (idx, k)))
                    new_selection_order.append(("odim", (idx, k)))
            elif not group_done:
                group_done = True
                for k in range(len(bcast_shape)):
                    items.append((group_loc, 1, idx + k / 100.0, "gdim", k))
                    new_selection_order.append(("gdim", k))
    items.sort(key=lambda it: (it[0], it[1], it[2]))
    new_rank = len(items)
    position = {(it[3], it[4]): n for n, it in enumerate(items)}

    # Slices are evaluated in term order so that the first bad one is the one reported.
    slice_maps: dict[int, tuple] = {}
    slice_bounds: dict[int, tuple] = {}
    for idx, t in enumerate(expanded):
        if t.kind == "slice":
            j = t.dims[0]
            try:
                slice_bounds[idx], slice_maps[idx] = slice_interval(domain, j, *t.value)
            except StatusError as e:
                name = j if dim_names is None else dim_names[j]
                raise e.with_prefix(f"Computing interval slice for dimension {name}") from None
    lo, hi, il, iu, labels = [], [], [], [], []
    for it in items:
        kind, payload = it[3], it[4]
        if kind == "keep":
            d = payload
            lo.append(domain._lo[d]); hi.append(domain._hi[d]); il.append(domain._il[d]); iu.append(domain._iu[d])  # noqa: E702
            labels.append(domain._labels[d])
        elif kind == "slice":
            t = expanded[payload]
            j = t.dims[0]
            bounds = slice_bounds[payload]
            lo.append(bounds[0]); hi.append(bounds[1]); il.append(bounds[2]); iu.append(bounds[3])  # noqa: E702
            labels.append(domain._labels[j])
        elif kind == "new":
            lo.append(0); hi.append(0); il.append(True); iu.append(True); labels.append("")  # noqa: E702
        elif kind == "gdim":
            lo.append(0); hi.append(bcast_shape[payload] - 1); il.append(False); iu.append(False); labels.append("")  # noqa: E702
        else:
            tidx, k = payload
            shape = arrays[[a[0] for a in arrays].index(expanded[tidx])][1][0].shape
            lo.append(0); hi.append(shape[k] - 1); il.append(False); iu.append(False); labels.append("")  # noqa: E702

    outputs: list[OutputIndexMap] = [None] * rank  # type: ignore[list-item]
    for d in range(rank):
        if d not in sel:
            outputs[d] = OutputIndexMap.single(position[("keep", d)])
    for idx, t in enumerate(expanded):
        if t.kind == "int":
            outputs[t.dims[0]] = OutputIndexMap.constant(t.value)
        elif t.kind == "slice":
            offset, stride = slice_maps[idx]
            outputs[t.dims[0]] = OutputIndexMap.single(position[("slice", idx)], offset, stride)
    for t, lst in arrays:
        idx = expanded.index(t)
        if mode == "oindex":
            dims_new = [position[("odim", (idx, k))] for k in range(lst[0].ndim)]
        else:
            dims_new = [position[("gdim", k)] for k in range(len(bcast_shape))]
        for j, a in zip(t.dims, lst):
            if mode != "oindex":
                a = np.broadcast_to(a, bcast_shape)
                # Keep size-1 extents where the array itself was broadcast (stride 0).
                a = _compact(a)
            shape = [1] * new_rank
            for k, nd in enumerate(dims_new):
                shape[nd] = a.shape[k]
            arr = np.ascontiguousarray(a).reshape(shape)
            outputs[j] = OutputIndexMap.from_array(arr, 0, 1)
    check_rank(len(lo))
    new_domain = IndexDomain._make(lo, hi, il, iu, labels)
    if explicitly_empty(new_domain):
        # As when TensorStore builds any transform: index arrays over an empty domain become 0.
        outputs = [OutputIndexMap.constant(0) if m._method == OutputIndexMethod.array else m for m in outputs]
    new_sel = [position[key] for key in new_selection_order]
    return IndexTransform._make(new_domain, outputs), new_sel


def _array_term_shape(t: Term) -> tuple:
    if t.kind == "array":
        return t.value.shape
    if t.value.ndim == 0:
        return (int(bool(t.value)),)
    return (int(np.count_nonzero(t.value)),)


def _compact(a: np.ndarray) -> np.ndarray:
    """A broadcast view reduced to extent 1 along its zero-stride dimensions."""
    index = tuple(slice(0, 1) if (s == 0 and n > 1) else slice(None) for s, n in zip(a.strides, a.shape))
    return a[index]


def apply_numpy_key(t: "IndexTransform", key: Any, mode: str) -> "IndexTransform":
    """``t[key]`` / ``t.oindex[key]`` / ``t.vindex[key]`` (errors as IndexError)."""
    n = _basic_key_transform(t._domain, key) if mode == "default" else _array_key_transform(t._domain, key, mode)
    if n is None:
        terms = parse_key(key, mode)
        try:
            n, _ = build_index_transform(t._domain, terms, mode)
        except StatusError as e:
            raise IndexError(str(e)) from None
    return compose(t, n, python_errors=True)



def _plain_slice_interval(domain: Any, j: int, x: slice) -> tuple | None:
    """`slice_interval` of a slice whose members are plain ints or None; None where the
    general path must decide (other members, or an error it reports in its own order)."""
    start, stop, step = x.start, x.stop, x.step
    if not (type(start) in _PLAIN_BOUND and type(stop) in _PLAIN_BOUND and type(step) in _PLAIN_BOUND):
        return None
    try:
        return slice_interval(domain, j, start, stop, step)
    except StatusError:
        return None


class _NewDims:
    """The input dimensions a fast key path builds, one after another (bounds, implicitness,
    labels), and the output maps onto them."""

    __slots__ = ("lo", "hi", "il", "iu", "labels")

    def __init__(self) -> None:
        self.lo: list = []
        self.hi: list = []
        self.il: list = []
        self.iu: list = []
        self.labels: list = []

    def add(self, lo: int, hi: int, il: bool, iu: bool, label: str) -> int:
        """Appends a dimension; its index."""
        self.lo.append(lo); self.hi.append(hi); self.il.append(il); self.iu.append(iu)  # noqa: E702
        self.labels.append(label)
        return len(self.lo) - 1

    def sliced(self, domain: Any, j: int, x: slice) -> "OutputIndexMap | None":
        """The map of `domain`'s dimension `j` through the plain slice `x`, onto a new
        dimension; None where the general path must decide."""
        interval = _plain_slice_interval(domain, j, x)
        if interval is None:
            return None
        (lo, hi, il, iu), (offset, stride) = interval
        return OutputIndexMap.single(self.add(lo, hi, il, iu, domain._labels[j]), offset, stride)

    def kept(self, domain: Any, j: int) -> OutputIndexMap:
        """The map of `domain`'s dimension `j` onto a new dimension just like it."""
        return OutputIndexMap.single(
            self.add(domain._lo[j], domain._hi[j], domain._il[j], domain._iu[j], domain._labels[j]))

    def domain(self) -> "IndexDomain":
        return IndexDomain._make(self.lo, self.hi, self.il, self.iu, self.labels)


def _basic_key_transform(domain: "IndexDomain", key: Any) -> "IndexTransform | None":
    """`build_index_transform` for the common key of integers and scalar slices only (the
    small-read path), in one pass; None for any other key, which takes the general path."""
    items = key if type(key) is tuple else (key,)
    rank = domain.rank
    if len(items) > rank:
        return None
    dims = _NewDims()
    outputs: list = []
    for j, x in enumerate(items):
        kind = type(x)
        if kind is slice:
            m = dims.sliced(domain, j, x)
            if m is None:
                return None
            outputs.append(m)
        elif kind is int:
            outputs.append(OutputIndexMap.constant(x))
        else:
            return None
    outputs.extend(dims.kept(domain, j) for j in range(len(items), rank))
    return IndexTransform._make(dims.domain(), outputs)


_PLAIN_BOUND = (int, type(None))


def _array_key_transform(domain: "IndexDomain", key: Any, mode: str) -> "IndexTransform | None":
    """`build_index_transform` for the common ``oindex``/``vindex`` key of integers, scalar
    slices and non-empty 1-d integer arrays (at least one), in one pass; None for any other
    key, which takes the general path (as do arrays that do not broadcast together)."""
    items = key if type(key) is tuple else (key,)
    rank = domain.rank
    if len(items) > rank:
        return None
    arrays: dict[int, np.ndarray] = {}
    for j, x in enumerate(items):
        kind = type(x)
        if kind is int or kind is slice:
            continue
        if kind is list:
            if not x or any(type(v) is not int for v in x):
                return None
            x = np.asarray(x)
        elif kind is not np.ndarray:
            return None
        if x.ndim != 1 or x.size == 0 or x.dtype.kind not in "iu" or (x.dtype.kind == "u" and x.itemsize == 8):
            return None
        arrays[j] = x.astype(np.int64)  # (a copy: the transform must not see later changes)
    if not arrays:
        return None
    vectorized = mode == "vindex"
    dims = _NewDims()
    if vectorized:  # the arrays' one joint dimension comes first
        length = max(a.shape[0] for a in arrays.values())
        if any(a.shape[0] not in (1, length) for a in arrays.values()):
            return None
        dims.add(0, length - 1, False, False, "")
    maps: list = []  # per output: an OutputIndexMap, or (array, its new dimension)
    for j, x in enumerate(items):
        kind = type(x)
        if kind is slice:
            m = dims.sliced(domain, j, x)
            if m is None:
                return None
            maps.append(m)
        elif kind is int:
            maps.append(OutputIndexMap.constant(x))
        elif vectorized:
            maps.append((arrays[j], 0))
        else:
            maps.append((arrays[j], dims.add(0, arrays[j].shape[0] - 1, False, False, "")))
    maps.extend(dims.kept(domain, j) for j in range(len(items), rank))
    new_rank = len(dims.lo)
    outputs = []
    for entry in maps:
        if type(entry) is not tuple:
            outputs.append(entry)
            continue
        a, dim = entry
        shape = [1] * new_rank
        shape[dim] = a.shape[0]
        outputs.append(OutputIndexMap.from_array(a.reshape(shape), 0, 1))
    new_domain = dims.domain()
    if explicitly_empty(new_domain):
        return None  # (the general path makes the index arrays constants)
    return IndexTransform._make(new_domain, outputs)


def key_repr(key: Any) -> str:
    """A key as TensorStore's DimExpression repr prints it (``1:3,...,array([1, 2])``)."""
    items = key if isinstance(key, tuple) else (key,)
    parts = []
    for x in items:
        if x is None:
            parts.append("None")
        elif x is Ellipsis:
            parts.append("...")
        elif isinstance(x, slice):
            s = ("" if x.start is None else str(x.start)) + ":" + ("" if x.stop is None else str(x.stop))
            if x.step is not None:
                s += f":{x.step}"
            parts.append(s)
        elif isinstance(x, (list, np.ndarray)):
            parts.append(repr(np.asarray(x)))
        else:
            parts.append(str(x))
    text = ",".join(parts)
    # TensorStore wraps a lone array or ellipsis key in a 1-tuple, which shows as a trailing comma.
    lone_wrapped = not isinstance(key, tuple) and (key is Ellipsis or isinstance(key, (list, np.ndarray)))
    if (isinstance(key, tuple) and len(key) == 1) or lone_wrapped:
        text += ","
    return text
