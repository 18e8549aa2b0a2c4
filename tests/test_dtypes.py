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
