"""zarr v2 workloads timed side by side: tensorstore_py, tensorstore (C++), zarr-python 2.

    .venv/bin/python bench/bench_zarr.py [--scale small|medium] [--repeat N]

Each workload runs on a file kvstore under a fresh temporary directory per library; the time is
the best of N repeats.  Ratios are tensorstore_py time / other time (lower is better; 1.5 means
tensorstore_py takes 1.5x as long).  This is a benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Callable

import numpy as np

SCALES = {
    # shape, chunks
    "small": ((256, 256, 64), (64, 64, 32)),
    "medium": ((512, 512, 128), (64, 64, 64)),
}
GZIP = {"id": "gzip", "level": 5}
BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}


class TsLike:
    """tensorstore_py and tensorstore share an API: one adapter drives both."""

    def __init__(self, module, name: str):
        self.ts = module
        self.name = name

    def create(self, path: str, shape, chunks, compressor, dtype="float32"):
        return self.ts.open(
            {
                "driver": "zarr",
                "kvstore": {"driver": "file", "path": path},
                "metadata": {"shape": list(shape), "chunks": list(chunks), "dtype": "<f4", "compressor": compressor},
            },
            create=True,
            delete_existing=True,
        ).result()

    def open(self, path: str):
        return self.ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}).result()

    def write(self, store, index, data):
        store[index].write(data).result()

    def read(self, store, index):
        return store[index].read().result()


class ZarrPython:
    name = "zarr-python"

    def __init__(self):
        import numcodecs
        import zarr

        self.zarr = zarr
        self.numcodecs = numcodecs

    def create(self, path, shape, chunks, compressor, dtype="float32"):
        codec = None if compressor is None else self.numcodecs.get_codec(dict(compressor))
        return self.zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f4", compressor=codec)

    def open(self, path):
        return self.zarr.open(path, mode="r+")

    def write(self, store, index, data):
        store[index] = data

    def read(self, store, index):
        return store[index]


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def workloads(lib, root: str, shape, chunks, repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    # Smooth-ish data so compressors have something realistic to do.
    data = (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 1000 + rng.random(shape, dtype=np.float32)).astype(np.float32)
    path = os.path.join(root, lib.name)
    results = {}
    full = tuple(slice(0, s) for s in shape)

    store = lib.create(path, shape, chunks, BLOSC)
    results["write whole array"] = best_of(repeat, lambda: lib.write(store, full, data))
    results["read whole array"] = best_of(repeat, lambda: lib.read(store, full))
    unaligned = tuple(slice(c // 2 + 1, s - c // 3) for s, c in zip(shape, chunks))
    results["unaligned read"] = best_of(repeat, lambda: lib.read(store, unaligned))
    region = tuple(slice(c // 2, c // 2 + c) for c in chunks)
    patch = np.ones([c for c in chunks], dtype=np.float32)
    results["unaligned read-modify-write"] = best_of(repeat, lambda: lib.write(store, region, patch))

    points = rng.integers(0, np.array(shape) - 4, size=(300, len(shape)))

    def small_reads():
        for p in points:
            lib.read(store, tuple(slice(int(x), int(x) + 4) for x in p))

    results["300 small reads"] = best_of(repeat, small_reads)

    gz_path = path + "_gzip"

    def gzip_round_trip():
        s = lib.create(gz_path, shape, chunks, GZIP)
        lib.write(s, full, data)
        lib.read(s, full)

    results["gzip round trip"] = best_of(max(1, repeat // 2), gzip_round_trip)

    raw_path = path + "_raw"
    raw = lib.create(raw_path, shape, chunks, None)
    lib.write(raw, full, data)
    results["uncompressed read"] = best_of(repeat, lambda: lib.read(raw, full))

    def opens():
        for _ in range(200):
            lib.open(path)

    results["200 opens"] = best_of(max(1, repeat // 2), opens)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the timings as JSON (bench/plot.py reads it)")
    args = parser.parse_args(argv)
    shape, chunks = SCALES[args.scale]

    import tensorstore
    import tensorstore_py

    libs = [TsLike(tensorstore_py, "tensorstore_py"), TsLike(tensorstore, "tensorstore"), ZarrPython()]
    root = tempfile.mkdtemp(prefix="tspy-bench-")
    try:
        table = {lib.name: workloads(lib, root, shape, chunks, args.repeat) for lib in libs}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    names = list(table["tensorstore_py"])
    mib = np.prod(shape) * 4 / 2**20
    print(f"zarr v2, float32 {shape} ({mib:.0f} MiB), chunks {chunks}, best of {args.repeat}")
    print(f"{'workload':30} {'ts_py s':>9} {'ts s':>9} {'zarr s':>9} {'ts_py/ts':>9} {'ts_py/zarr':>11}")
    ratios_ts = []
    for n in names:
        a, b, c = table["tensorstore_py"][n], table["tensorstore"][n], table["zarr-python"][n]
        ratios_ts.append(a / b)
        print(f"{n:30} {a:9.4f} {b:9.4f} {c:9.4f} {a / b:9.2f} {a / c:11.2f}")
    print(f"geometric mean ts_py/ts: {statistics.geometric_mean(ratios_ts):.2f}")
    if args.json:
        import json

        meta = {"benchmark": "bench_zarr", "scale": args.scale, "shape": list(shape), "chunks": list(chunks),
                "repeat": args.repeat, "cpus": os.cpu_count(), "seconds": table}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
