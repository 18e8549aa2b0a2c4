"""The codec chain: random chains round-trip (with and without an output array of any layout),
and random or truncated bytes given to any chain or to the shard index parser raise a
DATA_LOSS / FAILED_PRECONDITION `StatusError`, never another exception or a crash."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorstore_py.codecs import (
    BloscCodec, BytesCodec, CodecChain, Crc32cCodec, ShardingCodec, TransposeCodec, ZstdCodec,
)  # fmt: skip
from tensorstore_py.codecs.deflate import DeflateCodec
from tensorstore_py.codecs.sharding import MISSING
from tensorstore_py.errors import StatusError

EXAMPLES = int(os.environ.get("TSPY_EXAMPLES", 60))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=list(HealthCheck))
DTYPES = ["uint8", "int16", "uint32", "float32", "float64", "complex64", "bool"]

_b2b = st.sampled_from([
    lambda: DeflateCodec(1, gzip=True), lambda: DeflateCodec(6, gzip=False),
    lambda: ZstdCodec(3, False), lambda: ZstdCodec(1, True), lambda: Crc32cCodec(),
    lambda: BloscCodec("lz4", 5, -1, 0), lambda: BloscCodec("zstd", 3, 0, 0),
]).map(lambda make: make())


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def chains(draw, shape: tuple[int, ...], depth: int = 0) -> CodecChain:
    """A valid chain for chunks of `shape` (transposes, bytes or nested sharding, b2b)."""
    a2a = []
    cur = shape
    for _ in range(draw(st.integers(0, 2))):
        perm = draw(st.permutations(range(len(shape))))
        a2a.append(TransposeCodec(perm))
        cur = tuple(cur[p] for p in perm)
    if depth < 2 and len(shape) and draw(st.booleans()):
        inner_shape = tuple(draw(st.sampled_from(_divisors(s))) for s in cur)
        a2b = ShardingCodec(inner_shape, draw(chains(inner_shape, depth + 1)),
                            CodecChain([], BytesCodec(draw(st.sampled_from(["little", "big"]))),
                                       draw(st.lists(st.just(Crc32cCodec()), max_size=1))),
                            draw(st.sampled_from(["start", "end"])))
        return CodecChain(a2a, a2b, [])
    a2b = BytesCodec(draw(st.sampled_from(["little", "big"])))
    return CodecChain(a2a, a2b, draw(st.lists(_b2b, max_size=2)))


@st.composite
def cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=0, max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    chain = draw(chains(shape))
    n = int(np.prod(shape))
    raw = draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize))
    if dtype == bool:
        data = np.frombuffer(raw, np.uint8).astype(bool).reshape(shape)
    else:
        data = np.frombuffer(raw, dtype).reshape(shape).copy()
    # Zero out a corner so that sharded chains leave some inner chunks out.
    if shape and draw(st.booleans()):
        data[tuple(slice(0, max(1, s // 2)) for s in shape)] = 0
    return chain, data


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == np.ascontiguousarray(b).tobytes()


@SETTINGS
@given(case=cases(), fortran=st.booleans())
def test_random_chains_round_trip(case, fortran):
    chain, data = case
    resolved = chain.resolve(data.shape, data.dtype)
    encoded = resolved.encode(data)
    if encoded is None:
        assert not data.any()
        return
    assert _same(resolved.decode(encoded), data)
    out = np.empty(data.shape, data.dtype, order="F" if fortran else "C")
    assert resolved.decode(bytes(encoded), out=out) is out
    assert _same(out, data)
    # A strided (non-contiguous) output works too.
    big = np.empty(tuple(2 * s for s in data.shape), data.dtype)
    view = big[tuple(slice(None, None, 2) for _ in data.shape) + (Ellipsis,)]
    resolved.decode(encoded, out=view)
    assert _same(view, data)


def _decode_fails_cleanly(resolved, blob: bytes) -> None:
    try:
        resolved.decode(blob)
    except StatusError as exc:
        assert exc.code in ("DATA_LOSS", "FAILED_PRECONDITION", "INVALID_ARGUMENT"), exc
    # Decoding garbage that happens to be valid is fine.


@SETTINGS
@given(case=cases(), junk=st.binary(max_size=200), cut=st.integers(0, 10_000),
       flip=st.integers(0, 10_000))
def test_random_and_damaged_bytes_fail_cleanly(case, junk, cut, flip):
    chain, data = case
    resolved = chain.resolve(data.shape, data.dtype)
    _decode_fails_cleanly(resolved, junk)
    encoded = resolved.encode(data)
    if encoded is None:
        return
    encoded = bytes(encoded)
    _decode_fails_cleanly(resolved, encoded[: cut % (len(encoded) + 1)])
    damaged = bytearray(encoded)
    if damaged:
        damaged[flip % len(damaged)] ^= 0x5A
        _decode_fails_cleanly(resolved, bytes(damaged))


def _sharding(location: str, crc: bool) -> ShardingCodec:
    return ShardingCodec((2, 2), CodecChain([], BytesCodec("little"), []),
                         CodecChain([], BytesCodec("little"), [Crc32cCodec()] if crc else []),
                         location).resolve((4, 4), np.dtype("<u2"))


@SETTINGS
@given(blob=st.binary(max_size=128), location=st.sampled_from(["start", "end"]),
       crc=st.booleans(), size=st.one_of(st.none(), st.integers(0, 1 << 70)))
def test_shard_index_parser_on_random_bytes(blob, location, crc, size):
    codec = _sharding(location, crc)
    try:
        index = codec.decode_index(blob, size)
        index.check_all()
    except StatusError as exc:
        assert exc.code in ("DATA_LOSS", "FAILED_PRECONDITION"), exc


def test_shard_index_errors_name_the_problem():
    codec = _sharding("end", True)
    with pytest.raises(StatusError, match="Existing shard has size of 3 bytes, but expected at "
                                          "least 68 bytes") as info:
        codec.read_index(b"abc")
    assert info.value.code == "DATA_LOSS"
    with pytest.raises(StatusError, match="Error decoding shard index: Digest mismatch, stored "
                                          "digest is 0x00000000 but computed digest is "
                                          "0x03c8eb67"):
        codec.read_index(bytes(68))
    plain = _sharding("end", False)
    table = np.full((4, 2), MISSING, np.uint64)
    table[0] = (1 << 56, 1 << 57)
    index = plain.read_index(table.tobytes())
    with pytest.raises(StatusError, match=r"Shard index entry 0 with byte range \[72057594037927936, "
                                          r"216172782113783808\) is invalid for shard of size 64"):
        index.entry(0)
    table[0] = (8, MISSING)
    with pytest.raises(StatusError, match="Invalid shard index entry 0 with offset=8, "
                                          "length=18446744073709551615"):
        plain.read_index(table.tobytes()).entry(0)
    assert plain.read_index(np.full((4, 2), MISSING, np.uint64).tobytes()).is_empty()


def test_shard_from_inner_chunks_and_back():
    codec = _sharding("start", True)
    a = np.arange(16, dtype=np.uint16).reshape(4, 4) + 1
    chunks = {cell: codec.inner.encode(a[codec.inner_slices(cell)]) for cell in codec.cells()
              if cell != (1, 0)}
    shard = codec.encode_shard(chunks)
    index = codec.read_index(shard)
    assert index.entry_for((1, 0)) is None
    assert index.entry_for((0, 0)) == (codec.index_nbytes, 8)
    parts = codec.split_shard(shard)
    assert sorted(parts) == [0, 1, 3]
    decoded = codec.decode(shard)
    expect = a.copy()
    expect[2:, :2] = 0
    np.testing.assert_array_equal(decoded, expect)
    assert codec.encode(decoded) == shard
    assert codec.encode_shard({}) is None


def test_blosc_after_another_bytes_codec_needs_a_typesize():
    chain = CodecChain([], BytesCodec("little"), [Crc32cCodec(), BloscCodec("lz4", 5, 1, 0)])
    with pytest.raises(StatusError, match="typesize must be specified explicitly"):
        chain.resolve((4,), np.uint16)
