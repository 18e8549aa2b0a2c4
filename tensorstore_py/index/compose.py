"""Transform algebra: bound propagation and composition (``t[x]``), as TensorStore does them.

Every indexing operation is expressed as a transform `x` from a new input space to the old
one, then composed: ``result = t ∘ x``.  Before composing, `x` is checked against `t`'s
domain (explicit bounds only) and its implicit input bounds are tightened: that is
`propagate_bounds`, which the chunked engine also calls to resolve a transform against an
array's current domain.
"""

from __future__ import annotations

import contextvars

import numpy as np

from ..errors import StatusError, invalid_argument, out_of_range
from .interval import INF_INDEX, INF_SIZE, format_interval, format_plain_interval, interval_size
from .output_map import OutputIndexMap, OutputIndexMethod

# compose is loaded from the end of transform.py, once these are defined.
from .domain import IndexDomain  # noqa: E402
from .transform import IndexTransform, identity_transform, status_payload  # noqa: E402

__all__ = ["compose", "propagate_bounds", "slice_by_domain", "compose_with_domain", "finish_composed"]

#: Set while an expression is applied for its domain only (``domain[expr]``): output maps are
#: discarded then, so TensorStore does not check index array values.
domain_only = contextvars.ContextVar("domain_only", default=False)

CONSTANT = OutputIndexMethod.constant
SINGLE = OutputIndexMethod.single_input_dimension
ARRAY = OutputIndexMethod.array


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def inverse_image(lo: int, hi: int, il: bool, iu: bool, offset: int, stride: int) -> tuple:
    """{x : offset + stride * x in [lo, hi]} with the matching implicit flags."""
    if hi < lo:
        # An empty interval maps to an empty one positioned where its lower bound lands.
        v = _ceil_div(lo - offset, stride)
        return (v, v - 1, il, iu) if stride > 0 else (v, v - 1, iu, il)
    if stride > 0:
        new_lo = -INF_INDEX if lo == -INF_INDEX else _ceil_div(lo - offset, stride)
        new_hi = INF_INDEX if hi == INF_INDEX else (hi - offset) // stride
    else:
        # A negative stride reverses the interval: the old upper bound becomes the new lower.
        new_lo = -INF_INDEX if hi == INF_INDEX else _ceil_div(hi - offset, stride)
        new_hi = INF_INDEX if lo == -INF_INDEX else (lo - offset) // stride
        il, iu = iu, il
    new_lo = max(new_lo, -INF_INDEX)
    new_hi = min(new_hi, INF_INDEX)
    return new_lo, max(new_hi, new_lo - 1), il, iu


def explicitly_empty(domain: "IndexDomain") -> bool:
    """Whether some dimension is empty with both bounds explicit (implicit ones may still grow)."""
    return any(h < l and not a and not b for l, h, a, b in zip(domain._lo, domain._hi, domain._il, domain._iu))


def _effective(domain: "IndexDomain", j: int) -> tuple[int, int]:
    # Implicit bounds do not constrain: treat them as infinite.
    lo = -INF_INDEX if domain._il[j] else domain._lo[j]
    hi = INF_INDEX if domain._iu[j] else domain._hi[j]
    return lo, hi


def _intersect_preferring_explicit(a: tuple, b: tuple) -> tuple:
    """Per bound: an explicit bound beats an implicit one; otherwise the tighter one wins."""
    if a[2] == b[2]:
        lo = max(a[0], b[0])
    else:
        lo = b[0] if a[2] else a[0]
    if a[3] == b[3]:
        hi = min(a[1], b[1])
    else:
        hi = b[1] if a[3] else a[1]
    return lo, max(hi, lo - 1), a[2] and b[2], a[3] and b[3]


def _with_size(text: str, lo: int, hi: int) -> str:
    # TensorStore leaves the size out for an unbounded interval.
    size = interval_size(lo, hi)
    return text if size == INF_SIZE else f"{text}, with size={size}"


def propagate_bounds(transform: "IndexTransform", domain: "IndexDomain", check_arrays: bool = True) -> "IndexTransform":
    """`transform` resolved against `domain` (the space its outputs index into).

    Implicit input bounds are replaced by the bounds `domain` implies through single-input
    maps (a dimension read by several maps gets their intersection); explicit input bounds
    and constant outputs outside `domain`'s explicit bounds raise OUT_OF_RANGE.  Index array
    maps get their ``index_range`` narrowed to what `domain` allows and, with `check_arrays`
    (what a read or write needs), their values are checked against it too.
    """

    if transform.output_rank != domain.rank:
        raise invalid_argument(
            f"Cannot resolve rank {transform.input_rank} -> {transform.output_rank} transform against "
            f"domain of rank {domain.rank}"
        )
    a = transform._domain
    if _within_explicitly(transform, domain):
        return transform  # what the general pass below would rebuild, unchanged
    # Nothing is accessed through a domain that is empty for sure: checks are skipped then.
    empty = explicitly_empty(a)
    implied: dict[int, tuple] = {}
    try:
        for j, m in enumerate(transform._outputs):
            if m._method == ARRAY:
                continue
            if m._method == CONSTANT or m._stride == 0:
                elo, ehi = _effective(domain, j)
                if not empty and not elo <= m._offset <= ehi:
                    raise out_of_range(
                        f"Checking bounds of constant output index map for dimension {j}: Index {m._offset} "
                        f"is outside valid range {format_plain_interval(elo, ehi)}"
                    )
                continue
            p = inverse_image(domain._lo[j], domain._hi[j], domain._il[j], domain._iu[j], m._offset, m._stride)
            k = m._dim
            implied[k] = _intersect_preferring_explicit(p, implied.get(k, (-INF_INDEX, INF_INDEX, True, True)))
        lo, hi, il, iu = list(a._lo), list(a._hi), list(a._il), list(a._iu)
        for k in range(a.rank):
            if k not in implied:
                continue
            qlo, qhi, qil, qiu = implied[k]
            new_lo = qlo if a._il[k] else a._lo[k]
            new_hi = max(new_lo - 1, qhi if a._iu[k] else a._hi[k])
            # Implicit implied bounds do not constrain.
            elo = -INF_INDEX if qil else qlo
            ehi = INF_INDEX if qiu else qhi
            if not empty and new_hi >= new_lo and (new_lo < elo or new_hi > ehi):
                implied_text = _with_size(f"Propagated bounds {format_interval(qlo, qhi, qil, qiu)}", qlo, qhi)
                sep = ", " if interval_size(qlo, qhi) != INF_SIZE else ""
                raise out_of_range(
                    f"{implied_text}{sep}for dimension {k} are incompatible with existing bounds "
                    + _with_size(format_plain_interval(new_lo, new_hi), new_lo, new_hi) + "."
                )
            lo[k], hi[k] = new_lo, new_hi
            il[k], iu[k] = a._il[k] and qil, a._iu[k] and qiu
        new_domain = IndexDomain._make(lo, hi, il, iu, a._labels)
        outputs = []
        new_empty = None
        for j, m in enumerate(transform._outputs):
            if m._method != ARRAY:
                outputs.append(m)
                continue
            if new_empty is None:
                new_empty = explicitly_empty(new_domain)
            if new_empty:
                outputs.append(OutputIndexMap.constant(0))
                continue
            elo, ehi = _effective(domain, j)
            qlo, qhi, _, _ = inverse_image(elo, ehi, False, False, m._offset, m._stride)
            rlo, rhi = max(m._lo, qlo), min(m._hi, qhi)
            rhi = max(rhi, rlo - 1)
            array = m._array
            # (two reductions find whether any value is out; the first one is looked for then)
            if check_arrays and not empty and array.size and (array.min() < rlo or array.max() > rhi):
                v = int(array[(array < rlo) | (array > rhi)].flat[0])
                raise out_of_range(f"Index {v} is outside valid range {format_plain_interval(rlo, rhi)}")
            outputs.append(OutputIndexMap.from_array(array, m._offset, m._stride, (rlo, rhi)))
    except StatusError as e:
        raise e.with_suffix(status_payload("transform", transform).strip() + status_payload("domain", domain)) from None
    return IndexTransform._make(new_domain, outputs)


def _within_explicitly(transform: "IndexTransform", domain: "IndexDomain") -> bool:
    """Whether `transform` has explicit, non-empty input bounds, no index arrays, and every
    output it can produce lies within `domain`'s effective bounds (the usual read or write:
    nothing for `propagate_bounds` to change or report)."""
    a = transform._domain
    if True in a._il or True in a._iu:
        return False
    a_lo, a_hi = a._lo, a._hi
    d_lo, d_hi, d_il, d_iu = domain._lo, domain._hi, domain._il, domain._iu
    for j, m in enumerate(transform._outputs):
        method = m._method
        if method == ARRAY:
            return False
        if method == CONSTANT or m._stride == 0:
            first = last = m._offset
        else:
            k = m._dim
            if a_hi[k] < a_lo[k]:
                return False
            first = m._offset + m._stride * a_lo[k]
            last = m._offset + m._stride * a_hi[k]
            if last < first:
                first, last = last, first
        if (not d_il[j] and first < d_lo[j]) or (not d_iu[j] and last > d_hi[j]):
            return False
    return True


def _positions(xm: OutputIndexMap, x_domain: "IndexDomain", origin: int, extent: int, rank: int) -> np.ndarray:
    """Zero-based positions into an index array dimension, as an array broadcastable over x's domain."""
    ones = [1] * rank
    if xm._method == CONSTANT:
        pos = np.full(ones, xm._offset, dtype=np.int64)
    elif xm._method == SINGLE:
        k = xm._dim
        if x_domain._lo[k] == -INF_INDEX or x_domain._hi[k] == INF_INDEX:
            raise out_of_range("Index array composition requires finite bounds")
        shape = list(ones)
        shape[k] = x_domain._hi[k] - x_domain._lo[k] + 1
        pos = xm._offset + xm._stride * np.arange(x_domain._lo[k], x_domain._hi[k] + 1, dtype=np.int64).reshape(shape)
    else:
        pos = xm._offset + xm._stride * xm._array
    if pos.size:
        bad = (pos < origin) | (pos >= origin + extent)
        if bad.any():
            v = int(pos[bad].flat[0])
            raise out_of_range(f"Index {v} is outside valid range {format_plain_interval(origin, origin + extent - 1)}")
    return pos - origin


def _compose_map(m: OutputIndexMap, t: "IndexTransform", x: "IndexTransform") -> OutputIndexMap:
    if m._method == CONSTANT:
        return m
    if m._method == SINGLE:
        xm = x._outputs[m._dim]
        if xm._method == CONSTANT:
            return OutputIndexMap.constant(m._offset + m._stride * xm._offset)
        offset = m._offset + m._stride * xm._offset
        stride = m._stride * xm._stride
        if xm._method == SINGLE:
            return OutputIndexMap.single(xm._dim, offset, stride)
        return OutputIndexMap.from_array(xm._array, offset, stride, xm._range)
    rank = x.input_rank
    if explicitly_empty(x._domain):
        return OutputIndexMap.constant(0)
    index = []
    for j in range(t.input_rank):
        if m._array.shape[j] == 1:
            index.append(np.zeros([1] * rank, dtype=np.int64))
        else:
            try:
                index.append(_positions(x._outputs[j], x._domain, t._domain._lo[j], m._array.shape[j], rank))
            except StatusError as e:
                # Named after the dimension of x whose values index outside t's index array.
                raise e.with_prefix(f"In index array map for output dimension {j}") from None
    values = m._array[tuple(index)] if index else m._array.reshape([1] * rank)
    if values.ndim != rank:
        values = values.reshape([1] * rank)
    return OutputIndexMap.from_array(np.ascontiguousarray(values), m._offset, m._stride, m._range)


def finish_composed(t: "IndexTransform") -> "IndexTransform":
    """TensorStore's post-composition normalization of output maps.

    Zero strides and index arrays with at most one element become constant maps (checking
    the single element against the index range).
    """

    empty = explicitly_empty(t._domain)
    out = []
    for m in t._outputs:
        if m._method == SINGLE and m._stride == 0:
            m = OutputIndexMap.constant(m._offset)
        elif m._method == ARRAY:
            if m._stride == 0:
                m = OutputIndexMap.constant(m._offset)
            elif empty:
                m = OutputIndexMap.constant(0)
            elif m._array.size == 1:
                v = int(m._array.flat[0])
                if not m._lo <= v <= m._hi and not domain_only.get():
                    raise out_of_range(f"Index {v} is outside valid range {format_plain_interval(m._lo, m._hi)}")
                m = OutputIndexMap.constant(m._offset + m._stride * v)
        out.append(m)
    return IndexTransform._make(t._domain, out)


def _is_identity(t: "IndexTransform") -> bool:
    """Whether output j of `t` is input j, unshifted and unscaled, for every j (and no other)."""
    outputs = t._outputs
    if len(outputs) != len(t._domain._lo):
        return False
    for j, m in enumerate(outputs):
        if m._method != SINGLE or m._dim != j or m._stride != 1 or m._offset != 0:
            return False
    return True


def _plain_maps(t: "IndexTransform") -> bool:
    """Whether every output of `t` is a constant or a single dimension with a non-zero stride
    (what `finish_composed` leaves as it is)."""
    for m in t._outputs:
        if m._method == SINGLE:
            if m._stride == 0:
                return False
        elif m._method != CONSTANT:
            return False
    return True


def compose(t: "IndexTransform", x: "IndexTransform", python_errors: bool = False,
            propagate: bool = True, normalize: bool = True) -> "IndexTransform":  # fmt: skip
    """``t[x]``: the transform mapping x's input space through x and then t.

    With `python_errors`, failures surface as IndexError (as TensorStore's indexing does).
    """

    # An index array must not depend on a dimension whose bounds may still change; TensorStore
    # reports this as a plain ValueError even from indexing.
    xd = x._domain
    for j, m in enumerate(x._outputs):
        if m._method == ARRAY:
            for k, extent in enumerate(m._array.shape):
                if extent != 1 and (xd._il[k] or xd._iu[k]):
                    raise invalid_argument(
                        f"Index array for output dimension {j} depends on input dimension {k} with implicit bounds"
                    )
    try:
        if x.output_rank != t.input_rank:
            raise invalid_argument(
                f"Rank {t.input_rank} -> {t.output_rank} transform cannot be composed with rank "
                f"{x.input_rank} -> {x.output_rank} transform."
            ).with_suffix(status_payload("transform", x).strip() + status_payload("left_transform", t))
        xp = propagate_bounds(x, t._domain, check_arrays=False) if propagate else x
        if _is_identity(t):
            # Through an identity, each output of x is the composed map as it is (what an
            # open array's own transform usually is, under every small read and write);
            # only the normalisation of index arrays may remain to be done.
            result = IndexTransform._make(xp._domain, list(xp._outputs))
            return finish_composed(result) if normalize and not _plain_maps(xp) else result
        try:
            outputs = [_compose_map(m, t, xp) for m in t._outputs]
            result = IndexTransform._make(xp._domain, outputs)
            return finish_composed(result) if normalize else result
        except StatusError as e:
            raise e.with_suffix(status_payload("transform", x).strip() + status_payload("left_transform", t)) from None
    except StatusError as e:
        if python_errors:
            raise IndexError(str(e)) from None
        raise


def compose_with_domain(domain: "IndexDomain", x: "IndexTransform") -> "IndexDomain":
    """``domain[x]``: x's domain after resolving it against `domain`."""

    return compose(IndexTransform._make(domain, ()), x, python_errors=True).domain


def slice_by_domain(t: "IndexTransform", target: "IndexDomain", python_errors: bool = False) -> "IndexTransform":
    """``t[domain]``: restricts t's input dimensions to `target` (matched by label when labeled)."""
    from .interval import format_labeled, merge_labels

    try:
        d = t._domain
        labeled = any(target._labels) and any(d._labels)
        if labeled:
            dims = []
            free = [i for i in range(d.rank) if not d._labels[i]]
            for i, label in enumerate(target._labels):
                if label:
                    if label not in d._labels:
                        raise invalid_argument(
                            f'Label "{label}" does not match one of {{'
                            + ", ".join(f'"{x}"' for x in d._labels) + "}"
                        )
                    dims.append(d._labels.index(label))
                else:
                    if not free:
                        raise invalid_argument("Unlabeled index domain dimension has no matching target dimension")
                    dims.append(free.pop(0))
        else:
            if target.rank != d.rank:
                raise invalid_argument(
                    f"Rank of index domain ({target.rank}) must match rank of slice target ({d.rank}) "
                    "when the index domain or slice target is unlabeled"
                )
            dims = list(range(d.rank))
        lo, hi, il, iu, labels = list(d._lo), list(d._hi), list(d._il), list(d._iu), list(d._labels)
        for i, k in enumerate(dims):
            tl, th = target._lo[i], target._hi[i]
            elo = -INF_INDEX if d._il[k] else d._lo[k]
            ehi = INF_INDEX if d._iu[k] else d._hi[k]
            if th >= tl and (tl < elo or th > ehi):
                raise out_of_range(
                    f"Cannot slice target dimension {k} {{{format_labeled(d._labels[k], d._lo[k], d._hi[k], d._il[k], d._iu[k])}}} "
                    f"with index domain dimension {i} "
                    f"{{{format_labeled(target._labels[i], tl, th, target._il[i], target._iu[i])}}}"
                )
            lo[k], hi[k], il[k], iu[k] = tl, th, target._il[i], target._iu[i]
            labels[k] = merge_labels(d._labels[k], target._labels[i])
        new = identity_transform(IndexDomain._make(lo, hi, il, iu, labels))
        return compose(t, new, propagate=False)
    except StatusError as e:
        if python_errors:
            raise IndexError(str(e)) from None
        raise
