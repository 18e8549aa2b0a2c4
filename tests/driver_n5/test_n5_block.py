"""The block header decoder: the reference's messages for corrupt blocks, and never a crash on
random or truncated bytes (hypothesis)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from n5_helpers import COMPRESSIONS, ref
from tensorstore_py import codecs
from tensorstore_py.driver.n5.block import decode_block, decode_header, encode_block, encode_header
from tensorstore_py.errors import StatusError

BLOCK = (3, 4)


def _block(shape, payload: bytes, mode: int = 0) -> bytes:
    return struct.pack(f">HH{len(shape)}I", mode, len(shape), *shape) + payload


BAD_BLOCKS = [
    b"",
    b"\x00",
    b"\x00\x00\x00\x02",
    b"\x00\x02\x00\x02" + b"\0" * 8,
    b"\x00\x00\x00\x03" + b"\0" * 12,
    _block([4, 4], b"\0" * 32),
    _block([3, 5], b"\0" * 30),
    _block([3, 4], b"\0" * 10),
    _block([3, 4], b"\0" * 30),
    _block([2, 3], b"\0" * 13),
    _block([2, 3], b"\0" * 11),
]


def _read_error(lib, blob: bytes) -> str:
    ctx = lib.Context()
    store = lib.open(
        {"driver": "n5", "kvstore": {"driver": "memory"},
         "metadata": {"dimensions": [5, 7], "blockSize": list(BLOCK), "dataType": "uint16", "compression": {"type": "raw"}}},
        context=ctx, create=True,
    ).result()
    lib.KvStore.open({"driver": "memory"}, context=ctx).result().write("1/1", blob).result()
    with pytest.raises(ValueError) as info:
        store.read().result()
    return str(info.value)


@pytest.mark.parametrize("case", range(len(BAD_BLOCKS)))
def test_corrupt_block_messages_match_reference(case):
    ours, theirs = _read_error(ts, BAD_BLOCKS[case]), _read_error(ref, BAD_BLOCKS[case])
    # Same status code and the same explanation; the engine words the context itself.
    assert ours.startswith("FAILED_PRECONDITION: ") and theirs.startswith("FAILED_PRECONDITION: ")
    assert '"1/1"' in ours
    assert ours.split('"1/1": ', 1)[1] == theirs.split('"1/1": ', 1)[1]


def test_varlength_header_checks():
    header = struct.pack(">HH2I", 1, 2, 3, 4)
    with pytest.raises(StatusError, match="varlength header of length 16"):
        decode_header(header, BLOCK)
    with pytest.raises(StatusError, match="holds 5 elements, but 12 were expected"):
        decode_header(header + struct.pack(">I", 5), BLOCK)
    h = decode_header(header + struct.pack(">I", 12), BLOCK)
    assert (h.mode, h.shape, h.num_elements, h.offset) == (1, (3, 4), 12, 16)


def test_header_round_trip_and_rank_zero():
    assert encode_header([3, 4]) == b"\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04"
    assert decode_header(encode_header([]), ()).shape == ()
    chunk = np.array(7, dtype=np.int64)
    blob = encode_block(chunk, codecs.N5Raw())
    assert blob == b"\x00\x00\x00\x00" + np.array(7, dtype=">i8").tobytes()
    assert decode_block(blob, (), np.dtype(np.int64), codecs.N5Raw()) == 7


@pytest.mark.parametrize("name", sorted(COMPRESSIONS))
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "uint64"])
def test_encode_decode_round_trip_every_compression(name, dtype):
    codec = codecs.n5_compression_from_json(COMPRESSIONS[name])
    chunk = np.asfortranarray((np.arange(12).reshape(BLOCK) * 37 - 50).astype(dtype))
    out = decode_block(encode_block(chunk, codec), BLOCK, np.dtype(dtype), codec)
    np.testing.assert_array_equal(out, chunk)
    assert out.flags.f_contiguous


CODECS = [codecs.n5_compression_from_json(COMPRESSIONS[n]) for n in sorted(COMPRESSIONS)]


def _decode_or_status(blob: bytes, codec) -> None:
    try:
        out = decode_block(blob, BLOCK, np.dtype(np.uint16), codec)
    except StatusError as exc:
        assert exc.code == "FAILED_PRECONDITION"
        assert exc.message
        return
    assert out.shape == BLOCK and out.dtype == np.uint16


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=64), codec_index=st.integers(0, len(CODECS) - 1))
def test_random_bytes_raise_clear_errors(blob, codec_index):
    _decode_or_status(blob, CODECS[codec_index])


@settings(max_examples=200, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 3), st.integers(0, 4)),
    mode=st.sampled_from([0, 1, 2, 0xFFFF]),
    payload=st.binary(max_size=40),
    codec_index=st.integers(0, len(CODECS) - 1),
)
def test_random_payload_behind_valid_headers(shape, mode, payload, codec_index):
    header = struct.pack(">HH2I", mode, 2, *shape)
    if mode == 1:
        header += struct.pack(">I", shape[0] * shape[1])
    _decode_or_status(header + payload, CODECS[codec_index])


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 200), codec_index=st.integers(0, len(CODECS) - 1), flip=st.integers(0, 255))
def test_truncated_and_bit_flipped_real_blocks(cut, codec_index, flip):
    codec = CODECS[codec_index]
    chunk = np.asfortranarray(np.arange(12, dtype=np.uint16).reshape(BLOCK) * 1001)
    blob = bytearray(encode_block(chunk, codec))
    truncated = bytes(blob[: min(cut, len(blob))])
    _decode_or_status(truncated, codec)
    if len(blob) > 12:
        blob[12 + flip % (len(blob) - 12)] ^= 0xA5
    _decode_or_status(bytes(blob), codec)
