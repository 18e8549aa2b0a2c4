"""Many threads at once on one array (issue 16's load scenarios), tensorstore_py against tensorstore.

    .venv/bin/python bench/bench_load.py [--repeat 5] [--threads 64] [--ops 200]

Workloads (each in its own process, rounds interleaved, tensorstore measured twice for the noise
floor):
  memory   N threads share one handle of a zarr array on a memory kvstore; each does M rounds of
           a single-element write and a 4x4 read at a random place (int32 512x512, 64x64 chunks)
  file     the same on a file kvstore
  hot      N/2 threads, each with its own handle (and context), write M/2 single elements of one
           256x256 chunk of a file-backed array: every write is a conditional read-modify-write
           of the same key, conflicts resolved through storage generations
Every run checks its result (no write lost).  Ratios are tensorstore_py / tensorstore.
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
import threading

import numpy as np

from _measure import print_table, timed

WORKLOADS = {"memory": "threads, memory kvstore", "file": "threads, file kvstore", "hot": "hot chunk, own handles"}
LIBS = {"tensorstore_py": "tensorstore_py", "tensorstore": "tensorstore", "tensorstore #2": "tensorstore"}


def _run_threads(n: int, work) -> None:
    errors: list = []

    def guarded(t: int) -> None:
        try:
            work(t)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def shared_handle(ts, kvstore: dict, threads: int, ops: int) -> None:
    store = ts.open({"driver": "zarr", "kvstore": kvstore}, create=True, dtype=ts.int32, shape=[512, 512],
                    chunk_layout=ts.ChunkLayout(chunk_shape=[64, 64])).result()
    # Thread t owns the rows congruent to t, so every written element has one known final value.
    plans = []
    for t in range(threads):
        rng = np.random.default_rng(t)
        rows = rng.integers(0, 512 // threads, ops) * threads + t
        plans.append((rows, rng.integers(0, 512, ops), rng.integers(0, 508, (ops, 2))))

    def work(t: int) -> None:
        rows, cols, boxes = plans[t]
        for i in range(ops):
            store[int(rows[i]), int(cols[i])].write(t * ops + i + 1).result()
            y, x = int(boxes[i, 0]), int(boxes[i, 1])
            store[y:y + 4, x:x + 4].read().result()

    def run() -> None:
        _run_threads(threads, work)
        expected = np.zeros((512, 512), np.int32)
        for t, (rows, cols, _) in enumerate(plans):
            for i in range(ops):
                expected[rows[i], cols[i]] = t * ops + i + 1
        if not np.array_equal(store.read().result(), expected):
            raise SystemExit("writes were lost")

    timed(run)


def hot_chunk(ts, path: str, threads: int, writes: int) -> None:
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
    ts.open(spec, create=True, delete_existing=True, dtype=ts.int32, shape=[256, 256],
            chunk_layout=ts.ChunkLayout(chunk_shape=[256, 256])).result()
    handles = [ts.open(spec, context=ts.Context()).result() for _ in range(threads)]

    def work(t: int) -> None:
        for i in range(writes):
            flat = t * writes + i
            handles[t][flat // 256, flat % 256].write(flat + 1).result()

    def run() -> None:
        _run_threads(threads, work)
        n = threads * writes
        out = ts.open(spec).result().read().result().reshape(-1)
        if int((out[:n] != np.arange(1, n + 1)).sum()):
            raise SystemExit("writes were lost")

    timed(run)


def worker(module: str, workload: str, root: str, threads: int, ops: int) -> None:
    ts = __import__(module)
    if workload == "memory":
        shared_handle(ts, {"driver": "memory"}, threads, ops)
    elif workload == "file":
        shared_handle(ts, {"driver": "file", "path": os.path.join(root, "shared")}, threads, ops)
    else:
        hot_chunk(ts, os.path.join(root, "hot"), max(1, threads // 2), max(1, ops // 2))


def run_one(lib: str, workload: str, root: str, threads: int, ops: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", LIBS[lib], workload, root, str(threads), str(ops)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="memory,file,hot")
    parser.add_argument("--worker", nargs=5, metavar=("MODULE", "WORKLOAD", "ROOT", "THREADS", "OPS"))
    args = parser.parse_args(argv)
    if args.worker:
        module, workload, root, threads, ops = args.worker
        worker(module, workload, root, int(threads), int(ops))
        return 0

    libs = list(LIBS)
    workloads = args.only.split(",")
    results: dict = {(lib, w): [] for lib in libs for w in workloads}
    for round_ in range(args.repeat):
        for w in workloads:
            order = list(libs)
            random.Random(round_ * 31 + len(w)).shuffle(order)
            for lib in order:
                root = tempfile.mkdtemp(prefix="tspy-bench-load-")
                try:
                    results[(lib, w)].append(run_one(lib, w, root, args.threads, args.ops))
                finally:
                    shutil.rmtree(root, ignore_errors=True)
        print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    print(f"{args.threads} threads x {args.ops} (write one element + read 4x4) on one handle; hot chunk: "
          f"{max(1, args.threads // 2)} handles x {max(1, args.ops // 2)} writes; {args.repeat} interleaved rounds")
    print_table(results, libs, workloads, WORKLOADS, 26)
    return 0


if __name__ == "__main__":
    sys.exit(main())
