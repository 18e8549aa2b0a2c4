"""Chunks of zarr v2 arrays stored as Blosc frames in a `file` store are read and decoded in one
step without the GIL (`driver.file_chunk_reads`).  Checked against tensorstore for the data
types, compressors and shuffles zarr writers use, for missing and edge chunks and every kind of
read; corrupt chunks raise exactly what the ordinary read raises; the statistics count the
same reads and bytes; layouts it does not take still read correctly."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorstore as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py import statistics
from tensorstore_py.driver import file_chunk_reads

pytestmark = pytest.mark.skipif(file_chunk_reads._chunkio() is None, reason="c-blosc2 not available")


@pytest.fixture
def one_step(monkeypatch):
    """How many chunks the one-step read decoded."""
    done = []
    original = file_chunk_reads.FileChunkReads.read

    def spy(self, key, cell, place, direct):
        taken = original(self, key, cell, place, direct)
        if taken:
            done.append(key)
        return taken

    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "read", spy)
    return done


def _spec(path, metadata=None):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}
    if metadata is not None:
        spec["metadata"] = metadata
    return spec


def _blosc(cname="lz4", shuffle=1, clevel=5):
    return {"id": "blosc", "cname": cname, "clevel": clevel, "shuffle": shuffle, "blocksize": 0}


def _write_with_tensorstore(path, data, chunks, compressor, order="C", fill_value=0):
    if data.dtype.kind == "b":
        fill_value = bool(fill_value)
    elif data.dtype.kind == "c":
        fill_value = [fill_value, 0]
    meta = {"shape": list(data.shape), "chunks": list(chunks), "dtype": data.dtype.str,
            "compressor": compressor, "order": order, "fill_value": fill_value}
    store = ref.open(_spec(path, meta), create=True, delete_existing=True).result()
    store.write(data).result()
    return store


def _data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        return (np.arange(np.prod(shape)).reshape(shape) % 97 + rng.random(shape)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)


def _outcomes(path, name, payloads) -> dict:
    """What reading the zarr array at `path` gives with each payload stored as chunk `name`."""
    got = {}
    for case, payload in payloads.items():
        (path / name).write_bytes(payload)
        store = ts.open(_spec(path)).result()
        try:
            got[case] = ("value", store.read().result().tobytes())
        except Exception as exc:  # noqa: BLE001 - compared by the callers
            got[case] = (type(exc).__name__, str(exc))
    return got


def _both_ways(monkeypatch, path, name, payloads) -> tuple[dict, dict]:
    """`_outcomes` with one-step reads, then with the ordinary reads alone."""
    one_step = _outcomes(path, name, payloads)
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
    return one_step, _outcomes(path, name, payloads)


READS = [Ellipsis, np.s_[3:29, 5:17, 1:], np.s_[::3, 2:20:5, 4], np.s_[7:9, 8:10, 0:2]]


@pytest.mark.parametrize("dtype", ["|u1", "<i2", "<u4", "<i8", "<f4", "<f8", "|b1", "<c8"])
@pytest.mark.parametrize("cname, shuffle", [("lz4", 1), ("blosclz", 0), ("zstd", 2), ("zlib", 1), ("lz4hc", -1)])
def test_reads_match_tensorstore(tmp_path, one_step, dtype, cname, shuffle):
    shape, chunks = (30, 21, 9), (8, 8, 4)  # edge chunks on every dimension
    data = _data(dtype, shape)
    data[:8, :8, :4] = 0  # a chunk of fill values: tensorstore does not store it
    theirs = _write_with_tensorstore(tmp_path / "a", data, chunks, _blosc(cname, shuffle))
    assert not os.path.exists(tmp_path / "a" / "0.0.0")
    ours = ts.open(_spec(tmp_path / "a")).result()
    for index in READS:
        np.testing.assert_array_equal(ours[index].read().result(), theirs[index].read().result())
    assert one_step  # the stored chunks were read in one step


def test_corrupt_chunks_raise_what_the_ordinary_read_raises(tmp_path, monkeypatch):
    data = _data("<f4", (16, 16))
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc())
    frame = (tmp_path / "a" / "0.0").read_bytes()
    corruptions = {
        "empty": b"",
        "short": frame[:10],
        "truncated": frame[:-7],
        "longer": frame + b"\0\0",
        "version 3": bytes([3]) + frame[1:],
        "nbytes": frame[:4] + (1000).to_bytes(4, "little") + frame[8:],
        "cbytes": frame[:12] + (len(frame) + 1).to_bytes(4, "little") + frame[16:],
        "compressor 7": frame[:2] + bytes([(frame[2] & 0x1F) | (7 << 5)]) + frame[3:],
        "offsets": frame[:16] + (0xFFFFFF).to_bytes(4, "little") + frame[20:],
        "block data": frame[:40] + bytes(b ^ 0x5A for b in frame[40:]),
        "random": np.random.default_rng(3).bytes(len(frame)),
    }

    one_step, ordinary = _both_ways(monkeypatch, tmp_path / "a", "0.0", corruptions)
    assert one_step == ordinary
    assert one_step["truncated"][0] != "value" and one_step["random"][0] != "value"


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=300), header=st.booleans())
def test_random_chunk_bytes_never_crash_and_match_the_ordinary_read(tmp_path_factory, payload, header):
    path = tmp_path_factory.mktemp("r")
    _write_with_tensorstore(path, _data("<u2", (8, 8)), (8, 8), _blosc())
    if header:  # a plausible header for 128 bytes of uint16, then the payload
        payload = bytes([2, 1, 0x21, 2]) + (128).to_bytes(4, "little") + (128).to_bytes(4, "little") \
            + (16 + 4 + len(payload)).to_bytes(4, "little") + (20).to_bytes(4, "little") + payload
    (path / "0.0").write_bytes(payload)
    store = ts.open(_spec(path)).result()
    reader = store._driver.current(None).result().engine

    def outcome():
        try:
            return store.read().result().tobytes()
        except Exception as exc:  # noqa: BLE001 - compared below
            return (type(exc).__name__, str(exc))

    fast = outcome()
    reader._one_step = None  # the ordinary read
    assert fast == outcome()


def test_statistics_count_the_same_reads(tmp_path, one_step):
    data = _data("<i4", (32, 24))
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc("zstd"))
    stored = sum(os.path.getsize(tmp_path / "a" / name) for name in os.listdir(tmp_path / "a")
                 if not name.startswith("."))
    store = ts.open(_spec(tmp_path / "a")).result()
    with statistics.record() as rec:
        np.testing.assert_array_equal(store.read().result(), data)
    stats = rec.statistics
    assert len(one_step) == 12
    assert (stats.chunks_read, stats.kvstore_reads, stats.bytes_read) == (12, 12, stored)
    assert stats.elements_read == data.size
    assert stats.io_seconds > 0 and stats.decode_seconds > 0
    # Chunks placed into part of the output count their copy too.
    with statistics.record() as rec:
        np.testing.assert_array_equal(store[3:29, 5:19].read().result(), data[3:29, 5:19])
    assert (rec.statistics.chunks_read, rec.statistics.kvstore_reads) == (12, 12)
    assert rec.statistics.copy_seconds > 0


def test_layouts_it_does_not_take(tmp_path, one_step):
    data = _data("<f8", (20, 12), seed=5)
    cases = {
        "fortran": dict(compressor=_blosc(), order="F"),
        "big endian": dict(compressor=_blosc()),
        "gzip": dict(compressor={"id": "gzip", "level": 1}),
        "uncompressed": dict(compressor=None),
    }
    for name, kwargs in cases.items():
        values = data.astype(">f8") if name == "big endian" else data
        theirs = _write_with_tensorstore(tmp_path / name, values, (8, 8), **kwargs)
        ours = ts.open(_spec(tmp_path / name)).result()
        np.testing.assert_array_equal(ours.read().result(), theirs.read().result())
        np.testing.assert_array_equal(ours[3:17, 2:11].read().result(), theirs[3:17, 2:11].read().result())
    assert one_step == []
    # A memory store is not read in one step either.
    mem = ts.open({"driver": "zarr", "kvstore": {"driver": "memory"},
                   "metadata": {"shape": [20, 12], "chunks": [8, 8], "dtype": "<f8", "compressor": _blosc()}},
                  create=True).result()
    mem.write(data).result()
    np.testing.assert_array_equal(mem.read().result(), data)
    assert one_step == []


def test_missing_chunks_and_fill_missing_data_reads_off(tmp_path, one_step):
    data = _data("<u2", (16, 16))
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc(), fill_value=7)
    os.remove(tmp_path / "a" / "1.0")
    ours = ts.open(_spec(tmp_path / "a")).result()
    expected = data.copy()
    expected[8:, :8] = 7
    np.testing.assert_array_equal(ours.read().result(), expected)
    strict = ts.open({**_spec(tmp_path / "a"), "fill_missing_data_reads": False}).result()
    with pytest.raises(ValueError, match="is missing"):
        strict.read().result()


def _zarr3_spec(path, metadata=None):
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
    if metadata is not None:
        spec["metadata"] = metadata
    return spec


ZARR3_CODECS = {
    "zstd": [{"name": "bytes", "configuration": {"endian": "little"}},
             {"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
    "zstd checksum": [{"name": "bytes", "configuration": {"endian": "little"}},
                      {"name": "zstd", "configuration": {"level": 1, "checksum": True}}],
    "blosc": [{"name": "bytes", "configuration": {"endian": "little"}},
              {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle",
                                                  "typesize": 2, "blocksize": 0}}],
}


@pytest.mark.parametrize("codecs", sorted(ZARR3_CODECS))
def test_zarr3_unsharded_reads_match_tensorstore(tmp_path, one_step, codecs):
    data = _data("<u2", (30, 21, 9), seed=7)
    meta = {"zarr_format": 3, "node_type": "array", "shape": list(data.shape), "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 8, 4]}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": 0, "codecs": ZARR3_CODECS[codecs]}
    theirs = ref.open(_zarr3_spec(tmp_path / "a", meta), create=True).result()
    theirs.write(data).result()
    ours = ts.open(_zarr3_spec(tmp_path / "a")).result()
    for index in READS:
        np.testing.assert_array_equal(ours[index].read().result(), theirs[index].read().result())
    assert one_step


def test_zarr_v2_zstd_and_corrupt_zstd_frames(tmp_path, monkeypatch, one_step):
    data = _data("<i4", (16, 16), seed=9)
    theirs = _write_with_tensorstore(tmp_path / "a", data, (8, 8), {"id": "zstd", "level": 3})
    ours = ts.open(_spec(tmp_path / "a")).result()
    np.testing.assert_array_equal(ours[2:13, 1:15].read().result(), theirs[2:13, 1:15].read().result())
    assert one_step
    frame = (tmp_path / "a" / "1.1").read_bytes()
    import zstandard

    corruptions = {
        "truncated": frame[:-3],
        "two frames": frame + frame,
        "trailing bytes": frame + b"\0",
        "other size": zstandard.ZstdCompressor().compress(b"\0" * 100),
        "unsized": zstandard.ZstdCompressor(write_content_size=False).compress(data[8:, 8:].tobytes()),
        "damaged": frame[:12] + bytes(b ^ 0x33 for b in frame[12:]),
        "empty": b"",
    }

    one_step_outcomes, ordinary = _both_ways(monkeypatch, tmp_path / "a", "1.1", corruptions)
    assert one_step_outcomes == ordinary
    # An unsized frame of the right data still reads (the ordinary way).
    assert one_step_outcomes["unsized"][0] == "value"


def test_one_thread_reads_chunks_of_every_size_and_a_corrupt_one_in_turn(tmp_path, one_step):
    """Each thread keeps its buffers and decompression context from chunk to chunk: chunks of
    different sizes (smaller, larger, above what a thread keeps), a failed decode between them,
    and reads of part of a chunk (decoded into the thread's scratch chunk) give tensorstore's
    values, on one thread and on the pool's."""
    arrays = {}
    for name, shape, chunks in (("small", (20, 20), (4, 4)), ("large", (600, 600), (300, 300)),
                                ("huge", (2100, 2100), (2100, 2100)), ("mid", (64, 64), (32, 32))):
        data = _data("<f4", shape, seed=len(name))
        arrays[name] = (_write_with_tensorstore(tmp_path / name, data, chunks, _blosc("lz4", 1, clevel=1)), data)
    corrupt = tmp_path / "mid" / "1.1"
    corrupt.write_bytes(corrupt.read_bytes()[:-5])
    for _ in range(2):
        for name, (theirs, data) in arrays.items():
            ours = ts.open(_spec(tmp_path / name)).result()
            n = data.shape[0]
            for index in (Ellipsis, np.s_[1 : n - 3, 2 : n - 1], np.s_[3:5, 1:2]):
                if name == "mid" and index != np.s_[3:5, 1:2]:  # (all but the last read chunk 1.1)
                    with pytest.raises(ValueError):
                        ours[index].read().result()
                    continue
                got = ours[index].read().result()
                np.testing.assert_array_equal(got, data[index])
                np.testing.assert_array_equal(got, theirs[index].read().result())
    assert one_step
