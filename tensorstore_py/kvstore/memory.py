"""The ``memory`` driver: keys in the context's shared ``memory_key_value_store`` map.

Every store opened with the same context (and resource reference) sees the same map.  Each
successful write takes the next value of a per-map counter as its generation, so generations
never repeat within a map; absent keys have generation `NO_VALUE`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..context import MemoryKeyValueStoreResource, Resource
from ..future import Future, ready
from ..json_util import ObjectReader, expect_bool
from . import generation as gen
from .driver import (
    KvStoreDriver, KvStoreDriverSpec, ReadOptions, WriteOptions, apply_read, condition_matches,
    percent_encode_path, register_kvstore_driver, split_url,
)  # fmt: skip
from .byte_parts import SourceReference
from .generation import ReadResult, TimestampedStorageGeneration
from .key_range import KeyRange, contains

__all__ = ["MemoryDriverSpec", "MemoryDriver"]


class MemoryDriverSpec(KvStoreDriverSpec):
    id = "memory"
    url_scheme = "memory"
    resource_members = {"memory_key_value_store": "memory_key_value_store"}

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        atomic = reader.get("atomic", expect_bool, True)
        return {} if atomic else {"atomic": False}

    def options_json(self, include_defaults: bool = False) -> dict:
        if include_defaults:
            return {"atomic": self.options.get("atomic", True)}
        return dict(self.options)

    @classmethod
    def from_url(cls, url: str) -> dict:
        _raw, path = split_url(url, "memory")
        j: dict[str, Any] = {"driver": "memory"}
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str) -> str:
        return "memory://" + percent_encode_path(path)

    def open(self, resources: dict[str, Resource]) -> "MemoryDriver":
        return MemoryDriver(self, resources)


class MemoryDriver(KvStoreDriver):
    """Operations complete synchronously under the map's lock; futures are returned ready."""

    # Nothing to gain by deferring a read that costs a dict lookup (TensorStore runs them at once).
    batch_reads = False
    read_now_inline = True
    inline_read_chunks = 4
    #: A `SourceReference` value is kept, not copied: a later change of the writer's array
    #: shows in what is read, as in TensorStore (whose writer promised not to make one).
    keeps_source_references = True

    def __init__(self, spec: MemoryDriverSpec, resources: dict[str, Resource]):
        super().__init__(spec, resources)
        store = resources["memory_key_value_store"]
        assert isinstance(store, MemoryKeyValueStoreResource)
        self.store = store

    def read(self, key: bytes, options: ReadOptions) -> Future[ReadResult]:
        return ready(self._read_value(key, options))

    def _read_value(self, key: bytes, options: ReadOptions) -> ReadResult:
        now = self.now()
        # No lock: the lookup is atomic and entries are never changed, only replaced.
        entry = self.store.data.get(key)
        if entry is None:
            return apply_read(None, gen.NO_VALUE, options, now)
        value, generation = entry
        if type(value) is not bytes:
            value = bytes(value)  # a SourceReference: what the referenced memory holds now
        return apply_read(value, generation, options, now)

    read_now = _read_value  # counted as a read by the metrics wrapper; `_read_value` is not

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future[TimestampedStorageGeneration]:
        return ready(self._write_value(key, value, options))

    def _write_value(self, key: bytes, value: bytes | None, options: WriteOptions) -> TimestampedStorageGeneration:
        store = self.store
        data, if_equal = store.data, options.if_equal
        # The copy is made outside the lock: every write of every thread takes it, and a
        # thread preempted while holding it makes the others queue on it.
        if value is not None and type(value) is not SourceReference:
            value = bytes(value)
        locks = store.locks
        with locks[hash(key) % len(locks)]:
            now = self.now()  # under the lock: stamps of one key follow the order of its writes
            entry = data.get(key) if if_equal else None
            if if_equal and (entry[1] if entry is not None else gen.NO_VALUE) != if_equal:
                generation = gen.UNKNOWN  # the condition failed: nothing written
            elif value is None:
                data.pop(key, None)
                generation = gen.NO_VALUE
            else:
                # Numbered only when written, as TensorStore's store numbers them.
                generation = gen.from_uint64(next(store.generations))
                data[key] = (value, generation)
        return TimestampedStorageGeneration(generation, now)

    write_now = _write_value  # counted as a write by the metrics wrapper; `_write_value` is not

    #: Any number of keys of one memory store commit atomically in one transaction.
    atomic_multi_key = True

    def write_atomic(self, writes: list) -> Future[bool]:
        """Applies every ``(key, value or None, if_equal)`` at once, or none if a condition fails.

        A value of ``...`` only checks the condition (a key the transaction read).
        """
        store = self.store
        with _all_locked(store):
            for key, _, if_equal in writes:
                entry = store.data.get(key)
                if not condition_matches(entry[1] if entry is not None else gen.NO_VALUE, if_equal):
                    return ready(False)
            for key, value, _ in writes:
                if value is ...:
                    continue
                if value is None:
                    store.data.pop(key, None)
                else:
                    kept = value if type(value) is SourceReference else bytes(value)
                    store.data[key] = (kept, gen.from_uint64(next(store.generations)))
        return ready(True)

    def delete_range(self, key_range: KeyRange) -> Future[None]:
        with _all_locked(self.store):
            doomed = [k for k in self.store.data if contains(key_range, k)]
            for k in doomed:
                del self.store.data[k]
        return ready(None)

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future[list[bytes]]:
        keys = list(self.store.data)  # a snapshot: atomic, so no lock
        keys = sorted(k for k in keys if contains(key_range, k))
        return ready([k[strip_prefix_length:] for k in keys])


@contextlib.contextmanager
def _all_locked(store: MemoryKeyValueStoreResource) -> Iterator[None]:
    """Holds every key lock of `store` (taken in one order, so never a deadlock)."""
    with contextlib.ExitStack() as stack:
        for lock in store.locks:
            stack.enter_context(lock)
        yield


register_kvstore_driver("memory", MemoryDriverSpec, url_scheme="memory")
