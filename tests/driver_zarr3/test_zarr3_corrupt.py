"""Corrupt, truncated and random shards and chunks: the reference's errors for crafted cases, and
for random bytes a clear error (or data), never a crash or a hang (hypothesis)."""

from __future__ import annotations

import struct

import google_crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from zarr3_helpers import ref, same

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


def _spec(location="end", crc=True, inner=None, outer_codecs=None):
    index = [BYTES, {"name": "crc32c"}] if crc else [BYTES]
    codecs = outer_codecs or [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 4], "codecs": inner or [BYTES], "index_codecs": index, "index_location": location}}]
    return {"driver": "zarr3", "kvstore": "memory://x/", "metadata": {
        "shape": [8, 8], "data_type": "uint16", "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 8]}},
        "codecs": codecs}}


def _index(entries, crc=True):
    table = b"".join(struct.pack("<QQ", o, n) for o, n in entries)
    if crc:
        table += struct.pack("<I", google_crc32c.value(table))
    return table


MISSING = ((1 << 64) - 1, (1 << 64) - 1)
CHUNK = np.arange(16, dtype="<u2").tobytes()

CRAFTED = {
    "empty": b"",
    "short": b"abc",
    "zeros": b"\0" * 68,
    "ones": b"\xff" * 68,
    "bad digest": b"\0" * 200,
    "all missing": _index([MISSING] * 4),
    "one chunk": CHUNK + _index([(0, 32)] + [MISSING] * 3),
    "entry short": CHUNK + _index([(0, 30)] + [MISSING] * 3),
    "half missing": CHUNK + _index([(0, MISSING[1])] + [MISSING] * 3),
}


def _read_after_storing(data: bytes, spec: dict):
    def run(lib):
        store = lib.open(spec, create=True, context=lib.Context()).result()
        store.kvstore.write("c/0/0", data).result()
        # One sub-chunk: the reference then reads by byte range, as we always do.
        return store[0:2, 1:3].read().result().tolist()

    return run


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_shards(name):
    same(_read_after_storing(CRAFTED[name], _spec()))


@pytest.mark.parametrize("entry", [(0, 64), (1 << 62, 32), (40, 40)])
def test_entries_beyond_the_sub_chunk(entry):
    same(_read_after_storing(CHUNK + _index([entry] + [MISSING] * 3), _spec()))


def test_index_at_start():
    data = _index([(68, 32)] + [MISSING] * 3) + CHUNK
    same(_read_after_storing(data, _spec(location="start")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), st.sampled_from(sorted(CRAFTED.values())).flatmap(
    lambda b: st.integers(0, len(b)).map(lambda n: b[:n]))),
    location=st.sampled_from(["start", "end"]), crc=st.booleans(), zstd=st.booleans())
def test_random_shards_fail_cleanly(data, location, crc, zstd):
    inner = [BYTES, {"name": "zstd", "configuration": {"level": 1, "checksum": False}}] if zstd else [BYTES]
    store = ts.open(_spec(location, crc, inner), create=True, context=ts.Context()).result()
    store.kvstore.write("c/0/0", data).result()
    try:
        out = store.read().result(timeout=30)
    except ValueError as exc:
        assert str(exc)
    else:
        assert out.shape == (8, 8)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_nested_shards_fail_cleanly(data):
    outer = [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 4], "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2]}}]}}]
    store = ts.open(_spec(outer_codecs=outer), create=True, context=ts.Context()).result()
    store.kvstore.write("c/0/0", data).result()
    try:
        store.read().result(timeout=30)
    except ValueError as exc:
        assert str(exc)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), codec=st.sampled_from(["gzip", "zstd", "blosc", "crc32c", "bytes"]))
def test_random_unsharded_chunks_fail_cleanly(data, codec):
    codecs = [BYTES] + ([] if codec == "bytes" else [{"name": codec}])
    spec = {"driver": "zarr3", "kvstore": "memory://y/", "metadata": {"shape": [8, 8], "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 8]}}, "codecs": codecs}}
    store = ts.open(spec, create=True, context=ts.Context()).result()
    store.kvstore.write("c/0/0", data).result()
    try:
        store.read().result(timeout=30)
    except ValueError as exc:
        assert str(exc)
