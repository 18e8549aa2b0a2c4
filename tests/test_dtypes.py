import ml_dtypes
import numpy as np
import pytest

import tensorstore_py as ts

NAMES = [
    "bool", "char", "byte", "int2", "int4", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "float16", "bfloat16", "float32", "float64", "float8_e4m3fn",
    "float8_e5m2", "float4_e2m1fn", "complex64", "complex128", "string", "ustring", "json",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_names_match_reference(name):
    ref = pytest.importorskip("tensorstore")
    ours, theirs = getattr(ts, name), getattr(ref, name)
    assert repr(ours) == repr(theirs)
    assert ours.name == theirs.name == ours.to_json()
    assert ours.type is theirs.type
    assert ours.numpy_dtype == theirs.numpy_dtype


def test_construct_from_numpy_and_string():
    assert ts.dtype(np.int32) is ts.int32
    assert ts.dtype(np.dtype(">f4")) is ts.float32
    assert ts.dtype("uint16") is ts.uint16
    assert ts.dtype(ml_dtypes.bfloat16) is ts.bfloat16
    assert ts.int32 == "int32" and ts.int32 != ts.int64
    assert hash(ts.int32) == hash(ts.dtype("int32"))


def test_unknown_names_raise_like_tensorstore():
    with pytest.raises(ValueError, match='No TensorStore data type with name: "i4"'):
        ts.dtype("i4")


def test_call_converts():
    v = ts.int32(5)
    assert v == 5 and type(v) is np.int32
    assert ts.string(b"x") == b"x"
    assert ts.json({"a": 1}) == {"a": 1}


def _outcome(fn):
    try:
        value = fn()
    except (ValueError, TypeError, OverflowError) as exc:
        return (type(exc).__name__ if not isinstance(exc, ValueError) else "ValueError", str(exc))
    return ("ok", repr(value), type(value).__name__)


# Python's str/bytes name the variable-length string types; NumPy's fixed-size bytes and void of
# any size are char/byte; `object` is ambiguous and refused.
_CONSTRUCT = [
    "str", "bytes", "'S'", "np.bytes_", "np.str_", "'U'", "np.dtype('S1')", "np.dtype('S5')", "np.dtype('U3')",
    "object", "np.object_", "np.void", "np.dtype('V1')", "np.dtype('V4')", "int", "float", "complex", "bool",
    "'>i4'", "'<i4'", "'i4'", "'foo'",
]  # fmt: skip


@pytest.mark.parametrize("arg", _CONSTRUCT)
def test_construction_matches_reference(arg):
    ref = pytest.importorskip("tensorstore")
    ours = _outcome(lambda: ts.dtype(eval(arg)))
    theirs = _outcome(lambda: ref.dtype(eval(arg)))
    assert ours == theirs


# Comparison converts the other side as ts.dtype() does; unknown names raise.
_COMPARE = [
    "ts.uint8 == np.uint8", "ts.bool == bool", "bool == ts.bool", "ts.bool != np.uint8", "np.uint8 != ts.bool",
    "ts.uint8 == np.dtype('uint8')", "np.dtype('uint8') == ts.uint8", "ts.uint8 == 'uint8'", "'uint8' == ts.uint8",
    "ts.uint8 == 'u1'", "ts.int64 == int", "ts.float64 == float", "ts.json == object", "ts.string == bytes",
    "ts.ustring == str", "ts.char == np.bytes_", "ts.uint8 == 'foo'", "ts.uint8 != 'uint8'",
]  # fmt: skip


@pytest.mark.parametrize("expr", _COMPARE)
def test_comparison_matches_reference(expr):
    ref = pytest.importorskip("tensorstore")
    assert _outcome(lambda: eval(expr, {"ts": ts, "np": np})) == _outcome(lambda: eval(expr, {"ts": ref, "np": np}))


def test_comparison_with_non_dtypes_is_false():
    assert (ts.uint8 == None) is False  # noqa: E711 - TensorStore raises TypeError here
    assert ts.uint8 != 3 and ts.uint8 != [1]


# ts.json(value) converts to plain JSON values.
_JSON = [
    "(1, 2, 3)", "np.uint8(3)", "np.float32(3)", "np.array([1, 2, 3])", "np.array([[1.5]])", "np.bool_(True)",
    "{'a': (1, 2)}", "float('nan')", "object()", "b'x'", "None", "{1: 2}", "np.int64(2**62)", "2**64",
    "-2**63", "2**64 - 1", "-2**63 - 1", "2**70", "np.array(5)", "np.array(['a'])", "True",
    "[True, np.bool_(False)]", "np.array([True])", "np.uint64(2**64 - 1)", "float('inf')",
    "[1, (2, {'a': np.float16(1.5)})]", "{'a': b'xy'}", "bytearray(b'x')", "np.array([1, 2], dtype=np.uint8)",
    "np.array([[1, 2], [3, 4]])", "{(1, 2): 3}", "{None: 3}", "{1.5: 3}", "{True: 3}", "set([1])", "range(3)",
    "iter([1])", "np.str_('a')", "np.array(['a', 'bc'])", "np.array([{'a': 1}], dtype=object)", "np.int8(-3)",
    "[None]", "np.array([1.5, 2], dtype=np.float32)", "np.array([], dtype=np.float32)", "np.zeros((2, 0))",
    "ts.int32", "np.datetime64(1, 's')", "memoryview(b'ab')", "np.uint32(7)", "1 + 2j", "ts.Unit('nm')",
    "ts.IndexDomain(shape=[2])",
]  # fmt: skip


@pytest.mark.parametrize("value", _JSON)
def test_json_conversion_matches_reference(value):
    ref = pytest.importorskip("tensorstore")
    ours = _outcome(lambda: ts.json(eval(value, {"ts": ts, "np": np})))
    theirs = _outcome(lambda: ref.json(eval(value, {"ts": ref, "np": np})))
    assert ours == theirs


def test_numpy_knows_the_ml_dtypes_names_after_import():
    """As after ``import tensorstore``: ml_dtypes is imported with the package, so NumPy
    resolves the names of its types (TensorStore's own tests rely on it)."""
    import subprocess
    import sys

    script = """
import numpy as np
import tensorstore_py as ts
for name in ("bfloat16", "int2", "int4", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn"):
    assert ts.dtype(np.dtype(name)).name == name
"""
    subprocess.run([sys.executable, "-c", script], check=True)
