"""Partitioning an index transform over a regular chunk grid.

The engine reads and writes through an `IndexTransform` whose input domain is the user's view
and whose outputs are array coordinates.  Two plans exist:

* strided: every output dimension is a constant or `offset + stride * in[j]` with each input
  dimension feeding at most one output.  Each dimension splits independently into runs that lie
  in one chunk (`grid.partition_dim`); a chunk's copy is one strided n-d copy.
* points: anything else (index arrays, diagonals).  Every output coordinate is computed as an
  array over the input domain, points are grouped by chunk (`grid.group_points`), and each
  chunk is a gather/scatter.  No Python loop runs per element.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from ..errors import out_of_range
from ..index import OutputIndexMethod

try:  # the Cython kernels; the pure-Python versions below are the reference they are tested against
    from .._ext import grid as _grid
except ImportError:  # pragma: no cover - only before the extension is built
    _grid = None

__all__ = ["StridedCell", "PointCell", "MapInfo", "analyze", "strided_cells", "point_cells"]


class MapInfo(NamedTuple):
    """One output dimension of a transform, reduced to what partitioning needs."""

    kind: str  # "constant" | "single" | "array"
    offset: int
    stride: int
    input_dimension: int  # for "single"
    index_array: np.ndarray | None  # for "array": int64, broadcastable to the input shape


@dataclasses.dataclass
class StridedCell:
    cell: tuple[int, ...]  # chunk grid indices
    chunk_index: tuple  # per array dim: int (constant) or slice, into the chunk's component
    user_index: tuple  # per input dim: slice into the user array
    covers: bool  # the write covers the whole chunk (not clipped to the array bounds)


@dataclasses.dataclass
class PointCell:
    cell: tuple[int, ...]
    chunk_coords: tuple[np.ndarray, ...]  # per array dim, in-chunk coordinate of each point
    user_positions: np.ndarray  # flat positions in the user array (C order)


_CONSTANT = OutputIndexMethod.constant
_SINGLE = OutputIndexMethod.single_input_dimension


_new_map = tuple.__new__  # MapInfo(...) without the namedtuple's Python-level constructor


def analyze(transform) -> tuple[list[MapInfo], list[int], list[int]]:
    """(maps, input_origin, input_shape) of a transform with a bounded input domain."""
    maps = []
    for m in transform._outputs:
        method = m._method
        if method == _CONSTANT or (method == _SINGLE and m._stride == 0):
            maps.append(_new_map(MapInfo, ("constant", int(m._offset), 0, -1, None)))
        elif method == _SINGLE:
            maps.append(_new_map(MapInfo, ("single", int(m._offset), int(m._stride), int(m._dim), None)))
        else:
            maps.append(MapInfo("array", int(m.offset), int(m.stride), -1, np.asarray(m.index_array, dtype=np.int64)))
    domain = transform._domain
    lo = [int(x) for x in domain._lo]
    return maps, lo, [int(h) - l + 1 for l, h in zip(lo, domain._hi)]


def shift(m: MapInfo, delta: int) -> MapInfo:
    """`m` with its output translated by `delta`."""
    return m._replace(offset=m.offset + delta)


def is_strided(maps: Sequence[MapInfo]) -> bool:
    used = set()
    for m in maps:
        if m.kind == "array":
            return False
        if m.kind == "single":
            if m.input_dimension in used:
                return False
            used.add(m.input_dimension)
    return True


def single_strided_cell(
    maps: Sequence[MapInfo], input_origin: Sequence[int], input_shape: Sequence[int], chunk_shape: Sequence[int]
) -> StridedCell | None:
    """The one cell of `strided_cells` when a strided transform's box lies inside one chunk
    (the usual small read or write), found without the general partition; None otherwise."""
    if 0 in input_shape:
        return None
    cell = []
    chunk_index: list = []
    user_index = [slice(0, n) for n in input_shape]
    covers = True
    for m, size in zip(maps, chunk_shape):
        if m.kind == "constant":
            k = m.offset // size
            cell.append(k)
            chunk_index.append(m.offset - k * size)
            covers = covers and size == 1
            continue
        n = input_shape[m.input_dimension]
        step = m.stride
        start = m.offset + step * input_origin[m.input_dimension]
        last = start + step * (n - 1)
        k = start // size
        if last // size != k:
            return None
        off = start - k * size
        stop = off + step * n
        cell.append(k)
        chunk_index.append(slice(off, stop if stop >= 0 else None, step))
        covers = covers and abs(step) == 1 and min(off, off + step * (n - 1)) == 0 and n == size
    return StridedCell(tuple(cell), tuple(chunk_index), tuple(user_index), covers)


def _runs_py(start: int, step: int, count: int, size: int) -> list[tuple[int, int, int, int]]:
    """Maximal runs of positions start + p*step (p < count) inside one cell of size `size`."""
    runs = []
    p = 0
    while p < count:
        idx = start + p * step
        k = idx // size
        off = idx - k * size
        if step > 0:
            n = min(count - p, (size - 1 - off) // step + 1)
        else:
            n = min(count - p, off // (-step) + 1)
        runs.append((k, p, n, off))
        p += n
    return runs


def _runs(start: int, step: int, count: int, size: int) -> list[tuple[int, int, int, int]]:
    # A few runs (the usual case: a box inside one or two chunks) are cheaper in Python than
    # the kernel's array round trip.
    if _grid is None or count == 0 or abs(step) * count <= 4 * size:
        return _runs_py(start, step, count, size)
    k, p, n, off = _grid.partition_dim(start, step, count, size, 0)
    return list(zip(k.tolist(), p.tolist(), n.tolist(), off.tolist()))


def strided_cells(
    maps: Sequence[MapInfo],
    input_origin: Sequence[int],
    input_shape: Sequence[int],
    chunk_shape: Sequence[int],
    array_shape: Sequence[int],
) -> Iterator[StridedCell]:
    """The chunks a strided transform touches, in C order of their grid indices."""
    rank_in = len(input_shape)
    if any(s == 0 for s in input_shape):
        return
    per_dim = []
    for d, m in enumerate(maps):
        if m.kind == "constant":
            per_dim.append(_runs(m.offset, 1, 1, chunk_shape[d]))
        else:
            j = m.input_dimension
            start = m.offset + m.stride * input_origin[j]
            per_dim.append(_runs(start, m.stride, input_shape[j], chunk_shape[d]))
    for combo in itertools.product(*per_dim):
        cell = tuple(r[0] for r in combo)
        chunk_index: list = []
        user_index = [slice(0, input_shape[j]) for j in range(rank_in)]
        covers = True
        for d, (m, (k, p, n, off)) in enumerate(zip(maps, combo)):
            # A chunk counts as covered only if the write spans all of it, also past the array's
            # (resizable) bounds, whose elements a later resize may bring back, as TensorStore.
            valid = chunk_shape[d]
            if m.kind == "constant":
                chunk_index.append(off)
                covers = covers and valid == 1
                continue
            step = m.stride
            stop = off + step * n
            chunk_index.append(slice(off, stop if stop >= 0 else None, step))
            user_index[m.input_dimension] = slice(p, p + n)
            lo = off if step > 0 else off + step * (n - 1)
            covers = covers and abs(step) == 1 and lo == 0 and n == valid
        yield StridedCell(cell, tuple(chunk_index), tuple(user_index), covers)


def strided_axes(maps: Sequence[MapInfo], rank_in: int) -> tuple[list[int], list[int]]:
    """How a chunk view (array dims with slices, constants dropped) lines up with input dims.

    Returns (perm, missing): transposing the view by `perm` orders its axes by input
    dimension; `missing` lists input dimensions no output depends on (broadcast).
    """
    singles = []
    for m in maps:
        if m.kind != "constant":
            singles.append((m.input_dimension, len(singles)))
    singles.sort()
    perm = [i for _, i in singles]
    if len(singles) == rank_in:  # (each input dimension feeds at most one output)
        return perm, []
    used = {j for j, _ in singles}
    return perm, [j for j in range(rank_in) if j not in used]


def output_coordinates(
    maps: Sequence[MapInfo], input_origin: Sequence[int], input_shape: Sequence[int]
) -> list[np.ndarray]:
    """Each output coordinate as an int64 array broadcast to the input shape."""
    rank_in = len(input_shape)
    shape = tuple(input_shape)
    out = []
    for m in maps:
        if m.kind == "constant":
            a = np.full(shape, m.offset, dtype=np.int64)
        elif m.kind == "single":
            j = m.input_dimension
            idx = np.arange(input_origin[j], input_origin[j] + input_shape[j], dtype=np.int64)
            idx = m.offset + m.stride * idx
            view = [1] * rank_in
            view[j] = input_shape[j]
            a = np.broadcast_to(idx.reshape(view), shape)
        else:
            a = np.broadcast_to(m.offset + m.stride * m.index_array, shape)
        out.append(a)
    return out


def flat_output_coordinates(
    maps: Sequence[MapInfo], input_origin: Sequence[int], input_shape: Sequence[int]
) -> list[np.ndarray]:
    """`output_coordinates`, each as a C-contiguous int64 array in C order of the input
    domain, written straight into its buffer (a few points: no broadcast views to copy)."""
    rank_in = len(input_shape)
    shape = tuple(input_shape)
    out = []
    for m in maps:
        a = np.empty(shape, dtype=np.int64)
        if m.kind == "constant":
            a.fill(m.offset)
        elif m.kind == "single":
            j = m.input_dimension
            idx = np.arange(m.offset + m.stride * input_origin[j], m.offset + m.stride * (input_origin[j] + input_shape[j]),
                            m.stride, dtype=np.int64) if m.stride else np.full(input_shape[j], m.offset, np.int64)
            view = [1] * rank_in
            view[j] = input_shape[j]
            a[...] = idx.reshape(view)
        elif m.offset == 0 and m.stride == 1:
            a[...] = m.index_array
        else:
            np.multiply(m.index_array, m.stride, out=a)
            a += m.offset
        out.append(a.reshape(-1))
    return out


def point_cells(
    maps: Sequence[MapInfo],
    input_origin: Sequence[int],
    input_shape: Sequence[int],
    chunk_shape: Sequence[int],
    array_shape: Sequence[int],
) -> list[PointCell]:
    """Groups every point of the input domain by the chunk holding its output position."""
    n_points = 1
    for n in input_shape:
        n_points *= n
    if n_points == 0:
        return []
    coords = flat_output_coordinates(maps, input_origin, input_shape)
    if _grid is not None and coords:
        groups, bad = _grid.group_cells(coords, tuple(chunk_shape), tuple(array_shape))
        if bad is not None:
            d, index = bad
            raise out_of_range(f"Index {index} is outside valid range [0, {array_shape[d]}) for output dimension {d}")
        return [PointCell(cell, chunk_coords, positions) for cell, chunk_coords, positions in groups]
    for d, c in enumerate(coords):
        if c.size and (c.min() < 0 or c.max() >= array_shape[d]):
            bad = int(c[(c < 0) | (c >= array_shape[d])][0])
            raise out_of_range(f"Index {bad} is outside valid range [0, {array_shape[d]}) for output dimension {d}")
    chunk_shape_arr = np.asarray(chunk_shape, dtype=np.int64)
    if not coords:
        return [PointCell((), (), np.arange(n_points, dtype=np.int64))]
    cell_coords = np.stack([c // s for c, s in zip(coords, chunk_shape)], axis=1)
    in_chunk = [c % s for c, s in zip(coords, chunk_shape)]
    if _grid is not None:
        unique, order, starts = _grid.group_points(np.ascontiguousarray(cell_coords))
    else:
        unique, inverse = np.unique(cell_coords, axis=0, return_inverse=True)
        order = np.argsort(inverse.reshape(-1), kind="stable")
        counts = np.bincount(inverse.reshape(-1), minlength=len(unique))
        starts = np.concatenate([[0], np.cumsum(counts)])
    del chunk_shape_arr
    cells = []
    for i in range(len(unique)):
        sel = order[starts[i] : starts[i + 1]]
        cells.append(
            PointCell(
                tuple(int(x) for x in unique[i]),
                tuple(c[sel] for c in in_chunk),
                sel.astype(np.int64, copy=False),
            )
        )
    return cells
