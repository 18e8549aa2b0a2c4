"""ts.Schema against the reference: keywords, merging, JSON, reprs, properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts

from .conftest import outcome


def describe(s) -> dict:
    out = {"json": repr(s.to_json()), "repr": repr(s), "rank": s.rank, "ndim": s.ndim,
           "dtype": None if s.dtype is None else s.dtype.name,
           "domain": repr(s.domain), "chunk_layout": repr(s.chunk_layout),
           "codec": None if s.codec is None else s.codec.to_json(),
           "dimension_units": None if s.dimension_units is None else [repr(u) for u in s.dimension_units]}
    fv = s.fill_value
    out["fill_value"] = None if fv is None else (fv.dtype.str, fv.shape, repr(fv.tolist()))
    if s.domain is not None:
        out["shape"], out["origin"] = s.shape, s.origin
        if all(x < 2**40 for x in s.shape):
            # (The saturating size of unbounded domains is the index layer's business.)
            out["size"] = s.size
    return out


def build(mod, spec: dict):
    """A Schema built from a description that does not depend on the library."""
    kw = {}
    for key, value in spec.items():
        if key == "domain":
            kw[key] = mod.IndexDomain(**value)
        elif key == "chunk_layout":
            kw[key] = mod.ChunkLayout(**value)
        elif key == "codec":
            kw[key] = mod.CodecSpec(value)
        elif key == "schema":
            kw[key] = build(mod, value)
        elif key == "dimension_units":
            kw[key] = [mod.Unit(*u) if isinstance(u, tuple) and len(u) == 2 and u[0] == "unit" else u for u in value]
        else:
            kw[key] = value
    return mod.Schema(**kw)


@st.composite
def schema_spec(draw, depth=0):
    rank = draw(st.integers(1, 3))
    spec = {}
    if draw(st.integers(0, 2)) == 0:
        spec["rank"] = draw(st.sampled_from([rank, rank + 1, -1]))
    if draw(st.integers(0, 2)) == 0:
        spec["dtype"] = draw(st.sampled_from(["uint8", "int16", "float32", "bool"]))
    shape = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    if draw(st.integers(0, 2)) == 0:
        spec["shape"] = shape
    if draw(st.integers(0, 3)) == 0:
        spec["domain"] = draw(st.sampled_from([
            {"shape": shape}, {"rank": rank},
            {"inclusive_min": [1] * rank, "shape": shape},
            {"labels": ["x"] + [""] * (rank - 1)},
        ]))
    if draw(st.integers(0, 2)) == 0:
        spec["chunk_layout"] = draw(st.sampled_from([
            {"inner_order": list(range(rank))}, {"inner_order": list(reversed(range(rank)))},
            {"chunk_elements": 5}, {"grid_origin": [0] * rank}, {"rank": rank},
        ]))
    if draw(st.integers(0, 3)) == 0:
        spec["codec"] = draw(st.sampled_from([
            {"driver": "zarr", "compressor": None, "filters": None},
            {"driver": "zarr", "compressor": {"id": "zlib", "level": 1}, "filters": None},
            {"driver": "neuroglancer_precomputed", "encoding": "raw"},
        ]))
    if draw(st.integers(0, 2)) == 0:
        kind = draw(st.integers(0, 3))
        if kind == 0:
            spec["fill_value"] = draw(st.sampled_from([0, 1, 5, 2.5, True]))
        elif kind == 1:
            spec["fill_value"] = draw(st.lists(st.integers(0, 3), min_size=shape[-1], max_size=shape[-1]))
        elif kind == 2:
            spec["fill_value"] = np.zeros([1] + shape[-1:], dtype=draw(st.sampled_from([np.uint8, np.float64])))
        else:
            spec["fill_value"] = np.arange(int(np.prod(shape))).reshape(shape)
    if draw(st.integers(0, 2)) == 0:
        spec["dimension_units"] = draw(st.lists(
            st.one_of(st.none(), st.sampled_from(["4nm", "nm", "", 3, (2, "um")])), min_size=rank, max_size=rank))
    if depth == 0 and draw(st.integers(0, 3)) == 0:
        spec["schema"] = draw(schema_spec(depth=1))
    return spec


@settings(max_examples=300, deadline=None)
@given(schema_spec())
def test_keywords_match_reference(spec):
    a = outcome(lambda: describe(build(ts, spec)))
    b = outcome(lambda: describe(build(ref, spec)))
    assert a == b
    if a[0] == "ok":
        # JSON round trip: both libraries parse our JSON to the same schema.
        j = build(ts, spec).to_json()
        assert outcome(lambda: describe(ts.Schema(j))) == outcome(lambda: describe(ref.Schema(j)))


@settings(max_examples=150, deadline=None)
@given(schema_spec(depth=1), schema_spec(depth=1))
def test_update_matches_reference(spec1, spec2):
    def run(mod):
        s = build(mod, spec1)
        other = build(mod, spec2)
        s.update(schema=other)
        return describe(s), s == build(mod, spec1)

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


JSON_CASES = [
    {"rank": 2, "dtype": "uint8", "domain": {"shape": [2, 3]}, "chunk_layout": {"grid_origin": [1, 2]},
     "codec": {"driver": "zarr", "compressor": None, "filters": None}, "fill_value": 3,
     "dimension_units": ["nm", None]},
    {"foo": 1}, {"rank": 3, "domain": {"shape": [2, 3]}}, {"dtype": "foo"}, {"dtype": 5}, {"domain": 5},
    {"chunk_layout": 5}, {"codec": 5}, {"rank": "x"}, {"rank": None},
    {"domain": {"shape": [2]}, "fill_value": [1, 2, 3]}, {"fill_value": [1, 2, 3], "domain": {"shape": [2]}},
    {"dimension_units": ["nm"], "rank": 2}, {"chunk_layout": {"grid_origin": [1]}, "rank": 2},
    {"fill_value": "x", "dtype": "uint8"}, {"fill_value": 300, "dtype": "uint8"},
    {"fill_value": [[1, 2], [3]], "dtype": "uint8"}, {"dtype": "float32", "fill_value": "NaN"},
    {"dtype": "complex64", "fill_value": [1, 2]}, {"dtype": "string", "fill_value": "ab"},
    {"dtype": "json", "fill_value": {"a": [1]}}, {"dtype": "bool", "fill_value": 1},
    {"fill_value": [[1, 2], [3, 4]], "rank": 1}, {"dimension_units": ["4nm", {}]},
    {"dimension_units": 5}, {"dimension_units": []}, {"dimension_units": ["-4nm", [2, "s"]]}, 5,
]  # fmt: skip


@pytest.mark.parametrize("j", JSON_CASES, ids=repr)
def test_json_matches_reference(j):
    assert outcome(lambda: describe(ts.Schema(j))) == outcome(lambda: describe(ref.Schema(j)))


def test_docstring_example():
    s = ts.Schema(dtype=ts.uint8, chunk_layout=ts.ChunkLayout(grid_origin=[1, 2, 3], inner_order=[0, 2, 1]))
    assert repr(s) == (
        "Schema({\n"
        "  'chunk_layout': {'grid_origin': [1, 2, 3], 'inner_order': [0, 2, 1]},\n"
        "  'dtype': 'uint8',\n"
        "  'rank': 3,\n"
        "})"
    )


FILL_CONVERSIONS = [
    dict(dtype="uint8", fill_value=300), dict(dtype="int16", fill_value=np.array([1, 2])),
    dict(dtype="uint8", fill_value=-1), dict(dtype="float32", fill_value=np.float64(1.5)),
    dict(dtype="float32", fill_value=np.array(1.5)), dict(dtype="uint8", fill_value=np.int64(300)),
    dict(dtype="uint8", fill_value=np.float64(2.7)), dict(dtype="uint8", fill_value=2.5),
    dict(dtype="bool", fill_value=3), dict(dtype="int32", fill_value=True),
    dict(dtype="string", fill_value="ab"), dict(dtype="string", fill_value=b"ab"),
    dict(dtype="ustring", fill_value="ab"), dict(dtype="json", fill_value={"a": 1}),
]  # fmt: skip


@pytest.mark.parametrize("kw", FILL_CONVERSIONS, ids=repr)
def test_fill_value_conversion_matches_reference(kw):
    def run(mod):
        fv = mod.Schema(**kw).fill_value
        return fv.dtype.str, repr(fv.tolist())

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


INF = ref.inf
bound_lo = st.sampled_from([-INF, 0, 2, 5])


@st.composite
def one_dim_domain(draw):
    lo = draw(bound_lo)
    hi = draw(st.sampled_from([v for v in (0, 2, 5, INF) if v >= lo - 1]))
    return [lo], [hi], [draw(st.booleans())], [draw(st.booleans())], [draw(st.sampled_from(["", "x", "y"]))]


@settings(max_examples=300, deadline=None)
@given(one_dim_domain(), one_dim_domain())
def test_domain_merge_matches_reference(a, b):
    def dom(mod, spec):
        lo, hi, il, iu, labels = spec
        return mod.IndexDomain(inclusive_min=lo, inclusive_max=hi, implicit_lower_bounds=il,
                               implicit_upper_bounds=iu, labels=labels)

    def run(mod):
        s = mod.Schema(domain=dom(mod, a))
        s.update(domain=dom(mod, b))
        return repr(s.domain)

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))
