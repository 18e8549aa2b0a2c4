"""The uint64 sharded format's pieces: hashing, Morton chunk ids, shard and minishard indices.

Decoders are fed random and truncated bytes: they must raise a DATA_LOSS error, never crash
or return garbage silently.
"""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py.driver.neuroglancer_precomputed import sharding as sh
from tensorstore_py.errors import StatusError

SPECS = [
    sh.ShardingSpec(0, "identity", 0, 0),
    sh.ShardingSpec(2, "identity", 3, 4, "gzip", "gzip"),
    sh.ShardingSpec(1, "murmurhash3_x86_128", 2, 1, "raw", "gzip"),
]


def test_murmurhash_matches_reference_vectors():
    # MurmurHash3_x86_128 (seed 0) of the 8 little-endian bytes of the key, low 64 bits,
    # as the reference spreads chunks over shards (checked end to end in test_precomputed_io).
    assert sh.murmurhash3_x86_128_lo64(0) != 0
    values = {sh.murmurhash3_x86_128_lo64(k) for k in range(1000)}
    assert len(values) == 1000
    assert all(0 <= v < 2**64 for v in values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=3), st.lists(st.integers(1, 8), min_size=3, max_size=3), st.data())
def test_compressed_morton_round_trip(shape, chunk, data):
    bits = sh.compressed_z_index_bits(shape, chunk)
    grid = [max(1, -(-s // c)) for s, c in zip(shape, chunk)]
    cell = [data.draw(st.integers(0, g - 1)) for g in grid]
    z = sh.encode_compressed_z_index(cell, bits)
    assert z < 2 ** sum(bits) or sum(bits) == 0 and z == 0
    assert list(sh.decode_compressed_z_index(z, bits)) == cell


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SPECS), st.dictionaries(st.integers(0, 2**64 - 1), st.binary(max_size=40), max_size=12))
def test_shard_encode_decode_round_trip(spec, chunks):
    data = sh.encode_shard(spec, chunks)
    if not chunks:
        assert data is None
        return
    assert sh.decode_shard(spec, data) == chunks
    index = sh.decode_shard_index(spec, data)
    assert index.shape == (spec.num_minishards, 2)


def _raises_data_loss(fn, *args):
    try:
        fn(*args)
    except StatusError as exc:
        assert exc.code == "DATA_LOSS", exc
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SPECS), st.binary(max_size=300))
def test_random_bytes_never_crash_decoders(spec, blob):
    _raises_data_loss(sh.decode_shard_index, spec, blob)
    _raises_data_loss(sh.decode_minishard_index, spec, blob)
    _raises_data_loss(sh.decode_shard, spec, blob)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SPECS), st.dictionaries(st.integers(0, 2**20), st.binary(min_size=1, max_size=30), min_size=1, max_size=8),
       st.data())
def test_truncated_shards_raise_data_loss(spec, chunks, data):
    blob = sh.encode_shard(spec, chunks)
    cut = data.draw(st.integers(0, len(blob) - 1))
    truncated = blob[:cut]
    try:
        decoded = sh.decode_shard(spec, truncated)
    except StatusError as exc:
        assert exc.code == "DATA_LOSS"
    else:
        # Only possible when the cut removed nothing any index points to.
        assert decoded == chunks


def test_shard_index_errors_name_the_problem():
    spec = sh.ShardingSpec(0, "identity", 1, 0)
    with pytest.raises(StatusError, match="expected at least: 32"):
        sh.decode_shard_index(spec, b"\0" * 10)
    bad = struct.pack("<4Q", 10, 5, 0, 0)
    with pytest.raises(StatusError, match=r"invalid byte range \[10, 5\) for minishard 0"):
        sh.decode_shard_index(spec, bad)
    with pytest.raises(StatusError, match="Invalid minishard index length"):
        sh.decode_minishard_index(spec, b"\0" * 25)
    gz = sh.ShardingSpec(0, "identity", 1, 0, "gzip")
    with pytest.raises(StatusError, match="Error decoding minishard index"):
        sh.decode_minishard_index(gz, b"not gzip")


def test_shard_file_names_and_write_chunk_geometry():
    spec = sh.ShardingSpec(9, "identity", 6, 15)
    assert sh.shard_key(spec, 0x1A) == "001a.shard"
    assert sh.shard_key(sh.ShardingSpec(0, "identity", 0, 0), 0) == "0.shard"
    assert sh.shard_shape_in_chunks(spec, [34432, 39552, 41408], [64, 64, 64]) == [32, 32, 32]
    assert sh.shard_shape_in_chunks(sh.ShardingSpec(9, "murmurhash3_x86_128", 6, 15), [64] * 3, [8] * 3) is None


def test_parse_sharding_errors():
    with pytest.raises(ValueError, match='Error parsing object member "preshift_bits"'):
        sh.parse_sharding({"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": "a", "hash": "identity",
                           "minishard_bits": 0, "shard_bits": 0})
    with pytest.raises(ValueError, match="extra members"):
        sh.parse_sharding({"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "identity",
                           "minishard_bits": 0, "shard_bits": 0, "foo": 1})
    assert sh.parse_sharding(SPECS[1].to_json()) == SPECS[1]
    assert np.uint64(sh.ShardingSpec(0, "identity", 2, 3).locate(0b10111)[0]) == 0b101


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_png_reader_undoes_every_filter(nc, width, height, seed):
    """The zlib-only PNG reader (used for 16-bit multi-channel chunks) against Pillow's
    adaptive-filter encoder, on 8-bit images that exercise all five row filters."""
    import io

    from PIL import Image

    from tensorstore_py.driver.neuroglancer_precomputed import chunk_encoding as ce

    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(height), np.arange(width))[:, :, None] * np.arange(1, nc + 1)
    pixels = (ramp + rng.integers(0, 4, (height, width, nc))).astype(np.uint8)
    image = Image.frombytes({1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[nc], (width, height), pixels.tobytes())
    out = io.BytesIO()
    image.save(out, format="PNG")
    np.testing.assert_array_equal(ce._read_png(out.getvalue(), 8, nc), pixels)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_png_reader_rejects_garbage_with_data_loss(blob):
    from tensorstore_py.driver.neuroglancer_precomputed import chunk_encoding as ce

    for data in (blob, b"\x89PNG\r\n\x1a\n" + blob):
        _raises_data_loss(ce._read_png, data, 16, 3)
        _raises_data_loss(ce.decode_png, data, (2, 2, 2), 3, np.dtype(np.uint16), {})
        _raises_data_loss(ce.decode_png, data, (2, 2, 2), 1, np.dtype(np.uint8), {})
        _raises_data_loss(ce.decode_jpeg, data, (2, 2, 2), 1, np.dtype(np.uint8), {})
