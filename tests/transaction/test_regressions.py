"""Regression tests for the defects listed in issue 9, each run against the reference too."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from .conftest import TIMEOUT, assert_raises_prefix, create_zarr, error_text

OUT_OF_RANGE_9 = "OUT_OF_RANGE: Checking bounds of constant output index map for dimension 0: Index 9 is outside valid range [0, 5)"


def test_cache_identity_is_not_object_id(ts):
    """300 arrays, each on a fresh memory kvstore, one context with a cache pool: every read
    returns that array's own chunk (an id()-keyed cache returned earlier arrays' chunks)."""
    ctx = ts.Context({"cache_pool": {"total_bytes_limit": 1 << 20}})
    wrong = []
    for i in range(300):
        spec = {
            "driver": "zarr",
            "kvstore": {"driver": "memory", "context": {"memory_key_value_store": {}}},
            "metadata": {"compressor": None, "dtype": "<i4", "shape": [4], "chunks": [4], "fill_value": 0},
        }
        store = ts.open(spec, context=ctx, create=True).result(timeout=TIMEOUT)
        # Written around the chunk cache, straight to the kvstore.
        store.kvstore["0"] = np.full(4, i, dtype="<i4").tobytes()
        got = store.read().result(timeout=TIMEOUT)
        if not (got == i).all():
            wrong.append(i)
        del store
        if i % 25 == 0:
            gc.collect()
    assert wrong == []


def test_same_array_shares_cache_within_a_context(ts, tmp_path):
    """Two opens of one array in one context share cached chunks: with recheck_cached_data=False
    a chunk the first handle read is served to the second even after storage changed."""
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a") + "/"}}
    writer = create_zarr(ts, ts.Context(), spec["kvstore"], shape=(8,), chunks=(8,), data=np.arange(8))
    ctx = ts.Context({"cache_pool": {"total_bytes_limit": 1 << 20}})
    first = ts.open(spec, context=ctx, recheck_cached_data=False).result(timeout=TIMEOUT)
    assert first.read().result(timeout=TIMEOUT).tolist() == list(range(8))
    writer[0] = 100
    second = ts.open(spec, context=ctx, recheck_cached_data=False).result(timeout=TIMEOUT)
    assert second.read().result(timeout=TIMEOUT).tolist() == list(range(8))
    # A different array (another path) never shares.
    other_spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "b") + "/"}}
    create_zarr(ts, ts.Context(), other_spec["kvstore"], shape=(8,), chunks=(8,), data=np.full(8, 5))
    other = ts.open(other_spec, context=ctx, recheck_cached_data=False).result(timeout=TIMEOUT)
    assert other.read().result(timeout=TIMEOUT).tolist() == [5] * 8


def test_source_not_read_after_copy_resolves(ts, tmp_path):
    """A partial-chunk write races another handle writing other elements of the same chunk;
    the caller mutates its source as soon as `copy` resolves: the stored values are the
    originals every time (retries must re-merge from the staged copy, not the caller's array)."""
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a") + "/"}}
    create_zarr(ts, ts.Context(), spec["kvstore"], shape=(64,), chunks=(64,), dtype="int32")
    mine = ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT)
    theirs = ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT)
    stop = threading.Event()

    def race():
        n = 0
        while not stop.is_set():
            n += 1
            theirs[32:64].write(np.full(32, n, np.int32)).result(timeout=TIMEOUT)

    racer = threading.Thread(target=race)
    racer.start()
    corrupted = []
    try:
        for i in range(60):
            src = np.arange(32, dtype=np.int32) + 1000 * (i + 1)
            original = src.copy()
            w = mine[0:32].write(src)
            w.copy.result(timeout=TIMEOUT)
            src[:] = -1
            w.commit.result(timeout=TIMEOUT)
            stored = ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT)[0:32].read().result(timeout=TIMEOUT)
            if not np.array_equal(stored, original):
                corrupted.append(i)
    finally:
        stop.set()
        racer.join()
    assert corrupted == []


def test_open_with_transaction_is_honoured(ts, kvstore_spec):
    ctx = ts.Context()
    spec = {"driver": "zarr", "kvstore": kvstore_spec}
    s = create_zarr(ts, ctx, kvstore_spec, data=np.arange(10))
    txn = ts.Transaction()
    bound = ts.open(spec, context=ctx, transaction=txn).result(timeout=TIMEOUT)
    bound[...] = 7
    assert s.read().result(timeout=TIMEOUT).tolist() == list(range(10))
    txn.commit_sync()
    assert s.read().result(timeout=TIMEOUT).tolist() == [7] * 10


@pytest.mark.parametrize("driver", ["zarr", "n5"])
def test_stale_handle_after_resize_same_context(ts, kvstore_spec, driver):
    """Handles of one context share cached metadata: a shrink made through one is enforced on
    the other (TensorStore: OUT_OF_RANGE), and reads through the other clip to the new bounds."""
    ctx = ts.Context()
    spec = {"driver": driver, "kvstore": kvstore_spec}
    a = ts.open(spec, context=ctx, create=True, dtype="int64", shape=[10], chunk_layout=ts.ChunkLayout(chunk_shape=[4])).result(
        timeout=TIMEOUT
    )
    a[...] = np.arange(10)
    b = ts.open(spec, context=ctx).result(timeout=TIMEOUT)
    assert a.resize(exclusive_max=[5]).result(timeout=TIMEOUT).domain.exclusive_max == (5,)
    assert b.domain.exclusive_max == (10,)  # the handle's own domain is not refreshed
    assert_raises_prefix(lambda: b[9].write(1).result(timeout=TIMEOUT), OUT_OF_RANGE_9)
    assert_raises_prefix(
        lambda: b[8:10].write(1).result(timeout=TIMEOUT),
        "OUT_OF_RANGE: Propagated bounds [0, 5), with size=5, for dimension 0 are incompatible with existing bounds [8, 10), with size=2.",
    )
    b[4].write(44).result(timeout=TIMEOUT)
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3, 44]
    a.resize(exclusive_max=[12], expand_only=True).result(timeout=TIMEOUT)
    # Chunk 2 (wholly outside [0, 5)) was deleted by the shrink; nothing the stale handle did
    # brought it back. Chunk 1 keeps its old elements past 5.
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3, 44, 5, 6, 7, 0, 0, 0, 0]


def _stale_other_context(ts, tmp_path, option):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a") + "/"}}
    create_zarr(ts, ts.Context(), spec["kvstore"], data=np.arange(10), fill_value=None)
    b = ts.open(spec, context=ts.Context(), recheck_cached_metadata=option).result(timeout=TIMEOUT)
    assert b.read().result(timeout=TIMEOUT).tolist() == list(range(10))
    ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT).resize(exclusive_max=[5]).result(timeout=TIMEOUT)
    return b


def test_stale_handle_other_context_rechecked(ts, tmp_path):
    """Across contexts, recheck_cached_metadata=True checks bounds against fresh metadata."""
    b = _stale_other_context(ts, tmp_path, True)
    assert_raises_prefix(lambda: b[9].write(1).result(timeout=TIMEOUT), OUT_OF_RANGE_9)
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("option", ["open", False, 0])
def test_stale_handle_other_context_not_rechecked(ts_now, tmp_path, option):
    """Metadata cached at open (or any time after `option`) is trusted: the stale write lands."""
    b = _stale_other_context(ts_now, tmp_path, option)
    assert error_text(lambda: b[9].write(1).result(timeout=TIMEOUT)) is None
    assert b.read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]


def test_open_with_schema(ts):
    schema = ts.Schema(dtype="int32", shape=[6], chunk_layout=ts.ChunkLayout(chunk_shape=[3]), fill_value=5)
    s = ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, schema=schema).result(timeout=TIMEOUT)
    assert s.dtype == ts.int32
    assert s.shape == (6,)
    assert s.chunk_layout.read_chunk.shape == (3,)
    assert s.fill_value.tolist() == 5
    assert s.read().result(timeout=TIMEOUT).tolist() == [5] * 6
    err = error_text(
        lambda: ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, schema=schema, dtype="int64").result(timeout=TIMEOUT)
    )
    assert err == (ValueError, "Invalid schema: Specified dtype (int32) does not match existing value (int64)")
    with pytest.raises(TypeError, match="^Invalid schema$"):
        ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, schema={"dtype": "int32"})


def test_spec_update_with_schema(ts):
    schema = ts.Schema(dtype="int32", shape=[6], chunk_layout=ts.ChunkLayout(chunk_shape=[3]), fill_value=5)
    spec = ts.Spec({"driver": "zarr", "kvstore": "memory://"})
    spec.update(schema=schema)
    assert spec.to_json() == {
        "driver": "zarr",
        "dtype": "int32",
        "kvstore": {"driver": "memory"},
        "schema": {
            "chunk_layout": {"read_chunk": {"shape": [3]}, "write_chunk": {"shape": [3]}},
            "domain": {"exclusive_max": [6], "inclusive_min": [0]},
            "fill_value": 5,
        },
        "transform": {"input_exclusive_max": [[6]], "input_inclusive_min": [0]},
    }
    conflicting = ts.Spec({"driver": "zarr", "kvstore": "memory://", "schema": {"dtype": "int64"}})
    assert error_text(lambda: conflicting.update(schema=schema)) == (
        ValueError,
        "Specified dtype (int32) does not match existing value (int64)",
    )


@pytest.mark.parametrize("driver", ["zarr", "n5"])
def test_boundary_chunk_write_after_shrink_keeps_stored_elements(ts, driver):
    """A write into the chunk that straddles a shrunk upper bound merges into the stored chunk:
    TensorStore leaves the stored elements past the bound as they were (they reappear after
    growing back); it does not clear them to the fill value."""
    ctx = ts.Context()
    spec = {"driver": driver, "kvstore": {"driver": "memory"}}
    a = ts.open(spec, context=ctx, create=True, dtype="int64", shape=[10], chunk_layout=ts.ChunkLayout(chunk_shape=[4])).result(
        timeout=TIMEOUT
    )
    a[...] = np.arange(10)
    a = a.resize(exclusive_max=[5]).result(timeout=TIMEOUT)
    a[4].write(44).result(timeout=TIMEOUT)
    grown = a.resize(exclusive_max=[12], expand_only=True).result(timeout=TIMEOUT)
    assert grown.read().result(timeout=TIMEOUT).tolist() == [0, 1, 2, 3, 44, 5, 6, 7, 0, 0, 0, 0]
