"""ts.virtual_chunked: callbacks, caching by generation, writes, transactions, loops, GC.

Where the behaviour is observable from Python (what the callbacks are called with, in what
order, what a read returns, which errors), it is compared with tensorstore 0.1.86.
"""

from __future__ import annotations

import asyncio
import gc
import math
import threading
import weakref

import numpy as np
import pytest

import tensorstore_py as tsp

ts = pytest.importorskip("tensorstore")


def _calls(lib, ret, context_json, reads: int, shape=(4,)):
    """The (if_not_equal, staleness finite?) of each read_function call over `reads` reads."""
    log = []

    def read(domain, array, params):
        log.append((str(domain), params.if_not_equal, math.isfinite(params.staleness_bound), params.batch))
        array[...] = 1
        return ret(lib)

    ctx = lib.Context(context_json) if context_json is not None else None
    t = lib.virtual_chunked(read, dtype=np.int32, shape=shape, context=ctx,
                            chunk_layout=lib.ChunkLayout(read_chunk_shape=[2]))
    values = [t.read().result().tolist() for _ in range(reads)]
    return log, values


RETURNS = {
    "none": lambda lib: None,
    "forever": lambda lib: lib.KvStore.TimestampedStorageGeneration(b"g1", float("inf")),
    "past": lambda lib: lib.KvStore.TimestampedStorageGeneration(b"g1", 100.0),
    "unknown-forever": lambda lib: lib.KvStore.TimestampedStorageGeneration(b"", float("inf")),
}


@pytest.mark.parametrize("ret", sorted(RETURNS))
@pytest.mark.parametrize("cached", [False, True])
def test_read_parameters_and_caching_match_tensorstore(ret, cached):
    context = {"cache_pool": {"total_bytes_limit": 10**6}} if cached else None
    ours = _calls(tsp, RETURNS[ret], context, 3)
    ref = _calls(ts, RETURNS[ret], context, 3)
    assert sorted(ours[0]) == sorted(ref[0])
    assert ours[1] == ref[1]


def test_unchanged_generation_leaves_cached_chunk():
    """A read function may skip the work when `if_not_equal` is still current."""
    state = {"generation": b"v1", "value": 5, "calls": []}

    def read(domain, array, params):
        state["calls"].append(params.if_not_equal)
        if params.if_not_equal == state["generation"]:
            return tsp.KvStore.TimestampedStorageGeneration(b"", 0.0)
        array[...] = state["value"]
        return tsp.KvStore.TimestampedStorageGeneration(state["generation"], 0.0)

    t = tsp.virtual_chunked(read, dtype=np.int32, shape=[3], context=tsp.Context({"cache_pool": {"total_bytes_limit": 10**6}}))
    assert t.read().result().tolist() == [5, 5, 5]
    state["value"] = 7  # not visible: the generation did not change
    assert t.read().result().tolist() == [5, 5, 5]
    state["generation"] = b"v2"
    assert t.read().result().tolist() == [7, 7, 7]
    assert state["calls"] == [b"", b"v1", b"v1"]


def _read_write(lib):
    array = np.zeros((4, 5), dtype=np.uint32)
    array[1] = 50
    log = []

    def read(domain, chunk, params):
        log.append(("read", str(domain)))
        chunk[...] = array[domain.index_exp]

    def write(domain, chunk, params):
        log.append(("write", str(domain)))
        array[domain.index_exp] = chunk

    t = lib.virtual_chunked(read, write, dtype=array.dtype, shape=array.shape,
                            chunk_layout=lib.ChunkLayout(read_chunk_shape=(2, 3)))
    first = t.read().result().tolist()
    t[1:3, 1:3] = 42
    t[0:2, 3:5] = 7  # covers a whole chunk: written without a read
    writes = sorted(entry for entry in log if entry[0] == "write")
    # (How often each chunk is read differs: TensorStore keeps some chunks it wrote.)
    return first, array.tolist(), writes, t.read().result().tolist(), str(t.domain), t.mode, repr(t.schema)


def test_read_write_matches_tensorstore():
    assert _read_write(tsp) == _read_write(ts)


def _errors(lib):
    out = []

    def r(domain, array, params):
        array[...] = 1

    def w(domain, array, params):
        pass

    def attempt(fn):
        try:
            return ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - compared between the libraries
            return ("error", "ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))

    out.append(attempt(lambda: lib.virtual_chunked(dtype=np.int32, shape=[2])))
    out.append(attempt(lambda: lib.virtual_chunked(r, shape=[2])))
    out.append(attempt(lambda: str(lib.virtual_chunked(r, dtype=np.int32, rank=2, domain=lib.IndexDomain(shape=[4, 5]),
                                                       dimension_units=["4nm", None]).schema)))
    wo = lib.virtual_chunked(write_function=w, dtype=np.int32, shape=[4], chunk_layout=lib.ChunkLayout(read_chunk_shape=[2]))
    out.append(attempt(lambda: wo[1:3].write(5).result()))
    out.append(attempt(lambda: wo[0:2].write(5).result()))
    out.append(attempt(lambda: wo.read().result()))
    ro = lib.virtual_chunked(r, dtype=np.int32, shape=[4])
    out.append(attempt(lambda: ro.write(1).result()))
    out.append(attempt(lambda: ro.spec().to_json()))
    out.append((repr(ro), repr(ro.spec()), ro.spec().rank, repr(ro.spec().schema)))

    def raises(domain, array, params):
        raise KeyError("boom")

    out.append(attempt(lambda: lib.virtual_chunked(raises, dtype=np.int32, shape=[2]).read().result()))

    async def coroutine(domain, array, params):
        array[...] = 3

    out.append(attempt(lambda: lib.virtual_chunked(coroutine, dtype=np.int32, shape=[2]).read().result()))
    return out


def test_errors_match_tensorstore():
    ours, ref = _errors(tsp), _errors(ts)
    assert ours == ref


def test_coroutines_run_on_the_given_loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    seen = []

    async def read(domain, array, params):
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        array[...] = 9

    try:
        t = tsp.virtual_chunked(read, dtype=np.int16, shape=[3], loop=loop)
        assert t.read().result().tolist() == [9, 9, 9]
        assert seen == [loop]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_coroutines_default_to_the_running_loop():
    async def read(domain, array, params):
        array[...] = 4

    async def main():
        t = tsp.virtual_chunked(read, dtype=np.int8, shape=[2])
        return (await t.read()).tolist()

    assert asyncio.run(main()) == [4, 4]


def test_future_returning_callbacks():
    promises = []

    def read(domain, array, params):
        array[...] = 2
        promise, future = tsp.Promise.new()
        promises.append(promise)
        return future

    t = tsp.virtual_chunked(read, dtype=np.int32, shape=[2])
    f = t.read()
    for _ in range(200):
        if promises:
            break
        threading.Event().wait(0.01)
    assert not f.done()
    promises[0].set_result(None)
    assert f.result().tolist() == [2, 2]


def test_transaction_buffers_writes_until_commit():
    store = np.zeros(6, dtype=np.int32)
    writes = []

    def read(domain, array, params):
        array[...] = store[domain.index_exp]

    def write(domain, array, params):
        writes.append(str(domain))
        store[domain.index_exp] = array

    t = tsp.virtual_chunked(read, write, dtype=np.int32, shape=[6], chunk_layout=tsp.ChunkLayout(read_chunk_shape=[3]))
    txn = tsp.Transaction()
    t.with_transaction(txn)[1:5] = 8
    assert writes == [] and store.tolist() == [0] * 6
    assert t.with_transaction(txn).read().result().tolist() == [0, 8, 8, 8, 8, 0]  # sees its writes
    txn.commit_sync()
    assert sorted(writes) == ["{ [0, 3) }", "{ [3, 6) }"]
    assert store.tolist() == [0, 8, 8, 8, 8, 0]


def test_strings():
    def read(domain, array, params):
        for i, x in enumerate(domain[0]):
            array[i] = f"v{x}"

    t = tsp.virtual_chunked(read, dtype=tsp.ustring, shape=[3], chunk_layout=tsp.ChunkLayout(read_chunk_shape=[2]))
    assert t.read().result().tolist() == ["v0", "v1", "v2"]


def test_batch_reaches_the_read_function():
    seen = []

    def read(domain, array, params):
        seen.append(isinstance(params.batch, tsp.Batch))
        array[...] = 1

    t = tsp.virtual_chunked(read, dtype=np.int32, shape=[4], chunk_layout=tsp.ChunkLayout(read_chunk_shape=[2]))
    with tsp.Batch() as b:
        f = t.read(batch=b)
    assert f.result().tolist() == [1] * 4 and seen == [True, True]
    seen.clear()
    t.read().result()
    assert seen == [False, False]


def test_cycles_are_collected_and_specs_keep_functions_alive():
    def read(domain, array, params):
        array[...] = 1

    t = tsp.virtual_chunked(read, dtype=np.int32, shape=[2])
    read.t = t  # a cycle through the function
    refs = [weakref.ref(read), weakref.ref(t)]
    spec = t.spec()
    del read, t
    gc.collect()
    assert all(r() is not None for r in refs)  # the spec holds the view's functions
    assert spec.rank == 1
    del spec
    gc.collect()
    assert all(r() is None for r in refs)


def test_spec_reopens_with_the_same_functions():
    def read(domain, array, params):
        array[...] = domain.index_exp[0].start if domain.rank else 0

    t = tsp.virtual_chunked(read, dtype=np.int32, shape=[4], chunk_layout=tsp.ChunkLayout(read_chunk_shape=[2]))
    again = tsp.open(t.spec()).result()
    assert again.read().result().tolist() == [0, 0, 2, 2]


def test_grid_starts_at_the_domain_origin():
    out = []
    for lib in (ts, tsp):
        def read(domain, array, params):
            array[...] = domain.index_exp[0].start

        t = lib.virtual_chunked(read, dtype=np.int32, domain=lib.IndexDomain(inclusive_min=[3], shape=[7]),
                                chunk_layout=lib.ChunkLayout(read_chunk_shape=[4]))
        out.append((str(t.domain), repr(t.chunk_layout), t.read().result().tolist()))
    assert out[0] == out[1]


def test_atomic_transaction_spanning_chunks_fails():
    def read(domain, array, params):
        array[...] = 0

    def write(domain, array, params):
        raise AssertionError("nothing may be written")

    t = tsp.virtual_chunked(read, write, dtype=np.int32, shape=[8], chunk_layout=tsp.ChunkLayout(read_chunk_shape=[4]))
    txn = tsp.Transaction(atomic=True)
    with pytest.raises(ValueError, match="single atomic transaction"):
        t.with_transaction(txn)[2:6] = 1
        txn.commit_sync()


def _fill_with_row_index(domain, array, params):
    del params
    array[...] = np.arange(domain.origin[0], domain.origin[0] + domain.shape[0]).reshape(-1, *([1] * (array.ndim - 1)))


def test_pickled_view_reads_through_its_callback_and_shares_resources():
    import pickle

    ctx = tsp.Context({"cache_pool": {"total_bytes_limit": 1 << 20}})
    view = tsp.virtual_chunked(_fill_with_row_index, dtype=np.int32, shape=[6, 4], context=ctx,
                              chunk_layout=tsp.ChunkLayout(read_chunk_shape=[2, 4]))
    other = tsp.virtual_chunked(_fill_with_row_index, dtype=np.int32, shape=[3], context=ctx)
    a, b = pickle.loads(pickle.dumps((view, other)))
    assert a.schema == view.schema
    np.testing.assert_array_equal(a[1:5].read().result(), view[1:5].read().result())
    np.testing.assert_array_equal(b.read().result(), [0, 1, 2])
    # Pickled together: one unpickled cache pool, as TensorStore's context sharing.
    assert a._driver.cache_pool is b._driver.cache_pool
    assert a._driver.cache_pool is not view._driver.cache_pool
