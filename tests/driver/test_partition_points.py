"""The points plan of `partition`: `flat_output_coordinates` against the broadcast
`output_coordinates` it stands in for, and `point_cells` with the Cython grouping against its
numpy reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py.driver import partition
from tensorstore_py.driver.partition import MapInfo


@st.composite
def point_maps(draw):
    rank_in = draw(st.integers(0, 3))
    origin = [draw(st.integers(-3, 10)) for _ in range(rank_in)]
    shape = [draw(st.sampled_from([1, 2, 3, 5])) for _ in range(rank_in)]
    maps = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["constant", "single", "array"] if rank_in else ["constant", "array"]))
        if kind == "constant":
            maps.append(MapInfo("constant", draw(st.integers(0, 40)), 0, -1, None))
        elif kind == "single":
            j = draw(st.integers(0, rank_in - 1))
            stride = draw(st.sampled_from([1, 2, 3, -1, -3]))
            maps.append(MapInfo("single", draw(st.integers(-5, 40)), stride, j, None))
        else:
            # An index array over some of the input dimensions (size 1 elsewhere: broadcast).
            array_shape = [n if draw(st.booleans()) else 1 for n in shape]
            rng = np.random.default_rng(draw(st.integers(0, 1000)))
            array = rng.integers(0, 30, array_shape, dtype=np.int64)
            maps.append(MapInfo("array", draw(st.integers(-2, 5)), draw(st.sampled_from([1, 2, -1])), -1, array))
    return maps, origin, shape


@settings(max_examples=1500, deadline=None)
@given(case=point_maps())
def test_flat_output_coordinates_match_the_broadcast_ones(case):
    maps, origin, shape = case
    flat = partition.flat_output_coordinates(maps, origin, shape)
    broadcast = partition.output_coordinates(maps, origin, shape)
    assert len(flat) == len(broadcast)
    for f, b in zip(flat, broadcast):
        assert f.dtype == np.int64 and f.flags.c_contiguous and f.ndim == 1
        np.testing.assert_array_equal(f, np.ascontiguousarray(b).reshape(-1))


@settings(max_examples=800, deadline=None)
@given(case=point_maps(), chunk=st.sampled_from([1, 2, 4, 8]), bound=st.sampled_from([12, 40, 100]))
def test_point_cells_match_the_numpy_grouping(case, chunk, bound):
    maps, origin, shape = case
    chunks = [chunk] * len(maps)
    array_shape = [bound] * len(maps)

    def cells_or_error():
        try:
            return [(c.cell, [x.tolist() for x in c.chunk_coords], c.user_positions.tolist())
                    for c in partition.point_cells(maps, origin, shape, chunks, array_shape)]
        except Exception as exc:  # noqa: BLE001 - compared below
            return (type(exc).__name__, str(exc))

    fast = cells_or_error()
    grid, partition._grid = partition._grid, None
    try:
        reference = cells_or_error()
    finally:
        partition._grid = grid
    assert fast == reference
