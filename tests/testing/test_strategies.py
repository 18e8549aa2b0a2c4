"""Every public strategy draws valid objects: they construct, apply, open and read without
raising, within the bounds asked for.  ``TSPY_EXAMPLES=10000`` runs each on 10,000 examples."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import tensorstore as ref
from hypothesis import given, strategies as st

import tensorstore_py as ts
from tensorstore_py.testing import kit_settings, model, strategies as tst


def _settings(default: int = 100):
    return kit_settings(default)


@_settings()
@given(st.data())
def test_dtypes(data):
    allowed = data.draw(st.lists(st.sampled_from(tst.NUMERIC_DTYPES), min_size=1, unique=True))
    dtype = data.draw(tst.dtypes(allowed))
    assert isinstance(dtype, ts.dtype) and dtype.name in allowed
    np.dtype(dtype.numpy_dtype)


@_settings()
@given(st.data())
def test_index_domains_respect_their_bounds(data):
    max_rank = data.draw(st.integers(0, 4))
    max_size = data.draw(st.integers(1, 50))
    domain = data.draw(tst.index_domains(max_rank=max_rank, max_size=max_size, min_extent=1))
    assert isinstance(domain, ts.IndexDomain) and domain.rank <= max_rank
    assert math.prod(domain.shape) <= max_size
    labels = [x for x in domain.labels if x]
    assert len(labels) == len(set(labels))
    assert ts.IndexDomain(json=domain.to_json()) == domain


def _has_array(t: ts.IndexTransform) -> bool:
    return any(m.method == ts.OutputIndexMethod.array for m in t.output)


def _reference_crashes(before: ts.IndexTransform, after: ts.IndexTransform) -> bool:
    # tensorstore 0.1.86 segfaults computing an index array map over an empty domain (see
    # tests/index/test_differential.py): a step from a transform with index arrays, or one
    # making them, to an empty domain.  Stop comparing there.
    return (_has_array(before) or _has_array(after)) and 0 in after.domain.shape


@_settings()
@given(st.data())
def test_index_expression_chains_apply_as_in_tensorstore(data):
    """Valid in both libraries, step by step, with the same result (infinite bounds too)."""
    domain = data.draw(tst.index_domains(infinite=data.draw(st.booleans(), label="infinite")), label="domain")
    chain = data.draw(tst.index_expression_chains(domain, max_rank=4), label="chain")
    ours = ts.IndexTransform(domain=domain)
    theirs = ref.IndexTransform(json=ours.to_json())
    for step in chain.steps:
        before, ours = ours, step.apply(ours)
        assert ours.input_rank <= 4
        if _reference_crashes(before, ours):
            return
        theirs = step.apply(theirs, ref)
        assert ours.to_json() == theirs.to_json(), repr(step)


@_settings()
@given(st.data())
def test_model_reads_what_the_transform_maps_to(data):
    domain = data.draw(tst.index_domains(min_extent=1), label="domain")
    chain = data.draw(tst.index_expression_chains(domain), label="chain")
    t = chain.apply(ts.IndexTransform(domain=domain))
    array = np.arange(math.prod(domain.shape)).reshape(domain.shape)
    got = model.read_view(array, t, domain.origin)
    assert got.shape == tuple(t.domain.shape)
    positions = itertools.product(*[range(o, o + n) for o, n in zip(t.domain.origin, t.domain.shape)])
    for point in itertools.islice(positions, 50):
        rel = tuple(p - o for p, o in zip(point, t.domain.origin))
        out = tuple(x - o for x, o in zip(t(point), domain.origin))
        assert got[rel] == array[out]


@_settings()
@given(tst.index_transforms())
def test_index_transforms(t):
    assert isinstance(t, ts.IndexTransform)
    # (Equality after a JSON round trip may not hold: JSON drops index array bounds, in TensorStore too.)
    assert ts.IndexTransform(json=t.to_json()).to_json() == t.to_json()
    assert ref.IndexTransform(json=t.to_json()).to_json() == t.to_json()


@_settings()
@given(st.data())
def test_chunk_layouts_construct_and_match_tensorstore(data):
    rank = data.draw(st.integers(0, 4))
    layout = data.draw(tst.chunk_layouts(rank))
    assert layout.rank == rank
    ts.Schema(chunk_layout=layout)
    assert ref.ChunkLayout(layout.to_json()).to_json() == layout.to_json()


_CODEC_CASES = [("zarr", "uint16", [3, 4]), ("zarr3", "int32", [3, 4, 2]), ("n5", "float32", [5, 3]),
                ("neuroglancer_precomputed", "uint8", [4, 3, 2, 1])]  # fmt: skip


@_settings()
@given(st.sampled_from(_CODEC_CASES).flatmap(lambda c: st.tuples(st.just(c), tst.codecs(c[0], rank=len(c[2]), dtype=c[1]))))
def test_codecs_open_a_store(case):
    (driver, dtype, shape), codec = case
    assert isinstance(codec, ts.CodecSpec)
    store = ts.open({"driver": driver, "kvstore": "memory://"}, create=True, dtype=dtype, shape=shape, codec=codec,
                    context=ts.Context()).result()  # fmt: skip
    store.read().result()


@_settings()
@given(tst.dtypes(tst.DRIVER_DTYPES["zarr3"]).flatmap(lambda d: st.tuples(st.just(d), tst.fill_values(d))))
def test_fill_values_are_accepted(case):
    dtype, value = case
    schema = ts.Schema(dtype=dtype, fill_value=value, shape=[2])
    stored = np.asarray(schema.fill_value)
    expected = np.asarray(value).astype(stored.dtype)
    np.testing.assert_array_equal(stored, expected)


@_settings()
@given(st.data())
def test_specs_open_in_both_libraries(data):
    max_rank = data.draw(st.integers(0, 4), label="max_rank")
    max_size = data.draw(st.integers(1, 100), label="max_size")
    j = data.draw(tst.spec_json(max_rank=max_rank, max_size=max_size, lossy=True), label="spec")
    json.dumps(j)
    store = ts.open(ts.Spec(j), create=True, context=ts.Context()).result()
    assert store.rank <= max(max_rank, 4 if j["driver"] == "neuroglancer_precomputed" else 0)
    assert store.size <= max_size
    ref.open(j, create=True, context=ref.Context()).result()


@_settings(50)
@given(tst.stores())
def test_stores_hold_their_arrays(case):
    store, array = case
    assert store.shape == array.shape and np.dtype(store.dtype.numpy_dtype) == array.dtype
    np.testing.assert_array_equal(store.read().result(), array)
