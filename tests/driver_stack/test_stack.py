"""The stack driver with ts.stack / ts.concat / ts.overlay, compared with tensorstore 0.1.86
on random layer layouts: domains, values read through random views, specs, writes routed to
the layers, and errors (uncovered cells, mismatched layers)."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _outcome(fn):
    try:
        return ("ok", fn())
    except (ValueError, TypeError, IndexError) as exc:
        return ("ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))


@st.composite
def layouts(draw):
    rank = draw(st.integers(1, 2))
    n = draw(st.integers(1, 3))
    layers = []
    for k in range(n):
        shape = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
        origin = draw(st.lists(st.integers(-3, 5), min_size=rank, max_size=rank))
        layers.append((shape, origin, 100 * (k + 1)))
    return rank, layers


def _layer(lib, shape, origin, base):
    data = (base + np.arange(int(np.prod(shape)))).reshape(shape).astype(np.int32)
    return lib.array(data)[lib.d[:].translate_to[tuple(origin)]]


def _build(lib, kind, rank, layers, axis):
    stores = [_layer(lib, s, o, b) for s, o, b in layers]
    if kind == "overlay":
        return lib.overlay(stores)
    if kind == "stack":
        return lib.stack(stores, axis=axis)
    return lib.concat(stores, axis=axis)


def _view(store, lib, picks):
    """A view chosen by `picks`: whole, a strided slice or a reversed one."""
    kind, a, b = picks
    domain = store.domain
    lo, hi = domain.inclusive_min[0], domain.exclusive_max[0]
    if kind == 0 or hi - lo == 0:
        return store
    if kind == 1:
        start = lo + a % (hi - lo)
        return store[lib.d[0][start:hi:1 + b % 3]]
    return store[lib.d[0][hi - 1:lo - 1:-1]]


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 60)), deadline=None)
@given(layout=layouts(), kind=st.sampled_from(["overlay", "stack", "concat"]), axis=st.integers(-2, 2),
       picks=st.tuples(st.integers(0, 3), st.integers(0, 10), st.integers(0, 10)))
def test_random_layouts_read_like_the_reference(layout, kind, axis, picks):
    rank, layers = layout
    built = [_outcome(lambda lib=lib: _build(lib, kind, rank, layers, axis)) for lib in (ts, ref)]
    assert built[0][0] == built[1][0]
    if built[0][0] != "ok":
        assert built[0][1] == built[1][1]
        return
    ours, theirs = built[0][1], built[1][1]
    assert ours.domain.to_json() == theirs.domain.to_json()
    assert ours.spec().to_json() == theirs.spec().to_json()
    assert repr(ours) == repr(theirs)
    kind_, a, b = picks
    if kind_ == 3:
        domain = ours.domain
        lo, hi = domain.inclusive_min[0], domain.exclusive_max[0]
        # An index array (TensorStore's indices are absolute, negative ones included).
        points = [lo + (a + i * b) % (hi - lo) for i in range(4)] if hi > lo else []
        views = (ours[points], theirs[points]) if points else (ours, theirs)
    else:
        views = (_view(ours, ts, picks), _view(theirs, ref, picks))
    got = [_outcome(lambda v=v: v.read().result()) for v in views]
    assert got[0][0] == got[1][0]
    if got[0][0] == "ok":
        np.testing.assert_array_equal(got[0][1], got[1][1])
        assert views[0].spec().to_json() == views[1].spec().to_json()
    else:
        assert got[0][1] == got[1][1]


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 40)), deadline=None)
@given(layout=layouts(), kind=st.sampled_from(["overlay", "stack", "concat"]), value=st.integers(-50, 50),
       start=st.integers(0, 6))
def test_random_writes_reach_the_layers_like_the_reference(layout, kind, value, start):
    rank, layers = layout
    results = []
    for lib in (ts, ref):
        stores = [_layer(lib, s, o, b) for s, o, b in layers]
        try:
            if kind == "overlay":
                view = lib.overlay(stores)
            elif kind == "stack":
                view = lib.stack(stores)
            else:
                view = lib.concat(stores, axis=0)
        except ValueError as exc:
            results.append(("build", str(exc)))
            continue
        lo, hi = view.domain.inclusive_min[0], view.domain.exclusive_max[0]
        target = view[lib.d[0][min(lo + start, hi):hi]]
        outcome = _outcome(lambda: target.write(np.full(target.shape, value, np.int32)).result())
        results.append((outcome[0], outcome[1] if outcome[0] != "ok" else None,
                        [s.read().result().tolist() for s in stores]))
    assert results[0] == results[1]


def test_doc_forms():
    cases = [
        lambda lib: lib.stack([lib.array([1, 2, 3, 4], dtype=lib.int32), lib.array([5, 6, 7, 8], dtype=lib.int32)], axis=-1),
        lambda lib: lib.concat([lib.array([[1, 2, 3], [4, 5, 6]], dtype=lib.uint32).label["x", "y"],
                                lib.array([[7, 8, 9], [10, 11, 12]], dtype=lib.uint32)], axis="y"),
        lambda lib: lib.overlay([lib.array([1, 2, 3, 4], dtype=lib.uint32), lib.array([5, 6, 7, 8], dtype=lib.uint32).translate_to[3]])[2:6],
        lambda lib: lib.overlay([lib.array([1, 2], dtype=lib.int32), lib.Spec({"driver": "array", "array": [9], "dtype": "int32"})]),
        lambda lib: lib.overlay([lib.array([1, 2], dtype=lib.int32), lib.Spec({"driver": "zarr", "kvstore": "memory://"})]),
        lambda lib: lib.concat([lib.array([1, 2], dtype=lib.int32), lib.array([[1]], dtype=lib.int32)], axis=0),
        lambda lib: lib.overlay([lib.array([1], dtype=lib.int32), lib.array([1.5], dtype=lib.float32)]),
        lambda lib: lib.overlay([lib.array([1], dtype=lib.int32)], dtype=lib.int64),
        lambda lib: lib.concat([lib.array([1], dtype=lib.int32)], axis="x"),
        lambda lib: lib.stack([lib.array([1], dtype=lib.int32)], axis=2),
        lambda lib: lib.stack([]),
        lambda lib: lib.concat([], axis=0),
        lambda lib: lib.overlay([]),
    ]
    for case in cases:
        got = []
        for lib in (ts, ref):
            result = _outcome(lambda: case(lib))
            if result[0] == "ok":
                store = result[1]
                got.append((repr(store), _outcome(lambda: store.read().result().tolist()), store.mode, repr(store.schema)))
            else:
                got.append(result)
        assert got[0] == got[1]


def test_stack_spec_reopens_and_layers_open_on_demand(tmp_path):
    for lib in (ts, ref):
        path = str(tmp_path / lib.__name__)
        layer_spec = lib.Spec({"driver": "zarr", "kvstore": {"driver": "file", "path": path}})
        created = lib.open(layer_spec, create=True, dtype=lib.int16, shape=[3]).result()
        created.write([1, 2, 3]).result()
        view = lib.concat([lib.array(np.array([7, 8], np.int16)), created.spec()], axis=0)
        created.write([4, 5, 6]).result()  # the spec layer is opened by each read
        assert view.read().result().tolist() == [7, 8, 4, 5, 6]
        reopened = lib.open(view.spec()).result()
        reopened[2:5] = [0, 0, 9]
        assert created.read().result().tolist() == [0, 0, 9]


def test_transactions_pass_through_to_stored_layers(tmp_path):
    results = []
    for lib in (ts, ref):
        stores = [lib.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / f"{lib.__name__}{i}")}},
                           create=True, dtype=lib.int32, shape=[2]).result() for i in range(2)]
        view = lib.concat(stores, axis=0)
        with lib.Transaction() as txn:
            view.with_transaction(txn)[1:3] = [5, 6]
            inside = view.with_transaction(txn).read().result().tolist()
            outside = view.read().result().tolist()
        results.append((inside, outside, view.read().result().tolist()))
    assert results[0] == results[1]


def test_keyword_constraints_and_parsed_specs_like_the_reference():
    def one_layer(lib):
        return lib.array(np.array([1, 2, 3, 4], np.int32))

    layer_json = {"driver": "array", "array": [1, 2], "dtype": "int32"}
    cases = [
        lambda lib: repr(lib.overlay([one_layer(lib)], dimension_units=["nm"])),
        lambda lib: lib.overlay([one_layer(lib)], dimension_units=["nm"]).dimension_units,
        lambda lib: lib.overlay([one_layer(lib)], domain=lib.IndexDomain(shape=[6])).domain.to_json(),
        lambda lib: lib.overlay([one_layer(lib)], domain=lib.IndexDomain(shape=[6])).read().result(),
        lambda lib: lib.overlay([one_layer(lib)], shape=[3]).read().result().tolist(),
        lambda lib: lib.overlay([one_layer(lib)], rank=2),
        lambda lib: lib.overlay([one_layer(lib)], schema=lib.Schema(dtype=lib.int32)).dtype.name,
        lambda lib: lib.stack([one_layer(lib)[lib.d[0].label["x"]], one_layer(lib)]).domain.to_json(),
        lambda lib: lib.overlay([one_layer(lib)]).spec().to_json(include_defaults=True),
        lambda lib: lib.Spec({"driver": "stack", "layers": [layer_json]}).to_json(),
        lambda lib: repr(lib.Spec({"driver": "stack", "layers": [layer_json]}).schema),
        lambda lib: repr(lib.open({"driver": "stack", "layers": [layer_json]}).result()),
        lambda lib: lib.Spec({"driver": "stack", "layers": [{"driver": "zarr", "kvstore": "memory://"}]}),
    ]
    for case in cases:
        ours, theirs = _outcome(lambda: case(ts)), _outcome(lambda: case(ref))
        if ours[0] == "ok" and isinstance(ours[1], np.ndarray):
            np.testing.assert_array_equal(ours[1], theirs[1])
        elif ours[0] == "ok" and isinstance(ours[1], tuple):
            assert repr(ours[1]) == repr(theirs[1])
        else:
            assert ours == theirs
