"""Shrinking: a deliberately broken function's counterexample shrinks to the smallest input."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, find, settings, strategies as st

import tensorstore_py as ts
from tensorstore_py.testing import model, strategies as tst

FIND = settings(max_examples=3000, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))  # fmt: skip


def broken_total(store: ts.TensorStore) -> complex:
    """Sums a store in blocks of two along its first dimension, and forgets a last odd block."""
    data = np.asarray(store.read().result()).astype(np.complex128)
    if data.ndim == 0:
        return complex(data)
    n = data.shape[0]
    return complex(sum(data[i : i + 2].sum() for i in range(0, n - 1, 2)))


def test_broken_store_function_shrinks_to_the_simplest_store():
    store, array = find(
        tst.stores(), lambda case: broken_total(case[0]) != complex(case[1].astype(np.complex128).sum()), settings=FIND
    )
    spec = store.spec().to_json()
    # zarr, rank 1, one element, uint8, the element 1, default codec: nothing left to remove.
    assert spec["driver"] == "zarr"
    assert store.shape == (1,) and store.dtype == ts.uint8
    assert array.tolist() == [1]
    assert spec["metadata"]["compressor"] is None and spec["kvstore"] == {"driver": "memory"}
    assert store.domain.labels == ("",)


def broken_read_view(array: np.ndarray, transform: ts.IndexTransform, origin) -> np.ndarray:
    """A user's NumPy model of a view that forgets the domain's origin."""
    return model.read_view(array, transform)


@st.composite
def domain_and_chain(draw):
    domain = draw(tst.index_domains(min_extent=1))
    return domain, draw(tst.index_expression_chains(domain))


def _differs(case) -> bool:
    domain, chain = case
    t = chain.apply(ts.IndexTransform(domain=domain))
    array = np.arange(int(np.prod(domain.shape))).reshape(domain.shape)
    try:
        return not np.array_equal(broken_read_view(array, t, domain.origin), model.read_view(array, t, domain.origin))
    except IndexError:
        return True


def test_broken_view_model_shrinks_to_the_simplest_domain_and_no_indexing():
    domain, chain = find(domain_and_chain(), _differs, settings=FIND)
    assert repr(domain) == "{ [1, 2) }"
    assert repr(chain) == "(no indexing)"


def test_expression_reprs_are_their_source():
    """What a failing example prints can be pasted back as Python."""
    domain = ts.IndexDomain(inclusive_min=[0, 2], shape=[4, 3], labels=["x", "y"])
    chain = find(tst.index_expression_chains(domain),
                 lambda c: any(s.selection is not None and s.op == "translate_by" for s in c.steps), settings=FIND)  # fmt: skip
    assert repr(chain) == "[ts.d[0].translate_by[0]]"
    t = eval("ts.IndexTransform(domain=domain)" + repr(chain), {"ts": ts, "domain": domain, "np": np})
    assert t == chain.apply(ts.IndexTransform(domain=domain))
