"""neuroglancer_precomputed reads timed side by side: tensorstore_py against tensorstore (C++).

    .venv/bin/python bench/bench_precomputed.py [--scale small|medium] [--repeat N]

Two volumes are written once by the reference on a file kvstore, then read (whole volume and
a sub-box) by each library: an unsharded raw uint16 image and a sharded (identity hash, gzip)
compressed_segmentation uint64 segmentation.  Times are the best of N repeats; the ratio is
tensorstore_py time / tensorstore time (lower is better).  Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tensorstore as ref  # noqa: E402

import tensorstore_py as ts  # noqa: E402
import tensorstore_py.driver.neuroglancer_precomputed  # noqa: E402,F401

SCALES = {"small": (256, 256, 64), "medium": (512, 512, 128)}


def _segmentation(shape) -> np.ndarray:
    """Blocky labels, like a real segmentation (few distinct values per block)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(1, 2**40, size=tuple(-(-s // 16) for s in shape), dtype=np.uint64)
    labels = coarse.repeat(16, 0).repeat(16, 1).repeat(16, 2)[: shape[0], : shape[1], : shape[2]]
    return np.ascontiguousarray(labels)[..., None]


def _image(shape) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 4096, size=tuple(shape) + (1,), dtype=np.uint16)


def _volumes(root: str, shape):
    raw = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": os.path.join(root, "raw") + "/"},
        "multiscale_metadata": {"type": "image", "data_type": "uint16", "num_channels": 1},
        "scale_metadata": {"size": list(shape), "resolution": [8, 8, 8], "chunk_size": [64, 64, 64], "encoding": "raw"},
    }
    seg = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": os.path.join(root, "seg") + "/"},
        "multiscale_metadata": {"type": "segmentation", "data_type": "uint64", "num_channels": 1},
        "scale_metadata": {
            "size": list(shape), "resolution": [8, 8, 8], "chunk_size": [64, 64, 64],
            "encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 8],
            "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 3, "hash": "identity",
                         "minishard_bits": 3, "shard_bits": 6, "minishard_index_encoding": "gzip",
                         "data_encoding": "gzip"},
        },
    }  # fmt: skip
    ref.open(raw, create=True).result()[...] = _image(shape)
    ref.open(seg, create=True).result()[...] = _segmentation(shape)
    return {"raw uint16": raw["kvstore"]["path"], "sharded cseg uint64": seg["kvstore"]["path"]}


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shape = SCALES[args.scale]
    root = tempfile.mkdtemp(prefix="bench_precomputed_")
    try:
        volumes = _volumes(root, shape)
        print(f"volume {shape}, chunks 64^3, best of {args.repeat}")
        print(f"{'workload':42} {'tensorstore_py':>14} {'tensorstore':>12} {'ratio':>7}")
        for name, path in volumes.items():
            spec = {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path}}
            for what, index in (("whole", np.s_[...]), ("sub-box", np.s_[30:150, 40:170, 10:50])):
                times = []
                for lib in (ts, ref):
                    # A fresh open per repeat: no cache is shared between repeats.
                    times.append(_best(lambda lib=lib: lib.open(spec).result()[index].read().result(), args.repeat))
                expected = ref.open(spec).result()[index].read().result()
                np.testing.assert_array_equal(ts.open(spec).result()[index].read().result(), expected)
                print(f"{name + ' read ' + what:42} {times[0]:13.3f}s {times[1]:11.3f}s {times[0] / times[1]:7.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
