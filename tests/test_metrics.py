"""The metrics registry (TensorStore's names and report formats) and the I/O statistics built on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorstore

import tensorstore_py as ts
from tensorstore_py import metrics, statistics

SHAPE, CHUNK = (100, 60), (32, 32)
CHUNK_BYTES = 32 * 32 * 2  # uint16, raw: zarr v2 stores edge chunks whole


def _open(lib, path, context=None, **kwargs):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, "metadata": {"compressor": None}}
    if context is not None:
        kwargs["context"] = context
    return lib.open(spec, **kwargs).result()


def _create(lib, path, context=None):
    return _open(lib, path, context, create=True, delete_existing=True, dtype=lib.uint16, shape=SHAPE,
                 chunk_layout=lib.ChunkLayout(chunk_shape=CHUNK))


def test_statistics_count_the_chunks_and_bytes_touched(tmp_path):
    store = _create(ts, tmp_path / "a.zarr")
    data = np.arange(6000, dtype=np.uint16).reshape(SHAPE)
    with statistics.record() as rec:
        store.write(data).result()
    s = rec.statistics
    assert (s.chunks_written, s.kvstore_writes, s.bytes_written) == (8, 8, 8 * CHUNK_BYTES)
    # (edge chunks may be read to merge into: they are missing, so no bytes)
    assert (s.elements_written, s.bytes_read) == (6000, 0)
    assert s.by_driver["file"]["writes"] == 8 and s.finished

    with statistics.record() as rec:
        np.testing.assert_array_equal(store[0:40, 0:40].read().result(), data[0:40, 0:40])
    s = rec.statistics
    assert (s.chunks_read, s.kvstore_reads, s.bytes_read, s.elements_read) == (4, 4, 4 * CHUNK_BYTES, 1600)
    assert (s.chunks_written, s.bytes_written) == (0, 0)
    assert s.io_seconds > 0 and s.decode_seconds > 0 and s.copy_seconds > 0

    # A partial write of one chunk reads it, merges and writes it back.
    with statistics.record() as rec:
        store[0:10, 0:10] = np.zeros((10, 10), np.uint16)
    s = rec.statistics
    assert (s.chunks_written, s.kvstore_reads, s.bytes_read, s.kvstore_writes, s.bytes_written) == (
        1, 1, CHUNK_BYTES, 1, CHUNK_BYTES)
    assert s.elements_written == 100


def test_cache_hits_are_counted_with_a_cache_pool(tmp_path):
    context = ts.Context({"cache_pool": {"total_bytes_limit": 1 << 24}})
    # Written in another context: chunks written through `context` would stay in its cache.
    store = _create(ts, tmp_path / "a.zarr")
    store.write(np.ones(SHAPE, np.uint16)).result()
    reopened = _open(ts, tmp_path / "a.zarr", context, recheck_cached_data=False)
    with statistics.record() as first:
        reopened[0:64, 0:60].read().result()
    assert (first.statistics.cache_misses, first.statistics.cache_hits, first.statistics.kvstore_reads) == (4, 0, 4)
    with statistics.record() as second:
        reopened[0:64, 0:60].read().result()
    s = second.statistics
    assert (s.cache_hits, s.cache_misses, s.kvstore_reads, s.bytes_read, s.chunks_read) == (4, 0, 0, 0, 4)
    # Revalidated reads (the default) hit the cache and ask storage only whether it changed.
    checking = _open(ts, tmp_path / "a.zarr", context)
    with statistics.record() as third:
        checking[0:64, 0:60].read().result()
    s = third.statistics
    assert (s.cache_hits, s.kvstore_reads, s.bytes_read) == (4, 4, 0)


def test_written_chunks_stay_cached(tmp_path):
    context = ts.Context({"cache_pool": {"total_bytes_limit": 1 << 24}})
    store = _create(ts, tmp_path / "a.zarr", context)
    store.write(np.ones(SHAPE, np.uint16)).result()
    reopened = _open(ts, tmp_path / "a.zarr", context, recheck_cached_data=False)
    with statistics.record() as rec:
        reopened[0:64, 0:60].read().result()
    s = rec.statistics
    assert (s.cache_hits, s.cache_misses, s.kvstore_reads) == (4, 0, 0)


def test_a_small_pool_evicts(tmp_path):
    context = ts.Context({"cache_pool": {"total_bytes_limit": CHUNK_BYTES * 2}})
    store = _create(ts, tmp_path / "a.zarr", context)
    store.write(np.ones(SHAPE, np.uint16)).result()
    with statistics.record() as rec:
        store.read().result()
    assert rec.statistics.cache_evictions == 6


def test_progress_reports_arrive_and_end_finished(tmp_path):
    store = _create(ts, tmp_path / "a.zarr")
    reports = []
    with statistics.record(progress=reports.append, interval=0.001):
        for i in range(0, 100, 10):
            store[i : i + 10].write(np.full((10, 60), i, np.uint16)).result()
    assert reports[-1].finished and reports[-1].elements_written == 6000
    done = [r.elements_written for r in reports]
    assert done == sorted(done)


def test_track_stops_when_the_future_completes(tmp_path):
    store = _create(ts, tmp_path / "a.zarr")
    # A Future settled by hand: the write is surely inside the tracked span (a small write may
    # complete before `track` is called on its own Future).
    promise, operation = ts.Promise.new()
    rec = statistics.track(operation)
    store.write(np.ones(SHAPE, np.uint16)).result()
    assert not rec.statistics.finished
    promise.set_result(None)
    assert rec.statistics.finished and rec.statistics.elements_written == 6000
    store.write(np.ones(SHAPE, np.uint16)).result()  # after the end: not counted
    assert rec.statistics.elements_written == 6000


def _delta(lib, before):
    after = {m["name"]: m["values"] for m in lib.experimental_collect_matching_metrics("/tensorstore/", True)}
    out = {}
    for name in ("/tensorstore/kvstore/file/write", "/tensorstore/kvstore/file/bytes_written",
                 "/tensorstore/cache/chunk_cache/writes", "/tensorstore/cache/chunk_cache/reads"):
        out[name] = after[name][0]["value"] - before.get(name, [{"value": 0}])[0]["value"]
    return out


def test_counts_match_tensorstores_for_the_same_operations(tmp_path):
    data = np.arange(6000, dtype=np.uint16).reshape(SHAPE)
    deltas = {}
    for lib, name in ((ts, "ours"), (tensorstore, "theirs")):
        before = {m["name"]: m["values"] for m in lib.experimental_collect_matching_metrics("/tensorstore/", True)}
        store = _create(lib, tmp_path / f"{name}.zarr")
        store.write(data).result()
        store[0:40, 0:40].read().result()
        deltas[name] = _delta(lib, before)
    assert deltas["ours"] == deltas["theirs"]
    assert deltas["ours"]["/tensorstore/kvstore/file/write"] == 9  # 8 chunks and .zarray


def test_collect_matching_metrics_format():
    got = ts.experimental_collect_matching_metrics("/tensorstore/cache/", include_zero_metrics=True)
    names = [m["name"] for m in got]
    assert names == sorted(names) and "/tensorstore/cache/hit_count" in names
    for m in got:
        assert set(m) == {"name", "values"} and m["name"].startswith("/tensorstore/cache/")
        for v in m["values"]:
            assert "value" in v or "count" in v
    json.dumps(got)
    assert ts.experimental_collect_matching_metrics("/no/such/prefix/") == []
    with pytest.raises(TypeError):
        ts.experimental_collect_matching_metrics(3)


def test_histogram_buckets_as_tensorstore_reports_them():
    h = metrics.Histogram("/test/h", "test histogram", units="milliseconds")
    for sample in (0, 0, 2, 2, 3):
        h.observe(sample)
    (fields, value), = h._rows()
    assert h._json(value) == {"0": 0, "1": 2, "2": 0, "4": 3, "count": 5, "mean": 1.4,
                              "sum_of_squared_deviation": pytest.approx(7.2)}


def test_prometheus_format(tmp_path):
    store = _create(ts, tmp_path / "a.zarr")
    store.read().result()
    lines = ts.experimental_collect_prometheus_format_metrics("/tensorstore/kvstore/file/")
    assert "# HELP tensorstore_kvstore_file_read file kvstore::Read calls" in lines
    assert "# UNIT tensorstore_kvstore_file_bytes_read bytes" in lines
    assert "# TYPE tensorstore_kvstore_file_read_latency_ms histogram" in lines
    assert any(line.startswith('tensorstore_kvstore_file_read_latency_ms_bucket {le="+Inf"} ') for line in lines)
    for line in lines:
        assert line.startswith("#") or line.startswith("tensorstore_kvstore_file_")
    counter = metrics.counter("/test/fielded", "a counter with a field", ("category",))
    counter.increment(2, "changed")
    assert ts.experimental_collect_prometheus_format_metrics("/test/fielded") == [
        "# HELP test_fielded a counter with a field", 'test_fielded {category="changed"} 2']
    assert ts.experimental_collect_matching_metrics("/test/fielded") == [
        {"name": "/test/fielded", "values": [{"category": "changed", "value": 2}]}]


def test_update_verbose_logging():
    import logging

    ts.experimental_update_verbose_logging("cli=1")
    assert logging.getLogger("tensorstore_py.cli").level == logging.DEBUG
    ts.experimental_update_verbose_logging("", overwrite=True)
    assert logging.getLogger("tensorstore_py.cli").level == logging.NOTSET
    with pytest.raises(TypeError):
        ts.experimental_update_verbose_logging(3)


def test_ready_callbacks_are_counted_whenever_they_run():
    before = metrics.READY_CALLBACKS.value()
    pending = ts.Future()
    pending.add_done_callback(lambda f: None)
    pending.add_done_callback(lambda f: None)
    pending.set_result(1)  # two callbacks run as it becomes ready
    ts.Future(2).add_done_callback(lambda f: None)  # one runs at once on a ready future
    assert metrics.READY_CALLBACKS.value() - before == 3
    names = [m["name"] for m in ts.experimental_collect_matching_metrics("/tensorstore/futures/")]
    assert names == ["/tensorstore/futures/ready_callbacks"]


def test_sharded_zarr3_bytes_are_counted_once(tmp_path):
    """The shard store reads through the file driver: only the file driver's bytes count."""
    store = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "s.zarr")}},
                    create=True, dtype=ts.uint16, shape=[64, 64],
                    chunk_layout=ts.ChunkLayout(write_chunk_shape=[64, 64], read_chunk_shape=[16, 16])).result()
    store.write(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)).result()
    stored = sum(p.stat().st_size for p in (tmp_path / "s.zarr").rglob("*") if p.is_file())
    reopened = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "s.zarr")}}).result()
    with statistics.record() as rec:
        reopened.read().result()
    s = rec.statistics
    assert set(s.by_driver) == {"file"}
    assert 64 * 64 * 2 <= s.bytes_read <= stored and s.chunks_read == 16


def test_updates_from_many_threads_are_all_counted():
    # Updates take no lock (a queue folded by readers and by the update that finds it long):
    # none may be lost, whatever the interleaving, and the queue stays bounded.
    import threading

    c = metrics.Counter("/test/threads/c", "test counter")
    h = metrics.Histogram("/test/threads/h", "test histogram")
    g = metrics.Gauge("/test/threads/g", "test gauge")
    n_threads, n = 8, 3 * metrics._FOLD_AT

    def work() -> None:
        for i in range(n):
            c.increment(2)
            c.increment(1, "field")
            h.observe(float(i % 4))
            g.add(1)
            g.add(-1)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c._pending) < metrics._FOLD_AT + n_threads
    assert c.value() == 2 * n * n_threads and c.value("field") == n * n_threads
    (_, (count, mean, _, total, buckets)), = h._rows()
    assert count == n * n_threads and total == 1.5 * n * n_threads and mean == pytest.approx(1.5)
    assert sum(buckets.values()) == count
    (_, (value, high)), = g._rows()
    assert value == 0 and 1 <= high <= n_threads
