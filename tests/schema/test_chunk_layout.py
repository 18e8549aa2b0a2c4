"""ChunkLayout / ChunkLayout.Grid against the reference: JSON, reprs, properties, errors."""

from __future__ import annotations

import pickle

import pytest
import tensorstore as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts

from .conftest import outcome

VEC_KEYS = [
    "grid_origin", "grid_origin_soft_constraint", "chunk_shape", "chunk_shape_soft_constraint",
    "write_chunk_shape", "write_chunk_shape_soft_constraint", "read_chunk_shape",
    "read_chunk_shape_soft_constraint", "codec_chunk_shape", "codec_chunk_shape_soft_constraint",
]  # fmt: skip
ASPECT_KEYS = [
    "chunk_aspect_ratio", "chunk_aspect_ratio_soft_constraint", "write_chunk_aspect_ratio",
    "write_chunk_aspect_ratio_soft_constraint", "read_chunk_aspect_ratio",
    "read_chunk_aspect_ratio_soft_constraint", "codec_chunk_aspect_ratio",
    "codec_chunk_aspect_ratio_soft_constraint",
]  # fmt: skip
ELEM_KEYS = [
    "chunk_elements", "chunk_elements_soft_constraint", "write_chunk_elements",
    "write_chunk_elements_soft_constraint", "read_chunk_elements",
    "read_chunk_elements_soft_constraint", "codec_chunk_elements",
    "codec_chunk_elements_soft_constraint",
]  # fmt: skip

small_int = st.sampled_from([-3, -1, 0, 1, 2, 5, 64, 4611686018427387902])
origin_int = st.sampled_from([-5, 0, 1, 7, -4611686018427387902, 4611686018427387902])
aspect = st.sampled_from([0, 0.5, 1, 2, 3.25, -1.0])


@st.composite
def layout_kwargs(draw):
    rank = draw(st.integers(1, 3))
    kw = {}
    if draw(st.booleans()):
        kw["rank"] = draw(st.sampled_from([rank, rank, rank + 1, -1]))
    for key in ("inner_order", "inner_order_soft_constraint"):
        if draw(st.integers(0, 3)) == 0:
            kw[key] = draw(st.permutations(list(range(rank)))) if draw(st.integers(0, 4)) else [0] * rank
    for key in draw(st.lists(st.sampled_from(VEC_KEYS), max_size=3, unique=True)):
        elem = origin_int if key.startswith("grid_origin") else small_int
        kw[key] = draw(st.lists(st.one_of(st.none(), elem), min_size=rank, max_size=rank))
    for key in draw(st.lists(st.sampled_from(ASPECT_KEYS), max_size=2, unique=True)):
        kw[key] = draw(st.lists(st.one_of(st.none(), aspect), min_size=rank, max_size=rank))
    for key in draw(st.lists(st.sampled_from(ELEM_KEYS), max_size=3, unique=True)):
        kw[key] = draw(st.sampled_from([-1, 0, 10, 1000, 4611686018427387903]))
    if draw(st.integers(0, 5)) == 0:
        kw["finalize"] = True
    return kw


def describe(layout) -> dict:
    """Everything observable about a layout, for comparison between libraries."""
    out = {"json": layout.to_json(), "repr": repr(layout), "rank": layout.rank, "ndim": layout.ndim}
    for name in ("inner_order", "inner_order_soft_constraint", "grid_origin", "grid_origin_soft_constraint"):
        out[name] = getattr(layout, name)
    for usage in ("write_chunk", "read_chunk", "codec_chunk"):
        g = getattr(layout, usage)
        out[usage] = (g.rank, g.ndim, g.shape, g.shape_soft_constraint, g.aspect_ratio,
                      g.aspect_ratio_soft_constraint, g.elements, g.elements_soft_constraint, g.to_json())
    for name in ("write_chunk_template", "read_chunk_template"):
        out[name] = outcome(lambda: repr(getattr(layout, name)))
    return out


@settings(max_examples=300, deadline=None)
@given(layout_kwargs())
def test_keyword_constructor_matches_reference(kw):
    a = outcome(lambda: describe(ts.ChunkLayout(**kw)))
    b = outcome(lambda: describe(ref.ChunkLayout(**kw)))
    assert a == b


@settings(max_examples=150, deadline=None)
@given(layout_kwargs(), layout_kwargs())
def test_update_and_merge_match_reference(kw1, kw2):
    def run(mod):
        layout = mod.ChunkLayout(**kw1)
        layout.update(**kw2)
        return describe(layout)

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


@settings(max_examples=150, deadline=None)
@given(layout_kwargs(), layout_kwargs())
def test_equality_matches_reference(kw1, kw2):
    def run(mod):
        return mod.ChunkLayout(**kw1) == mod.ChunkLayout(**kw2), mod.ChunkLayout(**kw1) == mod.ChunkLayout(**kw1)

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


json_scalar = st.one_of(st.none(), st.integers(-3, 70), st.sampled_from([1.5, 2.0, "a", True, 4611686018427387903]))


@st.composite
def layout_json(draw):
    rank = draw(st.integers(0, 3))
    vec = lambda elem: st.lists(st.one_of(st.none(), elem), min_size=rank, max_size=rank)  # noqa: E731
    j = {}
    if draw(st.integers(0, 3)) == 0:
        j["rank"] = draw(st.sampled_from([rank, rank + 1, "x"]))
    if draw(st.integers(0, 2)) == 0:
        j[draw(st.sampled_from(["inner_order", "inner_order_soft_constraint"]))] = draw(
            st.one_of(st.permutations(list(range(rank))), vec(st.integers(0, 3)))
        )
    if draw(st.integers(0, 2)) == 0:
        j[draw(st.sampled_from(["grid_origin", "grid_origin_soft_constraint"]))] = draw(vec(st.integers(-10, 10)))
    for member in draw(st.lists(st.sampled_from(["chunk", "write_chunk", "read_chunk", "codec_chunk"]), max_size=3, unique=True)):
        g = {}
        for key in draw(st.lists(st.sampled_from(["shape", "shape_soft_constraint", "aspect_ratio",
                                                  "aspect_ratio_soft_constraint", "elements",
                                                  "elements_soft_constraint"]), max_size=3, unique=True)):
            if key.startswith("elements"):
                g[key] = draw(st.one_of(st.integers(-1, 10**7), json_scalar))
            elif key.startswith("shape"):
                g[key] = draw(st.one_of(vec(st.integers(-2, 100)), vec(json_scalar)))
            else:
                g[key] = draw(st.one_of(vec(st.sampled_from([0, 0.5, 1, 2.5, -1])), vec(json_scalar)))
        j[member] = g
    if draw(st.integers(0, 9)) == 0:
        j["extra"] = 1
    return j


@settings(max_examples=300, deadline=None)
@given(layout_json())
def test_json_round_trip_matches_reference(j):
    a = outcome(lambda: describe(ts.ChunkLayout(j)))
    b = outcome(lambda: describe(ref.ChunkLayout(j)))
    assert a == b
    if a[0] == "ok":
        # Our JSON output parses back to an equal layout with identical JSON.
        again = ts.ChunkLayout(a[1]["json"])
        assert again.to_json() == a[1]["json"]
        assert again == ts.ChunkLayout(j)


@st.composite
def grid_kwargs(draw):
    rank = draw(st.integers(1, 3))
    kw = {}
    if draw(st.booleans()):
        kw["rank"] = draw(st.sampled_from([rank, rank + 1]))
    for key in draw(st.lists(st.sampled_from(["shape", "shape_soft_constraint", "aspect_ratio",
                                              "aspect_ratio_soft_constraint", "elements",
                                              "elements_soft_constraint"]), max_size=4, unique=True)):
        if key.startswith("elements"):
            kw[key] = draw(st.sampled_from([-1, 0, 5, 1000]))
        elif key.startswith("shape"):
            kw[key] = draw(st.lists(st.one_of(st.none(), small_int), min_size=rank, max_size=rank))
        else:
            kw[key] = draw(st.lists(st.one_of(st.none(), aspect), min_size=rank, max_size=rank))
    return kw


def describe_grid(g) -> tuple:
    return (g.rank, g.ndim, g.shape, g.shape_soft_constraint, g.aspect_ratio,
            g.aspect_ratio_soft_constraint, g.elements, g.elements_soft_constraint, g.to_json())


@settings(max_examples=200, deadline=None)
@given(grid_kwargs(), grid_kwargs(), st.sampled_from(["grid", "grid_soft_constraint"]))
def test_grid_matches_reference(kw1, kw2, merge_key):
    def run(mod):
        g1 = mod.ChunkLayout.Grid(**kw1)
        g2 = mod.ChunkLayout.Grid(**kw2, **{merge_key: g1})
        back = mod.ChunkLayout.Grid(json=g2.to_json())
        layout = mod.ChunkLayout(chunk=g1, write_chunk=g2)
        return describe_grid(g1), describe_grid(g2), back == g2, g1 == g2, layout.to_json()

    assert outcome(lambda: run(ts)) == outcome(lambda: run(ref))


def test_repr_layout_matches_reference():
    kw = dict(chunk_shape=[10, None, None], chunk_aspect_ratio=[None, 2, 1], chunk_elements=10000000,
              grid_origin=[1, 2, None], inner_order_soft_constraint=[2, 0, 1],
              read_chunk_shape_soft_constraint=[None, 4, -1])
    assert repr(ts.ChunkLayout(**kw)) == repr(ref.ChunkLayout(**kw))
    assert repr(ts.ChunkLayout()) == "ChunkLayout({})"


def test_error_messages_name_the_keyword():
    with pytest.raises(ValueError, match=r"^Invalid read_chunk_shape: Error setting read_chunk shape: "
                                         r"New hard constraint \(3\) for dimension 0 does not match "
                                         r"existing hard constraint \(1\)$"):
        ts.ChunkLayout(chunk_shape=[1, 2], read_chunk_shape=[3, 4])
    with pytest.raises(TypeError, match="Invalid chunk_shape"):
        ts.ChunkLayout(chunk_shape=[1.5])
    with pytest.raises(ValueError, match=r'^Error parsing object member "chunk": Error parsing object member '
                                         r'"shape": Error parsing value at position 0: Expected 64-bit signed '
                                         r"integer, but received: 1.5$"):
        ts.ChunkLayout({"chunk": {"shape": [1.5, 2]}})


def test_finalize():
    layout = ts.ChunkLayout(grid_origin=[1, 2], write_chunk_shape_soft_constraint=[1, 2],
                            read_chunk_shape=[None, 2], finalize=True)
    assert layout.to_json() == {"grid_origin": [1, 2], "read_chunk": {"shape": [None, 2]}}
    with pytest.raises(ValueError, match="Invalid finalize: No grid_origin hard constraint for dimension 1"):
        ts.ChunkLayout(grid_origin=[1, None], finalize=True)


def test_pickle_and_copy_round_trip():
    layout = ts.ChunkLayout(chunk_shape=[1, 2], grid_origin_soft_constraint=[3, None], chunk_elements=9)
    assert pickle.loads(pickle.dumps(layout)) == layout
    assert layout.copy() == layout
    g = ts.ChunkLayout.Grid(rank=3, elements=4)
    assert pickle.loads(pickle.dumps(g)) == g


def test_make_chunk_layout_matches_a_zarr_store():
    from tensorstore_py.schema.chunk_layout import make_chunk_layout

    store = ref.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=ref.int32,
                     shape=[1000, 2000, 3000], chunk_layout=ref.ChunkLayout(inner_order=[2, 1, 0])).result()
    ours = make_chunk_layout([0, 0, 0], [2, 1, 0], [101, 101, 101])
    assert repr(ours) == repr(store.chunk_layout)
    assert ours == ts.ChunkLayout(store.chunk_layout.to_json())
