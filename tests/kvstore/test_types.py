"""KeyRange, TimestampedStorageGeneration and ReadResult against the reference."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore as ref
import tensorstore_py as ts

from .conftest import outcome

keys = st.binary(max_size=6) | st.text(max_size=4)


@settings(max_examples=60, deadline=None)
@given(keys, keys)
def test_key_range_matches_reference(lo, hi):
    a, b = ts.KvStore.KeyRange(lo, hi), ref.KvStore.KeyRange(lo, hi)
    assert repr(a) == repr(b)
    assert a.empty == b.empty
    assert (a.inclusive_min, a.exclusive_max) == (b.inclusive_min, b.exclusive_max)
    assert a == ts.KvStore.KeyRange(lo, hi)
    assert pickle.loads(pickle.dumps(a)) == a


def test_key_range_defaults_and_mutation():
    r = ts.KvStore.KeyRange()
    assert repr(r) == "KvStore.KeyRange(b'', b'')" and not r.empty
    c = r.copy()
    r.inclusive_min = "c"
    r.exclusive_max = b"b"
    assert r.empty and not c.empty
    assert repr(r) == repr(ref.KvStore.KeyRange("c", "b"))
    with pytest.raises(TypeError):
        r.exclusive_max = 5
    with pytest.raises(TypeError):
        hash(r)
    with pytest.raises(TypeError):
        _ = r == 5


@settings(max_examples=60, deadline=None)
@given(
    st.binary(max_size=10),
    st.one_of(
        st.sampled_from([math.inf, -math.inf, math.nan, 1e20, -1e20, 0.0, -0.0, 1.25e-10, 1.5e9]),
        st.integers(-(2**31), 2**31),
        # Binary fractions convert exactly, so only the quarter-nanosecond rounding is tested.
        st.integers(-(2**40), 2**40).map(lambda n: n / 1024),
    ),
)
def test_timestamped_generation_matches_reference(g, t):
    a, b = ts.KvStore.TimestampedStorageGeneration(g, t), ref.KvStore.TimestampedStorageGeneration(g, t)
    assert repr(a) == repr(b)
    assert a.generation == b.generation
    # The reference's own double <-> absl::Time round trip is off by an ulp now and then.
    assert a.time == b.time or math.isclose(a.time, b.time, rel_tol=1e-13)
    assert pickle.loads(pickle.dumps(a)) == a


def test_timestamped_generation_defaults_and_eq():
    a = ts.KvStore.TimestampedStorageGeneration()
    assert repr(a) == repr(ref.KvStore.TimestampedStorageGeneration())
    assert ts.KvStore.TimestampedStorageGeneration("é", 1) == ts.KvStore.TimestampedStorageGeneration(b"\xc3\xa9", 1.0)
    assert ts.KvStore.TimestampedStorageGeneration(b"a", 1) != ts.KvStore.TimestampedStorageGeneration(b"a", 2)
    a.generation, a.time = b"zz", 3
    assert repr(a) == "KvStore.TimestampedStorageGeneration(b'zz', 3.000000)"


@pytest.mark.parametrize(
    "args",
    [(), ("value", b"x"), ("missing",), ("value", "str"), ("bogus",)],
)
def test_read_result_matches_reference(args):
    mine = outcome(lambda: repr(ts.KvStore.ReadResult(*args)))
    theirs = outcome(lambda: repr(ref.KvStore.ReadResult(*args)))
    assert mine == theirs


def test_read_result_fields_and_pickle():
    stamp = ts.KvStore.TimestampedStorageGeneration(b"g", 1)
    r = ts.KvStore.ReadResult("value", b"x", stamp)
    assert repr(r) == repr(ref.KvStore.ReadResult("value", b"x", ref.KvStore.TimestampedStorageGeneration(b"g", 1)))
    again = pickle.loads(pickle.dumps(r))
    assert (again.state, again.value, again.stamp) == ("value", b"x", stamp)
    r.state, r.value = "missing", b""
    assert r.state == "missing"
    with pytest.raises(TypeError):
        ts.KvStore.ReadResult(stamp=None)
