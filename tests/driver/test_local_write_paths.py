"""Writes to arrays on local stores: the data-copy thread that fills a chunk encodes it (after
reading and merging the stored chunk, for a partial write) and hands the write to the store's
own pool (`rmw.ENCODE_HERE`).  Checked against numpy and tensorstore, with a chunk that cannot
be stored, writers racing on the same chunks, and a value changed between the read and the
write; decoded chunks go back to their format's pool only once nothing refers to them."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py.cache.rmw import ENCODE_HERE, UNCHANGED, read_modify_write
from tensorstore_py.errors import StatusError
from tensorstore_py.kvstore.driver import ReadOptions, WriteOptions


def _spec(path, shape=(128, 96), chunks=(32, 32)):
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)},
            "metadata": {"shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
                         "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}}


def test_large_writes_match_numpy_and_tensorstore(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    data = np.random.default_rng(0).standard_normal((128, 96)).astype(np.float32)
    written = store.write(data)
    assert written.copy.result(timeout=60) is None
    assert written.commit.result(timeout=60) is None
    np.testing.assert_array_equal(store.read().result(), data)
    np.testing.assert_array_equal(ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a")}}).result()
                                  .read().result(), data)
    store[5:100, 7:90] = data[5:100, 7:90] * 2  # partial chunks: read-modify-write on the pool
    expected = data.copy()
    expected[5:100, 7:90] *= 2
    np.testing.assert_array_equal(store.read().result(), expected)


def test_a_chunk_that_cannot_be_stored_fails_the_commit(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    os.mkdir(tmp_path / "a" / "1.2.__lock")
    data = np.ones((128, 96), np.float32)
    with pytest.raises(ValueError, match="Failed to open lock file"):
        store.write(data).result(timeout=60)
    assert not os.path.exists(tmp_path / "a" / "1.2")
    # Once the obstacle is gone the same write stores every chunk.
    os.rmdir(tmp_path / "a" / "1.2.__lock")
    store.write(data).result(timeout=60)
    assert (store.read().result() == 1).all()


def test_writers_racing_on_the_same_chunks_leave_whole_chunks(tmp_path):
    store = ts.open(_spec(tmp_path / "a"), create=True).result()
    errors = []

    def writer(value: float) -> None:
        try:
            for _ in range(5):
                store.write(np.full((128, 96), value, np.float32)).result(timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(float(v),)) for v in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.read().result()
    for i in range(0, 128, 32):
        for j in range(0, 96, 32):
            chunk = got[i:i + 32, j:j + 32]
            assert (chunk == chunk[0, 0]).all() and chunk[0, 0] in (1, 2, 3, 4)


def _file_kv(path):
    """The file store's driver (whose keys are whole paths) and the key of a file in `path`."""
    return ts.KvStore.open({"driver": "file"}).result().driver, str(path / "k").encode()


def test_a_value_changed_between_read_and_write_is_merged_again_on_the_pool(tmp_path):
    kv, key = _file_kv(tmp_path)
    kv.write_now(key, b"1", WriteOptions())
    seen = []

    def append_x(value, generation):
        seen.append((value, threading.current_thread().name))
        if len(seen) == 1:
            # Another writer lands after this attempt's read: its conditional write must fail.
            ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/"}).result().write("k", b"2").result()
        return value + b"x"

    stamp = read_modify_write(kv, key, append_x, executor=ENCODE_HERE).result(timeout=60)
    assert [v for v, _ in seen] == [b"1", b"2"]
    # The first attempt read and merged on this thread; the retry on the store's pool.
    assert seen[0][1] == threading.current_thread().name
    assert "file_io" in seen[1][1]
    result = kv.read_now(key, ReadOptions())
    assert result.value == b"2x" and result.stamp.generation == stamp.generation
    assert (tmp_path / "k").read_bytes() == b"2x"


def test_first_attempt_here_keeps_unchanged_values_and_expected_generations(tmp_path):
    kv, key = _file_kv(tmp_path)
    stored = kv.write_now(key, b"v", WriteOptions())
    stamp = read_modify_write(kv, key, lambda value, generation: UNCHANGED, executor=ENCODE_HERE).result(timeout=60)
    assert stamp.generation == stored.generation  # nothing written: the stored value's stamp
    with pytest.raises(StatusError, match="Generation mismatch"):
        read_modify_write(kv, key, lambda value, generation: b"w", executor=ENCODE_HERE,
                          expected_generation=b"not-the-generation").result(timeout=60)
    with pytest.raises(ZeroDivisionError):
        read_modify_write(kv, key, lambda value, generation: 1 / 0, executor=ENCODE_HERE).result(timeout=60)
    assert (tmp_path / "k").read_bytes() == b"v"


@pytest.mark.parametrize("order", ["C", "F"])
def test_partial_writes_from_threads_match_numpy_and_tensorstore(tmp_path, order):
    spec = _spec(tmp_path / "a", shape=(96, 80), chunks=(32, 32))
    spec["metadata"]["order"] = order
    store = ts.open(spec, create=True).result()
    rng = np.random.default_rng(1)
    expected = rng.standard_normal((96, 80)).astype(np.float32)
    store.write(expected).result()
    boxes = [(slice(i, i + 20), slice(j, j + 24)) for i in range(3, 76, 24) for j in range(5, 56, 26)]
    patches = [rng.standard_normal((20, 24)).astype(np.float32) for _ in boxes]
    # Disjoint boxes that share chunks, written from several threads at once (the writebacks
    # of one chunk queue behind each other), then checked whole.
    threads = [threading.Thread(target=lambda b=b, p=p: store[b].write(p).result(timeout=60))
               for b, p in zip(boxes, patches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b, p in zip(boxes, patches):
        expected[b] = p
    np.testing.assert_array_equal(store.read().result(), expected)
    np.testing.assert_array_equal(
        ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "a")}}).result().read().result(),
        expected)


def test_decoded_zarr_chunks_are_reused_only_once_nobody_holds_them(tmp_path):
    # Chunks of 128 KiB: smaller ones are not pooled (`ChunkBuffers._MIN_BYTES`).
    data = np.arange(512 * 256, dtype=np.float32).reshape(512, 256)
    store = ts.open(_spec(tmp_path / "a", shape=(512, 256), chunks=(256, 128)), create=True).result()
    store.write(data).result()
    fmt = store._driver.format

    def decode(i, j):
        return fmt.decode_chunk((tmp_path / "a" / f"{i}.{j}").read_bytes(), (i, j))

    first = decode(0, 0)
    held = first.ctypes.data
    second = decode(1, 1)
    assert second.ctypes.data != held  # the first is still held here
    np.testing.assert_array_equal(first, data[:256, :128])
    del first
    third = decode(0, 1)
    assert third.ctypes.data == held  # released: decoded into again
    np.testing.assert_array_equal(third, data[:256, 128:])
    view = third[3:5]
    del third
    fourth = decode(1, 0)
    assert fourth.ctypes.data != held  # a view keeps its chunk out of reuse
    np.testing.assert_array_equal(view, data[3:5, 128:])
    np.testing.assert_array_equal(fourth, data[256:, :128])
    np.testing.assert_array_equal(second, data[256:, 128:])
