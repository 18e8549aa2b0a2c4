"""The one conditional read-modify-write of the project.

Everything that changes a stored value based on what is stored — partially written chunks,
shards of sharded formats, array metadata (create, resize), precomputed `info` scales — is a
function from the stored value to the new one, applied here: read the value and its
generation, compute the new value, write it on the condition that the generation is unchanged,
and on conflict start over from a fresh read.  The function is re-applied to the new stored
value each time, so it must derive everything from its argument and from data it owns (never
from a caller's buffer that may have changed since).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Callable

from .. import future as futures
from .. import metrics
from ..errors import aborted
from ..future import Future
from ..kvstore.driver import ReadOptions, WriteOptions
from ..kvstore.generation import NO_VALUE, UNKNOWN, TimestampedStorageGeneration

__all__ = ["UNCHANGED", "read_modify_write", "generation_mismatch"]

#: Returned by an update function to leave the stored value as it is (no write).
UNCHANGED: Any = object()

Update = Callable[[Any, bytes], Any]  # (stored value or None, its generation) -> new value


def generation_mismatch(kv: Any, key: bytes, writing: bool = True) -> BaseException:
    verb = "writing" if writing else "reading"
    return aborted(f"Error {verb} {kv.describe_key(key)}: Generation mismatch")


def read_modify_write(
    kv: Any,
    key: bytes,
    update: Update,
    *,
    needs_read: bool = True,
    expected_generation: bytes | None = None,
    executor: concurrent.futures.Executor | None = None,
) -> Future[TimestampedStorageGeneration]:
    """Future of the stamp of the value `update` leaves stored under `key`.

    `update(value, generation)` gets the stored bytes (None if absent) and returns the new
    bytes, None to delete, or `UNCHANGED`; it runs on `executor` (inline without one).
    Without `needs_read` the first attempt writes ``update(None, UNKNOWN)`` unconditionally
    (the update overwrites the whole value).  With `expected_generation` the stored value must
    still have that generation (repeatable reads), else the result is ABORTED.
    """

    def attempt(first: bool) -> Future:
        if first and not needs_read and expected_generation is None:
            if executor is None:
                data = update(None, UNKNOWN)
                return _write(data, None)
            return futures.chain(futures.submit(executor, update, None, UNKNOWN), lambda d: _write(d, None))
        return futures.chain(kv.read(key, ReadOptions()), got, executor)

    def got(result: Any) -> Any:
        present = result.state == "value"
        generation = result.stamp.generation if present else NO_VALUE
        if expected_generation is not None and generation != expected_generation:
            raise generation_mismatch(kv, key)
        data = update(result.value if present else None, generation)
        if data is UNCHANGED:
            return TimestampedStorageGeneration(generation, result.stamp.time)
        return _write(data, generation)

    def _write(data: Any, if_equal: bytes | None) -> Future:
        if data is UNCHANGED:
            return futures.ready(TimestampedStorageGeneration(UNKNOWN, kv.now()))
        written = kv.write(key, data, WriteOptions(if_equal=if_equal))

        def check(stamp: TimestampedStorageGeneration) -> Any:
            if stamp.generation != UNKNOWN or if_equal is None:
                return stamp
            if expected_generation is not None:
                raise generation_mismatch(kv, key)
            metrics.TRANSACTION_RETRIES.increment()
            return attempt(False)  # someone else wrote meanwhile: merge into their value

        return futures.chain(written, check)

    try:
        return attempt(True)
    except BaseException as exc:  # noqa: BLE001 - an inline update that raised
        return futures.failed(exc)
