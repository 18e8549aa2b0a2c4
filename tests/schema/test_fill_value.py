"""Fill-value helpers for drivers, checked against the reference Schema's normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorstore as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.schema.fill_value import (
    check_broadcastable,
    fill_value_from_json,
    fill_value_to_json,
    normalize_fill_value,
    unbroadcast,
)

from .conftest import outcome

DTYPES = ["uint8", "int16", "int64", "float32", "float64", "bool", "uint16"]


@st.composite
def fill_cases(draw):
    rank = draw(st.integers(0, 3))
    shape = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        value = draw(st.sampled_from([0, 1, 5, 2.5, True, -1, 300]))
    elif kind == 1 and rank:
        value = draw(st.lists(st.integers(0, 9), min_size=shape[-1], max_size=shape[-1]))
    elif kind == 2:
        fshape = [draw(st.sampled_from([1, s])) for s in shape]
        value = np.arange(int(np.prod(fshape)), dtype=draw(st.sampled_from([np.uint8, np.int64, np.float32]))).reshape(fshape)
    elif kind == 3:
        value = np.zeros([1] + shape, dtype=np.uint8)
    else:
        value = np.arange(4)
    return value, dtype, shape


@settings(max_examples=300, deadline=None)
@given(fill_cases())
def test_normalize_matches_reference_schema(case):
    value, dtype, shape = case
    ours = outcome(lambda: normalize_fill_value(value, ts.dtype(dtype), shape))
    theirs = outcome(lambda: ref.Schema(dtype=dtype, shape=shape, fill_value=value).fill_value)
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        a, b = ours[1], theirs[1]
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        v = np.asarray(value, dtype=a.dtype)
        v = v.reshape(v.shape[max(0, v.ndim - len(shape)):])  # extra leading dims are all size 1
        assert np.array_equal(np.broadcast_to(a, shape), np.broadcast_to(v, shape))
    elif ours[0] == "ValueError":
        assert theirs[1].endswith(ours[1])


def test_unbroadcast_rules():
    assert unbroadcast(np.array([[1, 2]])).shape == (2,)
    assert unbroadcast(np.array([[1], [2]])).shape == (2, 1)
    assert unbroadcast(np.broadcast_to(np.array([1, 2]), (3, 2))).shape == (2,)
    assert unbroadcast(np.broadcast_to(np.array([[1], [2]]), (2, 3))).shape == (2, 1)
    with pytest.raises(ValueError, match=r"^Cannot broadcast array of shape \{2\} to target shape \{3, 3\}$"):
        check_broadcastable([2], [3, 3])


@pytest.mark.parametrize("j,dtype", [(3, "uint8"), ([1.5, "NaN"], "float32"), ("ab", "string"), ({"a": 1}, "json"),
                                     ([[1, 2], [3, 4]], "int64"), (True, "bool"), ([1, 2], None)])
def test_json_round_trip(j, dtype):
    dt = ts.dtype(dtype) if dtype else None
    arr = fill_value_from_json(j, dt)
    again = fill_value_to_json(arr)
    expected = ref.Schema({"fill_value": j, **({"dtype": dtype} if dtype else {})}).to_json()["fill_value"]
    assert repr(again) == repr(expected)
