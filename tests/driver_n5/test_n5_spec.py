"""Specs, schemas, reprs and open/create errors: the same as tensorstore 0.1.86 reports them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tensorstore_py as ts
from n5_helpers import lib_args, outcome, ref

MEM = {"driver": "memory"}
BASE = {"driver": "n5", "kvstore": MEM}


def _md(**members) -> dict:
    return {**BASE, "metadata": members}


SPEC_CASES = [
    (_md(dataType="uint16", dimensions=[10, 20], units=["nm", "um"], axes=["x", "y"], foo=1), {}),
    (_md(blockSize=[3, 4], compression={"type": "gzip"}, resolution=[1, 2]), {}),
    (_md(dimensions=[10, 20], blockSize=[3, 4, 5]), {}),
    (_md(dataType="bool"), {}),
    ({**BASE, "dtype": "bool"}, {}),
    ({**BASE, "dtype": "complex64"}, {}),
    ({**_md(dataType="int8"), "dtype": "uint8"}, {}),
    ({**_md(dimensions=[1, 2]), "rank": 3}, {}),
    (_md(dimensions=[1, 2], units=["nm"]), {}),
    (_md(units="nm"), {}),
    (_md(dimensions=[-1]), {}),
    (_md(blockSize=[0]), {}),
    (_md(axes=["x", "x"]), {}),
    (_md(axes=["x", "x", "y", "y"]), {}),
    (_md(axes=["", ""]), {}),
    (_md(axes=["x", ""]), {}),
    (_md(axes=["x", 1]), {}),
    (_md(resolution=["a"]), {}),
    (_md(resolution=[1, 2], units=["a", "b", "c"]), {}),
    (_md(compression={"type": "foo"}), {}),
    (_md(compression={"type": "gzip", "level": 12}), {}),
    (_md(compression={"type": "blosc"}), {}),
    ({**BASE, "metadata": []}, {}),
    (_md(dataType="foo"), {}),
    (_md(dataType=1), {}),
    (_md(dimensions=[10, 20]), {"dimension_units": ["nm", None]}),
    (_md(dimensions=[10, 20]), {"fill_value": 3}),
    ({**BASE, "schema": {"fill_value": 3}}, {}),
    ({**_md(dimensions=[10, 20]), "schema": {"domain": {"labels": ["a", "b"]}}}, {}),
    ({**_md(dimensions=[10, 20]), "schema": {"domain": {"shape": [10, 21]}}}, {}),
    ({**_md(dimensions=[10, 20], axes=["a", "b"]), "schema": {"domain": {"labels": ["a", "c"]}}}, {}),
    ({**_md(compression={"type": "raw"}), "schema": {"codec": {"driver": "n5", "compression": {"type": "gzip"}}}}, {}),
    ({**BASE, "schema": {"codec": {"driver": "n5", "compression": {"type": "gzip"}}}}, {}),
    ({**_md(units=["nm", "um"], resolution=[1, 2]), "schema": {"dimension_units": ["2nm", None]}}, {}),
    ({**_md(resolution=[1, 2]), "schema": {"dimension_units": ["2nm", None]}}, {}),
    ({**_md(resolution=[1, 2]), "schema": {"dimension_units": ["1nm", None]}}, {}),
    ({**_md(dimensions=[10, 20], blockSize=[3, 4]), "schema": {"chunk_layout": {"inner_order": [0, 1]}}}, {}),
    ({**_md(dimensions=[10, 20], blockSize=[3, 4]), "schema": {"chunk_layout": {"chunk": {"shape": [3, 5]}}}}, {}),
    ({**BASE, "path": "a/b", "metadata": {}}, {}),
    ({"driver": "n5", "kvstore": "memory://x/"}, {}),
    ("memory://x|n5:", {}),
    ({**_md(dataType="uint8", dimensions=[3]), "transform": {"input_shape": [3]}}, {}),
    (BASE, {"shape": [3, 4], "dtype": ("dtype", "uint8")}),
    (BASE, {"domain": ("L", "IndexDomain", {"inclusive_min": [1, 2], "shape": [3, 4]})}),
    (_md(dimensions=[3, 4]), {"shape": [3, 4]}),
    (_md(dimensions=[3, 4]), {"shape": [3, 5]}),
    ({**BASE, "rank": 0}, {}),
    (_md(dimensions=[], dataType="int32"), {}),
    (_md(dimensions=[4, 5], blockSize=[2, 2], dataType="float64", compression={"type": "xz"}, axes=["a", "b"],
         units=["m", "s"], resolution=[0.5, 2], custom={"z": [1, {"b": 2, "a": 1}]}), {}),
]


def _spec_view(lib, j, kwargs) -> list:
    spec = lib.Spec(j)
    if kwargs:
        spec.update(**lib_args(lib, kwargs))
    return [
        spec.to_json(), str(spec.domain), spec.rank, str(spec.dtype), spec.schema.to_json(),
        repr(spec.dimension_units), repr(spec.chunk_layout), repr(spec.codec), spec.fill_value,
    ]


@pytest.mark.parametrize("case", range(len(SPEC_CASES)))
def test_spec_json_schema_and_errors_match_reference(case):
    j, kwargs = SPEC_CASES[case]
    assert outcome(lambda: _spec_view(ts, j, kwargs)) == outcome(lambda: _spec_view(ref, j, kwargs))


def test_spec_errors_are_value_errors_naming_the_member():
    with pytest.raises(ValueError, match=r'member "metadata": Error parsing object member "blockSize"'):
        ts.Spec(_md(dimensions=[10, 20], blockSize=[3, 4, 5]))
    with pytest.raises(ValueError, match=r"^bool data type is not one of the supported data types"):
        ts.Spec({**BASE, "dtype": "bool"})


def test_spec_round_trips_and_url():
    j = _md(dimensions=[10, 20], blockSize=[3, 4], dataType="uint16", compression={"type": "zstd"}, extra={"k": 1})
    spec = ts.Spec(j)
    assert ts.Spec(spec.to_json()).to_json() == spec.to_json() == ref.Spec(j).to_json()
    assert repr(spec) == repr(ref.Spec(j))
    assert spec.url == ref.Spec(j).url == "memory://|n5:"
    assert ts.Spec("memory://a/b/|n5:").to_json() == ref.Spec("memory://a/b/|n5:").to_json()


def test_codec_spec_matches_reference():
    for j in (
        {"driver": "n5"},
        {"driver": "n5", "compression": {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}},
        {"driver": "n5", "compression": {"type": "gzip", "useZlib": True}},
        {"driver": "n5", "compression": {"type": "bzip2"}},
        {"driver": "n5", "compression": {"type": "xz"}},
        {"driver": "n5", "compression": {"type": "zstd", "level": -5}},
        {"driver": "n5", "foo": 1},
        {"driver": "n5", "compression": "raw"},
        {"driver": "n5", "compression": None},
        {"driver": "n5", "compression": {"type": "gzip", "level": 10}},
    ):
        assert outcome(lambda: repr(ts.CodecSpec(j))) == outcome(lambda: repr(ref.CodecSpec(j)))


# -- open and create ------------------------------------------------------------------------------

CREATE_CASES = [
    (BASE, dict(dtype=("dtype", "uint8"), shape=[100, 200])),
    (BASE, dict(dtype=("dtype", "uint8"), domain=("L", "IndexDomain", dict(inclusive_min=[1, 2], shape=[3, 4])))),
    (BASE, dict(dtype=("dtype", "uint8"), domain=("L", "IndexDomain", dict(shape=[3, 4], labels=["a", "b"])))),
    (BASE, dict(dtype=("dtype", "bool"), shape=[3])),
    (BASE, dict(shape=[3])),
    (BASE, dict(dtype=("dtype", "uint8"))),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3], fill_value=0)),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4], dimension_units=["4nm", None])),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4], dimension_units=["4nm", "um"])),
    (_md(resolution=[3, 3]), dict(dtype=("dtype", "uint8"), shape=[3, 4], dimension_units=["3nm", None])),
    (_md(resolution=[3, 3]), dict(dtype=("dtype", "uint8"), shape=[3, 4], dimension_units=["2nm", None])),
    (_md(units=["nm", "nm"]), dict(dtype=("dtype", "uint8"), shape=[3, 4])),
    (_md(units=["nm", "nm"]), dict(dtype=("dtype", "uint8"), shape=[3, 4], dimension_units=["um", None])),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4],
                codec=("L", "CodecSpec", dict(json={"driver": "n5", "compression": {"type": "zstd", "level": 3}})))),
    (BASE, dict(dtype=("dtype", "float64"), shape=[3, 4])),
    (BASE, dict(dtype=("dtype", "int8"), shape=[3, 4])),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4], chunk_layout=("L", "ChunkLayout", dict(inner_order=[0, 1])))),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4], chunk_layout=("L", "ChunkLayout", dict(chunk_shape=[2, 2])))),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4],
                chunk_layout=("L", "ChunkLayout", dict(read_chunk_shape=[2, 2], write_chunk_shape=[4, 4])))),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[3, 4], chunk_layout=("L", "ChunkLayout", dict(codec_chunk_shape=[2, 2])))),
    (_md(blockSize=[100000, 100000], dataType="uint8", dimensions=[10, 10]), {}),
    (_md(blockSize=[40000, 40000], dataType="uint16", dimensions=[10, 10]), {}),
    (BASE, dict(dtype=("dtype", "uint8"), shape=[])),
    (_md(dimensions=[3, 4], blockSize=[3, 4], dataType="uint8", compression={"type": "raw"}, extra=[1, 2], n5="2.0.0"), {}),
    (BASE, dict(dtype=("dtype", "float32"), shape=[1000, 2000, 3000], chunk_layout=("L", "ChunkLayout", dict(
        chunk_shape=[10, None, None], chunk_aspect_ratio=[None, 2, 1], chunk_elements=10000000)))),
    (BASE, dict(dtype=("dtype", "uint16"), shape=[256, 256, 256])),
    (_md(axes=["z", "y", "x"], units=["nm", "nm", "nm"], resolution=[40, 4, 4]), dict(dtype=("dtype", "uint64"), shape=[10, 20, 30])),
]

STORED = {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"},
          "axes": ["x", "y"], "units": ["nm", "s"], "resolution": [2, 3], "extra": {"a": 1, "b": [1]}}
OPEN_CASES = [(_md(**m), {}) for m in (
    {"dimensions": [3, 5]}, {"blockSize": [2, 2]}, {"dataType": "int8"}, {"compression": {"type": "gzip"}},
    {"axes": ["x", "z"]}, {"units": ["nm", "nm"]}, {"resolution": [1, 1]}, {"extra": {"a": 1}},
    {"extra": {"a": 2}}, {"extra": {"a": 1, "b": [1]}}, {"other": 3}, {"extra": {"a": 1.0, "b": [1]}, "units": ["nm", "s"]},
)] + [
    (BASE, dict(dtype=("dtype", "uint16"))),
    (BASE, dict(rank=3)),
    (BASE, dict(dimension_units=["2nm", None])),
    (BASE, dict(dimension_units=["2nm", "3s"])),
    (BASE, dict(dimension_units=["3nm", None])),
    (BASE, dict(fill_value=0)),
    (BASE, dict(codec=("L", "CodecSpec", dict(json={"driver": "n5", "compression": {"type": "raw"}})))),
    (BASE, dict(codec=("L", "CodecSpec", dict(json={"driver": "n5", "compression": {"type": "xz"}})))),
    (BASE, dict(chunk_layout=("L", "ChunkLayout", dict(chunk_shape=[2, 2])))),
    (BASE, dict(chunk_layout=("L", "ChunkLayout", dict(chunk_shape_soft_constraint=[2, 2])))),
    (BASE, dict(chunk_layout=("L", "ChunkLayout", dict(codec_chunk_shape=[2, 2])))),
    (BASE, dict(shape=[3, 5])),
    (BASE, dict(domain=("L", "IndexDomain", dict(labels=["x", "q"])))),
    (BASE, dict(create=True, open=True)),
    ({"driver": "n5", "kvstore": {"driver": "memory", "path": "nothere/"}}, {}),
    (BASE, dict(delete_existing=True, create=True, dtype=("dtype", "uint8"), shape=[2])),
]
BAD_STORED = [
    b"not json", b"[]", b"{}",
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8"},
    {"dimensions": [3, 4], "blockSize": [2, 3], "compression": {"type": "raw"}},
    {"dimensions": [3, 4], "dataType": "uint8", "compression": {"type": "raw"}},
    {"blockSize": [3, 4], "dataType": "uint8", "compression": {"type": "raw"}},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"}, "units": ["a"]},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"}, "resolution": [1, 2]},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "bool", "compression": {"type": "raw"}},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"}, "axes": None},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"}, "axes": ["", ""]},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "raw"}, "units": None},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "n5": "2.1.0",
     "compression": {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
     "pixelResolution": {"unit": "um", "dimensions": [1, 2]}},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "gzip"}, "resolution": [1.5, 2]},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "gzip", "level": 99}},
    {"dimensions": [3, 4], "blockSize": [2, 3], "dataType": "uint8", "compression": {"type": "lz4"}},
    {"dimensions": [3, 4], "blockSize": [2**20, 2**20], "dataType": "uint8", "compression": {"type": "raw"}},
    {"dimensions": [2**62 - 2], "blockSize": [2], "dataType": "uint8", "compression": {"type": "raw"}},
    {"dimensions": [2**63 - 2], "blockSize": [2], "dataType": "uint8", "compression": {"type": "raw"}},
    {"dimensions": [4] * 33, "blockSize": [1] * 33, "dataType": "uint8", "compression": {"type": "raw"}},
    {"dimensions": [4.5], "blockSize": [2], "dataType": "uint8", "compression": {"type": "raw"}},
    b'{"dimensions": [4], "blockSize": [2], "dataType": "uint8", "compression": {"type": "raw"}, "resolution": [1e400]}',
    b'{"dimensions": [NaN]}',
    b"\xff\xfe{",
]


def _store_view(lib, ctx, store) -> list:
    kv = lib.KvStore.open(MEM, context=ctx).result()
    stored = kv.read(store.kvstore.path + "attributes.json").result()
    return [
        stored.value, store.schema.to_json(), repr(store), repr(store.dimension_units), repr(store.chunk_layout),
        repr(store.codec), store.spec(minimal_spec=True).to_json(), store.spec().to_json(), store.fill_value,
        store.domain.to_json(), store.url,
    ]


def _open_view(lib, ctx, j, kwargs) -> list:
    store = lib.open(j, context=ctx, **lib_args(lib, kwargs)).result()
    return _store_view(lib, ctx, store)


@pytest.mark.parametrize("case", range(len(CREATE_CASES)))
def test_create_matches_reference(case):
    j, kwargs = CREATE_CASES[case]
    ours = outcome(lambda: _open_view(ts, ts.Context(), j, {**kwargs, "create": True}))
    theirs = outcome(lambda: _open_view(ref, ref.Context(), j, {**kwargs, "create": True}))
    assert ours == theirs


def _with_stored(lib):
    ctx = lib.Context()
    lib.open(_md(**STORED), context=ctx, create=True).result()
    kv = lib.KvStore.open(MEM, context=ctx).result()
    for i, value in enumerate(BAD_STORED):
        kv.write(f"bad{i}/attributes.json", value if isinstance(value, bytes) else json.dumps(value).encode()).result()
    return ctx


@pytest.mark.parametrize("case", range(len(OPEN_CASES) + len(BAD_STORED)))
def test_open_existing_matches_reference(case):
    if case < len(OPEN_CASES):
        j, kwargs = OPEN_CASES[case]
    else:
        j, kwargs = {"driver": "n5", "kvstore": {"driver": "memory", "path": f"bad{case - len(OPEN_CASES)}/"}}, {}
    ours = outcome(lambda: _open_view(ts, _with_stored(ts), j, kwargs))
    theirs = outcome(lambda: _open_view(ref, _with_stored(ref), j, kwargs))
    assert ours == theirs


@pytest.mark.parametrize("lib", [ts, ref], ids=["ours", "ref"])
def test_open_errors_carry_status_codes(lib):
    ctx = _with_stored(lib)
    cases = {
        "FAILED_PRECONDITION": _md(dimensions=[3, 5]),
        "NOT_FOUND": {"driver": "n5", "kvstore": {"driver": "memory", "path": "nothere/"}},
    }
    for code, j in cases.items():
        with pytest.raises(ValueError, match=f"^{code}: Error opening \"n5\" driver"):
            lib.open(j, context=ctx).result()


# -- reprs for a matrix of arrays ---------------------------------------------------------------

REPR_MATRIX = [
    dict(dtype=dt, shape=shape, **extra)
    for dt in ("uint8", "int16", "uint32", "int64", "float32", "float64")
    for shape, extra in (
        ([5], {}),
        ([40, 30], {"chunk_layout": ("L", "ChunkLayout", dict(chunk_shape=[16, 7]))}),
        ([64, 64, 8], {"dimension_units": ["4nm", "4nm", "40nm"]}),
        ([9, 8, 7, 6], {"codec": ("L", "CodecSpec", dict(json={"driver": "n5", "compression": {"type": "gzip"}}))}),
    )
]


@pytest.mark.parametrize("case", range(len(REPR_MATRIX)))
def test_reprs_and_schema_for_array_matrix(case):
    kwargs = dict(REPR_MATRIX[case])
    kwargs["dtype"] = ("dtype", kwargs["dtype"])

    def view(lib):
        ctx = lib.Context()
        store = lib.open(BASE, context=ctx, create=True, **lib_args(lib, kwargs)).result()
        sub = store[1:, ...]
        return _store_view(lib, ctx, store) + [repr(sub.spec()), sub.shape, str(sub.domain)]

    assert outcome(lambda: view(ts)) == outcome(lambda: view(ref))


def test_labels_units_and_indexing_by_label():
    spec = _md(dimensions=[4, 6], blockSize=[2, 3], dataType="int32", compression={"type": "raw"},
               axes=["y", "x"], units=["um", "um"], resolution=[0.5, 0.25])
    ours = ts.open(spec, create=True).result()
    theirs = ref.open(spec, create=True).result()
    data = np.arange(24, dtype=np.int32).reshape(4, 6)
    ours.write(data).result()
    theirs.write(data).result()
    np.testing.assert_array_equal(ours[ts.d["x"][1:4]].read().result(), theirs[ref.d["x"][1:4]].read().result())
    assert repr(ours.dimension_units) == repr(theirs.dimension_units)
    assert str(ours.domain) == str(theirs.domain)
