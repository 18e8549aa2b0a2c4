"""Corrupt, truncated and random archives: the zip kvstore raises a clear error (a ValueError
carrying a status), never another exception, a crash or a hang."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.kvstore.zip import directory


def _archive(zip64: bool) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, compression in enumerate((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2)):
            info = zipfile.ZipInfo(f"member{i}")
            info.compress_type = compression
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(bytes(range(200)) * (i + 1))
        z.writestr("dir/", b"")
    return buf.getvalue()


GOOD = [_archive(False), _archive(True)]


def _exercise(data: bytes) -> None:
    ctx = ts.Context()
    ts.KvStore.open("memory://", context=ctx).result()["a.zip"] = data
    kv = ts.KvStore.open("memory://a.zip|zip:", context=ctx).result()
    try:
        keys = kv.list().result(timeout=10)
    except ValueError as exc:
        assert str(exc)
        keys = []
    for key in [*keys, b"member0", b"member1", b"member2"]:
        try:
            kv.read(key).result(timeout=10)
        except ValueError as exc:
            assert str(exc)
    try:  # a write decodes the whole archive to rewrite it
        kv.write(b"new", b"x").result(timeout=10)
    except ValueError as exc:
        assert str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from([0, 1]), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=6))
def test_flipped_bytes(which, flips):
    data = bytearray(GOOD[which])
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    _exercise(bytes(data))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from([0, 1]), cut=st.integers(0, 10**6), from_front=st.booleans())
def test_truncated(which, cut, from_front):
    data = GOOD[which]
    cut %= len(data) + 1
    _exercise(data[cut:] if from_front else data[:cut])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    _exercise(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 70000))
def test_random_central_directory_bytes(data, count):
    # The parser alone, on arbitrary bytes and entry counts, with a plausible record in front.
    try:
        directory.parse_central_directory(directory.CENTRAL_SIG + data, count, 10**9)
    except ValueError as exc:
        assert str(exc)
    try:
        directory.find_end_record(data + directory.EOCD_SIG + data[:18])
    except ValueError as exc:
        assert str(exc)


def test_implausible_declared_size_fails_fast_without_allocating():
    import time

    import pytest

    for member, method_index in ((b"member1", 1), (b"member2", 2)):  # deflate, bzip2
        data = bytearray(GOOD[0])
        at = data.index(directory.CENTRAL_SIG)
        for _ in range(method_index):
            at = data.index(directory.CENTRAL_SIG, at + 1)
        data[at + 24 : at + 28] = (0xF0000000).to_bytes(4, "little")  # uncompressed size
        ctx = ts.Context()
        ts.KvStore.open("memory://", context=ctx).result()["a.zip"] = bytes(data)
        kv = ts.KvStore.open("memory://a.zip|zip:", context=ctx).result()
        start = time.monotonic()
        with pytest.raises(ValueError, match="DATA_LOSS"):
            kv.read(member).result(timeout=10)
        assert time.monotonic() - start < 5  # (allocating the claimed 4 GiB took far longer)
