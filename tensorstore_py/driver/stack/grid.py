"""Routing a request over the layers of a stack.

The layers' boxes cut the stack's domain into cells (per dimension, between consecutive layer
bounds); each cell belongs to the last layer covering it, or to none.  A request is split
into the parts that fall in one cell:

* strided requests (each output a constant or a strided input dimension) split into boxes of
  the request's input space, each a view of the caller's buffer;
* any other request (index arrays) is split point by point.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from typing import Any, Iterator, Sequence

import numpy as np

from ...errors import invalid_argument
from ...index import IndexDomain, IndexTransform, OutputIndexMap
from ...index.compose import inverse_image
from .. import partition

__all__ = ["LayerGrid", "BoxPart", "PointPart"]

_INF = (1 << 62) - 1


@dataclasses.dataclass
class BoxPart:
    layer: int
    transform: IndexTransform  # the request restricted to the box (stack coordinates)
    index: tuple  # slices of the caller's buffer


@dataclasses.dataclass
class PointPart:
    layer: int
    transform: IndexTransform  # rank 1 over the points, index arrays into the stack
    positions: np.ndarray  # flat (C order) positions in the caller's buffer


class LayerGrid:
    """The cells cut by `boxes` (one (lo, hi) inclusive pair of tuples per layer)."""

    def __init__(self, boxes: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], rank: int):
        self.rank = rank
        self.bounds: list[list[int]] = []
        for d in range(rank):
            edges = {lo[d] for lo, _ in boxes} | {hi[d] + 1 for _, hi in boxes}
            # Cells below the first and above the last layer bound (a domain given for the
            # stack may reach there) belong to no layer.
            self.bounds.append([-_INF] + sorted(edges) + [_INF + 1])
        shape = tuple(max(len(b) - 1, 0) for b in self.bounds)
        owner = np.full(shape, -1, dtype=np.int64)
        for k, (lo, hi) in enumerate(boxes):
            index = []
            for d in range(rank):
                a = bisect.bisect_left(self.bounds[d], lo[d])
                b = bisect.bisect_left(self.bounds[d], hi[d] + 1)
                index.append(slice(a, b))
            owner[tuple(index)] = k  # later layers win
        self.owner = owner

    def _missing(self, cell: Sequence[int]) -> ValueError:
        # As TensorStore, the cell past the last layer bound is reported at +infinity.
        origin = ", ".join(str(_INF if c == len(self.bounds[d]) - 2 else self.bounds[d][c]) for d, c in enumerate(cell))
        return invalid_argument(f'Cell with origin={{{origin}}} missing layer mapping in "stack" driver')

    # -- strided requests -----------------------------------------------------------------------

    def _runs(self, m: Any, d: int, origin: Sequence[int], shape: Sequence[int]) -> list[tuple[int, int | None, int, int]]:
        """Per cell of dimension `d` the request touches: (cell, input dim, start, stop) with
        start/stop relative to the input origin (input dim None: a constant output)."""
        edges = self.bounds[d]
        if m.kind == "constant":
            c = bisect.bisect_right(edges, m.offset) - 1
            return [(c, None, 0, 0)]
        j = m.input_dimension
        runs = []
        lo_in, hi_in = origin[j], origin[j] + shape[j] - 1
        for c in range(len(edges) - 1):
            qlo, qhi, _, _ = inverse_image(edges[c], edges[c + 1] - 1, False, False, m.offset, m.stride)
            a, b = max(qlo, lo_in), min(qhi, hi_in)
            if a <= b:
                runs.append((c, j, a - origin[j], b + 1 - origin[j]))
        if m.stride < 0:
            runs.sort(key=lambda r: r[2])
        return runs

    def box_parts(self, transform: IndexTransform) -> Iterator[BoxPart]:
        """The parts of a strided request, in C order of their position in the request."""
        maps, origin, shape = partition.analyze(transform)
        if any(s == 0 for s in shape):
            return
        per_dim = [self._runs(m, d, origin, shape) for d, m in enumerate(maps)]
        domain = transform.domain
        for combo in itertools.product(*per_dim):
            cell = tuple(r[0] for r in combo)
            layer = int(self.owner[cell])
            if layer < 0:
                raise self._missing(cell)
            lo = list(origin)
            hi = [o + s - 1 for o, s in zip(origin, shape)]
            index = [slice(None)] * len(shape)
            for _, j, start, stop in combo:
                if j is None:
                    continue
                lo[j], hi[j] = origin[j] + start, origin[j] + stop - 1
                index[j] = slice(start, stop)
            box = IndexDomain._make(lo, hi, [False] * len(lo), [False] * len(lo), domain.labels)
            yield BoxPart(layer, IndexTransform._make(box, tuple(transform.output)), tuple(index))

    # -- any request ----------------------------------------------------------------------------

    def point_parts(self, transform: IndexTransform) -> list[PointPart]:
        """The parts of a request with index arrays, one per layer, point by point."""
        maps, origin, shape = partition.analyze(transform)
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return []
        coords = [np.ascontiguousarray(c).reshape(-1) for c in partition.output_coordinates(maps, origin, shape)]
        cells = [np.searchsorted(np.asarray(self.bounds[d], dtype=np.int64), coords[d], side="right") - 1 for d in range(self.rank)]
        owner = self.owner[tuple(cells)] if self.rank else np.full(n, int(self.owner[()]))
        missing = np.nonzero(owner < 0)[0]
        if missing.size:
            # The first missing cell in C order of cell indices.
            keys = np.stack([c[missing] for c in cells], axis=1) if self.rank else np.zeros((missing.size, 0), np.int64)
            first = min(map(tuple, keys.tolist()))
            raise self._missing(first)
        parts = []
        for layer in np.unique(owner).tolist():
            sel = np.nonzero(owner == layer)[0]
            outputs = tuple(OutputIndexMap.from_array(coords[d][sel]) for d in range(self.rank))
            points = IndexTransform._make(IndexDomain(shape=[sel.size]), outputs)
            parts.append(PointPart(int(layer), points, sel))
        return parts
