"""Virtual views side by side: tensorstore_py and tensorstore (C++).

    .venv/bin/python bench/bench_views.py [--layers 8] [--depth 32] [--side 512] [--repeat 5]

Eight zarr v2 arrays (uint16, `depth` x `side` x `side` each, 16 MiB at the defaults, chunks of
32 x 128 x 128, blosc lz4) on a file kvstore:

  (a) ts.concat of the eight along axis 0, read whole (the workload of issue 11);
  (b) the same eight arrays read whole one after the other, without a view (what (a) costs
      without the stack driver: the view's own overhead is (a) - (b)).

Every measurement runs in a fresh process, the libraries interleaved in a shuffled order within
each round, `--repeat` rounds.  Reported per library and workload: median wall time, spread
(min-max), median CPU time of the process (all threads) and median peak RSS.  "tensorstore #2"
is tensorstore measured again as if it were another library: its ratio to tensorstore is the
noise floor.  This is a benchmark, not a test: nothing asserts on time.
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

WORKLOADS = {"a": "concat of 8, read whole", "b": "the 8 read directly"}
CHUNK = (32, 128, 128)


def _spec(path: str) -> dict:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": path + "/"}}


def make_layer(k: int, depth: int, side: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    z, y, x = np.ogrid[:depth, :side, :side]
    smooth = (z * 7 + y * 3 + x + k * 1000) % 4096
    return (smooth + rng.integers(0, 16, size=(depth, side, side))).astype(np.uint16)


def ts_worker(module: str, workload: str, root: str, layers: int) -> None:
    ts = __import__(module)
    stores = [ts.open(_spec(os.path.join(root, f"layer{k}"))).result() for k in range(layers)]
    if workload == "a":
        view = ts.concat(stores, axis=0)
        return timed(lambda: view.read().result())

    def direct():
        for store in stores:
            store.read().result()

    return timed(direct)






LIBS = {"tensorstore_py": "tensorstore_py", "tensorstore": "tensorstore", "tensorstore #2": "tensorstore"}


def run_one(lib: str, workload: str, root: str, layers: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", LIBS[lib], workload, root, str(layers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(root: str, layers: int, depth: int, side: int) -> None:
    """The layers, written once by tensorstore."""
    import tensorstore

    for k in range(layers):
        store = tensorstore.open(_spec(os.path.join(root, f"layer{k}")), create=True, delete_existing=True,
                                 dtype=tensorstore.uint16, shape=[depth, side, side],
                                 chunk_layout=tensorstore.ChunkLayout(chunk_shape=list(CHUNK))).result()
        store.write(make_layer(k, depth, side)).result()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="a,b")
    parser.add_argument("--worker", nargs=4, metavar=("MODULE", "WORKLOAD", "ROOT", "LAYERS"))
    args = parser.parse_args(argv)
    if args.worker:
        module, workload, root, layers = args.worker
        ts_worker(module, workload, root, int(layers))
        return 0

    libs = list(LIBS)
    workloads = args.only.split(",")
    root = tempfile.mkdtemp(prefix="tspy-bench-views-")
    results: dict = {(lib, w): [] for lib in libs for w in workloads}
    try:
        prepare(root, args.layers, args.depth, args.side)
        # Both libraries agree on the values before anything is timed.
        import tensorstore

        import tensorstore_py

        stores = [tensorstore_py.open(_spec(os.path.join(root, f"layer{k}"))).result() for k in range(args.layers)]
        ref_stores = [tensorstore.open(_spec(os.path.join(root, f"layer{k}"))).result() for k in range(args.layers)]
        ours = tensorstore_py.concat(stores, axis=0).read().result()
        theirs = tensorstore.concat(ref_stores, axis=0).read().result()
        if not np.array_equal(ours, theirs):
            raise SystemExit("tensorstore_py and tensorstore read different values")
        del ours, theirs
        for round_ in range(args.repeat):
            for w in workloads:
                order = list(libs)
                random.Random(round_ * 31 + ord(w)).shuffle(order)
                for lib in order:
                    results[(lib, w)].append(run_one(lib, w, root, args.layers))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    mib = args.layers * args.depth * args.side**2 * 2 / 2**20
    print(f"zarr v2, {args.layers} layers of uint16 {args.depth}x{args.side}x{args.side} ({mib:.0f} MiB in all), "
          f"chunks {'x'.join(map(str, CHUNK))}, blosc lz4; {args.repeat} interleaved rounds, one process per measurement")
    print_table(results, libs, workloads, WORKLOADS, 26)
    return 0


if __name__ == "__main__":
    sys.exit(main())
