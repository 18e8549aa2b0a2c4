"""bench/bench_zarr.py runs every workload in its worker processes and finds tensorstore_py and
tensorstore agreeing on the values (a differential check of the benchmark's workloads), and
bench/plot.py draws its JSON; bench/stages.py gives a py-spy sample the stage it is in."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(REPO, "bench")


def test_every_workload_runs_and_the_libraries_agree(tmp_path):
    pytest.importorskip("tensorstore")
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, os.path.join(BENCH, "bench_zarr.py"), "--scale", "tiny", "--copy-mib", "1",
                        "--repeat", "1", "--lib", "tensorstore_py,tensorstore,tensorstore (again)",
                        "--json", str(out)],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr  # 1: some workload read different values
    assert "VALUES DIFFER" not in r.stdout
    results = json.loads(out.read_text())
    sys.path.insert(0, BENCH)
    from bench_zarr import WORKLOADS, names_for

    names = names_for(1)
    assert sorted(results["workloads"].values()) == sorted(WORKLOADS)
    for lib in ("tensorstore_py", "tensorstore", "tensorstore (again)"):
        measured = results["results"][lib]
        assert set(measured) == {names[w] for w in WORKLOADS}
        for name, entry in measured.items():
            assert len(entry["runs"]) == 1 and entry["median_s"] > 0 and entry["median_peak_mib"] > 0, (lib, name)
    assert all(results["values_agree"].values())
    assert results["seconds"]["tensorstore"][names["read"]] == results["results"]["tensorstore"][names["read"]]["median_s"]
    assert results["geomean"]["tensorstore_py"]["workloads"] == len(WORKLOADS)
    assert not list(tmp_path.glob("tspy-bench-zarr-*")), "the prepared arrays are removed"
    if importlib.util.find_spec("matplotlib"):
        png = tmp_path / "performance.png"
        r = subprocess.run([sys.executable, os.path.join(BENCH, "plot.py"), "--zarr-json", str(out), "--out", str(png)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stages_of_py_spy_samples(tmp_path):
    sys.path.insert(0, BENCH)
    import stages

    def stack(*frames):
        return ["thread (7): MainThread", "<module> (bench_zarr.py:1)", *frames]

    assert stages.classify(stack("read (tensorstore_py/tensorstore.py:1)", "decode (tensorstore_py/codecs/blosc.py:9)",
                                 "blosc_decompress_ctx (blosc/blosc_extension.so)", "memcpy (libc.so.6)"))[0] == "decode"
    assert stages.classify(stack("_read_task (tensorstore_py/kvstore/file.py:3)", "os_pread (libpython3.11.so.1.0)",
                                 "pread64 (libc.so.6)"))[0] == "kvstore"
    assert stages.classify(stack("copy (tensorstore_py/driver/chunked.py:2)", "strided_copy (copy.pyx:519)",
                                 "memcpy (libc.so.6)"))[0] == "copy"
    assert stages.classify(stack("result (tensorstore_py/future.py:1)", "Condition.wait (threading.py:327)",
                                 "lock_PyThread_acquire_lock (libpython3.11.so.1.0)", "0x7f (libc.so.6)"))[0] == "wait"
    assert stages.classify(stack("submit (concurrent/futures/thread.py:1)", "sem_post (libc.so.6)"))[0] == "hops"
    assert stages.classify(stack("_plan (tensorstore_py/driver/chunked.py:1)",
                                 "partition_dim (grid.pyx:330)"))[0] == "plan"
    assert stages.classify(stack("read (tensorstore_py/driver/chunked.py:1)"))[0] == "glue"
    profile = tmp_path / "prof.txt"
    profile.write_text(";".join(stack("read (tensorstore_py/driver/chunked.py:1)")) + " 3\n"
                       + ";".join(stack("pread64 (libc.so.6)")) + " 1\n")
    r = subprocess.run([sys.executable, os.path.join(BENCH, "stages.py"), str(profile)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "MainThread" in r.stdout and "75.0%" in r.stdout  # 3 of the 4 samples are glue
