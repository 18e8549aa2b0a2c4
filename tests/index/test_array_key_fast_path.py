"""`numpy_indexing._array_key_transform`, the one-pass transform of the usual ``oindex`` and
``vindex`` keys (integers, scalar slices, 1-d integer arrays), against the general
`build_index_transform` it stands in for: wherever it answers, the same transform."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from tensorstore_py import IndexDomain
from tensorstore_py.index import numpy_indexing
from tensorstore_py.testing import strategies as tst


@st.composite
def array_keys(draw, rank: int):
    items = []
    for _ in range(draw(st.integers(1, rank) if draw(st.integers(0, 9)) else st.integers(0, rank + 1))):
        kind = draw(st.sampled_from(["int", "slice", "array", "array", "list", "other"]))
        if kind == "int":
            items.append(draw(st.integers(-8, 12)))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-8, 12))
            items.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -3]))))
        elif kind in ("array", "list"):
            values = draw(st.lists(st.integers(-3, 10), min_size=0 if draw(st.integers(0, 9)) == 0 else 1, max_size=4))
            dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.uint64]))
            if kind == "list":
                items.append(values)
            else:
                items.append(np.array([abs(v) for v in values] if dtype in (np.uint8, np.uint64) else values, dtype))
        elif draw(st.integers(0, 3)) == 0:
            items.append(draw(st.sampled_from([Ellipsis, None, np.int64(2), [True, False], np.zeros((1, 2), int)])))
    return tuple(items) if len(items) != 1 or draw(st.booleans()) else items[0]


ANSWERED: list = []


@settings(max_examples=3000, deadline=None)
@given(data=st.data(), mode=st.sampled_from(["oindex", "vindex"]))
def test_array_key_transform_is_the_general_one(data, mode):
    domain = data.draw(tst.index_domains(min_rank=1, max_rank=4, max_extent=9))
    key = data.draw(array_keys(domain.rank))
    fast = numpy_indexing._array_key_transform(domain, key, mode)
    if fast is None:
        return
    ANSWERED.append(key)
    general, _ = numpy_indexing.build_index_transform(domain, numpy_indexing.parse_key(key, mode), mode)
    assert fast == general, (key, fast, general)
    for m in fast.output:
        if m.index_array is not None:
            assert not m.index_array.flags.writeable


def test_array_key_transform_answers_the_usual_keys():
    domain = IndexDomain(shape=[10, 20, 30])
    for mode in ("oindex", "vindex"):
        assert numpy_indexing._array_key_transform(domain, ([1, 2], np.array([3, 4]), 5), mode) is not None
        assert numpy_indexing._array_key_transform(domain, (2, slice(1, 5), [7]), mode) is not None
        assert numpy_indexing._array_key_transform(domain, (1, slice(None)), mode) is None  # no array
    assert numpy_indexing._array_key_transform(domain, ([1, 2], [3, 4, 5]), "vindex") is None  # no broadcast


def test_the_comparison_saw_answered_keys():
    # (runs after the property test in file order: most of its keys the fast path answered)
    assert len(ANSWERED) > 600
