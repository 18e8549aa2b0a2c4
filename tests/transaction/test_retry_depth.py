"""Conflict retries are loops: hundreds of lost races neither overflow the stack nor hang.

Before the retries were loops, each retry was started from the previous attempt's callback;
after ~90 lost races the RecursionError raised inside a callback was only logged and the write's
Future never completed (issue 16, defect 1).  The rival store makes every conditional write
lose its race a set number of times, through a real memory store.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import counting_kvstore  # noqa: F401  (registers test_rival_memory)
import tensorstore_py as ts
from tensorstore_py.cache.rmw import read_modify_write

RACES = 400  # several times what a recursive retry survives at the default recursion limit


def _zarr(shape=(8, 8), chunks=(8, 8)):
    return ts.open(
        {"driver": "zarr", "kvstore": {"driver": "test_rival_memory"}},
        create=True, dtype=ts.int32, shape=list(shape), chunk_layout=ts.ChunkLayout(chunk_shape=list(chunks)),
    ).result()


def test_read_modify_write_survives_many_lost_races():
    kv = ts.KvStore.open({"driver": "test_rival_memory"}).result()
    kv.write("k", b"0").result()
    kv.driver.rivals = RACES
    calls = []

    def bump(value, generation):
        calls.append(value)
        return str(int(value) + 1).encode()

    assert sys.getrecursionlimit() <= 10_000
    stamp = read_modify_write(kv.driver, b"k", bump).result(timeout=60)
    assert kv.driver.lost_races == RACES
    assert len(calls) == RACES + 1
    assert kv.read("k").result().value == b"1"
    assert kv.read("k").result().stamp.generation == stamp.generation


def test_partial_chunk_write_survives_many_lost_races():
    store = _zarr()
    store.write(np.arange(64, dtype=np.int32).reshape(8, 8)).result()
    store.kvstore.driver.rivals = RACES
    store[3, 4].write(-1).result(timeout=60)
    expected = np.arange(64, dtype=np.int32).reshape(8, 8)
    expected[3, 4] = -1
    np.testing.assert_array_equal(store.read().result(), expected)
    assert store.kvstore.driver.lost_races == RACES


def test_resize_survives_many_lost_races():
    store = _zarr()
    store.kvstore.driver.rivals = RACES
    resized = store.resize(exclusive_max=[20, 8]).result(timeout=60)
    assert resized.shape == (20, 8)
    assert store.kvstore.driver.lost_races == RACES


def test_transaction_commit_survives_many_lost_races():
    store = _zarr(shape=(8, 16), chunks=(8, 8))
    store.write(np.ones((8, 16), np.int32)).result()
    store.kvstore.driver.rivals = RACES
    txn = ts.Transaction()
    store.with_transaction(txn)[1, 1].write(5).result()
    store.with_transaction(txn)[1, 9].write(6).result()
    txn.commit_async().result(timeout=60)
    out = store.read().result()
    assert (out[1, 1], out[1, 9], int(out.sum())) == (5, 6, 128 - 2 + 11)


def test_failure_in_a_retried_update_reaches_the_future():
    kv = ts.KvStore.open({"driver": "test_rival_memory"}).result()
    kv.write("k", b"0").result()
    kv.driver.rivals = RACES
    seen = []

    def update(value, generation):
        seen.append(value)
        if len(seen) > RACES // 2:
            raise RecursionError("raised by the update itself")
        return b"x"

    with pytest.raises(RecursionError, match="raised by the update itself"):
        read_modify_write(kv.driver, b"k", update).result(timeout=60)


def test_serialised_writes_of_one_key_do_not_nest():
    # Writes to one key queue behind the one in flight; on a memory store each completes at
    # once, and the queue is drained by a loop rather than callbacks nested in each other.
    store = _zarr(shape=(4096,), chunks=(4096,))
    futures = [store[i].write(i) for i in range(4096)]
    for f in futures:
        f.result(timeout=60)
    np.testing.assert_array_equal(store.read().result(), np.arange(4096))
