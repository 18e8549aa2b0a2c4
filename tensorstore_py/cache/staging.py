"""Staged writes: mutations of one key, collected in a node and written back together.

A `KeyNode` holds, for one (kvstore, key), the mutations staged in one transaction — an
explicit `ts.Transaction` or the implicit one every non-transactional write gets.  Writeback
applies them in order to the stored value through the one `read_modify_write`, so a node whose
first mutation overwrites the whole value is written without a read, and any other merges into
the latest stored value, re-merging from the staged data on conflict.

Non-transactional writes of one key are serialised: while a node's writeback is in flight, new
mutations collect in the next node, which starts when the first ends.  Writes issued later thus
always land later, and several writes issued meanwhile cost one read-modify-write.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Any

from .. import future as futures
from ..future import Future
from ..kvstore.generation import UNKNOWN, TimestampedStorageGeneration
from .rmw import ENCODE_HERE, UNCHANGED, completes_inline, read_modify_write

__all__ = ["Mutation", "ValueMutation", "UpdateMutation", "KeyNode", "write_now"]


class Mutation:
    """One staged change of a stored value.

    `needs_read` is False when the mutation replaces the whole value.  `ready` (optional) is
    a Future that completes once the mutation's data is staged (a copy still in flight).
    Mutations that work on a decoded form name it by `decoded_form` (an object with
    ``decode(bytes | None)`` and ``encode(decoded)``) and implement `apply_decoded`; the node
    decodes once for a run of them.
    """

    needs_read: bool = True
    ready: Future | None = None
    decoded_form: Any = None

    def apply(self, value: bytes | None) -> Any:
        """The new stored bytes (None: delete) given the current ones."""
        form = self.decoded_form
        return form.encode(self.apply_decoded(form.decode(value)))

    def apply_decoded(self, decoded: Any) -> Any:
        raise NotImplementedError


class ValueMutation(Mutation):
    """Replace the value (None: delete)."""

    needs_read = False

    def __init__(self, value: bytes | None):
        self.value = value

    def apply(self, value: bytes | None) -> Any:
        return self.value


class UpdateMutation(Mutation):
    """A function of the stored bytes (metadata changes, new precomputed scales ...)."""

    def __init__(self, fn: Any):
        self.fn = fn

    def apply(self, value: bytes | None) -> Any:
        out = self.fn(value)
        return value if out is UNCHANGED else out


class KeyNode:
    """The mutations of one key in one transaction."""

    __slots__ = ("kv", "key", "mutations", "committed", "_lock")

    def __init__(self, kv: Any, key: bytes):
        self.kv = kv
        self.key = key
        self.mutations: list[Mutation] = []
        #: Future of the stamp once written back (or the error)
        self.committed: Future = Future()
        self._lock = threading.Lock()

    def add(self, mutation: Mutation) -> None:
        with self._lock:
            if not mutation.needs_read:
                self.mutations = []  # a whole-value write supersedes what came before
            self.mutations.append(mutation)

    @property
    def needs_read(self) -> bool:
        if not self.mutations or not self.mutations[0].needs_read:
            return not self.mutations
        # Several partial mutations may together replace the whole value (every sub-chunk of a
        # shard): the decoded form says so.
        form = self.mutations[0].decoded_form
        covered_by = getattr(form, "covered_by", None)
        if covered_by is not None and all(m.decoded_form == form for m in self.mutations):
            return not covered_by(self.mutations)
        return True

    def staged(self) -> bool:
        """Whether the data of every mutation is staged (successfully or not)."""
        with self._lock:
            return all(m.ready is None or m.ready.done() for m in self.mutations)

    def ready(self) -> Future:
        waits = [m.ready for m in self.mutations if m.ready is not None and not m.ready.done()]
        if len(waits) == 1 and len(self.mutations) == 1:
            return waits[0]  # the one mutation's own Future (its result is None too)
        if not waits:
            for m in self.mutations:
                if m.ready is not None and m.ready.exception() is not None:
                    return futures.failed(m.ready.exception())
            return futures.ready(None)
        return futures.chain(futures.gather(waits), lambda _: None)

    def apply(self, value: bytes | None, generation: bytes = UNKNOWN) -> Any:
        """The stored bytes after every mutation, given the current ones (and their generation,
        for forms whose mutations are conditional on it)."""
        with self._lock:
            mutations = list(self.mutations)
        i, n = 0, len(mutations)
        while i < n:
            form = mutations[i].decoded_form
            if form is None:
                value = mutations[i].apply(value)
                i += 1
                continue
            # A run that starts by overwriting the whole value needs no decode of the old one.
            if not mutations[i].needs_read:
                decoded = None
            elif getattr(form, "decode_with_generation", False):
                decoded = form.decode(value, generation)
            else:
                decoded = form.decode(value)
            while i < n and mutations[i].decoded_form == form:
                decoded = mutations[i].apply_decoded(decoded)
                i += 1
            value = form.encode(decoded)
        return value

    def update(self, value: bytes | None, generation: bytes = b"") -> Any:
        """`apply` for the read-modify-write: `UNCHANGED` when nothing would change."""
        new = self.apply(value, generation)
        if generation == UNKNOWN:  # written without reading: nothing to compare with
            return new
        if new is None and value is None:
            return UNCHANGED
        if value is not None and new is not None and new == value:
            return UNCHANGED
        return new

    def writeback(self, executor: concurrent.futures.Executor | None, expected_generation: bytes | None = None,
                  on_executor: bool = False) -> Future:
        """Writes the node back (once its mutations are staged); settles `committed`.

        `on_executor`: the caller runs on `executor` already."""
        if all(m.ready is None for m in self.mutations):
            # Every mutation was complete when staged: nothing to wait for, no Future to chain.
            # On the executor already: the value is made here, and a local store's write goes
            # to the store's pool (`ENCODE_HERE`), not on this thread, which is for CPU work.
            inline = on_executor and not self.needs_read
            self._read_modify_write(ENCODE_HERE if inline else self._where(executor, on_executor),
                                    expected_generation)
            return self.committed

        ready = self.ready()
        # A whole-value write whose staging is still in flight: staging completes on an
        # executor thread, so the encode can follow there without another hop.  (After a
        # read, the merge always moves back to the executor, off the kvstore's I/O threads.)
        on_cpu = on_executor or not ready.done()
        inline = on_cpu and not self.needs_read
        hop = self._where(executor, on_cpu) if executor is ENCODE_HERE else None if inline else executor

        committed = self.committed

        def start(staged: Future) -> None:
            if staged.cancelled():
                committed.cancel()
                return
            if staged.exception() is not None:
                futures._settle(committed, exception=staged.exception())
                return
            self._read_modify_write(hop, expected_generation)

        ready.add_done_callback(start)
        return committed

    def _where(self, executor: Any, on_cpu: bool) -> Any:
        """`executor` for the read-modify-write, except that `ENCODE_HERE` reads and merges
        on the calling thread only when it is one for CPU work: elsewhere (a caller's thread)
        the whole attempt goes to the store's pool (None)."""
        if executor is ENCODE_HERE and self.needs_read and not on_cpu:
            return None
        return executor

    def _read_modify_write(self, executor: Any, expected_generation: bytes | None) -> None:
        # Straight into `committed`: no Future between the staging and the write.
        try:
            read_modify_write(
                self.kv, self.key, self.update, needs_read=self.needs_read,
                expected_generation=expected_generation, executor=executor, out=self.committed,
            )
        except BaseException as exc:  # noqa: BLE001 - delivered through `committed`
            futures._settle(self.committed, exception=exc)


# ---------------------------------------------------------------------------------------------
# The implicit transactions of non-transactional writes.


class _Slot:
    """The writebacks of one key outside transactions: the node in flight and the next one.

    Changed under its own lock: a lock shared by every key is taken by every write of every
    thread, and one thread preempted while holding it makes all the others queue on it (a
    convoy under the GIL).  A slot leaves `_slots` once idle (`closed`); a writer that finds a
    closed slot looks again."""

    __slots__ = ("inflight", "pending", "scheduled", "closed", "lock")

    def __init__(self) -> None:
        self.inflight: KeyNode | None = None
        self.pending: KeyNode | None = None
        self.scheduled = False  # a gathering start is queued
        self.closed = False
        self.lock = threading.Lock()


#: (kvstore identity, key) -> its slot; entries are added by `setdefault` (atomic) and removed
#: only by the slot's own closing, under its lock
_slots: dict[tuple, _Slot] = {}


def _forget_after_fork() -> None:
    # A forked child has none of the parent's writeback threads: writebacks in flight at the
    # fork never finish there, and a later write to the same key must not queue behind them.
    _slots.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def write_now(
    kv: Any, key: bytes, mutation: Mutation, executor: concurrent.futures.Executor | None, gather: bool = False
) -> Future[TimestampedStorageGeneration]:
    """Stages `mutation` outside any transaction and writes it back as soon as the key is free.

    With `gather`, a writeback of an idle key starts from a task queued on `executor` rather
    than at once, so that mutations arriving from work already queued there (the other
    sub-chunks of a shard being encoded) join the same read-modify-write.
    """
    slot_key = (kv.cache_identity, key)
    gather = gather and executor is not None
    while True:
        slot = _slots.get(slot_key)
        if slot is None:
            # An idle key (the usual case): a new slot with this write alone, unless another
            # thread made one meanwhile.
            node = KeyNode(kv, key)
            node.mutations.append(mutation)
            fresh = _Slot()
            if gather:
                fresh.pending, fresh.scheduled = node, True
            else:
                fresh.inflight = node
            if _slots.setdefault(slot_key, fresh) is not fresh:
                continue
            if gather:
                executor.submit(_start_scheduled, slot_key, fresh, executor)
            else:
                _run(slot_key, fresh, node, executor)
            return node.committed
        with slot.lock:
            if slot.closed:
                continue
            if slot.pending is None:
                slot.pending = KeyNode(kv, key)
            node = slot.pending
            node.add(mutation)
            start = slot.inflight is None and not slot.scheduled
            if start and gather:
                slot.scheduled = True
                start = False
                executor.submit(_start_scheduled, slot_key, slot, executor)
            elif start:
                slot.inflight, slot.pending = node, None
        if start:
            _run(slot_key, slot, node, executor)
        return node.committed


def _start_scheduled(slot_key: tuple, slot: _Slot, executor: Any) -> None:
    # A gathering node stays open while the data of its mutations is still being staged
    # (sub-chunks of a shard being filled and encoded): everything staged meanwhile joins it,
    # and its writeback, once started, need not wait (or read) for parts still to come.
    while True:
        with slot.lock:
            node = slot.pending
            if node is None or slot.inflight is not None:
                slot.scheduled = False
                if node is None and slot.inflight is None:
                    _close(slot_key, slot)
                return
        staged = node.ready()
        if not staged.done():
            # Continued by the thread that stages the last part, not queued behind other work.
            staged.add_done_callback(lambda _: _start_scheduled(slot_key, slot, executor))
            return
        with slot.lock:
            if slot.pending is not node or slot.inflight is not None:
                slot.scheduled = False
                return
            if node.staged():  # else more arrived meanwhile: wait for those too
                slot.scheduled = False
                slot.inflight, slot.pending = node, None
                break
    _run(slot_key, slot, node, executor, on_executor=True)


def _run(slot_key: tuple, slot: _Slot, node: KeyNode, executor: Any, on_executor: bool = False) -> None:
    # A loop, not a chain of callbacks: writebacks that complete at once (a memory store) must
    # not nest one inside the other however many follow.  `on_executor`: the first node is
    # started from a task on `executor`.
    while node is not None:
        committed = node.writeback(executor, on_executor=on_executor)
        if not completes_inline(committed, lambda _: _run(slot_key, slot, _next(slot_key, slot), executor)):
            return
        on_executor = False
        node = _next(slot_key, slot)


def _next(slot_key: tuple, slot: _Slot) -> KeyNode | None:
    """The node to write back after the one in flight has finished (None: the key is idle)."""
    with slot.lock:
        nxt = slot.pending
        slot.inflight, slot.pending = nxt, None
        if nxt is None and not slot.scheduled:
            _close(slot_key, slot)
    return nxt


def _close(slot_key: tuple, slot: _Slot) -> None:
    """Takes an idle slot out of `_slots` (under its lock)."""
    slot.closed = True
    if _slots.get(slot_key) is slot:  # (after a fork, the table may hold another)
        del _slots[slot_key]
