"""The array -> bytes codecs of Neuroglancer's encodings (compressed_segmentation, jpeg, png)
and the precomputed dialect that chains them: validation at resolve time, round trips through
the ``(x, y, z, channel)`` Fortran chunk layout, decoding into strided outputs, the raw layout,
and random bytes failing with DATA_LOSS, never a crash."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import compressed_segmentation as cseg
from tensorstore_py.codecs import (
    BytesCodec, CodecChain, CompressedSegmentationCodec, JpegCodec, PngCodec, TransposeCodec,
)  # fmt: skip
from tensorstore_py.driver.neuroglancer_precomputed.chunk_encoding import encoding_codec
from tensorstore_py.errors import StatusError

pytest.importorskip("PIL")


def _chain(codec) -> CodecChain:
    # What the precomputed dialect builds: (x, y, z, c) Fortran chunks seen as (c, z, y, x).
    return CodecChain([TransposeCodec("F")], codec, [])


def _labels(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 2**40 if dtype == np.uint64 else 2**31, size=shape, dtype=np.uint64)
    return np.asfortranarray((coarse // 3).astype(dtype))


def _image(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hi = 256 if dtype == np.uint8 else 65536
    return np.asfortranarray(rng.integers(0, hi, size=shape).astype(dtype))


@pytest.mark.parametrize("codec, shape, dtype, message", [
    (CompressedSegmentationCodec([8, 8, 8]), (4, 4, 4), np.uint64, "(channel, z, y, x)"),
    (CompressedSegmentationCodec([8, 8, 8]), (1, 4, 4, 4), np.uint16, "uint32 or uint64"),
    (JpegCodec(80), (1, 4, 4, 4), np.uint16, "uint8"),
    (JpegCodec(80), (5, 4, 4, 4), np.uint8, "1 to 4 channels"),
    (PngCodec(6), (1, 4, 4, 4), np.uint32, "uint8 or uint16"),
    (PngCodec(6), (4,), np.uint8, "rank 2"),
])  # fmt: skip
def test_resolve_refuses_what_the_encoding_cannot_store(codec, shape, dtype, message):
    with pytest.raises(StatusError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        codec.resolve(shape, np.dtype(dtype))
    assert info.value.code == "INVALID_ARGUMENT"


def test_block_size_is_checked():
    with pytest.raises(StatusError, match="3 positive integers"):
        CompressedSegmentationCodec([8, 8])


CASES = [
    ("compressed_segmentation", np.uint32, 1, _labels),
    ("compressed_segmentation", np.uint64, 2, _labels),
    ("png", np.uint8, 1, _image),
    ("png", np.uint8, 3, _image),
    ("png", np.uint16, 1, _image),
    ("png", np.uint16, 2, _image),
    ("raw", np.uint16, 2, _image),
]


@pytest.mark.parametrize("extent", [(8, 8, 8), (5, 8, 3), (1, 2, 7)])
@pytest.mark.parametrize("encoding, dtype, nc, make", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_lossless_round_trip_through_the_chunk_layout(encoding, dtype, nc, make, extent):
    codec = encoding_codec(encoding, png_level=3, block_size=[4, 4, 2])
    resolved = _chain(codec).resolve(extent + (nc,), np.dtype(dtype))
    chunk = make(extent + (nc,), dtype)
    blob = resolved.encode_bytes(chunk)
    np.testing.assert_array_equal(resolved.decode(blob), chunk)
    # Straight into the low corner of a bigger Fortran chunk (what edge chunks do).
    big = np.zeros((9, 9, 9, nc), dtype, order="F")
    window = big[: extent[0], : extent[1], : extent[2], :]
    assert resolved.decode(blob, window) is window
    np.testing.assert_array_equal(window, chunk)
    assert not big[extent[0]:].any()


def test_raw_is_little_endian_channel_z_y_x():
    resolved = _chain(BytesCodec("little")).resolve((3, 4, 5, 2), np.dtype(np.uint16))
    chunk = _image((3, 4, 5, 2), np.uint16)
    assert resolved.encode_bytes(chunk) == chunk.transpose(3, 2, 1, 0).astype("<u2").tobytes()


def test_compressed_segmentation_bytes_are_the_kernel_s():
    resolved = _chain(CompressedSegmentationCodec([4, 4, 2])).resolve((8, 8, 8, 1),
                                                                      np.dtype(np.uint64))
    chunk = _labels((8, 8, 8, 1), np.uint64)
    assert resolved.encode_bytes(chunk) == cseg.encode(chunk.transpose(3, 2, 1, 0), (4, 4, 2))


def test_jpeg_round_trip_is_close_and_image_shaped():
    from PIL import Image

    resolved = _chain(JpegCodec(95)).resolve((16, 8, 2, 3), np.dtype(np.uint8))
    ramp = np.add.outer(np.add.outer(np.arange(16) * 8, np.arange(8) * 4), np.arange(2) * 2)
    chunk = np.asfortranarray(np.repeat(ramp[..., None], 3, axis=3).astype(np.uint8))
    blob = resolved.encode_bytes(chunk)
    image = Image.open(io.BytesIO(blob))
    # x wide, y * z high, as Neuroglancer stores it.
    assert (image.format, image.size, image.mode) == ("JPEG", (16, 16), "RGB")
    out = resolved.decode(blob)
    assert np.abs(out.astype(int) - chunk).max() <= 8


def test_image_of_the_wrong_size_is_data_loss():
    small = _chain(PngCodec(6)).resolve((4, 4, 1, 1), np.dtype(np.uint8))
    blob = small.encode_bytes(_image((4, 4, 1, 1), np.uint8))
    with pytest.raises(StatusError, match="not compatible with expected chunk shape") as info:
        _chain(PngCodec(6)).resolve((4, 2, 1, 1), np.dtype(np.uint8)).decode(blob)
    assert info.value.code == "DATA_LOSS"


CHAINS = [
    _chain(c).resolve(shape, np.dtype(d)) for c, shape, d in [
        (CompressedSegmentationCodec([2, 2, 2]), (4, 4, 4, 1), np.uint32),
        (CompressedSegmentationCodec([2, 2, 1]), (3, 2, 2, 2), np.uint64),
        (JpegCodec(75), (4, 4, 2, 1), np.uint8),
        (PngCodec(6), (4, 4, 2, 1), np.uint8),
        (PngCodec(6), (4, 4, 2, 3), np.uint16),
        (PngCodec(6), (4, 4, 2, 1), np.uint16),
    ]
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=300), index=st.integers(0, len(CHAINS) - 1),
       prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\x01\x00\x00\x00"]))
def test_random_bytes_are_data_loss(blob, index, prefix):
    chain = CHAINS[index]
    try:
        out = chain.decode(prefix + blob)
    except StatusError as exc:
        assert exc.code == "DATA_LOSS", exc
        return
    # Random bytes that happen to decode must still give the chunk's shape and dtype.
    assert out.shape == chain.shape and out.dtype == chain.dtype


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + tag + body + zlib.crc32(tag + body).to_bytes(4, "big")


@pytest.mark.parametrize("chunks", [
    [(b"IHDR", b"ab")],  # a header too short to hold the image size
    [(b"IHDR", (4).to_bytes(4, "big") * 2 + bytes([16, 2, 0, 0, 0])),
     (b"IDAT", zlib.compress(b"\0" * 100000))],  # inflates past the image
    [(b"IHDR", (4).to_bytes(4, "big") * 2 + bytes([16, 2, 0, 0, 0])),
     (b"IDAT", zlib.compress(b"\0" * 196)[:-3])],  # truncated stream
])  # fmt: skip
def test_sixteen_bit_png_reader_rejects_malformed_images(chunks):
    blob = b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(t, b) for t, b in chunks)
    with pytest.raises(StatusError) as info:
        _chain(PngCodec(6)).resolve((4, 4, 1, 3), np.dtype(np.uint16)).decode(blob)
    assert info.value.code == "DATA_LOSS"

