"""Reading an n5 array timed side by side: tensorstore_py against tensorstore (C++).

    .venv/bin/python bench/bench_n5.py [--repeat N] [--block 64]

The array is 256^3 uint16, blosc-compressed (lz4, byte shuffle: TensorStore's default for
n5), on a file kvstore; the reference writes it once and both libraries read the same files.
Times are the best of N repeats; the ratio is tensorstore_py time / tensorstore time (lower is
better).  A benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from typing import Callable

import numpy as np

SHAPE = (256, 256, 256)
COMPRESSION = {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_data() -> np.ndarray:
    # Smooth values plus noise in the low bits: compresses like microscopy data, not like zeros.
    z, y, x = np.meshgrid(*(np.arange(s, dtype=np.float32) for s in SHAPE), indexing="ij")
    rng = np.random.default_rng(0)
    smooth = 20000 + 8000 * np.sin(x / 17) * np.cos(y / 23) + 50 * z
    return (smooth + rng.integers(0, 64, size=SHAPE)).astype(np.uint16)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--block", type=int, default=64, help="block edge length (blockSize is block^3)")
    args = parser.parse_args(argv)

    import tensorstore
    import tensorstore_py
    import tensorstore_py.driver.n5  # noqa: F401 - registers the driver until the package imports it

    root = tempfile.mkdtemp(prefix="tspy-bench-n5-")
    try:
        spec = {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": root},
            "metadata": {"dimensions": list(SHAPE), "blockSize": [args.block] * 3, "dataType": "uint16",
                         "compression": COMPRESSION},
        }
        data = make_data()
        tensorstore.open(spec, create=True, delete_existing=True).result().write(data).result()
        read_spec = {"driver": "n5", "kvstore": {"driver": "file", "path": root}}
        results = {}
        for name, lib in (("tensorstore_py", tensorstore_py), ("tensorstore", tensorstore)):
            store = lib.open(read_spec).result()
            out = store.read().result()
            assert np.array_equal(out, data), name
            whole = best_of(args.repeat, lambda: store.read().result())
            sub = store[13:201, 7:250, 100:180]
            part = best_of(args.repeat, lambda: sub.read().result())
            # A new store each time: nothing cached between repeats in either library.
            cold = best_of(args.repeat, lambda: lib.open(read_spec).result().read().result())
            results[name] = {"read whole array": whole, "read unaligned region": part, "open + read whole": cold}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    mib = np.prod(SHAPE) * 2 / 2**20
    print(f"n5 uint16 {SHAPE} ({mib:.0f} MiB), blockSize {[args.block] * 3}, blosc lz4 shuffle 1, best of {args.repeat}")
    print(f"{'workload':24} {'ts_py s':>9} {'ts s':>9} {'ts_py/ts':>9} {'ts_py MiB/s':>12}")
    for workload in results["tensorstore_py"]:
        a, b = results["tensorstore_py"][workload], results["tensorstore"][workload]
        size = mib if "whole" in workload else 188 * 243 * 80 * 2 / 2**20
        print(f"{workload:24} {a:9.4f} {b:9.4f} {a / b:9.2f} {size / a:12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
