"""Chunks of zarr v2 arrays stored as Blosc frames in a `file` store are read and decoded in one
step without the GIL (`driver.file_chunk_reads`).  Checked against tensorstore for the data
types, compressors and shuffles zarr writers use, for missing and edge chunks and every kind of
read; corrupt chunks raise exactly what the ordinary read raises; the statistics count the
same reads and bytes; layouts it does not take still read correctly."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading

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
    original_many = file_chunk_reads.FileChunkReads.read_many

    def spy(self, key, cell, place, direct):
        taken = original(self, key, cell, place, direct)
        if taken:
            done.append(key)
        return taken

    def spy_many(self, keys, cells, place, direct):
        taken = original_many(self, keys, cells, place, direct)
        done.extend(key for key, t in zip(keys, taken) if t)
        return taken

    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "read", spy)
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "read_many", spy_many)
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
    # Four chunks read side by side in one step (`read_many`) count as four reads too.
    stored_four = sum(os.path.getsize(tmp_path / "a" / name) for name in ("0.0", "0.1", "1.0", "1.1"))
    before = len(one_step)
    with statistics.record() as rec:
        np.testing.assert_array_equal(store[3:13, 5:11].read().result(), data[3:13, 5:11])
    stats = rec.statistics
    assert len(one_step) == before + 4
    assert (stats.chunks_read, stats.kvstore_reads, stats.bytes_read) == (4, 4, stored_four)
    assert stats.elements_read == 60 and stats.decode_seconds > 0 and stats.copy_seconds > 0


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


def _read_outcome(read) -> tuple:
    try:
        return ("value", read().tobytes())
    except Exception as exc:  # noqa: BLE001 - compared by the callers
        return (type(exc).__name__, str(exc))


def _small_and_gathered_outcomes(path, name, payloads) -> dict:
    """What a read of a box inside chunk `name` (0.0) and reads of it gathered on an event loop
    give with each payload stored as that chunk."""

    async def gathered(store):
        return await asyncio.gather(*(store[i:i + 2, 1:3].read() for i in range(0, 8, 2)))

    got = {}
    for case, payload in payloads.items():
        (path / name).write_bytes(payload)
        store = ts.open(_spec(path)).result()
        got[case] = (_read_outcome(lambda: store[2:5, 1:7].read().result()),
                     _read_outcome(lambda: np.stack(asyncio.run(gathered(store)))))
    return got


def test_one_chunk_and_gathered_reads_of_corrupt_chunks_raise_what_the_ordinary_read_raises(tmp_path, monkeypatch):
    data = _data("<f4", (16, 16))
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc())
    frame = (tmp_path / "a" / "0.0").read_bytes()
    payloads = {"intact": frame, "truncated": frame[:-7], "empty": b"",
                "block data": frame[:40] + bytes(b ^ 0x5A for b in frame[40:])}
    one_step = _small_and_gathered_outcomes(tmp_path / "a", "0.0", payloads)
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
    assert one_step == _small_and_gathered_outcomes(tmp_path / "a", "0.0", payloads)
    assert one_step["intact"] == (("value", data[2:5, 1:7].tobytes()),
                                  ("value", np.stack([data[i:i + 2, 1:3] for i in range(0, 8, 2)]).tobytes()))
    assert one_step["truncated"][0][0] != "value" and one_step["truncated"][1][0] != "value"


def test_one_chunk_reads_are_one_step_in_every_layout(tmp_path, one_step):
    data = _data("<i2", (30, 21, 9), seed=4)
    theirs = _write_with_tensorstore(tmp_path / "a", data, (8, 8, 4), _blosc("zstd", 2))
    ours = ts.open(_spec(tmp_path / "a")).result()
    os.remove(tmp_path / "a" / "1.1.1")  # a missing chunk: the fill value
    reads = [
        lambda s: s[2:5, 3:7, 1],           # a box of one chunk, a constant dimension
        lambda s: s[26:30, 17:21, 8:9],     # an edge chunk
        lambda s: s[9:12, 9:15, 5:7],       # the missing chunk
        lambda s: s.T[1:3, 3:7, 2:5],       # dimensions permuted: no direct region
        lambda s: s[7:1:-2, 3, 3:0:-1],   # reversed strides inside one chunk
        lambda s: s[3, 2:7, 1:3],
    ]
    for read in reads:
        before = len(one_step)
        np.testing.assert_array_equal(read(ours).read().result(), read(theirs).read().result())
        assert len(one_step) == before + (0 if read is reads[2] else 1)


def test_gathered_reads_share_one_step_decodes(tmp_path, monkeypatch):
    data = _data("<f8", (32, 32), seed=6)
    theirs = _write_with_tensorstore(tmp_path / "a", data, (16, 16), _blosc("lz4", 1))
    ours = ts.open(_spec(tmp_path / "a")).result()
    shared = []
    original = file_chunk_reads.FileChunkReads.read_for_all

    def spy(self, key, waiters):
        taken = original(self, key, waiters)
        shared.append((taken, len(waiters)))
        return taken

    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "read_for_all", spy)
    boxes = [np.s_[i:i + 3, j:j + 2] for i in range(0, 30, 3) for j in range(0, 30, 5)]

    async def main():
        return await asyncio.gather(*(ours[b].read() for b in boxes))

    for _ in range(3):
        for b, got in zip(boxes, asyncio.run(main())):
            np.testing.assert_array_equal(got, theirs[b].read().result())
    # Which reads join one another depends on timing (60 readers of 4 chunks always some);
    # those that did were decoded once, in one step.
    assert shared and all(taken and n >= 2 for taken, n in shared)


def test_scratch_chunks_of_arrays_of_other_shapes_and_types(tmp_path, monkeypatch):
    """A thread's scratch buffer serves arrays of any chunk shape and type in turn, and chunks
    larger than it allows get buffers of their own."""
    arrays = {}
    for i, (dtype, chunks) in enumerate([("<u1", (8, 8)), ("<f8", (16, 8)), ("<i4", (5, 7)), ("<c8", (16, 16))]):
        data = _data(dtype, (32, 32), seed=i)
        theirs = _write_with_tensorstore(tmp_path / str(i), data, chunks, _blosc())
        arrays[i] = (ts.open(_spec(tmp_path / str(i))).result(), theirs)
    boxes = [np.s_[1:4, 2:6], np.s_[9:15, 3:4], np.s_[20:23, 17:31], np.s_[::5, 3:30:4]]
    for limit in (file_chunk_reads._SCRATCH_BYTES, 300):
        monkeypatch.setattr(file_chunk_reads, "_SCRATCH_BYTES", limit)
        for box in boxes:
            for ours, theirs in arrays.values():
                np.testing.assert_array_equal(ours[box].read().result(), theirs[box].read().result())


def _several_chunk_outcomes(path, payloads) -> dict:
    """What reads of two to four chunks give with each set of chunk payloads stored."""
    got = {}
    for case, chunks in payloads.items():
        for name, payload in chunks.items():
            if payload is None:
                if os.path.exists(path / name):
                    os.remove(path / name)
            else:
                (path / name).write_bytes(payload)
        store = ts.open(_spec(path)).result()
        got[case] = (_read_outcome(lambda: store[3:13, 2:14].read().result()),
                     _read_outcome(lambda: store[5, 1:15].read().result()),
                     _read_outcome(lambda: store.vindex[[1, 9, 2, 12], [3, 4, 10, 15]].read().result()))
    return got


def test_reads_of_several_chunks_with_corrupt_and_missing_ones_match_the_ordinary_read(tmp_path, monkeypatch,
                                                                                      one_step):
    data = _data("<u4", (16, 16), seed=11)
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc("lz4", 2))
    frames = {name: (tmp_path / "a" / name).read_bytes() for name in ("0.0", "0.1", "1.0", "1.1")}
    intact = dict(frames)
    payloads = {
        "intact": intact,
        "one missing": {**intact, "1.0": None},
        "one truncated": {**intact, "0.1": frames["0.1"][:-5]},
        # Two bad chunks: the first in order is the one reported, as chunk after chunk.
        "two bad": {**intact, "0.1": b"\x02\x01", "1.1": frames["1.1"][:20]},
        "bad and missing": {**intact, "0.0": None, "1.0": frames["1.0"][:-1]},
    }
    fast = _several_chunk_outcomes(tmp_path / "a", payloads)
    assert one_step  # (the intact chunks were read in one step)
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
    assert fast == _several_chunk_outcomes(tmp_path / "a", payloads)
    assert fast["intact"][0] == ("value", data[3:13, 2:14].tobytes())
    assert fast["intact"][2] == ("value", data[[1, 9, 2, 12], [3, 4, 10, 15]].tobytes())
    assert all(outcome[0] != "value" for outcome in fast["two bad"])


def test_reads_of_several_chunks_from_many_threads(tmp_path):
    data = _data("<f4", (64, 64, 8), seed=12)
    theirs = _write_with_tensorstore(tmp_path / "a", data, (16, 16, 8), _blosc())
    ours = ts.open(_spec(tmp_path / "a")).result()
    boxes = [np.s_[i:i + 20, j:j + 3] for i in range(0, 44, 7) for j in range(0, 60, 13)]
    expected = [theirs[b].read().result() for b in boxes]
    errors = []

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for k in rng.permutation(len(boxes)):
            got = ours[boxes[k]].read().result()
            if not np.array_equal(got, expected[k]):
                errors.append((seed, k))

    # Three helpers (more than this machine may have CPUs for): batches shared three ways.
    file_chunk_reads._start_helpers(file_chunk_reads._chunkio())
    assert file_chunk_reads._chunkio().start_helpers(3) == 3
    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _read_in_child(path: str, queue) -> None:
    store = ts.open(_spec(path)).result()
    queue.put(store[3:13, 2:14].read().result().tobytes())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_reads_of_several_chunks_in_a_forked_child(tmp_path):
    data = _data("<i4", (16, 16), seed=13)
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc())
    ours = ts.open(_spec(tmp_path / "a")).result()
    np.testing.assert_array_equal(ours[3:13, 2:14].read().result(), data[3:13, 2:14])  # helpers started here
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(str(tmp_path / "a"), queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and got == data[3:13, 2:14].tobytes()


def test_read_decode_many_outcomes_and_arguments(tmp_path):
    chunkio = file_chunk_reads._chunkio()
    data = _data("<f8", (8, 8), seed=14)
    _write_with_tensorstore(tmp_path / "a", data, (8, 8), _blosc())
    path = os.fsencode(tmp_path / "a" / "0.0")
    outs = [np.empty((8, 8)) for _ in range(4)]
    placed = np.zeros((3, 4))
    jobs = [(path, chunkio.BLOSC, outs[0], None, None),
            (os.fsencode(tmp_path / "a" / "nothing"), chunkio.BLOSC, outs[1], None, None),
            (path, chunkio.BLOSC, outs[2], placed, outs[2][1:7:2, ::2]),
            (path, chunkio.BLOSC, np.empty(3), None, None)]  # a buffer of another size: refused
    outcomes = chunkio.read_decode_many(jobs)
    assert outcomes[0][0] == os.path.getsize(tmp_path / "a" / "0.0")
    assert outcomes[1][0] == chunkio.NOT_A_FILE
    assert outcomes[2][0] > 0 and outcomes[3][0] == chunkio.REFUSED
    np.testing.assert_array_equal(outs[0], data)
    np.testing.assert_array_equal(placed, data[1:7:2, ::2])
    assert chunkio.read_decode_many([]) == []
    with pytest.raises(ValueError, match="place must have"):
        chunkio.read_decode_many([(path, chunkio.BLOSC, outs[0], np.zeros((2, 2)), None)])
    with pytest.raises(ValueError, match="place must have"):  # part is not a view of out
        chunkio.read_decode_many([(path, chunkio.BLOSC, outs[0], np.zeros((8, 8)), outs[1])])


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
