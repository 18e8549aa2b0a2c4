"""Metadata entries: one per (cache pool, kvstore identity, key), shared by every open handle.

Every handle of an array opened in one context holds the same entry, so a change made through
one (a resize) is what the others see next; how fresh the entry must be before an operation
uses it is the handle's ``recheck_cached_metadata``.  Changes go through the one
read-modify-write and leave the entry holding what they stored.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable

from .. import future as futures
from ..errors import not_found
from ..future import Future
from ..kvstore.driver import ReadOptions
from ..kvstore.generation import NO_VALUE
from .rmw import UNCHANGED, read_modify_write

__all__ = ["MetadataEntry", "metadata_entry"]


class MetadataEntry:
    """The last known metadata under one key: parsed value, generation and when confirmed."""

    def __init__(self, kv: Any, key: bytes, parse: Callable[[bytes], Any]):
        self.kv = kv
        self.key = key
        self.parse = parse
        self._lock = threading.Lock()
        self.value: Any = None
        self.generation: bytes = NO_VALUE
        self.time = float("-inf")

    def set(self, value: Any, generation: bytes, when: float) -> None:
        with self._lock:
            if when >= self.time:
                self.value, self.generation, self.time = value, generation, when

    def snapshot(self) -> tuple[Any, bytes, float]:
        with self._lock:
            return self.value, self.generation, self.time

    def get(self, staleness: float) -> Future:
        """Future of (metadata or None if absent, generation), confirmed no earlier than `staleness`."""
        value, generation, when = self.snapshot()
        if value is not None and when >= staleness:
            return futures.ready((value, generation))
        options = ReadOptions(if_not_equal=generation) if value is not None else ReadOptions()

        def got(result: Any) -> Any:
            if result.state == "unspecified":
                self.set(value, generation, result.stamp.time)
                return value, generation
            if result.state != "value":
                self.set(None, NO_VALUE, result.stamp.time)
                return None, NO_VALUE
            parsed = self.parse(result.value)
            self.set(parsed, result.stamp.generation, result.stamp.time)
            return parsed, result.stamp.generation

        return futures.chain(self.kv.read(self.key, options), got)

    def update(self, fn: Callable[[Any], Any], encode: Callable[[Any], bytes], executor: Any = None) -> Future:
        """Future of the metadata after ``fn(latest metadata or None)`` was stored.

        `fn` returns the new metadata, or `UNCHANGED`; it is re-applied on conflict.
        """
        result: list = []

        def update(value: bytes | None, generation: bytes) -> Any:
            current = None if value is None else self.parse(value)
            new = fn(current)
            result[:] = [current if new is UNCHANGED else new]
            return UNCHANGED if new is UNCHANGED else encode(new)

        def stored(stamp: Any) -> Any:
            self.set(result[0], stamp.generation, stamp.time)
            return result[0], stamp.generation

        return futures.chain(read_modify_write(self.kv, self.key, update, executor=executor), stored)

    def missing_error(self) -> BaseException:
        return not_found(f"Metadata at {self.kv.describe_key(self.key)} does not exist")


_registry_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def metadata_entry(pool: Any, kv: Any, key: bytes, parse: Callable[[bytes], Any], kind: Any = None) -> MetadataEntry:
    """The shared entry of `key` in `kv` for handles whose context has cache pool `pool`.

    `kind` separates formats that parse the same key differently.
    """
    slot = (kv.cache_identity, key, kind)
    with _registry_lock:
        entries = getattr(pool, "_metadata_entries", None)
        if entries is None:
            entries = pool._metadata_entries = weakref.WeakValueDictionary()
        entry = entries.get(slot)
        if entry is None:
            entry = MetadataEntry(kv, key, parse)
            entries[slot] = entry
        return entry
