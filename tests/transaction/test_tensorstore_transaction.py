"""TensorStore handles in a transaction: binding, staging, commit, abort, isolation, atomicity,
repeatable reads and resize, on the memory and file kvstores."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import TIMEOUT, assert_raises_prefix, create_zarr, error_text, require_driver, state

NOT_OPEN_COMMITTED = (ValueError, "Transaction not open (commit already started)")
NOT_OPEN_ABORTED = (ValueError, "Transaction not open (aborted)")
REBIND = (ValueError, "Cannot rebind transaction when existing transaction is uncommitted")


def _read(store):
    return store.read().result(timeout=TIMEOUT).tolist()


def _describe_key(kvs, key):
    """How TensorStore names a key of `kvs` in error messages."""
    if kvs["driver"] == "memory":
        return f'"{kvs["path"]}{key}"'
    return f'local file "{kvs["path"]}{key}"'


def test_binding_and_views(ts, kvstore_spec):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    assert s.transaction is None
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    assert st.transaction is txn
    assert st[1:3].transaction is txn
    assert st.kvstore.transaction is txn
    # Binding changes neither the spec nor the repr.
    assert st.spec().to_json() == s.spec().to_json()
    assert repr(st) == repr(s)
    opened = ts.open({"driver": "zarr", "kvstore": kvstore_spec}, context=ctx, transaction=txn).result(timeout=TIMEOUT)
    assert opened.transaction is txn
    for target in (ts.Transaction(), None):
        assert error_text(lambda: st.with_transaction(target)) == REBIND
    txn.abort()


def test_own_writes_visible_only_inside(ts, kvstore_spec):
    ctx = ts.Context()
    spec = {"driver": "zarr", "kvstore": kvstore_spec}
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    st[2:6] = 100
    w = st[0:1].write(7)
    # In a transaction both futures resolve once the write is staged.
    assert w.copy.result(timeout=TIMEOUT) is None
    assert w.commit.result(timeout=TIMEOUT) is None
    expected = [7, 1, 100, 100, 100, 100, 6, 7, 8, 9]
    assert _read(st) == expected
    # Another handle opened in the same transaction (same context) sees the staged data ...
    assert _read(ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT)) == expected
    # ... handles outside it do not.
    assert _read(s) == list(range(10))
    assert _read(ts.open(spec, context=ctx).result(timeout=TIMEOUT)) == list(range(10))
    assert txn.commit_async().result(timeout=TIMEOUT) is None
    assert _read(s) == expected


def test_nothing_reaches_disk_before_commit(ts, tmp_path):
    path = tmp_path / "a"
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path) + "/"}}
    ctx = ts.Context()
    txn = ts.Transaction()
    s = ts.open(
        spec, context=ctx, transaction=txn, create=True, dtype="int32", shape=[6], chunk_layout=ts.ChunkLayout(chunk_shape=[3]), fill_value=0
    ).result(timeout=TIMEOUT)
    s[0:4] = 5
    assert not path.exists() or os.listdir(path) == []
    assert_raises_prefix(
        lambda: ts.open(spec, context=ctx).result(timeout=TIMEOUT),
        f'NOT_FOUND: Error opening "zarr" driver: Metadata at local file "{path}/.zarray" does not exist',
    )
    assert _read(ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT)) == [5, 5, 5, 5, 0, 0]
    txn.commit_sync()
    assert sorted(os.listdir(path)) == [".zarray", "0", "1"]
    assert _read(ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT)) == [5, 5, 5, 5, 0, 0]


def test_abort_drops_a_created_array(ts, tmp_path):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "b") + "/"}}
    txn = ts.Transaction()
    s = ts.open(spec, transaction=txn, create=True, dtype="int32", shape=[6]).result(timeout=TIMEOUT)
    s[...] = 1
    txn.abort()
    assert os.listdir(tmp_path) == []


def test_delete_existing_in_transaction(ts, tmp_path):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a") + "/"}}
    ctx = ts.Context()
    ts.open(spec, context=ctx, create=True, dtype="int32", shape=[6], chunk_layout=ts.ChunkLayout(chunk_shape=[3])).result(
        timeout=TIMEOUT
    ).write(np.arange(6, dtype=np.int32)).result(timeout=TIMEOUT)
    txn = ts.Transaction()
    replaced = ts.open(spec, context=ctx, transaction=txn, create=True, delete_existing=True, dtype="int32", shape=[2]).result(
        timeout=TIMEOUT
    )
    assert replaced.shape == (2,)
    assert ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT).shape == (6,)
    txn.commit_sync()
    assert ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT).shape == (2,)
    assert os.listdir(tmp_path / "a") == [".zarray"]


def test_abort_drops_writes(ts, kvstore_spec):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    st[...] = -1
    txn.abort()
    assert _read(s) == list(range(10))
    assert error_text(lambda: st.read().result(timeout=TIMEOUT)) == NOT_OPEN_ABORTED
    assert error_text(lambda: st.write(1).result(timeout=TIMEOUT)) == NOT_OPEN_ABORTED
    assert error_text(lambda: st.__setitem__(0, 1)) == NOT_OPEN_ABORTED
    assert error_text(lambda: st.spec()) == NOT_OPEN_ABORTED
    assert st.domain == s.domain
    spec = {"driver": "zarr", "kvstore": kvstore_spec}
    assert error_text(lambda: ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT)) == NOT_OPEN_ABORTED


def test_bound_handle_after_commit(ts, kvstore_spec):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    st[0] = 1
    txn.commit_sync()
    assert error_text(lambda: st.read().result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED
    assert error_text(lambda: st.write(1).result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED
    assert error_text(lambda: st.write(1).copy.result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED
    assert error_text(lambda: st.spec()) == NOT_OPEN_COMMITTED
    assert st.transaction is txn
    assert error_text(lambda: s.with_transaction(txn).read().result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED
    spec = {"driver": "zarr", "kvstore": kvstore_spec}
    assert error_text(lambda: ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT)) == NOT_OPEN_COMMITTED


def test_read_only_handle_in_transaction(ts, kvstore_spec):
    ctx = ts.Context()
    create_zarr(ts, ctx, kvstore_spec)
    txn = ts.Transaction()
    ro = ts.open({"driver": "zarr", "kvstore": kvstore_spec}, context=ctx, transaction=txn, read=True, write=False).result(
        timeout=TIMEOUT
    )
    assert error_text(lambda: ro.write(1).result(timeout=TIMEOUT)) == (ValueError, "Destination does not support writing.")


def test_isolation_with_concurrent_writer(ts, kvstore_spec):
    """Differential (the expected values are TensorStore's): the transaction merges only the
    elements it wrote over the latest stored chunk at commit; outside writes to other elements
    of the same chunk survive; where both wrote, the transaction (committed last) wins."""
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    assert _read(st) == list(range(10))
    st[1:3] = [100, 200]  # part of chunk 0
    st[4:8] = -1  # all of chunk 1
    assert _read(st) == [0, 100, 200, 3, -1, -1, -1, -1, 8, 9]
    s[0] = 1000
    s[2] = 2000
    s[5] = 5000
    s[9] = 9000
    outside = [1000, 1, 2000, 3, 4, 5000, 6, 7, 8, 9000]
    assert _read(s) == outside
    other_ctx = ctx if kvstore_spec["driver"] == "memory" else ts.Context()
    assert _read(ts.open({"driver": "zarr", "kvstore": kvstore_spec}, context=other_ctx).result(timeout=TIMEOUT)) == outside
    merged = [1000, 100, 200, 3, -1, -1, -1, -1, 8, 9000]
    assert _read(st) == merged
    txn.commit_sync()
    assert _read(s) == merged


def test_atomic_multi_chunk_on_memory_commits(ts):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, {"driver": "memory"})
    txn = ts.Transaction(atomic=True)
    st = s.with_transaction(txn)
    st[0:2].write(1).result(timeout=TIMEOUT)
    st[4:6].write(2).result(timeout=TIMEOUT)
    st[8:10] = 3
    assert state(txn) == {"open": True, "commit_started": False, "aborted": False}
    assert _read(s) == [0] * 10
    txn.commit_sync()
    assert _read(s) == [1, 1, 0, 0, 2, 2, 0, 0, 3, 3]


@pytest.mark.parametrize(
    "driver, first, second",
    [("zarr", ".zarray", "0"), ("n5", "0", "attributes.json"), ("zarr3", "c/0", "zarr.json")],
)
def test_atomic_on_file_fails_at_first_chunk_write(ts, tmp_path, driver, first, second):
    """The driver reads its metadata in the transaction, so even one chunk is a second key.
    The message names the two keys in key order."""
    require_driver(ts, driver)
    path = str(tmp_path / "arr")
    ctx = ts.Context()
    s = ts.open(
        {"driver": driver, "kvstore": {"driver": "file", "path": path + "/"}},
        context=ctx, create=True, dtype="int64", shape=[10], chunk_layout=ts.ChunkLayout(chunk_shape=[4]),
    ).result(timeout=TIMEOUT)
    txn = ts.Transaction(atomic=True)
    st = s.with_transaction(txn)
    message = (
        f'Cannot read/write local file "{path}/{first}" and read/write local file "{path}/{second}" as single atomic transaction'
    )
    w = st[0:2].write(1)
    assert error_text(lambda: w.copy.result(timeout=TIMEOUT)) == (ValueError, message)
    assert error_text(lambda: w.commit.result(timeout=TIMEOUT)) == (ValueError, message)
    assert state(txn) == {"open": False, "commit_started": False, "aborted": True}
    assert error_text(lambda: st[4:6].write(2).result(timeout=TIMEOUT)) == NOT_OPEN_ABORTED
    assert error_text(lambda: st.read().result(timeout=TIMEOUT)) == NOT_OPEN_ABORTED
    assert error_text(txn.commit_sync) == (ValueError, message)
    assert s.read().result(timeout=TIMEOUT).tolist() == [0] * 10


@pytest.mark.parametrize("also_write", [None, "other-chunk", "same-chunk"])
def test_repeatable_read_conflict(ts, kvstore_spec, also_write):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction(repeatable_read=True)
    st = s.with_transaction(txn)
    assert st[0:4].read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3]
    s[1] = 50  # a non-transactional writer changes what the transaction read
    where = _describe_key(kvstore_spec, "0")
    assert error_text(lambda: st[0:4].read().result(timeout=TIMEOUT)) == (
        ValueError,
        f"ABORTED: Error reading {where}: Generation mismatch",
    )
    if also_write == "other-chunk":
        st[5] = 55
    elif also_write == "same-chunk":
        st[2] = 22
    commit_error = (ValueError, f"ABORTED: Error writing {where}: Generation mismatch")
    assert error_text(lambda: txn.commit_async().result(timeout=TIMEOUT)) == commit_error
    assert state(txn) == {"open": False, "commit_started": True, "aborted": False}
    # The failure is remembered: every later ask gives the same error.
    assert error_text(txn.commit_sync) == commit_error
    assert error_text(lambda: txn.future.result(timeout=TIMEOUT)) == commit_error
    expected = [0, 50, 2, 3, 4, 5, 6, 7, 8, 9]
    if also_write == "other-chunk" and kvstore_spec["driver"] == "file":
        # A non-atomic commit on the file kvstore writes key by key: the unconflicted chunk lands.
        expected[5] = 55
    assert _read(s) == expected


def test_repeatable_read_without_change_commits(ts, kvstore_spec):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction(repeatable_read=True)
    st = s.with_transaction(txn)
    assert _read(st) == list(range(10))
    assert _read(st) == list(range(10))
    st[2] = 22
    txn.commit_sync()
    assert _read(s)[2] == 22


@pytest.mark.parametrize("driver", ["zarr", "n5", "zarr3"])
def test_resize_grow_in_transaction(ts, kvstore_spec, driver):
    require_driver(ts, driver)
    ctx = ts.Context()
    spec = {"driver": driver, "kvstore": kvstore_spec}
    s = ts.open(
        spec, context=ctx, create=True, dtype="int64", shape=[10], chunk_layout=ts.ChunkLayout(chunk_shape=[4]),
        **({} if driver == "n5" else {"fill_value": 0}),
    ).result(timeout=TIMEOUT)
    s[...] = np.arange(10)
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    grown = st.resize(exclusive_max=[14]).result(timeout=TIMEOUT)
    assert grown.transaction is txn
    assert grown.domain.exclusive_max == (14,)
    assert ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT).domain.exclusive_max == (14,)
    assert ts.open(spec, context=ctx).result(timeout=TIMEOUT).domain.exclusive_max == (10,)
    grown[10:14].write(7).result(timeout=TIMEOUT)
    assert _read(grown) == list(range(10)) + [7] * 4
    # Outside the transaction the old bounds still hold.
    assert_raises_prefix(
        lambda: s[12].write(1).result(timeout=TIMEOUT),
        "OUT_OF_RANGE: Checking bounds of constant output index map for dimension 0: Index 12 is outside valid range [0, 10)",
    )
    txn.commit_sync()
    assert _read(ts.open(spec, context=ctx).result(timeout=TIMEOUT)) == list(range(10)) + [7] * 4


def test_resize_shrink_metadata_only_in_transaction(ts, kvstore_spec):
    ctx = ts.Context()
    spec = {"driver": "zarr", "kvstore": kvstore_spec}
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    shrunk = s.with_transaction(txn).resize(exclusive_max=[6], resize_metadata_only=True).result(timeout=TIMEOUT)
    assert shrunk.domain.exclusive_max == (6,)
    assert ts.open(spec, context=ctx).result(timeout=TIMEOUT).domain.exclusive_max == (10,)
    txn.commit_sync()
    assert ts.open(spec, context=ctx).result(timeout=TIMEOUT).domain.exclusive_max == (6,)
    assert _read(ts.open(spec, context=ctx).result(timeout=TIMEOUT)) == list(range(6))


def test_transaction_docstring_example(ts, tmp_path):
    store = ts.open(
        {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": str(tmp_path / "dataset") + "/"},
            "metadata": {"dataType": "uint16", "blockSize": [2, 3], "dimensions": [5, 6], "compression": {"type": "raw"}},
            "create": True,
            "delete_existing": True,
        }
    ).result(timeout=TIMEOUT)
    txn = ts.Transaction()
    store.with_transaction(txn)[1:4, 2:5] = 42
    store.with_transaction(txn)[0:2, 4] = 43
    staged = np.zeros((5, 6), np.uint16)
    staged[1:4, 2:5] = 42
    staged[0:2, 4] = 43
    np.testing.assert_array_equal(store.with_transaction(txn).read().result(timeout=TIMEOUT), staged)
    np.testing.assert_array_equal(store.read().result(timeout=TIMEOUT), np.zeros((5, 6), np.uint16))
    assert txn.commit_async().result(timeout=TIMEOUT) is None
    np.testing.assert_array_equal(store.read().result(timeout=TIMEOUT), staged)
    with ts.Transaction() as txn:
        store.with_transaction(txn)[0:2, 1:3] = 44
        store.with_transaction(txn)[0, 0] = 45
    staged[0:2, 1:3] = 44
    staged[0, 0] = 45
    np.testing.assert_array_equal(store.read().result(timeout=TIMEOUT), staged)


def test_two_transactions_on_one_chunk(ts, kvstore_spec):
    """Each transaction sees only its own writes over storage; commits merge element-wise in
    commit order; a repeatable-read transaction fails if another committed over what it read."""
    ctx = ts.Context()
    s = create_zarr(ts, ctx, kvstore_spec, shape=(8,), chunks=(8,), data=np.arange(8))
    t1, t2 = ts.Transaction(), ts.Transaction()
    a, b = s.with_transaction(t1), s.with_transaction(t2)
    a[0:3] = 10
    b[2:5] = 20
    assert _read(a) == [10, 10, 10, 3, 4, 5, 6, 7]
    assert _read(b) == [0, 1, 20, 20, 20, 5, 6, 7]
    t1.commit_sync()
    assert _read(s) == [10, 10, 10, 3, 4, 5, 6, 7]
    assert _read(b) == [10, 10, 20, 20, 20, 5, 6, 7]
    t2.commit_sync()
    assert _read(s) == [10, 10, 20, 20, 20, 5, 6, 7]

    t3, t4 = ts.Transaction(repeatable_read=True), ts.Transaction()
    s.with_transaction(t3).read().result(timeout=TIMEOUT)
    s.with_transaction(t4)[7] = 70
    t4.commit_sync()
    assert error_text(t3.commit_sync) == (ValueError, f"ABORTED: Error writing {_describe_key(kvstore_spec, '0')}: Generation mismatch")
    assert _read(s) == [10, 10, 20, 20, 20, 5, 6, 70]


@pytest.mark.parametrize("finish", ["commit", "abort"])
def test_one_transaction_spanning_arrays_and_raw_keys(ts, tmp_path, finish):
    ctx = ts.Context()
    root = str(tmp_path) + "/"
    x = create_zarr(ts, ctx, {"driver": "file", "path": root + "x/"}, shape=(6,), chunks=(4,))
    y = create_zarr(ts, ctx, {"driver": "memory", "path": "y/"}, shape=(6,), chunks=(4,))
    raw = ts.KvStore.open({"driver": "file", "path": root + "raw/"}, context=ctx).result(timeout=TIMEOUT)
    txn = ts.Transaction()
    x.with_transaction(txn)[1:5] = 1
    y.with_transaction(txn)[2:6] = 2
    raw.with_transaction(txn)["note"] = b"hello"
    assert _read(x) == [0] * 6 and _read(y) == [0] * 6
    assert raw.list().result(timeout=TIMEOUT) == []
    if finish == "commit":
        txn.commit_sync()
        assert _read(x) == [0, 1, 1, 1, 1, 0]
        assert _read(y) == [0, 0, 2, 2, 2, 2]
        assert raw["note"] == b"hello"
    else:
        txn.abort()
        assert _read(x) == [0] * 6 and _read(y) == [0] * 6
        assert raw.list().result(timeout=TIMEOUT) == []
