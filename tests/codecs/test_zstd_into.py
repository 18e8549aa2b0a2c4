"""zstd decoding straight into the caller's buffer (`ZstdCodec._decode_into`): the same bytes,
and the same errors, as decoding to a new bytes object."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

from tensorstore_py.codecs.simple import ZstdCodec, _single_frame_size
from tensorstore_py.errors import StatusError

DATA = (np.arange(150_000, dtype="<u4") % 1000).tobytes() + bytes(100_000) + np.random.default_rng(5).bytes(30_000)


def _into(codec: ZstdCodec, data: bytes, size: int) -> bytes:
    buf = bytearray(size)
    codec.decode(data, out=buf)
    return bytes(buf)


@pytest.mark.parametrize("level", [-3, 1, 3, 19])
@pytest.mark.parametrize("checksum", [False, True])
def test_frames_decode_into_the_buffer(level, checksum, monkeypatch):
    codec = ZstdCodec(level, checksum)
    enc = codec.encode(DATA)
    assert _single_frame_size(memoryview(enc)) == len(enc)

    def no_detour(*args):
        raise AssertionError("decoded to a new bytes object first")

    monkeypatch.setattr(ZstdCodec, "_decode", no_detour)
    assert _into(codec, enc, len(DATA)) == DATA


def test_frame_without_content_size_decodes_into_the_buffer():
    enc = zstandard.ZstdCompressor(level=3, write_content_size=False).compressobj()
    frame = enc.compress(DATA) + enc.flush()
    assert _into(ZstdCodec(3), frame, len(DATA)) == DATA


def _errors(codec: ZstdCodec, data: bytes, size: int) -> tuple[str, str]:
    messages = []
    for decode in (lambda: codec.decode(data, expected_size=size), lambda: _into(codec, data, size)):
        with pytest.raises(StatusError) as info:
            decode()
        assert info.value.code == "DATA_LOSS"
        messages.append(info.value.message)
    return messages[0], messages[1]


def test_damage_fails_as_without_a_buffer():
    codec = ZstdCodec(3, checksum=True)
    enc = codec.encode(DATA)
    bad_checksum = enc[:-1] + bytes([enc[-1] ^ 0xFF])
    for damaged, size in [(bad_checksum, len(DATA)), (enc + b"\x00", len(DATA)), (enc[:-7], len(DATA)),
                          (enc, len(DATA) - 1)]:
        from_bytes, from_buffer = _errors(codec, damaged, size)
        assert from_bytes == from_buffer
