"""The opened downsample driver: a read-only view of a base view, reduced block by block.

A read resolves the requested positions to the box of blocks they touch, reads the base over
that box (one read through the base's own driver and transform, any driver, any view), reduces
it on the data-copy executor (the Cython kernel, split along the first dimension over the
pool's threads) and, unless the request was that box itself, picks the requested positions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...index import IndexDomain, IndexTransform, OutputIndexMap, OutputIndexMethod
from ..driver import Driver
from . import reduce as R

__all__ = ["DownsampleDriver"]

# Below this many base elements a read is reduced in one piece (splitting costs more).
_SPLIT_MIN_ELEMENTS = 1 << 22


class DownsampleDriver(Driver):
    """The downsampled view of ``(base_driver, base_transform)`` by `factors` with `method`."""

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

        base = transform_chunk_layout(self.base_driver.chunk_layout, self.base_transform)
        return transform_chunk_layout(base, self._strided())

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
            out = np.empty(shape, dtype=numpy_dtype)
        if any(n == 0 for n in shape):
            return futures.ready(out)
        lo, hi = _output_bounds(t)
        base_domain = self.base_transform.domain
        base_lo = list(base_domain.origin)
        base_hi = [h + 1 for h in base_domain.inclusive_max]
        blo, bhi = R.base_box(lo, hi, self.factors, base_lo, base_hi)
        box = IndexDomain._make(blo, [h - 1 for h in bhi], [False] * len(blo), [False] * len(blo), base_domain.labels)
        base_t = slice_by_domain(self.base_transform, box)
        if batch is None:
            src = self.base_driver.read(base_t, transaction)
        else:
            src = self.base_driver.read(base_t, transaction, batch=batch)
        direct = _is_box(t, lo)
        out_shape = [h - l for l, h in zip(lo, hi)]
        executor = self.data_copy.executor

        def reduce(data: np.ndarray) -> Any:
            target = out if direct else np.empty(out_shape, dtype=numpy_dtype)
            pieces = _split(data.size, out_shape[0] if out_shape else 1, self.data_copy.limit)
            if pieces <= 1:
                R.reduce_box(data, blo, lo, out_shape, self.factors, self.method, target)
                return _finish(target)
            bounds = np.linspace(lo[0], hi[0], pieces + 1).astype(int)
            jobs = []
            for a, b in zip(bounds[:-1], bounds[1:]):
                if a == b:
                    continue
                src_a = max(a * self.factors[0], blo[0]) - blo[0]
                src_b = min(b * self.factors[0], bhi[0]) - blo[0]
                jobs.append(futures.submit(
                    executor, R.reduce_box, data[src_a:src_b], [blo[0] + src_a, *blo[1:]], [a, *lo[1:]],
                    [b - a, *out_shape[1:]], self.factors, self.method, target[a - lo[0]:b - lo[0]],
                ))  # fmt: skip
            return futures.chain(futures.gather(jobs), lambda _: _finish(target))

        def _finish(target: np.ndarray) -> np.ndarray:
            if direct:
                return out
            out[...] = take(target, lo, t)
            return out

        return futures.chain(src, reduce, executor)

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


def _split(size: int, rows: int, limit: int) -> int:
    if size < _SPLIT_MIN_ELEMENTS:
        return 1
    return max(1, min(int(limit), rows))


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
