"""zarr3 arrays written by one library and read by the other (tensorstore_py <-> tensorstore
0.1.86) over every data type, codec and sharding layout, ranks 0 to 5, zero-size arrays, edge
chunks and shards, and chunks / sub-chunks never written (which read as the fill value).
Where the encoding is deterministic the stored bytes are compared too."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorstore_py as ts
from zarr3_helpers import DATA_TYPES, random_array, ref

LIBS = {"ours": ts, "ref": ref}

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
INDEX = [BYTES, {"name": "crc32c"}]


def _shard(chunk, codecs=None, index=None, location="end"):
    return {"name": "sharding_indexed", "configuration": {
        "chunk_shape": chunk, "codecs": codecs or [BYTES], "index_codecs": index or INDEX, "index_location": location}}


CODECS = {
    "bytes": [BYTES],
    "big endian": [{"name": "bytes", "configuration": {"endian": "big"}}],
    "transpose": [{"name": "transpose", "configuration": {"order": [1, 0, 2]}}, BYTES],
    "gzip": [BYTES, {"name": "gzip", "configuration": {"level": 5}}],
    "zstd checksum": [BYTES, {"name": "zstd", "configuration": {"level": 3, "checksum": True}}],
    "blosc": [BYTES, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle", "typesize": 2, "blocksize": 0}}],
    "crc32c": [BYTES, {"name": "crc32c"}],
    "gzip crc32c": [BYTES, {"name": "gzip", "configuration": {"level": 1}}, {"name": "crc32c"}],
    "shard end": [_shard([2, 3, 2])],
    "shard start": [_shard([2, 3, 2], location="start")],
    "shard zstd": [_shard([2, 3, 2], codecs=[BYTES, {"name": "zstd", "configuration": {"level": 3, "checksum": False}}])],
    "shard transpose inside": [_shard([2, 3, 2], codecs=[{"name": "transpose", "configuration": {"order": [2, 0, 1]}}, BYTES])],
    "transpose outside shard": [{"name": "transpose", "configuration": {"order": [1, 0, 2]}}, _shard([3, 2, 2])],
    "shard index no crc": [_shard([2, 3, 2], index=[BYTES])],
    "nested shards": [_shard([2, 3, 2], codecs=[_shard([1, 3, 1])])],
    "shard whole chunk": [_shard([4, 6, 4])],
}
DETERMINISTIC = {"bytes", "big endian", "transpose", "crc32c", "shard end", "shard start", "shard index no crc",
                 "nested shards", "shard whole chunk", "shard transpose inside", "transpose outside shard"}


def _spec(path, codecs, dtype="uint16", shape=(9, 7, 5), chunk=(4, 6, 4), fill=0, key_encoding=None):
    metadata = {
        "shape": list(shape), "data_type": dtype, "fill_value": fill,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunk)}},
        "codecs": codecs,
    }
    if key_encoding is not None:
        metadata["chunk_key_encoding"] = key_encoding
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path) + "/"}, "metadata": metadata}


def _write_pattern(lib, spec, data, regions):
    store = lib.open(spec, create=True, delete_existing=True).result()
    for region in regions:
        store[region] = data[region]
    return store


def _read(lib, spec):
    return lib.open({"driver": "zarr3", "kvstore": spec["kvstore"]}).result().read().result()


def _files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            if ".lock" in name:
                continue
            with open(full, "rb") as f:
                out[os.path.relpath(full, root)] = f.read()
    return out


def _expected(data, regions, fill):
    out = np.empty_like(data)
    out[...] = fill
    for region in regions:
        out[region] = data[region]
    return out


REGIONS_3D = [np.s_[0:5, 1:7, 0:5], np.s_[8:9, 0:2, 3:5]]  # leaves chunks and sub-chunks unwritten


def _check(tmp_path, codecs_name, codecs, dtype="uint16", fill=0, shape=(9, 7, 5), chunk=(4, 6, 4), regions=None,
           key_encoding=None, compare_bytes=None):
    regions = REGIONS_3D if regions is None else regions
    data = random_array(dtype, shape, seed=len(codecs_name))
    if isinstance(fill, list):
        fill_np = np.asarray(complex(*fill)).astype(data.dtype)
    else:
        fill_np = np.asarray(fill).astype(data.dtype)
    expected = _expected(data, regions, fill_np)
    stored = {}
    for writer in ("ours", "ref"):
        path = tmp_path / writer
        spec = _spec(path, codecs, dtype, shape, chunk, fill, key_encoding)
        _write_pattern(LIBS[writer], spec, data, regions)
        stored[writer] = _files(path)
        for reader in ("ours", "ref"):
            got = _read(LIBS[reader], spec)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got.reshape(-1).view(np.uint8), expected.reshape(-1).view(np.uint8), err_msg=f"{writer} -> {reader}")
    if compare_bytes if compare_bytes is not None else codecs_name in DETERMINISTIC:
        assert stored["ours"] == stored["ref"]
    else:
        assert sorted(stored["ours"]) == sorted(stored["ref"])


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codecs(tmp_path, name):
    _check(tmp_path, name, CODECS[name])


@pytest.mark.parametrize("dtype", DATA_TYPES)
def test_data_types(tmp_path, dtype):
    if dtype == "float8_e8m0fnu":
        pytest.skip("TensorStore 0.1.86 maps float8_e8m0fnu fill values to and from JSON with an "
                    "exponent bias of 63 (1.0 reads as 2**-64): not reproduced")
    fill = [0, 0] if dtype.startswith("complex") else (False if dtype == "bool" else 1)
    one_byte = ts.dtype(dtype).numpy_dtype.itemsize == 1
    codecs = [{"name": "bytes"} if one_byte else BYTES, {"name": "crc32c"}]
    _check(tmp_path, "crc32c", codecs, dtype=dtype, fill=fill)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64", "complex64"])
def test_data_types_sharded(tmp_path, dtype):
    inner = [{"name": "bytes"}] if dtype == "uint8" else [BYTES]
    fill = [1, 2] if dtype == "complex64" else 3
    _check(tmp_path, "shard end", [_shard([2, 3, 2], codecs=inner)], dtype=dtype, fill=fill)


@pytest.mark.parametrize("encoding", [
    {"name": "default"}, {"name": "default", "configuration": {"separator": "."}},
    {"name": "v2"}, {"name": "v2", "configuration": {"separator": "/"}},
], ids=["default", "default dot", "v2", "v2 slash"])
def test_key_encodings(tmp_path, encoding):
    _check(tmp_path, "bytes", [BYTES], key_encoding=encoding)


RANKS = {
    0: ((), (), [np.s_[()]]),
    1: ((11,), (4,), [np.s_[2:7]]),
    2: ((5, 9), (2, 4), [np.s_[0:3, 2:9]]),
    3: ((5, 4, 3), (2, 2, 2), [np.s_[1:4, 0:3, 1:3]]),
    4: ((3, 4, 2, 5), (2, 2, 2, 2), [np.s_[0:2, 1:4, 0:1, 2:5]]),
    5: ((2, 3, 2, 3, 2), (1, 2, 2, 2, 1), [np.s_[0:1, 1:3, 0:2, 0:3, 1:2]]),
}


@pytest.mark.parametrize("rank", sorted(RANKS))
@pytest.mark.parametrize("sharded", [False, True])
def test_ranks(tmp_path, rank, sharded):
    shape, chunk, regions = RANKS[rank]
    if sharded and rank:
        codecs = [_shard([1] * rank)]
    elif sharded:
        codecs = [_shard([])]
    else:
        codecs = [BYTES]
    _check(tmp_path, "shard end" if sharded else "bytes", codecs, shape=shape, chunk=chunk, regions=regions)


@pytest.mark.parametrize("sharded", [False, True])
def test_zero_size(tmp_path, sharded):
    codecs = [_shard([2, 1, 2])] if sharded else [BYTES]
    _check(tmp_path, "bytes", codecs, shape=(0, 3, 4), chunk=(2, 3, 4), regions=[np.s_[0:0, :, :]])


def test_shard_larger_than_array(tmp_path):
    _check(tmp_path, "shard end", [_shard([4, 4, 4])], shape=(3, 5, 2), chunk=(8, 8, 8), regions=[np.s_[0:2, 1:5, 0:2]])


def test_fill_value_chunks_not_stored(tmp_path):
    spec = _spec(tmp_path / "a", [_shard([2, 3, 2])], fill=7)
    store = ts.open(spec, create=True).result()
    store[...] = 7
    assert sorted(_files(tmp_path / "a")) == ["zarr.json"]
    store[0, 0, 0] = 1
    assert sorted(_files(tmp_path / "a")) == ["c/0/0/0", "zarr.json"]
    assert _read(ref, spec)[0, 0, 0] == 1
