"""Many-key gcs kvstore throughput against a loopback GCS emulator: tensorstore_py vs tensorstore.

    .venv/bin/python bench/bench_gcs.py [--keys N] [--size BYTES] [--limits 1,8,32] [--repeat R]

Starts the emulator used by the tests (``tests/kvstore_gcs/gcs_emulator.py``: in-memory
gcp-storage-emulator, one thread per connection, storage behind one lock) in a child process,
so that its Python threads do not compete with the clients for this interpreter's GIL, and
points both libraries at it with ``TENSORSTORE_GCS_HTTP_URL``.  For each ``gcs_request_concurrency`` limit,
each library writes N keys (all futures issued at once), then reads them back, then lists them;
the time is the best of R repeats.  Ratio = tensorstore_py time / tensorstore time (lower is
better).  The emulator is a single Python process, so absolute numbers measure it as much as
the clients; the ratios and the scaling with the limit are the point.  Not a test: nothing
asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "..", "tests", "kvstore_gcs", "gcs_emulator.py")
BUCKET = "bench-bucket"


@contextlib.contextmanager
def emulator_process(bucket: str):
    """Runs the test emulator in a child process; yields its URL."""
    child = subprocess.Popen(
        [sys.executable, EMULATOR, bucket], stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(EMULATOR)
    )
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"emulator did not start: {url!r}")
        yield url
    finally:
        child.terminate()
        child.wait(10)


def run_library(module, limit: int, keys: list[str], value: bytes, repeat: int) -> dict[str, float]:
    """Best-of-`repeat` seconds for write-all, read-all and list, on a fresh prefix each time."""
    best = {"write": float("inf"), "read": float("inf"), "list": float("inf")}
    for _ in range(repeat):
        spec = {
            "driver": "gcs", "bucket": BUCKET, "path": f"b{uuid.uuid4().hex[:10]}/",
            "gcs_request_concurrency": {"limit": limit},
        }  # fmt: skip
        store = module.KvStore.open(spec).result()
        t0 = time.perf_counter()
        for f in [store.write(k, value) for k in keys]:
            f.result()
        t1 = time.perf_counter()
        results = [f.result() for f in [store.read(k) for k in keys]]
        t2 = time.perf_counter()
        listed = store.list().result()
        t3 = time.perf_counter()
        assert all(r.value == value for r in results) and len(listed) == len(keys)
        best["write"] = min(best["write"], t1 - t0)
        best["read"] = min(best["read"], t2 - t1)
        best["list"] = min(best["list"], t3 - t2)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=400)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--limits", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with emulator_process(BUCKET) as url:
        os.environ["TENSORSTORE_GCS_HTTP_URL"] = url
        import tensorstore as ref

        import tensorstore_py as ts
        import tensorstore_py.kvstore.gcs  # noqa: F401  (registers the driver)

        keys = [f"key{i:05d}" for i in range(args.keys)]
        value = os.urandom(args.size)
        print(f"{args.keys} keys x {args.size} B, emulator {url}, best of {args.repeat}")
        header = f"{'limit':>5} {'op':>6} {'tensorstore_py':>15} {'tensorstore':>12} {'ratio':>6} {'py ops/s':>9}"
        print(header)
        print("-" * len(header))
        for limit in (int(x) for x in args.limits.split(",")):
            mine = run_library(ts, limit, keys, value, args.repeat)
            theirs = run_library(ref, limit, keys, value, args.repeat)
            for op in ("write", "read", "list"):
                ratio = mine[op] / theirs[op]
                rate = f"{args.keys / mine[op]:9.0f}" if op != "list" else f"{'':>9}"
                print(f"{limit:>5} {op:>6} {mine[op]:14.3f}s {theirs[op]:11.3f}s {ratio:6.2f} {rate}")


if __name__ == "__main__":
    main()
