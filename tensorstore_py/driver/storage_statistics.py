"""`TensorStore.storage_statistics`: which chunks under a view's domain are stored.

A chunked array stores an element exactly when the chunk holding it is stored, so the
question becomes one about grid cells: of the cells the view's positions fall into (the exact
set, so a strided or index-array view counts only the cells it touches, as TensorStore does),
how many have a stored key?  ``not_stored`` is "none", ``fully_stored`` is "all"; a view with
an empty domain is both.

A region of few cells is answered by probing each cell's key with a zero-byte read; a larger
one by listing the keys under the format's key prefix once and mapping each listed key back
to its cell (`ChunkFormat.cell_of_key`), which costs one request per page of stored keys
instead of one per cell.  A chunk kvstore that cannot list (the sharded precomputed one)
makes the query unsupported, with TensorStore's ``NotImplementedError``, whatever the region.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator

import numpy as np

from .. import future as futures
from ..errors import StatusError
from ..future import Future
from ..kvstore.driver import KvStoreDriver, ReadOptions
from ..kvstore.key_range import KeyRange, prefix_successor
from . import partition

__all__ = ["StorageStatistics", "storage_statistics", "driver_storage_statistics"]

#: Regions of at most this many cells are probed key by key; larger ones are listed.
PROBE_LIMIT = 256

def _optional_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if hasattr(value, "__index__"):
        return bool(value.__index__())
    raise TypeError(f"{name} must be a bool or None, not {type(value).__name__}")


class StorageStatistics:
    """What is stored for the elements of a domain (``None``: not asked for).

    `not_stored`: no element of the domain has data stored; `fully_stored`: every element
    has.  For chunked formats an element counts as stored when its chunk is stored.
    """

    __slots__ = ("_not_stored", "_fully_stored")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *, not_stored: bool | None = None, fully_stored: bool | None = None) -> None:
        self._not_stored = _optional_bool(not_stored, "not_stored")
        self._fully_stored = _optional_bool(fully_stored, "fully_stored")

    @property
    def not_stored(self) -> bool | None:
        """Whether no element of the domain is stored (None unless ``query_not_stored``)."""
        return self._not_stored

    @not_stored.setter
    def not_stored(self, value: bool | None) -> None:
        self._not_stored = _optional_bool(value, "not_stored")

    @property
    def fully_stored(self) -> bool | None:
        """Whether every element of the domain is stored (None unless ``query_fully_stored``)."""
        return self._fully_stored

    @fully_stored.setter
    def fully_stored(self, value: bool | None) -> None:
        self._fully_stored = _optional_bool(value, "fully_stored")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorageStatistics):
            raise TypeError(f"cannot compare TensorStore.StorageStatistics with {type(other).__name__}")
        return self._not_stored == other._not_stored and self._fully_stored == other._fully_stored

    def __repr__(self) -> str:
        return f"TensorStore.StorageStatistics(not_stored={self._not_stored}, fully_stored={self._fully_stored})"

    def __reduce__(self) -> Any:
        return (_restore, (self._not_stored, self._fully_stored))


StorageStatistics.__module__ = "tensorstore_py"
StorageStatistics.__qualname__ = "TensorStore.StorageStatistics"


def _restore(not_stored: bool | None, fully_stored: bool | None) -> StorageStatistics:
    return StorageStatistics(not_stored=not_stored, fully_stored=fully_stored)


# ---------------------------------------------------------------------------------------------
# Which cells a view touches.


class _Region:
    """The grid cells of a view: a product of per-dimension cell lists, or an explicit set."""

    def __init__(self, per_dim: list[list[int]] | None = None, cells: set[tuple[int, ...]] | None = None) -> None:
        self.per_dim = per_dim
        self.cells = cells
        self._sets = None if per_dim is None else [set(ks) for ks in per_dim]
        if cells is not None:
            self.size = len(cells)
        else:
            self.size = int(np.prod([len(ks) for ks in per_dim], dtype=object)) if per_dim else 1

    def __contains__(self, cell: tuple[int, ...]) -> bool:
        if self.cells is not None:
            return cell in self.cells
        return all(k in s for k, s in zip(cell, self._sets))

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        if self.cells is not None:
            return iter(self.cells)
        return itertools.product(*self.per_dim)



def _region(fmt: Any, transform: Any) -> _Region:
    maps, origin, shape = partition.analyze(transform)
    if fmt.origin is not None and any(fmt.origin):
        maps = [partition.shift(m, -o) for m, o in zip(maps, fmt.origin)]
    if any(s == 0 for s in shape):
        return _Region(cells=set())
    chunk = fmt.chunk_shape
    if partition.is_strided(maps):
        per_dim = []
        for d, m in enumerate(maps):
            if m.kind == "constant":
                per_dim.append([m.offset // chunk[d]])
                continue
            j = m.input_dimension
            start = m.offset + m.stride * origin[j]
            # One run per cell crossed, in order along the dimension: the cells are distinct.
            per_dim.append([run[0] for run in partition._runs(start, m.stride, shape[j], chunk[d])])
        return _Region(per_dim=per_dim)
    coords = partition.output_coordinates(maps, origin, shape)
    cell_coords = np.stack([np.asarray(c).reshape(-1) // n for c, n in zip(coords, chunk)], axis=1)
    unique = np.unique(cell_coords, axis=0)
    return _Region(cells={tuple(int(k) for k in row) for row in unique})


# ---------------------------------------------------------------------------------------------
# Finding which of them are stored.


def _count_by_probing(fmt: Any, kv: KvStoreDriver, region: _Region) -> Future:
    probes = [_catching(kv.read, fmt.chunk_key(cell), ReadOptions(byte_range=(0, 0))) for cell in region]
    return futures.chain(futures.gather(probes), lambda results: sum(r.state == "value" for r in results))


def _count_by_listing(fmt: Any, kv: KvStoreDriver, region: _Region) -> Future:
    prefix = getattr(fmt, "key_prefix", "").encode()
    key_range = KeyRange(prefix, prefix_successor(prefix)) if prefix else KeyRange()
    rank = len(fmt.chunk_shape)

    def count(keys: list[bytes]) -> int:
        found = set()
        for key in keys:
            try:
                cell = fmt.cell_of_key(key)
            except (ValueError, IndexError):
                cell = None  # some other file under the prefix
            if cell is None:
                continue
            cell = tuple(cell) + (0,) * (rank - len(cell))
            if cell in region:
                found.add(cell)
        return len(found)

    return futures.chain(_catching(kv.list, key_range), count)


def _catching(fn: Any, *args: Any) -> Future:
    try:
        return fn(*args)
    except (StatusError, ValueError, OSError) as exc:
        return futures.failed(exc)


def storage_statistics(
    fmt: Any, kvstore: KvStoreDriver, transform: Any, query_not_stored: bool, query_fully_stored: bool
) -> "Future[StorageStatistics]":
    """Statistics for the positions of `transform` (array coordinates out) in `fmt`'s grid.

    `fmt` is the array's `ChunkFormat`; `kvstore` the driver its chunk keys are read from.
    """
    if not query_not_stored and not query_fully_stored:
        return futures.ready(StorageStatistics())
    try:
        region = _region(fmt, transform)
    except (ValueError, TypeError, IndexError) as exc:
        return futures.failed(exc)
    if region.size <= PROBE_LIMIT:
        counted = _count_by_probing(fmt, kvstore, region)
    else:
        counted = _count_by_listing(fmt, kvstore, region)

    def make(present: int) -> StorageStatistics:
        return StorageStatistics(
            not_stored=(present == 0) if query_not_stored else None,
            fully_stored=(present == region.size) if query_fully_stored else None,
        )

    return futures.chain(counted, make)


def driver_storage_statistics(
    driver: Any, transform: Any, query_not_stored: bool, query_fully_stored: bool, transaction: Any = None
) -> "Future[StorageStatistics]":
    """`storage_statistics` for an opened chunked driver and a view's transform (counting
    what `transaction` has staged, if given)."""
    from ..index.compose import propagate_bounds

    own = getattr(driver, "storage_statistics", None)
    if own is not None:  # a virtual driver answers for itself (array) or asks its base (cast)
        return own(transform, query_not_stored, query_fully_stored, transaction)
    fmt = getattr(driver, "format", None)
    engine = getattr(driver, "engine", None)
    if fmt is None or engine is None:
        return futures.failed(NotImplementedError("Storage statistics not supported"))
    if not engine.kv.can_list:
        # TensorStore refuses, whatever was asked, with an exception without a message.
        return futures.failed(NotImplementedError(""))
    if not query_not_stored and not query_fully_stored:
        return futures.ready(StorageStatistics())
    try:
        # Positions past a resizable bound are allowed: they simply have nothing stored.
        resolved = propagate_bounds(transform, driver.domain, check_arrays=False)
    except (ValueError, TypeError, IndexError) as exc:
        return futures.failed(exc)
    kv = engine.kv if transaction is None else transaction.view(engine.kv)
    return storage_statistics(fmt, kv, resolved, query_not_stored, query_fully_stored)
