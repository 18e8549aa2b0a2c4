"""Many threads, each with its own handle (so conflicts go through storage generations, not the
in-process write queue), writing single elements of one chunk of a file-backed array: every
write completes and none is lost (issue 16, defect 1's scenario, scaled to the suite; the full
32 x 100 run is marked slow)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorstore_py as ts


def _hot_chunk(path: str, threads: int, writes: int) -> None:
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
    ts.open(spec, create=True, dtype=ts.int32, shape=[256, 256], chunk_layout=ts.ChunkLayout(chunk_shape=[256, 256])).result()
    errors: list = []

    def work(t: int) -> None:
        try:
            store = ts.open(spec).result()  # a handle (and context) of its own
            for i in range(writes):
                flat = t * writes + i
                store[flat // 256, flat % 256].write(flat + 1).result(timeout=300)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    assert not any(w.is_alive() for w in workers), "a writer hung"
    assert not errors, errors[:3]
    n = threads * writes
    out = ts.open(spec).result().read().result().reshape(-1)
    assert int((out[:n] != np.arange(1, n + 1)).sum()) == 0, "writes were lost"
    assert not out[n:].any()


def test_hot_chunk_with_separate_handles(tmp_path):
    _hot_chunk(str(tmp_path), threads=8, writes=25)


@pytest.mark.slow
def test_hot_chunk_with_separate_handles_full_scale(tmp_path):
    _hot_chunk(str(tmp_path), threads=32, writes=100)
