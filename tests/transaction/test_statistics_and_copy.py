"""`TensorStore.storage_statistics` and `dst.write(src_tensorstore)`, as TensorStore behaves."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest

from .conftest import TIMEOUT, create_zarr, error_text


def _stats(store, **kw):
    r = store.storage_statistics(**kw).result(timeout=TIMEOUT)
    return r.not_stored, r.fully_stored


def test_storage_statistics(ts):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, {"driver": "memory"}, shape=(10, 10), chunks=(5, 5), dtype="int32")
    both = {"query_not_stored": True, "query_fully_stored": True}
    assert _stats(s, **both) == (True, False)
    assert _stats(s) == (None, None)  # nothing asked, nothing computed
    s[0:5, 0:5] = 1
    assert _stats(s, **both) == (False, False)
    assert _stats(s[0:2, 0:2], **both) == (False, True)
    assert _stats(s[5:, 5:], **both) == (True, False)
    assert _stats(s, query_not_stored=True) == (False, None)
    assert _stats(s, query_fully_stored=True) == (None, False)
    s[...] = 2
    result = s.storage_statistics(**both).result(timeout=TIMEOUT)
    assert result == ts.TensorStore.StorageStatistics(not_stored=False, fully_stored=True)
    assert repr(result) == "TensorStore.StorageStatistics(not_stored=False, fully_stored=True)"


def test_storage_statistics_sees_transaction(ts):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, {"driver": "memory"}, shape=(10,), chunks=(5,), dtype="int32")
    txn = ts.Transaction()
    st = s.with_transaction(txn)
    st[0:5] = 3
    both = {"query_not_stored": True, "query_fully_stored": True}
    assert _stats(st, **both) == (False, False)
    assert _stats(s, **both) == (True, False)
    txn.abort()


def test_storage_statistics_docstring_example(ts):
    async def main():
        store = await ts.open({"driver": "zarr", "kvstore": "memory://"}, shape=(100, 200), dtype=ts.uint32, create=True)
        assert repr(await store.storage_statistics(query_not_stored=True)) == (
            "TensorStore.StorageStatistics(not_stored=True, fully_stored=None)"
        )
        await store[10:20, 30:40].write(5)
        assert repr(await store.storage_statistics(query_not_stored=True)) == (
            "TensorStore.StorageStatistics(not_stored=False, fully_stored=None)"
        )
        assert repr(await store.storage_statistics(query_not_stored=True, query_fully_stored=True)) == (
            "TensorStore.StorageStatistics(not_stored=False, fully_stored=True)"
        )
        assert repr(await store[10:20, 30:40].storage_statistics(query_fully_stored=True)) == (
            "TensorStore.StorageStatistics(not_stored=None, fully_stored=True)"
        )

    asyncio.run(main())


def _pair(ts, ctx, src_chunks=(4,), dst_chunks=(3,), n=10):
    src = create_zarr(ts, ctx, {"driver": "memory", "path": "src/"}, shape=(n,), chunks=src_chunks, data=np.arange(n))
    dst = create_zarr(ts, ctx, {"driver": "memory", "path": "dst/"}, shape=(n,), chunks=dst_chunks)
    return src, dst


def test_copy_between_stores(ts):
    src, dst = _pair(ts, ts.Context())
    w = dst.write(src)
    assert isinstance(w, ts.WriteFutures)
    assert w.copy.result(timeout=TIMEOUT) is None
    assert w.commit.result(timeout=TIMEOUT) is None
    assert dst.read().result(timeout=TIMEOUT).tolist() == list(range(10))
    dst[0:5].write(src[5:10]).result(timeout=TIMEOUT)
    assert dst.read().result(timeout=TIMEOUT).tolist() == [5, 6, 7, 8, 9, 5, 6, 7, 8, 9]


def test_copy_source_changed_after_copy_resolves(ts):
    src, dst = _pair(ts, ts.Context())
    w = dst.write(src)
    w.copy.result(timeout=TIMEOUT)
    src.write(-1).result(timeout=TIMEOUT)
    w.commit.result(timeout=TIMEOUT)
    assert dst.read().result(timeout=TIMEOUT).tolist() == list(range(10))


def test_copy_in_transaction(ts):
    src, dst = _pair(ts, ts.Context())
    txn = ts.Transaction()
    w = dst.with_transaction(txn).write(src)
    assert w.copy.result(timeout=TIMEOUT) is None
    assert w.commit.done()
    src.write(7).result(timeout=TIMEOUT)
    assert dst.read().result(timeout=TIMEOUT).tolist() == [0] * 10
    txn.commit_sync()
    assert dst.read().result(timeout=TIMEOUT).tolist() == list(range(10))


def test_copy_from_source_in_transaction(ts):
    src, dst = _pair(ts, ts.Context())
    txn = ts.Transaction()
    src.with_transaction(txn)[...] = 42
    dst.write(src.with_transaction(txn)).result(timeout=TIMEOUT)
    assert dst.read().result(timeout=TIMEOUT).tolist() == [42] * 10
    txn.abort()
    assert src.read().result(timeout=TIMEOUT).tolist() == list(range(10))


def test_copy_errors(ts):
    ctx = ts.Context()
    src, dst = _pair(ts, ctx)
    other = create_zarr(ts, ctx, {"driver": "memory", "path": "f/"}, shape=(10,), chunks=(10,), dtype="float32")
    assert error_text(lambda: dst.write(other).result(timeout=TIMEOUT)) == (
        ValueError,
        "Explicit data type conversion required to convert float32 -> int64",
    )
    assert error_text(lambda: dst[0:5].write(src).result(timeout=TIMEOUT)) == (
        ValueError,
        "Error aligning dimensions: source dimension 0 [0, 10) mismatch with target dimension 0 [0, 5)",
    )
    assert dst.read().result(timeout=TIMEOUT).tolist() == [0] * 10


@pytest.mark.parametrize("n, src_chunks, dst_chunks", [(1000, (64,), (100,)), (777, (50,), (31,))])
def test_copy_unaligned_chunks(ts_now, n, src_chunks, dst_chunks):
    ts = ts_now
    src, dst = _pair(ts, ts.Context(), src_chunks, dst_chunks, n)
    dst[3:n].write(src[0 : n - 3]).result(timeout=TIMEOUT)
    got = dst.read().result(timeout=TIMEOUT)
    assert got[:3].tolist() == [0, 0, 0]
    assert (got[3:] == np.arange(n - 3)).all()


def test_storage_statistics_class(ts):
    cls = ts.TensorStore.StorageStatistics
    assert repr(cls()) == "TensorStore.StorageStatistics(not_stored=None, fully_stored=None)"
    value = cls(not_stored=True, fully_stored=False)
    assert pickle.loads(pickle.dumps(value)) == value
    assert cls(not_stored=True) != cls(not_stored=False)
    with pytest.raises(TypeError):
        cls(True, False)  # keyword-only
    settable = cls()
    settable.not_stored = True
    assert repr(settable) == "TensorStore.StorageStatistics(not_stored=True, fully_stored=None)"


def test_storage_statistics_concurrent_queries(ts):
    ctx = ts.Context()
    s = create_zarr(ts, ctx, {"driver": "memory"}, shape=(40,), chunks=(4,), dtype="int32")
    s[0:20] = 1
    futures = [s[i : i + 4].storage_statistics(query_not_stored=True, query_fully_stored=True) for i in range(0, 40, 4)]
    got = [(f.result(timeout=TIMEOUT).not_stored, f.result(timeout=TIMEOUT).fully_stored) for f in futures]
    assert got == [(False, True)] * 5 + [(True, False)] * 5
