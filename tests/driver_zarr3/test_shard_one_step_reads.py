"""Sub-chunks of zarr3 shards in a `file` store read in one step (driver/file_chunk_reads.py):
each is its byte range of the shard file, where the shard's index (cached at any age) says it
is, and the read refuses a file that is no longer the one indexed.  Checked against numpy and
tensorstore, with missing sub-chunks, shards rewritten behind the reader's back and a corrupt
sub-chunk, and against the ordinary read for what it raises."""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore_py as ts
from tensorstore_py.driver.file_chunk_reads import FileChunkReads
from tensorstore_py.driver.zarr3.sharded_store import ShardedStore

ref = pytest.importorskip("tensorstore")

SHAPE, SHARD, INNER = (40, 36, 20), (16, 16, 20), (8, 8, 10)


def _codecs(inner_codecs, levels=1):
    codecs = inner_codecs
    if levels == 2:
        codecs = [{"name": "sharding_indexed", "configuration": {"chunk_shape": [4, 4, 5], "codecs": codecs}}]
    return [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(INNER), "codecs": codecs,
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]


_ZSTD = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 3}}]
_BLOSC = [{"name": "bytes", "configuration": {"endian": "little"}},
          {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 2}}]
_GZIP = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "gzip", "configuration": {"level": 1}}]


def _spec(path, codecs):
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path) + "/"},
            "metadata": {"shape": list(SHAPE), "data_type": "uint16", "fill_value": 7,
                         "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(SHARD)}},
                         "codecs": codecs}}


def _data():
    return (np.arange(np.prod(SHAPE)) % 5000).astype(np.uint16).reshape(SHAPE)


def _one_step(store):
    engine = store._driver.engine
    return FileChunkReads.for_array(engine.fmt, engine.kv)


@pytest.mark.parametrize("inner,levels,taken", [(_ZSTD, 1, True), (_BLOSC, 1, True), (_GZIP, 1, False),
                                                (_ZSTD, 2, False)], ids=["zstd", "blosc", "gzip", "nested"])
def test_which_sharded_arrays_are_read_in_one_step(tmp_path, inner, levels, taken):
    store = ts.open(_spec(tmp_path, _codecs(inner, levels)), create=True).result()
    assert (_one_step(store) is not None) == taken


@pytest.mark.parametrize("inner", [_ZSTD, _BLOSC], ids=["zstd", "blosc"])
def test_reads_match_numpy_and_tensorstore(tmp_path, inner, monkeypatch):
    data = _data()
    theirs = ref.open(_spec(tmp_path, _codecs(inner)), create=True).result()
    theirs[:, :, :].write(data).result()
    theirs[16:32, 0:16, :].write(np.full((16, 16, 20), 7, np.uint16)).result()  # a shard of fill only
    theirs[0:8, 0:8, 0:10].write(np.full((8, 8, 10), 7, np.uint16)).result()  # a missing sub-chunk
    data[16:32, 0:16, :] = 7
    data[0:8, 0:8, 0:10] = 7
    located = []
    entry_location = ShardedStore.entry_location
    monkeypatch.setattr(ShardedStore, "entry_location", lambda self, key: located.append(key) or entry_location(self, key))
    ours = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path) + "/"}}).result()
    rng = np.random.default_rng(3)
    for _ in range(60):
        lo = [int(rng.integers(0, n - 1)) for n in SHAPE]
        box = tuple(slice(a, int(rng.integers(a + 1, min(n, a + 12) + 1))) for a, n in zip(lo, SHAPE))
        np.testing.assert_array_equal(ours[box].read().result(), data[box])
        np.testing.assert_array_equal(ours[box].read().result(), theirs[box].read().result())
    np.testing.assert_array_equal(ours.read().result(), data)
    assert located  # the sub-chunks were located in their shards, read in one step


def test_a_shard_rewritten_behind_the_reader_is_read_anew(tmp_path):
    theirs = ref.open(_spec(tmp_path, _codecs(_ZSTD)), create=True).result()
    theirs.write(_data()).result()
    ours = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path) + "/"}}).result()
    box = np.s_[2:14, 3:13, 4:16]  # 4 sub-chunks of one shard
    np.testing.assert_array_equal(ours[box].read().result(), _data()[box])  # its index is cached now
    for value in (11, 12, 13):
        theirs[0:16, 0:16, :].write(np.full((16, 16, 20), value, np.uint16)).result()  # a new file each time
        assert (ours[box].read().result() == value).all()
        assert (ours[5, 5, 5].read().result() == value).all()


def test_a_corrupt_sub_chunk_raises_what_the_ordinary_read_raises(tmp_path, monkeypatch):
    theirs = ref.open(_spec(tmp_path, _codecs(_ZSTD)), create=True).result()
    theirs.write(_data()).result()
    shard = tmp_path / "c" / "0" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[40:60] = b"\xff" * 20  # inside the first sub-chunk's frame
    shard.write_bytes(bytes(raw))
    messages = []
    for one_step in (True, False):
        if not one_step:
            monkeypatch.setattr(FileChunkReads, "for_array", classmethod(lambda cls, fmt, kv: None))
        ours = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path) + "/"}},
                       context=ts.Context()).result()
        with pytest.raises(ValueError) as info:
            ours[0:4, 0:4, 0:4].read().result()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "shard entry" in messages[0]


def test_chunkio_reads_a_byte_range_of_the_file_it_was_told(tmp_path):
    import os

    import zstandard

    from tensorstore_py.driver import file_chunk_reads

    chunkio = file_chunk_reads._chunkio()
    if chunkio is None or not chunkio.bound(chunkio.ZSTD):
        pytest.skip("c-blosc2's zstd not available")
    values = np.arange(1000, dtype=np.uint16)
    frame = zstandard.ZstdCompressor().compress(values.tobytes())
    path = tmp_path / "shard"
    path.write_bytes(b"x" * 13 + frame + b"y" * 7)
    st = os.stat(path)
    identity = (st.st_dev, st.st_ino, st.st_mtime_ns)
    out = np.zeros(1000, np.uint16)
    read = lambda **kw: chunkio.read_decode_into(bytes(path), chunkio.ZSTD, out, None, None, None, 0, **kw)  # noqa: E731
    assert read(offset=13, length=len(frame), identity=identity)[0] == len(frame)
    np.testing.assert_array_equal(out, values)
    assert read(offset=13, length=len(frame), identity=(st.st_dev, st.st_ino, st.st_mtime_ns + 1))[0] == chunkio.REFUSED
    assert read(offset=14, length=len(frame) + 7)[0] == chunkio.REFUSED  # past the end of the file
    assert read(offset=12, length=len(frame))[0] < 0  # not the frame
    assert read()[0] < 0  # the whole file is no frame
    with pytest.raises(ValueError):
        read(offset=-1, length=3)
    many = chunkio.read_decode_many([(bytes(path), chunkio.ZSTD, out, None, None, None, 0, 13, len(frame), identity)])
    assert many[0][0] == len(frame)
