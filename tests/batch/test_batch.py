"""`ts.Batch`: deferral until submit, coalescing per key, and TensorStore's errors.

Requests are counted by the `counting_kvstore` drivers, which forward every request to a real
memory or file driver; every batched result is compared with the same read made unbatched.
"""

from __future__ import annotations

import gc
import pickle
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import counting_kvstore  # noqa: F401  (registers the test_counting_* drivers)
import tensorstore_py as ts
from tensorstore_py.batch import BatchState, batch_state, batched_read
from tensorstore_py.kvstore.driver import ReadOptions


def _outcome(fut):
    """A read's outcome in comparable form: (state, value, generation) or (error type, text)."""
    try:
        r = fut.result(timeout=10)
    except ValueError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (r.state, r.value, r.stamp.generation)


@pytest.fixture
def mem_kv():
    return ts.KvStore.open({"driver": "test_counting_memory"}).result()


@pytest.fixture
def file_kv(tmp_path):
    return ts.KvStore.open({"driver": "test_counting_file", "path": str(tmp_path) + "/"}).result()


# ---------------------------------------------------------------------------------------------
# Deferral and coalescing at the kvstore level.


@pytest.mark.parametrize("which", ["mem_kv", "file_kv"])
def test_reads_wait_for_submit_then_one_request_per_key(which, request):
    kv = request.getfixturevalue(which)
    kv["a"] = bytes(range(100))
    kv["b"] = b"hello"
    counter = kv.driver
    counter.reset()
    ranges = [slice(0, 10), slice(5, 20), slice(90, None), slice(None, None), slice(40, 40), slice(5, 20)]
    batch = ts.Batch()
    batched = [kv.read("a", batch=batch, byte_range=r) for r in ranges]
    batched.append(kv.read("b", batch=batch))
    batched.append(kv.read("b", batch=batch))
    batched.append(kv.read("missing", batch=batch))
    assert not any(f.done() for f in batched)
    assert counter.reads == []
    batch.submit()
    # one request per key, each covering all of that key's ranges
    assert sorted(key for key, _ in counter.reads) == sorted(kv.path.encode() + k for k in (b"a", b"b", b"missing"))
    by_key = {key[len(kv.path):]: opts for key, opts in counter.reads}
    assert by_key[b"a"].byte_range is None  # the whole value was asked for by one read
    expected = [_outcome(kv.read("a", byte_range=r)) for r in ranges]
    expected += [_outcome(kv.read("b")), _outcome(kv.read("b")), _outcome(kv.read("missing"))]
    assert [_outcome(f) for f in batched] == expected
    assert batched[-1].result().state == "missing"


def test_bounded_ranges_become_one_bounded_request(file_kv):
    file_kv["k"] = bytes(range(200))
    file_kv.driver.reset()
    with ts.Batch() as batch:
        futs = [file_kv.read("k", batch=batch, byte_range=slice(lo, lo + 10)) for lo in (50, 20, 120, 20)]
    assert [opts.byte_range for _, opts in file_kv.driver.reads] == [(20, 130)]
    assert [f.result().value for f in futs] == [bytes(range(lo, lo + 10)) for lo in (50, 20, 120, 20)]


def test_reads_under_different_conditions_are_not_merged(mem_kv):
    mem_kv["k"] = b"value"
    generation = mem_kv.read("k").result().stamp.generation
    mem_kv.driver.reset()
    with ts.Batch() as batch:
        same = mem_kv.read("k", batch=batch, if_not_equal=generation)
        plain = mem_kv.read("k", batch=batch)
    assert len(mem_kv.driver.reads) == 2
    assert same.result().state == "unspecified"
    assert plain.result().value == b"value"


def test_out_of_range_parts_fail_alone(mem_kv):
    mem_kv["k"] = b"0123456789"
    ranges = [slice(0, 4), slice(8, 30), slice(2, 6), slice(20, None)]
    with ts.Batch() as batch:
        futs = [mem_kv.read("k", batch=batch, byte_range=r) for r in ranges]
    got = [_outcome(f) for f in futs]
    assert got == [_outcome(mem_kv.read("k", byte_range=r)) for r in ranges]
    assert got[0][1] == b"0123" and got[1][0] == "error" and "OUT_OF_RANGE" in got[1][2]


_range = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 45), st.one_of(st.none(), st.integers(0, 45))),
    st.tuples(st.integers(-45, -1), st.none()),
)


def _as_slice(r):
    return None if r is None else slice(r[0], r[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.one_of(st.none(), st.integers(0, 40)), ranges=st.lists(_range, min_size=1, max_size=8))
def test_batched_reads_equal_unbatched_reads(mem_kv, size, ranges):
    """Whatever the ranges (overlapping, suffixes, past the end, on a missing key)."""
    if size is None:
        del mem_kv["k"]
    else:
        mem_kv["k"] = bytes(range(size))
    expected = []
    for r in ranges:
        try:
            expected.append(_outcome(mem_kv.read("k", byte_range=_as_slice(r))))
        except ValueError as exc:  # a slice the API itself refuses
            expected.append(("refused", str(exc)))
    mem_kv.driver.reset()
    batch = ts.Batch()
    futs = []
    for r in ranges:
        try:
            futs.append(mem_kv.read("k", batch=batch, byte_range=_as_slice(r)))
        except ValueError as exc:
            futs.append(("refused", str(exc)))
    batch.submit()
    got = [f if isinstance(f, tuple) else _outcome(f) for f in futs]
    # Generations are per value, so they compare equal too (the value was not rewritten).
    assert got == expected
    # One request for the key, or one per distinct range after a too-short covering read.
    issued = {r for r, f in zip(ranges, futs) if not isinstance(f, tuple)}
    assert min(1, len(issued)) <= len(mem_kv.driver.reads) <= min(1, len(issued)) + len(issued)


def test_many_threads_share_one_batch(mem_kv):
    for i in range(10):
        mem_kv[f"k{i}"] = bytes([i]) * 50
    mem_kv.driver.reset()
    batch = ts.Batch()
    futs: list = []
    lock = threading.Lock()

    def issue(t: int) -> None:
        mine = [(i, mem_kv.read(f"k{i}", batch=batch, byte_range=slice(t, t + 5))) for i in range(10)]
        with lock:
            futs.extend(mine)

    threads = [threading.Thread(target=issue, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mem_kv.driver.reads
    batch.submit()
    assert len(mem_kv.driver.reads) == 10
    for i, f in futs:
        assert f.result(timeout=10).value == bytes([i]) * 5


def test_reads_racing_the_submit_all_complete(file_kv):
    """Each read lands either in the batch (issued at submit) or after it (issued at once)."""
    file_kv["k"] = bytes(range(64))
    for _ in range(5):
        batch = ts.Batch()
        state = batch_state(batch)
        key = file_kv.path.encode() + b"k"
        futs: list = []
        start = threading.Barrier(5)

        def issue(t: int) -> None:
            start.wait()
            mine = [(t, i, batched_read(state, file_kv.driver, key, ReadOptions(byte_range=(t, t + i)))) for i in range(30)]
            futs.extend(mine)

        threads = [threading.Thread(target=issue, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        start.wait()
        batch.submit()
        for t in threads:
            t.join()
        assert len(futs) == 120
        for t, i, f in futs:
            assert f.result(timeout=10).value == bytes(range(t, t + i))


def test_memory_driver_reads_at_once():
    # As in TensorStore: nothing is gained by deferring a dictionary lookup.
    kv = ts.KvStore.open("memory://").result()
    kv["a"] = b"x"
    batch = ts.Batch()
    fut = kv.read("a", batch=batch)
    assert fut.done() and fut.result().value == b"x"
    batch.submit()


# ---------------------------------------------------------------------------------------------
# Submitting, and what TensorStore refuses.


def test_submit_twice_is_allowed_and_use_after_submit_raises(mem_kv):
    mem_kv["a"] = b"x"
    batch = ts.Batch()
    batch.submit()
    batch.submit()  # TensorStore accepts this silently
    with pytest.raises(ValueError, match="^batch was already submitted$"):
        mem_kv.read("a", batch=batch)
    with ts.Batch() as b2:
        pass
    with pytest.raises(ValueError, match="^batch was already submitted$"):
        mem_kv.read("a", batch=b2)
    b2.submit()


def test_non_batch_argument_is_a_type_error(mem_kv):
    with pytest.raises(TypeError):
        mem_kv.read("a", batch=5)
    with pytest.raises(TypeError):
        batch_state(object())
    assert batch_state(None) is None


def test_dropping_the_last_reference_submits(file_kv):
    file_kv["a"] = b"abc"
    batch = ts.Batch()
    fut = file_kv.read("a", batch=batch)
    assert not fut.done()
    del batch
    gc.collect()
    assert fut.result(timeout=10).value == b"abc"


def test_exception_inside_with_still_submits(file_kv):
    file_kv["a"] = b"abc"
    with pytest.raises(KeyError):
        with ts.Batch() as batch:
            fut = file_kv.read("a", batch=batch)
            raise KeyError("boom")
    assert fut.result(timeout=10).value == b"abc"


def test_engine_entry_point_reads_at_once_after_submit(file_kv):
    """Later stages of an operation (issued after submit) must not be refused or left waiting."""
    file_kv["a"] = b"abc"
    batch = ts.Batch()
    state = batch_state(batch)
    assert isinstance(state, BatchState)
    batch.submit()
    key = file_kv.path.encode() + b"a"
    assert batched_read(state, file_kv.driver, key, ReadOptions()).result(timeout=10).value == b"abc"
    assert batched_read(None, file_kv.driver, key, ReadOptions(byte_range=(1, 2))).result().value == b"b"


def test_batch_is_not_picklable_and_prints_as_an_object():
    batch = ts.Batch()
    with pytest.raises(TypeError, match="cannot pickle 'tensorstore_py.Batch' object"):
        pickle.dumps(batch)
    assert repr(batch).startswith("<tensorstore_py.Batch object at ")
    assert batch == batch and batch != ts.Batch()
    batch.submit()


# ---------------------------------------------------------------------------------------------
# TensorStore reads and copies with a batch.


def _zarr(kvstore: dict, **kw):
    return ts.open(
        {"driver": "zarr", "kvstore": kvstore},
        dtype=ts.uint32, shape=[10, 20], chunk_layout=ts.ChunkLayout(read_chunk_shape=[5, 10]),
        create=True, delete_existing=True, **kw,
    ).result()


DATA = np.arange(200, dtype=np.uint32).reshape(10, 20)


def test_tensorstore_reads_share_chunk_requests(tmp_path):
    store = _zarr({"driver": "test_counting_file", "path": str(tmp_path) + "/"})
    store.write(DATA).result()
    counter = store.kvstore.driver
    counter.reset()
    index = [np.s_[:5, :10], np.s_[:7, :], np.s_[3:, 5:15], np.s_[::3, ::7]]
    views = [store[i] for i in index]
    batch = ts.Batch()
    futs = [v.read(batch=batch) for v in views]
    assert not any(f.done() for f in futs) and counter.reads == []
    batch.submit()
    for i, f in zip(index, futs):
        np.testing.assert_array_equal(f.result(timeout=10), DATA[i])
    # every chunk of the 2x2 grid was needed, each requested once
    assert len(counter.reads) == 4
    counter.reset()
    for v in views:
        v.read().result()
    assert len(counter.reads) == 1 + 4 + 4 + 4  # unbatched, each view asks for its own


def test_tensorstore_read_and_resolve_after_submit_raise():
    store = _zarr("memory://")
    batch = ts.Batch()
    batch.submit()
    for op in (store.read, store.resolve):
        with pytest.raises(ValueError, match="^batch was already submitted$"):
            op(batch=batch)
        with pytest.raises(TypeError):
            op(batch=3)
    assert store.resolve(batch=ts.Batch()).result().domain == store.domain


def test_docstring_shaped_usage(tmp_path):
    store = _zarr({"driver": "file", "path": str(tmp_path) + "/"})
    store[...] = DATA
    with ts.Batch() as batch:
        f1 = store[:3].read(batch=batch)
        f2 = store[3:].read(batch=batch)
    np.testing.assert_array_equal(f1.result(timeout=10), DATA[:3])
    np.testing.assert_array_equal(f2.result(timeout=10), DATA[3:])


def test_write_with_batch_needs_a_tensorstore_source(tmp_path):
    src = _zarr({"driver": "test_counting_file", "path": str(tmp_path / "src") + "/"})
    src.write(DATA).result()
    dst = _zarr({"driver": "file", "path": str(tmp_path / "dst") + "/"})
    with pytest.raises(ValueError, match="^Invalid batch: batch can only be specified when copying from a TensorStore source$"):
        dst.write(42, batch=ts.Batch())
    src.kvstore.driver.reset()
    with ts.Batch() as batch:
        written = dst.write(src, batch=batch)
        assert src.kvstore.driver.reads == []  # the source read waits for the batch
    written.result(timeout=10)
    np.testing.assert_array_equal(dst.read().result(), DATA)
    # As in TensorStore, a submitted batch does not stop a copy.
    dst.write(src[::-1, :], batch=batch).result(timeout=10)
    np.testing.assert_array_equal(dst.read().result(), DATA[::-1, :])


def test_open_accepts_a_batch_and_refuses_other_types():
    with pytest.raises(TypeError, match="Invalid batch"):
        ts.open({"driver": "zarr", "kvstore": "memory://"}, batch=3)
    batch = ts.Batch()
    batch.submit()
    store = ts.open({"driver": "zarr", "kvstore": "memory://"}, dtype=ts.uint8, shape=[3], create=True, batch=batch).result()
    assert store.shape == (3,)


def test_sharded_precomputed_reads_wait_for_the_batch(tmp_path):
    sharding = {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity",
        "minishard_bits": 1, "shard_bits": 1, "minishard_index_encoding": "raw", "data_encoding": "gzip",
    }  # fmt: skip
    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "test_counting_file", "path": str(tmp_path) + "/"},
         "scale_metadata": {"encoding": "raw", "chunk_size": [4, 4, 4], "size": [16, 12, 8], "resolution": [1, 1, 1],
                            "sharding": sharding},
         "multiscale_metadata": {"num_channels": 1, "data_type": "uint16", "type": "image"}},
        create=True,
    ).result()  # fmt: skip
    data = np.arange(16 * 12 * 8, dtype=np.uint16).reshape(16, 12, 8, 1)
    store.write(data).result()
    counter = store.kvstore.driver
    counter.reset()
    with ts.Batch() as batch:
        futs = [store[2:9, 1:11, :].read(batch=batch), store[::3, 5, 2:].read(batch=batch)]
        assert counter.reads == [] and not any(f.done() for f in futs)
    np.testing.assert_array_equal(futs[0].result(timeout=10), data[2:9, 1:11, :])
    np.testing.assert_array_equal(futs[1].result(timeout=10), data[::3, 5, 2:])
    assert counter.reads  # the shard files were read after the submit
