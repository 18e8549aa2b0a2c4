"""Specs of views that change the rank parse back, as in TensorStore: the schema (and the
metadata) live in the driver's space, the transform's output."""

from __future__ import annotations

import pytest
import tensorstore as ref

import tensorstore_py as ts

VIEWS = [lambda t: t[None], lambda t: t[None, [0]], lambda t: t[0], lambda t: t[ts.d[0, 1].diagonal]]


@pytest.mark.parametrize("driver", ["zarr", "zarr3", "n5", "neuroglancer_precomputed"])
@pytest.mark.parametrize("view", range(len(VIEWS)))
def test_view_spec_round_trips(driver, view):
    def run(lib):
        store = lib.open({"driver": driver, "kvstore": "memory://"}, create=True, dtype=lib.uint8, shape=[2, 2, 2, 1],
                         context=lib.Context()).result()  # fmt: skip
        fn = VIEWS[view]
        v = fn(store) if lib is ts else eval_ref(fn, store)
        j = v.spec().to_json()
        return j, lib.Spec(j).rank

    assert run(ts) == run(ref)


def eval_ref(fn, store):
    # The views spell ts.d; the same expression built with the reference's ts.d.
    return {0: lambda t: t[None], 1: lambda t: t[None, [0]], 2: lambda t: t[0],
            3: lambda t: t[ref.d[0, 1].diagonal]}[VIEWS.index(fn)](store)  # fmt: skip


def test_schema_rank_must_match_the_transform_output_rank():
    j = {"driver": "zarr", "kvstore": "memory://", "schema": {"rank": 3}, "transform": {"input_rank": 3, "output": [{}]}}
    with pytest.raises(ValueError) as ours:
        ts.Spec(j)
    with pytest.raises(ValueError) as theirs:
        ref.Spec(j)
    assert str(ours.value) == str(theirs.value)
