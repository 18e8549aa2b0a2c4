"""The API other layers use: propagate_bounds, identity_transform, output maps, the Indexable mixin."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py.index import Indexable
from tensorstore_py.index.transform import identity_transform, propagate_bounds

from index_helpers import strip_payloads

# Keys applied to a zarr array of shape [10, 20] whose domain is { [0, 10*), [0, 20*) }.
READ_KEYS = [
    "[1:30]", "[[1, 30]]", "[ts.d[0].translate_by[5]]", "[ts.d[0].mark_bounds_implicit[True]][5:20]", "[2:5, 3]",
    "[12]", "[:, 25]", "[-1:4]", "[[9, 3], [19, 0]]", "[..., [25]]", "[::-1]", "[ts.d[0].translate_to[-3]]",
    "[ts.d[1].stride[3]]", "[3:9:2, 15:]", "[np.array([True] * 12)]", "[5:40][ts.d[0].translate_by[-5]]",
    "[ts.d[0].mark_bounds_implicit[True]][-5:3]", "[ts.d[0, 1].diagonal]", "[ts.d[1, 0].diagonal][2:15]",
    "[ts.d[0].stride[-3]]",
]  # fmt: skip


@pytest.fixture(scope="module")
def ref_store():
    spec = {"driver": "zarr", "kvstore": "memory://"}
    return ref.open(spec, create=True, dtype=ref.int32, shape=[10, 20]).result()


@pytest.mark.parametrize("key", READ_KEYS)
def test_propagate_bounds_matches_reference_reads(ref_store, key):
    """Resolving the indexed transform against the array's domain fails exactly when a read does."""
    try:
        eval("s" + key, {"s": ref_store, "ts": ref, "np": np}).read().result()
        expected = "ok"
    except (ValueError, IndexError) as e:
        expected = strip_payloads(str(e))
    base = ts.IndexTransform(input_shape=[10, 20], implicit_upper_bounds=[True, True])
    try:
        t = eval("t" + key, {"t": base, "ts": ts, "np": np})
    except IndexError as e:
        assert strip_payloads(str(e)) == expected
        return
    try:
        resolved = propagate_bounds(t, ts.IndexDomain(shape=[10, 20]))
        got = "ok"
    except ValueError as e:
        got = strip_payloads(str(e))
    assert got == expected
    if got == "ok":
        # resolve() keeps the store's resizable (implicit) upper bounds; so does propagating
        # against the metadata domain.
        resolved = propagate_bounds(t, ts.IndexDomain(shape=[10, 20], implicit_upper_bounds=[True, True]))
        theirs = eval("s" + key, {"s": ref_store, "ts": ref, "np": np}).resolve().result()
        assert resolved.domain.to_json() == theirs.domain.to_json()
        assert resolved.to_json() == theirs.spec(minimal_spec=True).transform.to_json()


def test_propagate_bounds_replaces_implicit_bounds():
    t = ts.IndexTransform(input_rank=2)[ts.d[0].translate_by[3]]
    r = propagate_bounds(t, ts.IndexDomain(shape=[4, 5]))
    assert r.domain == ts.IndexDomain(inclusive_min=[3, 0], exclusive_max=[7, 5])
    assert r.output == t.output


def test_propagate_bounds_checks_index_arrays():
    t = ts.IndexTransform(input_shape=[10], implicit_upper_bounds=[True])[[1, 12]]
    assert t.output[0].index_range == ts.Dim(inclusive_min=0, implicit_upper=False)
    with pytest.raises(ValueError, match=r"^OUT_OF_RANGE: Index 12 is outside valid range \[0, 10\)"):
        propagate_bounds(t, ts.IndexDomain(shape=[10]))
    r = propagate_bounds(t, ts.IndexDomain(shape=[20]))
    assert r.output[0].index_range == ts.Dim(0, 20)


def test_identity_transform_and_output_maps():
    d = ts.IndexDomain(inclusive_min=[1, 2], shape=[3, 4], labels=["x", "y"])
    t = identity_transform(d)
    assert t == ts.IndexTransform(d) and t.domain == d
    m = t[[3, 1]].output
    assert m[0].method == ts.OutputIndexMethod.array
    assert m[0].index_array.dtype == np.int64 and m[0].index_array.shape == (2, 1)
    assert m[0].index_range == ts.Dim(1, 4)
    assert m[1].method == ts.OutputIndexMethod.single_input_dimension
    assert (m[1].input_dimension, m[1].offset, m[1].stride) == (1, 0, 1)
    c = t[2].output[0]
    assert (c.method, c.offset, c.stride, c.input_dimension, c.index_array) == (
        ts.OutputIndexMethod.constant, 2, None, None, None)  # fmt: skip


class _Holder(Indexable):
    """A minimal Indexable, as TensorStore/Spec use the mixin."""

    def __init__(self, t):
        self.t = t

    def _indexable_transform(self):
        return self.t

    def _indexable_with_transform(self, t):
        return _Holder(t)


MIXIN_EXPRS = [
    "x[1:3, ::2]", "x.oindex[[0, 2], [1, 3]]", "x.vindex[[0, 2], [1, 3]]", "x.T", "x.label['a', 'b']",
    "x.translate_to[5]", "x.translate_by[1, 2]", "x.translate_backward_by[3]", "x.mark_bounds_implicit[True]",
    "x.transpose([1, 0])", "x[ts.d['y'].translate_by[3]]", "x[ts.IndexDomain(shape=[2, 2], labels=['x', 'y'])]",
    "x[ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap(1), ts.OutputIndexMap(input_dimension=0)])]",
    "x[5]", "x[ts.d['z'].label['q']]", "x.label['a']",
]  # fmt: skip


@pytest.mark.parametrize("expr", MIXIN_EXPRS)
def test_indexable_mixin_matches_transform_indexing(expr):
    t = ts.IndexTransform(input_shape=[4, 6], input_labels=["x", "y"])
    try:
        expected = eval(expr, {"x": t, "ts": ts})
    except (IndexError, ValueError) as e:
        with pytest.raises(type(e)) as info:
            eval(expr, {"x": _Holder(t), "ts": ts})
        assert str(info.value) == str(e)
        return
    got = eval(expr, {"x": _Holder(t), "ts": ts})
    assert isinstance(got, _Holder) and got.t == expected
    h = _Holder(expected)
    assert (h.domain, h.rank, h.ndim, h.origin, h.shape, h.size, h.labels) == (
        expected.domain, expected.input_rank, expected.input_rank, expected.input_origin, expected.input_shape,
        expected.domain.size, expected.input_labels)  # fmt: skip


def test_indexable_resolve_modes():
    h = _Holder(ts.IndexTransform(input_shape=[4, 6]))
    assert h._indexable_resolve(([0, 1], [2, 3]), "oindex") == h.t.oindex[[0, 1], [2, 3]]
    assert h._indexable_resolve(([0, 1], [2, 3]), "vindex") == h.t.vindex[[0, 1], [2, 3]]
    assert h._indexable_resolve((1, 2), "default") == h.t[1, 2]
    with pytest.raises(IndexError, match="Checking bounds of constant output index map"):
        h._indexable_resolve(7)


def test_index_domain_indexing_returns_domains():
    d = ts.IndexDomain(shape=[4, 6], labels=["x", "y"])
    assert d[ts.d["x"].translate_by[2]] == ts.IndexDomain(inclusive_min=[2, 0], shape=[4, 6], labels=["x", "y"])
    assert d.T == ts.IndexDomain(shape=[6, 4], labels=["y", "x"])
    assert d["y"] == ts.Dim(6, label="y")
    assert d.translate_to[1] == ts.IndexDomain(inclusive_min=[1, 1], shape=[4, 6], labels=["x", "y"])


def test_call_composes_with_a_transform():
    a = ts.IndexTransform(input_shape=[5])[1:]
    b = ts.IndexTransform(input_inclusive_min=[1], input_shape=[2])
    assert a(b) == a[b]
    assert a([2]) == (2,)
