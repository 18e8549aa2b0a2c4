"""Futures, promises and the thread pools that complete them.

`Future` is a `concurrent.futures.Future` (so `.result()` works from any thread) that is also
awaitable from asyncio code.  Everything asynchronous inside tensorstore_py is composed with
callbacks (`chain`, `gather`); no code running on an executor thread ever waits on a Future,
so no pool can deadlock whatever its size.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from typing import Any, Callable, Generic, Iterable, TypeVar

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["Future", "Promise", "FutureLike", "chain", "gather", "submit", "ready", "failed"]

_PENDING = object()


class Future(concurrent.futures.Future, Generic[T]):
    """Handle for an asynchronous result: blocking `result()`, awaitable, callback-capable.

    `Future(value)` wraps an existing `Future`, a `concurrent.futures.Future`, a coroutine or
    other awaitable (run on `loop`, the running event loop, or a background loop), or an
    immediate value.
    """

    def __init__(self, future: Any = _PENDING, *, loop: asyncio.AbstractEventLoop | None = None):
        super().__init__()
        if future is _PENDING:
            return
        if isinstance(future, concurrent.futures.Future):
            _link(future, self)
        elif inspect.isawaitable(future):
            _run_awaitable(future, self, loop)
        else:
            self.set_result(future)

    def __await__(self):
        return asyncio.wrap_future(self).__await__()

    def force(self) -> None:
        """Starts the computation if it is deferred (all work here starts eagerly)."""

    def remove_done_callback(self, callback: Callable[["Future[T]"], Any]) -> int:
        """Unregisters `callback`; returns how many registrations were removed."""
        with self._condition:
            before = len(self._done_callbacks)
            self._done_callbacks = [cb for cb in self._done_callbacks if cb != callback]
            return before - len(self._done_callbacks)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else ("ready" if self.done() else "pending")
        return f"<tensorstore_py.Future ({state})>"


FutureLike = Any  # Future | concurrent.futures.Future | Awaitable | value


class Promise(Generic[T]):
    """The writing end of a `Future`, created in pairs by `Promise.new()`."""

    __slots__ = ("_future",)

    def __init__(self, future: Future[T]):
        self._future = future

    @staticmethod
    def new() -> "tuple[Promise[T], Future[T]]":
        """Creates a linked promise and future pair."""
        fut: Future[T] = Future()
        return Promise(fut), fut

    def set_result(self, result: T) -> None:
        """Marks the linked future ready with `result` (ignored if it was cancelled)."""
        _settle(self._future, result=result)

    def set_exception(self, exception: BaseException) -> None:
        """Marks the linked future failed with `exception` (ignored if it was cancelled)."""
        _settle(self._future, exception=exception)

    @property
    def cancelled(self) -> bool:
        return self._future.cancelled()


def _settle(fut: concurrent.futures.Future, result: Any = None, exception: BaseException | None = None) -> None:
    try:
        if exception is not None:
            fut.set_exception(exception)
        else:
            fut.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled (or already settled) by the consumer: the producer's answer is moot


def _link(source: concurrent.futures.Future, target: concurrent.futures.Future) -> None:
    def done(src: concurrent.futures.Future) -> None:
        if src.cancelled():
            target.cancel()
            return
        exc = src.exception()
        if exc is not None:
            _settle(target, exception=exc)
        else:
            _settle(target, result=src.result())

    source.add_done_callback(done)

    def propagate_cancel(tgt: concurrent.futures.Future) -> None:
        if tgt.cancelled():
            source.cancel()

    target.add_done_callback(propagate_cancel)


_background_loop: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def _forget_loop_after_fork() -> None:
    # The loop's thread does not exist in a forked child: the child starts its own.
    global _background_loop, _background_lock
    _background_loop = None
    _background_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_loop_after_fork)


def _get_background_loop() -> asyncio.AbstractEventLoop:
    global _background_loop
    with _background_lock:
        if _background_loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="tensorstore_py-asyncio", daemon=True)
            thread.start()
            _background_loop = loop
        return _background_loop


def _run_awaitable(awaitable: Any, target: Future, loop: asyncio.AbstractEventLoop | None) -> None:
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = _get_background_loop()

    async def runner():
        return await awaitable

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(runner())

        def done(t: asyncio.Task) -> None:
            if t.cancelled():
                target.cancel()
            elif t.exception() is not None:
                _settle(target, exception=t.exception())
            else:
                _settle(target, result=t.result())

        task.add_done_callback(done)
        target.add_done_callback(lambda f: f.cancelled() and loop.call_soon_threadsafe(task.cancel))
    else:
        _link(asyncio.run_coroutine_threadsafe(runner(), loop), target)


# ---------------------------------------------------------------------------------------------
# Composition.  These never block: each registers a callback and returns a new Future.


def ready(value: T) -> Future[T]:
    fut: Future[T] = Future()
    fut.set_result(value)
    return fut


def failed(exception: BaseException) -> Future:
    fut: Future = Future()
    fut.set_exception(exception)
    return fut


def submit(executor: concurrent.futures.Executor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Runs `fn(*args)` on `executor`; a returned Future is flattened into the result."""
    out: Future[T] = Future()

    def run() -> None:
        if out.cancelled():
            return
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - delivered to the consumer
            _settle(out, exception=exc)
            return
        _resolve(out, value)

    try:
        executor.submit(run)
    except RuntimeError as exc:  # the pool was shut down (interpreter exit)
        _settle(out, exception=exc)
    return out


def _resolve(out: Future, value: Any) -> None:
    if isinstance(value, concurrent.futures.Future):
        _link(value, out)
    else:
        _settle(out, result=value)


def chain(
    fut: concurrent.futures.Future,
    fn: Callable[[Any], Any],
    executor: concurrent.futures.Executor | None = None,
) -> Future:
    """Future of `fn(fut.result())`, run inline on completion or on `executor`.

    Errors of `fut` pass through without calling `fn`.  If `fn` returns a Future, the result
    is that Future's result.
    """
    out: Future = Future()

    def run(value: Any) -> None:
        try:
            result = fn(value)
        except BaseException as exc:  # noqa: BLE001
            _settle(out, exception=exc)
            return
        _resolve(out, result)

    def done(src: concurrent.futures.Future) -> None:
        if src.cancelled():
            out.cancel()
            return
        exc = src.exception()
        if exc is not None:
            _settle(out, exception=exc)
        elif executor is None:
            run(src.result())
        else:
            try:
                executor.submit(run, src.result())
            except RuntimeError as exc:  # the pool was shut down (interpreter exit)
                _settle(out, exception=exc)

    fut.add_done_callback(done)
    return out


def gather(futures: Iterable[concurrent.futures.Future]) -> Future[list]:
    """Future of the list of results; fails with the first error to arrive."""
    futures = list(futures)
    out: Future[list] = Future()
    if not futures:
        out.set_result([])
        return out
    results: list = [None] * len(futures)
    remaining = [len(futures)]
    lock = threading.Lock()

    def make_done(i: int) -> Callable[[concurrent.futures.Future], None]:
        def done(src: concurrent.futures.Future) -> None:
            if src.cancelled():
                out.cancel()
                return
            exc = src.exception()
            if exc is not None:
                _settle(out, exception=exc)
                return
            results[i] = src.result()
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                _settle(out, result=results)

        return done

    for i, f in enumerate(futures):
        f.add_done_callback(make_done(i))
    return out


def map_error(fut: concurrent.futures.Future, fn: Callable[[BaseException], BaseException]) -> Future:
    """Future with `fut`'s result, or the exception `fn(exc)` if `fut` failed."""

    def reraise(exc: BaseException) -> Any:
        raise fn(exc)

    return recover(fut, reraise)


def recover(fut: concurrent.futures.Future, fn: Callable[[BaseException], Any]) -> Future:
    """Future with `fut`'s result or, if `fut` failed, of ``fn(exc)`` (a value or a Future;
    `fn` re-raises errors it does not handle)."""
    out: Future = Future()

    def done(src: concurrent.futures.Future) -> None:
        if src.cancelled():
            out.cancel()
            return
        exc = src.exception()
        if exc is None:
            _settle(out, result=src.result())
            return
        try:
            _resolve(out, fn(exc))
        except BaseException as new_exc:  # noqa: BLE001
            _settle(out, exception=new_exc)

    fut.add_done_callback(done)
    return out
