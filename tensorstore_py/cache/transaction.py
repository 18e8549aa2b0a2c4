"""`ts.Transaction`: writes staged per key until commit, reads that see them.

A transaction keeps one `KeyNode` per (kvstore identity, key) it wrote and the generation of
every key it read.  Nothing reaches storage before `commit_async`; commit writes each node back
through the one read-modify-write (conditionally on the generation the transaction read, with
``repeatable_read``), `abort` drops them.  An atomic transaction admits only keys that its
kvstore can commit together (the memory kvstore commits any number of its keys at once; other
kvstores one key), as TensorStore does.
"""

from __future__ import annotations

import threading
from typing import Any

from .. import future as futures
from ..errors import aborted, cancelled, invalid_argument
from ..future import Future
from ..kvstore.driver import ReadOptions
from ..kvstore.generation import NO_VALUE, UNKNOWN
from .rmw import RETRY, generation_mismatch, retry_loop
from .staging import KeyNode, Mutation

__all__ = ["Transaction"]


class Transaction:
    """A group of reads and writes committed (or aborted) together.

    Operations given this transaction (``ts.open(..., transaction=txn)``,
    ``store.with_transaction(txn)``, ``kvstore.with_transaction(txn)``) stage their writes in
    it and read through it, seeing its own writes.  `commit_async` writes everything back;
    `abort` discards it.  With ``atomic=True`` the commit fails rather than applying only part
    of the writes; with ``repeatable_read=True`` it fails if anything read in the transaction
    changed in storage before the commit.
    """

    def __init__(self, atomic: bool = False, repeatable_read: bool = False):
        for name, value in (("atomic", atomic), ("repeatable_read", repeatable_read)):
            if not isinstance(value, (bool, int)):
                raise TypeError(f"__init__(): incompatible constructor arguments: {name} must be bool")
        # As TensorStore's mode bits: `atomic` reports True only for atomic isolation alone.
        self._atomic = bool(atomic) and not repeatable_read
        self._repeatable_read = bool(repeatable_read)
        self._lock = threading.Lock()
        self._nodes: dict[tuple, KeyNode] = {}
        self._executors: dict[tuple, Any] = {}
        self._reads: dict[tuple, tuple[Any, bytes, bytes]] = {}
        self._order: list[tuple[Any, bytes]] = []  # keys in the order first touched
        self._touched: set[tuple] = set()
        self._commit_started = False
        self._aborted = False
        self._error: BaseException | None = None  # why the transaction was aborted
        self._future: Future = _CommitOnWait(self)

    # -- state ---------------------------------------------------------------------------------

    @property
    def atomic(self) -> bool:
        """Whether the commit must apply all writes or none."""
        return self._atomic

    @property
    def open(self) -> bool:
        """Whether operations may still be added (neither committing nor aborted)."""
        return not self._commit_started and not self._aborted

    @property
    def commit_started(self) -> bool:
        return self._commit_started

    @property
    def aborted(self) -> bool:
        return self._aborted

    @property
    def future(self) -> Future:
        """Completes when the commit has finished (fails if it failed or was aborted).

        Waiting on it (``result``, ``exception``, a done callback, ``await``) starts the
        commit, as TensorStore forces a transaction's future.
        """
        return self._future

    # -- commit and abort ------------------------------------------------------------------------

    def commit_async(self) -> Future:
        """Starts the commit (once); returns `future`."""
        with self._lock:
            if self._aborted or self._commit_started:
                return self._future
            self._commit_started = True
            nodes = list(self._nodes.items())
            reads = dict(self._reads)
        try:
            done = self._commit(nodes, reads)
        except BaseException as exc:  # noqa: BLE001
            done = futures.failed(exc)

        def finished(f: Any) -> None:
            exc = f.exception()
            if exc is not None:
                futures._settle(self._future, exception=exc)
            else:
                futures._settle(self._future, result=None)

        done.add_done_callback(finished)
        return self._future

    def commit_sync(self) -> None:
        """Commits and waits for the commit to finish (raises its error)."""
        self.commit_async().result()

    def abort(self) -> None:
        """Discards everything staged in the transaction."""
        self._abort_with(cancelled("Transaction aborted"))

    def _abort_with(self, error: BaseException) -> None:
        with self._lock:
            if self._commit_started or self._aborted:
                return
            self._aborted = True
            self._error = error
            nodes = list(self._nodes.values())
            self._nodes.clear()
        for node in nodes:
            futures._settle(node.committed, exception=error)
        futures._settle(self._future, exception=error)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit_sync()
        else:
            self.abort()

    async def __aenter__(self) -> "Transaction":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.commit_async()
        else:
            self.abort()

    # -- what operations call ---------------------------------------------------------------------

    @staticmethod
    def rebind(current: "Transaction | None", new: Any) -> "Transaction | None":
        """The transaction a handle bound to `current` may be rebound to (`new`)."""
        if new is not None and not isinstance(new, Transaction):
            raise TypeError(f"transaction must be a tensorstore_py.Transaction, not {type(new).__name__}")
        if current is not None and not current._commit_started:
            raise invalid_argument("Cannot rebind transaction when existing transaction is uncommitted")
        return new

    def check_open(self) -> None:
        """Raises as TensorStore does when an operation is added to a closed transaction."""
        if self._aborted:
            raise invalid_argument("Transaction not open (aborted)")
        if self._commit_started:
            raise invalid_argument("Transaction not open (commit already started)")

    def _touch_locked(self, kv: Any, key: bytes) -> tuple[tuple, BaseException | None]:
        """Registers `key` (lock held); returns its slot and the error an atomic
        transaction raises for a key it cannot add."""
        slot = (kv.cache_identity, key)
        if slot in self._touched:
            return slot, None
        if self._atomic and self._order:
            first_kv, first_key = self._order[0]
            same_store = first_kv.cache_identity == kv.cache_identity
            if not (same_store and getattr(kv, "atomic_multi_key", False)):
                # TensorStore names the two keys in key order, not in the order they were used.
                (_, a_kv, a_key), (_, b_kv, b_key) = sorted([(first_key, first_kv, first_key), (key, kv, key)], key=lambda t: t[0])
                return slot, invalid_argument(
                    f"Cannot read/write {a_kv.describe_key(a_key)} and read/write "
                    f"{b_kv.describe_key(b_key)} as single atomic transaction"
                )
        self._touched.add(slot)
        self._order.append((kv, key))
        return slot, None

    def _fail(self, error: BaseException) -> None:
        # A key an atomic transaction cannot take aborts it, with that error, as TensorStore.
        self._abort_with(error)
        raise error

    def stage(self, kv: Any, key: bytes, mutation: Mutation, executor: Any = None) -> KeyNode:
        """Adds `mutation` of `key` to the transaction; returns its node."""
        with self._lock:
            self.check_open()
            slot, error = self._touch_locked(kv, key)
            if error is None:
                node = self._nodes.get(slot)
                if node is None:
                    node = self._nodes[slot] = KeyNode(kv, key)
                if executor is not None:
                    self._executors[slot] = executor
                node.add(mutation)
                return node
        self._fail(error)

    def node(self, kv: Any, key: bytes) -> KeyNode | None:
        """The staged writes of `key`, if any."""
        return self._nodes.get((kv.cache_identity, key))

    def note_read(self, kv: Any, key: bytes, generation: bytes, counts: bool = True) -> None:
        """Records the generation a read in the transaction saw.

        With ``repeatable_read`` a read that sees another generation than an earlier read of
        the key fails.  `counts`: whether the key counts toward an atomic transaction's keys
        (reads through a bound KvStore do not, as in TensorStore).
        """
        with self._lock:
            self.check_open()
            slot = (kv.cache_identity, key)
            error = None
            if counts:
                slot, error = self._touch_locked(kv, key)
            if error is None:
                seen = self._reads.get(slot)
                if seen is None:
                    self._reads[slot] = (kv, key, generation)
                    return
                if not self._repeatable_read or seen[2] == generation:
                    return
                if counts:
                    raise generation_mismatch(kv, key, writing=False)
                error = None
        if error is not None:
            self._fail(error)
        # A bound KvStore's read of a changed key aborts the transaction.
        self._abort_with(aborted(f"Error reading {kv.describe_key(key)}: Generation mismatch in repeatable_read transaction"))
        raise aborted("Generation mismatch in repeatable_read transaction")

    def check_key(self, kv: Any, key: bytes) -> None:
        """Registers a key about to be read or written (atomicity is checked here)."""
        with self._lock:
            self.check_open()
            _, error = self._touch_locked(kv, key)
        if error is not None:
            self._fail(error)

    def read(self, kv: Any, key: bytes, options: ReadOptions | None = None, counts: bool = True,
             require_stored: bool = False) -> Future:
        """A kvstore read of `key` as seen inside the transaction (its own writes applied).

        With `require_stored`, staged partial updates of a missing value leave it missing.
        """
        from ..kvstore.driver import apply_read

        options = options or ReadOptions()
        try:
            if counts:
                self.check_key(kv, key)
            else:
                self.check_open()
        except ValueError as exc:
            return futures.failed(exc)
        node = self.node(kv, key)

        def got(result: Any) -> Any:
            present = result.state == "value"
            generation = result.stamp.generation if present else NO_VALUE
            self.note_read(kv, key, generation, counts)
            if node is None or (require_stored and not present and node.needs_read):
                return result
            value = node.apply(result.value if present else None)
            # Staged values have no storage generation yet.
            return apply_read(value, UNKNOWN if value is not None else NO_VALUE,
                              ReadOptions(byte_range=options.byte_range), float("inf"))

        if node is None:
            return futures.chain(kv.read(key, ReadOptions(byte_range=options.byte_range) if self._repeatable_read else options), got)
        return futures.chain(node.ready(), lambda _: futures.chain(kv.read(key, ReadOptions()), got))

    def list(self, kv: Any, key_range: Any, strip: int = 0) -> Future:
        """Keys of `kv` in `key_range` as the transaction sees them (stored keys with its
        whole-value writes and deletions applied), sorted, each with `strip` bytes removed."""
        from ..kvstore.key_range import contains

        try:
            self.check_open()
        except ValueError as exc:
            return futures.failed(exc)
        identity = kv.cache_identity
        staged = {slot[1]: node for slot, node in list(self._nodes.items())
                  if slot[0] == identity and contains(key_range, slot[1])}

        def merge(keys: list) -> list:
            present = set(keys)
            for key, node in staged.items():
                if node.needs_read:
                    continue  # a partial update keeps the key as present as it is stored
                if node.apply(None) is None:
                    present.discard(key)
                else:
                    present.add(key)
            return [k[strip:] for k in sorted(present)]

        try:
            listed = kv.list(key_range, 0)
        except ValueError as exc:
            return futures.failed(exc)
        return futures.chain(listed, merge)

    def view(self, kv: Any) -> "TransactionView":
        """`kv` as seen from inside this transaction (reads and listing only)."""
        return TransactionView(self, kv)

    # -- commit -----------------------------------------------------------------------------------

    def _commit(self, nodes: list, reads: dict) -> Future:
        stores = {node.kv.cache_identity for _, node in nodes}
        if nodes and len(stores) == 1 and getattr(nodes[0][1].kv, "atomic_multi_key", False):
            # A store that commits several keys at once commits the whole transaction at once.
            mine = stores.pop()
            return self._commit_atomic(nodes, {s: r for s, r in reads.items() if s[0] == mine} if self._repeatable_read else {})
        repeatable = self._repeatable_read
        pending = []
        for slot, node in nodes:
            expected = reads[slot][2] if repeatable and slot in reads else None
            pending.append(node.writeback(self._executors.get(slot), expected))
        if repeatable:
            for slot, (kv, key, generation) in reads.items():
                if slot not in self._nodes:
                    pending.append(_verify_unchanged(kv, key, generation))
        return _all_settled(pending)


    def _commit_atomic(self, nodes: list, reads: dict) -> Future:
        """All nodes of one store that commits several keys at once (`_touch` ensured that)."""
        kv = nodes[0][1].kv
        repeatable = self._repeatable_read
        waits = futures.gather([node.ready() for _, node in nodes])

        def attempt(_: Any = None) -> Future:
            slots = list(reads.keys() | {slot for slot, _ in nodes})
            keys = [slot[1] for slot in slots]
            read = futures.gather([kv.read(key, ReadOptions()) for key in keys])

            def got(results: list) -> Future:
                writes = []
                for slot, result in zip(slots, results):
                    present = result.state == "value"
                    generation = result.stamp.generation if present else NO_VALUE
                    if repeatable and slot in reads and reads[slot][2] != generation:
                        raise generation_mismatch(kv, slot[1])
                    node = self._nodes.get(slot)
                    if node is None:
                        writes.append((slot[1], ..., generation))
                        continue
                    writes.append((slot[1], node.apply(result.value if present else None), generation))
                # Keys only read are checked, not written.
                return futures.chain(kv.write_atomic(writes), lambda ok: None if ok else RETRY)

            return futures.chain(read, got)

        return futures.chain(waits, lambda _: retry_loop(attempt))


def _all_settled(pending: list) -> Future:
    """Future that completes when every one of `pending` has; fails with the first error.

    Keys are committed independently, so the commit reports only once each has landed or failed.
    """
    out: Future = Future()
    if not pending:
        out.set_result(None)
        return out
    remaining = [len(pending)]
    errors: list = []
    lock = threading.Lock()

    def done(f: Any) -> None:
        exc = f.exception()
        with lock:
            if exc is not None:
                errors.append(exc)
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            futures._settle(out, exception=errors[0]) if errors else futures._settle(out, result=None)

    for f in pending:
        f.add_done_callback(done)
    return out


def _verify_unchanged(kv: Any, key: bytes, generation: bytes) -> Future:
    def check(result: Any) -> None:
        if result.state == "unspecified":
            return None
        now = result.stamp.generation if result.state == "value" else NO_VALUE
        if now != generation:
            raise generation_mismatch(kv, key)  # (TensorStore says "writing" at commit)
        return None

    return futures.chain(kv.read(key, ReadOptions(if_not_equal=generation)), check)


class TransactionView:
    """Read-only kvstore-driver face of one store inside a transaction (for queries such as
    storage statistics that read and list keys)."""

    def __init__(self, transaction: Transaction, kv: Any):
        self.transaction = transaction
        self.kv = kv
        self.can_list = getattr(kv, "can_list", True)

    def read(self, key: bytes, options: ReadOptions) -> Future:
        return self.transaction.read(self.kv, key, options, counts=False)

    def list(self, key_range: Any, strip_prefix_length: int = 0) -> Future:
        return self.transaction.list(self.kv, key_range, strip_prefix_length)

    def describe_key(self, key: bytes) -> str:
        return self.kv.describe_key(key)


class _CommitOnWait(Future):
    """A transaction's future: waiting on it starts the commit (TensorStore forces it)."""

    def __init__(self, transaction: Transaction):
        super().__init__()
        self._transaction = transaction

    def _force(self) -> None:
        if not self.done():
            self._transaction.commit_async()

    def force(self) -> None:
        self._force()

    def result(self, timeout: float | None = None, deadline: float | None = None) -> Any:
        self._force()
        return super().result(timeout, deadline)

    def exception(self, timeout: float | None = None, deadline: float | None = None) -> Any:
        self._force()
        return super().exception(timeout, deadline)

    def add_done_callback(self, fn: Any) -> None:
        self._force()
        super().add_done_callback(fn)

    def __await__(self):
        self._force()
        return super().__await__()


Transaction.__module__ = "tensorstore_py"
