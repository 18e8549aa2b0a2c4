"""OCDBT on the file kvstore: 10,000 small keys written and read back, tensorstore_py against
tensorstore, side by side in one run.

Usage: ``.venv/bin/python bench/bench_ocdbt.py [--repeat 5] [--keys 10000] [--dir /tmp/bench_ocdbt]``

Workloads (each repeat on a fresh database directory):
  (a) write: `keys` writes of 16-byte values issued at once, then wait for all (both libraries
      batch concurrent writes into a few commits);
  (b) read: open the database afresh, issue `keys` reads at once, wait for all;
  (c) list: open afresh and list every key.
Runs are interleaved (ours, tensorstore, tensorstore again) so that load on the machine hits
all alike; the second tensorstore run is the noise floor (its ratio to the first shows how
much two runs of the same code differ here).  Prints the median wall time, the spread
(min-max), the median process CPU time and the ratio ours / tensorstore (< 1: we are faster).
Each library's database is read by the other once, as a check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

import tensorstore as ref

import tensorstore_py as ts


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def spec(path: str) -> dict:
    return {"driver": "ocdbt", "base": f"file://{path}/"}


def write_all(module, path: str, keys: list[str]) -> None:
    kv = module.KvStore.open(spec(path)).result()
    futures = [kv.write(k, k.encode().rjust(16, b".")) for k in keys]
    for f in futures:
        f.result()


def read_all(module, path: str, keys: list[str]) -> None:
    kv = module.KvStore.open(spec(path)).result()
    futures = [kv.read(k) for k in keys]
    for k, f in zip(keys, futures):
        assert f.result().value == k.encode().rjust(16, b".")


def list_all(module, path: str, keys: list[str]) -> None:
    kv = module.KvStore.open(spec(path)).result()
    assert len(kv.list().result()) == len(keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--dir", default="/tmp/bench_ocdbt")
    args = parser.parse_args()
    keys = [f"key/{i:06d}" for i in range(args.keys)]
    runners = {"ours": ts, "tensorstore": ref, "tensorstore again": ref}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rep in range(args.repeat):
        for name, module in runners.items():
            path = os.path.join(args.dir, f"{rep}-{name.replace(' ', '_')}")
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            results.setdefault(("(a) write", name), []).append(timed(lambda: write_all(module, path, keys)))
            results.setdefault(("(b) read", name), []).append(timed(lambda: read_all(module, path, keys)))
            results.setdefault(("(c) list", name), []).append(timed(lambda: list_all(module, path, keys)))
    # Each library reads the other's database.
    read_all(ref, os.path.join(args.dir, "0-ours"), keys)
    read_all(ts, os.path.join(args.dir, "0-tensorstore"), keys)
    print(f"{args.keys} keys, {args.repeat} interleaved repeats; wall s: median (min-max); cpu s: median")
    print(f"{'workload':12s} {'runner':18s} {'wall':>8s} {'spread':>17s} {'cpu':>8s} {'ratio':>7s}")
    for workload in ("(a) write", "(b) read", "(c) list"):
        base = statistics.median(w for w, _ in results[(workload, "tensorstore")])
        for name in runners:
            walls = [w for w, _ in results[(workload, name)]]
            cpus = [c for _, c in results[(workload, name)]]
            med = statistics.median(walls)
            print(f"{workload:12s} {name:18s} {med:8.3f} {min(walls):8.3f}-{max(walls):<8.3f} "
                  f"{statistics.median(cpus):8.3f} {med / base:7.2f}")


if __name__ == "__main__":
    main()
