"""How often a sharded read fetches shard indices: once per shard for each read (a read
never uses an index confirmed before it began, and never re-checks one confirmed after), on
the asynchronous path (a base store without `read_now`) and on the local one (a file)."""

from __future__ import annotations

import numpy as np
import tensorstore as ref

import counting_kvstore  # noqa: F401  (registers the test_counting_* drivers)
import tensorstore_py as ts

SHAPE, SHARD, INNER = (64, 64), (32, 32), (8, 8)  # 4 shards of 16 sub-chunks


def _spec(kvstore: dict) -> dict:
    return {"driver": "zarr3", "kvstore": kvstore, "metadata": {
        "shape": list(SHAPE), "data_type": "uint16", "fill_value": 0,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(SHARD)}},
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": list(INNER),
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 1}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]}}


def _data(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 60000, size=SHAPE, dtype=np.uint16)


def _is_index_read(options) -> bool:
    byte_range = options.byte_range
    return byte_range is not None and byte_range[0] < 0 and byte_range[1] is None  # index at the end


def test_each_read_fetches_each_shard_index_once_async(tmp_path):
    store = ts.open(_spec({"driver": "test_counting_file", "path": str(tmp_path) + "/"}), create=True).result()
    data = _data(0)
    store.write(data).result()
    base = store._driver.engine.kv.base
    for _ in range(2):  # the second read checks the indices again, once each
        base.reset()
        np.testing.assert_array_equal(store.read().result(), data)
        index_reads = [key for key, options in base.reads if _is_index_read(options)]
        assert sorted(index_reads) == sorted(set(index_reads)) and len(index_reads) == 4
        assert len(base.reads) - len(index_reads) >= 4  # and then the sub-chunks' bytes


def test_each_read_fetches_each_shard_index_once_local(tmp_path):
    store = ts.open(_spec({"driver": "file", "path": str(tmp_path) + "/"}), create=True).result()
    data = _data(1)
    store.write(data).result()
    sharded = store._driver.engine.kv
    file_driver = sharded.base
    reads: list = []
    read_now = file_driver.read_now

    def counted(key, options):
        reads.append((key, options))
        return read_now(key, options)

    file_driver.read_now = counted
    for _ in range(2):
        reads.clear()
        np.testing.assert_array_equal(store.read().result(), data)
        index_reads = [key for key, options in reads if _is_index_read(options)]
        assert sorted(index_reads) == sorted(set(index_reads)) and len(index_reads) == 4
        assert len(reads) - len(index_reads) == 64


def test_a_read_after_another_writer_sees_its_shards(tmp_path):
    path = str(tmp_path) + "/"
    ours = ts.open(_spec({"driver": "file", "path": path}), create=True).result()
    first = _data(2)
    ours.write(first).result()
    np.testing.assert_array_equal(ours.read().result(), first)  # indices cached by this handle
    second = _data(3)
    ref.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}).result().write(second).result()
    np.testing.assert_array_equal(ours.read().result(), second)
    np.testing.assert_array_equal(ours[8:40, 3:61].read().result(), second[8:40, 3:61])
