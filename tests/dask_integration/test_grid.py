"""tensorstore_py.dask on one machine: where blocks may end, to_dask and store_dask on the
threaded and process schedulers, and the refusal when rechunking is forbidden."""

import itertools
import threading

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.dask import aligned_chunks, store_dask, to_dask, write_chunk_cuts


def _memory_zarr3(shape, read_chunk, write_chunk, dtype=ts.int32, context=None):
    return ts.open(
        {"driver": "zarr3", "kvstore": "memory://"}, create=True, dtype=dtype, shape=list(shape), context=context,
        chunk_layout=ts.ChunkLayout(read_chunk_shape=list(read_chunk), write_chunk_shape=list(write_chunk)),
    ).result()


def _brute_force_cuts(view_to_array, shape, chunk):
    """For each view dimension, the positions p where no stored chunk holds elements from
    both sides of the cut (checked over every element)."""
    positions = np.indices(shape).reshape(len(shape), -1).T
    chunk_ids = np.array([tuple(c // n for c, n in zip(view_to_array(x), chunk)) for x in positions])
    out = []
    for k, n in enumerate(shape):
        ok = []
        for p in range(1, n):
            left = {tuple(c) for c in chunk_ids[positions[:, k] < p]}
            right = {tuple(c) for c in chunk_ids[positions[:, k] >= p]}
            if not left & right:
                ok.append(p)
        out.append(ok)
    return out


@settings(max_examples=40, deadline=None)
@given(
    extent=st.tuples(st.integers(1, 23), st.integers(1, 17)),
    chunk=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    start=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    step=st.tuples(st.sampled_from([1, 2, 3, -1, -2, 7]), st.sampled_from([1, 2, -3])),
    transpose=st.booleans(),
)
def test_cuts_match_brute_force(extent, chunk, start, step, transpose):
    store = _memory_zarr3(extent, chunk, chunk)
    index = []
    for n, s0, s in zip(extent, start, step):
        s0 = min(s0, n - 1)
        index.append(slice(s0, None, s) if s > 0 else slice(n - 1 - s0, None, s))
    view = store[tuple(index)]
    if transpose:
        view = view[ts.d[1, 0].transpose[:]]
    view0 = view[ts.d[:].translate_to[0]]
    t = view0._transform
    shape = tuple(int(n) for n in view0.shape)
    if 0 in shape:
        return

    def to_array(x):
        return [m.offset + m.stride * x[m.input_dimension] for m in t.output]

    expected = _brute_force_cuts(to_array, shape, chunk)
    for k, cuts in enumerate(write_chunk_cuts(view)):
        got = list(range(1, shape[k])) if cuts is None else [int(c) for c in cuts]
        assert got == expected[k], (k, got, expected[k])


def test_cuts_of_dimensions_without_a_grid_line_or_driven_by_arrays():
    store = _memory_zarr3([20, 30], [5, 5], [10, 15])
    assert [list(c) for c in write_chunk_cuts(store)] == [[10], [15]]
    # An index array may send positions of its dimension anywhere: no cut along it.
    cuts = write_chunk_cuts(store.oindex[[1, 12, 3], :])
    assert list(cuts[0]) == [] and list(cuts[1]) == [15]
    # A dimension no output depends on repeats the same elements: no cut along it either.
    bcast = store[ts.d[:].translate_to[0]][ts.newaxis, 0:10]
    assert [list(c) for c in write_chunk_cuts(bcast)][0] == []
    assert aligned_chunks(store[3:20], [4, 4]) == ((7, 10), (15, 15))


def test_to_dask_blocks_are_whole_read_chunks():
    store = _memory_zarr3([60, 50], [8, 10], [16, 50], dtype=ts.uint16)
    data = np.arange(3000, dtype=np.uint16).reshape(60, 50)
    store[...] = data
    view = store[5:55, 3:]
    with dask.config.set({"array.chunk-size": "2KiB"}):
        arr = to_dask(view)
    # Every interior boundary lies on the read grid of the view (origin 5 and 3 in the array).
    for sizes, first, chunk in zip(arr.chunks, (5, 3), (8, 10)):
        for b in itertools.accumulate(sizes[:-1]):
            assert (b + first) % chunk == 0
    assert arr.dtype == np.uint16 and arr.shape == (50, 47)
    np.testing.assert_array_equal(arr.compute(scheduler="threads"), data[5:55, 3:])
    assert to_dask(view, chunks=(25, 47)).chunks == ((25, 25), (47,))


@pytest.mark.parametrize("rows", [256, 32, 16])
def test_to_dask_blocks_hold_each_chunk_in_one_contiguous_run(rows):
    """Over a chunk grid a block grows along the first dimension first, so a read decodes
    every chunk straight into one run of the block; a later dimension grows only to keep
    blocks from being tiny (under a quarter of array.chunk-size)."""
    limit = 256 * 1024
    store = ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=ts.float32, shape=[rows, 64, 32],
                    chunk_layout=ts.ChunkLayout(read_chunk_shape=[16, 16, 32])).result()
    data = np.arange(rows * 64 * 32, dtype=np.float32).reshape(rows, 64, 32)
    store[...] = data
    with dask.config.set({"array.chunk-size": f"{limit}B"}):
        arr = to_dask(store)
    block = arr.chunksize
    assert all(b % c == 0 or b == n for b, c, n in zip(block, (16, 16, 32), store.shape))
    nbytes = 4 * int(np.prod(block))
    assert nbytes <= limit
    grown_inner = block[1] > 16
    if grown_inner:  # only to reach a quarter of the limit: the first dimension was whole
        assert block[0] == rows and 4 * rows * 16 * 32 < limit // 4
    else:
        assert nbytes >= limit // 4
        assert np.empty(block, np.float32)[:16, :16, :32].flags.c_contiguous
    np.testing.assert_array_equal(arr.compute(scheduler="threads"), data)
    # An array without a grid is cut into contiguous slabs of its memory instead.
    with dask.config.set({"array.chunk-size": "8KiB"}):
        slabs = to_dask(ts.array(data[:16]))
    assert np.empty(data[:16].shape, np.float32)[tuple(slice(0, b) for b in slabs.chunksize)].flags.c_contiguous


@pytest.mark.parametrize("many_blocks", [True, False])
def test_to_dask_reads_a_block_on_the_task_thread_when_blocks_fill_the_cores(tmp_path, monkeypatch, many_blocks):
    """With a block per core the tasks already keep every core busy: each reads its chunks on
    its own thread, not the store's pool.  With fewer blocks the pool reads them (same data)."""
    import tensorstore_py.dask as ts_dask

    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)}}, create=True,
                    dtype=ts.int32, shape=[64, 40], chunk_layout=ts.ChunkLayout(read_chunk_shape=[8, 10])).result()
    data = np.arange(64 * 40, dtype=np.int32).reshape(64, 40)
    store[...] = data
    monkeypatch.setattr(ts_dask, "_cores", lambda: 4 if many_blocks else 1000)
    kv_type = type(store._driver.current(None).result().engine.kv)
    threads = set()
    read_now = kv_type.read_now

    def recording_read_now(self, key, options):
        threads.add(threading.current_thread().name)
        return read_now(self, key, options)

    monkeypatch.setattr(kv_type, "read_now", recording_read_now)
    arr = to_dask(store[4:], chunks=(16, 40))  # 4 blocks of 8 chunks (and one of 4)
    np.testing.assert_array_equal(arr.compute(scheduler="threads", num_workers=2), data[4:])
    np.testing.assert_array_equal(arr[3:30, 5].compute(scheduler="threads", num_workers=2), data[7:34, 5])
    assert threads
    if many_blocks:
        assert not any(name.startswith("tensorstore_py") for name in threads), threads


def test_from_array_works_as_is():
    """np.dtype(store.dtype) works, so Dask's own from_array takes a store unchanged."""
    store = _memory_zarr3([6, 4], [3, 2], [3, 2], dtype=ts.float32)
    store[...] = np.ones((6, 4), np.float32)
    arr = da.from_array(store, chunks=(3, 2))
    assert np.dtype(arr.dtype) == np.float32
    assert float(arr.sum().compute(scheduler="threads")) == 24.0
    np.testing.assert_array_equal(arr[1:5, ::3].compute(scheduler="threads"), np.ones((4, 2), np.float32))
    # to_dask's blocks are numpy arrays from the start (from_array keeps a store as its meta).
    assert type(to_dask(store)._meta) is np.ndarray and to_dask(store).dtype == np.float32


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_store_dask_rechunks_misaligned_blocks(tmp_path, scheduler):
    store = ts.open(
        {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path)}}, create=True, dtype=ts.int32, shape=[90, 64],
        chunk_layout=ts.ChunkLayout(read_chunk_shape=[5, 16], write_chunk_shape=[15, 32]),
    ).result()
    x = da.arange(80 * 64, dtype=np.int32, chunks=7 * 64).reshape(80, 64).rechunk((7, 20))
    store_dask(x, store[10:], scheduler=scheduler, num_workers=2)
    got = store.read().result()
    np.testing.assert_array_equal(got[10:], np.arange(80 * 64, dtype=np.int32).reshape(80, 64))
    assert not got[:10].any()


def test_store_dask_refuses_a_race_when_rechunking_is_forbidden():
    context = ts.Context()
    store = _memory_zarr3([40, 40], [5, 5], [10, 20], context=context)
    with pytest.raises(ValueError, match=r"boundary at index 5 of dimension 0 splits a stored chunk.*\[10, 20\]"):
        store_dask(da.zeros((40, 40), dtype=np.int32, chunks=(5, 20)), store, rechunk=False)
    # Aligned blocks need no rechunking and are accepted as they are.
    aligned = da.ones((40, 40), dtype=np.int32, chunks=(20, 20))
    store_dask(aligned, store, rechunk=False, scheduler="threads")
    assert store.read().result().sum() == 1600
    with pytest.raises(ValueError, match="differs from the store's shape"):
        store_dask(aligned, store[1:])
    with pytest.raises(ValueError, match="not open for writing"):
        store_dask(aligned, ts.open(store.spec(), read=True, context=context).result())
