"""Algebraic properties: NumPy indexing equivalence, composition law, JSON/pickle round trips."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import tensorstore_py as ts
from tensorstore_py.testing import strategies as tst


def _points(domain: ts.IndexDomain):
    return itertools.product(*[range(lo, lo + n) for lo, n in zip(domain.origin, domain.shape)])


@st.composite
def numpy_cases(draw):
    """A shape and a key on which TensorStore and NumPy indexing agree: the public strategy's
    NumPy-style keys over an origin-0 domain, without the cases where the two differ (NumPy
    counts integers as advanced indices next to arrays; several arrays place differently)."""
    domain = draw(tst.index_domains(min_rank=1, origin=(0, 0), min_extent=1, max_extent=5, labels=False,
                                    implicit=False))  # fmt: skip
    expr = draw(tst.index_expressions(domain, dim_expressions=False, modes=("",)))
    key = expr.key
    arrays = [t for t in key if isinstance(t, np.ndarray)]
    assume(expr.mode == "" and len(arrays) <= 1 and not (arrays and any(isinstance(t, int) for t in key)))
    return tuple(domain.shape), key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numpy_cases())
def test_indexing_a_transform_matches_numpy(case):
    shape, key = case
    data = np.arange(int(np.prod(shape))).reshape(shape)
    try:
        expected = data[key]
    except IndexError:
        assume(False)
    t = ts.IndexTransform(input_shape=shape)[key]
    assert t.domain.shape == expected.shape
    for point in _points(t.domain):
        out = t(point)
        rel = tuple(p - o for p, o in zip(point, t.domain.origin))
        assert data[out] == expected[rel]


@st.composite
def chained(draw, domain):
    """(chain, transform): a public chain of index expressions over `domain`, applied."""
    chain = draw(tst.index_expression_chains(domain, max_length=2))
    return chain, chain.apply(ts.IndexTransform(domain=domain))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_composition_is_associative(data):
    base = data.draw(tst.index_domains(min_rank=1, min_extent=1, max_extent=4, infinite=False), label="domain")
    _, a = data.draw(chained(base), label="a")
    assume(all(n > 0 for n in a.domain.shape))
    _, b = data.draw(chained(a.domain), label="b")
    assume(all(n > 0 for n in b.domain.shape))
    _, c = data.draw(chained(b.domain), label="c")
    # An empty diagonal (of two disjoint ranges) cannot be composed, in TensorStore either:
    # its bounds propagate to an empty range that contradicts b's.
    assume(all(n > 0 for n in c.domain.shape))
    # Each of b and c is drawn for the domain of the transform it composes with.
    left = a[ts.IndexTransform(json=b.to_json())][ts.IndexTransform(json=c.to_json())]
    right = a[ts.IndexTransform(json=b.to_json())[ts.IndexTransform(json=c.to_json())]]
    # Equal as maps (their JSON may differ: single-element index arrays become constants
    # depending on the order of composition, in TensorStore too).
    assert left.domain == right.domain
    for point in itertools.islice(_points(left.domain), 200):
        assert left(point) == right(point) == a(b(c(point)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tst.index_transforms(tst.index_domains(max_extent=4, infinite=True)))
def test_json_and_pickle_round_trips(t):
    assert ts.IndexTransform(json=t.to_json()).to_json() == t.to_json()
    assert pickle.loads(pickle.dumps(t)) == t
    assert pickle.loads(pickle.dumps(t.domain)) == t.domain
    assert ts.IndexDomain(json=t.domain.to_json()) == t.domain
    for m in t.output:
        if m.method == ts.OutputIndexMethod.array:
            arr = m.index_array
            assert arr.dtype == np.int64 and arr.ndim == t.input_rank
            assert all(s in (1, n) for s, n in zip(arr.shape, t.input_shape))
