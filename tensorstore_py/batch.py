"""`ts.Batch`: reads deferred until submit, then coalesced per kvstore driver and key.

A read issued with a batch is queued (nothing is requested yet) until the batch is submitted:
by `Batch.submit`, on leaving ``with ts.Batch() as batch:``, or when the last reference to the
`Batch` goes away.  At submit, the queued reads of one key on one driver that share their
conditions (``if_equal``, ``if_not_equal``, ``staleness_bound``) become one request whose byte
range covers all of theirs; each read then gets its own slice of that one answer.  Identical
reads therefore share one request.

Engines call `batched_read(batch, driver, key, options)` (or `BatchState.read`) where they would
call ``driver.read(key, options)``.  Work that outlives the caller's call (a second stage of
reads issued from a callback) must keep the `BatchState` from `batch_state`, never the `Batch`
itself: the `Batch` object's lifetime is what submits it.  Reads queued on a state that was
already submitted run at once, so such stages never wait forever.

A driver whose reads cost nothing to issue one by one sets ``batch_reads = False`` (the memory
driver, as in TensorStore): its reads run at once even with a batch.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Literal, Sequence, TypeVar, Union

import numpy as np

from . import future as futures
from .errors import StatusError
from .future import Future, Promise
from .kvstore.driver import KvStoreDriver, ReadOptions, resolve_byte_range
from .kvstore.generation import ReadResult, TimestampedStorageGeneration

__all__ = [
    "Batch", "RecheckCacheOption", "DimSelectionLike", "NumpyIndexTerm", "NumpyIndexingSpec", "T",
]  # fmt: skip

T = TypeVar("T")

#: When cached data or metadata must be revalidated (see `ts.open`).
RecheckCacheOption = Union[bool, Literal["open"], float]
#: An integer, slice, ellipsis, newaxis or index array in a NumPy-style index.
NumpyIndexTerm = Union[int, slice, "type(Ellipsis)", None, Sequence[int], np.ndarray]
NumpyIndexingSpec = Union[NumpyIndexTerm, tuple]
#: Dimensions named by index, label or slice, as `ts.d[...]` takes them.
DimSelectionLike = Union[int, str, slice, Sequence[Union[int, str, slice]], Any]

ByteRange = Union[tuple[int, Union[int, None]], None]


class _Group:
    """Queued reads of one key on one driver under the same conditions."""

    __slots__ = ("driver", "key", "options", "waiters")

    def __init__(self, driver: KvStoreDriver, key: bytes, options: ReadOptions) -> None:
        self.driver = driver
        self.key = key
        self.options = options
        #: byte range -> promises of the reads asking for exactly that range
        self.waiters: dict[ByteRange, list[Promise]] = {}


class BatchState:
    """The queue behind a `Batch`: reads wait here until `submit`, which runs at most once."""

    __slots__ = ("_lock", "_groups", "_submitted", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple, _Group] = {}
        self._submitted = False

    @property
    def submitted(self) -> bool:
        return self._submitted

    def read(self, driver: KvStoreDriver, key: bytes, options: ReadOptions) -> "Future[ReadResult]":
        """Queues a read of `key` (a full key of `driver`); runs it at once after submit."""
        if not getattr(driver, "batch_reads", True):
            return _direct_read(driver, key, options)
        byte_range = options.byte_range
        group_key: tuple = (driver, key, options.if_equal, options.if_not_equal, options.staleness_bound)
        if not _coalescable(byte_range):
            # Left alone, so it fails with exactly the error it would give unbatched.
            group_key += (object(),)
        promise, fut = Promise.new()
        with self._lock:
            if not self._submitted:
                group = self._groups.get(group_key)
                if group is None:
                    group = self._groups[group_key] = _Group(driver, key, options)
                group.waiters.setdefault(byte_range, []).append(promise)
                return fut
        return _direct_read(driver, key, options)

    def submit(self) -> None:
        """Issues every queued read; later calls do nothing."""
        with self._lock:
            if self._submitted:
                return
            self._submitted = True
            groups, self._groups = self._groups, {}
        for group in groups.values():
            _issue(group)


class Batch:
    """Groups reads so that they are issued together, coalesced per key.

    Reads given ``batch=`` are deferred until the batch is submitted: by `submit`, at the end
    of a ``with`` block, or when the last reference to the batch is dropped.  Waiting on such
    a read while still holding an unsubmitted batch therefore waits forever.
    """

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = BatchState()

    def submit(self) -> None:
        """Submits the batch: every deferred read is issued.  Submitting again does nothing."""
        self._state.submit()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._state.submit()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            state.submit()

    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle 'tensorstore_py.Batch' object")


Batch.__module__ = "tensorstore_py"


def batch_state(batch: Any) -> BatchState | None:
    """The state of a user's ``batch=`` argument, checked as TensorStore checks it.

    None stays None; anything but a `Batch` is a TypeError; a submitted batch is refused with
    TensorStore's ValueError.  Engines keep the returned state, not the `Batch`.
    """
    if batch is None:
        return None
    if isinstance(batch, BatchState):
        return batch
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a tensorstore_py.Batch, not {type(batch).__name__}")
    if batch._state.submitted:
        raise ValueError("batch was already submitted")
    return batch._state


def batched_read(batch: "Batch | BatchState | None", driver: KvStoreDriver, key: bytes, options: ReadOptions) -> "Future[ReadResult]":
    """``driver.read(key, options)``, deferred into `batch` when one is given.

    The engine-level entry point: never raises, never refuses a submitted batch (the read then
    runs at once), and turns a driver's synchronous exception into a failed Future.
    """
    if batch is None:
        return _direct_read(driver, key, options)
    state = batch._state if isinstance(batch, Batch) else batch
    return state.read(driver, key, options)


# ---------------------------------------------------------------------------------------------
# Issuing a group.


def _direct_read(driver: KvStoreDriver, key: bytes, options: ReadOptions) -> "Future[ReadResult]":
    try:
        return driver.read(key, options)
    except (StatusError, ValueError, OSError) as exc:
        return futures.failed(exc)


def _coalescable(byte_range: ByteRange) -> bool:
    """Whether a range can share a request: whole value, a suffix, or a valid ``[lo, hi)``."""
    if byte_range is None:
        return True
    lo, hi = byte_range
    if hi is None:
        return True
    return 0 <= lo <= hi


def _covering(ranges: Sequence[ByteRange]) -> ByteRange:
    """One request range covering every range of `ranges` (None: the whole value)."""
    lo: int | None = None
    hi: int | None = 0
    for r in ranges:
        if r is None or r[0] < 0:
            return None  # the whole value, or a suffix of unknown start
        lo = r[0] if lo is None else min(lo, r[0])
        if r[1] is None or hi is None:
            hi = None
        else:
            hi = max(hi, r[1])
    assert lo is not None
    if lo == 0 and hi is None:
        return None
    return (lo, hi)


def _issue(group: _Group) -> None:
    waiters = group.waiters
    if len(waiters) == 1:
        (byte_range, promises), = waiters.items()
        fut = _direct_read(group.driver, group.key, _with_range(group.options, byte_range))
        fut.add_done_callback(lambda f: _settle_all(f, promises))
        return
    request = _covering(list(waiters))
    fut = _direct_read(group.driver, group.key, _with_range(group.options, request))
    fut.add_done_callback(lambda f: _distribute(f, group, request))


def _with_range(options: ReadOptions, byte_range: ByteRange) -> ReadOptions:
    return ReadOptions(options.if_equal, options.if_not_equal, options.staleness_bound, byte_range)


def _copy_result(result: ReadResult, value: bytes = b"") -> ReadResult:
    stamp = result.stamp
    return ReadResult(result.state, value, TimestampedStorageGeneration(stamp.generation, stamp.time))


def _error_of(fut: Future) -> BaseException | None:
    return concurrent.futures.CancelledError() if fut.cancelled() else fut.exception()


def _settle_all(fut: Future, promises: list[Promise]) -> None:
    exc = _error_of(fut)
    for i, p in enumerate(promises):
        if exc is not None:
            p.set_exception(exc)
        else:
            result = fut.result()
            # The first reader gets the driver's own result; the others equal copies of it.
            p.set_result(result if i == 0 else _copy_result(result, result.value))


def _distribute(fut: Future, group: _Group, request: ByteRange) -> None:
    """Hands each queued read its part of the covering request's answer."""
    exc = _error_of(fut)
    if exc is not None:
        if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE" and request is not None:
            # The value is shorter than the covering range: some reads may still be valid,
            # and each must get the answer (or error, naming its own range) it would get alone.
            for byte_range, promises in group.waiters.items():
                single = _direct_read(group.driver, group.key, _with_range(group.options, byte_range))
                single.add_done_callback(lambda f, ps=promises: _settle_all(f, ps))
            return
        for promises in group.waiters.values():
            for p in promises:
                p.set_exception(exc)
        return
    result: ReadResult = fut.result()
    if result.state != "value":
        for promises in group.waiters.values():
            for p in promises:
                p.set_result(_copy_result(result))
        return
    value = result.value
    start = 0 if request is None else request[0]
    # With an open-ended request the whole tail arrived, so the value's size is known and
    # every range is checked against it exactly as an unbatched read would be.
    size = start + len(value) if request is None or request[1] is None else None
    for byte_range, promises in group.waiters.items():
        try:
            if size is not None:
                lo, hi = resolve_byte_range(byte_range, size)
            else:
                assert byte_range is not None and byte_range[1] is not None
                lo, hi = byte_range
            part = value[lo - start : hi - start]
        except StatusError as err:
            for p in promises:
                p.set_exception(err)
            continue
        for p in promises:
            p.set_result(_copy_result(result, part))
