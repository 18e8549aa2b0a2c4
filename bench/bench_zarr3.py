"""zarr v3 workloads side by side: tensorstore_py, tensorstore (C++), zarr-python 3, zarrs.

    .venv/bin/python bench/bench_zarr3.py [--size 512] [--repeat 5] [--only a,b,...]

A 512^3 uint16 array (256 MiB) on a file kvstore:

  (a) write all, as 256^3 shards of 64^3 sub-chunks (bytes + zstd level 3 inside; index bytes +
      crc32c at the end);
  (b) read all of (a);
  (c) overwrite an unaligned box of (a) (partial shards: read-modify-write);
  (d) 300 random 16^3 reads of (a);
  (e) read all of an unsharded zarr3 array of 64^3 chunks (bytes + zstd level 3).

Every measurement runs in a fresh process (so each library's peak memory is its own), the
libraries interleaved in a shuffled order within each round, `--repeat` rounds.  Reported per
library and workload: the median wall time, the spread (min-max), the median CPU time of the
process (all threads) and the median peak RSS of the process.  "tensorstore #2" is tensorstore
measured again as if it were another library: its ratio to tensorstore is the noise floor.
zarr-python 3 (and zarrs, its Rust codec pipeline, when installed) run from `.venv-zarr3`
(`./dev.sh install` makes it).  This is a benchmark, not a test: nothing asserts on time.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ZARR3_PYTHON = os.environ.get("TSPY_ZARR3_PYTHON", os.path.join(ROOT, ".venv-zarr3", "bin", "python"))

WORKLOADS = {
    "a": "write all (sharded)",
    "b": "read all (sharded)",
    "c": "unaligned overwrite",
    "d": "300 random 16^3 reads",
    "e": "read all (unsharded)",
}
SHARD, INNER, UNSHARDED_CHUNK = 256, 64, 64


def make_data(n: int) -> np.ndarray:
    """Smooth data with some noise: compressible, but not trivially."""
    rng = np.random.default_rng(0)
    data = np.empty((n, n, n), dtype=np.uint16)
    y, x = np.ogrid[:n, :n]
    for z in range(n):  # a slab at a time: peak memory is the array's, not int64 temporaries'
        data[z] = ((z * 7 + y * 3 + x) % 4096 + rng.integers(0, 16, size=(n, n), dtype=np.uint16)).astype(np.uint16)
    return data


def box(n: int) -> tuple:
    return (slice(n * 37 // 512, n * 301 // 512), slice(n * 50 // 512, n * 400 // 512), slice(n * 100 // 512, n * 333 // 512))


def points(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, n - 16, size=(300, 3))


# ---------------------------------------------------------------------------------------------
# Workers (one measurement per process).


def _bytes_zstd() -> list:
    return [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 3, "checksum": False}}]


def _ts_spec(path: str, n: int, sharded: bool) -> dict:
    if sharded:
        codecs = [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [INNER] * 3, "codecs": _bytes_zstd(),
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
            "index_location": "end"}}]
        grid = [min(SHARD, n)] * 3
    else:
        codecs = _bytes_zstd()
        grid = [UNSHARDED_CHUNK] * 3
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": path + "/"}, "metadata": {
        "shape": [n] * 3, "data_type": "uint16", "fill_value": 0,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}}, "codecs": codecs}}


def ts_worker(module: str, workload: str, path: str, n: int) -> None:
    ts = __import__(module)
    if workload in ("a",):
        data = make_data(n)
        store = ts.open(_ts_spec(path, n, True), create=True, delete_existing=True).result()
        return timed(lambda: store.write(data).result())
    store = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path + "/"}}).result()
    if workload in ("b", "e"):
        return timed(lambda: store.read().result())
    if workload == "c":
        region = box(n)
        patch = np.ones(tuple(s.stop - s.start for s in region), dtype=np.uint16)
        return timed(lambda: store[region].write(patch).result())
    pts = points(n)

    def reads():
        for p in pts:
            store[p[0] : p[0] + 16, p[1] : p[1] + 16, p[2] : p[2] + 16].read().result()

    return timed(reads)


def zarr_worker(pipeline: str, workload: str, path: str, n: int) -> None:
    import zarr
    import zarr.codecs as zc

    if pipeline == "zarrs":
        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    if workload == "a":
        data = make_data(n)
        array = zarr.create_array(
            store=path, shape=(n,) * 3, chunks=(INNER,) * 3, shards=(min(SHARD, n),) * 3, dtype="uint16",
            fill_value=0, serializer=zc.BytesCodec(endian="little"), compressors=[zc.ZstdCodec(level=3)],
            zarr_format=3, overwrite=True,
        )

        def write():
            array[...] = data

        return timed(write)
    array = zarr.open_array(path, mode="r+")
    if workload in ("b", "e"):
        return timed(lambda: array[...])
    if workload == "c":
        region = box(n)
        patch = np.ones(tuple(s.stop - s.start for s in region), dtype=np.uint16)

        def overwrite():
            array[region] = patch

        return timed(overwrite)
    pts = points(n)

    def reads():
        for p in pts:
            array[p[0] : p[0] + 16, p[1] : p[1] + 16, p[2] : p[2] + 16]

    return timed(reads)






# ---------------------------------------------------------------------------------------------
# The driver.

LIBS = {
    "tensorstore_py": (sys.executable, "ts", "tensorstore_py"),
    "tensorstore": (sys.executable, "ts", "tensorstore"),
    "tensorstore #2": (sys.executable, "ts", "tensorstore"),
    "zarr-python 3": (ZARR3_PYTHON, "zarr", "default"),
    "zarrs": (ZARR3_PYTHON, "zarr", "zarrs"),
}


def _have_zarrs() -> bool:
    if not os.path.exists(ZARR3_PYTHON):
        return False
    return subprocess.run([ZARR3_PYTHON, "-c", "import zarrs"], capture_output=True).returncode == 0


def run_one(lib: str, workload: str, path: str, n: int) -> dict:
    python, kind, arg = LIBS[lib]
    cmd = [python, os.path.abspath(__file__), "--worker", kind, arg, workload, path, str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(root: str, n: int) -> dict[str, str]:
    """The arrays the read workloads share (written once by tensorstore)."""
    import tensorstore

    data = make_data(n)
    paths = {}
    for name, sharded in (("sharded", True), ("unsharded", False)):
        path = os.path.join(root, name)
        tensorstore.open(_ts_spec(path, n, sharded), create=True, delete_existing=True).result().write(data).result()
        paths[name] = path
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="a,b,c,d,e")
    parser.add_argument("--worker", nargs=5, metavar=("KIND", "ARG", "WORKLOAD", "PATH", "N"))
    args = parser.parse_args(argv)
    if args.worker:
        kind, arg, workload, path, n = args.worker
        (ts_worker if kind == "ts" else zarr_worker)(arg, workload, path, int(n))
        return 0

    n = args.size
    libs = ["tensorstore_py", "tensorstore", "tensorstore #2"]
    if os.path.exists(ZARR3_PYTHON):
        libs.append("zarr-python 3")
        if _have_zarrs():
            libs.append("zarrs")
    workloads = args.only.split(",")
    root = tempfile.mkdtemp(prefix="tspy-bench3-")
    results: dict = {(lib, w): [] for lib in libs for w in workloads}
    try:
        shared = prepare(root, n)
        for round_ in range(args.repeat):
            for w in workloads:
                order = list(libs)
                random.Random(round_ * 31 + ord(w)).shuffle(order)
                for lib in order:
                    if w == "a":
                        path = os.path.join(root, "written")
                        shutil.rmtree(path, ignore_errors=True)
                    elif w == "c":
                        path = os.path.join(root, "overwritten")
                        shutil.rmtree(path, ignore_errors=True)
                        shutil.copytree(shared["sharded"], path)
                    else:
                        path = shared["unsharded" if w == "e" else "sharded"]
                    results[(lib, w)].append(run_one(lib, w, path, n))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    mib = n**3 * 2 / 2**20
    print(f"zarr3, uint16 {n}^3 ({mib:.0f} MiB), shards {min(SHARD, n)}^3 of {INNER}^3 sub-chunks, zstd 3; "
          f"{args.repeat} interleaved rounds, one process per measurement")
    print_table(results, libs, workloads, WORKLOADS, 24)
    return 0


if __name__ == "__main__":
    sys.exit(main())
