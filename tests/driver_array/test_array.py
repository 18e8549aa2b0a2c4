"""The array driver and ts.array, compared with tensorstore 0.1.86: specs of views (the
elements a view sees, repeated dimensions dropped), buffer sharing, read-only inputs, object
data types, JSON parsing errors."""

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _views(lib):
    t = lib.array(np.arange(6).reshape(2, 3))
    d = lib.d
    return [
        t, t[:, ::2], t[1:, 1:], t.translate_to[5, 5], t[d[0].translate_by[3]][3:4], t[1], t[..., np.newaxis],
        t[[0, 1, 1]], t[:, [0, 0]], t.T, t[d[:].translate_to[3]][d[:].transpose[1, 0]], t.vindex[[0, 1], [1, 2]],
        t[d[0].mark_bounds_implicit[True]], t[d[:].label["x", "y"]], t[:, ::-1], t[:, 1:1],
        lib.array(5), lib.array(np.zeros((2, 0))), lib.array(np.broadcast_to(np.arange(3), (4, 3))),
        lib.array(np.array([1 + 2j], np.complex64)), lib.array(np.array([True])),
    ]


def test_views_have_the_reference_specs_and_values():
    for ours, theirs in zip(_views(ts), _views(ref)):
        assert ours.spec().to_json() == theirs.spec().to_json()
        assert repr(ours) == repr(theirs)
        assert ours.domain.to_json() == theirs.domain.to_json()
        np.testing.assert_array_equal(ours.read().result(), theirs.read().result())
        # The spec reopens the same view (also for complex arrays, which TensorStore cannot).
        reopened = ts.open(ours.spec()).result()
        np.testing.assert_array_equal(reopened.read().result(), theirs.read().result())


@pytest.mark.parametrize("copy", [None, True, False])
@pytest.mark.parametrize("write", [None, True, False])
@pytest.mark.parametrize("readonly", [False, True])
def test_copy_and_write_options(copy, write, readonly):
    outcomes = []
    for lib in (ts, ref):
        x = np.array([1, 2, 3], dtype=np.int32)
        x.setflags(write=not readonly)
        try:
            store = lib.array(x, copy=copy, write=write)
        except ValueError as exc:
            outcomes.append(("error", str(exc).splitlines()[0]))
            continue
        x.setflags(write=True)
        x[0] = 9
        outcomes.append((store.writable, store.mode, int(store[0].read().result())))
    assert outcomes[0] == outcomes[1]


def test_writes_go_to_a_shared_buffer():
    x = np.zeros(5, np.int64)
    store = ts.array(x, copy=False)
    store[1:3] = [7, 8]
    store[[0, 4]] = [9, 9]
    store[ts.d[0].translate_to[10]][13] = 5
    np.testing.assert_array_equal(x, [9, 7, 8, 5, 9])


def test_conversions_like_the_reference():
    cases = [
        lambda lib: lib.array([1, 2.5], dtype=lib.int32),
        lambda lib: lib.array(np.arange(3), dtype=lib.int32),
        lambda lib: lib.array(np.array(["a", "b"]), dtype=lib.ustring),
        lambda lib: lib.array(["a", "b"], dtype=lib.string),
        lambda lib: lib.array([b"a", b"b"], dtype=lib.string),
        lambda lib: lib.array(np.zeros(3, "M8[s]")),
        lambda lib: lib.array({"a": 1}),
        lambda lib: lib.array([{"a": 1}, 2], dtype=lib.json),
        lambda lib: lib.array(np.array([1, 2], lib.bfloat16.numpy_dtype)),
        lambda lib: lib.array(np.array([1, 2], lib.int4.numpy_dtype)),
    ]
    for case in cases:
        got = []
        for lib in (ts, ref):
            try:
                store = case(lib)
                got.append((store.dtype.name, repr(store.read().result().tolist()), store.spec().to_json()))
            except (TypeError, ValueError) as exc:
                got.append(("ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc)))
        assert got[0] == got[1]


@pytest.mark.parametrize(
    "j",
    [
        {"array": [1, 2]},
        {"array": [[1], [2, 3]], "dtype": "int32"},
        {"array": [[1], 2], "dtype": "int32"},
        {"array": [1, [2]], "dtype": "int32"},
        {"array": [1, 300], "dtype": "uint8"},
        {"array": [1, "x"], "dtype": "int32"},
        {"array": [1.5, "x"], "dtype": "float32"},
        {"array": [1, 0], "dtype": "bool"},
        {"array": [1, 2], "dtype": "ustring"},
        {"array": [1, 2], "dtype": "int32", "rank": 2},
        {"array": [1e300, "2.5"], "dtype": "float32"},
        {"array": [9], "dtype": "int4"},
        {"array": [[], []], "dtype": "int32"},
        {"array": [[1, 2], [3]], "dtype": "json"},
        {"array": [1, {"a": 2}, [3]], "dtype": "json", "rank": 1},
        {"array": [1, 2], "dtype": "int32", "foo": 1},
        {"array": [1, 2], "dtype": "int32", "schema": {"domain": {"shape": [3]}}},
        {"array": [1, 2], "dtype": "int32", "transform": {"input_shape": [1], "output": [{"input_dimension": 0, "offset": 1}]}},
    ],
)
def test_json_specs_like_the_reference(j):
    got = []
    for lib in (ts, ref):
        try:
            spec = lib.Spec({"driver": "array", **j})
            store = lib.open(spec).result()
            got.append((spec.to_json(), spec.to_json(include_defaults=True), repr(store.read().result().tolist()), repr(spec.schema)))
        except ValueError as exc:
            got.append(("error", str(exc)))
    assert got[0] == got[1]


def test_object_dtypes_check_written_elements():
    strings = ts.open({"driver": "array", "dtype": "string", "array": ["abc", "x"], "rank": 1}).result()
    strings[0] = b"foo"
    with pytest.raises(TypeError):
        strings[1] = "abc"
    texts = ts.open({"driver": "array", "dtype": "ustring", "array": ["abc", "x"], "rank": 1}).result()
    with pytest.raises(TypeError):
        texts[1] = b"foo"
    values = ts.open({"driver": "array", "dtype": "json", "array": [1, {"a": 2}, 3], "rank": 1}).result()
    values[2] = [1, 2, 3]
    with pytest.raises(TypeError):
        values[1] = object()
    assert values.read().result().tolist() == [1, {"a": 2}, [1, 2, 3]]


def test_transactions_and_resize_are_refused_like_the_reference():
    for lib in (ts, ref):
        store = lib.array([1, 2, 3])
        with pytest.raises(NotImplementedError, match='"array" driver does not support transactions'):
            with lib.Transaction() as txn:
                store.with_transaction(txn).read().result()
        assert store.kvstore is None


def test_large_reads_and_writes_run_on_the_executor():
    x = np.arange(1 << 18, dtype=np.int32)
    store = ts.array(x)
    np.testing.assert_array_equal(store[::-1].read().result(), x[::-1])
    store[::2] = np.zeros(1 << 17, np.int32)
    assert int(x[2]) == 0 and int(x[3]) == 3
