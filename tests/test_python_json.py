"""Python values given where JSON is expected (specs, schemas, layouts, kvstore specs, index
transforms, contexts): numpy scalars and arrays, str subclasses and bytes are converted as
TensorStore converts them, and other types raise its TypeError.  Checked against tensorstore."""

from __future__ import annotations

import enum

import numpy as np
import pytest

import tensorstore_py as ts
from tensorstore_py.json_util import from_python

ref = pytest.importorskip("tensorstore")


class _Sep(str, enum.Enum):
    SLASH = "/"


def _metadata(**members):
    return {"shape": [4, 6], "chunks": [2, 3], "dtype": "<f4", **members}


_ACCEPTED = {
    "numpy integers": lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"},
                                            "metadata": _metadata(shape=[np.int64(4), np.uint8(6)],
                                                                  chunks=(np.int16(2), np.int32(3)))}),
    "numpy array": lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"},
                                         "metadata": _metadata(shape=np.array([4, 6]))}),
    "numpy float fill": lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"},
                                              "metadata": _metadata(fill_value=np.float32(1.5))}),
    "str subclasses": lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"},
                                            "metadata": _metadata(dtype=np.str_("<f4"), dimension_separator=_Sep.SLASH)}),
    "numpy bool": lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": _metadata(),
                                        "recheck_cached_data": np.bool_(False)}),
    "schema": lambda lib: lib.Schema({"domain": {"shape": np.array([3, 4])}, "dtype": np.str_("uint16")}),
    "chunk layout": lambda lib: lib.ChunkLayout({"read_chunk": {"shape": [np.int64(3), None]},
                                                 "grid_origin": np.zeros(2, np.int64)}),
    "kvstore spec": lambda lib: lib.KvStore.Spec({"driver": "memory", "path": np.str_("a/b")}),
    "index transform": lambda lib: lib.IndexTransform(json={"input_inclusive_min": np.array([1, 2]),
                                                            "input_exclusive_max": [np.int8(5), 9],
                                                            "output": [{"offset": np.int64(3), "input_dimension": 1}]}),
    "context": lambda lib: lib.Context({"data_copy_concurrency": {"limit": np.int64(3)}}).spec,
}


@pytest.mark.parametrize("name", sorted(_ACCEPTED))
def test_numpy_values_are_accepted_as_tensorstore_accepts_them(name):
    make = _ACCEPTED[name]
    assert make(ts).to_json() == make(ref).to_json()


def test_opening_with_numpy_values_gives_the_same_array():
    spec = {"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": _metadata(shape=np.array([4, 6]))}
    ours = ts.open(spec, create=True).result()
    theirs = ref.open(spec, create=True).result()
    assert ours.shape == theirs.shape == (4, 6)
    assert ours.spec().to_json()["metadata"]["shape"] == [4, 6]


@pytest.mark.parametrize("value", [object(), {1, 2}, 1 + 2j, np.datetime64("2020-01-01")],
                         ids=["object", "set", "complex", "datetime64"])
def test_other_types_raise_tensorstores_type_error(value):
    messages = set()
    for lib in (ts, ref):
        with pytest.raises(TypeError) as info:
            lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": _metadata(), "x": value})
        messages.add(str(info.value))
    assert messages == {f"Object '{type(value).__name__}' does not support conversion to JSON"}


def test_plain_json_comes_back_unconverted_and_uncopied():
    j = {"a": [1, 2.5, "x", None, True, {"b": (1, 2)}]}
    assert from_python(j) is j
    converted = from_python({"a": [1, np.int64(2)], "b": {"c": "d"}})
    assert converted == {"a": [1, 2], "b": {"c": "d"}}
    assert type(converted["a"][1]) is int
