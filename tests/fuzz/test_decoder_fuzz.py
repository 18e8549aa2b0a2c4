"""Hypothesis fuzzing of every decoder through the public API: chunks of every codec and chunk
format (zarr v2, zarr3 incl. sharding, n5, neuroglancer_precomputed incl. sharded), and shard
indexes, replaced by random, truncated and mutated bytes.  Reading must return data of the
right shape and type or raise a ValueError — never crash, hang or raise anything else — and
where the format checks integrity (a crc32c codec) never return wrong data.

A bounded sample runs in CI; TSPY_FUZZ_DEEP=1 runs fifty times as many examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorstore_py as ts
from fuzz_helpers import CONFIGS, READ_TIMEOUT, budget, mutations, picture

_METADATA_KEYS = {b".zarray", b".zattrs", b"zarr.json", b"attributes.json", b"info"}


def _array(name: str):
    spec, dtype, detectable = CONFIGS[name]
    spec = {**spec, "kvstore": {"driver": "memory"}}
    if spec["driver"] == "neuroglancer_precomputed":
        store = ts.open(spec, create=True).result()
    else:
        store = ts.open(spec, create=True, dtype=getattr(ts, dtype), shape=[16, 16],
                        **_layout(spec)).result()
    data = picture(store.shape, store.dtype.numpy_dtype)
    store.write(data).result()
    kv = store.kvstore
    keys = [k for k in kv.list().result() if k.rsplit(b"/", 1)[-1] not in _METADATA_KEYS]
    assert keys, f"{name}: no chunk was stored"
    return store, kv, keys, store.read().result(), detectable


def _layout(spec: dict) -> dict:
    # zarr3 configurations name their chunk grid in the metadata (sharded ones have inner chunks).
    return {} if spec["driver"] == "zarr3" else {"chunk_layout": ts.ChunkLayout(chunk_shape=[8, 8])}


_ARRAYS: dict = {}


def _cached(name: str):
    if name not in _ARRAYS:
        _ARRAYS[name] = _array(name)
    return _ARRAYS[name]


def _read_checked(store, expected: np.ndarray) -> np.ndarray | None:
    """The array read back, or None if the read raised a ValueError."""
    try:
        out = store.read().result(timeout=READ_TIMEOUT)
    except ValueError:
        return None
    assert out.shape == expected.shape and out.dtype == expected.dtype
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_corrupt_chunks_raise_value_errors_or_decode(name):
    store, kv, keys, expected, detectable = _cached(name)
    originals = {k: kv.read(k).result().value for k in keys}
    key = keys[0]

    @budget(25)
    @given(st.data())
    def run(data):
        corrupt = data.draw(mutations(originals[key]), label="chunk bytes")
        kv.write(key, corrupt).result()
        out = _read_checked(store, expected)
        if out is not None and detectable and corrupt != originals[key]:
            np.testing.assert_array_equal(out, expected)  # checksummed: never wrong data

    try:
        run()
    finally:
        for k, v in originals.items():
            kv.write(k, v).result()
    np.testing.assert_array_equal(store.read().result(), expected)


@pytest.mark.parametrize("name", ["zarr3-sharded", "zarr3-sharded-index-first", "precomputed-sharded"])
def test_corrupt_shards_written_into_raise_value_errors_or_merge(name):
    """A write into a shard whose stored bytes are corrupt fails with a ValueError or stores a
    shard that reads back (the read-modify-write decodes the shard index first)."""
    store, kv, keys, expected, _ = _cached(name)
    originals = {k: kv.read(k).result().value for k in keys}
    key = keys[0]

    @budget(10)
    @given(st.data())
    def run(data):
        kv.write(key, data.draw(mutations(originals[key]), label="shard bytes")).result()
        try:
            store[(0,) * store.rank].write(1).result(timeout=READ_TIMEOUT)
        except ValueError:
            return
        _read_checked(store, expected)

    try:
        run()
    finally:
        for k, v in originals.items():
            kv.write(k, v).result()


def test_reads_of_a_truncated_precomputed_shard_fail_every_time():
    """A store that refuses a byte range at once (past the end of a truncated shard) used to
    leave the shared shard-index read pending forever: every later read hung."""
    store, kv, keys, expected, _ = _cached("precomputed-sharded")
    original = kv.read(keys[0]).result().value
    try:
        for size in (0, 1, 0, 17):
            kv.write(keys[0], original[:size]).result()
            with pytest.raises(ValueError, match="DATA_LOSS|OUT_OF_RANGE"):
                store.read().result(timeout=READ_TIMEOUT)
    finally:
        kv.write(keys[0], original).result()
    np.testing.assert_array_equal(store.read().result(timeout=READ_TIMEOUT), expected)
