"""Property test: random interleavings of transactional and outside writes on one zarr array
agree with a simple model of TensorStore's semantics (a transaction's reads show its own
written elements over current storage; commit merges exactly those elements; abort drops them)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TIMEOUT, create_zarr

N = 12
CHUNK = 5  # unaligned: writes straddle chunks and cover them partly or fully

_span = st.tuples(st.integers(0, N - 1), st.integers(1, N)).map(lambda t: (min(t), max(t[0] + 1, t[1])))
_op = st.one_of(
    st.tuples(st.just("txn_write"), _span, st.integers(-50, 50)),
    st.tuples(st.just("outside_write"), _span, st.integers(100, 150)),
    st.tuples(st.just("txn_read"), _span, st.just(0)),
    st.tuples(st.just("outside_read"), _span, st.just(0)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=12), finish=st.sampled_from(["commit", "abort"]))
def test_matches_model(ts, ops, finish):
    ctx = ts.Context()
    store = create_zarr(ts, ctx, {"driver": "memory"}, shape=(N,), chunks=(CHUNK,), data=np.arange(N))
    txn = ts.Transaction()
    bound = store.with_transaction(txn)
    stored = np.arange(N)
    staged = np.zeros(N, dtype=bool)
    staged_values = np.zeros(N, dtype=np.int64)
    for kind, (lo, hi), value in ops:
        if kind == "txn_write":
            bound[lo:hi].write(value).result(timeout=TIMEOUT)
            staged[lo:hi] = True
            staged_values[lo:hi] = value
        elif kind == "outside_write":
            store[lo:hi].write(value).result(timeout=TIMEOUT)
            stored[lo:hi] = value
        elif kind == "txn_read":
            expected = np.where(staged, staged_values, stored)[lo:hi]
            assert bound[lo:hi].read().result(timeout=TIMEOUT).tolist() == expected.tolist()
        else:
            assert store[lo:hi].read().result(timeout=TIMEOUT).tolist() == stored[lo:hi].tolist()
    if finish == "commit":
        txn.commit_sync()
        stored = np.where(staged, staged_values, stored)
    else:
        txn.abort()
    assert store.read().result(timeout=TIMEOUT).tolist() == stored.tolist()
