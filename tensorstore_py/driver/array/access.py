"""Reading and writing a NumPy array through an `IndexTransform` (the array driver's I/O).

The transform's outputs index the array.  When every output is a constant or a strided
single input dimension, the result is a NumPy view (no copy); otherwise (index arrays,
diagonals) the elements are gathered or scattered with computed coordinates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import partition

__all__ = ["view_or_gather", "scatter", "unbroadcast_view"]


def _strided_view(array: np.ndarray, maps: list, origin: list[int], shape: list[int]) -> np.ndarray:
    """The view of `array` at every position of the input domain, axes in input order, before
    broadcasting over the input dimensions no output depends on (kept as size-1 axes)."""
    index: list = []
    for m in maps:
        if m.kind == "constant":
            index.append(m.offset)
            continue
        n = shape[m.input_dimension]
        start = m.offset + m.stride * origin[m.input_dimension]
        if n == 0:
            index.append(slice(0, 0))
            continue
        stop = start + m.stride * n
        index.append(slice(start, stop if stop >= 0 else None, m.stride))
    view = array[tuple(index) + (Ellipsis,)]
    perm, missing = partition.strided_axes(maps, len(shape))
    if perm != list(range(len(perm))):
        view = view.transpose(perm)
    for j in missing:
        view = np.expand_dims(view, j)
    return view


def _coordinates(maps: list, origin: list[int], shape: list[int]) -> tuple:
    return tuple(partition.output_coordinates(maps, origin, shape))


def view_or_gather(array: np.ndarray, transform: Any) -> np.ndarray:
    """`array` seen through `transform` (bounds already checked): a view when possible, else a
    gathered copy; shaped like the transform's input domain."""
    maps, origin, shape = partition.analyze(transform)
    if 0 in shape:  # nothing is accessed (constant outputs may point anywhere)
        return np.empty(shape, dtype=array.dtype)
    if partition.is_strided(maps):
        view = _strided_view(array, maps, origin, shape)
        return np.broadcast_to(view, tuple(shape)) if view.shape != tuple(shape) else view
    if not maps:
        return np.broadcast_to(array, tuple(shape))
    return array[_coordinates(maps, origin, shape)]


def scatter(array: np.ndarray, transform: Any, source: np.ndarray) -> None:
    """Writes `source` (shaped like the input domain) to the positions `transform` maps to."""
    maps, origin, shape = partition.analyze(transform)
    if 0 in shape:
        return
    if partition.is_strided(maps):
        view = _strided_view(array, maps, origin, shape)
        _, missing = partition.strided_axes(maps, len(shape))
        if missing:
            # Input dimensions no output depends on all land on the same elements: one will do.
            source = source[tuple(slice(0, 1) if j in missing else slice(None) for j in range(len(shape)))]
        np.copyto(view, source, casting="unsafe")
        return
    if not maps:
        if source.size:
            array[()] = source.reshape(-1)[-1]
        return
    array[_coordinates(maps, origin, shape)] = source


def unbroadcast_view(array: np.ndarray, transform: Any) -> tuple[np.ndarray, list[int]]:
    """(array, dims): the transformed array with the input dimensions along which its elements
    repeat (size 1, or not depended on) removed; `dims` are the input dimensions kept."""
    maps, origin, shape = partition.analyze(transform)
    if partition.is_strided(maps):
        view = _strided_view(array, maps, origin, shape)
        strides = view.strides
        keep = [j for j in range(len(shape)) if view.shape[j] > 1 and strides[j] != 0]
    else:
        used: set[int] = set()
        for m in maps:
            if m.kind == "single":
                used.add(m.input_dimension)
            elif m.kind == "array":
                used.update(j for j, n in enumerate(m.index_array.shape) if n > 1)
        keep = [j for j in range(len(shape)) if shape[j] > 1 and j in used]
        view = view_or_gather(array, transform)
    view = view[tuple(slice(None) if j in keep else 0 for j in range(len(shape))) + (Ellipsis,)]
    return view, keep
