"""The opened downsample driver: a read-only view of a base view, reduced block by block.

A read resolves the requested positions to the box of blocks they touch, reads the base over
that box (one read through the base's own driver and transform, any driver, any view), reduces
it on the data-copy executor (the Cython kernel, split along the first dimension over the
pool's threads) and, unless the request was that box itself, picks the requested positions.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import math
import threading
from typing import Any, Sequence

import numpy as np

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...index import IndexDomain, IndexTransform, OutputIndexMap, OutputIndexMethod
from ..chunk_memory import empty_output
from ..driver import Driver
from . import reduce as R
from .propagate import edge_repeating_dims

__all__ = ["DownsampleDriver"]

# Base elements per tile a read is cut into: large enough that per-tile costs vanish, small
# enough that reading and reducing overlap and memory stays bounded.
_TILE_ELEMENTS = 1 << 21


class DownsampleDriver(Driver):
    """The downsampled view of ``(base_driver, base_transform)`` by `factors` with `method`."""

    #: (a view of other drivers: `spec(retain_context=True)` cannot bind its bases yet)
    wraps_driver = True

    def __init__(self, base_driver: Any, base_transform: IndexTransform, factors: Sequence[int], method: str, context: Any):
        self.base_driver = base_driver
        self.base_transform = base_transform
        self.factors = tuple(int(f) for f in factors)
        self.method = method
        self.context = context
        self.spec = getattr(base_driver, "spec", None)
        self.data_copy = context.get_resource("data_copy_concurrency", None)
        self._domain = R.downsample_domain(base_transform.domain, self.factors, method)
        d = self._domain
        self._io_domain = IndexDomain._make(d._lo, d._hi, [False] * d.rank, [False] * d.rank, d._labels)

    # -- what the array is ------------------------------------------------------------------------

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self) -> Any:
        return self.base_driver.dtype

    def _strided(self) -> IndexTransform:
        """Downsampled positions -> the base view position each block starts at."""
        rank = len(self.factors)
        outputs = [OutputIndexMap(input_dimension=d, stride=f) for d, f in enumerate(self.factors)]
        return IndexTransform(input_rank=rank, output=outputs)

    @property
    def chunk_layout(self) -> Any:
        from ...schema.transform import transform_chunk_layout

        return transform_chunk_layout(self.chunk_layout_of_base(), self._strided())

    @property
    def codec(self) -> Any:
        return self.base_driver.codec

    @property
    def fill_value(self) -> Any:
        from ...schema.transform import transform_fill_value

        fill = self.base_driver.fill_value
        if fill is None:
            return None
        seen = transform_fill_value(np.asarray(fill), self.base_transform, list(self.base_driver.domain.origin))
        return np.asarray(seen).reshape(-1)[0] if np.all(np.asarray(seen) == np.asarray(seen).reshape(-1)[0]) else None

    @property
    def dimension_units(self) -> Any:
        from ...schema.transform import transform_dimension_units

        units = transform_dimension_units(self.base_driver.dimension_units, self.base_transform)
        if units is None:
            return None
        return [None if u is None else u * f for u, f in zip(units, self.factors)]

    # -- I/O ----------------------------------------------------------------------------------------

    def current(self, transaction: Any = None) -> Future:
        from ...index.compose import propagate_bounds

        def rebind(base: Any) -> "DownsampleDriver":
            if base is self.base_driver:
                return self
            transform = propagate_bounds(self.base_transform, base.domain)
            return DownsampleDriver(base, transform, self.factors, self.method, self.context)

        return futures.chain(self.base_driver.current(transaction), rebind)

    def read(self, transform: IndexTransform, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        from ...index.compose import propagate_bounds, slice_by_domain

        t = propagate_bounds(transform, self._io_domain)
        shape = tuple(int(n) for n in t.input_shape)
        numpy_dtype = self.dtype.numpy_dtype
        if out is None:
            out = empty_output(shape, numpy_dtype)
        if any(n == 0 for n in shape):
            return futures.ready(out)
        lo, hi = _output_bounds(t)
        base_domain = self.base_transform.domain
        base_lo = list(base_domain.origin)
        base_hi = [h + 1 for h in base_domain.inclusive_max]
        blo, bhi = R.base_box(lo, hi, self.factors, base_lo, base_hi)
        direct = _is_box(t, lo)
        out_shape = [h - l for l, h in zip(lo, hi)]
        target = out if direct else np.empty(out_shape, dtype=numpy_dtype)
        tiles = _tiles(blo, bhi, self.factors, self._base_chunking())
        repeat_edges = edge_repeating_dims(t, self.factors)

        # Tile buffers are reused: fresh large arrays would cost a page fault per 4 KiB.
        window = 2 * max(1, int(self.data_copy.limit))
        largest = max(math.prod(h - l for l, h in zip(a, b)) for a, b in tiles)
        free: list = []
        free_lock = threading.Lock()

        def read_tile(tile: tuple) -> Future:
            tlo, thi = tile
            box = IndexDomain._make(tlo, [h - 1 for h in thi], [False] * len(tlo), [False] * len(tlo), base_domain.labels)
            base_t = slice_by_domain(self.base_transform, box)
            with free_lock:
                flat = free.pop() if free else None
            if flat is None:
                flat = np.empty(largest, dtype=numpy_dtype)
            buffer = flat[: math.prod(h - l for l, h in zip(tlo, thi))].reshape([h - l for l, h in zip(tlo, thi)])
            if batch is None:
                data = self.base_driver.read(base_t, transaction, buffer)
            else:
                data = self.base_driver.read(base_t, transaction, buffer, batch=batch)
            return futures.chain(data, lambda arr: (arr, flat))

        def reduce_tile(tile: tuple, read: tuple) -> None:
            data, flat = read
            try:
                _reduce_tile(tile, data)
            finally:
                with free_lock:
                    free.append(flat)

        def _reduce_tile(tile: tuple, data: np.ndarray) -> None:
            tlo, thi = tile
            olo = [max(a // f, l) for a, f, l in zip(tlo, self.factors, lo)]
            ohi = [min(-(-b // f), h) for b, f, h in zip(thi, self.factors, hi)]
            region = target[tuple(slice(a - l, b - l) for a, b, l in zip(olo, ohi, lo))]
            oshape = [b - a for a, b in zip(olo, ohi)]
            if any(repeat_edges):
                data, tlo = R.repeat_edges(data, tlo, olo, oshape, self.factors, repeat_edges)
            R.reduce_box(data, tlo, olo, oshape, self.factors, self.method, region)

        def finish(_: Any) -> np.ndarray:
            if direct:
                return out
            out[...] = take(target, lo, t)
            return out

        return futures.chain(_run_windowed(tiles, read_tile, reduce_tile, self.data_copy.executor, window), finish)

    def _base_chunking(self) -> tuple | None:
        """(read chunk shape, grid origin) of the base view, where it has a regular grid."""
        try:
            layout = self.chunk_layout_of_base()
            shape = layout.read_chunk.shape
            origin = layout.grid_origin
        except (ValueError, TypeError, AttributeError):
            return None
        if shape is None or any(not s for s in shape):
            return None
        return tuple(int(s) for s in shape), tuple(int(o) if o is not None else 0 for o in (origin or [0] * len(shape)))

    def chunk_layout_of_base(self) -> Any:
        from ...schema.transform import transform_chunk_layout

        return transform_chunk_layout(self.base_driver.chunk_layout, self.base_transform)

    def write(self, transform: IndexTransform, array: np.ndarray, transaction: Any = None) -> Any:
        from ...tensorstore import failed_write

        return failed_write(invalid_argument("Destination does not support writing."))

    # -- spec -----------------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        base = self.base_driver.spec_json(builder, minimal)
        base.pop("dtype", None)
        base["transform"] = self.base_transform.to_json()
        return {
            "driver": "downsample",
            "base": {k: base[k] for k in sorted(base)},
            "downsample_factors": list(self.factors),
            "downsample_method": self.method,
            "dtype": self.dtype.name,
        }

    def context_resources(self) -> list:
        return [*self.base_driver.context_resources(), self.data_copy]

    def base_view(self, transform: IndexTransform) -> tuple[Any, IndexTransform]:
        """(base driver, transform) of the base positions the view `transform` reduces."""
        from ...index.compose import compose, propagate_bounds
        from .propagate import upsample_transform

        t = propagate_bounds(transform, self._io_domain)
        base_domain = self.base_transform.domain
        base_hi = [h + 1 for h in base_domain.inclusive_max]
        up = upsample_transform(t, self.factors, list(base_domain.origin), base_hi)
        return self.base_driver, compose(self.base_transform, up)


def _tiles(lo: Sequence[int], hi: Sequence[int], factors: Sequence[int], chunking: tuple | None) -> list[tuple]:
    """The base box [lo, hi) cut into tiles: tile boundaries are block boundaries (multiples of
    the factor) and, where the base has a chunk grid they can share, chunk boundaries too (each
    chunk is then read once).  Tiles grow from the innermost dimension outwards to about
    `_TILE_ELEMENTS` elements."""
    rank = len(lo)
    if rank == 0:
        return [(list(lo), list(hi))]
    step, anchor = list(factors), [0] * rank
    if chunking is not None:
        for d, (c, o) in enumerate(zip(*chunking)):
            f = factors[d]
            m = math.lcm(c, f)
            if m > 4 * max(c, f):
                continue
            for a in range(0, m, f):
                if (a - o) % c == 0:
                    step[d], anchor[d] = m, a
                    break
    tile = list(step)
    for d in range(rank - 1, -1, -1):
        outer = math.prod(tile) // tile[d]
        if outer * tile[d] >= _TILE_ELEMENTS:
            break
        steps_needed = -(-_TILE_ELEMENTS // (outer * step[d]))
        steps_covering = -(-(hi[d] - lo[d]) // step[d]) + 1
        tile[d] = step[d] * max(1, min(steps_needed, steps_covering))
    per_dim = []
    for d in range(rank):
        cuts = []
        start = lo[d]
        k = (lo[d] - anchor[d]) // tile[d]
        while start < hi[d]:
            k += 1
            stop = min(anchor[d] + k * tile[d], hi[d])
            cuts.append((start, stop))
            start = stop
        per_dim.append(cuts or [(lo[d], hi[d])])
    return [([c[0] for c in combo], [c[1] for c in combo]) for combo in itertools.product(*per_dim)]


def _run_windowed(tiles: list, read: Any, reduce: Any, executor: Any, window: int) -> Future:
    """Reads tiles (at most `window` read or being reduced at once) and reduces each on
    `executor` as it arrives; a Future of None once all are reduced, or the first error."""
    done: Future = Future()
    lock = threading.Lock()
    state = {"next": 0, "remaining": len(tiles), "failed": False}
    if not tiles:
        done.set_result(None)
        return done

    def start_next() -> None:
        with lock:
            if state["failed"] or state["next"] >= len(tiles):
                return
            tile = tiles[state["next"]]
            state["next"] += 1
        try:
            fut = futures.chain(read(tile), lambda data: reduce(tile, data), executor)
        except BaseException as exc:  # noqa: BLE001 - reported through `done`
            fut = futures.failed(exc)
        fut.add_done_callback(finished)

    def finished(fut: Any) -> None:
        exc = fut.exception() if not fut.cancelled() else concurrent.futures.CancelledError()
        with lock:
            if state["failed"]:
                return
            if exc is not None:
                state["failed"] = True
            else:
                state["remaining"] -= 1
            last = state["remaining"] == 0
        if exc is not None:
            futures._settle(done, exception=exc)
        elif last:
            futures._settle(done, result=None)
        else:
            start_next()

    for _ in range(min(window, len(tiles))):
        start_next()
    return done


def _output_bounds(t: IndexTransform) -> tuple[list[int], list[int]]:
    """Per output dimension, the [lo, hi) of the positions `t` maps its domain to."""
    lo, hi = [], []
    origin, shape = t.input_origin, t.input_shape
    for m in t.output:
        method = m.method
        if method == OutputIndexMethod.constant or (method == OutputIndexMethod.single_input_dimension and m.stride == 0):
            a = b = int(m.offset)
        elif method == OutputIndexMethod.single_input_dimension:
            i = m.input_dimension
            ends = (m.offset + m.stride * origin[i], m.offset + m.stride * (origin[i] + shape[i] - 1))
            a, b = min(ends), max(ends)
        else:
            arr = np.asarray(m.index_array)
            a = int(m.offset + m.stride * (arr.min() if m.stride > 0 else arr.max()))
            b = int(m.offset + m.stride * (arr.max() if m.stride > 0 else arr.min()))
        lo.append(int(a))
        hi.append(int(b) + 1)
    return lo, hi


def _is_box(t: IndexTransform, lo: Sequence[int]) -> bool:
    """Whether `t` is the box starting at `lo` itself (output d = input d, stride 1)."""
    if t.input_rank != t.output_rank:
        return False
    for d, m in enumerate(t.output):
        if m.method != OutputIndexMethod.single_input_dimension or m.input_dimension != d or m.stride != 1:
            return False
        if m.offset + t.input_origin[d] != lo[d]:
            return False
    return True


def take(array: np.ndarray, origin: Sequence[int], t: IndexTransform) -> np.ndarray:
    """The elements of `array` (whose first element is at `origin`) at every position of `t`'s
    domain, broadcast to its shape."""
    rank = t.input_rank
    in_origin, in_shape = t.input_origin, tuple(int(n) for n in t.input_shape)
    index = []
    for d, m in enumerate(t.output):
        method = m.method
        if method == OutputIndexMethod.constant or (method == OutputIndexMethod.single_input_dimension and m.stride == 0):
            index.append(np.asarray(int(m.offset) - origin[d]).reshape((1,) * rank))
        elif method == OutputIndexMethod.single_input_dimension:
            i = m.input_dimension
            positions = m.offset + m.stride * (np.arange(in_shape[i], dtype=np.int64) + in_origin[i]) - origin[d]
            index.append(positions.reshape([in_shape[i] if k == i else 1 for k in range(rank)]))
        else:
            arr = np.asarray(m.index_array, dtype=np.int64)
            index.append((m.offset + m.stride * arr - origin[d]).reshape(arr.shape if arr.ndim == rank else (1,) * rank))
    if not index:
        return np.broadcast_to(array, in_shape)
    return np.broadcast_to(array[tuple(index)], in_shape)
