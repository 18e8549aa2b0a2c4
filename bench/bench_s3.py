"""Many-chunk s3 throughput against moto's S3 server on loopback: tensorstore_py vs tensorstore.

    .venv/bin/python bench/bench_s3.py [--keys N] [--size BYTES] [--limits 1,8,32] [--repeat R]

moto's threaded server runs in a child process (so its Python threads do not compete with the
clients for this interpreter's GIL); both libraries reach it through the ``endpoint`` member
with the same credentials.  For each ``s3_request_concurrency`` limit and each repeat, the two
libraries run back to back (interleaved, first one alternating) on fresh prefixes:

- kv write / kv read: N keys of SIZE bytes through the kvstore, all futures issued at once;
- zarr write / zarr read: a uint8 zarr array of N chunks of SIZE bytes, written and read whole.

Printed per operation: the median seconds of each library, the spread (min-max as a percent of
the median), the ratio of medians (tensorstore_py / tensorstore; lower is better) and
tensorstore_py's chunks per second.  The noise floor line is the largest spread of the
reference across all cells: ratios within it of 1.0 are ties.  The server is a single Python
process and dominates absolute numbers; the ratios and the scaling with the limit are the
point.  Not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid

BUCKET = "bench-bucket"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def serve() -> None:
    """Child process: moto's S3 with one bucket; prints its URL, runs until stdin closes."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    import boto3

    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    print(url, flush=True)
    sys.stdin.read()
    server.stop()


@contextlib.contextmanager
def server_process():
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"moto did not start: {url!r}")
        yield url
    finally:
        child.stdin.close()
        child.wait(20)


def kv_spec(url: str, limit: int) -> dict:
    return {
        "driver": "s3", "bucket": BUCKET, "endpoint": url, "aws_region": "us-east-1",
        "path": f"b{uuid.uuid4().hex[:10]}/", "s3_request_concurrency": {"limit": limit},
    }  # fmt: skip


def run_once(module, url: str, limit: int, n: int, size: int) -> dict[str, float]:
    import numpy as np

    out = {}
    store = module.KvStore.open(kv_spec(url, limit)).result()
    value = os.urandom(size)
    keys = [f"key{i:05d}" for i in range(n)]
    t0 = time.perf_counter()
    for f in [store.write(k, value) for k in keys]:
        f.result()
    t1 = time.perf_counter()
    results = [f.result() for f in [store.read(k) for k in keys]]
    t2 = time.perf_counter()
    assert all(r.value == value for r in results)
    out["kv write"], out["kv read"] = t1 - t0, t2 - t1

    side = int(size**0.5)
    data = np.random.default_rng(0).integers(0, 255, size=(side * n, side), dtype=np.uint8)
    spec = {"driver": "zarr", "kvstore": kv_spec(url, limit)}
    array = module.open(spec, create=True, dtype=module.uint8, shape=data.shape,
                        chunk_layout=module.ChunkLayout(chunk_shape=[side, side])).result()  # fmt: skip
    t0 = time.perf_counter()
    array.write(data).result()
    t1 = time.perf_counter()
    got = module.open(spec).result().read().result()
    t2 = time.perf_counter()
    assert np.array_equal(got, data)
    out["zarr write"], out["zarr read"] = t1 - t0, t2 - t1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--limits", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    os.environ.update(AWS_ENV)
    import tensorstore as ref

    import tensorstore_py as ts

    ops = ("kv write", "kv read", "zarr write", "zarr read")
    with server_process() as url:
        print(f"{args.keys} chunks x {args.size} B, moto {url}, median of {args.repeat} interleaved repeats")
        header = f"{'limit':>5} {'op':>10} {'tensorstore_py':>14} {'spread':>7} {'tensorstore':>11} {'spread':>7} {'ratio':>6} {'py chunks/s':>11}"
        print(header)
        print("-" * len(header))
        noise = 0.0
        for limit in (int(x) for x in args.limits.split(",")):
            times: dict[str, dict[str, list[float]]] = {"mine": {op: [] for op in ops}, "ref": {op: [] for op in ops}}
            for r in range(args.repeat):
                order = [("mine", ts), ("ref", ref)] if r % 2 == 0 else [("ref", ref), ("mine", ts)]
                for name, module in order:
                    for op, t in run_once(module, url, limit, args.keys, args.size).items():
                        times[name][op].append(t)
            for op in ops:
                mine, theirs = times["mine"][op], times["ref"][op]
                m, t = statistics.median(mine), statistics.median(theirs)
                spread_m = (max(mine) - min(mine)) / m * 100
                spread_t = (max(theirs) - min(theirs)) / t * 100
                noise = max(noise, spread_t)
                print(
                    f"{limit:>5} {op:>10} {m:13.3f}s {spread_m:6.0f}% {t:10.3f}s {spread_t:6.0f}% {m / t:6.2f} "
                    f"{args.keys / m:11.0f}"
                )
        print(f"noise floor (largest spread of the reference): {noise:.0f}%")


if __name__ == "__main__":
    main()
