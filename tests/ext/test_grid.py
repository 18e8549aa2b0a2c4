"""Chunk-grid partitioning kernels against straightforward numpy implementations."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import grid

SETTINGS = settings(max_examples=300, deadline=None)
MAX = grid.MAX_INDEX


def reference_partition_dim(start, step, count, chunk_size, origin):
    """Per-position cells, then split wherever the cell changes."""
    p = np.arange(count, dtype=object)
    idx = start + p * step
    cells = [(i - origin) // chunk_size for i in idx]
    runs = []
    for pos, cell in enumerate(cells):
        if runs and runs[-1][0] == cell:
            runs[-1][2] += 1
        else:
            runs.append([cell, pos, 1, (idx[pos] - origin) - cell * chunk_size])
    return [tuple(r) for r in runs]


def as_runs(result):
    k, b, n, o = result
    for a in result:
        assert a.dtype == np.int64 and a.ndim == 1
    return list(zip(k.tolist(), b.tolist(), n.tolist(), o.tolist()))


dim_args = st.tuples(
    st.integers(-60, 60),                                   # start
    st.integers(-7, 7).filter(lambda s: s != 0),            # step
    st.integers(0, 40),                                     # count
    st.integers(1, 9),                                      # chunk_size
    st.integers(-20, 20),                                   # grid_origin
)


@SETTINGS
@given(args=dim_args)
def test_partition_dim_matches_reference(args):
    assert as_runs(grid.partition_dim(*args)) == reference_partition_dim(*args)


@SETTINGS
@given(start=st.integers(-MAX, MAX), step=st.integers(-(2**40), 2**40).filter(bool),
       count=st.integers(0, 30), chunk_size=st.integers(1, MAX),
       origin=st.integers(-MAX, MAX))
def test_partition_dim_extreme_values(start, step, count, chunk_size, origin):
    last = start + (count - 1) * step if count else start
    if abs(last) > MAX or (count and abs(start) > MAX):
        with pytest.raises(ValueError, match="outside"):
            grid.partition_dim(start, step, count, chunk_size, origin)
        return
    runs = as_runs(grid.partition_dim(start, step, count, chunk_size, origin))
    assert runs == reference_partition_dim(start, step, count, chunk_size, origin)


def test_partition_dim_examples():
    # Indices 3..12 in cells of 4 starting at 1: [1,5) [5,9) [9,13).
    assert as_runs(grid.partition_dim(3, 1, 10, 4, 1)) == [(0, 0, 2, 2), (1, 2, 4, 0),
                                                           (2, 6, 4, 0)]
    # Downwards: 10, 8, 6, 4, 2, 0, -2 in cells of 5 from 0.
    assert as_runs(grid.partition_dim(10, -2, 7, 5, 0)) == [(2, 0, 1, 0), (1, 1, 2, 3),
                                                            (0, 3, 3, 4), (-1, 6, 1, 3)]
    # A step longer than a cell: one run per position.
    assert as_runs(grid.partition_dim(0, 7, 3, 2, 0)) == [(0, 0, 1, 0), (3, 1, 1, 1),
                                                          (7, 2, 1, 0)]
    assert as_runs(grid.partition_dim(5, 1, 0, 4, 0)) == []


def test_partition_dim_is_linear_in_runs():
    # A billion positions in ten cells: answered without visiting positions.
    k, b, n, o = grid.partition_dim(0, 1, 10**9, 10**8, 0)
    assert k.tolist() == list(range(10)) and int(n.sum()) == 10**9


@pytest.mark.parametrize("args, exc, match", [
    ((0, 0, 5, 4, 0), ValueError, "step must be nonzero"),
    ((0, 1, -1, 4, 0), ValueError, "count must be non-negative"),
    ((0, 1, 5, 0, 0), ValueError, "chunk_size must be in"),
    ((0, 1, 5, 4, MAX + 1), ValueError, "grid_origin"),
    ((MAX - 2, 1, 5, 4, 0), ValueError, "last index"),
    ((1.5, 1, 5, 4, 0), TypeError, "start must be an integer"),
    ((0, 1, 5, True, 0), TypeError, "chunk_size must be an integer"),
])
def test_partition_dim_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        grid.partition_dim(*args)


def reference_partition_box(starts, steps, counts, chunk_shape, origin):
    per_dim = [sorted(reference_partition_dim(*a)) for a in
               zip(starts, steps, counts, chunk_shape, origin)]
    rows = list(itertools.product(*per_dim))
    return [tuple(np.array([r[q] for r in row], dtype=np.int64).tolist() for q in range(4))
            for row in rows]


@SETTINGS
@given(dims=st.lists(dim_args.map(lambda a: (a[0], a[1], a[2] % 12, a[3], a[4])),
                     min_size=0, max_size=4))
def test_partition_box_matches_reference(dims):
    cols = list(zip(*dims)) if dims else [(), (), (), (), ()]
    result = grid.partition_box(*cols)
    rank = len(dims)
    for a in result:
        assert a.dtype == np.int64 and a.ndim == 2 and a.shape[1] == rank
    rows = [tuple(a[i].tolist() for a in result) for i in range(result[0].shape[0])]
    expected = reference_partition_box(*cols)
    assert rows == [tuple(list(x) for x in e) for e in expected]
    # Chunk indices come in C order, and the pieces tile the box exactly once.
    assert [tuple(r[0]) for r in rows] == sorted(tuple(r[0]) for r in rows)
    if rank:
        seen = np.zeros([d[2] for d in dims], np.int32)
        for _, begin, count, _ in rows:
            seen[tuple(slice(b, b + n) for b, n in zip(begin, count))] += 1
        assert (seen == 1).all()


def test_partition_box_rank0_and_errors():
    k, b, n, o = grid.partition_box([], [], [], [], [])
    assert k.shape == (1, 0)
    with pytest.raises(ValueError, match="steps has length 1 but starts has length 2"):
        grid.partition_box([0, 0], [1], [1, 1], [1, 1], [0, 0])
    with pytest.raises(ValueError, match="dimension 1: step must be nonzero"):
        grid.partition_box([0, 0], [1, 0], [1, 1], [1, 1], [0, 0])
    with pytest.raises(TypeError, match="sequence"):
        grid.partition_box(0, [1], [1], [1], [0])
    k, b, n, o = grid.partition_box([0, 0], [1, 1], [4, 0], [2, 2], [0, 0])
    assert k.shape == (0, 2)


def reference_group_points(coords):
    n, rank = coords.shape
    keys = [tuple(row) for row in coords.tolist()]
    uniq = sorted(set(keys))
    groups = {u: [] for u in uniq}
    for i, key in enumerate(keys):
        groups[key].append(i)
    order = [i for u in uniq for i in groups[u]]
    starts = [0]
    for u in uniq:
        starts.append(starts[-1] + len(groups[u]))
    return uniq, order, starts


@SETTINGS
@given(n=st.integers(0, 60), rank=st.integers(0, 4),
       spread=st.sampled_from([1, 3, 5000, 2**40, 2**62]), seed=st.integers(0, 2**32 - 1))
def test_group_points_matches_reference(n, rank, spread, seed):
    rng = np.random.default_rng(seed)
    coords = rng.integers(-spread, spread, size=(n, rank), dtype=np.int64, endpoint=True)
    uniq, order, starts = grid.group_points(coords)
    e_uniq, e_order, e_starts = reference_group_points(coords)
    assert uniq.dtype == order.dtype == starts.dtype == np.int64
    assert uniq.shape == (len(e_uniq), rank)
    assert [tuple(r) for r in uniq.tolist()] == e_uniq
    assert order.tolist() == e_order
    assert starts.tolist() == e_starts


def test_group_points_extremes_and_errors():
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    coords = np.array([[hi, 0], [lo, 1], [hi, 0], [lo, 0], [0, 0]], np.int64)
    uniq, order, starts = grid.group_points(coords)
    assert uniq.tolist() == [[lo, 0], [lo, 1], [0, 0], [hi, 0]]
    assert order.tolist() == [3, 1, 4, 0, 2]
    assert starts.tolist() == [0, 1, 2, 3, 5]
    uniq, order, starts = grid.group_points(np.zeros((3, 0), np.int64))
    assert uniq.shape == (1, 0) and order.tolist() == [0, 1, 2] and starts.tolist() == [0, 3]
    uniq, order, starts = grid.group_points(np.zeros((0, 2), np.int32))
    assert uniq.shape == (0, 2) and order.size == 0 and starts.tolist() == [0]
    with pytest.raises(ValueError, match="2-d"):
        grid.group_points(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="integers"):
        grid.group_points(np.zeros((2, 2), np.float64))
    with pytest.raises(ValueError, match="int64 range"):
        grid.group_points(np.array([[2**64 - 1]], np.uint64))


def test_group_points_large_is_fast():
    rng = np.random.default_rng(0)
    coords = rng.integers(0, 50, size=(200_000, 3))
    uniq, order, starts = grid.group_points(coords)
    e_uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    np.testing.assert_array_equal(uniq, e_uniq)
    np.testing.assert_array_equal(order, np.argsort(inverse.ravel(), kind="stable"))


def reference_group_cells(coords, chunk_shape, array_shape):
    """Bounds checked dimension by dimension, then points grouped by chunk in pure Python."""
    for d, c in enumerate(coords):
        for x in c.tolist():
            if not 0 <= x < array_shape[d]:
                return None, (d, x)
    n = len(coords[0])
    cells = [tuple(c[i] // s for c, s in zip(coords, chunk_shape)) for i in range(n)]
    groups = []
    for cell in sorted(set(cells)):
        members = [i for i in range(n) if cells[i] == cell]
        groups.append((cell, tuple([int(c[i]) % s for i in members] for c, s in zip(coords, chunk_shape)), members))
    return groups, None


@SETTINGS
@given(n=st.integers(1, 80), rank=st.integers(1, 4), chunk=st.integers(1, 9), seed=st.integers(0, 2**32 - 1),
       outside=st.booleans())
def test_group_cells_matches_reference(n, rank, chunk, seed, outside):
    rng = np.random.default_rng(seed)
    array_shape = tuple(int(x) for x in rng.integers(1, 40, rank))
    chunk_shape = tuple(int(x) for x in rng.integers(1, chunk + 1, rank))
    coords = [rng.integers(-3 if outside else 0, s + (3 if outside else 0), n, dtype=np.int64) for s in array_shape]
    groups, bad = grid.group_cells(coords, chunk_shape, array_shape)
    e_groups, e_bad = reference_group_cells(coords, chunk_shape, array_shape)
    assert bad == e_bad
    if e_groups is None:
        assert groups is None
        return
    assert [(cell, tuple(c.tolist() for c in within), positions.tolist()) for cell, within, positions in groups] \
        == [(cell, within, positions) for cell, within, positions in e_groups]
    for _, within, positions in groups:
        assert positions.dtype == np.int64 and all(c.dtype == np.int64 for c in within)


def test_group_cells_argument_errors():
    one = np.arange(3, dtype=np.int64)
    for coords, chunks, shape in [([], (), ()), ([one], (2, 2), (5, 5)), ([one.astype(np.int32)], (2,), (5,)),
                                  ([one[::2]], (2,), (5,)), ([one, one[:2]], (2, 2), (5, 5)),
                                  ([one[:0]], (2,), (5,)), ([one], (0,), (5,))]:
        with pytest.raises(ValueError):
            grid.group_cells(coords, chunks, shape)
