"""CodecSpec: JSON handling, the driver registry and merge rules."""

from __future__ import annotations

import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py.schema.codec_spec import merge_codec_specs, register_codec_spec

from .conftest import outcome


def test_unregistered_driver_keeps_json():
    j = {"driver": "neuroglancer_precomputed", "encoding": "raw"}
    spec = ts.CodecSpec(j)
    assert spec.to_json() == ref.CodecSpec(j).to_json() == j
    assert repr(spec) == repr(ref.CodecSpec(j))


@pytest.mark.parametrize("j", [{}, 5, {"driver": 5}, []], ids=repr)
def test_malformed_json_matches_reference(j):
    assert outcome(lambda: ts.CodecSpec(j).to_json()) == outcome(lambda: ref.CodecSpec(j).to_json())


def test_registry_parse_and_merge():
    def parse(j: dict) -> dict:
        extra = set(j) - {"driver", "level"}
        if extra:
            raise ValueError(f"Object includes extra members: {sorted(extra)}")
        return {"driver": j["driver"], "level": j.get("level", 1)}

    register_codec_spec("_test_codec", parse)
    a = ts.CodecSpec({"driver": "_test_codec"})
    assert a.to_json() == {"driver": "_test_codec", "level": 1}
    assert merge_codec_specs(a, ts.CodecSpec({"driver": "_test_codec", "level": 1})).to_json() == a.to_json()
    with pytest.raises(ValueError, match='^Cannot merge codec spec {"driver":"_test_codec","level":1} with '
                                         '{"driver":"_test_codec","level":2}: "level" does not match$'):
        merge_codec_specs(a, ts.CodecSpec({"driver": "_test_codec", "level": 2}))
    with pytest.raises(ValueError, match="extra members"):
        ts.CodecSpec({"driver": "_test_codec", "x": 1})

    register_codec_spec("_test_codec2", lambda j: j, merge=lambda x, y: {**x, **y, "merged": True})
    m = merge_codec_specs(ts.CodecSpec({"driver": "_test_codec2", "a": 1}), ts.CodecSpec({"driver": "_test_codec2", "a": 2}))
    assert m.to_json() == {"a": 2, "driver": "_test_codec2", "merged": True}


def test_member_merge_matches_reference_for_same_json():
    # zarr's own parsing belongs to the zarr driver; with identical normalised JSON both agree.
    a = {"driver": "zarr", "compressor": None, "filters": None}
    b = {"driver": "zarr", "compressor": {"id": "zlib", "level": 1}, "filters": None}

    def run(mod):
        return mod.Schema(codec=mod.CodecSpec(a), schema=mod.Schema(codec=mod.CodecSpec(b))).to_json()

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))
    assert merge_codec_specs(None, ts.CodecSpec(a)).to_json() == a
    with pytest.raises(ValueError, match='^Cannot merge codec spec {.*"driver":"zarr".*} with {"driver":"n5"}$'):
        merge_codec_specs(ts.CodecSpec(a), ts.CodecSpec({"driver": "n5"}))


_CODEC_JSON = [
    {"driver": "zarr", "compressor": None}, {"driver": "zarr"}, {"driver": "zarr", "filters": None},
    {"driver": "zarr", "filters": [{"id": "delta"}]}, {"driver": "zarr", "compressor": {"id": "zlib"}},
    {"driver": "zarr", "compressor": {"id": "blosc"}}, {"driver": "zarr", "compressor": {"id": "zstd"}},
    {"driver": "zarr", "compressor": {"id": "bz2"}}, {"driver": "zarr", "compressor": {"id": "gzip"}},
    {"driver": "zarr", "compressor": 3}, {"driver": "zarr", "compressor": {"id": "foo"}},
    {"driver": "zarr", "compressor": {"id": "zlib", "level": 10}}, {"driver": "zarr", "foo": 1},
    {"driver": "array"}, {"driver": "foo"}, {"driver": "zarr3", "codecs": ["gzip"]},
    {"driver": "n5", "compression": {"type": "gzip"}}, {"driver": "neuroglancer_precomputed", "encoding": "jpeg"},
    None, "zarr",
]  # fmt: skip


@pytest.mark.parametrize("j", _CODEC_JSON, ids=repr)
def test_codec_spec_forms_match_reference(j):
    def run(mod):
        spec = mod.CodecSpec(j)
        return spec.to_json(), repr(spec), mod.Schema(codec=spec).to_json()

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


def test_zarr_codec_specs_merge_by_member_as_reference():
    def run(mod, a, b):
        schema = mod.Schema(codec=mod.CodecSpec(a))
        schema.update(codec=mod.CodecSpec(b))
        return schema.codec.to_json()

    for a, b in [({"driver": "zarr"}, {"driver": "zarr", "compressor": {"id": "zlib"}}),
                 ({"driver": "zarr", "compressor": None}, {"driver": "zarr", "compressor": {"id": "zlib"}})]:
        assert outcome(lambda: run(ts, a, b)) == outcome(lambda: run(ref, a, b))
