"""`KvStore.with_transaction` and every KvStore operation inside a transaction."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import TIMEOUT, error_text, state

NOT_OPEN_COMMITTED = (ValueError, "Transaction not open (commit already started)")
NOT_OPEN_ABORTED = (ValueError, "Transaction not open (aborted)")
REBIND = (ValueError, "Cannot rebind transaction when existing transaction is uncommitted")


@pytest.fixture
def kv(ts):
    store = ts.KvStore.open({"driver": "memory"}).result(timeout=TIMEOUT)
    store["a"] = b"A0"
    return store


def test_binding(ts, kv):
    assert kv.transaction is None
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    assert kt.transaction is txn
    # A bound view has the same spec and URL as the store.
    assert kt.spec().to_json() == kv.spec().to_json()
    assert kt.url == kv.url


def test_reads_see_own_writes_and_storage_does_not(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    assert kt["a"] == b"A0"
    kt["a"] = b"A1"
    kt["b"] = b"B1"
    assert kt["a"] == b"A1"
    assert kt["b"] == b"B1"
    assert kv["a"] == b"A0"
    with pytest.raises(KeyError):
        kv["b"]
    r = kt.read("b").result(timeout=TIMEOUT)
    assert (r.state, r.value) == ("value", b"B1")
    assert sorted(kt.list().result(timeout=TIMEOUT)) == [b"a", b"b"]
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a"]
    stamp = kt.write("c", b"C1").result(timeout=TIMEOUT)
    assert isinstance(stamp, ts.KvStore.TimestampedStorageGeneration)
    txn.commit_sync()
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a", b"b", b"c"]
    assert (kv["a"], kv["b"], kv["c"]) == (b"A1", b"B1", b"C1")


def test_delete_in_transaction(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    del kt["a"]
    with pytest.raises(KeyError):
        kt["a"]
    assert kt.read("a").result(timeout=TIMEOUT).state == "missing"
    assert kv["a"] == b"A0"
    del kt["never-there"]  # deleting a missing key is not an error
    kt["d"] = b"D"
    kt.write("d", None).result(timeout=TIMEOUT)  # None value = delete
    assert kt.list().result(timeout=TIMEOUT) == []
    txn.commit_sync()
    assert kv.list().result(timeout=TIMEOUT) == []


def test_delete_range_in_transaction(ts, kv):
    kv["b1"] = b"x"
    kv["b2"] = b"y"
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    kt.delete_range(ts.KvStore.KeyRange("b", "c")).result(timeout=TIMEOUT)
    assert sorted(kt.list().result(timeout=TIMEOUT)) == [b"a"]
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a", b"b1", b"b2"]
    txn.commit_sync()
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a"]


def test_abort_drops_everything(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    kt["z"] = b"Z"
    kt["a"] = b"changed"
    txn.abort()
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a"]
    assert kv["a"] == b"A0"
    assert error_text(lambda: kt["z"]) == NOT_OPEN_ABORTED
    assert error_text(lambda: kt.__setitem__("z", b"Z")) == NOT_OPEN_ABORTED


def test_bound_view_after_commit(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    kt["b"] = b"B"
    txn.commit_sync()
    assert error_text(lambda: kt["b"]) == NOT_OPEN_COMMITTED
    assert error_text(lambda: kt.__setitem__("e", b"E")) == NOT_OPEN_COMMITTED
    # The asynchronous methods return a Future; the error is its result.
    for call in (lambda: kt.write("e", b"E"), lambda: kt.read("b"), lambda: kt.list()):
        fut = call()
        assert error_text(lambda: fut.result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED
    # Once committed, the view may be unbound or rebound.
    assert kt.with_transaction(None).transaction is None
    other = ts.Transaction()
    assert kt.with_transaction(other).transaction is other


def test_rebinding_uncommitted_is_refused(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    for target in (ts.Transaction(), txn, None):
        assert error_text(lambda: kt.with_transaction(target)) == REBIND
    txn.abort()
    # Still refused after abort (only a commit releases the binding).
    assert error_text(lambda: kt.with_transaction(None)) == REBIND


def test_missing_key_raises_key_error(ts, kv):
    kt = kv.with_transaction(ts.Transaction())
    with pytest.raises(KeyError):
        kt["missing"]


def test_docstring_example(ts):
    async def main():
        store = await ts.KvStore.open({"driver": "memory"})
        txn = ts.Transaction()
        await store.with_transaction(txn).write(b"a", b"value")
        assert (await store.with_transaction(txn).read(b"a")).value == b"value"
        assert (await store.read(b"a")).state == "missing"
        await txn.commit_async()
        assert (await store.read(b"a")).value == b"value"

    asyncio.run(main())


def test_non_repeatable_read_sees_outside_changes(ts, kv):
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    assert kt["a"] == b"A0"
    kv["a"] = b"outside"
    assert kt["a"] == b"outside"
    kt["b"] = b"y"
    txn.commit_sync()
    assert (kv["a"], kv["b"]) == (b"outside", b"y")


def test_repeatable_read_failure_aborts_at_once(ts, kv):
    txn = ts.Transaction(repeatable_read=True)
    kt = kv.with_transaction(txn)
    assert kt["a"] == b"A0"
    kv["a"] = b"outside"
    assert error_text(lambda: kt["a"]) == (ValueError, "ABORTED: Generation mismatch in repeatable_read transaction")
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}
    assert error_text(lambda: kt.__setitem__("b", b"x")) == NOT_OPEN_ABORTED
    assert error_text(txn.commit_sync) == (
        ValueError,
        'ABORTED: Error reading "a": Generation mismatch in repeatable_read transaction',
    )
    with pytest.raises(KeyError):
        kv["b"]


def test_repeatable_read_unchanged_commits(ts, kv):
    txn = ts.Transaction(repeatable_read=True)
    kt = kv.with_transaction(txn)
    assert kt["a"] == b"A0"
    assert kt["a"] == b"A0"
    kt["b"] = b"x"
    txn.commit_sync()
    assert kv["b"] == b"x"


def test_atomic_file_two_keys_fails(ts, tmp_path):
    path = str(tmp_path / "kv")
    kv = ts.KvStore.open({"driver": "file", "path": path + "/"}).result(timeout=TIMEOUT)
    txn = ts.Transaction(atomic=True)
    kt = kv.with_transaction(txn)
    kt["x"] = b"1"
    message = f'Cannot read/write local file "{path}/x" and read/write local file "{path}/y" as single atomic transaction'
    assert error_text(lambda: kt.__setitem__("y", b"2")) == (ValueError, message)
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}
    assert error_text(lambda: kt.__setitem__("x", b"3")) == NOT_OPEN_ABORTED
    assert error_text(txn.commit_sync) == (ValueError, message)
    assert kv.list().result(timeout=TIMEOUT) == []


def test_atomic_file_single_key_and_reads_commit(ts, tmp_path):
    kv = ts.KvStore.open({"driver": "file", "path": str(tmp_path / "kv") + "/"}).result(timeout=TIMEOUT)
    kv["other"] = b"o"
    txn = ts.Transaction(atomic=True)
    kt = kv.with_transaction(txn)
    # Reads and lists of other keys do not count against atomicity at the kvstore level.
    assert kt["other"] == b"o"
    assert kt.list().result(timeout=TIMEOUT) == [b"other"]
    kt["a"] = b"1"
    kt["a"] = b"2"
    txn.commit_sync()
    assert kv["a"] == b"2"


def test_atomic_memory_many_keys(ts, kv):
    txn = ts.Transaction(atomic=True)
    kt = kv.with_transaction(txn)
    for i in range(5):
        kt[f"k{i}"] = str(i).encode()
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a"]
    txn.commit_sync()
    assert sorted(kv.list().result(timeout=TIMEOUT)) == [b"a"] + [f"k{i}".encode() for i in range(5)]


def test_atomic_file_error_names_keys_in_key_order(ts, tmp_path):
    path = str(tmp_path / "kv")
    kv = ts.KvStore.open({"driver": "file", "path": path + "/"}).result(timeout=TIMEOUT)
    txn = ts.Transaction(atomic=True)
    kt = kv.with_transaction(txn)
    kt["y"] = b"1"
    assert error_text(lambda: kt.__setitem__("x", b"2")) == (
        ValueError,
        f'Cannot read/write local file "{path}/x" and read/write local file "{path}/y" as single atomic transaction',
    )
