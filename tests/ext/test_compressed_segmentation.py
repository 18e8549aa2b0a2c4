"""compressed_segmentation against the reference TensorStore's neuroglancer_precomputed files.

The reference writes a volume with ``"encoding": "compressed_segmentation"`` to a ``file://``
kvstore; unsharded chunks are stored as the raw encoding, so each chunk file is compared
byte for byte with our encoder and decoded by ours.  The reverse direction writes chunk files
with our encoder and reads them back through the reference.
"""

import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import compressed_segmentation as cs

ref = pytest.importorskip("tensorstore")

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _volume_spec(path, dtype, size, chunk, block, channels):
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": f"file://{path}",
        "multiscale_metadata": {"type": "segmentation", "data_type": dtype,
                                "num_channels": channels},
        "scale_metadata": {"size": list(size), "encoding": "compressed_segmentation",
                           "compressed_segmentation_block_size": list(block),
                           "chunk_size": list(chunk), "resolution": [1, 1, 1]},
    }


def _chunks(size, chunk):
    """(key, (x, y, z) slices) for every chunk of the grid, clipped at the volume edge."""
    ranges = [[(b, min(b + c, s)) for b in range(0, s, c)] for s, c in zip(size, chunk)]
    for xr in ranges[0]:
        for yr in ranges[1]:
            for zr in ranges[2]:
                key = "_".join(f"{a}-{b}" for a, b in (xr, yr, zr))
                yield key, tuple(slice(a, b) for a, b in (xr, yr, zr))


def _labels(rng, shape, dtype, kind):
    """Label patterns that exercise each encoding width and table sharing."""
    info = np.iinfo(dtype)
    if kind == "few":
        palette = rng.integers(0, info.max, 3, dtype=dtype, endpoint=True)
        return palette[rng.integers(0, 3, shape)]
    if kind == "constant-blocks":
        # Each 2x2x2 patch one value from a small palette: many bits=0 blocks, repeated tables.
        palette = np.array([0, 7, info.max], dtype)
        coarse = palette[rng.integers(0, 3, tuple((s + 1) // 2 for s in shape))]
        full = coarse.repeat(2, 0).repeat(2, 1).repeat(2, 2).repeat(2, 3)
        return np.ascontiguousarray(full[tuple(slice(0, s) for s in shape)])
    if kind == "many":
        return rng.integers(0, info.max, shape, dtype=dtype, endpoint=True)
    if kind == "mixed":
        out = rng.integers(0, 300, shape).astype(dtype)
        out[..., : shape[-1] // 2] = 5
        return out
    raise AssertionError(kind)


CASES = [
    # dtype, size (x, y, z), chunk, block (x, y, z), channels, pattern
    ("uint32", (20, 18, 13), (16, 9, 7), (4, 3, 5), 2, "few"),
    ("uint64", (20, 18, 13), (16, 9, 7), (4, 3, 5), 2, "few"),
    ("uint32", (24, 16, 8), (8, 8, 8), (8, 8, 8), 1, "constant-blocks"),
    ("uint64", (17, 11, 9), (17, 11, 9), (2, 2, 2), 3, "constant-blocks"),
    ("uint32", (16, 16, 16), (16, 16, 16), (8, 4, 2), 1, "many"),
    ("uint64", (16, 16, 16), (16, 16, 16), (16, 8, 4), 1, "mixed"),
    ("uint64", (10, 6, 5), (4, 4, 4), (3, 3, 3), 1, "mixed"),
]


@pytest.mark.parametrize("dtype, size, chunk, block, channels, kind", CASES)
def test_matches_reference_chunk_files(tmp_path, dtype, size, chunk, block, channels, kind):
    rng = np.random.default_rng(abs(hash((dtype, size, block, kind))) % 2**32)
    path = tmp_path / "vol"
    store = ref.open(_volume_spec(path, dtype, size, chunk, block, channels),
                     create=True).result()
    data = _labels(rng, tuple(size) + (channels,), np.dtype(dtype), kind)
    store.write(data).result()
    scale_dir = path / "1_1_1"
    n_checked = 0
    for key, (xs, ys, zs) in _chunks(size, chunk):
        raw = (scale_dir / key).read_bytes()
        # Chunk (x, y, z, c) -> our (c, z, y, x) layout.
        expected = np.ascontiguousarray(data[xs, ys, zs, :].transpose(3, 2, 1, 0))
        decoded = cs.decode(raw, expected.shape, block, dtype)
        np.testing.assert_array_equal(decoded, expected)
        assert decoded.dtype == np.dtype(dtype)
        assert cs.encode(expected, block) == raw, key
        # A strided (transposed) source encodes to the same bytes.
        assert cs.encode(data[xs, ys, zs, :].transpose(3, 2, 1, 0), block) == raw
        n_checked += 1
    assert n_checked == len(list(_chunks(size, chunk)))


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_reference_reads_our_chunks(tmp_path, dtype):
    size, chunk, block = (12, 10, 7), (8, 8, 8), (3, 4, 2)
    path = tmp_path / "vol"
    spec = _volume_spec(path, dtype, size, chunk, block, 2)
    ref.open(spec, create=True).result()
    rng = np.random.default_rng(11)
    data = _labels(rng, tuple(size) + (2,), np.dtype(dtype), "mixed")
    os.makedirs(path / "1_1_1", exist_ok=True)
    for key, (xs, ys, zs) in _chunks(size, chunk):
        piece = data[xs, ys, zs, :].transpose(3, 2, 1, 0)
        (path / "1_1_1" / key).write_bytes(cs.encode(piece, block))
    spec.pop("multiscale_metadata")
    spec.pop("scale_metadata")
    got = ref.open(spec).result().read().result()
    np.testing.assert_array_equal(got, data)


def test_32_bit_block_matches_reference(tmp_path):
    """More than 2**16 distinct values in one block: 32-bit indices."""
    size = block = (64, 32, 33)
    path = tmp_path / "vol"
    store = ref.open(_volume_spec(path, "uint32", size, size, block, 1), create=True).result()
    data = np.random.default_rng(2).permutation(np.prod(size)).astype(np.uint32)
    data = data.reshape(size + (1,))
    store.write(data).result()
    raw = (path / "1_1_1" / "0-64_0-32_0-33").read_bytes()
    vol = np.ascontiguousarray(data.transpose(3, 2, 1, 0))
    assert raw[4 + 3] == 32  # the first block header's encoded bits
    assert cs.encode(vol, block) == raw
    np.testing.assert_array_equal(cs.decode(raw, vol.shape, block, np.uint32), vol)


@SETTINGS
@given(c=st.integers(0, 3), z=st.integers(0, 9), y=st.integers(0, 9), x=st.integers(0, 9),
       block=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
       dtype=st.sampled_from([np.uint32, np.uint64]), n_values=st.sampled_from([1, 2, 3, 5,
                                                                                17, 300]),
       seed=st.integers(0, 2**32 - 1))
def test_round_trip(c, z, y, x, block, dtype, n_values, seed):
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, np.iinfo(dtype).max, n_values, dtype=dtype, endpoint=True)
    vol = palette[rng.integers(0, n_values, (c, z, y, x))]
    data = cs.encode(vol, block)
    assert len(data) % 4 == 0
    np.testing.assert_array_equal(cs.decode(data, vol.shape, block, dtype), vol)
    # Decoding into a strided output.
    out = np.zeros((x, y, z, c), dtype).transpose(3, 2, 1, 0)
    assert cs.decode(data, vol.shape, block, dtype, out=out) is out
    np.testing.assert_array_equal(out, vol)


def _valid_encoding():
    rng = np.random.default_rng(4)
    vol = rng.integers(0, 6, (2, 5, 6, 7)).astype(np.uint64)
    vol[0, :2] = 3
    return vol, cs.encode(vol, (3, 2, 2))


@SETTINGS
@given(data=st.binary(max_size=400), shape=st.tuples(st.integers(0, 2), st.integers(0, 6),
                                                     st.integers(0, 6), st.integers(0, 6)),
       block=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
       dtype=st.sampled_from([np.uint32, np.uint64]))
def test_random_bytes_never_crash(data, shape, block, dtype):
    try:
        out = cs.decode(data, shape, block, dtype)
    except ValueError as e:
        assert "DATA_LOSS: Corrupt compressed_segmentation data" in str(e)
    else:
        assert out.shape == shape


@SETTINGS
@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000),
                                                            st.integers(0, 255)), max_size=6))
def test_truncated_and_mutated_never_crash(cut, flips):
    vol, good = _valid_encoding()
    cut %= len(good)
    with pytest.raises(ValueError, match="DATA_LOSS"):
        # Every cut loses part of a referenced table or structure.
        cs.decode(good[:cut], vol.shape, (3, 2, 2), np.uint64)
    bad = bytearray(good)
    for pos, val in flips:
        bad[pos % len(bad)] = val
    try:
        out = cs.decode(bytes(bad), vol.shape, (3, 2, 2), np.uint64)
    except ValueError as e:
        assert "DATA_LOSS" in str(e)
    else:
        assert out.shape == vol.shape


def _with_word(data, word_index, value):
    b = bytearray(data)
    b[4 * word_index: 4 * word_index + 4] = int(value).to_bytes(4, "little")
    return bytes(b)


def test_corrupt_input_messages():
    vol, good = _valid_encoding()
    shape, block = vol.shape, (3, 2, 2)

    def check(data, match):
        with pytest.raises(ValueError, match=match):
            cs.decode(data, shape, block, np.uint64)

    check(good + b"\0", "not a multiple of 4")
    check(good[:4], "too few for 2 channel offsets")
    check(_with_word(good, 1, 10**6), r"channel 1: offset 1000000 is past the end")
    ch1 = int.from_bytes(good[4:8], "little")
    # Channel 0 starts at word 2; its first header word holds table offset | bits << 24.
    hdr = int.from_bytes(good[8:12], "little")
    check(_with_word(good, 2, (hdr & 0xFFFFFF) | (3 << 24)),
          r"channel 0, block \(z, y, x\) = \(0, 0, 0\): encoded bits 3")
    check(_with_word(good, 2, 0xFFFFFF), "offset 16777215 is past the end")
    # A channel's data runs from its offset to the end of the buffer (as in TensorStore).
    n_ch0 = len(good) // 4 - 2
    headers = [int.from_bytes(good[8 + 8 * i: 12 + 8 * i], "little") for i in range(27)]
    assert headers[0] >> 24 == 0  # block 0 is constant: no indices
    wide = next(i for i, h in enumerate(headers) if h >> 24)
    check(_with_word(good, 2 + 2 * wide + 1, n_ch0), "words of encoded values, but only 0")
    # Move channel 1's block 0 table to the very end of the buffer.
    n_ch1 = len(good) // 4 - ch1
    check(_with_word(good, ch1, n_ch1 - 1), "lookup table is empty")  # 4 bytes < one uint64
    check(_with_word(good, ch1, (n_ch1 - 2) | (4 << 24)), "past the end of the lookup table")
    with pytest.raises(ValueError, match="channel 0: 0 words left, too few for 27 block"):
        cs.decode(_with_word(good, 0, len(good) // 4), shape, block, np.uint64)


def test_argument_errors():
    vol = np.zeros((1, 2, 2, 2), np.uint32)
    with pytest.raises(ValueError, match="rank 4"):
        cs.encode(vol[0], (1, 1, 1))
    with pytest.raises(ValueError, match="uint32 or uint64"):
        cs.encode(vol.astype(np.int32), (1, 1, 1))
    with pytest.raises(ValueError, match=r"block_size\[1\] must be >= 1"):
        cs.encode(vol, (1, 0, 1))
    with pytest.raises(ValueError, match="3 elements"):
        cs.encode(vol, (1, 1))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        cs.encode(vol.tolist(), (1, 1, 1))
    data = cs.encode(vol, (2, 2, 2))
    with pytest.raises(ValueError, match="uint32 or uint64"):
        cs.decode(data, vol.shape, (2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 0"):
        cs.decode(data, (-1, 2, 2, 2), (2, 2, 2), np.uint32)
    with pytest.raises(ValueError, match="out has shape"):
        cs.decode(data, vol.shape, (2, 2, 2), np.uint32, out=np.zeros((1, 2, 2), np.uint32))
    with pytest.raises(ValueError, match="too many"):
        cs.encode(np.broadcast_to(np.uint32(1), (1, 4096, 4096, 4096)), (1, 1, 1))
    with pytest.raises(ValueError, match="cannot hold the block headers"):
        cs.decode(data, (1, 2**20, 2**20, 2**20), (1, 1, 1), np.uint32,
                  out=np.lib.stride_tricks.as_strided(np.zeros(1, np.uint32),
                                                      (1, 2**20, 2**20, 2**20), (0,) * 4))
    # Big-endian input is accepted and encodes like native.
    assert cs.encode(vol.astype(">u4"), (2, 2, 2)) == data
    assert cs.encode(np.zeros((0, 3, 3, 3), np.uint64), (2, 2, 2)) == b""


def test_decode_in_threads():
    rng = np.random.default_rng(9)
    vols = [rng.integers(0, 40, (1, 16, 16, 16)).astype(np.uint64) for _ in range(6)]
    blobs = [cs.encode(v, (8, 8, 8)) for v in vols]
    results = [None] * 6

    def work(i):
        for _ in range(10):
            results[i] = cs.decode(blobs[i], vols[i].shape, (8, 8, 8), np.uint64)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v, r in zip(vols, results):
        np.testing.assert_array_equal(r, v)
