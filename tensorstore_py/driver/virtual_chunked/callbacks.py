"""Calling the user's read and write functions of a virtual_chunked view.

The chunked engine reads and writes chunks through a key-value store; `CallbackStore` is that
store for a virtual view: the key names a grid cell, a read calls ``read_function(domain,
array, params)`` and a write calls ``write_function(domain, array, params)``.  Values are
`ChunkValue`s (decoded arrays riding on the engine's bytes-valued interface), so no chunk is
ever encoded.  A function may return its result directly, a `Future`, or a coroutine (run on
the view's event loop); what it returns is a `KvStore.TimestampedStorageGeneration` or None.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any

import numpy as np

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...kvstore.generation import INVALID, UNKNOWN, ReadResult, TimestampedStorageGeneration

__all__ = ["ChunkValue", "CallbackStore", "VirtualChunkedReadParameters", "VirtualChunkedWriteParameters"]


class VirtualChunkedReadParameters:
    """Options passed to read callbacks used with `virtual_chunked`."""

    __slots__ = ("_batch", "_if_not_equal", "_staleness_bound")

    def __init__(self, batch: Any, if_not_equal: bytes, staleness_bound: float):
        self._batch = batch
        self._if_not_equal = if_not_equal
        self._staleness_bound = staleness_bound

    @property
    def batch(self) -> Any:
        """Batch associated with the read request (None without one)."""
        return self._batch

    @property
    def if_not_equal(self) -> bytes:
        """Cached generation: the read may be skipped if no newer data is available."""
        return self._if_not_equal

    @property
    def staleness_bound(self) -> float:
        """The read may be fulfilled with cached data no older than this time."""
        return self._staleness_bound


class VirtualChunkedWriteParameters:
    """Options passed to write callbacks used with `virtual_chunked`."""

    __slots__ = ("_if_equal",)

    def __init__(self, if_equal: bytes):
        self._if_equal = if_equal

    @property
    def if_equal(self) -> bytes:
        """If non-empty, the write should be conditioned on the existing data having this
        generation."""
        return self._if_equal


VirtualChunkedReadParameters.__module__ = VirtualChunkedWriteParameters.__module__ = "tensorstore_py"


class ChunkValue(bytes):
    """A chunk's array where the engine expects a stored value (empty bytes plus `array`).

    Equal only to itself, so the read-modify-write never mistakes two chunks for the same.
    """

    array: np.ndarray

    def __new__(cls, array: np.ndarray) -> "ChunkValue":
        self = super().__new__(cls, b"")
        self.array = array
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__


def _coroutine_error() -> ValueError:
    return invalid_argument("no event loop specified and thread does not have a default event loop")


def settle_callback(result: Any, loop: Any) -> Future:
    """Future of what a callback returned: a value, a Future or a coroutine (run on `loop`)."""
    if inspect.isawaitable(result) and not isinstance(result, Future):
        if loop is None:
            if inspect.iscoroutine(result):
                result.close()
            raise _coroutine_error()
        out: Future = Future()
        futures._run_awaitable(result, out, loop)
        return out
    if isinstance(result, Future):
        return result
    import concurrent.futures

    if isinstance(result, concurrent.futures.Future):
        out = Future()
        futures._link(result, out)
        return out
    return futures.ready(result)


def as_stamp(result: Any, requested: float) -> TimestampedStorageGeneration:
    """The stamp a callback's result stands for.  None: a value that may be cached forever.
    A finite time counts from no later than the request (the chunk is rechecked after)."""
    if result is None:
        return TimestampedStorageGeneration(UNKNOWN, math.inf)
    if not isinstance(result, TimestampedStorageGeneration):
        raise RuntimeError(
            f"Unable to cast Python instance of type {type(result)} to C++ type "
            "'tensorstore::TimestampedStorageGeneration'"
        )
    when = result.time if math.isinf(result.time) else min(result.time, requested)
    return TimestampedStorageGeneration(result.generation, when)


class CallbackStore:
    """The engine's key-value store of a virtual view (see the module docstring)."""

    batch_reads = False  # the read function gets the batch instead (see `with_batch`)
    atomic_multi_key = False
    can_list = False
    base = None
    base_path = ""

    def __init__(self, owner: Any, batch: Any = None):
        #: the `VirtualChunkedDriver`'s shared state: functions, loop, grid, executor
        self.owner = owner
        self.batch = batch
        self.cache_identity = owner.identity

    def with_batch(self, batch: Any) -> "CallbackStore":
        return CallbackStore(self.owner, batch)

    def describe_key(self, key: bytes) -> str:
        domain, region = self.owner.cell_domain(self._cell(key))
        origin = ", ".join(map(str, domain.origin))
        shape = ", ".join(str(s.stop) for s in region)
        return f"virtual chunk {{origin={{{origin}}}, shape={{{shape}}}}}"

    def now(self) -> float:
        return time.time()

    def _cell(self, key: bytes) -> tuple[int, ...]:
        return tuple(int(x) for x in key.decode().split(",")) if key else ()

    def read(self, key: bytes, options: Any) -> Future:
        owner = self.owner
        if owner.read_function is None:
            return futures.failed(invalid_argument("Write-only virtual chunked view requires chunk-aligned writes"))
        cell = self._cell(key)
        domain, region = owner.cell_domain(cell)
        requested = time.time()
        # The engine's reads all ask for data as of now (TensorStore asks the same, except in
        # the read of a read-modify-write, where it passes -inf).
        staleness = options.staleness_bound if options.staleness_bound is not None else requested
        params = VirtualChunkedReadParameters(self.batch, options.if_not_equal or UNKNOWN, staleness)

        def call() -> Any:
            array = owner.new_array(region)
            returned = settle_callback(owner.read_function(domain, array, params), owner.loop)
            return futures.chain(returned, lambda r: finish(array, r))

        def finish(array: np.ndarray, returned: Any) -> Any:
            stamp = as_stamp(returned, requested)
            if stamp.generation == UNKNOWN and returned is not None:
                # "Unchanged since `if_not_equal`": the array is not used.  With nothing cached,
                # TensorStore then has the fill value, which it caches like any read.
                if options.if_not_equal:
                    return ReadResult("unspecified", b"", stamp)
                return ReadResult("value", ChunkValue(owner.format.new_chunk()), stamp)
            chunk = owner.full_chunk(array, region)
            return ReadResult("value", ChunkValue(chunk), stamp)

        return futures.submit(owner.executor, call)

    def write(self, key: bytes, value: Any, options: Any) -> Future:
        owner = self.owner
        if value is None:
            return futures.ready(TimestampedStorageGeneration(UNKNOWN, time.time()))
        cell = self._cell(key)
        domain, region = owner.cell_domain(cell)
        params = VirtualChunkedWriteParameters(options.if_equal or UNKNOWN)
        requested = time.time()

        def call() -> Any:
            array = np.ascontiguousarray(value.array[region])
            returned = settle_callback(owner.write_function(domain, array, params), owner.loop)
            return futures.chain(returned, finish)

        def finish(returned: Any) -> TimestampedStorageGeneration:
            stamp = as_stamp(returned, requested)
            if stamp.generation == UNKNOWN:
                # Written, version unknown: a generation no later condition matches.
                return TimestampedStorageGeneration(INVALID, stamp.time)
            return stamp

        return futures.submit(owner.executor, call)

    def delete_range(self, key_range: Any) -> Future:
        return futures.failed(invalid_argument("virtual_chunked views cannot delete chunks"))

    def list(self, key_range: Any, strip_prefix_length: int = 0) -> Future:
        return futures.failed(invalid_argument("virtual_chunked views cannot list chunks"))

