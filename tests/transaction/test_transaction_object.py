"""`ts.Transaction` itself: constructor, state flags, commit/abort in every order, context managers."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import TIMEOUT, error_text, state

CANCELLED = (ValueError, "CANCELLED: Transaction aborted")


def test_defaults(ts):
    txn = ts.Transaction()
    assert txn.atomic is False
    assert state(txn) == {"open": True, "commit_started": False, "aborted": False}
    assert isinstance(txn.future, ts.Future)
    assert not txn.future.done()
    assert repr(txn).startswith("<tensorstore")


def test_public_attributes(ts):
    names = {n for n in dir(ts.Transaction()) if not n.startswith("_")}
    assert {"abort", "aborted", "atomic", "commit_async", "commit_started", "commit_sync", "future", "open"} <= names
    # TensorStore exposes no `repeatable_read` property.
    assert "repeatable_read" not in names


@pytest.mark.parametrize(
    "kwargs, atomic",
    [
        ({}, False),
        ({"atomic": True}, True),
        ({"atomic": 1}, True),
        ({"repeatable_read": True}, False),
        # TensorStore reports a mode of exactly "atomic isolated": with repeatable_read it is not.
        ({"atomic": True, "repeatable_read": True}, False),
    ],
)
def test_atomic_property(ts, kwargs, atomic):
    assert ts.Transaction(**kwargs).atomic is atomic


def test_positional_atomic(ts):
    assert ts.Transaction(True).atomic is True


@pytest.mark.parametrize("kwargs", [{"atomic": "x"}, {"foo": 1}])
def test_bad_constructor_arguments(ts, kwargs):
    with pytest.raises(TypeError):
        ts.Transaction(**kwargs)


def test_identity_equality(ts):
    txn = ts.Transaction()
    assert txn == txn
    assert ts.Transaction() != ts.Transaction()
    assert isinstance(hash(txn), int)


def test_commit_async_empty(ts):
    txn = ts.Transaction()
    fut = txn.commit_async()
    assert isinstance(fut, ts.Future)
    assert fut.result(timeout=TIMEOUT) is None
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}
    assert txn.future.done() and txn.future.result() is None
    # Committing again, either way, is harmless; so is abort after commit.
    assert txn.commit_async().result(timeout=TIMEOUT) is None
    assert txn.commit_sync() is None
    assert txn.abort() is None
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}


def test_commit_sync_empty(ts):
    txn = ts.Transaction()
    assert txn.commit_sync() is None
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}
    assert txn.commit_sync() is None


def test_abort(ts):
    txn = ts.Transaction()
    assert txn.abort() is None
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}
    assert txn.future.done()
    assert error_text(lambda: txn.future.result(timeout=TIMEOUT)) == CANCELLED
    assert txn.abort() is None
    assert error_text(txn.commit_sync) == CANCELLED
    fut = txn.commit_async()
    assert error_text(lambda: fut.result(timeout=TIMEOUT)) == CANCELLED
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}


def test_waiting_on_future_starts_the_commit(ts):
    # TensorStore's futures are "forced" by whoever waits on them: a callback, result() or
    # exception() on the transaction's future starts the commit; done() does not.
    kv = ts.KvStore.open("memory://").result(timeout=TIMEOUT)
    txn = ts.Transaction()
    kv.with_transaction(txn)["a"] = b"1"
    assert not txn.future.done()
    assert txn.open
    seen = []
    txn.future.add_done_callback(lambda f: seen.append(f.result()))
    assert txn.future.result(timeout=TIMEOUT) is None
    assert seen == [None]
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}
    assert kv["a"] == b"1"

    other = ts.Transaction()
    assert other.future.result(timeout=TIMEOUT) is None
    assert other.commit_started


def test_context_manager_commits(ts):
    with ts.Transaction() as txn:
        assert isinstance(txn, ts.Transaction)
        assert state(txn) == {"open": True, "commit_started": False, "aborted": False}
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}
    assert txn.future.result(timeout=TIMEOUT) is None


def test_enter_returns_self(ts):
    txn = ts.Transaction()
    assert txn.__enter__() is txn
    txn.__exit__(None, None, None)
    assert txn.commit_started


def test_context_manager_aborts_on_exception(ts):
    with pytest.raises(KeyError, match="boom"):
        with ts.Transaction() as txn:
            raise KeyError("boom")
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}
    assert error_text(lambda: txn.future.result(timeout=TIMEOUT)) == CANCELLED


def test_context_manager_after_explicit_abort_raises(ts):
    with pytest.raises(ValueError, match="^CANCELLED: Transaction aborted$"):
        with ts.Transaction() as txn:
            txn.abort()
    assert txn.aborted


def test_async_context_manager(ts):
    async def main():
        async with ts.Transaction() as ok:
            assert ok.open
        assert state(ok) == {"open": False, "commit_started": True, "aborted": False}
        with pytest.raises(KeyError):
            async with ts.Transaction() as bad:
                raise KeyError("x")
        assert state(bad) == {"open": False, "commit_started": False, "aborted": True}
        third = ts.Transaction()
        assert await third.commit_async() is None

    asyncio.run(main())
