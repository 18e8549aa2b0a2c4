"""Several processes writing one database on the file kvstore (tensorstore_py and the reference
tensorstore together) lose nothing; a process killed (SIGKILL) in the middle of atomic
multi-key commits leaves the last committed version whole and readable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

import tensorstore_py as ts

rts = pytest.importorskip("tensorstore")

WORKER = os.path.join(os.path.dirname(__file__), "ocdbt_worker.py")


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_processes_lose_nothing(tmp_path):
    count = 10
    procs = [_spawn("writer", "mine", str(tmp_path), "a", str(count)),
             _spawn("writer", "mine", str(tmp_path), "b", str(count)),
             _spawn("writer", "theirs", str(tmp_path), "c", str(count))]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    for lib in (ts, rts):
        kv = lib.KvStore.open({"driver": "ocdbt", "base": tmp_path.as_uri()}).result()
        keys = sorted(kv.list().result())
        assert keys == sorted([f"{n}/{i:03d}".encode() for n in "abc" for i in range(count)] + [b"counter"])
        assert kv["counter"] == str(2 * count).encode()
        assert kv["c/007"] == b"c-7"


def test_processes_share_chunks_of_one_array(tmp_path):
    """Two processes (one of each library) write alternate rows: every chunk is modified by
    both, through conditional writes of the chunk keys in the database."""
    import numpy as np

    ts.open({"driver": "zarr", "kvstore": {"driver": "ocdbt", "base": tmp_path.as_uri()}}, create=True,
            dtype=ts.int32, shape=[24, 10], chunk_layout=ts.ChunkLayout(chunk_shape=[8, 10])).result()
    procs = [_spawn("array", "mine", str(tmp_path), "0"), _spawn("array", "theirs", str(tmp_path), "1")]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    expected = np.repeat(np.arange(1, 25, dtype=np.int32)[:, None], 10, axis=1)
    for lib in (ts, rts):
        store = lib.open({"driver": "zarr", "kvstore": {"driver": "ocdbt", "base": tmp_path.as_uri()}}).result()
        np.testing.assert_array_equal(store.read().result(), expected)


def _kill_trial(directory: str, rng: random.Random) -> tuple[int, int]:
    """Kills the atomic writer at a random moment; returns (rounds it reported, round found)."""
    proc = _spawn("atomic", directory)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # Let it commit a few rounds, then kill it at a random point of one.
        deadline = time.time() + rng.uniform(0.05, 0.8)
        reported = 0
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            reported = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:
            reported = int(line)
    finally:
        proc.kill()
        proc.wait()
    found = set()
    for lib in (ts, rts):
        kv = lib.KvStore.open({"driver": "ocdbt", "base": f"file://{directory}"}).result()
        values = {kv[f"k{k:02d}"] for k in range(50)} if kv.list().result() else {b"none"}
        assert len(values) == 1, f"a commit was applied in part: {sorted(values)[:3]}"
        found.add(values.pop())
    assert len(found) == 1
    value = found.pop()
    round_ = 0 if value == b"none" else int(value.split(b"-")[0][len(b"round"):])
    # Every round it reported is durable; at most the one in flight may also have landed.
    assert round_ in (reported, reported + 1), (reported, round_)
    return reported, round_


def _kill_trials(tmp_path, trials: int) -> None:
    rng = random.Random(trials)
    for i in range(trials):
        directory = tmp_path / f"db{i}"
        directory.mkdir()
        reported, landed = _kill_trial(str(directory), rng)
        print(f"kill trial {i}: {reported} rounds reported, round {landed} found whole")
        # The previous versions stay readable too.
        kv = ts.KvStore.open({"driver": "ocdbt", "base": directory.as_uri()}).result()
        state = kv.driver.db.manifest().result()
        if state.manifest is not None and state.manifest.latest.generation > 2:
            old = ts.KvStore.open({"driver": "ocdbt", "base": directory.as_uri(),
                                   "version": state.manifest.latest.generation - 1}).result()
            assert len({old[k] for k in old.list().result()}) <= 1


def test_killed_during_atomic_commits(tmp_path):
    _kill_trials(tmp_path, 2)


@pytest.mark.slow
def test_killed_during_atomic_commits_many(tmp_path):
    _kill_trials(tmp_path, 24)
