"""Corrupt input: every decoder on random bytes, truncated frames and flipped bytes raises a
DATA_LOSS error (or, where the format has no checksum, returns exactly the expected size), and
never crashes the interpreter or writes past the output buffer."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codecs_helpers import sample_array
from tensorstore_py import codecs
from tensorstore_py.errors import StatusError

CODEC_JSON = [
    ("zarr", {"id": "blosc"}), ("zarr", {"id": "blosc", "cname": "zstd", "shuffle": 2}),
    ("zarr", {"id": "blosc", "cname": "zlib", "shuffle": 0, "blocksize": 256}),
    ("zarr", {"id": "blosc", "cname": "blosclz"}), ("zarr", {"id": "blosc", "cname": "lz4hc"}),
    ("zarr", {"id": "zlib"}), ("zarr", {"id": "gzip"}), ("zarr", {"id": "bz2"}),
    ("zarr", {"id": "zstd"}), ("n5", {"type": "raw"}), ("n5", {"type": "gzip"}),
    ("n5", {"type": "gzip", "useZlib": True}), ("n5", {"type": "bzip2"}), ("n5", {"type": "xz"}),
    ("n5", {"type": "zstd"}),
]  # fmt: skip

# Which codecs detect every corruption of the compressed payload (those with a checksum).
CHECKSUMMED = {"zlib", "gzip", "bz2", "bzip2", "xz"}

DATA = sample_array("int32", 3000, seed=7).tobytes()


def _codec(flavour, j):
    return (codecs.zarr_compressor_from_json if flavour == "zarr"
            else codecs.n5_compression_from_json)(j)


def _kind(j):
    return j.get("id") or j.get("type")


ENCODED = {(_f, _kind(_j) + repr(sorted(_j.items()))): None for _f, _j in CODEC_JSON}


def _encoded(flavour, j):
    key = (flavour, _kind(j) + repr(sorted(j.items())))
    if ENCODED.get(key) is None:
        ENCODED[key] = _codec(flavour, j).encode(DATA, 4)
    return ENCODED[key]


def _is_data_loss(exc: BaseException) -> bool:
    if not isinstance(exc, StatusError):
        return False
    if exc.code == "UNIMPLEMENTED":
        # A damaged blosc header can name snappy, which python-blosc's c-blosc lacks.
        return "snappy" in str(exc)
    return exc.code == "DATA_LOSS" and "DATA_LOSS: " in str(exc)


def _check_decode(codec, data: bytes, size: int | None, must_fail: bool,
                  modes: tuple[str, ...] = ("bytes", "sized", "into")) -> None:
    """Decodes in each mode; accepts only DATA_LOSS or a result of exactly `size` bytes."""
    guard = 16
    for mode in modes:
        try:
            if mode == "bytes":
                result = codec.decode(data)
                n = len(result)
            elif mode == "sized":
                result = codec.decode(data, expected_size=size)
                n = len(result)
            else:
                buf = bytearray(b"\xa5" * ((size or 0) + guard))
                codec.decode(data, out=buf, expected_size=size or 0)
                assert buf[len(buf) - guard:] == b"\xa5" * guard, "wrote past the output"
                n = size or 0
        except Exception as exc:  # noqa: BLE001 - the assertion names the offender
            assert _is_data_loss(exc), f"{mode}: {type(exc).__name__}: {exc}"
            continue
        assert not must_fail, f"{mode}: decoding succeeded"
        if mode != "bytes":
            assert n == (size or 0)


@pytest.mark.parametrize("flavour,j", CODEC_JSON, ids=lambda x: str(x))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=300))
def test_random_bytes_never_crash(flavour, j, blob):
    codec = _codec(flavour, j)
    # Random bytes are valid for raw only when the size happens to fit.
    _check_decode(codec, blob, len(DATA), must_fail=_kind(j) != "raw")


def _modes(j) -> tuple[str, ...]:
    # Raw data carries no length of its own: only a known size can reveal truncation.
    return ("sized", "into") if _kind(j) == "raw" else ("bytes", "sized", "into")


@pytest.mark.parametrize("flavour,j", CODEC_JSON, ids=lambda x: str(x))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_truncated_frames_fail(flavour, j, data):
    enc = _encoded(flavour, j)
    cut = data.draw(st.integers(0, len(enc) - 1))
    _check_decode(_codec(flavour, j), enc[:cut], len(DATA), must_fail=True, modes=_modes(j))


@pytest.mark.parametrize("flavour,j", CODEC_JSON, ids=lambda x: str(x))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_trailing_bytes_fail(flavour, j, data):
    enc = _encoded(flavour, j)
    tail = data.draw(st.binary(min_size=1, max_size=20))
    if _kind(j) == "gzip" and tail[:2] == b"\x1f\x8b":
        tail = b"\x00" + tail  # a second gzip member would be legitimate
    _check_decode(_codec(flavour, j), enc + tail, len(DATA), must_fail=True, modes=_modes(j))


@pytest.mark.parametrize("flavour,j", CODEC_JSON, ids=lambda x: str(x))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_frames_never_crash(flavour, j, data):
    enc = bytearray(_encoded(flavour, j))
    for _ in range(data.draw(st.integers(1, 4))):
        # Favour the headers, where the sizes live.
        limit = data.draw(st.sampled_from([16, 64, len(enc)]))
        pos = data.draw(st.integers(0, min(limit, len(enc)) - 1))
        enc[pos] = data.draw(st.integers(0, 255))
    codec = _codec(flavour, j)
    try:
        out = codec.decode(bytes(enc), expected_size=len(DATA))
    except Exception as exc:  # noqa: BLE001
        assert _is_data_loss(exc), f"{type(exc).__name__}: {exc}"
        return
    assert len(out) == len(DATA)
    if _kind(j) in CHECKSUMMED and bytes(enc) != _encoded(flavour, j):
        # zlib/gzip/bzip2/xz carry checksums: a changed frame must not decode to other data.
        assert bytes(out) == DATA


@settings(max_examples=300, deadline=None)
@given(nbytes=st.one_of(st.integers(0, 5000), st.integers(0, 2**32 - 1)), blocksize=st.integers(0, 2**32 - 1),
       typesize=st.integers(0, 255), flags=st.integers(0, 255), version=st.integers(0, 4),
       body=st.binary(max_size=200))
def test_blosc_forged_headers_never_crash(nbytes, blocksize, typesize, flags, version, body):
    frame = struct.pack("<BBBBIII", version, 1, flags, typesize, nbytes, blocksize,
                        16 + len(body)) + body
    codec = codecs.zarr_compressor_from_json({"id": "blosc"})
    for size in (None, nbytes if nbytes < 1 << 20 else 64):
        try:
            out = codec.decode(frame, expected_size=size)
        except Exception as exc:  # noqa: BLE001
            assert _is_data_loss(exc), f"{type(exc).__name__}: {exc}"
        else:
            assert len(out) == nbytes


def test_messages_name_the_problem():
    zl = codecs.zarr_compressor_from_json({"id": "zlib"})
    enc = zl.encode(DATA)
    with pytest.raises(ValueError, match=r"^DATA_LOSS: Error decoding zlib data: inflate\(\) failed"):
        zl.decode(b"garbage!")
    with pytest.raises(ValueError, match="truncated"):
        zl.decode(enc[:-5])
    with pytest.raises(ValueError, match="End of data expected; remaining length: 2"):
        zl.decode(enc + b"xx")
    with pytest.raises(ValueError, match="exceeds the expected 100 bytes"):
        zl.decode(enc, expected_size=100)
    bl = codecs.zarr_compressor_from_json({"id": "blosc"})
    with pytest.raises(ValueError, match="^DATA_LOSS: Invalid blosc-compressed data"):
        bl.decode(b"short")
    with pytest.raises(ValueError, match="blosc data decoded to 12000 bytes, but 5 bytes"):
        bl.decode(bl.encode(DATA, 4), expected_size=5)
    with pytest.raises(ValueError, match="DATA_LOSS: raw data decoded to 3 bytes"):
        codecs.n5_compression_from_json({"type": "raw"}).decode(b"abc", expected_size=4)


def test_output_buffer_problems_are_reported_before_decoding():
    codec = codecs.zarr_compressor_from_json({"id": "zlib"})
    enc = codec.encode(DATA)
    with pytest.raises(ValueError, match="cannot hold"):
        codec.decode(enc, out=bytearray(10), expected_size=len(DATA))
    with pytest.raises(TypeError, match="read-only"):
        codec.decode(enc, out=bytes(len(DATA)))
    with pytest.raises(TypeError, match="C-contiguous"):
        codec.decode(enc, out=np.zeros((len(DATA) // 2, 2), np.uint8)[:, 0])
