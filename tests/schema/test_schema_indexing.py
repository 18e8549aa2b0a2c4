"""Indexing a Schema re-expresses its chunk layout, fill value and units; against the reference."""

from __future__ import annotations

import numpy as np
import tensorstore as ref
from hypothesis import event, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts

from .conftest import outcome
from .test_schema import describe


def make(mod, origin, shape, layout_kw, fill, units):
    return mod.Schema(domain=mod.IndexDomain(inclusive_min=origin, shape=shape),
                      chunk_layout=mod.ChunkLayout(**layout_kw), fill_value=fill, dimension_units=units)


def apply_op(mod, s, op):
    kind, arg = op
    if kind == "getitem":
        return s[arg]
    if kind == "oindex":
        return s.oindex[arg]
    if kind == "vindex":
        return s.vindex[arg]
    if kind == "T":
        return s.T
    if kind == "translate_to":
        return s.translate_to[arg]
    if kind == "stride":
        return s[mod.d[0].stride[arg]]
    if kind == "diagonal":
        return s[mod.d[0, 1].diagonal]
    if kind == "implicit":
        return s[mod.d[0].mark_bounds_implicit[arg]]
    if kind == "label":
        return s[mod.d[0].label["x"]]
    raise AssertionError(kind)


@st.composite
def cases(draw):
    rank = draw(st.integers(2, 3))
    origin = draw(st.lists(st.integers(-3, 3), min_size=rank, max_size=rank))
    shape = draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank))
    layout = {}
    if draw(st.booleans()):
        layout["grid_origin"] = draw(st.lists(st.one_of(st.none(), st.integers(-7, 7)), min_size=rank, max_size=rank))
    if draw(st.booleans()):
        layout["chunk_shape"] = draw(st.lists(st.one_of(st.none(), st.integers(1, 12)), min_size=rank, max_size=rank))
    if draw(st.booleans()):
        layout["chunk_aspect_ratio_soft_constraint"] = draw(
            st.lists(st.one_of(st.none(), st.sampled_from([0.5, 1, 3])), min_size=rank, max_size=rank))
    if draw(st.booleans()):
        layout["inner_order"] = draw(st.permutations(list(range(rank))))
    if draw(st.booleans()):
        layout["chunk_elements"] = draw(st.integers(1, 100))
    fill_kind = draw(st.integers(0, 3))
    fill = [None, 7, np.arange(shape[-1]), np.arange(int(np.prod(shape))).reshape(shape)][fill_kind]
    units = draw(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["nm", "4um", ""])),
                                               min_size=rank, max_size=rank)))
    ops = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["getitem", "getitem", "oindex", "vindex", "T", "translate_to", "stride",
                                     "diagonal", "implicit", "label"]))
        if kind in ("getitem",):
            d0 = draw(st.sampled_from([slice(None), slice(None, None, 2), slice(None, None, -1), "int",
                                       None, Ellipsis]))
            arg = origin[0] if d0 == "int" else d0
        elif kind in ("oindex", "vindex"):
            arg = (np.array(draw(st.lists(st.integers(origin[0], origin[0] + shape[0] - 1), min_size=1, max_size=3))),)
        elif kind == "translate_to":
            arg = draw(st.integers(-2, 2))
        elif kind == "stride":
            arg = draw(st.sampled_from([1, 2, 3, -1, -2]))
        elif kind == "implicit":
            arg = draw(st.sampled_from([True, False, slice(None, True), slice(True, None)]))
        else:
            arg = None
        ops.append((kind, arg))
    return origin, shape, layout, fill, units, ops


@settings(max_examples=200, deadline=None)
@given(cases())
def test_indexing_matches_reference(case):
    origin, shape, layout, fill, units, ops = case

    def run(mod):
        s = make(mod, origin, shape, layout, fill, units)
        for op in ops:
            s = apply_op(mod, s, op)
        return describe(s)

    a, b = outcome(lambda: run(ts)), outcome(lambda: run(ref))
    event(f"reference outcome: {b[0]}")
    if a[0] == "IndexError" or b[0] == "IndexError":
        # Index validation belongs to the index layer; only the kind of failure must agree.
        assert a[0] == b[0]
        return
    assert a == b
