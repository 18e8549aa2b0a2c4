"""The demo (`./dev.sh demo`): a zarr array on local disk, written and read in regions.

    python -m tensorstore_py.demo [--path DIR] [--shape 512,512,128]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import tensorstore_py as ts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tensorstore_py demo: zarr v2 on local disk")
    parser.add_argument("--path", default=None, help="directory for the array (default: a temporary one)")
    parser.add_argument("--shape", default="512,512,128", help="array shape, comma separated")
    args = parser.parse_args(argv)
    shape = [int(x) for x in args.shape.split(",")]
    path = args.path or os.path.join(tempfile.mkdtemp(prefix="tspy-demo-"), "volume.zarr")

    store = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": path}},
        create=True,
        delete_existing=True,
        dtype=ts.float32,
        shape=shape,
        chunk_layout=ts.ChunkLayout(chunk_shape=[64] * len(shape)),
    ).result()
    print("Created", store.url)
    print(store.spec())

    data = np.random.default_rng(0).random(shape, dtype=np.float32)
    nbytes = data.nbytes
    t0 = time.perf_counter()
    store.write(data).result()
    t_write = time.perf_counter() - t0

    t0 = time.perf_counter()
    back = store.read().result()
    t_read = time.perf_counter() - t0
    assert np.array_equal(back, data), "read back differs from what was written"

    # A region that straddles chunk boundaries, written and read through strided views.
    region = store[10:100, 20:200:3, 5:60]
    region.write(np.full(region.shape, -1, dtype=np.float32)).result()
    expect = data.copy()
    expect[10:100, 20:200:3, 5:60] = -1
    assert np.array_equal(store.read().result(), expect), "region write went astray"
    sample = store[10:12, 20:26:3, 5].read().result()

    reopened = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}, read=True).result()
    print("Reopened:", reopened.domain, reopened.dtype)
    print("Sample of the written region:\n", sample)
    mib = nbytes / 2**20
    print(f"Whole-array write: {mib:.0f} MiB in {t_write:.3f} s ({mib / t_write:.0f} MiB/s)")
    print(f"Whole-array read:  {mib:.0f} MiB in {t_read:.3f} s ({mib / t_read:.0f} MiB/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
