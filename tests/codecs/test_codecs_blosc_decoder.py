"""Blosc1 frames are written by python-blosc (c-blosc 1.x); zstd and zlib frames are read by
python-blosc2 (c-blosc2), the others by python-blosc: every frame c-blosc 1.x writes, with any
compressor, shuffle, level or forced block size, must decode to the same bytes."""

from __future__ import annotations

import itertools

import blosc
import numcodecs
import numpy as np
import pytest

from codecs_helpers import sample_array
from tensorstore_py import codecs
from tensorstore_py.codecs import blosc as blosc_module


def test_c_blosc2_reads_every_compressor_c_blosc_writes():
    import blosc2

    readable = {c.name.lower() for c in blosc2.compressor_list()}
    assert set(blosc.compressor_list()) <= readable


@pytest.mark.parametrize("cname", sorted(blosc_module.AVAILABLE_CNAMES))
def test_frames_of_c_blosc_1_decode_through_c_blosc2(cname):
    for dtype, shuffle, clevel, blocksize in itertools.product(
            ["uint8", "int16", "float64"], [0, 1, 2], [0, 1, 9], [0, 256]):
        array = sample_array(dtype, 4000, seed=shuffle + clevel)
        # numcodecs bundles its own c-blosc 1.x: frames from another build than ours.
        frame = numcodecs.Blosc(cname, clevel, shuffle, blocksize).encode(array)
        codec = codecs.zarr_compressor_from_json({"id": "blosc", "cname": cname})
        assert bytes(codec.decode(frame)) == array.tobytes()
        out = np.zeros_like(array)
        codec.decode(frame, out=out)
        np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("cname,decoder", [("zstd", "c-blosc2"), ("zlib", "c-blosc2"),
                                           ("lz4", "c-blosc"), ("blosclz", "c-blosc")])
def test_each_compressor_goes_to_its_faster_decoder(monkeypatch, cname, decoder):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded by the other library")

    if decoder == "c-blosc2":
        monkeypatch.setattr(blosc.blosc_extension, "decompress", refuse)
        monkeypatch.setattr(blosc.blosc_extension, "decompress_ptr", refuse)
    else:
        monkeypatch.setattr(blosc_module, "_c_blosc2", refuse)
    codec = codecs.zarr_compressor_from_json({"id": "blosc", "cname": cname})
    array = sample_array("int32", 10000)
    frame = codec.encode(array, 4)
    assert bytes(codec.decode(frame, expected_size=array.nbytes)) == array.tobytes()
    out = np.empty_like(array)
    codec.decode(frame, out=out)
    np.testing.assert_array_equal(out, array)


def test_damaged_payload_is_data_loss():
    codec = codecs.zarr_compressor_from_json({"id": "blosc", "cname": "lz4", "shuffle": 0})
    array = sample_array("int32", 20000)
    frame = bytearray(codec.encode(array, 4))
    frame[40:] = bytes(len(frame) - 40)  # block offsets intact, compressed blocks zeroed
    for call in (lambda: codec.decode(bytes(frame)),
                 lambda: codec.decode(bytes(frame), out=np.empty_like(array))):
        try:
            result = call()
        except ValueError as exc:
            assert str(exc).startswith("DATA_LOSS: Invalid blosc-compressed data")
        else:  # lz4 has no checksum: a decodable block is all it can promise
            assert len(bytes(result)) == array.nbytes
