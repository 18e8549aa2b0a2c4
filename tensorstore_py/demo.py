"""The demo (`./dev.sh demo`): a zarr array on local disk, written and read in regions.

    python -m tensorstore_py.demo [--path DIR] [--shape 512,512,128] [--keep]

Without --path the array goes to a temporary directory that is removed at the end (also on
failure or Ctrl-C); --keep leaves it.  The whole-array write and read show a progress bar on a
terminal (plain lines otherwise), fed by `tensorstore_py.statistics`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Any, Callable

import numpy as np

import tensorstore_py as ts
from tensorstore_py import statistics
from tensorstore_py.cli.progress import ProgressDisplay


def _with_progress(label: str, total: int, unit_bytes: int, done_of: Callable[[Any], float],
                   run: Callable[[], Any], unit: str = "chunks") -> tuple[Any, float]:
    """Runs `run()` with a progress display of `done_of(stats)` out of `total`; returns
    (result, seconds)."""
    display = ProgressDisplay(total, label, unit_bytes, done_of=done_of, unit=unit, line_interval=1.0)
    t0 = time.perf_counter()
    with statistics.record(progress=display, interval=display.report_interval()):
        result = run()
    return result, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tensorstore_py demo: zarr v2 on local disk")
    parser.add_argument("--path", default=None, help="directory for the array (kept; default: a temporary one)")
    parser.add_argument("--shape", default="512,512,128", help="array shape, comma separated")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    shape = [int(x) for x in args.shape.split(",")]
    temporary = None if args.path else tempfile.mkdtemp(prefix="tspy-demo-")
    path = args.path or os.path.join(temporary, "volume.zarr")  # type: ignore[arg-type]
    try:
        return _demo(path, shape)
    finally:
        if temporary is not None:
            if args.keep:
                print("Kept", temporary)
            else:
                shutil.rmtree(temporary, ignore_errors=True)


def _demo(path: str, shape: list[int]) -> int:
    chunk = [64] * len(shape)
    store = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": path}},
        create=True,
        delete_existing=True,
        dtype=ts.float32,
        shape=shape,
        chunk_layout=ts.ChunkLayout(chunk_shape=chunk),
    ).result()
    print("Created", store.url)
    print(store.spec())

    data = np.random.default_rng(0).random(shape, dtype=np.float32)
    nbytes = data.nbytes
    chunks = int(np.prod([-(-s // c) for s, c in zip(shape, chunk)]))
    chunk_bytes = int(np.prod(chunk)) * 4
    _, t_write = _with_progress("write", chunks, chunk_bytes, lambda s: s.kvstore_writes,
                                lambda: store.write(data).result())
    stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    back, t_read = _with_progress("read", stored, 1, lambda s: s.bytes_read, lambda: store.read().result(),
                                  unit="bytes")
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
