"""Downsampling side by side: tensorstore_py and tensorstore (C++).

    .venv/bin/python bench/bench_downsample.py [--size 512] [--repeat 5] [--chunk 128] [--only a,b,c]

A 512^3 uint16 zarr (v2) array (256 MiB, blosc lz4 chunks of 128^3) on a file kvstore:

  (a) ``ts.downsample(store, [2, 2, 2], "mean").read()``: the whole 256^3 result;
  (b) ``store.read()``: the whole base array, for reference (what (a) has to read);
  (c) ``ts.downsample(store, [2, 2, 2], "median").read()``.

Every measurement runs in a fresh process, the libraries interleaved in a shuffled order
within each round, `--repeat` rounds.  Reported per library and workload: the median wall
time, the spread (min-max), the median CPU time of the process (all threads) and the median
peak RSS.  "tensorstore #2" is tensorstore measured again as if it were another library: its
ratio to tensorstore is the noise floor.  This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from _measure import print_table, timed

WORKLOADS = {"a": "downsample mean", "b": "read base", "c": "downsample median"}


def make_data(n: int) -> np.ndarray:
    """Smooth data with some noise: compressible, but not trivially."""
    rng = np.random.default_rng(0)
    data = np.empty((n, n, n), dtype=np.uint16)
    y, x = np.ogrid[:n, :n]
    for z in range(n):  # a slab at a time
        data[z] = ((z * 7 + y * 3 + x) % 4096 + rng.integers(0, 16, size=(n, n), dtype=np.uint16)).astype(np.uint16)
    return data


def worker(module: str, workload: str, path: str) -> None:
    ts = __import__(module)
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path + "/"}}).result()
    if workload == "a":
        view = ts.downsample(store, [2, 2, 2], "mean")
    elif workload == "c":
        view = ts.downsample(store, [2, 2, 2], "median")
    else:
        view = store
    timed(lambda: view.read().result())




LIBS = {"tensorstore_py": "tensorstore_py", "tensorstore": "tensorstore", "tensorstore #2": "tensorstore"}


def run_one(lib: str, workload: str, path: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", LIBS[lib], workload, path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(root: str, n: int, chunk: int) -> str:
    import tensorstore

    path = os.path.join(root, "base.zarr")
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path + "/"},
            "metadata": {"shape": [n] * 3, "chunks": [chunk] * 3, "dtype": "<u2"}}
    tensorstore.open(spec, create=True, delete_existing=True).result().write(make_data(n)).result()
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--worker", nargs=3, metavar=("MODULE", "WORKLOAD", "PATH"))
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    n = args.size
    libs = list(LIBS)
    workloads = args.only.split(",")
    root = tempfile.mkdtemp(prefix="tspy-bench-ds-")
    results: dict = {(lib, w): [] for lib in libs for w in workloads}
    try:
        path = prepare(root, n, args.chunk)
        for round_ in range(args.repeat):
            for w in workloads:
                order = list(libs)
                random.Random(round_ * 31 + ord(w)).shuffle(order)
                for lib in order:
                    results[(lib, w)].append(run_one(lib, w, path))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    mib = n**3 * 2 / 2**20
    print(f"zarr v2, uint16 {n}^3 ({mib:.0f} MiB), chunks {args.chunk}^3 blosc lz4, file kvstore; "
          f"{args.repeat} interleaved rounds, one process per measurement; {os.cpu_count()} CPUs")
    print_table(results, libs, workloads, WORKLOADS, 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
