"""`partition.single_strided_cell`, the small-operation shortcut of the strided plan, against
the general partition it stands in for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py.driver import partition
from tensorstore_py.driver.partition import MapInfo


@st.composite
def strided_boxes(draw):
    rank_in = draw(st.integers(0, 3))
    free = list(range(rank_in))
    maps = []
    for _ in range(draw(st.integers(1, 3))):
        if free and draw(st.booleans()):
            j = free.pop(draw(st.integers(0, len(free) - 1)))
            maps.append(MapInfo("single", draw(st.integers(-5, 40)), draw(st.sampled_from([1, 2, 3, -1, -3])), j, None))
        else:
            maps.append(MapInfo("constant", draw(st.integers(0, 40)), 0, -1, None))
    origin = [draw(st.integers(-3, 10)) for _ in range(rank_in)]
    shape = [draw(st.sampled_from([0, 1, 2, 3, 4, 8])) for _ in range(rank_in)]
    chunks = [draw(st.sampled_from([1, 2, 4, 8, 16])) for _ in maps]
    return maps, origin, shape, chunks


@settings(max_examples=3000, deadline=None)
@given(strided_boxes())
def test_single_cell_is_the_partition_when_there_is_one_cell(box):
    maps, origin, shape, chunks = box
    for m in maps:  # the engine partitions positions inside the array (non-negative)
        n = shape[m.input_dimension] if m.kind == "single" else 1
        if m.kind == "single" and n:
            first = m.offset + m.stride * origin[m.input_dimension]
            if min(first, first + m.stride * (n - 1)) < 0:
                return
    cells = list(partition.strided_cells(maps, origin, shape, chunks, [1000] * len(maps)))
    one = partition.single_strided_cell(maps, origin, shape, chunks)
    if len(cells) == 1:
        assert one == cells[0]
    else:
        assert one is None
