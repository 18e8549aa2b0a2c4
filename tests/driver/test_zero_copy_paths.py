"""The paths that skip a copy: chunks decoded straight into the read's output, covering writes
that keep a view of a source the caller gave up (``can_reference_source_data_indefinitely``),
whole-chunk blocks in ``dst.write(src)``, and partial writes of sharded zarr3 sub-chunks
applied inside one read-modify-write per shard.  Each is checked against numpy and, where
the data is shared on disk, against tensorstore reading or writing the same array."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ref

import counting_kvstore  # noqa: F401  (registers the test_counting_* drivers)
import tensorstore_py as ts
from tensorstore_py import copy as copy_module

LIBS = [pytest.param(ts, id="ours"), pytest.param(ref, id="tensorstore")]


def _zarr(lib, path, shape, chunks, dtype="<i4", order="C", create=True):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}
    if create:
        spec["metadata"] = {"shape": list(shape), "chunks": list(chunks), "dtype": dtype, "order": order,
                            "compressor": {"id": "zlib", "level": 1}}
    return lib.open(spec, create=create, delete_existing=create).result()


@pytest.mark.parametrize("lib", LIBS)
def test_referenced_source_is_never_modified_by_later_writes(lib, tmp_path):
    store = _zarr(lib, tmp_path / "a", (8, 8), (4, 4))
    source = np.arange(64, dtype=np.int32).reshape(8, 8)
    kept = source.copy()
    store.write(source, can_reference_source_data_indefinitely=True).result()
    store[1:3, 1:3] = -1  # merges into the chunk whose staged data may be a view of `source`
    store[5, 5] = -2
    expected = kept.copy()
    expected[1:3, 1:3] = -1
    expected[5, 5] = -2
    np.testing.assert_array_equal(store.read().result(), expected)
    np.testing.assert_array_equal(source, kept)


# (what is opened on memory://, what is written, whether the store then keeps a reference to
# it): TensorStore's memory store keeps the chunks of a source the caller gave up when they
# are stored as the elements lie in memory, and copies everything else.
_ZARR3_CHUNKS_4 = {"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}}}
_REFERENCE_CASES = {
    "zarr3 default codecs": ({"driver": "zarr3"}, np.uint32, [64], True),
    "zarr3 two chunks": ({"driver": "zarr3", "metadata": _ZARR3_CHUNKS_4}, np.uint32, [8], True),
    "zarr3 big endian": ({"driver": "zarr3", "metadata": {"codecs": [{"name": "bytes", "configuration": {"endian": "big"}}]}},
                         np.uint32, [8], False),
    "zarr3 gzip": ({"driver": "zarr3", "metadata": {"codecs": [{"name": "bytes"}, {"name": "gzip"}]}}, np.uint16, [8], False),
    "zarr raw": ({"driver": "zarr", "metadata": {"compressor": None}}, np.int32, [8, 8], True),
    "zarr raw order F": ({"driver": "zarr", "metadata": {"compressor": None, "order": "F"}}, np.int32, [8, 8], False),
    "zarr default compressor": ({"driver": "zarr"}, np.uint32, [16], False),
}


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("case", sorted(_REFERENCE_CASES))
@pytest.mark.parametrize("in_transaction", [False, True], ids=["direct", "transaction"])
def test_memory_store_keeps_referenced_source(lib, case, in_transaction):
    spec, dtype, shape, referenced = _REFERENCE_CASES[case]
    store = lib.open({**spec, "kvstore": "memory://"}, dtype=lib.dtype(np.dtype(dtype).name), shape=shape,
                     create=True).result()
    source = np.full(shape, 42, dtype=dtype)
    given = source[...]
    given.setflags(write=False)  # read-only or not, the source may be referenced
    txn = lib.Transaction() if in_transaction else None
    target = store.with_transaction(txn) if txn is not None else store
    target.write(given, can_reference_source_data_indefinitely=True).result()
    if txn is not None:
        txn.commit_sync()
    np.testing.assert_array_equal(store.read().result(), 42)
    source[...] = 43  # breaks the promise, to see whether the store kept a reference
    np.testing.assert_array_equal(store.read().result(), 43 if referenced else 42)


@pytest.mark.parametrize("lib", LIBS)
def test_memory_store_reference_is_not_written_through(lib):
    """Later partial writes and fill-valued chunks never touch the referenced source; the
    stored bytes read through the kvstore are what the source holds."""
    store = lib.open({"driver": "zarr3", "kvstore": "memory://", "metadata": _ZARR3_CHUNKS_4},
                     dtype=lib.uint32, shape=[12], create=True).result()
    source = np.array([5, 6, 7, 8, 0, 0, 0, 0, 9, 9, 9, 9], dtype=np.uint32)
    kept = source.copy()
    store.write(source, can_reference_source_data_indefinitely=True).result()
    store[1:2] = 100  # read-modify-write of the referenced chunk 0
    np.testing.assert_array_equal(source, kept)
    keys = sorted(store.kvstore.list().result())
    assert keys == [b"c/0", b"c/2", b"zarr.json"]  # chunk 1 is all fill: not stored
    source[8:] = 1  # chunk 2 is still a reference
    assert store.kvstore.read("c/2").result().value == np.full(4, 1, np.uint32).tobytes()
    np.testing.assert_array_equal(store.read().result(), [5, 100, 7, 8, 0, 0, 0, 0, 1, 1, 1, 1])


@pytest.mark.parametrize("dtype,order", [("<i4", "C"), (">i4", "C"), ("<i4", "F"), ("<u2", "F")])
def test_reads_decoded_in_place_match_numpy_and_tensorstore(tmp_path, dtype, order):
    data = np.random.default_rng(0).integers(0, 1000, size=(12, 8, 6)).astype(dtype)
    writer = _zarr(ref, tmp_path / "a", data.shape, (4, 4, 1), dtype=dtype, order=order)
    writer.write(data).result()
    ours = _zarr(ts, tmp_path / "a", data.shape, None, create=False)
    views = [
        (slice(None), slice(None), slice(None)),
        (slice(4, 12), slice(0, 8), 3),  # a constant index over a dimension of chunk extent 1
        (slice(0, 4), slice(4, 8), slice(2, 4)),
        (slice(None, None, -1), slice(None), slice(None)),  # reversed: not in place
        (slice(0, 12, 2), slice(None), slice(None)),  # strided: not in place
    ]
    for index in views:
        np.testing.assert_array_equal(ours[index].read().result(), data[index], err_msg=str(index))
    np.testing.assert_array_equal(ours.T.read().result(), data.T)
    out = ours.read(order="F").result()
    np.testing.assert_array_equal(out, data)


def test_copy_in_whole_chunk_blocks_with_tiling_and_shifted_grids(tmp_path, monkeypatch):
    monkeypatch.setattr(copy_module, "WHOLE_CHUNK_BYTES", 1 << 10)
    data = np.random.default_rng(1).standard_normal((96, 64)).astype(np.float32)
    src = _zarr(ts, tmp_path / "src", data.shape, (16, 32), dtype="<f4")
    src.write(data).result()
    # Destination chunks tile whole source chunks: one block per destination chunk.
    assert copy_module._whole_chunk_blocks(src, (32, 64), (0, 0), [0, 0], 4)
    dst = _zarr(ts, tmp_path / "dst", data.shape, (32, 64), dtype="<f4")
    dst.write(src).result()
    np.testing.assert_array_equal(dst.read().result(), data)
    # The staged chunks were views of blocks read for the copy: a later partial write of the
    # destination changes neither the source store nor what tensorstore reads elsewhere.
    dst[0:2, 0:2] = 7.0
    np.testing.assert_array_equal(src.read().result(), data)
    expected = data.copy()
    expected[0:2, 0:2] = 7.0
    np.testing.assert_array_equal(_zarr(ref, tmp_path / "dst", None, None, create=False).read().result(), expected)
    # Shifted by half a source chunk: the grids do not tile, blocks are several chunks.
    assert not copy_module._whole_chunk_blocks(src[8:, :], (32, 64), (0, 0), [8, 0], 4)
    shifted = _zarr(ts, tmp_path / "shifted", (88, 64), (32, 64), dtype="<f4")
    shifted.write(src[8:, :].translate_to[0, 0]).result()
    np.testing.assert_array_equal(shifted.read().result(), data[8:])


def _sharded_spec(kvstore, shape, shard, inner):
    return {"driver": "zarr3", "kvstore": kvstore, "metadata": {
        "shape": list(shape), "data_type": "uint16", "fill_value": 0,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": list(inner),
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 1}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]}}


def test_partial_sharded_writes_cost_one_read_and_write_per_shard(tmp_path):
    kv = ts.KvStore.open({"driver": "test_counting_file", "path": str(tmp_path) + "/"}).result()
    store = ts.open(_sharded_spec({"driver": "test_counting_file", "path": str(tmp_path) + "/"},
                                  (128, 128), (64, 64), (16, 16)), create=True).result()
    base = store._driver.engine.kv.base
    data = np.random.default_rng(2).integers(0, 60000, size=(128, 128), dtype=np.uint16)
    store.write(data).result()
    base.reset()
    patch = np.full((110, 100), 9, dtype=np.uint16)
    store[5:115, 13:113].write(patch).result()
    shard_writes = [k for k in base.writes if not k.endswith(b"zarr.json")]
    assert sorted(shard_writes) == sorted(set(shard_writes)) and len(shard_writes) == 4
    assert len(base.reads) == 4  # each shard read whole once, for all its partial sub-chunks
    expected = data.copy()
    expected[5:115, 13:113] = 9
    np.testing.assert_array_equal(store.read().result(), expected)
    # tensorstore reads the shards as written.
    np.testing.assert_array_equal(ref.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path) + "/"}}).result().read().result(), expected)
    del kv


def test_concurrent_partial_sharded_writes_lose_nothing(tmp_path):
    store = ts.open(_sharded_spec({"driver": "file", "path": str(tmp_path) + "/"}, (64, 64), (32, 32), (8, 8)),
                    create=True).result()
    expected = np.zeros((64, 64), dtype=np.uint16)
    pending = []
    rng = np.random.default_rng(3)
    for k in range(40):
        y, x = (int(v) for v in rng.integers(0, 60, size=2))
        h, w = (int(v) for v in rng.integers(1, 5, size=2))
        pending.append(store[y : y + h, x : x + w].write(np.full((h, w), k + 1, dtype=np.uint16)))
        expected[y : y + h, x : x + w] = k + 1
    for w in pending:
        w.result()
    np.testing.assert_array_equal(store.read().result(), expected)


def test_copy_into_memory_store_never_reuses_referenced_blocks(monkeypatch):
    """``dst.write(src)`` reuses a stored block's buffer for the next block, except where the
    destination keeps references to what it stores (the memory store)."""
    monkeypatch.setattr(copy_module, "BLOCK_BYTES", 4 * 64 * 4)  # blocks of 4 rows: many per task

    def open_memory(rows_per_chunk):
        metadata = {"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [rows_per_chunk, 64]}}}
        return ts.open({"driver": "zarr3", "kvstore": "memory://", "metadata": metadata},
                       dtype=ts.uint32, shape=[64, 64], create=True).result()

    data = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64)
    source = open_memory(8)  # another grid: blocks go the general way, staged by reference
    source.write(data).result()
    dest = open_memory(4)
    dest.write(source).result()
    np.testing.assert_array_equal(dest.read().result(), data)
