"""From a view of a downsampled array to the base positions it reduces (``.base``).

For each downsampled dimension d (factor f) reached through output map m of the view:

* f == 1: the base dimension is reached through m itself;
* m is ``offset + in[i]`` (stride 1, input i feeding no other output): input i is widened to
  the base positions of its blocks, ``f * (offset + x) + k`` becomes ``x' + f * offset``;
* m is a constant c: a new input dimension spans block c, ``[0, f)`` cut to the base bounds,
  with output ``f * c + x'``;
* anything else (strides, index arrays, diagonals): a new input dimension of extent f holds
  the position within the block, and the output is the index array ``f * m(x) + k`` clamped
  to the base's bounds, so that a block cut by the edge repeats the edge element (TensorStore
  computes such views this way, unlike a plain read of the same blocks).

New input dimensions follow the view's, in the order of the outputs that need them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...index import IndexDomain, IndexTransform, OutputIndexMap, OutputIndexMethod

__all__ = ["upsample_transform", "edge_repeating_dims"]


def _input_users(t: IndexTransform) -> dict[int, int]:
    users: dict[int, int] = {}
    for m in t.output:
        if m.method == OutputIndexMethod.single_input_dimension and m.stride != 0:
            users[m.input_dimension] = users.get(m.input_dimension, 0) + 1
    return users


def _widens(m: OutputIndexMap, users: dict[int, int], shape: Sequence[int]) -> bool:
    """Whether map `m` reaches its dimension as a stride-1 input of its own, or at a single
    position (a constant, or an input of extent 1)."""
    if m.method == OutputIndexMethod.constant:
        return True
    if m.method == OutputIndexMethod.single_input_dimension:
        return m.stride == 0 or shape[m.input_dimension] == 1 or (m.stride == 1 and users[m.input_dimension] == 1)
    return np.asarray(m.index_array).size == 1


def edge_repeating_dims(t: IndexTransform, factors: Sequence[int]) -> list[bool]:
    """Per downsampled dimension, whether blocks cut by the base's edge are computed with the
    edge element repeated (the index-array case of `upsample_transform`)."""
    users = _input_users(t)
    shape = t.input_shape
    return [f > 1 and not _widens(m, users, shape) for m, f in zip(t.output, factors)]


def upsample_transform(t: IndexTransform, factors: Sequence[int], base_lo: Sequence[int], base_hi: Sequence[int]) -> IndexTransform:
    """Transform from the widened view domain to base view positions (bounds exclusive)."""
    domain = t.domain
    rank = t.input_rank
    lo = list(domain.origin)
    hi = [h + 1 for h in domain.inclusive_max]
    il, iu = list(domain.implicit_lower_bounds), list(domain.implicit_upper_bounds)
    labels = list(domain.labels)
    users = _input_users(t)
    extra_lo: list[int] = []
    extra_hi: list[int] = []
    pending: list[tuple[int, OutputIndexMap, int]] = []  # (output dim, map, extra dim)
    outputs: list = [None] * t.output_rank
    for d, (m, f) in enumerate(zip(t.output, factors)):
        method = m.method
        if f == 1:
            outputs[d] = m
            continue
        if method == OutputIndexMethod.single_input_dimension and m.stride == 1 and users[m.input_dimension] == 1:
            i, c = m.input_dimension, int(m.offset)
            lo[i] = max(f * (c + lo[i]), base_lo[d]) - f * c
            hi[i] = min(f * (c + hi[i]), base_hi[d]) - f * c
            il[i] = iu[i] = False
            outputs[d] = OutputIndexMap(input_dimension=i, offset=f * c)
            continue
        if method == OutputIndexMethod.constant or (method == OutputIndexMethod.single_input_dimension and m.stride == 0):
            c = int(m.offset)
            extra_lo.append(max(f * c, base_lo[d]) - f * c)
            extra_hi.append(min(f * c + f, base_hi[d]) - f * c)
            outputs[d] = ("constant", f * c, len(extra_lo) - 1)
            continue
        extra_lo.append(0)
        extra_hi.append(f)
        pending.append((d, m, len(extra_lo) - 1))
        outputs[d] = None
    total = rank + len(extra_lo)
    shape = [h - l for l, h in zip(lo + extra_lo, hi + extra_hi)]
    for d, entry in enumerate(outputs):
        if isinstance(entry, tuple):
            _, offset, k = entry
            outputs[d] = OutputIndexMap(input_dimension=rank + k, offset=offset)
    for d, m, k in pending:
        f = factors[d]
        positions = _positions(m, lo, hi, rank, total)
        within = (np.arange(shape[rank + k], dtype=np.int64) + extra_lo[k]).reshape([-1 if j == rank + k else 1 for j in range(total)])
        # Positions past the base's bounds repeat its edge element (as TensorStore does).
        arr = np.clip(f * positions + within, base_lo[d], base_hi[d] - 1)
        outputs[d] = OutputIndexMap(index_array=arr)
    new_domain = IndexDomain._make(
        lo + extra_lo, [h - 1 for h in hi + extra_hi], il + [False] * len(extra_lo), iu + [False] * len(extra_lo),
        labels + [""] * len(extra_lo),
    )  # fmt: skip
    return IndexTransform(domain=new_domain, output=outputs)


def _positions(m: OutputIndexMap, lo: Sequence[int], hi: Sequence[int], rank: int, total: int) -> np.ndarray:
    """Downsampled position of map `m` at every point of the view domain, as an array of rank
    `total` (extent 1 along the dimensions it does not depend on)."""
    if m.method == OutputIndexMethod.single_input_dimension:
        i = m.input_dimension
        values = m.offset + m.stride * np.arange(lo[i], hi[i], dtype=np.int64)
        return values.reshape([-1 if j == i else 1 for j in range(total)])
    arr = np.asarray(m.index_array, dtype=np.int64)
    arr = arr.reshape(arr.shape + (1,) * (total - arr.ndim))
    return m.offset + m.stride * arr
