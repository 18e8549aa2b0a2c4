"""Issue 16, defects 4-6: metadata from other zarr writers opens; impossible chunk sizes are
refused at create and open with TensorStore's messages; deep JSON and chunk-sized memory bombs
give ValueErrors (never RecursionError, MemoryError or numpy's "iterator is too large")."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorstore

import tensorstore_py
MAX_JSON_DEPTH = 100  # TensorStore's limit converting Python values to JSON

BOTH = [tensorstore, tensorstore_py]


def _message(exc: BaseException) -> str:
    # Drop the spec payload ("[tensorstore_spec=...]"), which differs in context details.
    return str(exc).split(" [tensorstore_spec=")[0]


def _zarray(path, **members):
    j = {"zarr_format": 2, "shape": [4, 6], "chunks": [2, 3], "dtype": "<i4", "compressor": None,
         "fill_value": 7, "order": "C", "filters": None}
    j.update(members)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, ".zarray"), "w") as f:
        json.dump(j, f)


@pytest.mark.parametrize("members", [
    {"filters": []},
    {"attributes": {"x": 1}, "_ARRAY_DIMENSIONS": ["y", "x"]},
    {"filters": [], "dimension_separator": "/", "storage_transformers": []},
], ids=["empty-filters", "extra-members", "both"])
def test_zarr_metadata_of_other_writers_opens_as_tensorstore_opens_it(tmp_path, members):
    _zarray(str(tmp_path), **members)
    arrays, specs = [], []
    for lib in BOTH:
        store = lib.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
        store[1:3, 2:5] = np.arange(6, dtype=np.int32).reshape(2, 3)
        arrays.append(store.read().result())
        specs.append(store.spec().to_json()["metadata"])
    np.testing.assert_array_equal(arrays[0], arrays[1])
    assert specs[0] == specs[1]


def test_zarr_spec_metadata_with_extra_members_is_refused_as_tensorstore_does():
    spec = {"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": {"shape": [4], "foo": 1}}
    messages = []
    for lib in BOTH:
        with pytest.raises(ValueError) as info:
            lib.open(spec, create=True, dtype=lib.int32).result()
        messages.append(_message(info.value))
    assert messages[0] == messages[1]
    assert 'Object includes extra members: "foo"' in messages[1]


_CREATE = [
    ("zarr", {"dtype": "int32", "shape": [2**41, 2**41], "chunk_shape": [2**40, 2**40]},
     "Product of chunk dimensions {1099511627776, 1099511627776} is too large"),
    ("zarr3", {"dtype": "int32", "shape": [2**41, 2**41], "chunk_shape": [2**40, 2**40]},
     "Integer overflow computing encoded size of array of shape {1099511627776, 1099511627776}"),
    ("n5", {"dtype": "int32", "shape": [2**41, 2**41], "chunk_shape": [2**40, 2**40]},
     "exceeds maximum chunk size of 2GB"),
]


@pytest.mark.parametrize("driver,args,expected", _CREATE, ids=[c[0] for c in _CREATE])
def test_impossible_chunk_shapes_are_refused_at_create(driver, args, expected):
    messages = []
    for lib in BOTH:
        with pytest.raises(ValueError) as info:
            lib.open({"driver": driver, "kvstore": {"driver": "memory"}}, create=True, dtype=getattr(lib, args["dtype"]),
                     shape=args["shape"], chunk_layout=lib.ChunkLayout(chunk_shape=args["chunk_shape"])).result()
        messages.append(_message(info.value))
    assert expected in messages[1]
    assert messages[0] == messages[1]


@pytest.mark.parametrize("chunks,dtype,expected", [
    ([2**40, 2**40], "<i4", "Product of chunk dimensions {1099511627776, 1099511627776} is too large"),
    ([2**62], "<i4", "Total number of bytes per chunk is too large"),
])
def test_impossible_stored_zarr_chunks_are_refused_at_open(tmp_path, chunks, dtype, expected):
    _zarray(str(tmp_path), shape=list(chunks), chunks=chunks, dtype=dtype)
    messages = []
    for lib in BOTH:
        with pytest.raises(ValueError) as info:
            lib.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
        messages.append(_message(info.value).replace(str(tmp_path), "<dir>"))
    assert messages[1].endswith(expected)
    assert messages[0] == messages[1]


def test_stored_zarr3_chunks_overflowing_the_encoded_size_are_refused(tmp_path):
    j = {"zarr_format": 3, "node_type": "array", "shape": [2**62], "data_type": "int32",
         "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2**61]}},
         "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
         "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}
    (tmp_path / "zarr.json").write_text(json.dumps(j))
    messages = []
    for lib in BOTH:
        with pytest.raises(ValueError) as info:
            lib.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
        messages.append(_message(info.value).replace(str(tmp_path), "<dir>"))
    assert messages[1].endswith("Integer overflow computing encoded size of array of shape {2305843009213693952}")
    assert messages[0] == messages[1]


def _precomputed(lib, chunk, size):
    return lib.open({
        "driver": "neuroglancer_precomputed", "kvstore": {"driver": "memory"},
        "scale_metadata": {"size": size, "chunk_size": chunk, "resolution": [1, 1, 1], "encoding": "raw"},
        "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
    }, create=True).result()


def test_missing_chunks_too_large_for_numpy_read_as_fill_value():
    # TensorStore accepts these; reading (missing chunks) gives the fill value.
    for lib in BOTH:
        store = _precomputed(lib, [2**32, 2**32, 2**32], [2**33, 2**33, 2**33])
        np.testing.assert_array_equal(store[0:3, 5:7, 1, 0].read().result(), np.zeros((3, 2), np.uint8))
        assert store[:: 2**31, :: 2**31, 0, 0].read().result().shape == (4, 4)
        np.testing.assert_array_equal(store.vindex[[1, 2], [3, 4], 0, 0].read().result(), [0, 0])


@pytest.mark.parametrize("make", [
    lambda: _precomputed(tensorstore_py, [2**32, 2**32, 1], [2**33, 2**33, 4]),
    lambda: tensorstore_py.open({"driver": "zarr", "kvstore": {"driver": "memory"}}, create=True,
                                dtype=tensorstore_py.uint8, shape=[2**41, 2**41],
                                chunk_layout=tensorstore_py.ChunkLayout(chunk_shape=[2**31, 2**31])).result(),
    lambda: tensorstore_py.open({"driver": "zarr3", "kvstore": {"driver": "memory"}}, create=True,
                                dtype=tensorstore_py.uint8, shape=[2**41],
                                chunk_layout=tensorstore_py.ChunkLayout(chunk_shape=[2**40])).result(),
], ids=["precomputed", "zarr", "zarr3"])
def test_writing_a_chunk_larger_than_memory_is_refused_up_front(make):
    # TensorStore aborts the process (std::bad_alloc) here; numpy would raise MemoryError.
    store = make()
    with pytest.raises(ValueError, match=r"^RESOURCE_EXHAUSTED: Chunk of shape \{.*\} with data type uint8 needs \d+ "
                                         r"bytes, more than the \d+ bytes of memory of this machine"):
        store[(0,) * store.rank].write(1).result()


def _nested(depth):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
def test_deeply_nested_python_values_are_value_errors(depth):
    deep = _nested(depth)
    calls = [
        lambda lib: lib.Spec({"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": {"shape": deep}}),
        lambda lib: lib.open({"driver": "zarr", "kvstore": {"driver": "memory"}, "metadata": {"dtype": deep}}, create=True),
        lambda lib: lib.Schema({"domain": deep}),
        lambda lib: lib.ChunkLayout({"grid_origin": deep}),
        lambda lib: lib.KvStore.Spec({"driver": "memory", "path": deep}),
        lambda lib: lib.IndexDomain(json={"inclusive_min": deep}),
    ]
    libs = BOTH if depth <= 5_000 else [tensorstore_py]  # TensorStore crashes at 100,000
    for call in calls:
        messages = set()
        for lib in libs:
            with pytest.raises(ValueError) as info:
                made = call(lib)
                if hasattr(made, "result"):  # ts.open raises at once; tensorstore_py's Future fails
                    made.result()
            messages.add(str(info.value))
        assert messages == {"Recursion limit exceeded converting value to JSON"}


@pytest.mark.parametrize("driver,name,member", [
    ("zarr", ".zarray", "shape"), ("zarr3", "zarr.json", "shape"), ("n5", "attributes.json", "dimensions"),
    ("neuroglancer_precomputed", "info", "scales"),
])
def test_deeply_nested_stored_json_is_a_value_error(tmp_path, driver, name, member):
    depth = 100_000
    (tmp_path / name).write_text('{"%s":%s%s}' % (member, "[" * depth, "]" * depth))
    with pytest.raises(ValueError, match=r"^FAILED_PRECONDITION: .*Invalid JSON: nested more than 100 levels deep"):
        tensorstore_py.open({"driver": driver, "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
