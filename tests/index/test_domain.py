"""Dim and IndexDomain against the reference: construction, reprs, JSON, set operations."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings, strategies as st

import tensorstore_py as ts
from tensorstore_py.testing import strategies as tst

from index_helpers import same

DIM_CASES = [
    "Dim()", "Dim(5)", "Dim(5, 10)", "Dim(inclusive_min=3, implicit_upper=True)", "Dim(exclusive_max=4)",
    "Dim(inclusive_max=4, implicit_lower=False)", "Dim(size=2**62)", "Dim(5, 3)", "Dim(size=None)",
    "Dim(None)", "Dim(1.5)", "Dim('x', implicit_upper=False)", "Dim(3, label='a')", "Dim(3, 5, label=3)",
    "Dim(size=-1)", "Dim(inclusive_min=5, inclusive_max=3)", "Dim(inclusive_min=5, inclusive_max=4)",
    "Dim(-2**62 + 1, 5)", "Dim(2**62 - 1, 2**62)", "Dim(3, implicit_lower=True)",
    "Dim(inclusive_min=1, inclusive_max=4, implicit_lower=True, implicit_upper=True, label='a')",
    "Dim(3, 5).intersect(Dim(4, 8, label='a'))", "Dim(3, 5, label='b').intersect(Dim(4, 8, label='a'))",
    "Dim(3, 5, implicit_lower=True).hull(Dim(4, 8, implicit_upper=True))", "Dim(3, 5).intersect(Dim(6, 8))",
    "Dim(3, 5, implicit_lower=True).intersect(Dim(2, 5, implicit_lower=False))",
    "Dim(3, 5).intersect(Dim(3, 5, implicit_lower=True))", "Dim(1, 1).hull(Dim(4, 6))",
]  # fmt: skip


@pytest.mark.parametrize("expr", DIM_CASES)
def test_dim_matches_reference(expr):
    same(lambda m: eval(expr, {"Dim": m.Dim}))


def test_dim_properties():
    d = ts.Dim(3, 5, label="x")
    assert (d.inclusive_min, d.exclusive_max, d.inclusive_max, d.size, d.exclusive_min) == (3, 5, 4, 2, 2)
    assert d.finite and not d.empty and 4 in d and 5 not in d and ts.Dim(3, 4) in d
    assert list(d) == [3, 4] and len(d) == 2
    assert pickle.loads(pickle.dumps(d)) == d
    assert ts.Dim().size == 2**63 - 1 and not ts.Dim().finite
    assert str(ts.Dim(size=5, implicit_lower=True)) == "[0*, 5)"


DOMAIN_CASES = [
    "IndexDomain()", "IndexDomain(rank=2, shape=[3])", "IndexDomain(shape=[3], exclusive_max=[4])",
    "IndexDomain(shape=[3], inclusive_max=[4])", "IndexDomain(exclusive_max=[3], inclusive_max=[4])",
    "IndexDomain(labels=['a','a','b','b'])", "IndexDomain(labels=['a', None])", "IndexDomain(inclusive_min=[1, 2])",
    "IndexDomain(rank=40)", "IndexDomain(rank=-1)", "IndexDomain(shape=[5, 3], labels=['x', 'y'])",
    "IndexDomain(shape=[5,3], inclusive_min=[1,2]).hull(IndexDomain(shape=[5,3]))",
    "IndexDomain(shape=[5,3], inclusive_min=[1,2]).intersect(IndexDomain(shape=[5,3], implicit_lower_bounds=[1,0]))",
    "IndexDomain(shape=[5,3]).intersect(IndexDomain(shape=[5]))",
    "IndexDomain(shape=[5,3], labels=['a','b']).intersect(IndexDomain(shape=[5,3],labels=['a','c']))",
    "IndexDomain(shape=[5,3]).index_exp", "IndexDomain(rank=1).index_exp", "IndexDomain(rank=1).shape",
    "IndexDomain(implicit_lower_bounds=[True,False])", "IndexDomain(shape=[2**62])",
    "IndexDomain([Dim(3), Dim(2,label='a')])", "IndexDomain([Dim(label='x'), Dim(label='x')])",
    "IndexDomain(shape=[3], implicit_lower_bounds=[True,False])", "IndexDomain(labels=['a'], rank=2)",
    "IndexDomain(shape=[4], inclusive_min=[1,2])", "IndexDomain(shape=[-1])",
    "IndexDomain(inclusive_min=[5], exclusive_max=[3])", "IndexDomain(inclusive_min=[-2**62])",
    "IndexDomain(shape=[5, 3]).T", "IndexDomain(shape=[5, 3]).size", "IndexDomain([])", "IndexDomain(rank=2).size",
    "IndexDomain(shape=[2**40, 2**40]).size", "IndexDomain(shape=[0, 2**62]).size",
]  # fmt: skip


@pytest.mark.parametrize("expr", DOMAIN_CASES)
def test_domain_matches_reference(expr):
    same(lambda m: eval(expr, {"Dim": m.Dim, "IndexDomain": m.IndexDomain}))


JSON_CASES = [
    {}, {"shape": [3]}, {"inclusive_min": [3], "shape": [2, 3]}, {"inclusive_min": [3], "foo": 1},
    {"inclusive_max": [3, [4]]}, {"inclusive_min": ["a"]}, {"inclusive_min": [[1, 2]]}, 5, {"rank": -1},
    {"rank": 2, "shape": [3]}, {"exclusive_max": [3], "shape": [3]}, {"inclusive_min": [5], "exclusive_max": [3]},
    {"labels": ["a", "a"]}, {"inclusive_min": [1.5]}, {"inclusive_min": ["+inf"]}, {"exclusive_max": ["-inf"]},
    {"inclusive_min": ["-inf"]}, {"inclusive_min": [-2**62]}, {"inclusive_min": [2**62 - 1]}, {"shape": [[3]]},
    {"shape": [-1]}, {"shape": ["+inf"]}, {"rank": 1, "labels": [3]}, {"rank": 1.0}, {"rank": True},
    {"labels": "a"}, {"inclusive_max": ["+inf"]}, {"inclusive_max": [["+inf"]], "inclusive_min": [3]},
    {"exclusive_max": [2**62]}, {"exclusive_max": [2**62 + 1]}, {"shape": [2**62]},
    {"inclusive_min": ["-inf", 7, ["-inf"], [8]], "exclusive_max": ["+inf", 10, ["+inf"], [17]],
     "labels": ["x", "y", "z", ""]},
]  # fmt: skip


@pytest.mark.parametrize("j", JSON_CASES, ids=[str(i) for i in range(len(JSON_CASES))])
def test_domain_json_matches_reference(j):
    same(lambda m: m.IndexDomain(json=j))


def _kwargs(d: ts.IndexDomain) -> dict:
    return dict(inclusive_min=list(d.inclusive_min), exclusive_max=list(d.exclusive_max),
                implicit_lower_bounds=list(d.implicit_lower_bounds), implicit_upper_bounds=list(d.implicit_upper_bounds),
                labels=list(d.labels))  # fmt: skip


def domain_kwargs():
    """Keyword arguments of a public-strategy domain (ranks 0-4, implicit and infinite bounds)."""
    return tst.index_domains(max_rank=4, max_extent=20, origin=(-20, 20), infinite=True).map(_kwargs)


@settings(max_examples=150, deadline=None)
@given(domain_kwargs(), domain_kwargs())
def test_domain_random_against_reference(kw, kw2):
    out = same(lambda m: m.IndexDomain(**kw))
    if out[0] == "ok":
        same(lambda m: m.IndexDomain(json=m.IndexDomain(**kw).to_json()))
        same(lambda m: m.IndexDomain(**kw).hull(m.IndexDomain(**kw2)))
        same(lambda m: m.IndexDomain(**kw).intersect(m.IndexDomain(**kw2)))
        d = ts.IndexDomain(**kw)
        assert pickle.loads(pickle.dumps(d)) == d
        assert ts.IndexDomain(list(d)) == d
        assert ts.IndexDomain(json=d.to_json()) == d


_DIM_ARG = st.one_of(st.none(), st.integers(-3, 6), st.sampled_from(["x", True, False, 1.5, 2**62, -(2**62), 2**62 - 1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_DIM_ARG, max_size=3), st.dictionaries(
    st.sampled_from(["inclusive_min", "exclusive_max", "inclusive_max", "size", "label", "implicit_lower",
                     "implicit_upper"]), _DIM_ARG, max_size=3))  # fmt: skip
def test_dim_construction_matches_reference(args, kwargs):
    """Overload resolution (including pybind11's implicit bool conversions) and validation."""
    from index_helpers import outcome
    import tensorstore as ref

    ours, theirs = outcome(lambda m: m.Dim(*args, **kwargs), ts), outcome(lambda m: m.Dim(*args, **kwargs), ref)
    if ours[0] == theirs[0] == "TypeError":
        return
    assert ours == theirs
