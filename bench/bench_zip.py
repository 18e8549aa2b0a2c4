"""Reading from zip archives: tensorstore_py against tensorstore, side by side in one run.

Usage: ``.venv/bin/python bench/bench_zip.py [--repeat 5] [--dir /tmp/bench_zip]``

Workloads, each on a fresh open (so the central directory is read every time) and on a warm
store:
  (a) a 1024x1024 uint16 zarr array with 64x64 chunks (256 chunks, zlib), stored in a deflated
      zip archive: open and read it all;
  (b) the same archive stored (no compression): read it all;
  (c) 2000 members of 1 KiB in one archive: list, then read 500 of them one by one;
  (d) 500 writes of 1 KiB members issued at once into a new archive (each write rewrites the
      archive, as in TensorStore; writes issued while a rewrite is in flight share the next).
A row for the same array in a plain directory separates the chunk engine's cost from the zip
layer's.
Prints seconds (best of `repeat`) and the ratio ours / tensorstore (< 1: we are faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import zipfile

import numpy as np
import tensorstore as ref

import tensorstore_py as ts


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_array_archive(root: str, compression: int) -> str:
    src = os.path.join(root, "src")
    shutil.rmtree(src, ignore_errors=True)
    data = (np.arange(1024 * 1024, dtype=np.uint64) * 2654435761 % 4096).astype(np.uint16).reshape(1024, 1024)
    store = ref.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": src + "/"}, "metadata": {"compressor": {"id": "zlib"}}},
        create=True, dtype=ref.uint16, shape=data.shape, chunk_layout=ref.ChunkLayout(chunk_shape=[64, 64]),
    ).result()  # fmt: skip
    store.write(data).result()
    archive = os.path.join(root, f"array-{compression}.zip")
    with zipfile.ZipFile(archive, "w", compression=compression) as z:
        for name in sorted(os.listdir(src)):
            z.write(os.path.join(src, name), "arr/" + name)
    return archive


def make_member_archive(root: str) -> str:
    archive = os.path.join(root, "members.zip")
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i in range(2000):
            z.writestr(f"m/{i:05d}", rng.integers(0, 16, 1024, dtype=np.uint8).tobytes())
    return archive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/bench_zip")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rows = []
    for label, compression in (("(a) array, deflated archive", zipfile.ZIP_DEFLATED), ("(b) array, stored archive", zipfile.ZIP_STORED)):
        url = f"file://{make_array_archive(args.dir, compression)}|zip:arr/|zarr2:"
        expected = ref.open(url).result().read().result()
        for module in (ts, ref):
            np.testing.assert_array_equal(module.open(url).result().read().result(), expected)
        cold = [best(lambda m=m: m.open(url).result().read().result(), args.repeat) for m in (ts, ref)]
        warm_stores = [m.open(url).result() for m in (ts, ref)]
        warm = [best(lambda s=s: s.read().result(), args.repeat) for s in warm_stores]
        rows.append((label + ", open+read", *cold))
        rows.append((label + ", read (open store)", *warm))
    # The same array outside any archive: what the chunk engine costs without the zip layer.
    plain = f"file://{args.dir}/src/|zarr2:"
    plain_stores = [m.open(plain).result() for m in (ts, ref)]
    rows.append(("    same array, plain directory (open store)", *(best(lambda s=s: s.read().result(), args.repeat) for s in plain_stores)))
    members_url = f"file://{make_member_archive(args.dir)}|zip:m/"
    picks = [f"{i:05d}" for i in range(0, 2000, 4)]

    def members(module) -> None:
        kv = module.KvStore.open(members_url).result()
        assert len(kv.list().result()) == 2000
        for key in picks:
            kv.read(key).result()

    rows.append(("(c) list + 500 member reads", *(best(lambda m=m: members(m), args.repeat) for m in (ts, ref))))

    def writes(module) -> None:
        path = os.path.join(args.dir, f"written-{module.__name__}.zip")
        if os.path.exists(path):
            os.remove(path)
        kv = module.KvStore.open({"driver": "zip", "base": {"driver": "file", "path": path}}).result()
        futures = [kv.write(f"w/{i:04d}", bytes([i % 256]) * 1024) for i in range(500)]
        for f in futures:
            f.result()

    rows.append(("(d) 500 concurrent member writes", *(best(lambda m=m: writes(m), args.repeat) for m in (ts, ref))))
    print(f"{'workload':45s} {'ours s':>9s} {'tensorstore s':>14s} {'ratio':>7s}")
    for label, ours, theirs in rows:
        print(f"{label:45s} {ours:9.4f} {theirs:14.4f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
