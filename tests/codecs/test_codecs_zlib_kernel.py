"""The Cython zlib decoding kernel on its own: formats, bounds, GIL release, and agreement with
zlib.  (Encoding is libdeflate's: tests/codecs/test_codecs_deflate.py.)"""

from __future__ import annotations

import gzip
import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codecs_helpers import longest_stall_during
from tensorstore_py._ext import zlib_codec as zk

PAYLOAD = (b"tensorstore " * 500) + os.urandom(2000) + bytes(3000)


def _stream(data: bytes, level: int = 6, fmt: int = zk.FORMAT_ZLIB) -> bytes:
    """`data` compressed by Python's zlib module in the kernel's format `fmt`."""
    wbits = {zk.FORMAT_ZLIB: 15, zk.FORMAT_GZIP: 31, zk.FORMAT_RAW: -15}[fmt]
    c = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


def test_decompress_formats():
    z = zlib.compress(PAYLOAD)
    g = gzip.compress(PAYLOAD, mtime=0)
    assert zk.decompress(z, zk.FORMAT_ZLIB) == PAYLOAD
    assert zk.decompress(g, zk.FORMAT_GZIP) == PAYLOAD
    assert zk.decompress(z, zk.FORMAT_AUTO) == zk.decompress(g, zk.FORMAT_AUTO) == PAYLOAD
    with pytest.raises(zk.ZlibError, match="incorrect header check"):
        zk.decompress(g, zk.FORMAT_ZLIB)
    with pytest.raises(zk.ZlibError, match="incorrect header check"):
        zk.decompress(z, zk.FORMAT_GZIP)
    with pytest.raises(ValueError, match="unsupported zlib format"):
        zk.decompress(z, 7)
    raw = _stream(PAYLOAD, 6, zk.FORMAT_RAW)
    assert zk.decompress(raw, zk.FORMAT_RAW) == PAYLOAD


def test_multi_member_gzip_only_when_asked():
    g = gzip.compress(b"one", mtime=0) + gzip.compress(b"two", mtime=0)
    assert zk.decompress(g, zk.FORMAT_GZIP, True) == b"onetwo"
    with pytest.raises(zk.ZlibError, match="End of data expected"):
        zk.decompress(g, zk.FORMAT_GZIP, False)
    out = bytearray(6)
    assert zk.decompress_into(g, out, zk.FORMAT_GZIP, True) == 6 and out == b"onetwo"


def test_decompress_into_exact_bounds():
    z = zlib.compress(PAYLOAD)
    n = len(PAYLOAD)
    out = bytearray(n)
    assert zk.decompress_into(z, out) == n and out == PAYLOAD
    guard = bytearray(n + 8)
    view = memoryview(guard)[: n - 1]
    with pytest.raises(zk.ZlibError, match=f"exceeds the expected {n - 1} bytes"):
        zk.decompress_into(z, view)
    assert guard[n - 1:] == bytes(9), "wrote past the end of the output"
    with pytest.raises(zk.ZlibError, match=f"Decoded {n} bytes, but expected {n + 1}"):
        zk.decompress_into(z, bytearray(n + 1))
    assert zk.decompress_into(z, bytearray(n + 1), exact=False) == n


def test_decompress_limits_and_hints():
    z = zlib.compress(PAYLOAD)
    assert zk.decompress(z, max_size=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(zk.ZlibError, match="exceeds the limit"):
        zk.decompress(z, max_size=len(PAYLOAD) - 1)
    for hint in (1, 100, len(PAYLOAD), 10 * len(PAYLOAD)):
        assert zk.decompress(z, size_hint=hint) == PAYLOAD
    bomb = zlib.compress(bytes(50_000_000), 9)
    with pytest.raises(zk.ZlibError, match="exceeds the limit of 1000 bytes"):
        zk.decompress(bomb, max_size=1000)


def test_empty_and_tiny_inputs():
    assert zk.decompress(_stream(b"")) == b""
    assert zk.decompress_into(_stream(b"", 1, zk.FORMAT_GZIP), bytearray(), zk.FORMAT_GZIP) == 0
    for bad in (b"", b"x", b"\x78", b"\x1f\x8b"):
        with pytest.raises(zk.ZlibError):
            zk.decompress(bad, zk.FORMAT_AUTO)
        with pytest.raises(zk.ZlibError):
            zk.decompress_into(bad, bytearray(4), zk.FORMAT_AUTO)


def test_accepts_any_contiguous_byte_buffer():
    import numpy as np

    z = zlib.compress(PAYLOAD)
    arr = np.frombuffer(z, np.uint8)
    assert zk.decompress(arr) == PAYLOAD
    assert zk.decompress(memoryview(b"..." + z)[3:]) == PAYLOAD
    out = np.zeros(len(PAYLOAD), np.uint8)
    zk.decompress_into(bytearray(z), out)
    assert out.tobytes() == PAYLOAD


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([zk.FORMAT_ZLIB, zk.FORMAT_GZIP, zk.FORMAT_AUTO]))
def test_random_input_raises_cleanly(blob, fmt):
    for call in (lambda: zk.decompress(blob, fmt, True, 0, 1 << 20),
                 lambda: zk.decompress_into(blob, bytearray(64), fmt, True)):
        try:
            call()
        except zk.ZlibError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.integers(-1, 9), st.sampled_from([0, 1]))
def test_round_trip_property(data, level, fmt):
    enc = _stream(data, level, fmt)
    assert zk.decompress(enc, fmt) == data
    out = bytearray(len(data))
    assert zk.decompress_into(enc, out, fmt) == len(data) and out == data


@pytest.mark.slow  # wall-clock measurement, as the GIL checks it calibrates
def test_stall_measure_detects_a_gil_holder():
    held = bytes(200_000_000)
    stall, total = longest_stall_during(lambda: held.count(b"x"))
    if total < 0.05:
        pytest.skip("machine too fast for a meaningful measurement")
    assert stall > 0.5 * total


@pytest.mark.slow  # wall-clock measurement: flaky under load, runs with TSPY_SLOW=1
def test_gil_released_during_bulk_work():
    size = 120 << 20
    big = _stream(bytes(size), 1)
    out = bytearray(size)  # allocated here: zero-filling it holds the GIL
    stall, total = longest_stall_during(lambda: zk.decompress_into(big, out))
    assert stall < 0.25 * total or total < 0.02


@pytest.mark.parametrize("slice_size", [1, 7, 4096])
def test_inputs_and_outputs_larger_than_one_zlib_slice(slice_size):
    # Buffers beyond 1 GiB are fed to zlib in slices; a tiny slice exercises that path.
    old = zk._set_slice_size(slice_size)
    try:
        for fmt in (zk.FORMAT_ZLIB, zk.FORMAT_GZIP):
            enc = _stream(PAYLOAD, 6, fmt)
            assert zlib.decompress(enc, 47) == PAYLOAD
            assert zk.decompress(enc, fmt) == PAYLOAD
            out = bytearray(len(PAYLOAD))
            assert zk.decompress_into(enc, out, fmt) == len(PAYLOAD) and out == PAYLOAD
            with pytest.raises(zk.ZlibError, match="truncated"):
                zk.decompress(enc[:-1], fmt)
            with pytest.raises(zk.ZlibError, match="End of data expected; remaining length: 3"):
                zk.decompress_into(enc + b"abc", out, fmt)
            with pytest.raises(zk.ZlibError, match="exceeds"):
                zk.decompress_into(enc, bytearray(len(PAYLOAD) - 1), fmt)
        two = _stream(b"one", 1, zk.FORMAT_GZIP) + _stream(b"two", 1, zk.FORMAT_GZIP)
        assert zk.decompress(two, zk.FORMAT_GZIP, True) == b"onetwo"
    finally:
        zk._set_slice_size(old)
