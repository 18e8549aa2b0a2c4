"""Pickling, copy and deepcopy of every public object; stores pickle by spec and share one
set of context resources with everything pickled alongside them."""

import copy
import os
import pickle

import numpy as np
import pytest
import tensorstore

import tensorstore_py as ts


def _objects():
    return {
        "Spec": ts.Spec({"driver": "zarr", "kvstore": "memory://a/", "dtype": "int32", "schema": {"domain": {"shape": [4, 5]}}}),
        "Context.Spec": ts.Context.Spec({"cache_pool": {"total_bytes_limit": 10}, "cache_pool#b": "cache_pool"}),
        "KvStore.Spec": ts.KvStore.Spec({"driver": "zip", "base": "memory://x/a.zip", "path": "in/"}),
        "ChunkLayout": ts.ChunkLayout(read_chunk_shape=[4, 5], write_chunk_shape=[8, 10], grid_origin=[1, 2], inner_order=[1, 0]),
        "ChunkLayout.Grid": ts.ChunkLayout(chunk_shape=[4, 5], chunk_aspect_ratio=[1, 2]).write_chunk,
        "Schema": ts.Schema(dtype=ts.int32, shape=[3, 4], fill_value=5, dimension_units=["4nm", None]),
        "CodecSpec": ts.CodecSpec({"driver": "zarr", "compressor": {"id": "zstd", "level": 3}}),
        "IndexDomain": ts.IndexDomain(inclusive_min=[1, 2], shape=[3, 4], labels=["x", "y"], implicit_upper_bounds=[True, False]),
        "IndexTransform": ts.IndexTransform(
            input_shape=[3, 2], output=[ts.OutputIndexMap(index_array=[[1], [2], [3]]), ts.OutputIndexMap(input_dimension=1, offset=4, stride=-2)]
        ),
        "Dim": ts.Dim(inclusive_min=3, exclusive_max=7, label="z", implicit_upper=True),
        "Unit": ts.Unit("4.5nm"),
        "DimExpression": ts.d["x"].translate_by[3],
    }


@pytest.mark.parametrize("name", list(_objects()))
def test_value_objects_round_trip(name):
    obj = _objects()[name]
    for again in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj), copy.copy(obj)):
        assert type(again) is type(obj)
        if hasattr(obj, "to_json"):
            assert again.to_json() == obj.to_json()
        else:
            assert repr(again) == repr(obj)


def test_dtypes_round_trip_as_the_same_objects():
    for name in ("int32", "bfloat16", "float8_e4m3fn", "string", "ustring", "json", "bool"):
        d = getattr(ts, name)
        assert pickle.loads(pickle.dumps(d)) is d
        assert copy.deepcopy(d) is d


def test_numpy_accepts_tensorstore_dtypes():
    assert np.dtype(ts.int32) == np.int32
    assert np.dtype(ts.bfloat16) == ts.bfloat16.numpy_dtype
    assert np.zeros(2, dtype=ts.uint16).dtype == np.uint16
    # The reference cannot do this (it is why `da.from_array(store)` fails there).
    with pytest.raises(TypeError):
        np.dtype(tensorstore.int32)


def test_array_protocol_dtype_and_copy():
    store = ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=ts.int16, shape=[3, 4]).result()
    store[1, 2] = 7
    assert np.asarray(store).dtype == np.int16
    converted = np.asarray(store, dtype=np.float64)
    assert converted.dtype == np.float64 and converted[1, 2] == 7.0
    assert np.array(store, copy=True)[1, 2] == 7
    # NumPy 2: copy=False means "never copy"; a read always makes a new array.
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.asarray(store, copy=False)


def _zarr_spec(path, **extra):
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, **extra}


def test_store_round_trip_keeps_spec_mode_and_data(tmp_path):
    store = ts.open(_zarr_spec(tmp_path), create=True, dtype=ts.uint16, shape=[20, 30], chunk_layout=ts.ChunkLayout(chunk_shape=[7, 8])).result()
    store[3:9, 4:20] = np.arange(6 * 16, dtype=np.uint16).reshape(6, 16)
    view = store[2:10, ::3][ts.d[:].translate_by[5]]
    for again in (pickle.loads(pickle.dumps(view)), copy.deepcopy(view)):
        for options in ({}, {"unbind_context": True}, {"minimal_spec": True}):
            assert again.spec(**options).to_json() == view.spec(**options).to_json()
        assert again.domain == view.domain
        assert (again.readable, again.writable) == (True, True)
        np.testing.assert_array_equal(again.read().result(), view.read().result())
    assert copy.copy(store) is store


@pytest.mark.parametrize("mode", [{"read": True}, {"write": True}])
def test_store_keeps_read_write_mode(tmp_path, mode):
    spec = _zarr_spec(tmp_path, dtype="uint32", metadata={"shape": [10], "chunks": [5]})
    ts.open(spec, create=True).result()
    ours = ts.open(spec, **mode).result()
    theirs = tensorstore.open(spec, **mode).result()
    for a, b in ((ours, theirs), (pickle.loads(pickle.dumps(ours)), pickle.loads(pickle.dumps(theirs)))):
        assert (a.readable, a.writable) == (b.readable, b.writable)
    if "read" in mode:
        with pytest.raises(ValueError, match="Destination does not support writing"):
            pickle.loads(pickle.dumps(ours))[0] = 1


def test_bound_transaction_refuses_as_tensorstore_does(tmp_path):
    spec = _zarr_spec(tmp_path, dtype="uint32", metadata={"shape": [10], "chunks": [5]}, create=True, open=True)
    plain = ts.open(spec).result()
    ours = plain.with_transaction(ts.Transaction())
    theirs = tensorstore.open(spec).result().with_transaction(tensorstore.Transaction())
    for obj, expected in ((ours, ValueError), (theirs, ValueError)):
        with pytest.raises(expected, match="Cannot serialize TensorStore with bound transaction"):
            pickle.dumps(obj)
        with pytest.raises(expected, match="Cannot serialize TensorStore with bound transaction"):
            copy.deepcopy(obj)
    with pytest.raises(ValueError, match="Cannot serialize bound transaction"):
        pickle.dumps(ours.kvstore)
    with pytest.raises(TypeError):
        pickle.dumps(ts.Transaction())
    # The same store without the transaction pickles.
    assert pickle.loads(pickle.dumps(plain)).transaction is None


def test_unpickling_reads_no_metadata(tmp_path):
    """The spec carries the metadata: an unpickled store opens without I/O (as TensorStore's
    does), so even a deleted .zarray goes unnoticed until something needs it."""
    store = ts.open(_zarr_spec(tmp_path), create=True, dtype=ts.int32, shape=[8], chunk_layout=ts.ChunkLayout(chunk_shape=[4])).result()
    store[:] = np.arange(8, dtype=np.int32)
    data = pickle.dumps(store)
    os.remove(tmp_path / ".zarray")
    again = pickle.loads(data)
    assert again.spec().to_json() == store.spec().to_json()
    np.testing.assert_array_equal(again.read().result(), np.arange(8))


def test_stores_pickled_together_share_their_cache(tmp_path):
    """One unpickled cache: data cached through one unpickled handle is what the other sees,
    even after storage changed underneath (recheck_cached_data false)."""
    context = ts.Context({"cache_pool": {"total_bytes_limit": 10**6}})
    spec = _zarr_spec(tmp_path, dtype="uint8", metadata={"shape": [100], "chunks": [10]}, create=True, open=True,
                      recheck_cached_data=False, recheck_cached_metadata=False)
    t1 = ts.open(spec, context=context).result()
    t2 = ts.open(spec, context=context).result()
    t1[:] = 5
    new1, new2, new_ctx = pickle.loads(pickle.dumps([t1, t2, context]))
    assert new1[0].read().result() == 5  # cached now, in the one unpickled pool
    ts.open(spec).result()[:] = 9  # storage changes behind their back
    assert new2[0].read().result() == 5  # served from the cache new1 filled
    assert new1._driver.cache_pool is new2._driver.cache_pool is new_ctx["cache_pool"]
    assert new1._driver.data_copy is new2._driver.data_copy
    # Pickled separately, each gets its own pool: the fresh one reads storage.
    alone = pickle.loads(pickle.dumps(t2))
    assert alone[0].read().result() == 9
    assert alone._driver.cache_pool is not new1._driver.cache_pool


def test_named_and_nested_context_resources_survive(tmp_path):
    context = ts.Context({"cache_pool#big": {"total_bytes_limit": 5 * 10**6}, "data_copy_concurrency": {"limit": 3}})
    spec = {
        **_zarr_spec(tmp_path, dtype="int8", metadata={"shape": [4], "chunks": [2]}, create=True, open=True),
        "cache_pool": "cache_pool#big",
        "kvstore": {"driver": "file", "path": str(tmp_path), "context": {"file_io_concurrency#k": {"limit": 2}},
                    "file_io_concurrency": "file_io_concurrency#k"},
    }
    store = ts.open(spec, context=context).result()
    again = pickle.loads(pickle.dumps(store))
    assert again.spec(unbind_context=True).to_json() == store.spec(unbind_context=True).to_json()
    assert again._driver.cache_pool.to_json() == {"total_bytes_limit": 5 * 10**6}
    assert again._driver.data_copy.limit == 3
    assert again._driver.kv.resources["file_io_concurrency"].limit == 2


def test_memory_store_unpickles_empty_as_in_tensorstore():
    """A memory kvstore's contents are not carried (TensorStore: the resource is new)."""
    store = ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=ts.int32, shape=[4]).result()
    store[:] = 3
    ref = tensorstore.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=tensorstore.int32, shape=[4]).result()
    ref[:] = 3
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(store)).read().result(), pickle.loads(pickle.dumps(ref)).read().result())
    kv = ts.KvStore.open("memory://p/").result()
    kv["a"] = b"x"
    assert pickle.loads(pickle.dumps(kv)).url == "memory://p/"
    assert copy.copy(kv)["a"] == b"x"
    with pytest.raises(KeyError):
        copy.deepcopy(kv)["a"]


def test_copied_kvstore_spec_is_independent():
    spec = ts.KvStore.Spec("memory://a/")
    for again in (copy.copy(spec), copy.deepcopy(spec), pickle.loads(pickle.dumps(spec))):
        again.path = "zz/"
        assert spec.path == "a/"


def test_kvstore_pickles_with_its_resources(tmp_path):
    context = ts.Context({"file_io_concurrency": {"limit": 3}})
    kv = ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/"}, context=context).result()
    kv["k"] = b"v"
    again, spec, ctx = pickle.loads(pickle.dumps([kv, kv.spec(retain_context=True), context]))
    assert again["k"] == b"v"
    assert again.spec(unbind_context=True).to_json() == kv.spec(unbind_context=True).to_json()
    assert again._driver.resources["file_io_concurrency"] is ctx["file_io_concurrency"]
    # A bound spec keeps its binding to the very same (unpickled) resource.
    assert spec._parsed.resources["file_io_concurrency"] is ctx["file_io_concurrency"]


def test_context_resources_keep_identity():
    parent = ts.Context({"memory_key_value_store#c": {}})
    child = ts.Context({"memory_key_value_store#a": "memory_key_value_store", "memory_key_value_store": {}}, parent)
    a, c, new_child, new_parent = pickle.loads(pickle.dumps([child["memory_key_value_store#a"], child["memory_key_value_store#c"], child, parent]))
    assert new_child.parent is new_parent
    assert new_child["memory_key_value_store"] is a and new_child["memory_key_value_store#a"] is a
    assert new_parent["memory_key_value_store#c"] is c
    assert new_child.spec.to_json() == child.spec.to_json()
    deep = copy.deepcopy(child)
    assert deep["memory_key_value_store"] is not child["memory_key_value_store"]


@pytest.mark.parametrize("module", [ts, tensorstore], ids=["tensorstore_py", "tensorstore"])
def test_written_chunks_stay_cached_across_unpickling(tmp_path, module):
    """TensorStore's own pickle scenario: writes through an unpickled handle are cached, and
    the other handle unpickled with it sees them from that one cache."""
    context = module.Context({"cache_pool": {"total_bytes_limit": 10**6}})
    spec = {"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)},
            "metadata": {"compression": {"type": "raw"}, "dataType": "uint32", "dimensions": [100, 100], "blockSize": [10, 10]},
            "recheck_cached_data": False, "recheck_cached_metadata": False, "create": True, "open": True}
    t1 = module.open(spec, context=context).result()
    t2 = module.open(spec, context=context).result()
    new1, new2 = pickle.loads(pickle.dumps([t1, t2]))
    assert new1[0, 0].read().result() == 0
    new1[0, 0] = 42
    module.open(spec, create=True, delete_existing=True).result()  # storage emptied underneath
    assert new1[0, 0].read().result() == 42
    assert new2[0, 0].read().result() == 42
    assert module.open(spec).result()[0, 0].read().result() == 0


def _make_list_driver_class():
    """A driver no JSON can describe (as virtual_chunked's Python callbacks): it supplies its
    own reduction, which TensorStore pickling uses instead of the spec."""
    from tensorstore_py import future as futures
    from tensorstore_py.driver.driver import Driver

    class ListDriver(Driver):
        def __init__(self, values):
            self.values = list(values)
            self.spec = None
            self.context = None

        @property
        def domain(self):
            return ts.IndexDomain(shape=[len(self.values)])

        @property
        def dtype(self):
            return ts.int64

        def read(self, transform, transaction=None, out=None, batch=None):
            from tensorstore_py.index.compose import propagate_bounds

            t = propagate_bounds(transform, self.domain)
            m = t.output[0]
            idx = m.offset + m.stride * np.arange(t.input_inclusive_min[0], t.input_exclusive_max[0])
            return futures.ready(np.asarray(self.values, dtype=np.int64)[idx])

        def write(self, transform, array, transaction=None):
            raise NotImplementedError

        def spec_json(self, builder, minimal):
            return {"driver": "test_list", "dtype": "int64"}

        def __reduce__(self):
            return (_rebuild_list_driver, (self.values,))

    return ListDriver


def _rebuild_list_driver(values):
    return _make_list_driver_class()(values)


def test_a_driver_can_supply_its_own_reduction():
    from tensorstore_py.index import IndexTransform
    from tensorstore_py.tensorstore import TensorStore

    driver = _rebuild_list_driver([5, 6, 7, 8])
    store = TensorStore(driver, IndexTransform(domain=driver.domain))
    view = store[1:][ts.d[0].translate_to[0]]
    again_store, again_view = pickle.loads(pickle.dumps([store, view]))
    np.testing.assert_array_equal(again_view.read().result(), [6, 7, 8])
    assert again_view.domain == view.domain
    assert again_store._driver is again_view._driver  # one driver, as before
    assert again_store._driver is not driver


def test_adapter_kvstores_pickle_with_their_base(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("in/k", b"zipped")
    kv = ts.KvStore.open({"driver": "zip", "base": {"driver": "file", "path": str(tmp_path / "a.zip")}, "path": "in/"}).result()
    again = pickle.loads(pickle.dumps(kv))
    assert again.url == kv.url and again["k"] == b"zipped"
    assert again.base.spec().to_json() == kv.base.spec().to_json()


@pytest.mark.parametrize("driver", ["zarr", "zarr3", "n5", "neuroglancer_precomputed"])
def test_every_stored_format_round_trips(tmp_path, driver):
    layout = ts.ChunkLayout(read_chunk_shape=[4, 4, 1, 1], write_chunk_shape=[8, 8, 1, 1]) if driver == "zarr3" else ts.ChunkLayout(chunk_shape=[4, 4, 1, 1])
    shape = [16, 12, 3, 1] if driver == "neuroglancer_precomputed" else [16, 12, 3, 1]
    store = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": str(tmp_path)}}, create=True, dtype=ts.uint16, shape=shape, chunk_layout=layout).result()
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    store[...] = data
    for again in pickle.loads(pickle.dumps([store, store[2:9, ::2]])):
        assert again.spec().to_json() == (store if again.shape == store.shape else store[2:9, ::2]).spec().to_json()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(store[2:9, ::2])).read().result(), data[2:9, ::2])
