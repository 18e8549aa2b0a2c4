"""Chunk and shard bytes against TensorStore 0.1.86: for each codec and combination, what our
chain encodes is byte-identical to the chunk TensorStore writes (gzip: TensorStore's zlib build
makes a different, equally valid DEFLATE stream, so there both sides read each other's
bytes), and each library decodes the other's chunks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorstore as ref

from tensorstore_py.driver.zarr3.codec_json import (
    fill_zarr3_defaults, parse_zarr3_codecs, resolve_zarr3_codecs,
)  # fmt: skip


def T(order):
    return {"name": "transpose", "configuration": {"order": order}}


def S(chunk_shape, **config):
    return {"name": "sharding_indexed", "configuration": dict(chunk_shape=chunk_shape, **config)}


CASES = [
    (["bytes"], "uint16"), ([{"name": "bytes", "configuration": {"endian": "big"}}], "int32"),
    ([{"name": "bytes", "configuration": {"endian": "big"}}], "complex64"),
    ([T([1, 0]), "bytes"], "float32"), ([T("F"), {"name": "bytes", "configuration": {
        "endian": "big"}}], "float64"),
    (["zstd"], "uint16"), ([{"name": "zstd", "configuration": {"checksum": True, "level": 5}}],
                           "int64"),
    (["blosc"], "uint16"), (["blosc"], "uint8"), (["blosc"], "bool"),
    ([{"name": "blosc", "configuration": {"shuffle": "noshuffle"}}], "uint16"),
    ([{"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3}}], "float64"),
    ([{"name": "blosc", "configuration": {"cname": "zlib", "typesize": 4,
                                          "shuffle": "bitshuffle"}}], "uint16"),
    (["crc32c"], "uint16"), (["zstd", "crc32c"], "int16"),
    ([S([4, 4])], "uint16"), ([S([4, 4], index_location="start")], "uint16"),
    ([S([4, 4], codecs=["zstd"])], "uint16"), ([S([2, 8], codecs=["blosc", "crc32c"])], "int32"),
    ([S([4, 4], index_codecs=[{"name": "bytes", "configuration": {"endian": "big"}}])], "uint8"),
    ([S([8, 8])], "float32"),
    ([S([4, 4], codecs=[S([2, 2])])], "uint16"),
    ([S([4, 4], codecs=[S([2, 2], index_location="start", codecs=["zstd"])])], "uint16"),
    ([T([1, 0]), S([4, 2], codecs=[T([1, 0]), "zstd"])], "int16"),
    (["gzip"], "uint16"), ([S([4, 4], codecs=["gzip"])], "uint16"),
]
GZIP_DIFFERS = "gzip"


def _array(dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 50, size=(8, 8))
    a = (a % 2).astype(bool) if dtype == "bool" else a.astype(dtype)
    a[:4, :4] = 0  # an inner chunk equal to the fill value is left out of a shard
    a[0, 7] = 0
    return a


def _ref_store(path: str, codecs, dtype: str):
    fill = False if dtype == "bool" else [0, 0] if dtype.startswith("complex") else 0
    return ref.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path},
                     "metadata": {"codecs": codecs, "data_type": dtype, "fill_value": fill,
                                  "chunk_grid": {"name": "regular",
                                                 "configuration": {"chunk_shape": [8, 8]}}}},
                    create=True, delete_existing=True, shape=[8, 8]).result()


def _our_chain(path: str, dtype: str):
    with open(os.path.join(path, "zarr.json")) as f:
        meta = json.load(f)
    np_dtype = np.dtype(dtype) if dtype != "bool" else np.dtype(bool)
    return resolve_zarr3_codecs(parse_zarr3_codecs(meta["codecs"]), [8, 8], np_dtype,
                                strict=True)


@pytest.mark.parametrize("codecs,dtype", CASES, ids=lambda c: json.dumps(c)[:50])
def test_chunk_bytes_match_tensorstore(tmp_path, codecs, dtype):
    path = str(tmp_path)
    a = _array(dtype, 1)
    store = _ref_store(path, codecs, dtype)
    store.write(a).result()
    with open(os.path.join(path, "c", "0", "0"), "rb") as f:
        theirs = f.read()
    chain = _our_chain(path, dtype)
    ours = bytes(chain.encode(a))
    if GZIP_DIFFERS not in json.dumps(codecs):
        assert ours == theirs
    # Each decodes the other's chunk.
    np.testing.assert_array_equal(chain.decode(theirs), a)
    out = np.empty((8, 8), dtype=a.dtype, order="F")
    assert chain.decode(theirs, out=out) is out
    np.testing.assert_array_equal(out, a)
    b = _array(dtype, 2)
    with open(os.path.join(path, "c", "0", "0"), "wb") as f:
        f.write(bytes(chain.encode(b)))
    np.testing.assert_array_equal(store.read().result(), b)


def test_all_fill_shard_is_not_stored(tmp_path):
    path = str(tmp_path)
    store = _ref_store(path, [S([4, 4])], "uint16")
    store.write(np.zeros((8, 8), np.uint16)).result()
    assert not os.path.exists(os.path.join(path, "c", "0", "0"))
    chain = _our_chain(path, "uint16")
    assert chain.encode(np.zeros((8, 8), np.uint16)) is None


def test_open_options_must_be_filled():
    with pytest.raises(ValueError, match="leaves level, checksum unspecified"):
        resolve_zarr3_codecs(parse_zarr3_codecs(["zstd"], constraint=True), [2], np.uint8)


def test_rank0_and_rank3_chains_round_trip():
    for shape, codecs in [((), ["bytes", "zstd"]), ((2, 4, 6), [T([2, 0, 1]), S([3, 1, 2], codecs=[
            {"name": "bytes", "configuration": {"endian": "big"}}, "crc32c"])])]:
        chain = resolve_zarr3_codecs(fill_zarr3_defaults(parse_zarr3_codecs(
            codecs, constraint=True)), shape, np.dtype("<i4"))
        a = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) + 1
        np.testing.assert_array_equal(chain.decode(chain.encode(a)), a)
