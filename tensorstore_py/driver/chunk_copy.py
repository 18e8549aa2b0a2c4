"""Copies between chunks and user arrays, for the chunked engine (`chunked.py`).

A strided cell (`partition.StridedCell`) names its part of a chunk's component by
`chunk_index` and its part of the user's array by `user_index`; a point cell
(`partition.PointCell`) by coordinates.  Indexing with a trailing Ellipsis keeps 0-d results
as views rather than scalars.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

try:
    from .._ext import copy as _copy_ext
except ImportError:  # pragma: no cover - only before the extension is built
    _copy_ext = None

__all__ = [
    "DirectRegions",
    "copy_array", "place_strided", "place_points", "take_strided", "take_points", "source_part", "region_shape",
    "whole_chunk_region", "adopt_region",
]


def copy_array(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[...] = src, through the GIL-free Cython kernel when the layouts allow it."""
    if (
        dst.size >= 4096  # first: the small copies of small operations skip the other checks
        and _copy_ext is not None
        and dst.dtype == src.dtype
        and dst.shape == src.shape
        and not dst.dtype.hasobject
    ):
        _copy_ext.strided_copy(dst, src)
    else:
        np.copyto(dst, src, casting="unsafe")


def _arrange_for_user(view: np.ndarray, perm: Sequence[int], missing: Sequence[int], shape: tuple) -> np.ndarray:
    """Chunk view (array-dim order) -> view in input-dim order broadcast to `shape`."""
    v = view.transpose(perm) if list(perm) != list(range(view.ndim)) else view
    for j in missing:
        v = np.expand_dims(v, j)
    return np.broadcast_to(v, shape) if v.shape != shape else v


def place_strided(out: np.ndarray, cell, src: np.ndarray, perm, missing) -> None:
    dst = out[cell.user_index + (Ellipsis,)]
    copy_array(dst, _arrange_for_user(src[cell.chunk_index + (Ellipsis,)], perm, missing, dst.shape))


def source_part(cell, source: np.ndarray, inverse, missing) -> np.ndarray:
    """The cell's part of `source`, laid out as the chunk's box; `inverse`: the inverse of the
    chunk-to-input dimension permutation (None when it is the identity)."""
    region = source[cell.user_index + (Ellipsis,)]
    # Input dimensions no output depends on all map to the same element: any one will do.
    if missing:
        index = tuple(0 if j in missing else slice(None) for j in range(region.ndim))
        region = region[index]
    if inverse is not None:
        region = region.transpose(inverse)
    return region


def take_strided(dst_chunk: np.ndarray, cell, source: np.ndarray, inverse, missing) -> None:
    """Copies the cell's part of `source` into the chunk."""
    copy_array(dst_chunk[cell.chunk_index + (Ellipsis,)], source_part(cell, source, inverse, missing))


def region_shape(region: tuple, chunk_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of ``component[region]`` for a component of `chunk_shape`."""
    return tuple(len(range(*r.indices(n))) for r, n in zip(region, chunk_shape) if isinstance(r, slice))


class DirectRegions:
    """Where a read's chunks go in its output, when chunk and output dimensions line up (no
    permutation, nothing broadcast): called with a cell, the region a whole chunk fills
    (`whole_chunk_region`); `part(cell, chunk)`, the output region and the part of a decoded
    `chunk` that `place_strided` would copy there."""

    __slots__ = ("out", "chunk_shape")

    def __init__(self, out: np.ndarray, chunk_shape: tuple):
        self.out = out
        self.chunk_shape = chunk_shape

    def __call__(self, cell) -> np.ndarray | None:
        return whole_chunk_region(self.out, cell, self.chunk_shape)

    def part(self, cell, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        dst = self.out[cell.user_index + (Ellipsis,)]
        src = chunk[cell.chunk_index + (Ellipsis,)]
        return (dst, src) if dst.shape == src.shape else None


def whole_chunk_region(out: np.ndarray, cell, chunk_shape: tuple) -> np.ndarray | None:
    """The view of `out` that a whole chunk fills, in the chunk's shape, if the cell maps the
    entire chunk onto one forward region of `out` (constant dimensions have extent 1)."""
    if not cell.covers:
        return None
    index = cell.chunk_index
    if any(isinstance(i, slice) and i.step != 1 for i in index):
        return None
    region = out[cell.user_index + (Ellipsis,)]
    if any(not isinstance(i, slice) for i in index):
        region = region[tuple(slice(None) if isinstance(i, slice) else None for i in index)]
    return region if region.shape == chunk_shape else None


def adopt_region(fmt: Any, source: np.ndarray, cell) -> np.ndarray | None:
    region = whole_chunk_region(source, cell, fmt.chunk_shape)
    return None if region is None else fmt.adopt_chunk(region)


def place_points(out: np.ndarray, cell, src: np.ndarray) -> None:
    flat = out.reshape(-1)
    flat[cell.user_positions] = src[cell.chunk_coords]


def take_points(dst_chunk: np.ndarray, cell, flat_source: np.ndarray) -> None:
    dst_chunk[cell.chunk_coords] = flat_source[cell.user_positions]
