"""``dst.write(src)`` between two zarr arrays on disk, tensorstore_py against tensorstore.

    .venv/bin/python bench/bench_store_copy.py [--mib 256] [--repeat 5]

The source (float32, 64^3 chunks, blosc) is written once by tensorstore; each trial copies it
into a fresh destination with the same layout, in its own process, so peak memory is that
trial's alone.  Trials are interleaved (ts_py, ts, ts again for the noise floor) and repeated;
the table gives medians with the min-max spread, CPU time, and the peak resident memory the
copy added on top of the process before it (resident memory sampled every 2 ms).  Ratios are
tensorstore_py / tensorstore (lower is better).  A benchmark, not a test: nothing asserts on
time.  bench_zarr.py runs the same copy (this module's `write_source` and `open_pair`) as one of
its workloads.
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
import threading
import time

import numpy as np

CHUNKS = [64, 64, 64]
BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}


def source_metadata(mib: int) -> dict:
    """zarr metadata of a float32 array of about `mib` MiB in 64^3 chunks (blosc)."""
    side = max(64, round((mib * 2**20 / 4) ** (1 / 3) / 64) * 64)
    shape = [side, side, max(1, mib * 2**20 // 4 // (side * side))]
    return {"shape": shape, "chunks": CHUNKS, "dtype": "<f4", "compressor": BLOSC}


def write_source(path: str, mib: int) -> dict:
    """Writes the source array with tensorstore (a slab at a time) and returns its metadata."""
    import tensorstore

    metadata = source_metadata(mib)
    shape = metadata["shape"]
    store = tensorstore.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}, "metadata": metadata},
                             create=True, delete_existing=True).result()
    rng = np.random.default_rng(0)
    plane = shape[1] * shape[2]
    for z0 in range(0, shape[0], CHUNKS[0]):
        z1 = min(shape[0], z0 + CHUNKS[0])
        slab = (np.arange(z0 * plane, z1 * plane, dtype=np.float32).reshape(z1 - z0, shape[1], shape[2]) % 1000
                + rng.random((z1 - z0, shape[1], shape[2]), dtype=np.float32))
        store[z0:z1].write(slab).result()
    return metadata


def open_pair(module, src_path: str, dst_path: str, metadata: dict) -> tuple:
    """The source, opened, and a fresh destination of the same layout, with `module` (tensorstore
    or tensorstore_py): the copy is then ``dst.write(src).result()``."""
    src = module.open({"driver": "zarr", "kvstore": {"driver": "file", "path": src_path}}).result()
    dst = module.open({"driver": "zarr", "kvstore": {"driver": "file", "path": dst_path}, "metadata": metadata},
                      create=True, delete_existing=True).result()
    return src, dst


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def trial_worker(module_name: str, src_path: str, dst_path: str, metadata: dict) -> None:
    """One timed copy in this process; prints wall, CPU and the peak memory the copy added."""
    src, dst = open_pair(__import__(module_name), src_path, dst_path, metadata)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.002)

    before = _rss_mib()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    dst.write(src).result()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stop.set()
    sampler.join()
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mib": max(peak[0], _rss_mib()) - before}))


def trial(python: str, module: str, src: str, dst: str, metadata: dict) -> dict:
    out = subprocess.run(
        [python, os.path.abspath(__file__), "--worker", module, src, dst, json.dumps(metadata)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--worker", nargs=4, metavar=("MODULE", "SRC", "DST", "METADATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        module, src, dst, metadata = args.worker
        trial_worker(module, src, dst, json.loads(metadata))
        return 0

    root = tempfile.mkdtemp(prefix="tspy-copy-")
    try:
        src = os.path.join(root, "src")
        metadata = write_source(src, args.mib)
        shape = metadata["shape"]
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
