"""Corrupt JPEG and PNG chunks raise, as TensorStore's do; a PNG bomb costs nothing (issue 16,
defects 2 and 3).  Each corruption is read through both libraries' precomputed driver from
the same file."""

from __future__ import annotations

import glob
import os
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import tensorstore

import tensorstore_py
from tensorstore_py.codecs import PngCodec


def _volume(lib, path, encoding, dtype, channels, size=(32, 32, 2)):
    return lib.open({
        "driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path},
        "scale_metadata": {"size": list(size), "encoding": encoding, "chunk_size": list(size), "resolution": [1, 1, 1]},
        "multiscale_metadata": {"type": "image", "data_type": dtype, "num_channels": channels},
    }, create=True).result()


def _chunk_file(path):
    (name,) = [f for f in glob.glob(f"{path}/*/*") if os.path.isfile(f)]
    return name


def _read_both(path):
    """(outcome of tensorstore, outcome of tensorstore_py): the array, or the error message."""
    out = []
    for lib in (tensorstore, tensorstore_py):
        try:
            out.append(lib.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path}})
                       .result().read().result())
        except ValueError as exc:
            out.append(str(exc))
    return out


def _picture(channels, dtype, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(32), np.arange(32))[:, :, None, None] * 3
    return (ramp + rng.integers(0, 40, (32, 32, 2, channels))).astype(dtype)


def test_corrupt_jpeg_scan_data_raises_where_tensorstore_does(tmp_path):
    path = str(tmp_path)
    _volume(tensorstore, path, "jpeg", "uint8", 1).write(_picture(1, np.uint8)).result()
    name = _chunk_file(path)
    original = open(name, "rb").read()
    scan = original.index(b"\xff\xda") + 14
    rng = np.random.default_rng(7)
    raised = 0
    for _ in range(40):
        corrupt = bytearray(original)
        at = int(rng.integers(scan, len(original) - 26))
        corrupt[at : at + 24] = bytes(24)
        open(name, "wb").write(corrupt)
        theirs, ours = _read_both(path)
        if isinstance(theirs, str):
            raised += 1
            assert isinstance(ours, str), f"corrupt JPEG (24 zero bytes at {at}) read without error: {theirs}"
            assert ours.split(": ", 2)[-1] == theirs.split(": ", 2)[-1]
        else:
            assert not isinstance(ours, str), ours
            np.testing.assert_array_equal(ours, theirs)
    assert raised >= 3  # the sample does exercise corrupt scans


def test_truncated_jpeg_raises_premature_end(tmp_path):
    path = str(tmp_path)
    _volume(tensorstore_py, path, "jpeg", "uint8", 1).write(_picture(1, np.uint8)).result()
    name = _chunk_file(path)
    data = open(name, "rb").read()
    open(name, "wb").write(data[: len(data) * 2 // 3])
    theirs, ours = _read_both(path)
    assert "Premature end of JPEG file" in ours
    assert ours.split(": ", 2)[-1] == theirs.split(": ", 2)[-1]


@pytest.mark.parametrize("dtype,channels", [("uint8", 1), ("uint8", 3), ("uint16", 1), ("uint16", 2)])
def test_png_bit_flip_in_idat_is_a_crc_error(tmp_path, dtype, channels):
    path = str(tmp_path)
    _volume(tensorstore_py, path, "png", dtype, channels).write(_picture(channels, dtype)).result()
    name = _chunk_file(path)
    data = bytearray(open(name, "rb").read())
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    data[idat + 4 + length // 2] ^= 0x10
    open(name, "wb").write(data)
    theirs, ours = _read_both(path)
    assert isinstance(theirs, str)
    assert ours.endswith("Failed to decode PNG: IDAT: CRC error"), ours
    assert ours.startswith("FAILED_PRECONDITION: Error reading local file")


@pytest.mark.parametrize("length,message", [(12, "IHDR: too short"), (14, "IHDR: too long"), (0, "IHDR: too short")])
def test_png_bad_ihdr_length_is_a_value_error(tmp_path, length, message):
    path = str(tmp_path)
    _volume(tensorstore_py, path, "png", "uint16", 2).write(_picture(2, np.uint16)).result()
    name = _chunk_file(path)
    data = bytearray(open(name, "rb").read())
    data[8:12] = struct.pack(">I", length)
    open(name, "wb").write(data)
    theirs, ours = _read_both(path)
    assert ours.endswith(message), ours
    assert theirs.endswith(message), theirs


def _png(width, height, depth, color_type, rows):
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_png_bomb_is_refused_at_once_without_memory():
    # ~1 MiB of IDAT inflating to 1 GiB: a 16-bit grey+alpha image of 16384 x 16384.
    width, height = 16384, 16384
    z = zlib.compressobj(9)
    row = bytes(width * 4 + 1)
    rows = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    bomb = _png(width, height, 16, 4, rows)
    assert len(bomb) < 2 << 20
    codec = PngCodec().resolve((2, 2, 32, 32), np.dtype(np.uint16))
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(ValueError, match=r"Image dimensions \(16384, 16384, 2\) are not compatible with "
                                             r"expected chunk shape \{2, 2, 32, 32\}"):
            codec.decode(bomb)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 16 << 20


def test_png_whose_data_inflate_past_the_header_is_refused():
    # Header matches the chunk; the stream inflates to far more than it says.
    z = zlib.compressobj(9)
    rows = b"".join(z.compress(bytes(32 * 4 + 1)) for _ in range(200_000)) + z.flush()
    codec = PngCodec().resolve((2, 2, 32, 32), np.dtype(np.uint16))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="wrong amount of image data"):
            codec.decode(_png(32, 64, 16, 4, rows))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
