"""The cast driver, ts.cast and TensorStore.astype, compared with tensorstore 0.1.86:
which dtype pairs convert in which direction, converted values (read and write), specs,
transactions passed through to a stored base."""

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")

NUMERIC = ["bool", "int4", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float8_e4m3fn", "float8_e5m2", "bfloat16", "float16", "float32", "float64", "complex64", "complex128"]  # fmt: skip
ALL = NUMERIC + ["char", "byte", "string", "ustring", "json"]


def _array(lib, name: str, values: list):
    if name == "string":
        return lib.array(np.array([str(v).encode() for v in values], dtype=object), dtype=lib.string)
    if name == "ustring":
        return lib.array(np.array([str(v) for v in values], dtype=object), dtype=lib.ustring)
    if name == "json":
        return lib.array(np.array(values, dtype=object), dtype=lib.json)
    if name == "char":
        return lib.array(np.array([b"a", b"b"], "S1"))
    if name == "byte":
        return lib.array(np.zeros(2, "V1"))
    with np.errstate(over="ignore", invalid="ignore"):  # values past the type's range become inf
        return lib.array(np.array(values).astype(lib.dtype(name).numpy_dtype))


def _outcome(fn):
    try:
        return ("ok", fn())
    except (ValueError, TypeError, OverflowError) as exc:
        # StatusError is this package's ValueError (TensorStore raises ValueError itself).
        return ("ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))


@pytest.mark.parametrize("src", ALL)
def test_every_pair_converts_in_the_reference_directions(src):
    for dst in ALL:
        ours = _outcome(lambda: ts.cast(_array(ts, src, [0, 1]), dst).mode)
        theirs = _outcome(lambda: ref.cast(_array(ref, src, [0, 1]), dst).mode)
        assert ours == theirs, (src, dst)


def _representable(name: str, values: list) -> list:
    """Keeps values whose conversion is defined in C++ (float -> int in range, no NaN)."""
    if name in ("bool", "json", "string", "ustring") or name.startswith(("float", "bfloat", "complex")):
        return values
    if name == "int4":
        lo, hi = -8, 7
    else:
        info = np.iinfo(np.dtype(name))
        lo, hi = int(info.min), int(info.max)
    return [v for v in values if math.isfinite(v) and lo <= math.trunc(v) <= hi]


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    if a.dtype == object:
        # (JSON values, where a NaN, from a float8 that overflows, is no number equal to itself)
        nan = lambda v: isinstance(v, float) and math.isnan(v)  # noqa: E731
        x, y = a.tolist(), b.tolist()
        assert len(x) == len(y) and all(p == q or (nan(p) and nan(q)) for p, q in zip(x, y)), (x, y)
    else:
        np.testing.assert_array_equal(a, b)


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 60)), deadline=None)
@given(
    src=st.sampled_from(NUMERIC),
    dst=st.sampled_from(NUMERIC + ["string", "ustring", "json"]),
    values=st.lists(st.one_of(st.integers(-300, 300), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.5, -0.5, 2.5, 1e-7])), min_size=1, max_size=6),
)
def test_converted_values_match_the_reference(src, dst, values):
    source = np.array(values, dtype=np.float64)
    # Values are first stored as `src`; those must themselves be representable.
    kept = _representable(src, list(source))
    if not kept:
        return
    base_ours = _array(ts, src, kept)
    base_ref = _array(ref, src, kept)
    stored = base_ref.read().result()
    as_float = stored.astype(np.complex128).real if stored.dtype.kind == "c" else stored.astype(np.float64)
    if dst not in ("string", "ustring", "json") and len(_representable(dst, list(as_float))) != len(as_float):
        return  # undefined in C++ (TensorStore's results vary with vectorisation)
    ours = _outcome(lambda: ts.cast(base_ours, dst).read().result())
    theirs = _outcome(lambda: ref.cast(base_ref, dst).read().result())
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        _same(ours[1], theirs[1])
        ref_spec = _outcome(lambda: ref.cast(base_ref, dst).spec().to_json())
        # TensorStore 0.1.86 fails to write the spec of a cast of a one-element array (its
        # base array loses the dimension, then the rank check fails); the rest must match.
        if ref_spec[0] == "ok":  # compared as text: NaN != NaN
            assert repr(ts.cast(base_ours, dst).spec().to_json()) == repr(ref_spec[1])


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 40)), deadline=None)
@given(
    base=st.sampled_from(["int8", "uint8", "int32", "uint64", "float16", "float32", "float64", "json"]),
    view=st.sampled_from(["int16", "int64", "float32", "float64", "bool", "string", "json"]),
    values=st.lists(st.integers(-100, 100), min_size=1, max_size=5),
)
def test_writes_convert_like_the_reference(base, view, values):
    results = []
    for lib in (ts, ref):
        dst = _array(lib, base, [0] * len(values))
        written = _array(lib, view, values).read().result()

        def write():
            lib.cast(dst, view).write(written).result()
            return dst.read().result()

        results.append(_outcome(write))
    assert results[0][0] == results[1][0]
    if results[0][0] == "ok":
        _same(results[0][1], results[1][1])
    else:
        assert results[0][1] == results[1][1]


def test_json_elements_that_do_not_convert_fail_like_the_reference():
    values = [1, 2.7, -1, "x", None, True, [1], {"a": 1}, "5", 300]
    for dst in ["int32", "uint8", "float32", "bool", "string", "ustring"]:
        for k in range(len(values)):
            ours = _outcome(lambda: ts.cast(_array(ts, "json", values)[k], dst).read().result().tolist())
            theirs = _outcome(lambda: ref.cast(_array(ref, "json", values)[k], dst).read().result().tolist())
            assert ours == theirs, (dst, values[k])


def test_spec_forms_like_the_reference():
    cases = [
        lambda lib: lib.cast(lib.Spec({"driver": "zarr", "kvstore": "memory://"}), lib.uint32).to_json(),
        lambda lib: lib.Spec({"driver": "cast", "base": {"driver": "zarr", "kvstore": "memory://", "dtype": "int32"}, "dtype": "float32"}).schema.to_json(),
        lambda lib: lib.Spec({"driver": "cast", "base": {"driver": "zarr", "kvstore": "memory://", "dtype": "int32", "transform": {"input_shape": [3]}}, "dtype": "float32"})[1:].to_json(),
        lambda lib: lib.Spec({"driver": "cast", "base": {"driver": "zarr", "kvstore": "memory://", "dtype": "int32", "transform": {"input_shape": [3]}}, "dtype": "float32"})[1:].base.to_json(),
        lambda lib: lib.Spec({"driver": "cast", "base": {"driver": "array", "array": [1, 2], "dtype": "int32"}, "dtype": "float32"}).to_json(include_defaults=True),
        lambda lib: lib.cast(lib.array(np.array([1.5, 2.5, 3.5], np.float32))[1:], lib.uint32).spec().to_json(),
        lambda lib: lib.cast(lib.array(np.array([1.5, 2.5, 3.5], np.float32)).translate_to[4], lib.uint32).base.spec().to_json(),
    ]
    for case in cases:
        assert _outcome(lambda: case(ts)) == _outcome(lambda: case(ref))


def test_cast_of_a_stored_array_through_a_transaction(tmp_path):
    results = []
    for lib in (ts, ref):
        store = lib.open({"driver": "cast", "base": {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / lib.__name__)}, "dtype": "int16"}, "dtype": "float32"},
                         create=True, shape=[4]).result()
        store[0:4] = [1.7, -2.5, 1e4, 3]
        with lib.Transaction() as txn:
            store.with_transaction(txn)[0] = 5
            inside = store.with_transaction(txn).read().result()
            outside = store.read().result()
        results.append((inside.tolist(), outside.tolist(), store.read().result().tolist(), store.base.read().result().tolist(),
                        store.url.replace(lib.__name__, "X"), repr(store.schema), store.kvstore.url.replace(lib.__name__, "X")))
    assert results[0] == results[1]


# Floats with few digits: TensorStore prints doubles in messages with Grisu2, which is not
# always the shortest representation (5.0928848045804864e+16), and this package prints the
# shortest; the values themselves convert the same.
_JSON_VALUES = st.one_of(
    st.integers(-(2**64), 2**64), st.floats(-1e9, 1e9).map(lambda x: round(x, 3)), st.booleans(), st.none(),
    st.text(max_size=4), st.sampled_from(["5", "-3", "1.5", "0x10", " 7"]), st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 60)), deadline=None)
@given(dst=st.sampled_from(NUMERIC + ["string", "ustring", "json"]), value=_JSON_VALUES)
def test_json_elements_convert_like_the_reference(dst, value):
    results = []
    for lib in (ts, ref):
        source = np.empty((1,), dtype=object)
        source[0] = value
        results.append(_outcome(lambda: lib.cast(lib.array(source, dtype=lib.json), dst).read().result()))
    assert results[0][0] == results[1][0]
    if results[0][0] == "ok":
        _same(results[0][1], results[1][1])
    else:
        assert results[0][1] == results[1][1]


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 40)), deadline=None)
@given(src=st.sampled_from(["string", "ustring"]), dst=st.sampled_from(["string", "ustring", "json"]),
       value=st.one_of(st.text(max_size=5), st.binary(max_size=5)))
def test_text_elements_convert_like_the_reference(src, dst, value):
    if src == "ustring" and isinstance(value, bytes):
        return
    results = []
    for lib in (ts, ref):
        source = np.empty((1,), dtype=object)
        source[0] = value.encode() if src == "string" and isinstance(value, str) else value
        results.append(_outcome(lambda: lib.cast(lib.array(source, dtype=getattr(lib, src)), dst).read().result().tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("dst", ["uint8", "int8", "uint64", "int64"])
@pytest.mark.parametrize("value", ["-1", "-0", "+5", " 5", "05", "300", "1e2", "5.0", "-128"])
def test_numeric_json_strings_convert_like_the_reference(dst, value):
    results = []
    for lib in (ts, ref):
        source = np.empty((1,), dtype=object)
        source[0] = value
        results.append(_outcome(lambda: lib.cast(lib.array(source, dtype=lib.json), dst).read().result().tolist()))
    assert results[0] == results[1]
