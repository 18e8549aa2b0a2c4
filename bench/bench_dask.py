"""A zarr v2 array summed with Dask on a 2-worker dask.distributed LocalCluster, three ways.

    .venv/bin/python bench/bench_dask.py [--gib 1.0] [--repeat 5] [--threads 1]

- tensorstore_py: ``to_dask(store).sum()`` (blocks: whole read chunks up to Dask's
  ``array.chunk-size``, one read per block; the store pickles to the workers by spec);
- zarr-python 2: ``da.from_zarr(path).sum()`` (blocks: the zarr chunks), and the same with
  tensorstore_py's blocks (``from_zarr(chunks=...)``);
- tensorstore (C++): ``da.from_array(wrapper, chunks=<tensorstore_py's blocks>)``, where the
  wrapper gives Dask a NumPy dtype (``da.from_array`` cannot take a tensorstore store as is) and
  reads ``store[index].read().result()``.

The array (float32, blosc lz4 with shuffle, 4 MiB chunks, values with some redundancy) is
written once by tensorstore.  Runs are interleaved, repeated, and reported as median, min-max
spread and CPU seconds (workers + client); the tensorstore entry runs twice per round so its
ratio to itself shows the noise floor.  Ratios are tensorstore_py / other (lower is better).
This is a benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time

import numpy as np


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class NumpyDtypeWrapper:
    """What a tensorstore user has to write for ``da.from_array``: a NumPy dtype."""

    def __init__(self, store):
        self.store = store
        self.dtype = np.dtype(store.dtype.numpy_dtype)
        self.shape = tuple(store.shape)
        self.ndim = len(self.shape)

    def __getitem__(self, index):
        return self.store[index].read().result()


def make_array(path: str, gib: float) -> tuple:
    import tensorstore

    rows = max(64, int(gib * 2**30 / (1024 * 256 * 4)) // 64 * 64)
    shape = (rows, 1024, 256)
    chunks = (64, 64, 256)  # 4 MiB
    store = tensorstore.open(
        {
            "driver": "zarr",
            "kvstore": {"driver": "file", "path": path},
            "metadata": {
                "shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
                "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
            },
        },
        create=True, delete_existing=True,
    ).result()
    rng = np.random.default_rng(0)
    for r in range(0, rows, 64):
        block = rng.integers(0, 512, size=(64, 1024, 256), dtype=np.int32).astype(np.float32) / 8
        store[r : r + 64].write(block).result()
    return shape, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--keep", default=None, help="directory holding the array (kept between runs)")
    args = parser.parse_args()

    import dask.array as da
    import distributed
    import tensorstore

    import tensorstore_py as ts
    from tensorstore_py.dask import to_dask

    root = args.keep or tempfile.mkdtemp(prefix="bench_dask_")
    path = os.path.join(root, f"a_{args.gib}.zarr")
    if not os.path.exists(os.path.join(path, ".zarray")):
        t0 = time.perf_counter()
        shape, chunks = make_array(path, args.gib)
        print(f"wrote {path} in {time.perf_counter() - t0:.1f} s")
    ours_store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}, read=True).result()
    theirs_store = tensorstore.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}, read=True).result()
    nbytes = int(np.prod(ours_store.shape)) * 4
    blocks = to_dask(ours_store).chunks
    print(f"array {tuple(ours_store.shape)} float32 ({nbytes / 2**30:.2f} GiB), zarr chunks "
          f"{tuple(ours_store.chunk_layout.read_chunk.shape)}, tensorstore_py blocks {tuple(max(c) for c in blocks)}")

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=args.threads, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)

    def graph(kind: str):
        if kind == "tensorstore_py":
            return to_dask(ours_store).sum(dtype=np.float64)
        if kind == "zarr-python":
            return da.from_zarr(path).sum(dtype=np.float64)
        if kind == "zarr-python (same blocks)":
            return da.from_zarr(path, chunks=blocks).sum(dtype=np.float64)
        return da.from_array(NumpyDtypeWrapper(theirs_store), chunks=blocks, lock=False).sum(dtype=np.float64)

    kinds = ["tensorstore_py", "zarr-python", "zarr-python (same blocks)", "tensorstore", "tensorstore (again)"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    cpus: dict[str, list[float]] = {k: [] for k in kinds}
    results: dict[str, float] = {}
    try:
        for k in kinds:  # warm-up: imports on the workers, page cache
            results[k] = float(graph(k.replace(" (again)", "")).compute())
        for round_ in range(args.repeat):
            order = kinds[round_ % len(kinds):] + kinds[: round_ % len(kinds)]
            for k in order:
                g = graph(k.replace(" (again)", ""))
                before = sum(client.run(_cpu_seconds).values()) + _cpu_seconds()
                t0 = time.perf_counter()
                value = float(g.compute())
                times[k].append(time.perf_counter() - t0)
                cpus[k].append(sum(client.run(_cpu_seconds).values()) + _cpu_seconds() - before)
                assert abs(value - results[k]) <= 1e-6 * abs(results[k]), (k, value, results[k])
    finally:
        client.close()
        cluster.close()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    assert len({round(v, 0) for v in results.values()}) == 1, results
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':28s} {'median s':>9s} {'min-max s':>13s} {'GiB/s':>6s} {'CPU s':>6s}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in kinds:
        print(f"{k:28s} {med[k]:9.2f} {min(times[k]):6.2f}-{max(times[k]):<6.2f} "
              f"{nbytes / 2**30 / med[k]:6.2f} {statistics.median(cpus[k]):6.1f}")
    faster = min(med["zarr-python"], med["tensorstore"])
    print(f"ratio tensorstore_py / zarr-python (from_zarr)  {med['tensorstore_py'] / med['zarr-python']:.2f}")
    print(f"ratio tensorstore_py / zarr-python (same blocks) {med['tensorstore_py'] / med['zarr-python (same blocks)']:.2f}")
    print(f"ratio tensorstore_py / tensorstore (wrapper)    {med['tensorstore_py'] / med['tensorstore']:.2f}")
    print(f"ratio tensorstore_py / faster of the two        {med['tensorstore_py'] / faster:.2f}")
    print(f"noise floor: tensorstore / tensorstore (again)  {med['tensorstore'] / med['tensorstore (again)']:.2f}")


if __name__ == "__main__":
    main()
