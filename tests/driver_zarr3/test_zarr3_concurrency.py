"""Concurrent writers of sub-chunks of the same shards lose nothing: from threads sharing one
handle, from separate handles (separate caches), and tensorstore writing at the same time."""

from __future__ import annotations

import threading

import numpy as np

import tensorstore_py as ts
from zarr3_helpers import ref

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


def _spec(path):
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path) + "/"}, "metadata": {
        "shape": [16, 16], "data_type": "int32", "fill_value": 0,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 8]}},
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 2], "codecs": [BYTES, {"name": "zstd", "configuration": {"level": 1, "checksum": False}}]}}]}}


def test_threads_and_handles_write_disjoint_elements(tmp_path):
    ts.open(_spec(tmp_path), create=True).result()
    handles = [ts.open(_spec(tmp_path)).result() for _ in range(3)]
    errors = []

    def writer(k: int) -> None:
        try:
            store = handles[k % 3]
            for i in range(k, 256, 8):  # element i gets value i + 1, one element per write
                store[i // 16, i % 16] = i + 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = np.arange(1, 257, dtype=np.int32).reshape(16, 16)
    np.testing.assert_array_equal(ts.open(_spec(tmp_path)).result().read().result(), expected)
    np.testing.assert_array_equal(ref.open(_spec(tmp_path)).result().read().result(), expected)


def test_with_tensorstore_writing_at_the_same_time(tmp_path):
    ts.open(_spec(tmp_path), create=True).result()
    ours, theirs = ts.open(_spec(tmp_path)).result(), ref.open(_spec(tmp_path)).result()
    errors = []

    def write(store, rows) -> None:
        try:
            for r in rows:
                for c in range(0, 16, 3):
                    store[r, c : min(c + 3, 16)] = np.full(min(c + 3, 16) - c, r * 100 + c, dtype=np.int32)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=write, args=(ours, range(0, 16, 2)))
    b = threading.Thread(target=write, args=(theirs, range(1, 16, 2)))
    a.start(), b.start()
    a.join(), b.join()
    assert not errors
    expected = np.array([[r * 100 + (c // 3) * 3 for c in range(16)] for r in range(16)], dtype=np.int32)
    np.testing.assert_array_equal(ts.open(_spec(tmp_path)).result().read().result(), expected)
