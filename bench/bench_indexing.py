"""Reads through index arrays and strides cost what the chunks they touch cost.

    .venv/bin/python bench/bench_indexing.py

A large zarr array (1 TiB of int32 by its shape) is created in memory; almost all of it is
missing, so nothing is proportional to the array's size unless the implementation walks it.
Each workload reads a handful of points or a thin strided slab, touching N chunks, with N
growing; times are shown for tensorstore_py and tensorstore with the ratio, and per chunk
touched, which should stay roughly flat as the array or selection grows.
"""

from __future__ import annotations

import sys
import time

import numpy as np

SHAPE = [65536, 65536, 65536]  # 2**48 elements: only what is touched may cost anything
CHUNKS = [64, 64, 64]


def best(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def open_store(lib):
    store = lib.open(
        {"driver": "zarr", "kvstore": {"driver": "memory"},
         "metadata": {"chunks": CHUNKS, "compressor": None}},
        create=True, dtype=lib.int32, shape=SHAPE,
    ).result()
    # Data in a band of chunks, so reads decode real chunks.
    store[0:64 * 8, 0:64, 0:64 * 8].write(np.ones((512, 64, 512), np.int32)).result()
    return store


def workloads(lib, store):
    rng = np.random.default_rng(0)
    out = {}
    for n in (4, 16, 64):
        # n points, each in its own chunk of the written band
        xs = (np.arange(n) % 8) * 64 + 3
        zs = (np.arange(n) // 8) * 64 + 5
        ys = rng.integers(0, 64, n)
        out[f"vindex {n} points"] = (n, lambda xs=xs, ys=ys, zs=zs: store.vindex[xs, ys, zs].read().result())
    for n in (2, 8, 32):
        # a strided slab crossing n chunks along z
        out[f"stride slab {n} chunks"] = (
            n, lambda n=n: store[5, 7:60:3, 0 : 64 * n : 7].read().result()
        )
    out["oindex 8x8 points"] = (
        16, lambda: store.oindex[[1, 70, 140, 210], [2, 9], [3, 130, 260, 390]].read().result()
    )
    return out


def main() -> int:
    import tensorstore
    import tensorstore_py

    ours = workloads(tensorstore_py, open_store(tensorstore_py))
    theirs = workloads(tensorstore, open_store(tensorstore))
    print(f"zarr int32 array of shape {SHAPE}, chunks {CHUNKS}; best of 5")
    print(f"{'workload':24} {'chunks':>6} {'ts_py ms':>9} {'ts ms':>8} {'ratio':>6} {'ts_py us/chunk':>15}")
    for name, (n, fn) in ours.items():
        a = best(fn)
        b = best(theirs[name][1])
        print(f"{name:24} {n:6d} {a * 1e3:9.3f} {b * 1e3:8.3f} {a / b:6.2f} {a / n * 1e6:15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
