"""Choosing a concrete chunk grid from `ChunkLayout` constraints, number for number as TensorStore.

Drivers creating a new array call `choose_read_write_chunk_grid` (formats with a single chunk
level, e.g. zarr v2 and n5), `choose_read_write_chunk_shapes` (a read chunk nested in a write
chunk, e.g. zarr3 sharding), or the finer `choose_chunk_grid` / `choose_chunk_shape`, and
`choose_inner_order` for the storage order.

The rules: explicit chunk sizes (hard or soft) are taken as given, ``-1`` meaning "the whole
domain extent"; the remaining dimensions get sizes proportional to the aspect ratio (1 where
unspecified), each clamped to the domain extent, such that the chunk holds the target element
count (default 1024**2) or as near below it as the search gets.  The proportionality factor is
found by bisection over doubles, so the exact arithmetic below matters: it reproduces
TensorStore 0.1.86's compiled code (measured, and checked by the differential tests).  The grid
origin defaults to the domain origin reduced modulo the chunk size.
"""

from __future__ import annotations

import math
import sys
from typing import Callable, Optional, Sequence

from ..errors import StatusError, invalid_argument
from . import _constraints as C
from .chunk_layout import READ, WRITE, ChunkLayout, Grid, _GridData

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS", "choose_chunk_shape", "choose_chunk_grid",
    "choose_read_write_chunk_grid", "choose_read_write_chunk_template", "choose_inner_order",
    "choose_read_write_chunk_shapes",
    "format_interval",
]  # fmt: skip

DEFAULT_CHUNK_ELEMENTS = 1024 * 1024
_INF = C.INF_INDEX
_DBL_MIN = sys.float_info.min
_DBL_MAX = sys.float_info.max
#: The largest double below 2**62: no chunk extent is chosen above it.
_MAX_CHUNK_EXTENT = math.nextafter(2.0**62, 0.0)


def _finite(lo: int, hi: int) -> bool:
    # Unbounded ends: inclusive_min -(2**62 - 1), exclusive_max 2**62 (as IndexDomain reports).
    return lo > -_INF and hi <= _INF


def format_interval(lo: int, hi: int) -> str:
    """An interval as TensorStore prints it: ``[0, 5)``, ``(-inf, +inf)``."""
    left = "(-inf" if lo <= -_INF else f"[{lo}"
    right = "+inf)" if hi > _INF else f"{hi})"
    return f"{left}, {right}"


def _sizes_from_aspect_ratio(
    aspect: Sequence[float],
    shape: list[int],
    target: int,
    lo: Sequence[int],
    hi: Sequence[int],
    adjust: Optional[Callable[[int, int], int]] = None,
) -> None:
    """Fills the zero entries of `shape` following `aspect`, aiming at `target` elements.

    Mirrors TensorStore 0.1.86 step for step (measured against its compiled code): sizes are
    ``aspect[i] / max_free_aspect * factor`` truncated, clamped to [1, domain extent, target];
    the factor is bisected (geometrically while the bracket spans more than 4x) for at most 100
    steps, and the largest factor whose chunk stays below the target wins unless one hits it
    exactly.
    """
    rank = len(shape)
    free = [i for i in range(rank) if shape[i] == 0]
    limit = []
    t = float(target)
    for i in range(rank):
        m = t
        if _finite(lo[i], hi[i]):
            m = min(max(float(hi[i] - lo[i]), 1.0), t)
        limit.append(min(_MAX_CHUNK_EXTENT, m))
    max_aspect = 0.0
    for i in free:
        if math.isfinite(aspect[i]):
            max_aspect = max(max_aspect, aspect[i])
    norm = []
    for a in aspect:
        if not math.isfinite(a) or a <= 0:
            norm.append(1.0)
        elif max_aspect > 0:
            r = a / max_aspect
            norm.append(_DBL_MIN if r == 0 else r)
        else:
            norm.append(a)
    step = math.inf
    top = 0.0
    for i in free:
        step = min(step, 1.0 / norm[i])
        top = max(top, limit[i] / norm[i])
    step = max(_DBL_MIN, step * 0.5)
    hi_factor = min(_DBL_MAX / 4, top) * 2
    lo_factor = step

    def size(i: int, factor: float) -> int:
        if shape[i] != 0:
            return shape[i]
        n = max(1, int(min(limit[i], factor * norm[i])))
        # `adjust` lets a two-level format keep read and write chunks commensurate.
        return adjust(i, n) if adjust is not None else n

    def total(factor: float) -> int:
        n = 1
        for i in range(rank):
            n *= size(i, factor)
            if n > C.INT64_MAX:
                return C.INT64_MAX
        return n

    hi_total = total(hi_factor)
    for _ in range(100):
        if not hi_factor > lo_factor + step:
            break
        if hi_factor > 4 * lo_factor and lo_factor > 0:
            mid = math.sqrt(lo_factor * hi_factor)
        else:
            mid = lo_factor + (hi_factor - lo_factor) * 0.5
        if not math.isfinite(mid) or lo_factor >= mid or mid >= hi_factor:
            break
        n = total(mid)
        if n >= target:
            hi_factor, hi_total = mid, n
            if n == target:
                lo_factor = mid
        else:
            lo_factor = mid
    factor = hi_factor if hi_total == target else lo_factor
    for i in free:
        shape[i] = size(i, factor)


def choose_chunk_shape(grid: Grid, inclusive_min: Sequence[int], exclusive_max: Sequence[int]) -> list[int]:
    """The chunk shape TensorStore picks for `grid` over the box [inclusive_min, exclusive_max).

    Unbounded ends are ``-(2**62 - 1)`` (inclusive_min) and ``2**62`` (exclusive_max), as
    `IndexDomain` reports them.  Hard and soft shape constraints are both used.
    """
    return _choose_shape(grid._rank, grid._data, inclusive_min, exclusive_max)


def _initial_shape(grid_rank: int, g: _GridData, lo: Sequence[int], hi: Sequence[int]) -> tuple[list[int], list[bool]]:
    """Explicit sizes (``-1`` resolved to the domain extent, 0 = still free) and hard flags."""
    rank = len(lo)
    if grid_rank > 0:
        if grid_rank != rank:
            raise invalid_argument(f"Rank of constraints ({grid_rank}) does not match rank of domain ({rank})")
        shape, hard = list(g.shape), list(g.shape_hard)
    else:
        shape, hard = [0] * rank, [False] * rank
    for i in range(rank):
        if shape[i] == -1:
            if not _finite(lo[i], hi[i]):
                raise invalid_argument(
                    f"Cannot match chunk size for dimension {i} to unbounded domain {format_interval(lo[i], hi[i])}"
                )
            shape[i] = max(1, hi[i] - lo[i])
    return shape, hard


def _complete_shape(
    grid_rank: int, g: _GridData, shape: list[int], lo: Sequence[int], hi: Sequence[int], adjust=None
) -> None:
    if any(x == 0 for x in shape):
        rank = len(shape)
        aspect = [1.0 if a == 0 else a for a in g.aspect] if grid_rank > 0 else [1.0] * rank
        target = g.elements if g.elements != C.IMPLICIT else DEFAULT_CHUNK_ELEMENTS
        _sizes_from_aspect_ratio(aspect, shape, target, lo, hi, adjust)


def _choose_shape(grid_rank: int, g: _GridData, lo: Sequence[int], hi: Sequence[int]) -> list[int]:
    shape, _ = _initial_shape(grid_rank, g, lo, hi)
    _complete_shape(grid_rank, g, shape, lo, hi)
    return shape


_DIVISOR_SEARCH = 1_000_000


def _nearby_divisor(size: int, whole: int) -> int:
    """A divisor of `whole` near `size` (searching outwards, smaller first), else `whole`."""
    if size >= whole:
        return whole
    if whole % size == 0:
        return size
    for step in range(1, _DIVISOR_SEARCH):
        if size > step and whole % (size - step) == 0:
            return size - step
        if whole % (size + step) == 0:
            return size + step
    return whole


def _nearest_multiple(size: int, unit: int) -> int:
    """The multiple of `unit` nearest `size` (ties go down; never below `unit`)."""
    if unit > size:
        return unit
    lower = unit * (size // unit)
    upper = lower + unit
    if upper > C.MAX_FINITE_INDEX:
        return lower
    return upper if size % unit > upper - size else lower


def choose_read_write_chunk_shapes(
    read: Grid, write: Grid, inclusive_min: Sequence[int], exclusive_max: Sequence[int]
) -> tuple[list[int], list[int]]:
    """(read_chunk_shape, write_chunk_shape) for a two-level format (zarr3 sharding, ...).

    Each write chunk must be a whole number of read chunks.  Explicit sizes come first; where
    they disagree, a soft read size moves to a nearby divisor of the write size, or a soft
    write size to the nearest multiple of the read size (two hard sizes: an error).  Free read
    sizes are then chosen (kept dividing any explicit write size), then free write sizes
    (rounded to multiples of the read size).
    """
    _check_domain(inclusive_min, exclusive_max)
    lo, hi = inclusive_min, exclusive_max
    write_shape, write_hard = _initial_shape(write._rank, write._data, lo, hi)
    read_shape, read_hard = _initial_shape(read._rank, read._data, lo, hi)
    for i in range(len(lo)):
        r, w = read_shape[i], write_shape[i]
        if r == 0 or w == 0 or w % r == 0:
            continue
        if write_hard[i] and read_hard[i]:
            raise invalid_argument(
                f"Incompatible chunk size constraints for dimension {i}: read size of {r}, write size of {w}"
            )
        if read_hard[i]:
            write_shape[i] = _nearest_multiple(w, r)
        else:
            read_shape[i] = _nearby_divisor(r, w)
    _complete_shape(read._rank, read._data, read_shape, lo, hi,
                    lambda i, n: n if write_shape[i] == 0 else _nearby_divisor(n, write_shape[i]))
    _complete_shape(write._rank, write._data, write_shape, lo, hi, lambda i, n: _nearest_multiple(n, read_shape[i]))
    return read_shape, write_shape


def _choose_grid(
    origin_constraints: Optional[Sequence[int]],
    grid_rank: int,
    g: _GridData,
    lo: Sequence[int],
    hi: Sequence[int],
) -> tuple[list[int], list[int]]:
    rank = len(lo)
    shape = _choose_shape(grid_rank, g, lo, hi)
    if origin_constraints:
        if len(origin_constraints) != rank:
            raise invalid_argument(
                f"Rank of constraints ({len(origin_constraints)}) does not match rank of domain ({rank})"
            )
        origin = list(origin_constraints)
    else:
        origin = [C.IMPLICIT] * rank
    for i in range(rank):
        if origin[i] == C.IMPLICIT:
            origin[i] = 0 if lo[i] <= -_INF else lo[i] % shape[i]
        o, s = origin[i], shape[i]
        if not C.valid_sized(o, s):
            raise invalid_argument(
                f"Invalid chunk constraints for dimension {i}: ({o}, {s}) do not specify a valid sized index interval"
            )
    return origin, shape


def choose_chunk_grid(
    layout: ChunkLayout, grid: Grid, inclusive_min: Sequence[int], exclusive_max: Sequence[int]
) -> tuple[list[int], list[int]]:
    """(grid_origin, chunk_shape) for `grid`, using `layout`'s grid origin (hard and soft)."""
    _check_domain(inclusive_min, exclusive_max)
    origin = layout._origin if layout._rank > 0 else None
    return _choose_grid(origin, grid._rank, grid._data, inclusive_min, exclusive_max)


def choose_read_write_chunk_template(
    layout: ChunkLayout, domain_inclusive_min: Sequence[int], domain_exclusive_max: Sequence[int]
) -> tuple[list[int], list[int]]:
    """(grid_origin, chunk_shape) of the single chunk grid TensorStore picks for `layout`.

    The write chunk constraints are merged into the read chunk constraints first (an error if
    their hard constraints disagree), then the read chunk grid is chosen.
    """
    _check_domain(domain_inclusive_min, domain_exclusive_max)
    combined = layout.copy()
    w = layout._grids[WRITE]
    try:
        combined._set_grid(READ, layout._rank, w, True)
    except StatusError as exc:
        raise exc.with_prefix("write_chunk constraints not compatible with existing read_chunk constraints") from None
    origin = combined._origin if combined._rank > 0 else None
    return _choose_grid(origin, combined._rank, combined._grids[READ], domain_inclusive_min, domain_exclusive_max)


def choose_read_write_chunk_grid(
    layout: ChunkLayout, domain_inclusive_min: Sequence[int], domain_exclusive_max: Sequence[int]
) -> tuple[list[int], list[int]]:
    """(read_chunk_shape, write_chunk_shape) for a format with one chunk level (zarr v2, n5).

    Both are the same shape; see `choose_read_write_chunk_template` for the grid origin too.
    """
    _, shape = choose_read_write_chunk_template(layout, domain_inclusive_min, domain_exclusive_max)
    return list(shape), list(shape)


def _check_domain(lo: Sequence[int], hi: Sequence[int]) -> None:
    if len(lo) != len(hi):
        raise invalid_argument(f"Domain bounds have different ranks: {len(lo)} and {len(hi)}")


def choose_inner_order(
    layout: ChunkLayout,
    rank: int,
    supported: Optional[Sequence[Sequence[int]]] = None,
    default: Optional[Sequence[int]] = None,
) -> list[int]:
    """The storage order within a chunk for a new array.

    A hard `inner_order` constraint is taken as is (an error if the format supports only the
    orders in `supported`, e.g. zarr's C and Fortran orders); a soft one is taken when the format
    supports it; otherwise `default` (C order, ``[0, 1, ..., rank-1]``, when not given).
    """
    fallback = list(default) if default is not None else list(range(rank))
    allowed = None if supported is None else [list(p) for p in supported]
    order = layout._inner_order
    if order is not None and len(order) != rank:
        raise invalid_argument(f"Rank of constraints ({len(order)}) does not match rank of domain ({rank})")
    if order is not None and layout._inner_order_hard:
        if allowed is not None and list(order) not in allowed:
            raise invalid_argument(f'Invalid "inner_order" constraint: {C.format_vector(order)}')
        return list(order)
    if order is not None and (allowed is None or list(order) in allowed):
        return list(order)
    return fallback
