"""Typical user code, checked with `mypy --strict` by test_packaging.py (not run as a test)."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

import tensorstore_py as ts
from tensorstore_py import statistics


def create(path: str) -> ts.TensorStore:
    future: ts.Future[ts.TensorStore] = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": path}},
        create=True,
        delete_existing=True,
        dtype=ts.float32,
        shape=[100, 200],
        chunk_layout=ts.ChunkLayout(chunk_shape=[50, 50]),
    )
    return future.result()


def roundtrip(store: ts.TensorStore) -> npt.NDArray[np.float32]:
    data = np.ones((10, 20), dtype=np.float32)
    store[0:10, 0:20].write(data).result()
    view = store[ts.d[0].translate_to[5]][5:15, 0:20]
    block: npt.NDArray[np.float32] = np.asarray(view.read().result(), dtype=np.float32)
    return block


def describe(store: ts.TensorStore) -> str:
    domain: ts.IndexDomain = store.domain
    spec: ts.Spec = store.spec()
    layout: ts.ChunkLayout = store.chunk_layout
    return f"{domain} {spec.to_json()} {layout.read_chunk.shape} {store.dtype.name}"


def with_statistics(store: ts.TensorStore) -> int:
    with statistics.record() as rec:
        store.read().result()
    stats: statistics.IoStatistics = rec.statistics
    return stats.chunks_read + stats.bytes_read


def kvstore_keys(url: str) -> list[bytes]:
    kv: ts.KvStore = ts.KvStore.open(url).result()
    kv[b"a"] = b"1"
    keys: list[bytes] = kv.list().result()
    return keys


async def read_async(path: str) -> float:
    store = await ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}})
    arr = await store[0:2, 0:2].read()
    return float(np.asarray(arr).sum())


def transaction(store: ts.TensorStore) -> None:
    with ts.Transaction() as txn:
        store.with_transaction(txn)[0, 0] = 3.0


def metrics() -> int:
    return len(ts.experimental_collect_matching_metrics("/tensorstore/"))


if __name__ == "__main__":
    import sys

    where = sys.argv[1]
    s = create(where)
    print(roundtrip(s).shape, with_statistics(s) > 0, metrics() > 0)
    transaction(s)
    print(asyncio.run(read_async(where)), kvstore_keys("memory://"))
