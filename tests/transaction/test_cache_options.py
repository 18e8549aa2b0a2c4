"""Cache revalidation (`recheck_cached_data`) and the per-driver data options
(`fill_missing_data_reads`, `store_data_equal_to_fill_value`), as TensorStore behaves."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import TIMEOUT, create_zarr, error_text, require_driver

OLD = list(range(8))
NEW = [100, 1, 2, 3, 4, 500, 6, 7]


def _recheck_scenario(ts, tmp_path, pool_bytes, option):
    """Reader reads, another context writes, reader reads again, reader's context reopens."""
    kvs = {"driver": "file", "path": str(tmp_path / "a") + "/"}
    spec = {"driver": "zarr", "kvstore": kvs}
    writer = create_zarr(ts, ts.Context(), kvs, shape=(8,), chunks=(4,), data=np.arange(8))
    ctx = ts.Context({"cache_pool": {"total_bytes_limit": pool_bytes}} if pool_bytes is not None else {})
    kw = {}
    if option == "time":
        kw["recheck_cached_data"] = time.time()
    elif option is not None:
        kw["recheck_cached_data"] = option
    reader = ts.open(spec, context=ctx, **kw).result(timeout=TIMEOUT)
    assert reader.read().result(timeout=TIMEOUT).tolist() == OLD
    writer[0] = 100
    writer[5] = 500
    second = reader.read().result(timeout=TIMEOUT).tolist()
    reopened = ts.open(spec, context=ctx, **kw).result(timeout=TIMEOUT).read().result(timeout=TIMEOUT).tolist()
    return second, reopened


@pytest.mark.parametrize("pool_bytes", [None, 0])
@pytest.mark.parametrize("option", [True, False, "open", None, "time"])
def test_nothing_cached_without_pool(ts_now, tmp_path, pool_bytes, option):
    assert _recheck_scenario(ts_now, tmp_path, pool_bytes, option) == (NEW, NEW)


@pytest.mark.parametrize(
    "option, expected",
    [
        (True, (NEW, NEW)),
        (None, (NEW, NEW)),  # the default is True
        ("open", (OLD, NEW)),  # revalidated if cached before the (re)open
    ],
)
def test_recheck_cached_data_with_pool(ts_now, tmp_path, option, expected):
    assert _recheck_scenario(ts_now, tmp_path, 1 << 20, option) == expected


@pytest.mark.parametrize(
    "option, expected",
    [
        (False, (OLD, OLD)),  # never revalidated, even by a reopen in the same context
        ("time", (OLD, OLD)),  # cached after the given time: fresh enough, also after a reopen
    ],
)
def test_recheck_cached_data_never_or_time_with_pool(ts, tmp_path, option, expected):
    # The reopen shares the first handle's cache entries (one cache per context and array).
    assert _recheck_scenario(ts, tmp_path, 1 << 20, option) == expected


@pytest.mark.parametrize("driver, key", [("zarr", "x/1"), ("n5", "x/1"), ("zarr3", "x/c/1")])
def test_fill_missing_data_reads_false(ts, driver, key):
    require_driver(ts, driver)
    ctx = ts.Context()
    base = {"driver": driver, "kvstore": {"driver": "memory", "path": "x/"}}
    fill = {} if driver == "n5" else {"fill_value": 0}
    s = ts.open(base, context=ctx, create=True, dtype="int64", shape=[8], chunk_layout=ts.ChunkLayout(chunk_shape=[4]), **fill).result(
        timeout=TIMEOUT
    )
    s[0:4] = [1, 2, 3, 4]
    strict = ts.open({**base, "fill_missing_data_reads": False}, context=ctx).result(timeout=TIMEOUT)
    assert strict.spec().to_json()["fill_missing_data_reads"] is False
    missing = (ValueError, f'NOT_FOUND: chunk {{1}} stored at "{key}" is missing')
    assert strict[0:4].read().result(timeout=TIMEOUT).tolist() == [1, 2, 3, 4]
    assert error_text(lambda: strict.read().result(timeout=TIMEOUT)) == missing
    assert error_text(lambda: strict[5].read().result(timeout=TIMEOUT)) == missing
    txn = ts.Transaction()
    strict.with_transaction(txn)[4] = 1
    # Even a chunk partly written in the transaction still needs its stored value.
    assert error_text(lambda: strict.with_transaction(txn)[4:8].read().result(timeout=TIMEOUT)) == missing
    txn.abort()
    strict[5].write(9).result(timeout=TIMEOUT)
    assert strict[4:8].read().result(timeout=TIMEOUT).tolist() == [0, 9, 0, 0]
    # Writing only fill values deletes the chunk again (store_data_equal_to_fill_value unset).
    strict[4:8].write(0).result(timeout=TIMEOUT)
    assert error_text(lambda: strict[4:8].read().result(timeout=TIMEOUT)) == missing


def test_fill_missing_data_reads_bad_value(ts_now):
    err = error_text(
        lambda: ts_now.open({"driver": "zarr", "kvstore": "memory://", "fill_missing_data_reads": "x"}).result(timeout=TIMEOUT)
    )
    assert err == (ValueError, 'Error parsing object member "fill_missing_data_reads": Expected boolean, but received: "x"')


@pytest.mark.parametrize("driver, chunk0", [("zarr", b"0"), ("n5", b"0"), ("zarr3", b"c/0")])
def test_store_data_equal_to_fill_value(ts, driver, chunk0):
    require_driver(ts, driver)
    ctx = ts.Context()
    base = {"driver": driver, "kvstore": {"driver": "memory", "path": "x/"}}
    fill = {} if driver == "n5" else {"fill_value": 0}
    s = ts.open(base, context=ctx, create=True, dtype="int64", shape=[8], chunk_layout=ts.ChunkLayout(chunk_shape=[4]), **fill).result(
        timeout=TIMEOUT
    )
    meta = {"zarr": b".zarray", "n5": b"attributes.json", "zarr3": b"zarr.json"}[driver]
    s[0:4] = 0
    assert s.kvstore.list().result(timeout=TIMEOUT) == [meta]
    keep = ts.open({**base, "store_data_equal_to_fill_value": True}, context=ctx).result(timeout=TIMEOUT)
    assert keep.spec().to_json()["store_data_equal_to_fill_value"] is True
    keep[0:4] = 0
    assert sorted(s.kvstore.list().result(timeout=TIMEOUT)) == sorted([meta, chunk0])
    # Without the option, rewriting the chunk with fill values deletes it.
    s[0:4] = 0
    assert s.kvstore.list().result(timeout=TIMEOUT) == [meta]


def test_zarr_null_fill_value_always_stores(ts):
    s = ts.open(
        {"driver": "zarr", "kvstore": "memory://"}, create=True, dtype="int64", shape=[8],
        chunk_layout=ts.ChunkLayout(chunk_shape=[4]), fill_value=None,
    ).result(timeout=TIMEOUT)
    s[0:4] = 0
    assert sorted(s.kvstore.list().result(timeout=TIMEOUT)) == [b".zarray", b"0"]


@pytest.mark.parametrize("option", [False, "open", True])
def test_same_context_handles_see_each_other(ts, tmp_path, option):
    """Handles of one context share cache entries: whatever the recheck options, one sees the
    other's writes and resizes at once (the writes update the shared entries)."""
    kvs = {"driver": "file", "path": str(tmp_path / "a") + "/"}
    spec = {"driver": "zarr", "kvstore": kvs}
    ctx = ts.Context({"cache_pool": {"total_bytes_limit": 1 << 20}})
    a = create_zarr(ts, ctx, kvs, shape=(8,), chunks=(4,), data=np.arange(8))
    b = ts.open(spec, context=ctx, recheck_cached_data=option, recheck_cached_metadata=option).result(timeout=TIMEOUT)
    assert b.read().result(timeout=TIMEOUT).tolist() == OLD
    a[1] = 11
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 11, 2, 3, 4, 5, 6, 7]
    a.resize(exclusive_max=[6]).result(timeout=TIMEOUT)
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 11, 2, 3, 4, 5]
    assert b.domain.exclusive_max == (8,)
