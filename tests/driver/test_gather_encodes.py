"""Chunks a write covers whole are gathered from the source and encoded as Blosc frames in one
step without the GIL (`driver.gather_encodes`).  The stored bytes are those of the ordinary
encode, byte for byte, for the types, compressors, shuffles and block sizes zarr writers use, for
zarr v2 and unsharded zarr3, from sources of any strides; tensorstore and zarr-python read them;
a chunk equal to the fill value is still not stored (stored with
``store_data_equal_to_fill_value``); and a covered chunk merged with a partial write of the same
writeback comes out as the two writes in order."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py import metrics
from tensorstore_py.codecs import blosc
from tensorstore_py.codecs.blosc_symbols import compress_ctx_address
from tensorstore_py.driver import gather_encodes

pytestmark = pytest.mark.skipif(gather_encodes._chunkio() is None, reason="c-blosc 1.x compressor not found")


@pytest.fixture
def gathered(monkeypatch):
    """How many chunks the one-step encode stored."""
    done = []
    original = gather_encodes.GatherEncoder.encode

    def spy(self, region):
        out = original(self, region)
        if out is not None:
            done.append(out.data)
        return out

    monkeypatch.setattr(gather_encodes.GatherEncoder, "encode", spy)
    return done


def _zarr(path, shape, chunks, dtype, compressor, fill_value=0, **extra):
    if np.dtype(dtype).kind == "b" and fill_value is not None:
        fill_value = bool(fill_value)
    meta = {"shape": list(shape), "chunks": list(chunks), "dtype": np.dtype(dtype).str,
            "compressor": compressor, "fill_value": fill_value}
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, "metadata": meta,
            "create": True, "delete_existing": True, **extra}


def _stored(path):
    return {name: open(os.path.join(path, name), "rb").read()
            for name in sorted(os.listdir(path)) if not name.startswith(".")}


def _write_both_ways(tmp_path, monkeypatch, spec_of, data, index=Ellipsis):
    """The files an ordinary write and a one-step write of `data` leave (and the second's path)."""
    ordinary, gathered = tmp_path / "ordinary", tmp_path / "gathered"
    with monkeypatch.context() as m:
        m.setattr(gather_encodes.GatherEncoder, "for_format", classmethod(lambda cls, fmt, store_fill: None))
        ts.open(spec_of(ordinary)).result()[index].write(data).result()
    ts.open(spec_of(gathered)).result()[index].write(data).result()
    return _stored(ordinary), _stored(gathered), gathered


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    smooth = (np.arange(int(np.prod(shape))) % 251).reshape(shape)
    noise = rng.integers(0, 3, size=shape)
    return (smooth + noise).astype(dtype)


@pytest.mark.parametrize("dtype", ["<f4", "<i2", "|u1", "<f8", "<u8", "|b1"])
@pytest.mark.parametrize("cname,shuffle,blocksize", [
    ("lz4", 1, 0), ("lz4", 2, 0), ("lz4", 0, 0), ("zstd", 1, 0), ("blosclz", 1, 0), ("lz4hc", 2, 0),
    ("zlib", 1, 0), ("lz4", 1, 4096), ("lz4", -1, 0),
])
def test_same_bytes_as_the_ordinary_encode(tmp_path, monkeypatch, gathered, dtype, cname, shuffle, blocksize):
    compressor = {"id": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle, "blocksize": blocksize}
    data = _data((40, 24, 10), dtype)
    ordinary, mine, path = _write_both_ways(
        tmp_path, monkeypatch, lambda p: _zarr(p, data.shape, (16, 8, 5), dtype, compressor), data)
    assert mine == ordinary
    assert len(gathered) == 2 * 3 * 2  # the covered chunks; the edge chunks are partial
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}})
                                  .result().read().result(), data)


def test_sources_of_any_strides(tmp_path, monkeypatch, gathered):
    base = _data((64, 48, 20), "<f4")
    for n, source in enumerate([base[::2, ::2, ::2], base[:32, :24, :10], np.asfortranarray(base[:32, :24, :10]),
                                base[::-2, :24, 5:15]]):
        ordinary, mine, path = _write_both_ways(
            tmp_path / str(n), monkeypatch, lambda p: _zarr(p, (32, 24, 10), (8, 8, 5), "<f4", {"id": "blosc"}),
            source)
        assert mine == ordinary
        np.testing.assert_array_equal(ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}})
                                      .result().read().result(), source)
    assert len(gathered) == 4 * 4 * 3 * 2


def test_zarr_python_reads_them(tmp_path, gathered):
    zarr = pytest.importorskip("zarr")
    data = _data((32, 32), "<i4")
    store = ts.open(_zarr(tmp_path, data.shape, (16, 16), "<i4", {"id": "blosc", "cname": "zstd", "clevel": 3,
                                                                  "shuffle": 2})).result()
    store.write(data).result()
    assert len(gathered) == 4
    np.testing.assert_array_equal(zarr.open(str(tmp_path), mode="r")[...], data)


def test_zarr3_unsharded(tmp_path, monkeypatch, gathered):
    data = _data((24, 16), "<u2")

    def spec(path):
        return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)},
                "metadata": {"shape": list(data.shape), "data_type": "uint16", "fill_value": 7,
                             "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 8]}},
                             "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                        {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5,
                                                                            "shuffle": "shuffle", "typesize": 2}}]},
                "create": True, "delete_existing": True}

    ordinary = tmp_path / "ordinary"
    with monkeypatch.context() as m:
        m.setattr(gather_encodes.GatherEncoder, "for_format", classmethod(lambda cls, fmt, store_fill: None))
        ts.open(spec(ordinary)).result().write(data).result()
    ts.open(spec(tmp_path / "gathered")).result().write(data).result()
    assert len(gathered) == 6

    def files(root):
        return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
                for d, _, names in os.walk(root) for f in names if f != "zarr.json"}

    assert files(tmp_path / "gathered") == files(ordinary)
    np.testing.assert_array_equal(ref.open({"driver": "zarr3", "kvstore": {"driver": "file",
                                                                           "path": str(tmp_path / "gathered")}})
                                  .result().read().result(), data)


@pytest.mark.parametrize("store_fill", [False, True])
def test_fill_valued_chunks(tmp_path, monkeypatch, gathered, store_fill):
    data = np.full((32, 16), 3, dtype="<f4")
    data[:16] = 1.5  # the first two chunks differ from the fill value, the last two do not
    extra = {"store_data_equal_to_fill_value": True} if store_fill else {}
    ordinary, mine, path = _write_both_ways(
        tmp_path, monkeypatch, lambda p: _zarr(p, data.shape, (16, 8), "<f4", {"id": "blosc"}, 3, **extra), data)
    assert mine == ordinary
    assert sorted(mine) == (["0.0", "0.1", "1.0", "1.1"] if store_fill else ["0.0", "0.1"])
    assert gathered.count(None) == (0 if store_fill else 2)
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}})
                                  .result().read().result(), data)


def test_null_fill_value_stores_every_chunk(tmp_path, gathered):
    store = ts.open(_zarr(tmp_path, (16, 16), (8, 8), "<f4", {"id": "blosc"}, None)).result()
    store.write(np.zeros((16, 16), np.float32)).result()
    assert len(_stored(tmp_path)) == 4 and None not in gathered


def test_a_partial_write_merged_after_a_covered_chunk(tmp_path, gathered):
    """Writes to one chunk issued while its writeback is in flight collect in one node: a
    covering write encoded in one step, then a partial one, which merges into its bytes."""
    store = ts.open(_zarr(tmp_path, (64, 64), (64, 64), "<i4", {"id": "blosc"})).result()
    for round_ in range(20):
        first = np.full((64, 64), round_, np.int32)
        whole = _data((64, 64), "<i4", round_)
        box = np.full((5, 7), -1, np.int32)
        writes = [store.write(first), store.write(whole), store[10:15, 20:27].write(box)]
        for w in writes:
            w.result()
        expected = whole.copy()
        expected[10:15, 20:27] = box
        np.testing.assert_array_equal(store.read().result(), expected)
        np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file",
                                                                              "path": str(tmp_path)}})
                                      .result().read().result(), expected)
    assert len(gathered) >= 20


def test_encode_time_counted_as_encoding(tmp_path, gathered):
    store = ts.open(_zarr(tmp_path, (64, 64), (32, 32), "<f4", {"id": "blosc"})).result()
    encode, copy = metrics.ENCODE_SECONDS.value(), metrics.COPY_SECONDS.value()
    store.write(_data((64, 64), "<f4")).result()
    assert len(gathered) == 4
    assert metrics.ENCODE_SECONDS.value() > encode
    assert metrics.COPY_SECONDS.value() >= copy


def test_the_compressor_is_found_by_its_symbol():
    assert compress_ctx_address(blosc._blosc_ext) is not None


def test_no_symbol_table_no_address(tmp_path):
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not an ELF file" * 10)

    class Module:
        __name__ = "blosc.fake"
        __file__ = str(fake)

    assert compress_ctx_address(Module()) is None


def test_types_numpy_exports_no_buffer_of(tmp_path, monkeypatch, gathered):
    """bfloat16 arrays have no buffer-protocol export: both one-step paths view them as
    unsigned integers of their size (the reads took them too, before raising)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tensorstore_py.driver import file_chunk_reads

    read_by_one_step = []
    original_read = file_chunk_reads.FileChunkReads.read

    def spy(self, key, cell, place, direct):
        taken = original_read(self, key, cell, place, direct)
        read_by_one_step.append(taken)
        return taken

    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "read", spy)
    data = (np.arange(24 * 16).reshape(24, 16) / 7).astype(ml_dtypes.bfloat16)

    def spec(path):
        return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)},
                "metadata": {"shape": [24, 16], "chunks": [8, 8], "dtype": "bfloat16", "compressor": {"id": "blosc"}},
                "create": True, "delete_existing": True}

    source = np.concatenate([data, data])[::2]  # strided
    ordinary, mine, path = _write_both_ways(tmp_path, monkeypatch, spec, source)
    assert mine == ordinary and len(gathered) == 6
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}).result()
    np.testing.assert_array_equal(store.read().result(), source)
    np.testing.assert_array_equal(store[3:20, 1:15:3].read().result(), source[3:20, 1:15:3])
    assert read_by_one_step and all(read_by_one_step)
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}})
                                  .result().read().result(), source)


def test_the_kernel_checks_its_arguments():
    chunkio = gather_encodes._chunkio()
    chunk = np.arange(64, dtype=np.float32).reshape(8, 8)
    with pytest.raises(ValueError, match="fill must have the size of source"):
        chunkio.gather_encode(chunk, 5, 1, 4, b"lz4", 0, np.zeros(10, np.uint8))
    frame, _, _ = chunkio.gather_encode(chunk[::2], 5, 1, 4, b"lz4", 0, np.zeros(128, np.uint8))
    assert frame == blosc.BloscCodec("lz4", 5, 1, 0, 4).encode(np.ascontiguousarray(chunk[::2]), 4)
    assert chunkio.gather_encode(np.zeros((4, 4), np.float32), 5, 1, 4, b"lz4", 0, np.zeros(64, np.uint8))[0] is None
    # A compressor c-blosc lacks: its error code, and the caller encodes the ordinary way.
    code, _, _ = chunkio.gather_encode(chunk, 5, 1, 4, b"nonesuch", 0)
    assert code < 0


def test_a_chunk_the_kernel_fails_is_encoded_the_ordinary_way(tmp_path, monkeypatch):
    data = _data((32, 32), "<f4")
    spec = lambda p: _zarr(p, data.shape, (16, 16), "<f4", {"id": "blosc"})  # noqa: E731
    ordinary = tmp_path / "ordinary"
    with monkeypatch.context() as m:
        m.setattr(gather_encodes.GatherEncoder, "for_format", classmethod(lambda cls, fmt, store_fill: None))
        ts.open(spec(ordinary)).result().write(data).result()

    class Failing:
        def gather_encode(self, *args):
            return (-1, 0, 0)

    encoders = []
    original = gather_encodes.GatherEncoder.for_format.__func__

    def failing(cls, fmt, store_fill):
        encoder = original(cls, fmt, store_fill)
        encoder._chunkio = Failing()
        encoders.append(encoder)
        return encoder

    monkeypatch.setattr(gather_encodes.GatherEncoder, "for_format", classmethod(failing))
    ts.open(spec(tmp_path / "fallback")).result().write(data).result()
    assert encoders and _stored(tmp_path / "fallback") == _stored(ordinary)


def test_gathered_chunks_are_encoded_on_the_data_copy_pool_and_stored_on_the_io_pool(tmp_path, monkeypatch):
    """As in TensorStore: a chunk's encode (CPU) runs on the data-copy threads while the file
    pool's threads wait on the disk (fsync), so a whole write keeps that many writes in flight."""
    import threading

    from tensorstore_py.kvstore import file as file_kvstore

    encoders, writers = [], []
    encode = gather_encodes.GatherEncoder.encode
    write = file_kvstore._write_locked

    def encode_spy(self, region):
        encoders.append(threading.current_thread().name)
        return encode(self, region)

    def write_spy(*args, **kwargs):
        writers.append(threading.current_thread().name)
        return write(*args, **kwargs)

    monkeypatch.setattr(gather_encodes.GatherEncoder, "encode", encode_spy)
    monkeypatch.setattr(file_kvstore, "_write_locked", write_spy)
    data = np.arange(64 * 64 * 16, dtype=np.float32).reshape(64, 64, 16)
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)},
                     "metadata": {"shape": [64, 64, 16], "chunks": [16, 16, 16], "dtype": "<f4",
                                  "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}},
                    create=True).result()
    writers.clear()  # (the metadata)
    store.write(data).result()
    assert len(encoders) == 16 and len(writers) == 16
    assert all(name.startswith("tensorstore_py-data_copy_concurrency") for name in encoders), encoders
    assert all(name.startswith("tensorstore_py-file_io_concurrency") for name in writers), writers
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)}})
                                  .result().read().result(), data)
