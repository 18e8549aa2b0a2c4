"""Several processes doing unaligned read-modify-writes on shared chunks of one zarr array on
the file kvstore, with and without transactions: no update is ever lost."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time

import numpy as np
import pytest

import transaction_mp_worker as worker

from .conftest import TIMEOUT


@pytest.fixture(scope="module")
def pool():
    """Worker processes shared by the tests here: a fresh interpreter's imports cost ~2 s each."""
    with concurrent.futures.ProcessPoolExecutor(worker.PROCESSES, mp_context=multiprocessing.get_context("spawn")) as ex:
        list(ex.map(worker.warm_up, [1.0] * worker.PROCESSES, timeout=120))
        yield ex


def _no_lost_updates(ts, tmp_path, pool, per_txn):
    path = str(tmp_path / "shared.zarr") + "/"
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
    ts.open(
        spec, create=True, dtype="int32", shape=[worker.SIZE], chunk_layout=ts.ChunkLayout(chunk_shape=[worker.CHUNK]), fill_value=0
    ).result(timeout=TIMEOUT)
    start_at = time.time() + 0.5
    jobs = [pool.submit(worker.run, ts.__name__, path, p, per_txn, start_at) for p in range(worker.PROCESSES)]
    for job in jobs:
        job.result(timeout=90)
    expected = np.zeros(worker.SIZE, np.int32)
    for proc in range(worker.PROCESSES):
        for op in range(worker.OPS):
            expected[worker.owned(proc, op)] = worker.value(proc, op)
    got = ts.open(spec, context=ts.Context()).result(timeout=TIMEOUT).read().result(timeout=TIMEOUT)
    lost = np.flatnonzero(got != expected)
    assert lost.tolist() == []


def test_no_lost_updates_plain(ts_now, tmp_path, pool):
    _no_lost_updates(ts_now, tmp_path, pool, 0)


def test_no_lost_updates_transactions(ts, tmp_path, pool):
    # 5 transactions of 5 elements each per process; each element is staged twice.
    _no_lost_updates(ts, tmp_path, pool, 5)
