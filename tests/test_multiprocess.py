"""Stores handed to other processes: spawn pools, a PyTorch-style loader, fork."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

import mp_workers
import tensorstore_py as ts


def _zarr(path, shape=(64, 16), chunks=(8, 16), dtype=ts.int32):
    return ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}},
        create=True, delete_existing=True, dtype=dtype, shape=list(shape), chunk_layout=ts.ChunkLayout(chunk_shape=list(chunks)),
    ).result()


def test_spawn_pool_writes_and_reads(tmp_path):
    store = _zarr(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pids = pool.starmap(mp_workers.write_block, [(store, i, i + 8) for i in range(0, 64, 8)])
        sums = pool.starmap(mp_workers.block_sum, [(store, i, i + 8) for i in range(0, 64, 8)])
    assert os.getpid() not in pids
    expected = np.broadcast_to(np.arange(64, dtype=np.int32)[:, None], (64, 16))
    np.testing.assert_array_equal(store.read().result(), expected)
    assert sum(sums) == expected.sum()


def test_pytorch_style_workers_get_the_store_once(tmp_path):
    """As a DataLoader does: the dataset is pickled into each worker once, then every index
    is served there by the same unpickled store."""
    store = _zarr(tmp_path, dtype=ts.float32)
    data = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    store[...] = data
    dataset = mp_workers.StoreDataset(store)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, initializer=mp_workers.init_worker, initargs=(dataset,)) as pool:
        results = pool.map(mp_workers.load_sample, range(len(dataset)), chunksize=4)
    assert sorted(i for _, i, _, _ in results) == list(range(64))
    for _, i, total, _ in results:
        assert total == pytest.approx(float(data[i].sum()), rel=1e-5)
    drivers_per_worker = {}
    for pid, _, _, driver in results:
        drivers_per_worker.setdefault(pid, set()).add(driver)
    assert all(len(d) == 1 for d in drivers_per_worker.values())


def _wait_child(pid: int, timeout: float) -> int:
    """The child's exit status; kills it and fails if it has not exited within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child still running after {timeout} s: it hung")


def _in_child(fn) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 3
        try:
            code = 0 if fn() else 1
        except BaseException:  # noqa: BLE001 - reported through the exit code
            import traceback

            traceback.print_exc()
            code = 2
        os._exit(code)
    return pid


def test_fork_after_pools_started_works_in_child(tmp_path):
    store = _zarr(tmp_path)
    store[:8] = 1  # thread pools and caches are live now
    kv = ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/k/"}).result()
    kv["a"] = b"parent"

    def child():
        store[8:16] = 2
        kv["b"] = b"child"
        return store[:16].read().result().sum() == 8 * 16 + 2 * 8 * 16 and kv["a"] == b"parent"

    assert _wait_child(_in_child(child), 120) == 0
    assert kv["b"] == b"child"
    assert store[:16].read().result().sum() == 3 * 8 * 16  # and the parent still works


def test_fork_with_writes_in_flight_never_hangs(tmp_path):
    """Forking while the parent's writebacks run: the child's own writes to the same chunks
    do not wait for writebacks whose threads it does not have."""
    store = _zarr(tmp_path, shape=(256, 64), chunks=(8, 64))
    pending = [store[i : i + 4].write(np.full((4, 64), 7, np.int32)) for i in range(0, 256, 4)]

    def child():
        store[0:256:2] = 5  # touches every chunk the parent is writing
        # The parent's writebacks go on meanwhile, so which value an even row ends up with
        # is a race between the processes; the child just has to finish.
        return set(np.unique(store.read().result())) <= {0, 5, 7}

    status = _wait_child(_in_child(child), 120)
    for p in pending:
        p.result()
    assert status == 0
    # Which of the two processes won each element is a race; the parent's data is all there
    # wherever the child did not write.
    got = store.read().result()
    assert set(np.unique(got[1::2])) <= {7}
