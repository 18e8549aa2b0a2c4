"""Writes to arrays on local stores: the data-copy thread that fills a chunk encodes it and
hands the write to the store's own pool (`rmw.ENCODE_HERE`).  Checked against numpy and
tensorstore, with a chunk that cannot be stored and writers racing on the same chunks."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts


def _spec(path, shape=(128, 96), chunks=(32, 32)):
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)},
            "metadata": {"shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
                         "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}}


def test_large_writes_match_numpy_and_tensorstore(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    data = np.random.default_rng(0).standard_normal((128, 96)).astype(np.float32)
    written = store.write(data)
    assert written.copy.result(timeout=60) is None
    assert written.commit.result(timeout=60) is None
    np.testing.assert_array_equal(store.read().result(), data)
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a")}}).result()
                                  .read().result(), data)
    store[5:100, 7:90] = data[5:100, 7:90] * 2  # partial chunks: read-modify-write on the pool
    expected = data.copy()
    expected[5:100, 7:90] *= 2
    np.testing.assert_array_equal(store.read().result(), expected)


def test_a_chunk_that_cannot_be_stored_fails_the_commit(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    os.mkdir(tmp_path / "a" / "1.2.__lock")
    data = np.ones((128, 96), np.float32)
    with pytest.raises(ValueError, match="Failed to open lock file"):
        store.write(data).result(timeout=60)
    assert not os.path.exists(tmp_path / "a" / "1.2")
    # Once the obstacle is gone the same write stores every chunk.
    os.rmdir(tmp_path / "a" / "1.2.__lock")
    store.write(data).result(timeout=60)
    assert (store.read().result() == 1).all()


def test_writers_racing_on_the_same_chunks_leave_whole_chunks(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    errors = []

    def writer(value: float) -> None:
        try:
            for _ in range(5):
                store.write(np.full((128, 96), value, np.float32)).result(timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(float(v),)) for v in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.read().result()
    for i in range(0, 128, 32):
        for j in range(0, 96, 32):
            chunk = got[i:i + 32, j:j + 32]
            assert (chunk == chunk[0, 0]).all() and chunk[0, 0] in (1, 2, 3, 4)
