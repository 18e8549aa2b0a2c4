"""The zlib / gzip codecs: libdeflate writes standard streams at zlib's levels, and decoding takes
libdeflate's one-shot path only when it can vouch for the whole input, the streaming kernel
otherwise (other writers' headers, concatenated members, trailing bytes, unknown sizes)."""

from __future__ import annotations

import gzip
import io
import zlib

import numpy as np
import pytest

from codecs_helpers import sample_array
from tensorstore_py import codecs
from tensorstore_py.codecs import deflate as deflate_module
from tensorstore_py.codecs.deflate import RawDeflateCodec

DATA = sample_array("int32", 50_000, seed=3).tobytes()


def zarr(j):
    return codecs.zarr_compressor_from_json(j)


def n5(j):
    return codecs.n5_compression_from_json(j)


def _decode_all_ways(codec, enc: bytes, expected: bytes) -> None:
    """Decoded without a size, with the size, and into a buffer: always `expected`."""
    assert bytes(codec.decode(enc)) == expected
    assert bytes(codec.decode(enc, expected_size=len(expected))) == expected
    out = np.zeros(len(expected), np.uint8)
    codec.decode(enc, out=out)
    assert out.tobytes() == expected


@pytest.mark.parametrize("level", range(10))
def test_every_level_writes_streams_zlib_and_gzip_read(level):
    z = zarr({"id": "zlib", "level": level}).encode(DATA)
    assert zlib.decompress(z) == DATA and z[0] & 0x0F == 8  # zlib header, DEFLATE method
    g = zarr({"id": "gzip", "level": level}).encode(DATA)
    assert g[:3] == b"\x1f\x8b\x08" and gzip.decompress(g) == DATA
    with gzip.GzipFile(fileobj=io.BytesIO(g)) as f:  # the streaming reader agrees
        assert f.read() == DATA


def test_levels_keep_zlib_meaning():
    # Higher levels never compress worse than level 1 on compressible data; -1 is zlib's 6.
    sizes = [len(zarr({"id": "zlib", "level": lv}).encode(DATA)) for lv in range(10)]
    assert sizes[0] > len(DATA) and max(sizes[2:]) <= sizes[1] < sizes[0]
    default = n5({"type": "gzip", "useZlib": True}).encode(DATA)
    assert default == zarr({"id": "zlib", "level": 6}).encode(DATA)


@pytest.mark.parametrize("level", [0, 1, 5, 9])
def test_reads_what_zlib_and_gzip_write(level):
    for codec in (zarr({"id": "zlib"}), zarr({"id": "gzip"}), n5({"type": "gzip"})):
        _decode_all_ways(codec, zlib.compress(DATA, level), DATA)
    for codec in (zarr({"id": "gzip"}), n5({"type": "gzip"}), n5({"type": "gzip", "useZlib": True})):
        _decode_all_ways(codec, gzip.compress(DATA, level, mtime=1234), DATA)
    # A gzip header with a file name and a header CRC, as the gzip tool may write.
    buf = io.BytesIO()
    with gzip.GzipFile("chunk.bin", "wb", level, buf, mtime=5) as f:
        f.write(DATA)
    _decode_all_ways(zarr({"id": "gzip"}), buf.getvalue(), DATA)


def test_concatenated_gzip_members_decode_whole():
    half = len(DATA) // 2
    two = gzip.compress(DATA[:half], mtime=0) + gzip.compress(DATA[half:], mtime=0)
    _decode_all_ways(zarr({"id": "gzip"}), two, DATA)
    # An empty last member ends in a trailer of its own (CRC 0, size 0).
    _decode_all_ways(zarr({"id": "gzip"}), gzip.compress(DATA) + gzip.compress(b""), DATA)
    with pytest.raises(ValueError, match="DATA_LOSS: .*incorrect header check"):
        zarr({"id": "zlib"}).decode(two, expected_size=len(DATA))


@pytest.mark.parametrize("j", [{"id": "zlib"}, {"id": "gzip"}])
@pytest.mark.parametrize("tail", [b"\x00", b"\x00" * 8, b"junk" * 3])
def test_trailing_bytes_are_refused(j, tail):
    codec = zarr(j)
    enc = codec.encode(DATA)
    for call in (lambda: codec.decode(enc + tail, expected_size=len(DATA)),
                 lambda: codec.decode(enc + tail, out=bytearray(len(DATA))),
                 lambda: codec.decode(enc + tail)):
        with pytest.raises(ValueError, match=f"End of data expected; remaining length: {len(tail)}"):
            call()


@pytest.mark.parametrize("j", [{"id": "zlib"}, {"id": "gzip"}])
def test_wrong_sizes_are_refused_without_writing_past_the_buffer(j):
    codec = zarr(j)
    enc = codec.encode(DATA)
    guard = bytearray(b"\xa5" * (len(DATA) + 16))
    with pytest.raises(ValueError, match=f"exceeds the expected {len(DATA) - 1} bytes"):
        codec.decode(enc, out=memoryview(guard)[: len(DATA) - 1])
    assert guard[len(DATA) - 1:] == b"\xa5" * 17
    with pytest.raises(ValueError, match=f"Decoded {len(DATA)} bytes, but expected {len(DATA) + 1}"):
        codec.decode(enc, expected_size=len(DATA) + 1)


def test_bombs_are_bounded_by_the_expected_size():
    bomb = gzip.compress(bytes(200_000_000), 9)  # claims 200 MB in its trailer
    with pytest.raises(ValueError, match="DATA_LOSS: .*exceeds the expected 4096 bytes"):
        zarr({"id": "gzip"}).decode(bomb, expected_size=4096)
    with pytest.raises(ValueError, match="exceeds the expected 4096 bytes"):
        zarr({"id": "zlib"}).decode(zlib.compress(bytes(200_000_000), 9), out=bytearray(4096))


def test_one_shot_path_serves_plain_chunks_and_the_kernel_the_rest(monkeypatch):
    calls = []
    kernel = deflate_module._z.decompress_into

    def counting(*args):
        calls.append(args[2])
        return kernel(*args)

    monkeypatch.setattr(deflate_module._z, "decompress_into", counting)
    gz, zl = zarr({"id": "gzip"}), zarr({"id": "zlib"})
    for codec in (gz, zl):
        _decode_all_ways(codec, codec.encode(DATA), DATA)
    _decode_all_ways(gz, zlib.compress(DATA), DATA)  # zlib wrapper under a gzip label
    assert calls == []
    _decode_all_ways(gz, gzip.compress(DATA[:10]) + gzip.compress(DATA[10:]), DATA)
    assert calls  # concatenated members need the streaming decoder


def test_raw_deflate_round_trip():
    codec = RawDeflateCodec()
    enc = codec.encode(DATA)
    assert zlib.decompress(enc, -15) == DATA
    assert bytes(codec.decode(enc, expected_size=len(DATA))) == DATA
    with pytest.raises(ValueError, match="End of data expected"):
        codec.decode(enc + b"\x00", expected_size=len(DATA))


def test_encode_returns_immutable_bytes():
    for codec in (zarr({"id": "zlib"}), zarr({"id": "gzip"}), RawDeflateCodec()):
        assert type(codec.encode(DATA)) is bytes
