"""Indexing a Schema re-expresses its chunk layout, fill value and units; against the reference."""

from __future__ import annotations

import numpy as np
import tensorstore as ref
from hypothesis import event, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.testing import strategies as tst

from .conftest import outcome
from .test_schema import describe


def make(mod, origin, shape, layout_json, fill, units):
    return mod.Schema(domain=mod.IndexDomain(inclusive_min=origin, shape=shape),
                      chunk_layout=mod.ChunkLayout(layout_json), fill_value=fill, dimension_units=units)


@st.composite
def cases(draw):
    """A schema's parts and a chain of index expressions, from the public strategies."""
    domain = draw(tst.index_domains(min_rank=2, max_rank=3, min_extent=1, max_extent=5, origin=(-3, 3), labels=False,
                                    implicit=False))  # fmt: skip
    origin, shape = list(domain.origin), list(domain.shape)
    layout = draw(tst.chunk_layouts(domain.rank, max_chunk=12)).to_json()
    fill_kind = draw(st.integers(0, 3))
    fill = [None, 7, np.arange(shape[-1]), np.arange(int(np.prod(shape))).reshape(shape)][fill_kind]
    units = draw(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["nm", "4um", ""])),
                                               min_size=domain.rank, max_size=domain.rank)))  # fmt: skip
    chain = draw(tst.index_expression_chains(domain, max_length=3))
    return origin, shape, layout, fill, units, chain


@settings(max_examples=200, deadline=None)
@given(cases())
def test_indexing_matches_reference(case):
    origin, shape, layout, fill, units, chain = case

    def run(mod):
        s = make(mod, origin, shape, layout, fill, units)
        return describe(chain.apply(s, mod))

    a, b = outcome(lambda: run(ts)), outcome(lambda: run(ref))
    event(f"reference outcome: {b[0]}")
    if a[0] == "IndexError" or b[0] == "IndexError":
        # Index validation belongs to the index layer; only the kind of failure must agree.
        assert a[0] == b[0]
        return
    assert a == b
