"""``dst.write(src)`` between two zarr arrays on disk, tensorstore_py against tensorstore.

    .venv/bin/python bench/bench_store_copy.py [--mib 256] [--repeat 5]

The source (float32, 64^3 chunks, blosc) is written once by tensorstore; each trial copies it
into a fresh destination with the same layout, in its own process, so peak memory is that
trial's alone.  Trials are interleaved (ts_py, ts, ts again for the noise floor) and repeated;
the table gives medians with the min-max spread, CPU time, and the peak resident memory the
copy added on top of the process before it (resident memory sampled every 2 ms).  Ratios are tensorstore_py / tensorstore (lower
is better).  A benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

CHUNKS = [64, 64, 64]
BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}

TRIAL = r"""
import json, os, sys, threading, time
import numpy as np

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

peak = [0.0]
stop = threading.Event()

def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib())
        time.sleep(0.002)

mod = __import__(sys.argv[1])
src_path, dst_path = sys.argv[2], sys.argv[3]
src = mod.open({"driver": "zarr", "kvstore": {"driver": "file", "path": src_path}}).result()
dst = mod.open({"driver": "zarr", "kvstore": {"driver": "file", "path": dst_path},
                "metadata": json.loads(sys.argv[4])}, create=True, delete_existing=True).result()
before = rss_mib()
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
t0, c0 = time.perf_counter(), time.process_time()
dst.write(src).result()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
stop.set()
sampler.join()
print(json.dumps({"wall": wall, "cpu": cpu, "peak_mib": max(peak[0], rss_mib()) - before}))
"""


def trial(python: str, module: str, src: str, dst: str, metadata: dict) -> dict:
    out = subprocess.run(
        [python, "-c", TRIAL, module, src, dst, json.dumps(metadata)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    import tensorstore

    side = round((args.mib * 2**20 / 4) ** (1 / 3) / 64) * 64
    shape = [side, side, args.mib * 2**20 // 4 // (side * side)]
    metadata = {"shape": shape, "chunks": CHUNKS, "dtype": "<f4", "compressor": BLOSC}
    root = tempfile.mkdtemp(prefix="tspy-copy-")
    try:
        src = os.path.join(root, "src")
        store = tensorstore.open({"driver": "zarr", "kvstore": {"driver": "file", "path": src}, "metadata": metadata},
                                 create=True).result()
        rng = np.random.default_rng(0)
        data = (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 1000 + rng.random(shape, dtype=np.float32))
        store.write(data).result()
        del data, store
        runs: dict[str, list[dict]] = {"tensorstore_py": [], "tensorstore": [], "tensorstore (again)": []}
        for _ in range(args.repeat):
            for name, module in (("tensorstore_py", "tensorstore_py"), ("tensorstore", "tensorstore"),
                                 ("tensorstore (again)", "tensorstore")):
                runs[name].append(trial(sys.executable, module, src, os.path.join(root, "dst"), metadata))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    def spread(name: str, key: str) -> str:
        values = [r[key] for r in runs[name]]
        return f"{min(values):.3f}-{max(values):.3f}"

    print(f"dst.write(src), zarr float32 {shape} ({args.mib} MiB), chunks {CHUNKS}, blosc; "
          f"{args.repeat} interleaved trials each, medians")
    print(f"{'library':22} {'wall s':>8} {'(spread)':>13} {'cpu s':>8} {'peak MiB':>9}")
    for name in runs:
        print(f"{name:22} {med(name, 'wall'):8.3f} {spread(name, 'wall'):>13} {med(name, 'cpu'):8.3f} "
              f"{med(name, 'peak_mib'):9.1f}")
    ts_wall = med("tensorstore", "wall")
    print(f"ratio ts_py/ts wall: {med('tensorstore_py', 'wall') / ts_wall:.2f}   "
          f"noise floor ts(again)/ts: {med('tensorstore (again)', 'wall') / ts_wall:.2f}   "
          f"peak memory ts_py/ts: {med('tensorstore_py', 'peak_mib') / max(1e-9, med('tensorstore', 'peak_mib')):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
