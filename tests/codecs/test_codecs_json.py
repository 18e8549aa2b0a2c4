"""JSON parsing and normalisation of zarr ``compressor`` / n5 ``compression``, compared with the
reference TensorStore (which reports them through ``spec().to_json()`` and open errors)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codecs_helpers import ours_normalise, ref_normalise
from tensorstore_py import codecs
from tensorstore_py.errors import StatusError

ZARR_CASES = [
    None, {"id": "zlib"}, {"id": "gzip"}, {"id": "bz2"}, {"id": "zstd"}, {"id": "blosc"},
    {"id": "lz4"}, {"id": "zlib", "level": 10}, {"id": "zlib", "level": -1},
    {"id": "zlib", "level": "a"}, {"id": "zlib", "level": 3.0}, {"id": "zlib", "level": 3.5},
    {"id": "zlib", "level": True}, {"id": "zlib", "level": None}, {"id": "zlib", "level": "3"},
    {"id": "zlib", "foo": 1}, {"id": "zlib", "level": 10, "foo": 1}, {"id": "gzip", "level": 9},
    {"id": "gzip", "level": 10}, {"id": "bz2", "level": 0}, {"id": "bz2", "level": 9},
    {"id": "zstd", "level": 23}, {"id": "zstd", "level": -131073},
    {"id": "zstd", "level": -131072}, {"id": "zstd", "level": 22},
    {"id": "blosc", "cname": "foo"}, {"id": "blosc", "cname": "LZ4"},
    {"id": "blosc", "cname": None}, {"id": "blosc", "cname": 5},
    {"id": "blosc", "clevel": 10}, {"id": "blosc", "clevel": -1}, {"id": "blosc", "clevel": "5"},
    {"id": "blosc", "shuffle": 3}, {"id": "blosc", "shuffle": -2}, {"id": "blosc", "shuffle": 2},
    {"id": "blosc", "blocksize": -1}, {"id": "blosc", "blocksize": 100},
    {"id": "blosc", "blocksize": 1.5}, {"id": "blosc", "blocksize": 2.0},
    {"id": "blosc", "blocksize": "7"}, {"id": "blosc", "blocksize": 18446744073709551615},
    {"id": "blosc", "cname": "bad", "clevel": 10, "shuffle": 5, "blocksize": -1},
    {"id": "blosc", "clevel": 10, "shuffle": 5}, {"id": "blosc", "foo": 1, "clevel": 10},
    {"id": "blosc", "cname": "zstd", "clevel": 0, "shuffle": 0, "blocksize": 65536},
    {}, 5, [], "zlib", {"id": 5}, {"id": None}, {"level": 1},
]  # fmt: skip

N5_CASES = [
    {"type": "raw"}, {"type": "gzip"}, {"type": "bzip2"}, {"type": "xz"}, {"type": "zstd"},
    {"type": "blosc"}, {"type": "lz4"}, {}, None, 5, {"type": 5},
    {"type": "gzip", "level": -1}, {"type": "gzip", "level": -2}, {"type": "gzip", "level": 9},
    {"type": "gzip", "level": 10}, {"type": "gzip", "useZlib": True},
    {"type": "gzip", "useZlib": 1}, {"type": "gzip", "useZlib": None},
    {"type": "gzip", "level": 12, "useZlib": 1}, {"type": "gzip", "level": "4"},
    {"type": "bzip2", "blockSize": 0}, {"type": "bzip2", "blockSize": 1},
    {"type": "bzip2", "blockSize": 10}, {"type": "xz", "preset": 10}, {"type": "xz", "preset": 0},
    {"type": "xz", "preset": -1}, {"type": "zstd", "level": 23}, {"type": "zstd", "level": -5},
    {"type": "zstd", "level": None},
    {"type": "blosc", "cname": "zstd", "clevel": 9, "blocksize": 256},
    {"type": "blosc", "cname": "bad"}, {"type": "blosc", "cname": "lz4"},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 1},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": -1},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 3},
    {"type": "blosc", "cname": "lz4", "clevel": 10, "shuffle": 1},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 1, "blocksize": 100},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 1, "blocksize": -1},
    {"type": "blosc", "cname": "lz4", "shuffle": 1}, {"type": "blosc", "clevel": 3, "shuffle": 1},
    {"type": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 1, "foo": 2},
    {"type": "raw", "foo": 1}, {"type": "gzip", "foo": 1},
]  # fmt: skip


@pytest.mark.parametrize("j", ZARR_CASES, ids=repr)
def test_zarr_compressor_json_matches_reference(j):
    assert ours_normalise("zarr", j) == ref_normalise("zarr", j)


@pytest.mark.parametrize("j", N5_CASES, ids=repr)
def test_n5_compression_json_matches_reference(j):
    assert ours_normalise("n5", j) == ref_normalise("n5", j)


def test_defaults_print_like_tensorstore():
    assert codecs.default_zarr_compressor().to_json() == {
        "blocksize": 0, "clevel": 5, "cname": "lz4", "id": "blosc", "shuffle": -1}
    assert codecs.default_n5_compression().to_json() == {
        "blocksize": 0, "clevel": 5, "cname": "lz4", "shuffle": 1, "type": "blosc"}
    assert list(codecs.default_zarr_compressor().to_json()) == sorted(
        codecs.default_zarr_compressor().to_json())


def test_errors_are_invalid_argument_value_errors():
    with pytest.raises(ValueError) as info:
        codecs.zarr_compressor_from_json({"id": "zlib", "level": 10})
    assert isinstance(info.value, StatusError) and info.value.code == "INVALID_ARGUMENT"
    assert str(info.value).startswith('Error parsing object member "level"')


def test_parsed_codec_round_trips_through_json():
    for j in [{"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 4096},
              {"id": "zstd", "level": -7}, {"id": "gzip", "level": 0}]:
        codec = codecs.zarr_compressor_from_json(j)
        again = codecs.zarr_compressor_from_json(codec.to_json())
        assert again == codec and hash(again) == hash(codec)
        assert "ZarrBlosc" in repr(codecs.default_zarr_compressor())


def test_registries_list_every_kind():
    assert codecs.ZARR_COMPRESSORS.kinds() == ["blosc", "bz2", "gzip", "zlib", "zstd"]
    assert codecs.N5_COMPRESSIONS.kinds() == ["blosc", "bzip2", "gzip", "raw", "xz", "zstd"]


_values = st.one_of(st.integers(-140000, 140000), st.sampled_from([-1, 0, 1, 2, 3, 5, 9, 10]),
                    st.booleans(), st.none(),
                    # Printable text only: control characters are escaped differently.
                    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=3),
                    # Only floats whose JSON spelling is the same in Python and TensorStore.
                    st.sampled_from([0.0, 0.5, 2.0, 3.5, -1.0, 9.0, 100.25]))
_names = st.sampled_from(["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd", "LZ4", "x"])


@st.composite
def _zarr_json(draw):
    kind = draw(st.sampled_from(["blosc", "zlib", "gzip", "bz2", "zstd"]))
    j = {"id": kind}
    members = ["cname", "clevel", "shuffle", "blocksize"] if kind == "blosc" else ["level"]
    for m in draw(st.lists(st.sampled_from(members), unique=True)):
        j[m] = draw(_names) if m == "cname" and draw(st.booleans()) else draw(_values)
    return j


@st.composite
def _n5_json(draw):
    kind = draw(st.sampled_from(["blosc", "gzip", "bzip2", "xz", "zstd", "raw"]))
    members = {"blosc": ["cname", "clevel", "shuffle", "blocksize"], "gzip": ["level", "useZlib"],
               "bzip2": ["blockSize"], "xz": ["preset"], "zstd": ["level"], "raw": []}[kind]
    j = {"type": kind}
    for m in draw(st.lists(st.sampled_from(members), unique=True)) if members else []:
        j[m] = draw(_names) if m == "cname" and draw(st.booleans()) else draw(_values)
    return j


@settings(max_examples=150, deadline=None)
@given(_zarr_json())
def test_zarr_json_fuzz_matches_reference(j):
    assert ours_normalise("zarr", j) == ref_normalise("zarr", j)


@settings(max_examples=150, deadline=None)
@given(_n5_json())
def test_n5_json_fuzz_matches_reference(j):
    assert ours_normalise("n5", j) == ref_normalise("n5", j)
