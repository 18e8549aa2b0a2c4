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

__all__ = ["MetadataEntry", "metadata_entry", "memoized_parse", "remembered"]


#: the options of an unconditional read (never modified by a store)
_READ_ALL = ReadOptions()


class MetadataEntry:
    """The last known metadata under one key: parsed value, generation and when confirmed."""

    def __init__(self, kv: Any, key: bytes, parse: Callable[[bytes], Any]):
        self.kv = kv
        self.key = key
        self.parse = parse
        self._lock = threading.Lock()
        #: (value, generation, time confirmed): one attribute, replaced whole, so that every
        #: operation reads it without the lock (a lock taken by every operation of every
        #: thread is a convoy under the GIL)
        self._state: tuple[Any, bytes, float] = (None, NO_VALUE, float("-inf"))

    def set(self, value: Any, generation: bytes, when: float) -> None:
        with self._lock:
            if when >= self._state[2]:
                self._state = (value, generation, when)

    def snapshot(self) -> tuple[Any, bytes, float]:
        return self._state

    def get(self, staleness: float) -> Future:
        """Future of (metadata or None if absent, generation), confirmed no earlier than `staleness`."""
        try:
            now = self.get_now(staleness)
        except BaseException as exc:  # noqa: BLE001 - delivered through the Future, as `read` does
            return futures.failed(exc)
        if now is not None:
            return futures.ready(now)
        value, generation, _ = self.snapshot()
        options = ReadOptions(if_not_equal=generation) if value is not None else ReadOptions()
        return futures.chain(self.kv.read(self.key, options), lambda result: self._got(result, value, generation))

    def get_now(self, staleness: float) -> tuple[Any, bytes] | None:
        """What `get` resolves with, when that is known without waiting: the entry is fresh
        enough, or its kvstore reads in the caller's thread (a local file: a pool hand-off and
        the wake-up after it cost more than the read).  None: ask `get`.  Errors are raised."""
        value, generation, when = self.snapshot()
        if value is not None and when >= staleness:
            return value, generation
        read_now = self.kv.read_now
        if read_now is None:
            return None
        options = ReadOptions(if_not_equal=generation) if value is not None else _READ_ALL
        return self._got(read_now(self.key, options), value, generation)

    def _got(self, result: Any, value: Any, generation: bytes) -> tuple[Any, bytes]:
        """The entry updated by a read conditioned on (`value`, `generation`) it held."""
        if result.state == "unspecified":
            self.set(value, generation, result.stamp.time)
            return value, generation
        if result.state != "value":
            self.set(None, NO_VALUE, result.stamp.time)
            return None, NO_VALUE
        parsed = self.parse(result.value)
        self.set(parsed, result.stamp.generation, result.stamp.time)
        return parsed, result.stamp.generation

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

    `kind` separates formats that parse the same key differently.  The pool holds its entries
    weakly: an entry lives as long as a handle uses it.
    """
    slot = (kv.cache_identity, key, kind)
    with _registry_lock:
        entries = pool.__dict__.get("_metadata_entries")
        if entries is None:
            # slot -> weak reference to the entry (a plain dict of `weakref.ref`s: a pool is new
            # with every default context, i.e. every plain `ts.open`, and a WeakValueDictionary
            # costs several times as much to make and fill)
            entries = pool._metadata_entries = {}
        ref = entries.get(slot)
        entry = None if ref is None else ref()
        if entry is None:
            entry = MetadataEntry(kv, key, parse)
            if len(entries) >= 64 and len(entries) >= 2 * pool.__dict__.get("_metadata_entries_live", 0):
                _drop_dead(pool, entries)
            entries[slot] = weakref.ref(entry)
        return entry


def _drop_dead(pool: Any, entries: dict) -> None:
    """Forgets the slots whose entry is gone (often enough that dead slots never outnumber
    the live ones by much, seldom enough to cost little per new entry)."""
    for slot in [s for s, r in entries.items() if r() is None]:
        del entries[slot]
    pool._metadata_entries_live = len(entries)


# ---------------------------------------------------------------------------------------------
# Parsed metadata, shared by every open of the same bytes.

#: (format, stored bytes) -> parsed metadata (emptied when full: a program opens a few arrays
#: many times, or many arrays once each)
_parsed: dict = {}
_PARSED_ENTRIES = 256
_PARSED_MAX_BYTES = 1 << 16  # larger metadata (a precomputed `info` of many scales) is parsed each time


def memoized_parse(kind: Any, data: bytes, parse: Callable[[bytes], Any]) -> Any:
    """`parse(data)`, remembered process-wide for the format `kind`.

    Parsing stored metadata is a pure function of its bytes, and parsed metadata is never
    modified (a resize builds new metadata), so opening the same unchanged array again, in any
    context, skips the JSON parsing and validation.  Whether the bytes are current is the
    metadata entry's business (its generation and ``recheck_cached_metadata``), not this memo's.
    Errors are not remembered.
    """
    if len(data) > _PARSED_MAX_BYTES:
        return parse(data)
    slot = (kind, bytes(data))
    found = _parsed.get(slot, _MISSING)  # (a dict's get and set are atomic: no lock)
    if found is not _MISSING:
        return found
    value = parse(data)
    if len(_parsed) >= _PARSED_ENTRIES:
        _parsed.clear()
    _parsed[slot] = value
    return value


_MISSING: Any = object()


def remembered(metadata: Any, key: Any, make: Callable[[], Any]) -> Any:
    """`make()`, computed once per parsed `metadata` object and `key` (what an open derives
    from metadata alone: its resolved codec chain, its identity text ...).

    Sound because metadata is never modified once built, and shared by every open of the
    same bytes (see `memoized_parse`).  Held in the object itself, so it goes when it goes.
    """
    memo = metadata.__dict__.get("_remembered")
    if memo is None:
        memo = metadata.__dict__.setdefault("_remembered", {})
    value = memo.get(key, _MISSING)
    if value is _MISSING:
        value = memo[key] = make()
    return value
