"""The demo runs, reports progress on its long steps, and removes what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys


def _demo(tmp_path, *args):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "tensorstore_py.demo", "--shape", "256,256,64", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_demo_cleans_up_after_itself(tmp_path):
    r = _demo(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Whole-array read:" in r.stdout
    lines = r.stderr.splitlines()
    assert any(line.startswith("write: 100.0% 16/16 chunks") for line in lines), r.stderr
    assert any(line.startswith("read: 100.0%") and "bytes" in line for line in lines), r.stderr
    assert os.listdir(tmp_path) == []


def test_demo_keep_and_path_leave_the_array(tmp_path):
    r = _demo(tmp_path, "--keep")
    assert r.returncode == 0, r.stderr
    (kept,) = os.listdir(tmp_path)
    assert os.path.exists(os.path.join(tmp_path, kept, "volume.zarr", ".zarray"))
    target = tmp_path / "mine.zarr"
    r = _demo(tmp_path, "--path", str(target))
    assert r.returncode == 0 and (target / ".zarray").exists()
