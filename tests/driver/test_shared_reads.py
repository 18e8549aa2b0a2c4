"""Chunk reads of local stores: small reads run on the calling thread, except on an event loop,
where reads are queued and reads of the same chunk queued together share one read and decode
(`driver/shared_reads.py`).  Checked against numpy and tensorstore."""

from __future__ import annotations

import asyncio
import collections
import threading

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts


def _zarr(lib, path, data=None, chunks=(16, 16)):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}
    if data is None:
        return lib.open(spec).result()
    spec["metadata"] = {"shape": list(data.shape), "chunks": list(chunks), "dtype": "<i4",
                        "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}
    store = lib.open(spec, create=True, delete_existing=True).result()
    store.write(data).result()
    return store


def _count_chunk_reads(store):
    """Counts the chunk reads reaching the store's file kvstore, per key."""
    engine = store._driver.current().result().engine
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    kv = engine.kv
    real = kv.read_now

    class Counted:
        def __getattr__(self, name):
            return getattr(kv, name)

        def read_now(self, key, options):
            with lock:
                counts[key] += 1
            return real(key, options)

    engine.kv = Counted()
    return counts


def test_gathered_reads_of_one_chunk_share_its_read(tmp_path):
    data = np.arange(64 * 64, dtype=np.int32).reshape(64, 64)
    ref_store = _zarr(ref, tmp_path / "a", data)
    store = _zarr(ts, tmp_path / "a")
    counts = _count_chunk_reads(store)
    boxes = [np.s_[i:i + 2, j:j + 2] for i in range(0, 16, 2) for j in range(0, 16, 4)]
    boxes += [np.s_[20:24, 40:44], np.s_[50:54, 3:9]]

    async def main():
        return await asyncio.gather(*(store[b].read() for b in boxes))

    got = asyncio.run(main())
    for b, g in zip(boxes, got):
        np.testing.assert_array_equal(g, data[b])
        np.testing.assert_array_equal(g, ref_store[b].read().result())
    # 32 reads of chunk 0.0 and one each of two others.  A chunk whose read has started is
    # not joined, so 0.0 may be read more than once, but far less than once per reader.
    assert len(counts) == 3 and all(n >= 1 for n in counts.values()), counts
    assert max(counts.values()) < 32, counts


def test_a_failed_chunk_fails_every_reader_sharing_it(tmp_path):
    data = np.arange(32 * 32, dtype=np.int32).reshape(32, 32)
    _zarr(ts, tmp_path / "a", data)
    with open(tmp_path / "a" / "0.1", "wb") as f:
        f.write(b"garbage")
    store = _zarr(ts, tmp_path / "a")

    async def main():
        reads = [store[0:2, 16:18].read(), store[4:6, 20:22].read(), store[0:2, 0:2].read()]
        return await asyncio.gather(*reads, return_exceptions=True)

    bad1, bad2, good = asyncio.run(main())
    for bad in (bad1, bad2):
        assert isinstance(bad, ValueError) and "0.1" in str(bad)
    np.testing.assert_array_equal(good, data[0:2, 0:2])


def test_reads_on_a_loop_see_writes_made_before_them(tmp_path):
    data = np.zeros((32, 32), dtype=np.int32)
    store = _zarr(ts, tmp_path / "a", data)

    async def main():
        seen = []
        for value in range(1, 6):
            await store[0:16, 0:16].write(np.full((16, 16), value, np.int32))
            first, second = await asyncio.gather(store[0:2, 0:2].read(), store[3:5, 3:5].read())
            seen.append((int(first[0, 0]), int(second[1, 1])))
        return seen

    assert asyncio.run(main()) == [(v, v) for v in range(1, 6)]


def test_small_reads_off_a_loop_complete_on_the_calling_thread(tmp_path):
    data = np.arange(48 * 48, dtype=np.int32).reshape(48, 48)
    store = _zarr(ts, tmp_path / "a", data)
    for box in (np.s_[1:3, 1:3], np.s_[10:20, 10:20], np.s_[::7, 3]):  # one, four and three chunks
        read = store[box].read()
        assert read.done()
        np.testing.assert_array_equal(read.result(), data[box])
    # Nine chunks: queued on the pool, and the same values.
    np.testing.assert_array_equal(store[0:40, 0:40].read().result(), data[0:40, 0:40])


@pytest.mark.parametrize("threads", [4, 16])
def test_reads_from_many_threads_joining_each_other(tmp_path, threads):
    data = np.arange(64 * 64, dtype=np.int32).reshape(64, 64)
    store = _zarr(ts, tmp_path / "a", data)
    errors = []

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(30):
                i, j = rng.integers(0, 40, size=2)
                box = np.s_[i:i + 24, j:j + 24]  # several chunks: the shared pool path
                np.testing.assert_array_equal(store[box].read().result(timeout=30), data[box])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=reader, args=(s,)) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
