"""The chunk cache: decoded chunks kept in a context's `cache_pool`, least recently used first out.

As in TensorStore, nothing is cached unless the pool has a non-zero `total_bytes_limit`, and
`recheck_cached_data` says when a cached chunk must be revalidated against storage before use:
`True` (the default) on every read, `False` never, `"open"` if it was cached before the store
was opened, a number if it was cached before that time.  Revalidation reads with
`if_not_equal=<cached generation>`, so an unchanged chunk costs a metadata check, not a decode.
Writes drop the chunks they replace.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import threading
import time
from typing import Any

import numpy as np

from .. import metrics
from ..errors import invalid_argument

__all__ = ["ChunkCache", "CachedChunk", "cache_for_pool", "staleness_bound"]


@dataclasses.dataclass
class CachedChunk:
    chunk: np.ndarray  # the full stored chunk, read-only
    generation: bytes
    time: float  # when storage last confirmed this generation


class ChunkCache:
    """LRU map (kvstore driver id, key) -> CachedChunk within a byte budget."""

    def __init__(self, total_bytes_limit: int):
        self.total_bytes_limit = total_bytes_limit
        self._entries: "collections.OrderedDict[tuple[int, bytes], CachedChunk]" = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: tuple[int, bytes]) -> CachedChunk | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        (metrics.CACHE_MISS if entry is None else metrics.CACHE_HIT).increment()
        return entry

    def put(self, key: tuple[int, bytes], chunk: np.ndarray, generation: bytes, when: float, only_if_newer: bool = False) -> None:
        """Caches `chunk` as stored under `generation` as of `when`; with `only_if_newer`, not
        over an entry confirmed later (a writeback finishing after a newer read or write)."""
        size = chunk.nbytes
        if size > self.total_bytes_limit:
            self.discard(key)
            return
        chunk.flags.writeable = False  # shared by every reader from now on
        with self._lock:
            current = self._entries.get(key)
            if only_if_newer and current is not None and current.time > when:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.chunk.nbytes
            self._entries[key] = CachedChunk(chunk, generation, when)
            self._bytes += size
            while self._bytes > self.total_bytes_limit:
                _, evicted = self._entries.popitem(last=False)
                metrics.CACHE_EVICT.increment()
                self._bytes -= evicted.chunk.nbytes

    def confirm(self, key: tuple[int, bytes], generation: bytes, when: float) -> None:
        """Storage still holds `generation`: the entry is fresh as of `when`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.generation == generation:
                entry.time = max(entry.time, when)

    def discard(self, key: tuple[int, bytes]) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.chunk.nbytes


_caches_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _caches_lock
    _caches_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def cache_for_pool(pool: Any) -> ChunkCache | None:
    """The cache of a `cache_pool` resource (one per resource), or None when its limit is 0."""
    limit = pool.total_bytes_limit
    if not limit:
        return None
    with _caches_lock:
        cache = getattr(pool, "_chunk_cache", None)
        if cache is None:
            cache = ChunkCache(limit)
            pool._chunk_cache = cache
        return cache


def staleness_bound(option: Any, open_time: float) -> Any:
    """A callable giving the time before which cached data must be revalidated."""
    if option is None or option is True:
        return time.time  # every read revalidates
    if option is False:
        return lambda: float("-inf")
    if option == "open":
        return lambda: open_time
    if isinstance(option, (int, float)):
        return lambda: float(option)
    raise invalid_argument(f'Expected boolean, "open", or number, but received: {option!r}')
