"""Benchmarks the Cython copy kernels against numpy doing the same work.

    .venv/bin/python bench/bench_copy.py [--quick]

Each line: best-of-N wall time for numpy and for tensorstore_py._ext.copy, and the ratio
(numpy time / ours; above 1 means ours is faster).  Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Callable

import numpy as np

from tensorstore_py._ext import compressed_segmentation as cseg
from tensorstore_py._ext import copy as kc


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up (page faults on fresh outputs)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def compare(f_numpy: Callable[[], object], f_ours: Callable[[], object],
            repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` times of both, measured alternately so that load from other
    processes hits both sides alike."""
    t_np, t_ours = float("inf"), float("inf")
    for _ in range(repeat):
        t_np = min(t_np, best_ms(f_numpy, 1))
        t_ours = min(t_ours, best_ms(f_ours, 1))
    return t_np, t_ours


def copy_cases(n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, dst, src) pairs with n x n-ish sizes."""
    f32 = rng.random((n, n), dtype=np.float32)
    cube = max(16, round(n ** (2 / 3)))
    c3 = rng.random((cube, cube, cube), dtype=np.float32)
    cases = [
        ("contiguous f32", f32),
        ("transposed u8", rng.integers(0, 255, (n, n), dtype=np.uint8).T),
        ("transposed i16", rng.integers(0, 999, (n, n), dtype=np.int16).T),
        ("transposed f32", f32.T),
        ("transposed f64", rng.random((n, n)).T),
        ("transposed c128", (rng.random((n // 2, n // 2)) + 1j).T),
        ("3-d permuted (2,0,1) f32", c3.transpose(2, 0, 1)),
        ("3-d reversed axes f32", c3.transpose(2, 1, 0)),
        ("strided [:, ::2] f32", rng.random((n, 2 * n), dtype=np.float32)[:, ::2]),
        ("strided [::2, ::3] f64", rng.random((2 * n, 3 * n // 2))[::2, ::3]),
        ("negative [::-1, ::-1] f32", f32[::-1, ::-1]),
        ("sub-box [1:-1, 3:-5] f32", f32[1:-1, 3:-5]),
        ("S3 strings transposed", rng.integers(65, 90, (n // 2, n // 2 * 3), dtype=np.uint8)
         .view("S3").T),
    ]
    return [(name, np.empty(src.shape, src.dtype), src) for name, src in cases]


def run(quick: bool) -> None:
    rng = np.random.default_rng(0)
    n = 1024 if quick else 4096
    repeat = 3 if quick else 7
    rows = []

    def record(name, t_np, t_ours):
        rows.append((name, t_np, t_ours))
        print(f"{name:34s} numpy {t_np:9.3f} ms   ours {t_ours:9.3f} ms   x{t_np / t_ours:5.2f}",
              flush=True)

    print(f"strided_copy (dst C-contiguous, n={n}):")
    for name, dst, src in copy_cases(n, rng):
        t_np, t_ours = compare(lambda: np.copyto(dst, src), lambda: kc.strided_copy(dst, src),
                               repeat)
        assert np.array_equal(dst.view(np.uint8), np.ascontiguousarray(src).view(np.uint8))
        record(name, t_np, t_ours)

    print("\nstrided_copy into a transposed destination:")
    src = rng.random((n, n), dtype=np.float32)
    dst = np.empty((n, n), np.float32).T
    record("C -> F order f32", *compare(lambda: np.copyto(dst, src),
                                         lambda: kc.strided_copy(dst, src), repeat))

    print("\nstrided_fill:")
    for dtype in (np.uint8, np.float32, np.complex128):
        dst = np.empty((n, n), dtype)
        value = np.array(3, dtype)
        record(f"fill {np.dtype(dtype).name}",
               *compare(lambda: dst.fill(3), lambda: kc.strided_fill(dst, value), repeat))
    dst = np.empty((n, 2 * n), np.float32)[:, ::2]
    three = np.array(3, np.float32)
    record("fill strided f32", *compare(lambda: dst.__setitem__(Ellipsis, 3),
                                        lambda: kc.strided_fill(dst, three), repeat))

    print("\nstrided_copy_byteswap (numpy: casting from the big-endian dtype):")
    for dtype in (np.int16, np.float32, np.float64, np.complex64):
        big = rng.random((n, n)).astype(np.dtype(dtype).newbyteorder(">"))
        native = big.view(np.dtype(dtype))
        dst = np.empty((n, n), dtype)
        record(f"byteswap {np.dtype(dtype).name}",
               *compare(lambda: np.copyto(dst, big),
                        lambda: kc.strided_copy_byteswap(dst, native), repeat))
        assert np.array_equal(dst, big)
    big_t = rng.random((n, n)).astype(">f4").T
    dst = np.empty((n, n), np.float32)
    big_t_native = big_t.view(np.float32)
    record("byteswap f32 transposed",
           *compare(lambda: np.copyto(dst, big_t),
                    lambda: kc.strided_copy_byteswap(dst, big_t_native), repeat))

    print("\ngather / scatter (numpy: take / put):")
    src = rng.random((n, n), dtype=np.float32)
    offsets = rng.integers(0, src.size, n * n // 4)
    out = np.empty(offsets.size, np.float32)
    flat = src.reshape(-1)
    record("gather f32 random", *compare(lambda: np.take(flat, offsets, out=out),
                                         lambda: kc.gather(out, src, offsets), repeat))
    dst = np.empty((n, n), np.float32)
    record("scatter f32 random", *compare(lambda: np.put(dst, offsets, out),
                                          lambda: kc.scatter(dst, offsets, out), repeat))

    print("\nsmall copies (per-call overhead, 8x8 f32 transposed):")
    small = rng.random((8, 8), dtype=np.float32).T
    sdst = np.empty((8, 8), np.float32)

    def many_np():
        for _ in range(1000):
            np.copyto(sdst, small)

    def many_ours():
        for _ in range(1000):
            kc.strided_copy(sdst, small)

    record("1000 x 8x8 transposed", *compare(many_np, many_ours, repeat))

    print("\nthreads (GIL released): 4 transposed f32 copies, 1 thread vs 2 threads:")
    pairs = [(np.empty((n, n), np.float32), rng.random((n, n), dtype=np.float32).T)
             for _ in range(4)]

    def serial():
        for d, s in pairs:
            kc.strided_copy(d, s)

    def parallel():
        def work(chunk):
            for d, s in chunk:
                kc.strided_copy(d, s)
        ts = [threading.Thread(target=work, args=(pairs[i::2],)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    t1, t2 = best_ms(serial, repeat), best_ms(parallel, repeat)
    print(f"{'1 thread':34s} {t1:9.3f} ms\n{'2 threads':34s} {t2:9.3f} ms   speed-up x{t1 / t2:.2f}")

    print("\ncompressed_segmentation, one 64^3 uint64 chunk, 8^3 blocks (no numpy equivalent):")
    coarse = rng.integers(0, 2**40, (1, 9, 9, 9), dtype=np.uint64)
    smooth = np.ascontiguousarray(coarse.repeat(8, 1).repeat(8, 2).repeat(8, 3)[:, :64, :64, :64])
    smooth += (rng.random(smooth.shape) < 0.05).astype(np.uint64)
    noisy = rng.integers(0, 16, (1, 64, 64, 64)).astype(np.uint64)
    for name, vol in (("piecewise-constant labels", smooth), ("16 random labels", noisy)):
        blob = cseg.encode(vol, (8, 8, 8))
        t_enc = best_ms(lambda: cseg.encode(vol, (8, 8, 8)), repeat)
        t_dec = best_ms(lambda: cseg.decode(blob, vol.shape, (8, 8, 8), np.uint64), repeat)
        print(f"{name:34s} encode {t_enc:7.3f} ms   decode {t_dec:7.3f} ms   "
              f"{len(blob)} bytes ({vol.nbytes / len(blob):.0f}:1)")

    worst = min(rows, key=lambda r: r[1] / r[2])
    print(f"\nslowest relative case: {worst[0]} (x{worst[1] / worst[2]:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024 x 1024 instead of 4096")
    run(parser.parse_args().quick)
