"""Constraints carried from a transformed view back to the driver's space, against the reference.

The reference applies this when a Spec with a transform is updated with a chunk layout or
dimension units: the stored schema holds them in the output space.
"""

from __future__ import annotations

import tensorstore as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.schema.transform import inverse_transform_chunk_layout, inverse_transform_dimension_units

from .conftest import outcome

OPS = [
    lambda s: s[::2], lambda s: s[1:], lambda s: s.T, lambda s: s[::-1], lambda s: s[:, ::3],
    lambda s: s[ref.d[0].translate_by[5]], lambda s: s[2], lambda s: s[ref.newaxis], lambda s: s[..., 1],
]


@st.composite
def cases(draw):
    rank = 2
    ops = draw(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=3))
    kw = {}
    for key, elem in (("grid_origin", st.integers(-5, 5)), ("grid_origin_soft_constraint", st.integers(-5, 5)),
                      ("chunk_shape", st.integers(1, 9)), ("read_chunk_shape_soft_constraint", st.integers(1, 9)),
                      ("chunk_aspect_ratio", st.sampled_from([0.5, 1.0, 2.0]))):
        if draw(st.booleans()):
            kw[key] = draw(st.lists(st.one_of(st.none(), elem), min_size=rank + 4, max_size=rank + 4))
    if draw(st.booleans()):
        kw["chunk_elements"] = draw(st.integers(1, 100))
    perm = draw(st.permutations(list(range(rank + 4))))
    if draw(st.booleans()):
        kw[draw(st.sampled_from(["inner_order", "inner_order_soft_constraint"]))] = perm
    units = draw(st.lists(st.one_of(st.none(), st.sampled_from(["4nm", "s", "2um"])), min_size=rank + 4,
                          max_size=rank + 4))
    return ops, kw, units


@settings(max_examples=200, deadline=None)
@given(cases())
def test_inverse_transform_matches_reference_spec(case):
    ops, kw, units = case
    spec = ref.Spec({"driver": "zarr", "kvstore": "memory://", "schema": {"domain": {"shape": [10, 20]}}})
    try:
        for i in ops:
            spec = OPS[i](spec)
    except IndexError:
        return
    rank = spec.rank
    kw = {k: v[:rank] if isinstance(v, list) else v for k, v in kw.items()}
    if "inner_order" in kw or "inner_order_soft_constraint" in kw:
        key = "inner_order" if "inner_order" in kw else "inner_order_soft_constraint"
        kw[key] = sorted(range(rank), key=lambda d: kw[key][d] if d < len(kw[key]) else d)
    units = units[:rank]
    transform = ts.IndexTransform(json=spec.transform.to_json())

    def theirs():
        s = spec.copy() if hasattr(spec, "copy") else ref.Spec(spec.to_json())
        s.update(chunk_layout=ref.ChunkLayout(**kw), dimension_units=units)
        schema = s.to_json().get("schema", {})
        return schema.get("chunk_layout", {}), schema.get("dimension_units")

    def ours():
        layout = inverse_transform_chunk_layout(ts.ChunkLayout(**kw), transform).to_json()
        layout.pop("rank", None)
        u = inverse_transform_dimension_units([None if x is None else ts.Unit(x) for x in units], transform)
        u_json = None if all(x is None for x in u) else [None if x is None else x.to_json() for x in u]
        return layout, u_json

    a, b = outcome(ours), outcome(theirs)
    if b[0] != "ok":
        assert a[0] != "ok" and a[1] in b[1]
        return
    assert a == b
