"""Differential cases for dimension selections, vector slices, the rank limit of indexing and
which index terms are refused with which message: each expression gives the same
repr/str/JSON or error as tensorstore."""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore_py as ts

from index_helpers import same

X3 = "ts.IndexTransform(input_rank=3)"
XY = "ts.IndexTransform(input_shape=[2, 3], input_labels=['x', 'y'])"
XYZ = "ts.IndexTransform(input_shape=[15, 20, 30], input_labels=['x', 'y', 'z'])"
XYZ_UNBOUNDED = "ts.IndexTransform(input_labels=['x', 'y', 'z'])"

# Selections nest: sequences (and other selections) inside a selection are flattened.
SELECTIONS = [
    "repr(ts.d[1, [2, 3]])", "repr(ts.d[[0, 1], [2]])", "repr(ts.d[[0, 1], ts.d[2, 3]])",
    "repr(ts.d[[[0]], 1])", "repr(ts.d[(0, 1), 2])", "repr(ts.d[[0, 'x'], 1:3])", "repr(ts.d[[], 1])",
    "repr(ts.d[[slice(1, 2)], 0])", "repr(ts.d[[np.int64(1)], 2])", "repr(ts.d[[ts.d[1]], 2])",
    "repr(ts.d[ts.d[1], [ts.d[2], 3]])", "repr(ts.d[(1, [2, [3]])])", "repr(ts.d[range(3)])",
    "repr(ts.d[[range(2)], 5])", "repr(ts.d[True])", "repr(ts.d[[True]])", "repr(ts.d[()])",
    "ts.d[1, 2, 3] == ts.d[1, [2, 3]]", "ts.d[1, 2, 3] == ts.d[1, ts.d[2, 3]]",
    XY + "[ts.d[[0], 'y'].label['a', 'b']]",
]  # fmt: skip

# New dimensions may not take the result past rank 32.
RANK_LIMIT = [
    XY + "[ts.d[0:32][ts.newaxis]]", XY + "[ts.d[0:30][ts.newaxis]]", XY + "[ts.d[0:31][ts.newaxis]]",
    "ts.IndexTransform(input_rank=2)[(None,) * 31]", "ts.IndexTransform(input_rank=2)[(None,) * 30]",
    "ts.IndexDomain(rank=2)[ts.d[0:32][ts.newaxis]]", "ts.IndexTransform(input_rank=30)[ts.d[0:3][ts.newaxis]]",
    XY + "[ts.d[0:40:2][ts.newaxis]]", XY + "[ts.d['z'][ts.newaxis]]",
]  # fmt: skip

# Vector slices: one slice per selected dimension, scalars broadcast, printed expanded.
VECTOR_SLICES = [
    "repr(ts.d['x', 'y'][slice((1, 2), (7, 8))])", "repr(ts.d['x', 'y'][slice((1, 2), (8, 9), 2)])",
    "repr(ts.d['x', 'y'][slice((1, 2), (8, 9), (2, 3))])", "repr(ts.d['x', 'y'][slice((1, 2), 8)])",
    "repr(ts.d['x', 'y'][slice(1, (8, 9))])", "repr(ts.d['x', 'y'][slice(None, (8, 9))])",
    "repr(ts.d['x', 'y'][slice((None, 2), (8, None))])", "repr(ts.d['x', 'y'][slice((1, 2), None, (2, 3))])",
    "repr(ts.d['x'][slice((1,), (7,))])", "repr(ts.d['x', 'y'][slice((1, 2), (7, 8)), 3])",
    "repr(ts.d['x', 'y'][(slice((1, 2), (7, 8)),)])", "repr(ts.d['x', 'y'].oindex[slice((1, 2), (7, 8))])",
    "repr(ts.d['x', 'y'].vindex[slice((1, 2), (7, 8))])", "repr(ts.d['x', 'y'][slice(np.array([1, 2]), (7, 8))])",
    "repr(ts.d[:][slice([1, 2], [7, 8])])", "repr(ts.d['x', 'z'][[5, 20]:[10, 30]])",
    "repr(ts.d['x', 'z'][[5, 20]:30])", "repr(ts.d['x', 'z'][[5, 20]:[10, 30]].translate_by[1])",
    "repr(ts.d['x', 'y'].label['a', 'b'][slice((1, 2), (7, 8))])",
    "ts.d[:][slice((1, 2), (7, 8, 9))]", "ts.d[:][slice((1, 2), (7, 8), (9, 10, 11))]",
    "ts.d[:][slice((1, 2), 7, (9, 10, 11))]", "ts.d[:][slice(1, (7, 8), (9, 10, 11))]",
    "ts.d[:][slice((1, 2, 3), None, (9, 10))]",
    XYZ_UNBOUNDED + "[ts.d['x', 'z'][[5, 20]:[10, 30]]]", XYZ_UNBOUNDED + "[ts.d['x', 'z'][[5, 20]:30]]",
    XYZ + "[ts.d['x', 'z'][[5, 20]:[10, 30]]]", XYZ + "[ts.d['x', 'z'][[5, 20]:30]]",
    XYZ + "[ts.d['x', 'z'][[5, 20]:[10, 30]:[2, 3]]]", XYZ + "[ts.d['x'][[5, 20]:[10, 30]]]",
    XYZ + "[ts.d['x', 'y', 'z'][[5, 20]:[10, 30]]]", XYZ + "[ts.d['x', 'z'][[5, 20]:[10, 30], 1]]",
    XYZ + "[ts.d['x', 'y', 'z'][[5, 20]:[10, 30], 1]]", XYZ + "[ts.d['x', 'z'][(5, 20):(10, 30)]]",
    XYZ + "[ts.d['x', 'y'][slice((1, 2), (8, 9), 2)]]", XYZ + "[ts.d['x', 'y'][slice((1, 2), (8, 9), -2)]]",
    XYZ + "[ts.d['x', 'y'][slice((8, 9), (1, 2), -2)]]", XYZ + "[ts.d['x', 'y'][slice(None, None, (2, 3))]]",
    XYZ + "[[5, 20]:[10, 30]]", XYZ + "[slice((1, 2, 3), (7, 8, 9))]", XYZ + "[1:(2, 3)]",
    "ts.IndexTransform(input_rank=2)[slice((1, 2), (7, 8, 9))]",
    "ts.IndexTransform(input_rank=2)[slice((1, 2), [7, 8, 9])]",
    "ts.IndexTransform(input_labels=['x'])[ts.d['x'][slice((1,), (7,))]]",
]  # fmt: skip

# Which terms are indices at all, and the message for those that are not.
INDEX_TERMS = [X3 + k for k in [
    "[1.5]", "[[1.5, 2.5]]", "['x']", "[{'a': 3}]", "[[None]]", "[np.array([1.1, 1.5])]", "[np.array(['x', 'y'])]",
    "[[1, 2.5]]", "[[True, 1]]", "[[True, False]]", "[(np.array([1.5]),)]", "[[np.int64(1), 2]]",
    "[np.float64(1)]", "[np.array(1.5)]", "[np.array([1], dtype=object)]", "[[[1, 2], [3, 4]]]", "[[]]", "[[[]]]",
    "[np.array([], dtype=np.float64)]", "[(1, [1.5])]", "[b'ab']", "[[b'a']]", "[[1, None]]", "[['a']]",
    "[[[True]]]", "[[1j]]", "[np.uint64(2)]", "[range(2)]", "[(range(2),)]", "[[range(2)]]", "[np.bool_(True)]",
    "[True]", "[[np.bool_(True), np.bool_(False)]]", "[[[1, True]]]", "[(..., ...)]", "[(1, 1, 1, 1)]",
    "[[1, 2, 3, 4], [1, 2, 3]]",
]]  # fmt: skip


def _check(expr: str) -> None:
    same(lambda m: eval(expr, {"ts": m, "np": np}))


@pytest.mark.parametrize("expr", SELECTIONS + RANK_LIMIT + VECTOR_SLICES + INDEX_TERMS)
def test_same_as_tensorstore(expr):
    _check(expr)


def test_uint64_index_arrays_are_refused_by_numpy_safe_casting():
    x = ts.IndexTransform(input_rank=1)
    for key in ([2**63], np.array([1], dtype=np.uint64)):
        with pytest.raises(TypeError, match="Cannot cast array data from dtype\\('uint64'\\) to dtype\\('int64'\\)"):
            x[key]


@pytest.mark.parametrize(
    "obj",
    [
        ts.d, ts.d[0], ts.d[0].label, ts.d[0].translate_by, ts.d[0].oindex,
        ts.IndexTransform(input_rank=2), ts.IndexTransform(input_rank=2).label,
        ts.IndexTransform(input_rank=2).oindex, ts.IndexDomain(shape=[2]).label,
    ],
)
def test_subscriptable_objects_are_not_iterable(obj):
    with pytest.raises(TypeError):
        iter(obj)
    assert list(ts.IndexDomain(shape=[2, 3])) == [ts.Dim(size=2), ts.Dim(size=3)]


@pytest.mark.parametrize("key", [("y", 1), ("q",), (5, 0), ("",), (slice(0, 9),)], ids=repr)
def test_domain_selection_errors_are_plain_value_errors(key):
    ref = pytest.importorskip("tensorstore")
    with pytest.raises(ValueError) as ours:
        ts.IndexDomain(labels=["x", "y", "z"], shape=[2, 3, 4])[key]
    with pytest.raises(ValueError) as theirs:
        ref.IndexDomain(labels=["x", "y", "z"], shape=[2, 3, 4])[key]
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
