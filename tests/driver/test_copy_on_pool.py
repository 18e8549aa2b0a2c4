"""``dst.write(src)`` between arrays on local stores runs as a few pool tasks, each reading,
encoding and storing block after block on its own thread (`copy._copy_on_pool`).  Checked
against numpy and tensorstore, with the cases that must leave that path (transactions, a
sharded destination, a chunk cache) and the ones that stress it: blocks cut at the array's
edge, a source view shifted off the grid, a corrupt source chunk, and another writer storing
the same chunks meanwhile."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py import copy as copy_module

TIMEOUT = 60


def _zarr(lib, path, shape, chunks, context=None, create=True, dtype="<f4"):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}
    if create:
        spec["metadata"] = {"shape": list(shape), "chunks": list(chunks), "dtype": dtype,
                            "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}
    kwargs = {"create": create, "delete_existing": create}
    if context is not None:
        kwargs["context"] = context
    return lib.open(spec, **kwargs).result()


@pytest.fixture
def pool_copies(monkeypatch):
    """How many copies took the pool path."""
    calls = []
    original = copy_module._copy_on_pool

    def spy(*args, **kwargs):
        calls.append(args[4])  # the block iterator: how the copy was cut
        return original(*args, **kwargs)

    monkeypatch.setattr(copy_module, "_copy_on_pool", spy)
    return calls


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape, src_chunks, dst_chunks", [
    ((100, 70, 33), (32, 32, 16), (32, 32, 16)),  # same grid; edge chunks cut by the shape
    ((64, 64), (16, 16), (32, 64)),               # destination chunks tile source chunks
    ((50, 40), (7, 9), (10, 8)),                   # unrelated grids: several chunks per block
])
def test_pool_copy_matches_numpy_and_tensorstore(tmp_path, pool_copies, shape, src_chunks, dst_chunks):
    data = _data(shape)
    src = _zarr(ts, tmp_path / "src", shape, src_chunks)
    src.write(data).result()
    dst = _zarr(ts, tmp_path / "dst", shape, dst_chunks)
    written = dst.write(src)
    assert written.copy.result(timeout=TIMEOUT) is None
    assert written.commit.result(timeout=TIMEOUT) is None
    assert len(pool_copies) == 1
    np.testing.assert_array_equal(dst.read().result(), data)
    np.testing.assert_array_equal(_zarr(ref, tmp_path / "dst", None, None, create=False).read().result(), data)
    # The block buffers a task reused were stored before reuse: the source is untouched too.
    np.testing.assert_array_equal(src.read().result(), data)


def test_pool_copy_of_shifted_views_and_subregions(tmp_path, pool_copies):
    data = _data((96, 80), seed=1)
    src = _zarr(ts, tmp_path / "src", data.shape, (16, 16))
    src.write(data).result()
    dst = _zarr(ts, tmp_path / "dst", (90, 80), (32, 32))
    dst.write(src[5:95].translate_to[0, 0]).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(dst.read().result(), data[5:95])
    dst[10:20, 3:40].write(src[50:60, 40:77]).result(timeout=TIMEOUT)
    expected = data[5:95].copy()
    expected[10:20, 3:40] = data[50:60, 40:77]
    np.testing.assert_array_equal(dst.read().result(), expected)
    np.testing.assert_array_equal(_zarr(ref, tmp_path / "dst", None, None, create=False).read().result(), expected)
    assert len(pool_copies) == 2


def test_pool_copy_on_memory_stores(pool_copies):
    ctx = ts.Context()
    data = np.arange(40 * 30, dtype=np.int32).reshape(40, 30)
    spec = lambda path, chunks: {"driver": "zarr", "kvstore": {"driver": "memory", "path": path},  # noqa: E731
                                 "metadata": {"shape": [40, 30], "chunks": chunks, "dtype": "<i4"}}
    src = ts.open(spec("s/", [8, 8]), create=True, context=ctx).result()
    src.write(data).result()
    dst = ts.open(spec("d/", [16, 30]), create=True, context=ctx).result()
    dst.write(src).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(dst.read().result(), data)
    assert len(pool_copies) == 1


def test_corrupt_source_chunk_fails_the_copy(tmp_path, pool_copies):
    data = _data((64, 64), seed=2)
    src = _zarr(ts, tmp_path / "src", data.shape, (16, 16))
    src.write(data).result()
    with open(tmp_path / "src" / "1.2", "wb") as f:
        f.write(b"not a blosc frame at all")
    dst = _zarr(ts, tmp_path / "dst", data.shape, (16, 16))
    written = dst.write(src)
    with pytest.raises(ValueError, match="Error reading local file .*1.2"):
        written.commit.result(timeout=TIMEOUT)
    with pytest.raises(ValueError):
        written.copy.result(timeout=TIMEOUT)
    assert len(pool_copies) == 1
    # Blocks taken after the failure were never written: chunk 1.2 is absent in the destination.
    assert not os.path.exists(tmp_path / "dst" / "1.2")


def test_pool_copy_with_another_writer_on_the_same_chunks(tmp_path, pool_copies):
    """A writer storing the same chunks meanwhile: each chunk ends as one writer's whole value
    (the copy's or the other's), never torn, and the copy's Futures settle."""
    shape, chunks = (64, 64), (16, 16)
    data = _data(shape, seed=3)
    src = _zarr(ts, tmp_path / "src", shape, chunks)
    src.write(data).result()
    dst = _zarr(ts, tmp_path / "dst", shape, chunks)
    other = _zarr(ts, tmp_path / "dst", None, None, create=False)
    stop = threading.Event()

    def overwrite() -> None:
        while not stop.is_set():
            other.write(np.full(shape, -1, np.float32)).result()

    thread = threading.Thread(target=overwrite)
    thread.start()
    try:
        for _ in range(5):
            dst.write(src).result(timeout=TIMEOUT)
    finally:
        stop.set()
        thread.join()
    got = dst.read().result()
    for i in range(0, shape[0], chunks[0]):
        for j in range(0, shape[1], chunks[1]):
            chunk = got[i:i + chunks[0], j:j + chunks[1]]
            assert (chunk == -1).all() or (chunk == data[i:i + chunks[0], j:j + chunks[1]]).all()
    dst.write(src).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(dst.read().result(), data)


def test_transactions_caches_and_shards_take_the_general_path(tmp_path, pool_copies):
    data = _data((32, 32), seed=4)
    src = _zarr(ts, tmp_path / "src", data.shape, (8, 8))
    src.write(data).result()
    # A transaction on either side.
    dst = _zarr(ts, tmp_path / "dst", data.shape, (8, 8))
    txn = ts.Transaction()
    dst.with_transaction(txn).write(src).result(timeout=TIMEOUT)
    assert (dst.read().result() == 0).all()
    txn.commit_sync()
    np.testing.assert_array_equal(dst.read().result(), data)
    # A chunk cache on the destination.
    cached = _zarr(ts, tmp_path / "cached", data.shape, (8, 8),
                   context=ts.Context({"cache_pool": {"total_bytes_limit": 1 << 20}}))
    cached.write(src).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(cached.read().result(), data)
    # A sharded zarr3 destination.
    sharded = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "z3")},
                       "metadata": {"shape": [32, 32], "data_type": "float32",
                                    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [16, 16]}},
                                    "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [8, 8]}}]}},
                      create=True).result()
    sharded.write(src).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(sharded.read().result(), data)
    assert pool_copies == []
