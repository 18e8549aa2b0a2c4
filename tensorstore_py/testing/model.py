"""A NumPy model of reading and writing a TensorStore through an index transform.

A view of a store is the store's transform: each point of its input domain maps, through
the output index maps, to one position of the stored array.  These helpers compute those
positions with NumPy broadcasting (no loop per element), so a test can say what any view
must read, and what a write through it must leave behind, with plain NumPy indexing.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import tensorstore_py as ts

__all__ = ["output_indices", "read_view", "write_view", "is_injective"]


def output_indices(transform: ts.IndexTransform) -> tuple[np.ndarray, ...]:
    """For each output dimension, the index each input point maps to (arrays of the input
    domain's shape).  The input domain must be finite."""
    shape = tuple(int(n) for n in transform.input_shape)
    origin = transform.input_origin
    out = []
    for m in transform.output:
        if m.method == ts.OutputIndexMethod.constant:
            idx = np.full(shape, m.offset, dtype=np.int64)
        elif m.method == ts.OutputIndexMethod.single_input_dimension:
            d = m.input_dimension
            along = origin[d] + np.arange(shape[d], dtype=np.int64)
            view = [1] * len(shape)
            view[d] = shape[d]
            idx = np.broadcast_to(m.offset + m.stride * along.reshape(view), shape)
        else:
            idx = np.broadcast_to(m.offset + m.stride * np.asarray(m.index_array, dtype=np.int64), shape)
        out.append(idx)
    return tuple(out)


def _positions(transform: ts.IndexTransform, origin: Sequence[int]) -> tuple[np.ndarray, ...]:
    idx = output_indices(transform)
    if len(idx) != len(origin):
        raise ValueError(f"transform has output rank {len(idx)}, array has rank {len(origin)}")
    return tuple(i - o for i, o in zip(idx, origin))


def read_view(array: np.ndarray, transform: ts.IndexTransform, origin: Sequence[int] | None = None) -> np.ndarray:
    """What reading through `transform` gives when the stored array is `array`, whose first
    element has index `origin` (default all zeros).  A store reads bounds of a view marked
    implicit as its own current bounds; this model takes the transform's bounds as they are."""
    origin = [0] * array.ndim if origin is None else list(origin)
    if transform.input_rank == 0:
        return np.asarray(array[tuple(int(i) for i in _positions(transform, origin))])
    return array[_positions(transform, origin)]


def write_view(
    array: np.ndarray, transform: ts.IndexTransform, value: Any, origin: Sequence[int] | None = None
) -> None:
    """Applies, in place, a write of `value` (broadcast to the view's shape) through
    `transform`.  Where several input points map to one position the last one wins; a store
    does not promise which, so write such views only with one value (see `is_injective`)."""
    origin = [0] * array.ndim if origin is None else list(origin)
    shape = tuple(int(n) for n in transform.input_shape)
    array[_positions(transform, origin)] = np.broadcast_to(np.asarray(value, dtype=array.dtype), shape)


def is_injective(transform: ts.IndexTransform) -> bool:
    """Whether distinct input points of `transform` map to distinct output positions."""
    idx = output_indices(transform)
    size = int(np.prod(transform.input_shape, dtype=np.int64))
    if size <= 1:
        return True
    if not idx:
        return False
    points = np.stack([i.reshape(-1) for i in idx], axis=1)
    return len(np.unique(points, axis=0)) == size
