"""CRC-32C throughput: google-crc32c (holds the GIL) against the `_ext.crc32c` kernel (GIL
released; SSE4.2 instruction with three interleaved streams, or slicing-by-8 tables).

Usage: ``.venv/bin/python bench/bench_crc32c.py [--threads 2] [--repeat 5]``

For each buffer size it prints GB/s on one thread, then the total GB/s when `threads` threads
each checksum their own buffers at once (what a sharded read does when it verifies many inner
chunks or shard indexes in parallel).  Best of `repeat`; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import google_crc32c
import numpy as np

from tensorstore_py._ext import crc32c as kernel

SIZES = [64, 4 << 10, 64 << 10, 1 << 20, 16 << 20]


def _google(data: Any) -> int:
    # What codecs/crc32c.py did: google-crc32c takes bytes or numpy arrays.
    return google_crc32c.value(np.frombuffer(data, dtype=np.uint8))


IMPLEMENTATIONS: dict[str, Callable[[Any], int]] = {
    "google-crc32c": _google,
    "kernel (hw)" if kernel.HARDWARE else "kernel": kernel.value,
    "kernel (tables)": lambda d: kernel.value(d, hardware=False),
}


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    names = list(IMPLEMENTATIONS)
    print(f"{'size':>9} {'threads':>7} " + " ".join(f"{n:>16}" for n in names) + "   (GB/s)")
    pool = ThreadPoolExecutor(args.threads)
    for size in SIZES:
        # Enough work per timing for the clock: at least 64 MiB per thread.
        count = max(1, (64 << 20) // size)
        buffers = [os.urandom(size) for _ in range(args.threads)]
        for threads in (1, args.threads):
            row = []
            for name in names:
                fn = IMPLEMENTATIONS[name]

                def work(buf: bytes = buffers[0], fn: Callable[[Any], int] = fn) -> None:
                    for _ in range(count):
                        fn(buf)

                if threads == 1:
                    t = best(work, args.repeat)
                else:
                    t = best(lambda: list(pool.map(lambda b: work(b), buffers[:threads])),
                             args.repeat)
                row.append(threads * count * size / t / 1e9)
            print(f"{size:>9} {threads:>7} " + " ".join(f"{v:>16.2f}" for v in row))
    pool.shutdown()


if __name__ == "__main__":
    main()
