"""Encode/decode throughput of tensorstore_py's chunk codecs against numcodecs.

Usage: ``.venv/bin/python bench/bench_codecs.py [--mib 1] [--repeat 5] [--threads 2]``

For each zarr compressor it times, on one realistic chunk (smooth int32 data with noise):
encode, decode to new bytes, and decode into a preallocated buffer, for both libraries, and
prints MB/s (of uncompressed data) and the ratio ours / numcodecs (> 1 means we are faster).
A final section decodes many chunks on a thread pool, which shows whether the GIL is released.
"""

from __future__ import annotations

import argparse
import lzma
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numcodecs
import numpy as np

from tensorstore_py import codecs

CASES: list[tuple[dict, Callable[[], Any]]] = [
    ({"id": "blosc"}, lambda: numcodecs.Blosc("lz4", 5, -1, 0)),
    ({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 1},
     lambda: numcodecs.Blosc("zstd", 3, 1, 0)),
    ({"id": "blosc", "cname": "zlib", "clevel": 5, "shuffle": 2},
     lambda: numcodecs.Blosc("zlib", 5, 2, 0)),
    ({"id": "zlib", "level": 1}, lambda: numcodecs.Zlib(1)),
    ({"id": "zlib", "level": 6}, lambda: numcodecs.Zlib(6)),
    ({"id": "gzip", "level": 1}, lambda: numcodecs.GZip(1)),
    ({"id": "bz2", "level": 1}, lambda: numcodecs.BZ2(1)),
    ({"id": "zstd", "level": 1}, lambda: numcodecs.Zstd(1)),
    ({"id": "zstd", "level": 9}, lambda: numcodecs.Zstd(9)),
    # n5-only codec: JSON with "type" instead of "id".
    ({"type": "xz", "preset": 1}, lambda: numcodecs.LZMA(format=lzma.FORMAT_XZ, preset=1)),
]


def make_chunk(mib: float) -> np.ndarray:
    n = int(mib * (1 << 20)) // 4
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.integers(-3, 4, n)).astype(np.int32)
    return smooth + rng.integers(0, 8, n, dtype=np.int32)


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (allocations, per-thread contexts)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def label(j: dict) -> str:
    kind = j.get("id") or j["type"]
    params = ",".join(f"{k}={v}" for k, v in j.items() if k not in ("id", "type"))
    return f"{kind}({params})" if params else kind


def parse(j: dict) -> codecs.Codec:
    return codecs.zarr_compressor_from_json(j) if "id" in j else codecs.n5_compression_from_json(j)


def single_thread(chunk: np.ndarray, repeat: int) -> None:
    mb = chunk.nbytes / 1e6
    print(f"single thread, chunk of {chunk.nbytes / (1 << 20):.2f} MiB int32, best of {repeat}")
    print(f"{'codec':38s} {'op':12s} {'ours MB/s':>10s} {'numcodecs':>10s} {'ratio':>7s}")
    for j, make_nc in CASES:
        ours, nc = parse(j), make_nc()
        enc_ours, enc_nc = ours.encode(chunk, 4), nc.encode(chunk)
        out_ours, out_nc = np.empty_like(chunk), np.empty_like(chunk)
        ops = [
            ("encode", lambda: ours.encode(chunk, 4), lambda: nc.encode(chunk)),
            ("decode", lambda: ours.decode(enc_ours, expected_size=chunk.nbytes),
             lambda: nc.decode(enc_nc)),
            ("decode->out", lambda: ours.decode(enc_ours, out=out_ours),
             lambda: nc.decode(enc_nc, out=out_nc)),
        ]
        for op, f_ours, f_nc in ops:
            t_ours, t_nc = best_time(f_ours, repeat), best_time(f_nc, repeat)
            print(f"{label(j):38s} {op:12s} {mb / t_ours:10.0f} {mb / t_nc:10.0f} "
                  f"{t_nc / t_ours:7.2f}")
        ratio_ours = chunk.nbytes / len(enc_ours)
        ratio_nc = chunk.nbytes / len(enc_nc)
        print(f"{'':38s} {'comp. ratio':12s} {ratio_ours:10.2f} {ratio_nc:10.2f}")


def threaded(chunk: np.ndarray, threads: int, count: int) -> None:
    mb = chunk.nbytes * count / 1e6
    print(f"\ndecode of {count} chunks on {threads} threads vs 1 thread (MB/s; scaling > 1 means "
          f"the GIL is released)")
    print(f"{'codec':38s} {'lib':10s} {'1 thread':>10s} {f'{threads} threads':>10s} {'scaling':>8s}")
    for j, make_nc in CASES:
        ours, nc = parse(j), make_nc()
        enc_ours, enc_nc = ours.encode(chunk, 4), nc.encode(chunk)
        outs = [np.empty_like(chunk) for _ in range(count)]
        for lib, fn in (
            ("ours", lambda i: ours.decode(enc_ours, out=outs[i])),
            ("numcodecs", lambda i: nc.decode(enc_nc, out=outs[i])),
        ):
            t1 = best_time(lambda: [fn(i) for i in range(count)], 2)
            with ThreadPoolExecutor(threads) as pool:
                tn = best_time(lambda: list(pool.map(fn, range(count))), 2)
            print(f"{label(j):38s} {lib:10s} {mb / t1:10.0f} {mb / tn:10.0f} {t1 / tn:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=1.0, help="chunk size in MiB")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=16, help="chunks in the threaded test")
    args = parser.parse_args()
    chunk = make_chunk(args.mib)
    single_thread(chunk, args.repeat)
    threaded(chunk, args.threads, args.chunks)


if __name__ == "__main__":
    main()
