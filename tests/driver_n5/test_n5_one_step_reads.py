"""n5 blocks (the block header, then a Blosc frame of big-endian elements in reversed dimension
order) read, decoded, byte-swapped and placed in one step (`driver.file_chunk_reads`).  Checked
against tensorstore for the element types and reads; every block the one step does not take (a
truncated edge block, another mode, another header, a corrupt frame) reads exactly as the
ordinary read reads it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py import statistics
from tensorstore_py.driver import file_chunk_reads
from tensorstore_py.driver.n5.block import encode_block

pytestmark = pytest.mark.skipif(file_chunk_reads._chunkio() is None, reason="c-blosc2 not available")

READS = [Ellipsis, np.s_[3:29, 5:17, 1:], np.s_[::3, 2:20:5, 4], np.s_[7:9, 8:10, 0:2]]


@pytest.fixture
def one_step(monkeypatch):
    """The keys the one-step read decoded."""
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
    spec = {"driver": "n5", "kvstore": {"driver": "file", "path": str(path)}}
    if metadata is not None:
        spec["metadata"] = metadata
    return spec


def _data(dtype, shape):
    rng = np.random.default_rng(1)
    if np.dtype(dtype).kind == "f":
        return (np.arange(np.prod(shape)).reshape(shape) % 89 + rng.random(shape)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)


def _write(path, data, chunks, shuffle=1, cname="lz4"):
    meta = {"dimensions": list(data.shape), "blockSize": list(chunks), "dataType": np.dtype(data.dtype).name,
            "compression": {"type": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle}}
    store = ref.open(_spec(path, meta), create=True, delete_existing=True).result()
    store.write(data).result()
    return store


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "int64", "float32", "float64"])
@pytest.mark.parametrize("cname, shuffle", [("lz4", 1), ("zstd", 2), ("blosclz", 0)])
def test_reads_match_tensorstore(tmp_path, one_step, dtype, cname, shuffle):
    data = _data(dtype, (30, 21, 9))  # edge blocks on every dimension
    theirs = _write(tmp_path / "a", data, (8, 8, 4), shuffle, cname)
    ours = ts.open(_spec(tmp_path / "a")).result()
    assert ours._driver.engine.one_step_reads() is not None
    for index in READS:
        np.testing.assert_array_equal(ours[index].read().result(), theirs[index].read().result())
        np.testing.assert_array_equal(ours[index].read().result(), data[index])
    assert one_step


def _outcomes(path, key, payloads) -> dict:
    got = {}
    for case, payload in payloads.items():
        (path / key).write_bytes(payload)
        store = ts.open(_spec(path)).result()
        try:
            got[case] = ("value", store.read().result().tobytes(), store[1:7, 2:5, :].read().result().tobytes())
        except Exception as exc:  # noqa: BLE001 - compared by the caller
            got[case] = (type(exc).__name__, str(exc))
    return got


def test_blocks_it_does_not_take_read_as_the_ordinary_read(tmp_path, monkeypatch, one_step):
    data = _data("float32", (16, 16, 8))
    _write(tmp_path / "a", data, (8, 8, 8))
    store = ts.open(_spec(tmp_path / "a")).result()
    compression = store._driver.engine.fmt.codecs.array_to_bytes.compression
    block = (tmp_path / "a" / "0" / "0" / "0").read_bytes()
    header = 4 + 4 * 3
    payloads = {
        "as stored": block,
        "truncated edge block": encode_block(np.ascontiguousarray(data[:5, :8, :3]), compression),
        "varlength mode": (b"\x00\x01" + block[2:header] + (512).to_bytes(4, "big") + block[header:]),
        "varlength, wrong count": (b"\x00\x01" + block[2:header] + (7).to_bytes(4, "big") + block[header:]),
        "mode 2": b"\x00\x02" + block[2:],
        "rank 2 header": b"\x00\x00\x00\x02" + block[4:],
        "larger than blockSize": block[:4] + (9).to_bytes(4, "big") + block[8:],
        "header only": block[:header],
        "corrupt frame": block[:header + 20] + bytes(b ^ 0x33 for b in block[header + 20:]),
        "truncated frame": block[:-9],
        "empty": b"",
    }
    ours = _outcomes(tmp_path / "a", "0/0/0", payloads)
    assert one_step  # (the block as stored, and the other blocks of the array)
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
    ordinary = _outcomes(tmp_path / "a", "0/0/0", payloads)
    assert ours == ordinary
    assert ours["as stored"][0] == "value" and ours["corrupt frame"][0] != "value"
    np.testing.assert_array_equal(np.frombuffer(ours["as stored"][1], np.float32).reshape(data.shape), data)


def test_statistics_count_the_same_reads(tmp_path, monkeypatch, one_step):
    _write(tmp_path / "a", _data("int16", (20, 20, 4)), (8, 8, 4))

    def counted():
        store = ts.open(_spec(tmp_path / "a")).result()
        with statistics.record() as rec:
            store[2:19, 3:17, :].read().result()
        stats = rec.statistics
        return stats.chunks_read, stats.kvstore_reads, stats.bytes_read, stats.elements_read

    ours = counted()
    assert one_step
    monkeypatch.setattr(file_chunk_reads.FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
    assert counted() == ours
