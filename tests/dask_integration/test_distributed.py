"""A real dask.distributed cluster (2 worker processes on 127.0.0.1) writing and reading
64 MiB 3-d arrays through tensorstore_py, and the distributed-write hazard it guards against."""

import logging

import dask.array as da
import numpy as np
import pytest
import zarr

import tensorstore_py as ts
from tensorstore_py.dask import store_dask, to_dask

distributed = pytest.importorskip("distributed")

SHAPE = (256, 256, 256)  # int32: 64 MiB


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _fill_block(block, block_info=None):
    """Each element's value is its flat index in the whole array."""
    loc = block_info[None]["array-location"]
    shape = block_info[None]["shape"]
    idx = np.ix_(*[np.arange(lo, hi) for lo, hi in loc])
    flat = (idx[0] * shape[1] + idx[1]) * shape[2] + idx[2]
    return flat.astype(np.int32)


def _pattern(chunks):
    return da.map_blocks(_fill_block, da.empty(SHAPE, dtype=np.int32, chunks=chunks), dtype=np.int32)


EXPECTED = None


def _expected():
    global EXPECTED
    if EXPECTED is None:
        EXPECTED = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)
    return EXPECTED


def _lost(got):
    return int((got != _expected()).sum())


def test_zarr2_partial_chunk_blocks_lose_nothing(client, tmp_path):
    store = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a.zarr")}}, create=True,
        dtype=ts.int32, shape=list(SHAPE), chunk_layout=ts.ChunkLayout(chunk_shape=[64, 64, 64]),
    ).result()
    x = _pattern((50, 100, 256))  # every block boundary cuts stored chunks
    with pytest.raises(ValueError, match="splits a stored chunk"):
        store_dask(x, store, rechunk=False)
    store_dask(x, store)
    assert _lost(store.read().result()) == 0
    # Read back on the cluster too: blocks are whole read chunks, one read each.
    total = to_dask(store).sum(dtype=np.int64).compute()
    assert total == _expected().sum(dtype=np.int64)


def test_zarr3_sharded_blocks_rechunked_to_shards(client, tmp_path):
    store = ts.open(
        {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "s.zarr")}}, create=True,
        dtype=ts.int32, shape=list(SHAPE),
        chunk_layout=ts.ChunkLayout(read_chunk_shape=[32, 32, 32], write_chunk_shape=[128, 128, 128]),
    ).result()
    x = _pattern((96, 256, 80))
    # Aligned to the 32^3 inner chunks but not to the shards: still a race on each shard.
    with pytest.raises(ValueError, match=r"chunk shape \[128, 128, 128\]"):
        store_dask(_pattern((64, 64, 64)), store, rechunk=False)
    store_dask(x, store)
    assert _lost(store.read().result()) == 0
    back = to_dask(store[10:250, 3:, ::2])
    np.testing.assert_array_equal(back[5:200:7].compute(), _expected()[10:250, 3:, ::2][5:200:7])


def test_misaligned_plain_store_is_the_hazard(client, tmp_path):
    """The same misaligned write, three ways: plain `da.store(..., lock=False)` into a
    zarr-python array (each task reads a chunk, merges its part, writes the chunk back, and
    concurrent tasks overwrite each other's parts), the same through store_dask (rechunked:
    one task per stored chunk) and plain da.store into our store (its conditional
    read-modify-write retries the losers)."""
    shape = (32, 256, 256)
    ones = da.ones(shape, chunks=(1, 256, 256), dtype=np.float32)  # 32 tasks per stored chunk
    theirs = zarr.open(str(tmp_path / "zp.zarr"), mode="w", shape=shape, chunks=(32, 128, 128), dtype="f4", compressor=None, fill_value=0)
    da.store(ones, theirs, lock=False)
    lost_theirs = int((theirs[...] == 0).sum())

    def ours(name):
        return ts.open(
            {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / name)}}, create=True, dtype=ts.float32,
            shape=list(shape), chunk_layout=ts.ChunkLayout(chunk_shape=[32, 128, 128]),
        ).result()

    aligned = ours("aligned.zarr")
    store_dask(ones, aligned)
    plain = ours("plain.zarr")
    da.store(ones, plain, lock=False)
    assert int((aligned.read().result() == 0).sum()) == 0
    assert int((plain.read().result() == 0).sum()) == 0
    # With 4 tasks at a time on 4 stored chunks written by 32 tasks each, losing nothing
    # would take every pair of overlapping tasks to miss each other.
    assert lost_theirs > 0, "zarr-python lost nothing this time: the race did not happen"
