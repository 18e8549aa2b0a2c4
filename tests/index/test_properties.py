"""Algebraic properties: NumPy indexing equivalence, composition law, JSON/pickle round trips."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import tensorstore_py as ts


def _points(domain: ts.IndexDomain):
    return itertools.product(*[range(lo, lo + n) for lo, n in zip(domain.origin, domain.shape)])


@st.composite
def numpy_cases(draw):
    """A shape and a key on which TensorStore and NumPy indexing must agree."""
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    terms: list = []
    dim = 0
    use_arrays = draw(st.booleans())
    while dim < rank and draw(st.integers(0, 4)):
        n = shape[dim]
        # NumPy counts integers as advanced indices when arrays are present; TensorStore does not.
        kinds = ["slice", "slice", "none"] + (["array", "array", "bool"] if use_arrays else ["int"])
        kind = draw(st.sampled_from(kinds))
        if kind == "none":
            terms.append(None)
            continue
        if kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            if step is not None and step < 0:
                start = draw(st.one_of(st.none(), st.integers(0, n - 1)))
                stop = draw(st.one_of(st.none(), st.integers(0, n - 1)))
            else:
                start = draw(st.one_of(st.none(), st.integers(0, n)))
                stop = draw(st.one_of(st.none(), st.integers(0, n)))
            if start is not None and stop is not None and (stop < start if (step or 1) > 0 else stop > start):
                start, stop = stop, start
            terms.append(slice(start, stop, step))
        elif kind == "int":
            terms.append(draw(st.integers(0, n - 1)))
        elif kind == "array":
            size = draw(st.integers(1, 3))
            terms.append(np.array([draw(st.integers(0, n - 1)) for _ in range(size)]))
        else:
            if use_arrays:
                terms.append(np.array([draw(st.booleans()) for _ in range(n)]))
            else:
                terms.append(slice(None))
        dim += 1
    arrays = [t for t in terms if isinstance(t, np.ndarray)]
    if len(arrays) > 1:
        # NumPy and TensorStore agree on placement only for a single (or adjacent) index array.
        first = next(i for i, t in enumerate(terms) if isinstance(t, np.ndarray))
        terms = [slice(None) if isinstance(t, np.ndarray) and i != first else t for i, t in enumerate(terms)]
    return shape, tuple(terms)


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


OPS = [
    lambda t: t[1:],
    lambda t: t[::2],
    lambda t: t[::-1],
    lambda t: t[..., None],
    lambda t: t[ts.d[0].translate_by[3]],
    lambda t: t[ts.d[-1].stride[2]],
    lambda t: t.T,
    # Index arrays stay inside the domain (TensorStore checks their values lazily).
    lambda t: t[[t.origin[0], t.origin[0], t.origin[0] + min(1, t.shape[0] - 1)]],
    lambda t: t.oindex[[t.origin[0] + min(1, t.shape[0] - 1), t.origin[0]]],
    lambda t: t[ts.d[0].label["q"]],
    lambda t: t[ts.d[:].diagonal],
    lambda t: t[t.origin[0]],
]


@st.composite
def chains(draw):
    ops = draw(st.lists(st.sampled_from(range(len(OPS))), min_size=0, max_size=3))
    return ops


def _apply(t, ops):
    for i in ops:
        t = OPS[i](t)
    return t


def _try(fn):
    try:
        return fn()
    except (IndexError, ValueError):
        return None


def _maps_into(t, domain) -> bool:
    """Whether every input point of `t` maps (without error) to a point of `domain`."""
    if not all(d.finite for d in t.domain):
        return False
    for point in _points(t.domain):
        try:
            out = t(point)
        except ValueError:
            return False
        if not all(lo <= x < lo + n for x, lo, n in zip(out, domain.origin, domain.shape)):
            return False
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(2, 4), min_size=1, max_size=3), chains(), chains(), chains())
def test_composition_is_associative(shape, ops_a, ops_b, ops_c):
    base = ts.IndexTransform(input_shape=shape)
    a = _try(lambda: _apply(base, ops_a))
    assume(a is not None and _maps_into(a, base.domain))
    b = _try(lambda: _apply(ts.IndexTransform(domain=a.domain), ops_b))
    assume(b is not None and _maps_into(b, a.domain))
    c = _try(lambda: _apply(ts.IndexTransform(domain=b.domain), ops_c))
    assume(c is not None and _maps_into(c, b.domain))
    left = a[b][c]
    right = a[b[c]]
    # Equal as maps (their JSON may differ: single-element index arrays become constants
    # depending on the order of composition, in TensorStore too).
    assert left.domain == right.domain
    for point in _points(left.domain):
        assert left(point) == right(point) == a(b(c(point)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 4), min_size=0, max_size=3), chains())
def test_json_and_pickle_round_trips(shape, ops):
    t = _try(lambda: _apply(ts.IndexTransform(input_shape=shape, input_labels=[f"l{i}" for i in range(len(shape))]), ops))
    assume(t is not None)
    assert ts.IndexTransform(json=t.to_json()).to_json() == t.to_json()
    assert pickle.loads(pickle.dumps(t)) == t
    assert pickle.loads(pickle.dumps(t.domain)) == t.domain
    assert ts.IndexDomain(json=t.domain.to_json()) == t.domain
    for m in t.output:
        if m.method == ts.OutputIndexMethod.array:
            arr = m.index_array
            assert arr.dtype == np.int64 and arr.ndim == t.input_rank
            assert all(s in (1, n) for s, n in zip(arr.shape, t.input_shape))
