"""Concurrent writers on one zarr array in a file kvstore lose nothing: partial writes into the
same chunks from several processes and threads are merged through conditional writes."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np

import tensorstore_py as ts

SHAPE = [4, 8]
CHUNK = [2, 4]


def _spec(path: str) -> dict:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}


def _writer(path: str, row: int, rounds: int) -> None:
    store = ts.open(_spec(path)).result()
    # Every row straddles two chunks shared with the other writers: each write is a
    # read-modify-write that races the others.
    for r in range(rounds):
        store[row, :].write(np.full(SHAPE[1], row * 100 + r, dtype=np.int32)).result()


def test_processes_writing_rows_of_shared_chunks(tmp_path):
    path = str(tmp_path / "a.zarr")
    ts.open(_spec(path), create=True, dtype=ts.int32, shape=SHAPE, chunk_layout=ts.ChunkLayout(chunk_shape=CHUNK)).result()
    ctx = multiprocessing.get_context("spawn")
    rounds = 5
    procs = [ctx.Process(target=_writer, args=(path, row, rounds)) for row in range(SHAPE[0])]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    data = ts.open(_spec(path)).result().read().result()
    expected = np.array([[row * 100 + rounds - 1] * SHAPE[1] for row in range(SHAPE[0])], dtype=np.int32)
    np.testing.assert_array_equal(data, expected)


def test_threads_writing_single_elements_of_one_chunk(tmp_path):
    path = str(tmp_path / "b.zarr")
    store = ts.open(_spec(path), create=True, dtype=ts.int32, shape=[4, 4], chunk_layout=ts.ChunkLayout(chunk_shape=[4, 4])).result()
    # Separate opens: no shared in-process state, only the file kvstore's generations.
    views = [ts.open(_spec(path)).result() for _ in range(4)]

    def work(i: int) -> None:
        for j in range(4):
            views[i][i, j] = i * 4 + j + 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(store.read().result(), np.arange(1, 17, dtype=np.int32).reshape(4, 4))
