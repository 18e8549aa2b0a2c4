"""kill -9 in the middle of writes never leaves a torn chunk: every chunk file is absent or a
whole chunk of some generation written in full (atomic temp-file + rename writes), and the
array opens and reads afterwards with tensorstore_py and tensorstore alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorstore

import tensorstore_py as ts

WORKER = os.path.join(os.path.dirname(__file__), "kill_worker.py")


@pytest.mark.parametrize("driver", ["zarr", "zarr3", "n5"])
def test_kill_9_during_writes_leaves_whole_chunks(tmp_path, driver):
    path = str(tmp_path / "array")
    ts.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}, create=True, dtype=ts.uint32,
            shape=[64, 64], chunk_layout=ts.ChunkLayout(chunk_shape=[16, 16])).result()
    for delay in (0.3, 0.7, 1.1):
        child = subprocess.Popen([sys.executable, WORKER, path, driver], stdout=subprocess.PIPE, text=True)
        try:
            first = child.stdout.readline()  # at least one generation landed
            assert first.strip().isdigit(), first
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
        for lib in (ts, tensorstore):
            array = lib.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}).result().read().result()
            for cy in range(4):
                for cx in range(4):
                    chunk = array[cy * 16:(cy + 1) * 16, cx * 16:(cx + 1) * 16]
                    assert len(np.unique(chunk)) == 1, f"torn chunk ({cy}, {cx}) read by {lib.__name__}"
            assert array.min() >= 1
