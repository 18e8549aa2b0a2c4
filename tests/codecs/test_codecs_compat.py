"""Byte compatibility: chunks we encode are read by numcodecs and by the reference TensorStore,
and chunks they write are decoded by us."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codecs_helpers import (
    ref_read_n5_block, ref_read_zarr_chunk, ref_write_n5_block, ref_write_zarr_chunk,
    sample_array,
)  # fmt: skip
from tensorstore_py import codecs

ZARR_COMPRESSORS = [
    {"id": "blosc"},
    {"id": "blosc", "cname": "zstd", "clevel": 9, "shuffle": 2},
    {"id": "blosc", "cname": "blosclz", "clevel": 1, "shuffle": 0},
    {"id": "blosc", "cname": "lz4hc", "clevel": 7, "shuffle": 1, "blocksize": 2048},
    {"id": "blosc", "cname": "zlib", "clevel": 3, "shuffle": -1},
    {"id": "blosc", "cname": "lz4", "clevel": 0},
    {"id": "zlib"}, {"id": "zlib", "level": 9}, {"id": "zlib", "level": 0},
    {"id": "gzip"}, {"id": "gzip", "level": 6},
    {"id": "bz2"}, {"id": "bz2", "level": 9},
    {"id": "zstd"}, {"id": "zstd", "level": 19}, {"id": "zstd", "level": -5},
]  # fmt: skip

N5_COMPRESSIONS = [
    {"type": "raw"},
    {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
    {"type": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 4096},
    {"type": "blosc", "cname": "zlib", "clevel": 9, "shuffle": 0},
    {"type": "gzip"}, {"type": "gzip", "level": 9}, {"type": "gzip", "useZlib": True},
    {"type": "bzip2"}, {"type": "bzip2", "blockSize": 1},
    {"type": "xz"}, {"type": "xz", "preset": 1},
    {"type": "zstd"}, {"type": "zstd", "level": 10},
]  # fmt: skip

DTYPES = ["uint8", "int16", "int32", "float64"]


def _ids(j):
    return ",".join(f"{k}={v}" for k, v in j.items())


def _numcodecs_codec(j: dict):
    """The numcodecs codec for a zarr compressor JSON (numcodecs' names for the same formats)."""
    j = dict(j)
    kind = j.pop("id")
    if kind == "blosc":
        full = codecs.zarr_compressor_from_json({"id": "blosc", **j}).to_json()
        return numcodecs.Blosc(cname=full["cname"], clevel=full["clevel"], shuffle=full["shuffle"],
                               blocksize=full["blocksize"])
    level = codecs.zarr_compressor_from_json({"id": kind, **j}).to_json()["level"]
    return {"zlib": numcodecs.Zlib, "gzip": numcodecs.GZip, "bz2": numcodecs.BZ2,
            "zstd": numcodecs.Zstd}[kind](level=level)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("j", ZARR_COMPRESSORS, ids=_ids)
def test_zarr_round_trip_with_numcodecs(j, dtype):
    codec = codecs.zarr_compressor_from_json(j)
    nc = _numcodecs_codec(j)
    array = sample_array(dtype, 3000)
    raw = array.tobytes()
    ours = codec.encode(array, array.itemsize)
    assert isinstance(ours, bytes)
    assert bytes(nc.decode(ours)) == raw
    theirs = nc.encode(array)
    assert bytes(codec.decode(theirs)) == raw
    out = np.empty_like(array)
    assert codec.decode(theirs, out=out) is out
    np.testing.assert_array_equal(out, array)
    assert bytes(codec.decode(ours, expected_size=len(raw))) == raw


def test_blosc_frames_match_numcodecs_byte_for_byte():
    # Same c-blosc 1.x compressors and parameters: identical frames, not merely compatible ones.
    array = sample_array("int32", 5000)
    for j in ZARR_COMPRESSORS[:6]:
        if "blocksize" in j:
            continue
        codec = codecs.zarr_compressor_from_json(j)
        assert codec.encode(array, 4) == _numcodecs_codec(j).encode(array), j


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64"])
@pytest.mark.parametrize("j", ZARR_COMPRESSORS, ids=_ids)
def test_zarr_chunks_exchange_with_reference(tmp_path, j, dtype):
    codec = codecs.zarr_compressor_from_json(j)
    array = sample_array(dtype, 2000, seed=1)
    written = ref_write_zarr_chunk(str(tmp_path / "ref"), j, array)
    assert bytes(codec.decode(written, expected_size=array.nbytes)) == array.tobytes()
    ours = codec.encode(array, array.itemsize)
    read = ref_read_zarr_chunk(str(tmp_path / "ours"), j, array.dtype, array.size, ours)
    np.testing.assert_array_equal(read, array)


def test_zarr_uncompressed_is_none():
    assert codecs.zarr_compressor_from_json(None) is None


@pytest.mark.parametrize("dtype", ["uint8", "int32"])
@pytest.mark.parametrize("j", N5_COMPRESSIONS, ids=_ids)
def test_n5_blocks_exchange_with_reference(tmp_path, j, dtype):
    codec = codecs.n5_compression_from_json(j)
    array = sample_array(dtype, 2000, seed=2)
    # n5 stores elements big-endian.
    raw = array.astype(array.dtype.newbyteorder(">")).tobytes()
    written = ref_write_n5_block(str(tmp_path / "ref"), j, array)
    assert bytes(codec.decode(written, expected_size=len(raw))) == raw
    ours = codec.encode(raw, array.itemsize)
    read = ref_read_n5_block(str(tmp_path / "ours"), j, array.dtype, array.size, ours)
    np.testing.assert_array_equal(read, array)


def test_blosc_frames_match_reference_byte_for_byte(tmp_path):
    for dtype in ["uint8", "int32", "float64"]:
        array = sample_array(dtype, 4000, seed=3)
        for j in [{"id": "blosc"}, {"id": "blosc", "cname": "zstd", "shuffle": 2}]:
            written = ref_write_zarr_chunk(str(tmp_path / dtype), j, array)
            ours = codecs.zarr_compressor_from_json(j).encode(array, array.itemsize)
            assert ours == written, (dtype, j)


def test_n5_gzip_reads_either_wrapper():
    raw = sample_array("int16", 999).tobytes()
    gz = codecs.n5_compression_from_json({"type": "gzip"})
    zl = codecs.n5_compression_from_json({"type": "gzip", "useZlib": True})
    assert gz.encode(raw)[:2] == b"\x1f\x8b" and zl.encode(raw)[:1] == b"\x78"
    for codec in (gz, zl):
        for other in (gz, zl):
            assert bytes(codec.decode(other.encode(raw), expected_size=len(raw))) == raw


def test_gzip_accepts_concatenated_members():
    raw = b"abc" * 1000
    gz = codecs.zarr_compressor_from_json({"id": "gzip"})
    both = gz.encode(raw) + gz.encode(raw)
    assert bytes(gz.decode(both)) == raw * 2
    assert bytes(gz.decode(both, out=bytearray(len(raw) * 2))) == raw * 2


@pytest.mark.parametrize("j", ZARR_COMPRESSORS[:8] + [{"id": "bz2"}, {"id": "zstd"}], ids=_ids)
def test_decode_into_buffers_of_other_types(j):
    codec = codecs.zarr_compressor_from_json(j)
    array = sample_array("int32", 1200).reshape(30, 40)
    enc = codec.encode(array, 4)
    out = np.zeros((30, 40), "int32")
    codec.decode(enc, out=out)
    np.testing.assert_array_equal(out, array)
    # A larger buffer: only the expected prefix is written and returned.
    big = bytearray(array.nbytes + 10)
    view = codec.decode(enc, out=big, expected_size=array.nbytes)
    assert bytes(view) == array.tobytes() and big[-10:] == bytes(10)
    # Input given as a memoryview slice and as a numpy array.
    padded = b"xx" + enc
    assert bytes(codec.decode(memoryview(padded)[2:])) == array.tobytes()
    assert bytes(codec.decode(np.frombuffer(enc, np.uint8))) == array.tobytes()


def test_encode_accepts_non_contiguous_input():
    array = sample_array("int32", 4000).reshape(40, 100)[:, ::2]
    for j in [{"id": "blosc"}, {"id": "zlib"}, {"id": "zstd"}]:
        codec = codecs.zarr_compressor_from_json(j)
        assert bytes(codec.decode(codec.encode(array, 4))) == np.ascontiguousarray(array).tobytes()


def test_empty_chunks_round_trip():
    for j in ZARR_COMPRESSORS[:7] + [{"id": "gzip"}, {"id": "bz2"}, {"id": "zstd"}]:
        codec = codecs.zarr_compressor_from_json(j)
        enc = codec.encode(b"", 1)
        assert bytes(codec.decode(enc)) == b""
        assert bytes(codec.decode(enc, out=bytearray())) == b""
    for j in N5_COMPRESSIONS:
        codec = codecs.n5_compression_from_json(j)
        assert bytes(codec.decode(codec.encode(b""), expected_size=0)) == b""


def test_blosc_blocksize_is_honoured_under_concurrency():
    from concurrent.futures import ThreadPoolExecutor

    data = sample_array("int32", 20000).tobytes()
    sizes = [0, 128, 256, 0, 512, 100000]
    cods = [codecs.zarr_compressor_from_json({"id": "blosc", "blocksize": b}) for b in sizes]
    expected = {b: c.encode(data, 4) for b, c in zip(sizes, cods)}
    # c-blosc honours small forced block sizes exactly (larger ones it may round).
    for b in (128, 256):
        assert int.from_bytes(expected[b][8:12], "little") == b
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: (sizes[i % 6], cods[i % 6].encode(data, 4)), range(120)))
    for b, enc in results:
        assert enc == expected[b]


def test_snappy_is_reported_as_unavailable():
    import blosc

    codec = codecs.zarr_compressor_from_json({"id": "blosc", "cname": "snappy"})
    assert codec.to_json()["cname"] == "snappy"
    if "snappy" in blosc.compressor_list():
        pytest.skip("this c-blosc build has snappy")
    with pytest.raises(ValueError, match="UNIMPLEMENTED: .*snappy"):
        codec.encode(b"abcd", 1)


def test_snappy_chunks_from_reference_are_reported_as_unsupported(tmp_path):
    import blosc

    if "snappy" in blosc.compressor_list():
        pytest.skip("this c-blosc build has snappy")
    j = {"id": "blosc", "cname": "snappy"}
    array = sample_array("int32", 1000)
    written = ref_write_zarr_chunk(str(tmp_path), j, array)
    with pytest.raises(ValueError, match="^UNIMPLEMENTED: Blosc chunk is compressed with snappy"):
        codecs.zarr_compressor_from_json(j).decode(written, expected_size=array.nbytes)


def test_blosc_forced_blocksize_matches_reference(tmp_path):
    array = sample_array("int32", 6000, seed=4)
    for j in [{"id": "blosc", "blocksize": 4096}, {"id": "blosc", "cname": "zstd", "blocksize": 1000},
              {"id": "blosc", "blocksize": 256}]:
        written = ref_write_zarr_chunk(str(tmp_path / "b"), j, array)
        assert codecs.zarr_compressor_from_json(j).encode(array, 4) == written


def test_buffers_without_a_buffer_format():
    import ml_dtypes

    for dtype in [ml_dtypes.bfloat16, "M8[s]", "c16", "i4,f8"]:
        array = np.arange(64).astype(dtype)
        for j in [{"id": "blosc"}, {"id": "zlib"}, {"id": "zstd"}]:
            codec = codecs.zarr_compressor_from_json(j)
            enc = codec.encode(array, array.dtype.itemsize)
            out = np.zeros_like(array)
            codec.decode(enc, out=out)
            assert out.tobytes() == array.tobytes()
            strided = np.zeros(128, dtype)[::2]
            assert bytes(codec.decode(codec.encode(strided, 2))) == bytes(strided.nbytes)
    empty = np.zeros((2, 0))
    codec = codecs.zarr_compressor_from_json({"id": "zlib"})
    assert bytes(codec.decode(codec.encode(empty, 8), out=np.zeros((0, 3)))) == b""


_ALL_JSON = [("zarr", j) for j in ZARR_COMPRESSORS] + [("n5", j) for j in N5_COMPRESSIONS]


@settings(max_examples=120, deadline=None)
@given(case=st.sampled_from(_ALL_JSON), data=st.binary(max_size=5000),
       itemsize=st.sampled_from([1, 2, 4, 8, 16, 300]))
def test_round_trip_property(case, data, itemsize):
    flavour, j = case
    codec = (codecs.zarr_compressor_from_json if flavour == "zarr"
             else codecs.n5_compression_from_json)(j)
    enc = codec.encode(data, itemsize)
    assert bytes(codec.decode(enc)) == data
    out = bytearray(len(data))
    codec.decode(enc, out=out)
    assert out == data
    if flavour == "zarr" and data:
        # (numcodecs' Blosc cannot decode even its own frame of an empty buffer.)
        assert bytes(_numcodecs_codec(j).decode(enc)) == data
