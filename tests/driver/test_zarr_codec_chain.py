"""The zarr v2 dialect of the codec chain: `order` as a transpose, the dtype's byte order as
the `bytes` codec, `compressor` as the bytes -> bytes codec; stored bytes as numpy / numcodecs
lay them out, chunks held in the stored byte order, and TensorStore's errors for raw chunks of
the wrong size."""

from __future__ import annotations

import zlib

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.codecs import BytesCodec, TransposeCodec, ZarrBlosc, zarr_compressor_from_json
from tensorstore_py.errors import StatusError

ref = pytest.importorskip("tensorstore")

DTYPES = ["<i4", ">i4", "|u1", "<f8", ">c8", "|S3", "|b1",
          [["a", "<i2"], ["b", ">f4", [2]]]]  # fmt: skip
COMPRESSORS = [None, {"id": "zlib", "level": 1}, {"id": "blosc", "cname": "lz4", "shuffle": 1}]
CHUNKS = [3, 4, 5]


def _open(lib, dtype, order, compressor, ctx=None):
    spec = {"driver": "zarr", "kvstore": {"driver": "memory"},
            "metadata": {"shape": CHUNKS, "chunks": CHUNKS, "dtype": dtype, "order": order,
                         "compressor": compressor}}
    if not isinstance(dtype, str):
        spec["field"] = dtype[0][0]
    return lib.open(spec, create=True, context=ctx or lib.Context()).result()


def _format(dtype, order, compressor):
    return _open(ts, dtype, order, compressor)._driver.format


def _values(stored: np.dtype) -> np.ndarray:
    raw = np.random.default_rng(1).integers(0, 256, size=int(np.prod(CHUNKS)) * stored.itemsize,
                                            dtype=np.uint8)
    if stored.kind == "b":
        raw &= 1
    return raw.view(stored).reshape(CHUNKS)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_chain_members(dtype, order):
    chain = _format(dtype, order, {"id": "zlib", "level": 1}).codecs
    assert list(chain.array_to_array) == ([TransposeCodec("F").resolve(tuple(CHUNKS), "u1")[0]]
                                          if order == "F" else [])
    a2b = chain.array_to_bytes
    assert isinstance(a2b, BytesCodec)
    expected_endian = {"<i4": "little", ">i4": "big", "<f8": "little", ">c8": "big"}
    assert a2b.endian == expected_endian.get(dtype if isinstance(dtype, str) else "", None)
    assert chain.bytes_to_bytes == (zarr_compressor_from_json({"id": "zlib", "level": 1}),)


@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: c and c["id"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_stored_bytes_are_the_numpy_layout(dtype, order, compressor):
    if dtype == "|S3" and order == "F":
        # Not a codec matter: the engine's per-character view of an F-order "|S<n>" chunk
        # (chunk_format._field_view) does not exist in numpy; writes of that combination fail.
        dtype = "|S1"
    fmt = _format(dtype, order, compressor)
    chunk = fmt.new_chunk()
    chunk[...] = _values(fmt.stored_dtype)
    stored = fmt.encode_full_chunk(chunk, (0, 0, 0))
    assert type(stored) is bytes
    layout = chunk.tobytes(order=order)
    if compressor is None:
        assert stored == layout
    elif compressor["id"] == "zlib":
        assert zlib.decompress(stored) == layout
    else:
        assert numcodecs.Blosc().decode(stored) == layout
    decoded = fmt.decode_chunk(stored, (0, 0, 0))
    # Held in the stored byte order and layout: nothing swapped, nothing rearranged.
    assert decoded.dtype == fmt.stored_dtype
    assert decoded.flags.f_contiguous if order == "F" else decoded.flags.c_contiguous
    assert decoded.tobytes(order=order) == layout


def test_uncompressed_decode_is_a_view_of_the_stored_bytes():
    fmt = _format(">i4", "F", None)
    stored = np.arange(60, dtype=">i4").tobytes()
    decoded = fmt.decode_chunk(stored, (0, 0, 0))
    assert np.shares_memory(decoded, np.frombuffer(stored, np.uint8))
    assert not decoded.flags.writeable
    np.testing.assert_array_equal(decoded, np.arange(60).reshape(CHUNKS, order="F"))


def _read_error(lib, order: str, blob: bytes) -> str:
    ctx = lib.Context()
    store = _open(lib, "<u2", order, None, ctx)
    lib.KvStore.open({"driver": "memory"}, context=ctx).result().write("0.0.0", blob).result()
    with pytest.raises(ValueError) as info:
        store.read().result()
    return str(info.value)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("size", [0, 3, 119, 121, 200])
def test_raw_chunk_of_wrong_size_fails_as_tensorstore(order, size):
    blob = bytes(range(256))[:size] if size <= 256 else b""
    ours, theirs = _read_error(ts, order, blob), _read_error(ref, order, blob)
    assert ours == theirs


@pytest.mark.parametrize("shuffle", [-1, 0, 1, 2])
@pytest.mark.parametrize("dtype", ["<i4", "|u1", [["a", "<f8", [40]]]], ids=str)
def test_blosc_element_size_as_numcodecs(dtype, shuffle):
    # zarr v2 hands c-blosc the element size whatever the shuffle (structured elements wider
    # than 255 bytes as single bytes), as numcodecs does; zarr3 does otherwise.
    fmt = _format(dtype, "C", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": shuffle})
    chunk = fmt.new_chunk()
    chunk[...] = _values(fmt.stored_dtype) if fmt.stored_dtype.kind != "V" else chunk
    if fmt.stored_dtype.kind == "V":
        chunk.view(np.uint8)[...] = np.arange(chunk.nbytes, dtype=np.uint64).reshape(
            chunk.view(np.uint8).shape) % 7
    ours = fmt.encode_full_chunk(chunk, (0, 0, 0))
    theirs = numcodecs.Blosc("lz4", 5, shuffle, 0).encode(np.ascontiguousarray(chunk))
    assert ours == bytes(theirs)
    resolved = ZarrBlosc(shuffle=shuffle).resolve_for_itemsize(fmt.stored_dtype.itemsize)
    assert resolved.typesize == (fmt.stored_dtype.itemsize
                                 if fmt.stored_dtype.itemsize <= 255 else 1)


FORMATS = [_format(d, o, c) for d, o, c in [
    ("<u2", "C", None), (">i4", "F", None), ("<f4", "C", {"id": "zlib", "level": 1}),
    ("<u2", "F", {"id": "blosc"}), ("|u1", "C", {"id": "zstd"}), ("<i8", "C", {"id": "bz2"}),
]]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=300), index=st.integers(0, len(FORMATS) - 1))
def test_random_chunk_bytes_fail_cleanly(blob, index):
    fmt = FORMATS[index]
    try:
        out = fmt.decode_chunk(blob, (0, 0, 0))
    except StatusError as exc:
        assert exc.code in ("DATA_LOSS", "FAILED_PRECONDITION"), exc
        return
    assert out.shape == tuple(CHUNKS) and out.dtype == fmt.stored_dtype
