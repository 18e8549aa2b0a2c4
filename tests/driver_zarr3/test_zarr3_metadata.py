"""zarr.json parsing, spec normalisation and creation defaults, compared with tensorstore 0.1.86:
the same metadata written, the same spec / schema / chunk layout / codec reported, the same
errors for malformed metadata."""

from __future__ import annotations

import json

import pytest

from zarr3_helpers import DATA_TYPES, ref, same

BASE = {
    "zarr_format": 3, "node_type": "array", "data_type": "uint16", "shape": [4, 6],
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 4]}},
    "chunk_key_encoding": {"name": "default"},
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}], "fill_value": 0,
}  # fmt: skip


def _with(**changes):
    m = json.loads(json.dumps(BASE))
    for k, v in changes.items():
        if v is ...:
            m.pop(k)
        else:
            m[k] = v
    return m


def _open_stored(metadata):
    """Opens an array whose zarr.json is `metadata`; the outcome is what the open reports."""

    def run(lib):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv.write("zarr.json", json.dumps(metadata)).result()
        store = lib.open({"driver": "zarr3", "kvstore": {"driver": "memory"}}, context=ctx).result()
        return (
            json.dumps(store.spec().to_json(), sort_keys=True),
            str(store.domain),
            store.dtype.name,
            json.dumps(store.schema.to_json(), sort_keys=True),
        )

    return run


STORED = {
    "plain": _with(),
    "no zarr_format": _with(zarr_format=...),
    "zarr_format 2": _with(zarr_format=2),
    "group": _with(node_type="group"),
    "no node_type": _with(node_type=...),
    "no shape": _with(shape=...),
    "negative shape": _with(shape=[-1, 2]),
    "no chunk_grid": _with(chunk_grid=...),
    "rectilinear": _with(chunk_grid={"name": "rectilinear"}),
    "grid rank": _with(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2]}}),
    "zero chunk": _with(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [0, 2]}}),
    "grid extra": _with(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2, 2]}, "x": 1}),
    "no key encoding": _with(chunk_key_encoding=...),
    "v2 keys": _with(chunk_key_encoding={"name": "v2"}),
    "v2 slash": _with(chunk_key_encoding={"name": "v2", "configuration": {"separator": "/"}}),
    "default dot": _with(chunk_key_encoding={"name": "default", "configuration": {"separator": "."}}),
    "bad key encoding": _with(chunk_key_encoding={"name": "foo"}),
    "bad separator": _with(chunk_key_encoding={"name": "default", "configuration": {"separator": "x"}}),
    "no codecs": _with(codecs=...),
    "empty codecs": _with(codecs=[]),
    "unknown codec": _with(codecs=[{"name": "foo"}]),
    "codec string": _with(codecs=["bytes"]),
    "no fill": _with(fill_value=...),
    "attributes": _with(attributes={"a": 1, "b": [1, 2]}),
    "dimension names": _with(dimension_names=["x", None]),
    "null names": _with(dimension_names=[None, None]),
    "names rank": _with(dimension_names=["x"]),
    "storage transformers": _with(storage_transformers=[{"name": "foo"}]),
    "no storage transformers": _with(storage_transformers=[]),
    "extension": _with(foo=1),
    "optional extension": _with(foo={"must_understand": False}),
    "required extension": _with(foo={"must_understand": True}),
    "data_type object": _with(data_type={"name": "uint16"}),
    "string type": _with(data_type="string"),
    "raw bits invalid": _with(data_type="r7"),
    "rank 0": _with(shape=[], chunk_grid={"name": "regular", "configuration": {"chunk_shape": []}}),
    "zero size": _with(shape=[0, 3]),
    "big endian": _with(codecs=[{"name": "bytes", "configuration": {"endian": "big"}}]),
    "no endian": _with(codecs=[{"name": "bytes"}]),
    "transpose gzip": _with(
        codecs=[{"name": "transpose", "configuration": {"order": [1, 0]}}, {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "gzip", "configuration": {"level": 5}}]),
    "sharded": _with(
        chunk_grid={"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
        codecs=[{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
            "index_location": "start"}}]),
    "shard not dividing": _with(
        codecs=[{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [3, 3], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}}]),
}


@pytest.mark.parametrize("name", sorted(STORED))
def test_stored_metadata(name):
    same(_open_stored(STORED[name]))


FILL_CASES = [
    (dt, fv)
    for dt in ("float32", "float64", "float16", "bfloat16", "float8_e4m3fn", "float4_e2m1fn", "float8_e5m2")
    for fv in (1.5, "NaN", "Infinity", "-Infinity", "0x7fc00001", "0x3c00", "0x7e", "0x0000000000000001", 1e300, "nan", 0, -0.0, "abc", True)
] + [
    (dt, fv) for dt in ("complex64", "complex128") for fv in ([1, 2], ["NaN", "Infinity"], [1], 1, ["0x3f800000", 2])
] + [("bool", fv) for fv in (True, 0, "true")] + [
    (dt, fv) for dt in ("int4", "int2", "uint8", "int64", "uint64") for fv in (7, -8, 1.0, 1.5, "0x1", 18446744073709551615, True)
]


@pytest.mark.parametrize("dtype,fill", FILL_CASES, ids=[f"{d}-{f!r}" for d, f in FILL_CASES])
def test_fill_values(dtype, fill):
    meta = _with(data_type=dtype, fill_value=fill, codecs=[{"name": "bytes", "configuration": {"endian": "little"}}]
                 if dtype not in ("bool", "int2", "int4", "uint8", "float8_e4m3fn", "float4_e2m1fn", "float8_e5m2") else [{"name": "bytes"}])

    def run(lib):
        out = _open_stored(meta)(lib)
        store_fill = None
        return out, store_fill

    same(run)


# TensorStore 0.1.86 prints a float8_e8m0fnu fill value through a conversion of its own that
# disagrees with the value it holds (fill 0 -> stored 2**-127, printed 0.0): not reproduced.
@pytest.mark.parametrize("dtype", [d for d in DATA_TYPES if d != "float8_e8m0fnu"])
def test_every_data_type_created(dtype):
    def run(lib):
        store = lib.open({"driver": "zarr3", "kvstore": "memory://"}, create=True, dtype=dtype, shape=[3, 5]).result()
        return store.kvstore.read("zarr.json").result().value, json.dumps(store.spec().to_json(), sort_keys=True)

    same(run)


SPECS = {
    "shape and type": {"metadata": {"shape": [10, 20], "data_type": "int16"}},
    "full": {"metadata": {
        "shape": [10, 20], "data_type": "int16", "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5, 5]}},
        "codecs": [{"name": "transpose", "configuration": {"order": [1, 0]}}, {"name": "bytes"}, {"name": "gzip"}],
        "fill_value": 3, "dimension_names": ["a", None], "chunk_key_encoding": {"name": "v2"}, "attributes": {"x": 1}}},
    "sharding only": {"metadata": {"codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2]}}]}},
    "unknown member": {"metadata": {"foo": 1}},
    "zarr_format 2": {"metadata": {"zarr_format": 2}},
    "zarr_format 3": {"metadata": {"zarr_format": 3}},
    "fill without type": {"metadata": {"fill_value": 3}},
    "bool fill": {"metadata": {"fill_value": 3, "data_type": "bool"}},
    "metadata_key": {"metadata_key": "foo.json"},
    "dtype mismatch": {"dtype": "int32", "metadata": {"data_type": "int16"}},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_normalisation(name):
    j = {"driver": "zarr3", "kvstore": "memory://", **SPECS[name]}

    def run(lib):
        spec = lib.Spec(j)
        return json.dumps(spec.to_json(), sort_keys=True), json.dumps(spec.schema.to_json(), sort_keys=True)

    same(run)


def _L(**kw):
    return kw


CREATE = {
    "default 3d": ({}, _L(shape=[512, 512, 512])),
    "read and write": ({}, _L(shape=[512, 512, 512], chunk_layout=("read_chunk_shape", [64] * 3, "write_chunk_shape", [256] * 3))),
    "read only": ({}, _L(shape=[512, 512, 512], chunk_layout=("read_chunk_shape", [64] * 3))),
    "write only": ({}, _L(shape=[512, 512, 512], chunk_layout=("write_chunk_shape", [256] * 3))),
    "write 64": ({}, _L(shape=[512, 512, 512], chunk_layout=("write_chunk_shape", [64] * 3))),
    "chunk_shape": ({}, _L(shape=[512, 512, 512], chunk_layout=("chunk_shape", [64] * 3))),
    "read elements": ({}, _L(shape=[512, 512, 512], chunk_layout=("read_chunk_elements", 1000))),
    "write soft": ({}, _L(shape=[512, 512, 512], chunk_layout=("write_chunk_shape_soft_constraint", [256] * 3))),
    "inner order": ({}, _L(shape=[100, 100], chunk_layout=("inner_order", [1, 0]))),
    "inner order soft": ({}, _L(shape=[100, 100], chunk_layout=("inner_order_soft_constraint", [1, 0]))),
    "inner order sharded": ({}, _L(shape=[100, 100], chunk_layout=("inner_order", [1, 0], "read_chunk_shape", [10, 10], "write_chunk_shape", [50, 50]))),
    "blosc": ({}, _L(shape=[100, 100], codec=[{"name": "blosc"}])),
    "zstd": ({}, _L(shape=[100, 100], codec=[{"name": "zstd"}])),
    "gzip crc32c": ({}, _L(shape=[100, 100], codec=[{"name": "gzip"}, {"name": "crc32c"}])),
    "big endian": ({}, _L(shape=[100, 100], codec=[{"name": "bytes", "configuration": {"endian": "big"}}])),
    "zstd sharded": ({}, _L(shape=[100, 100], codec=[{"name": "zstd"}], chunk_layout=("read_chunk_shape", [10, 10], "write_chunk_shape", [50, 50]))),
    "transpose codec": ({}, _L(shape=[100, 100], codec=[{"name": "transpose", "configuration": {"order": [1, 0]}}])),
    "transpose and order": ({}, _L(shape=[100, 100], codec=[{"name": "transpose", "configuration": {"order": [0, 1]}}],
                                   chunk_layout=("inner_order", [1, 0]))),
    "fill and units": ({}, _L(shape=[100, 100], fill_value=5, dimension_units=["nm", "nm"])),
    "labels": ({}, _L(domain=("x", "y"))),
    "rank 0": ({}, _L(shape=[])),
    "zero size": ({}, _L(shape=[0, 0])),
    "no shape": ({}, _L()),
    "origin 1": ({}, _L(domain_origin=[1, 1])),
    "metadata grid": ({"metadata": {"shape": [10], "data_type": "uint8", "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}}}}, _L(no_dtype=True)),
    "sharding given": ({"metadata": {"codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [4]}}]}}, _L(shape=[100], dtype="uint8")),
    "sharding not dividing": ({"metadata": {"codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [4]}}],
                                            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10]}}}}, _L(shape=[100], dtype="uint8")),
    "nested sharding": ({"metadata": {"codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [4], "codecs": [
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2]}}]}}]}}, _L(shape=[100], dtype="uint8")),
    "sharding with order": ({"metadata": {"codecs": [{"name": "sharding_indexed"}]}}, _L(shape=[100, 100], chunk_layout=("inner_order", [1, 0]))),
    "v2 key encoding": ({"metadata": {"chunk_key_encoding": {"name": "v2"}}}, _L(shape=[10, 10])),
    "attributes": ({"metadata": {"attributes": {"a": [1, 2]}}}, _L(shape=[10, 10])),
}


def _create_run(extra, kw):
    def run(lib):
        args = {}
        if not kw.get("no_dtype"):
            args["dtype"] = kw.get("dtype", "uint16")
        if "shape" in kw:
            args["shape"] = kw["shape"]
        if "domain" in kw:
            args["domain"] = lib.IndexDomain(shape=[100, 100], labels=list(kw["domain"]))
        if "domain_origin" in kw:
            args["domain"] = lib.IndexDomain(inclusive_min=kw["domain_origin"], shape=[100, 100])
        if "chunk_layout" in kw:
            items = kw["chunk_layout"]
            args["chunk_layout"] = lib.ChunkLayout(**dict(zip(items[::2], items[1::2])))
        if "codec" in kw:
            args["codec"] = lib.CodecSpec({"driver": "zarr3", "codecs": kw["codec"]})
        for name in ("fill_value", "dimension_units"):
            if name in kw:
                args[name] = kw[name]
        store = lib.open({"driver": "zarr3", "kvstore": "memory://", **extra}, create=True, **args).result()
        return (
            store.kvstore.read("zarr.json").result().value,
            json.dumps(store.spec().to_json(), sort_keys=True),
            json.dumps(store.schema.to_json(), sort_keys=True),
            repr(store.chunk_layout),
            repr(store.codec),
        )

    return run


@pytest.mark.parametrize("name", sorted(CREATE))
def test_creation_defaults(name):
    same(_create_run(*CREATE[name]))


CODEC_SPECS = {
    "empty configuration": {"driver": "zarr3", "codecs": [{"name": "gzip", "configuration": {}}]},
    "unknown codec": {"driver": "zarr3", "codecs": [{"name": "foo"}]},
    "partial blosc": {"driver": "zarr3", "codecs": [{"name": "blosc", "configuration": {"cname": "zstd"}}]},
    "codecs not array": {"driver": "zarr3", "codecs": "x"},
    "wrong order": {"driver": "zarr3", "codecs": [{"name": "bytes", "configuration": {"endian": "big"}},
                                                  {"name": "transpose", "configuration": {"order": [1, 0]}}]},
    "extra member": {"driver": "zarr3", "x": 1},
    "no codecs": {"driver": "zarr3"},
    "sharding": {"driver": "zarr3", "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2]}}]},
}


@pytest.mark.parametrize("name", sorted(CODEC_SPECS))
def test_codec_spec(name):
    same(lambda lib: json.dumps(lib.CodecSpec(CODEC_SPECS[name]).to_json(), sort_keys=True))


def test_codec_spec_merge_with_unconstrained():
    def run(lib):
        schema = lib.Schema(codec=lib.CodecSpec({"driver": "zarr3", "codecs": [{"name": "gzip"}]}))
        schema.update(codec=lib.CodecSpec({"driver": "zarr3"}))
        return json.dumps(schema.codec.to_json(), sort_keys=True)

    same(run)
