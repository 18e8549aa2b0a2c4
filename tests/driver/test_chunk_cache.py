"""The chunk cache: `cache_pool.total_bytes_limit` and `recheck_cached_data` as TensorStore has them."""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore_py as ts
from tensorstore_py.driver.chunk_cache import ChunkCache

ref = pytest.importorskip("tensorstore")

CACHED = {"cache_pool": {"total_bytes_limit": 10_000_000}}


def _spec(path: str) -> dict:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}


def _create(lib, path: str) -> None:
    store = lib.open(_spec(path), create=True, dtype=lib.int32, shape=[8, 8],
                     chunk_layout=lib.ChunkLayout(chunk_shape=[4, 4])).result()
    store.write(np.arange(64, dtype=np.int32).reshape(8, 8)).result()


class _Counter:
    """Counts the kvstore reads and chunk decodes of one opened store."""

    def __init__(self, store):
        self.reads = 0
        self.decodes = 0
        kv, fmt = store._driver.engine.kv, store._driver.format
        read, decode, decode_into = kv.read, fmt.decode_chunk, fmt.decode_chunk_into

        def counting_read(key, options):
            self.reads += 1
            return read(key, options)

        def counting_decode(data, cell=()):
            self.decodes += 1
            return decode(data, cell)

        def counting_decode_into(data, cell, out):
            decoded = decode_into(data, cell, out)
            self.decodes += decoded
            return decoded

        kv.read = counting_read
        if kv.read_now is not None:  # the engine's one-task path for local stores
            read_now = kv.read_now

            def counting_read_now(key, options):
                self.reads += 1
                return read_now(key, options)

            kv.read_now = counting_read_now
        fmt.decode_chunk = counting_decode
        fmt.decode_chunk_into = counting_decode_into


def _rewrite_elsewhere(lib, path: str, value: int) -> None:
    """Changes the array through a store that shares nothing with the one under test."""
    lib.open(_spec(path), context=lib.Context()).result()[0:4, 0:4] = value


def test_default_caches_nothing(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    store = ts.open(_spec(path)).result()
    counter = _Counter(store)
    store.read().result()
    store.read().result()
    assert (counter.reads, counter.decodes) == (8, 8)


def test_recheck_false_serves_cached_chunks_without_storage(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    ctx = ts.Context(CACHED)
    store = ts.open(_spec(path), context=ctx, recheck_cached_data=False).result()
    counter = _Counter(store)
    first = store.read().result()
    second = store.read().result()
    assert (counter.reads, counter.decodes) == (4, 4)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("recheck", [False, True, "open"])
def test_external_changes_seen_as_the_reference_sees_them(tmp_path, recheck):
    seen = {}
    for name, lib in (("ours", ts), ("ref", ref)):
        path = str(tmp_path / name)
        _create(lib, path)
        store = lib.open(_spec(path), context=lib.Context(lib.Context.Spec(CACHED)), recheck_cached_data=recheck).result()
        store.read().result()  # fills the cache
        _rewrite_elsewhere(lib, path, -1)
        seen[name] = store[0:4, 0:4].read().result()
    np.testing.assert_array_equal(seen["ours"], seen["ref"])
    expected_stale = recheck is False or recheck == "open"
    assert (seen["ours"][0, 0] != -1) == expected_stale


def test_recheck_true_revalidates_without_decoding_again(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    store = ts.open(_spec(path), context=ts.Context(CACHED)).result()
    counter = _Counter(store)
    store.read().result()
    store.read().result()
    # Every read asks storage, but unchanged chunks are not decoded twice.
    assert (counter.reads, counter.decodes) == (8, 4)
    _rewrite_elsewhere(ts, path, 5)
    np.testing.assert_array_equal(store[0:4, 0:4].read().result(), np.full((4, 4), 5))
    assert counter.decodes == 5


def test_open_revalidates_only_what_was_cached_before_the_open(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    ctx = ts.Context(CACHED)
    first = ts.open(_spec(path), context=ctx, recheck_cached_data=False).result()
    first.read().result()  # cached under the shared pool
    _rewrite_elsewhere(ts, path, 9)
    later = ts.open(_spec(path), context=ctx, recheck_cached_data="open").result()
    counter = _Counter(later)
    np.testing.assert_array_equal(later[0:4, 0:4].read().result(), np.full((4, 4), 9))
    assert counter.reads == 1  # the one chunk, cached before this open, is revalidated
    later.read().result()
    assert counter.reads == 4  # the other three once each ...
    later.read().result()
    assert counter.reads == 4  # ... and then all are fresh for this store


def test_own_writes_replace_cached_chunks(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    store = ts.open(_spec(path), context=ts.Context(CACHED), recheck_cached_data=False).result()
    store.read().result()
    store[1:3, 1:3] = 100
    assert (store[1:3, 1:3].read().result() == 100).all()
    store[4:8, 4:8] = 7  # a whole chunk, written without reading it
    assert (store[4:8, 4:8].read().result() == 7).all()


def test_lru_respects_the_byte_budget():
    cache = ChunkCache(total_bytes_limit=1000)
    for i in range(5):
        cache.put((1, b"k%d" % i), np.zeros(300, np.uint8), b"g", 0.0)
    assert cache.nbytes <= 1000
    assert cache.get((1, b"k0")) is None and cache.get((1, b"k4")) is not None
    cache.put((1, b"big"), np.zeros(2000, np.uint8), b"g", 0.0)  # larger than the budget: not kept
    assert cache.get((1, b"big")) is None
