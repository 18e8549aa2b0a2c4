import asyncio
import concurrent.futures
import threading
import time

import pytest

import tensorstore_py as ts
from tensorstore_py import future as fut_mod


def test_immediate_value_and_result():
    f = ts.Future(5)
    assert f.done() and f.result() == 5 and f.exception() is None


def test_promise_pair_resolves_across_threads():
    promise, future = ts.Promise.new()
    threading.Timer(0.01, promise.set_result, args=(7,)).start()
    assert future.result(timeout=5) == 7


def test_promise_exception_is_raised_by_result():
    promise, future = ts.Promise.new()
    promise.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        future.result()
    assert isinstance(future.exception(), ValueError)


def test_result_timeout():
    _, future = ts.Promise.new()
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(timeout=0.01)


def test_awaitable_inside_event_loop():
    promise, future = ts.Promise.new()

    async def main():
        asyncio.get_running_loop().call_later(0.01, promise.set_result, "x")
        return await future

    assert asyncio.run(main()) == "x"


def test_wraps_coroutine_without_running_loop():
    async def coro():
        await asyncio.sleep(0.01)
        return 42

    assert ts.Future(coro()).result(timeout=5) == 42


def test_wraps_coroutine_in_running_loop():
    async def inner():
        return 3

    async def main():
        return await ts.Future(inner())

    assert asyncio.run(main()) == 3


def test_wraps_concurrent_future():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert ts.Future(pool.submit(lambda: 9)).result(timeout=5) == 9


def test_cancel_and_callbacks():
    _, future = ts.Promise.new()
    seen = []
    cb = seen.append
    future.add_done_callback(cb)
    future.add_done_callback(lambda f: seen.append("second"))
    assert future.remove_done_callback(cb) == 1
    assert future.cancel() and future.cancelled()
    assert seen == ["second"]


def test_promise_after_cancel_is_ignored():
    promise, future = ts.Promise.new()
    future.cancel()
    promise.set_result(1)  # must not raise
    assert future.cancelled()


def test_chain_and_gather_never_block_pool():
    # A pool of one thread: chaining must not deadlock even though every step runs on it.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        steps = [fut_mod.submit(pool, lambda i=i: i) for i in range(20)]
        doubled = [fut_mod.chain(s, lambda v: v * 2, pool) for s in steps]
        nested = fut_mod.chain(fut_mod.gather(doubled), lambda vs: fut_mod.submit(pool, sum, vs), pool)
        assert nested.result(timeout=5) == 2 * sum(range(20))


def test_gather_propagates_first_error():
    p1, f1 = ts.Promise.new()
    p2, f2 = ts.Promise.new()
    g = fut_mod.gather([f1, f2])
    p2.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        g.result(timeout=5)
    p1.set_result(1)


def test_force_is_harmless():
    f = ts.Future(1)
    f.force()
    assert f.result() == 1


def test_write_futures_and_batch_like_tensorstore():
    store = ts.open({"driver": "zarr", "kvstore": "memory://"}, create=True, dtype=ts.int32, shape=[4]).result()
    w = store.write([1, 2, 3, 4])
    assert isinstance(w, ts.WriteFutures)
    assert (w.copy.result(), w.commit.result(), w.result()) == (None, None, None)
    with ts.Batch() as batch:
        part = store[1:3].read(batch=batch)
    assert part.result().tolist() == [2, 3]
