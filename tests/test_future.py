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


@pytest.mark.parametrize("method", ["result", "exception"])
def test_deadline_in_epoch_seconds(method):
    promise, future = ts.Promise.new()
    wait = getattr(future, method)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wait(deadline=time.time() + 0.05)
    assert time.monotonic() - t0 >= 0.04
    with pytest.raises(TimeoutError):
        wait(deadline=time.time() - 1)  # past: no wait at all
    with pytest.raises(TimeoutError):
        wait(timeout=0.01, deadline=time.time() + 60)  # the earlier of the two wins
    promise.set_result(5)
    assert future.result(deadline=time.time() - 1) == 5
    assert future.exception(timeout=0, deadline=0) is None


def test_cancellation_raises_asyncio_cancelled_error():
    _, future = ts.Promise.new()
    seen = []

    def callback(f):
        try:
            f.result()
        except asyncio.CancelledError as exc:
            seen.append(exc)

    future.add_done_callback(callback)
    assert future.cancel()
    assert future.cancelled() and future.done() and not future.cancel()
    assert len(seen) == 1 and type(seen[0]) is asyncio.CancelledError
    with pytest.raises(asyncio.CancelledError):
        future.result()
    with pytest.raises(asyncio.CancelledError):
        future.exception()


def test_callback_raising_cancelled_error_does_not_stop_the_others():
    _, future = ts.Promise.new()
    seen = []
    future.add_done_callback(lambda f: f.result())  # raises asyncio.CancelledError, logged
    future.add_done_callback(lambda f: seen.append("ran"))
    future.cancel()  # must not raise
    assert seen == ["ran"]


def test_generic_aliases_are_types_generic_alias():
    import types

    assert ts.Future[int] == types.GenericAlias(ts.Future, (int,))
    assert ts.Promise[int] == types.GenericAlias(ts.Promise, (int,))
    promise, future = ts.Promise[int].new()
    promise.set_result(1)
    assert future.result() == 1


def test_future_of_a_future_is_itself():
    x = ts.Future(3)
    assert ts.Future(x) is x and x.result() == 3
    _, pending = ts.Promise.new()
    assert ts.Future(pending) is pending and not pending.done()


def test_promise_is_made_only_in_pairs():
    with pytest.raises(TypeError, match="cannot create 'tensorstore_py.Promise' instances"):
        ts.Promise()


def test_dropped_promise_fails_its_future():
    import gc

    promise, future = ts.Promise.new()
    seen = []
    future.add_done_callback(lambda f: seen.append(f.exception()))
    del promise
    gc.collect()
    assert future.done() and not future.cancelled()
    assert len(seen) == 1 and isinstance(seen[0], ValueError) and str(seen[0]) == "UNKNOWN: "
    settled, future2 = ts.Promise.new()
    settled.set_result(1)
    del settled
    assert future2.result() == 1


def test_concurrent_cancel_set_and_callbacks_agree():
    for _ in range(20):
        promise, future = ts.Promise.new()
        outcome = []
        start = threading.Event()

        def on_done(f):
            try:
                outcome.append(("value", f.result()))
            except asyncio.CancelledError:
                outcome.append(("cancelled", None))

        def settle():
            start.wait()
            promise.set_result(42)

        def add():
            start.wait()
            future.add_done_callback(on_done)

        def cancel():
            start.wait()
            future.cancel()

        threads = [threading.Thread(target=t) for t in (settle, add, cancel, cancel)]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join()
        assert future.done() and len(outcome) == 1
        if future.cancelled():
            assert outcome == [("cancelled", None)]
        else:
            assert outcome == [("value", 42)] and future.result() == 42


def test_wait_is_interruptible_by_keyboard_interrupt():
    import os
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT handler not installed")
    _, future = ts.Promise.new()
    threading.Timer(0.05, os.kill, args=(os.getpid(), signal.SIGINT)).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        future.result(timeout=10)
    assert time.monotonic() - t0 < 5


def test_awaitable_inside_event_loop():
    promise, future = ts.Promise.new()

    async def main():
        asyncio.get_running_loop().call_later(0.01, promise.set_result, "x")
        return await future

    assert asyncio.run(main()) == "x"


def test_coroutine_needs_a_loop_as_tensorstore():
    async def coro():
        return 42

    c = coro()
    with pytest.raises(ValueError, match="no event loop specified and thread does not have a default event loop"):
        ts.Future(c)
    c.close()


def test_coroutine_on_explicit_loop_from_another_thread():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        async def where():
            return threading.current_thread() is thread

        assert ts.Future(where(), loop=loop).result(timeout=5) is True
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_coroutine_starts_on_a_later_loop_iteration():
    # As TensorStore: wrapping never runs the coroutine inside the call, so a Future made in
    # one statement of an event-loop task is still pending in the next one.
    async def value():
        return 42

    async def main():
        x = ts.Future(value())
        pending = not x.done()
        return pending, await x, x.result()

    assert asyncio.run(main()) == (True, 42, 42)


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
