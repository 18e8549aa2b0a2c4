"""The n5 dialect of the codec chain: transpose "F", then the block codec holding the header and
the big-endian elements with the compression inside it (the header is stored uncompressed)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import tensorstore_py as ts
from n5_helpers import COMPRESSIONS, random_data, ref
from tensorstore_py import codecs
from tensorstore_py.codecs import TransposeCodec
from tensorstore_py.driver.n5.block import N5BlockCodec, n5_codec_chain

BLOCK = (3, 4, 2)


@pytest.mark.parametrize("name", sorted(COMPRESSIONS))
def test_chain_members_and_bytes(name):
    compression = codecs.n5_compression_from_json(COMPRESSIONS[name])
    chain = n5_codec_chain(compression)
    assert chain.array_to_array == (TransposeCodec("F"),)
    assert chain.array_to_bytes == N5BlockCodec(None if name == "raw" else compression)
    assert chain.bytes_to_bytes == ()
    resolved = chain.resolve(BLOCK, np.dtype(np.int16))
    chunk = np.asfortranarray(random_data("int16", BLOCK))
    blob = resolved.encode_bytes(chunk)
    # Header (sizes fastest dimension first), then the compressed big-endian Fortran elements.
    assert blob[:16] == struct.pack(">HH3I", 0, 3, *BLOCK)
    payload = blob[16:]
    elements = chunk.astype(">i2").tobytes(order="F")
    assert (payload if name == "raw" else compression.decode(payload)) == elements
    out = resolved.decode(blob)
    assert out.flags.f_contiguous and out.dtype == np.int16
    np.testing.assert_array_equal(out, chunk)
    into = np.empty(BLOCK, np.int16, order="F")
    assert resolved.decode(blob, into) is into
    np.testing.assert_array_equal(into, chunk)


@pytest.mark.parametrize("name", ["raw", "blosc-lz4", "gzip"])
def test_truncated_edge_block_reads_as_tensorstore(name):
    # Java N5 writes edge blocks truncated to the array: both libraries must read them alike.
    spec = {"driver": "n5", "kvstore": {"driver": "memory"},
            "metadata": {"dimensions": [5, 6, 2], "blockSize": list(BLOCK), "dataType": "uint16",
                         "compression": COMPRESSIONS[name]}}
    compression = codecs.n5_compression_from_json(COMPRESSIONS[name])
    edge = np.asfortranarray(random_data("uint16", (2, 2, 2), seed=3))
    blob = n5_codec_chain(compression).resolve(edge.shape, np.dtype(np.uint16)).encode_bytes(edge)
    results = []
    for lib in (ts, ref):
        ctx = lib.Context()
        store = lib.open(spec, create=True, context=ctx).result()
        lib.KvStore.open({"driver": "memory"}, context=ctx).result().write("1/1/0", blob).result()
        results.append(store.read().result())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0][3:5, 4:6, :], edge)


def test_truncated_block_decodes_into_the_low_corner():
    compression = codecs.n5_compression_from_json(COMPRESSIONS["zstd"])
    resolved = n5_codec_chain(compression).resolve(BLOCK, np.dtype(np.float32))
    small = np.asfortranarray(random_data("float32", (1, 3, 2), seed=5))
    blob = n5_codec_chain(compression).resolve(small.shape, np.dtype(np.float32)).encode_bytes(small)
    into = np.full(BLOCK, 7, np.float32, order="F")
    resolved.decode(blob, into)
    expected = np.zeros(BLOCK, np.float32)
    expected[:1, :3, :2] = small
    np.testing.assert_array_equal(into, expected)
    np.testing.assert_array_equal(resolved.decode(blob), expected)
