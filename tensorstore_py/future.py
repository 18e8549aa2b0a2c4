"""Futures, promises and the thread pools that complete them.

`Future` is a `concurrent.futures.Future` (so `.result()` works from any thread) that is also
awaitable from asyncio code.  Everything asynchronous inside tensorstore_py is composed with
callbacks (`chain`, `gather`); no code running on an executor thread ever waits on a Future,
so no pool can deadlock whatever its size.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import inspect
import sys
import threading
import time
import types
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, TypeVar

if TYPE_CHECKING:
    import asyncio

from .errors import StatusError
from .metrics import READY_CALLBACKS as _READY_CALLBACKS

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["Future", "Promise", "FutureLike", "chain", "gather", "submit", "ready", "failed"]

_PENDING = object()

_cf_result = concurrent.futures.Future.result
_cf_exception = concurrent.futures.Future.exception
_CF_FINISHED = concurrent.futures._base.FINISHED
_CF_PENDING = concurrent.futures._base.PENDING
_CF_CANCELLED = concurrent.futures._base.CANCELLED
# `concurrent.futures.wait` and `as_completed` count only this cancelled state as done (the
# other one means "an executor has yet to notice"): nothing of ours waits for an executor.
_CF_CANCELLED_DONE = concurrent.futures._base.CANCELLED_AND_NOTIFIED
_LOGGER = concurrent.futures._base.LOGGER
_new_lock = _thread.allocate_lock


def _light_init(fut: "Future") -> None:
    # As concurrent.futures.Future.__init__, but with a plain lock: the Condition (an RLock
    # and a waiter list, most of a Future's cost) is made only if somebody blocks on it.
    fut._lock = _new_lock()
    fut._state = _CF_PENDING
    fut._result = None
    fut._exception = None
    fut._waiters = []
    fut._done_callbacks = []


def _timeout(timeout: float | None, deadline: float | None) -> float | None:
    """The wait in seconds allowed by `timeout` and `deadline` (seconds since the epoch)."""
    if deadline is None:
        return timeout
    remaining = deadline - time.time()
    return remaining if timeout is None else min(timeout, remaining)


class Future(concurrent.futures.Future[T]):  # the base parametrized: result() -> T for type checkers
    """Handle for an asynchronous result: blocking `result()`, awaitable, callback-capable.

    `Future(value)` returns `value` itself if it is already a `Future`; wraps a
    `concurrent.futures.Future`; runs a coroutine or other awaitable on `loop` (by default
    the running event loop; without one, that is an error); and otherwise resolves at once
    to `value`.  ``Future()`` (internal) is a pending Future settled by its producer.

    Cancellation is reported as `asyncio.CancelledError`, as TensorStore does.
    """

    # `ts.Future[int]` is a plain `types.GenericAlias`, as TensorStore's.
    __class_getitem__ = classmethod(types.GenericAlias)

    def __new__(
        cls, future: Any = _PENDING, *args: Any, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> "Future":
        if cls is Future and (future is not _PENDING or args or kwargs):
            if args or kwargs:
                raise TypeError("Future() takes one FutureLike argument and the keyword argument loop")
            if isinstance(future, Future):
                return future
            self = object.__new__(cls)
            _light_init(self)
            if isinstance(future, concurrent.futures.Future):
                _link(future, self)
            elif inspect.isawaitable(future):
                _run_awaitable(future, self, loop)
            else:
                self.set_result(future)
            return self
        # Pending (the producer settles it); subclasses take their own arguments in __init__.
        self = object.__new__(cls)
        _light_init(self)
        return self

    # All construction happens in __new__, so that `Future(f) is f` does not re-initialise f;
    # a subclass's `super().__init__()` is therefore a no-op.
    __init__ = object.__init__

    @property
    def _condition(self) -> threading.Condition:
        # Made on first use (by a blocking `result()`, `concurrent.futures.wait`, ...) around
        # the Future's lock, which the settling side holds when it notifies.
        cond = self.__dict__.get("_cond")
        if cond is None:
            cond = self.__dict__.setdefault("_cond", threading.Condition(self._lock))
        return cond

    def _settle(self, result: Any, exception: BaseException | None) -> bool:
        """Settles a pending Future; False (and no change) if it was already done."""
        with self._lock:
            if self._state is not _CF_PENDING:
                return False
            if exception is None:
                self._result = result
            else:
                self._exception = exception
            self._state = _CF_FINISHED  # last: `result()` reads the value without the lock
            if self._waiters:
                for waiter in self._waiters:
                    waiter.add_exception(self) if exception is not None else waiter.add_result(self)
            cond = self.__dict__.get("_cond")
            if cond is not None:
                cond.notify_all()
        if self._done_callbacks:
            self._invoke_callbacks()
        return True

    def set_result(self, result: T) -> None:
        if not self._settle(result, None):
            raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")

    def set_exception(self, exception: BaseException | None) -> None:
        if not self._settle(None, exception):
            raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")

    def done(self) -> bool:
        return self._state is not _CF_PENDING and self._state != concurrent.futures._base.RUNNING

    def cancelled(self) -> bool:
        return self._state is _CF_CANCELLED_DONE or self._state is _CF_CANCELLED

    def running(self) -> bool:
        return self._state == concurrent.futures._base.RUNNING

    def cancel(self) -> bool:
        """Cancels the Future if it is still pending; `False` if it was already done (or
        cancelled), as TensorStore."""
        with self._lock:
            if self._state is not _CF_PENDING:
                return False
            self._state = _CF_CANCELLED_DONE
            for waiter in self._waiters:
                waiter.add_cancelled(self)
            cond = self.__dict__.get("_cond")
            if cond is not None:
                cond.notify_all()
        self._invoke_callbacks()
        return True

    def __await__(self):
        if self._state is _CF_PENDING:
            import asyncio  # loaded already: this runs on an event loop

            return (yield from asyncio.wrap_future(self).__await__())
        return self.result()  # done already: no asyncio Future, no wake-up of the loop

    def result(self, timeout: float | None = None, deadline: float | None = None) -> T:
        """Waits for the result (at most `timeout` seconds, or until `deadline`, seconds since
        the epoch) and returns it, or raises the error: `TimeoutError` if still pending,
        `asyncio.CancelledError` if cancelled.  The wait is interruptible by Ctrl-C."""
        if self._state is _CF_FINISHED and self._exception is None:
            return self._result  # settled: no lock needed (state is written last)
        if timeout is None and deadline is None and self._state is _CF_PENDING:
            self._help()
        try:
            return _cf_result(self, _timeout(timeout, deadline))
        except concurrent.futures.CancelledError:
            raise _cancelled_error() from None

    def _help(self) -> None:
        # A caller about to block runs the work this Future waits for itself, if no pool
        # thread has taken it yet: no wake-up of another thread, no hand-back (see `Claimable`).
        tasks = self.__dict__.get("_tasks")
        if tasks:
            for task in tasks:
                if task():
                    return  # one thread's share: the tasks of one operation share its queue

    def exception(self, timeout: float | None = None, deadline: float | None = None) -> BaseException | None:
        """Waits as `result` does and returns the error, or `None` on success."""
        if self._state is _CF_FINISHED:
            return self._exception
        try:
            return _cf_exception(self, _timeout(timeout, deadline))
        except concurrent.futures.CancelledError:
            raise _cancelled_error() from None

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        if self._state is _CF_PENDING:
            with self._lock:
                if self._state is _CF_PENDING:
                    self._done_callbacks.append(fn)
                    return
        # Done already: run now.  TensorStore's /tensorstore/futures/ready_callbacks counts these.
        _READY_CALLBACKS.increment()
        try:
            fn(self)
        except BaseException as exc:
            if not _is_callback_error(exc):
                raise
            _LOGGER.exception("exception calling callback for %r", self)

    def force(self) -> None:
        """Starts the computation if it is deferred (all work here starts eagerly)."""

    def remove_done_callback(self, callback: Callable[["Future[T]"], Any]) -> int:
        """Unregisters `callback`; returns how many registrations were removed."""
        with self._lock:
            before = len(self._done_callbacks)
            self._done_callbacks = [cb for cb in self._done_callbacks if cb != callback]
            return before - len(self._done_callbacks)

    def _invoke_callbacks(self) -> None:
        # As concurrent.futures, but a callback calling `result()` on a cancelled Future gets
        # asyncio.CancelledError, a BaseException: it must not stop the other callbacks nor
        # escape from `cancel()`/`set_result()` into the producer.
        for callback in self._done_callbacks:
            _READY_CALLBACKS.increment()
            try:
                callback(self)
            except BaseException as exc:
                if not _is_callback_error(exc):
                    raise
                _LOGGER.exception("exception calling callback for %r", self)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else ("ready" if self.done() else "pending")
        return f"<tensorstore_py.Future ({state})>"


FutureLike = Any  # Future | concurrent.futures.Future | Awaitable | value


# asyncio is imported only by a program that uses it (it is a large part of an import of this
# package otherwise): until then no event loop runs and no asyncio.CancelledError exists.


def _cancelled_error() -> BaseException:
    import asyncio

    return asyncio.CancelledError()


def _is_callback_error(exc: BaseException) -> bool:
    """Whether a callback's `exc` is logged rather than raised: any Exception, and
    asyncio.CancelledError (a BaseException, which `result()` of a cancelled Future raises)."""
    if isinstance(exc, Exception):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def on_event_loop() -> bool:
    """Whether the calling thread runs an asyncio event loop (where nothing may block)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


class Promise(Generic[T]):
    """The writing end of a `Future`, created in pairs by `Promise.new()`.

    A Promise dropped without being settled fails its Future (``ValueError('UNKNOWN: ')``, as
    TensorStore), so that nobody waits forever for a producer that is gone.
    """

    __slots__ = ("_future",)

    __class_getitem__ = classmethod(types.GenericAlias)

    def __new__(cls, *args: Any, **kwargs: Any) -> "Promise[T]":
        raise TypeError(f"cannot create '{cls.__module__.split('.')[0]}.{cls.__name__}' instances")

    @staticmethod
    def new() -> "tuple[Promise[T], Future[T]]":
        """Creates a linked promise and future pair."""
        fut: Future[T] = Future()
        promise = object.__new__(Promise)
        promise._future = fut
        return promise, fut

    def set_result(self, result: T) -> None:
        """Marks the linked future ready with `result` (ignored if it was cancelled)."""
        _settle(self._future, result=result)

    def set_exception(self, exception: BaseException) -> None:
        """Marks the linked future failed with `exception` (ignored if it was cancelled)."""
        _settle(self._future, exception=exception)

    @property
    def cancelled(self) -> bool:
        return self._future.cancelled()

    def __del__(self) -> None:
        fut = getattr(self, "_future", None)
        if fut is not None and not fut.done():
            try:
                _settle(fut, exception=_unfulfilled())
            except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to notify
                pass


def _unfulfilled() -> BaseException:
    return StatusError("UNKNOWN", "")


def _settle(fut: concurrent.futures.Future, result: Any = None, exception: BaseException | None = None) -> None:
    # A Future cancelled (or already settled) by the consumer: the producer's answer is moot.
    if isinstance(fut, Future):
        fut._settle(result, exception)
        return
    try:
        if exception is not None:
            fut.set_exception(exception)
        else:
            fut.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass


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


def _run_awaitable(awaitable: Any, target: Future, loop: asyncio.AbstractEventLoop | None) -> None:
    import asyncio

    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ValueError("no event loop specified and thread does not have a default event loop") from None

    async def runner():
        return await awaitable

    # Scheduled through the loop's thread-safe queue even from the loop's own thread, as
    # TensorStore does: the coroutine starts on a later iteration, never inside this call.
    _link(asyncio.run_coroutine_threadsafe(runner(), loop), target)


# ---------------------------------------------------------------------------------------------
# Composition.  These never block: each registers a callback and returns a new Future.


def ready(value: T) -> Future[T]:
    # Made finished (nobody can be waiting on a Future not yet returned): every operation
    # done at once (an open, a small read) returns one.
    fut: Future[T] = object.__new__(Future)
    _light_init(fut)
    fut._result = value
    fut._state = _CF_FINISHED
    return fut


def failed(exception: BaseException) -> Future:
    fut: Future = object.__new__(Future)
    _light_init(fut)
    fut._exception = exception
    fut._state = _CF_FINISHED
    return fut


def submit(executor: concurrent.futures.Executor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Runs `fn(*args)` on `executor`; a returned Future is flattened into the result."""
    out: Future[T] = Future()

    def run() -> None:
        if out._state is not _CF_PENDING:  # cancelled while queued
            return
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - delivered to the consumer
            _settle(out, exception=exc)
            return
        _resolve(out, value)

    try:
        _execute(executor, run)
    except RuntimeError as exc:  # the pool was shut down (interpreter exit)
        _settle(out, exception=exc)
    return out


class Claimable:
    """A task queued on a pool that a thread about to block on its Future may run instead:
    whichever of the pool thread and the waiting caller claims it first runs it, once."""

    __slots__ = ("_fn", "_claim")

    def __init__(self, fn: Callable[[], None]):
        self._fn = fn
        self._claim = _new_lock()

    def __call__(self) -> bool:
        """Runs the task unless another thread has; whether this call ran it."""
        if self._claim.acquire(False):
            fn, self._fn = self._fn, None
            fn()
            return True
        return False


def execute_claimable(executor: concurrent.futures.Executor, fn: Callable[[], None], waiter: Future) -> None:
    """`_execute(executor, fn)`, where a caller blocking on `waiter` may run `fn` itself."""
    task = Claimable(fn)
    tasks = waiter.__dict__.get("_tasks")
    if tasks is None:
        waiter.__dict__["_tasks"] = [task]
    else:
        tasks.append(task)
    _execute(executor, task)


def share_tasks(sources: list, waiter: Future) -> None:
    """Lets a caller blocking on `waiter` run the claimable tasks the `sources` wait for
    (`waiter` completes after them)."""
    for source in sources:
        tasks = source.__dict__.get("_tasks")
        if tasks and not source.done():
            waiter.__dict__.setdefault("_tasks", []).extend(tasks)


def _execute(executor: concurrent.futures.Executor, fn: Callable[[], None]) -> None:
    """Runs `fn()` on `executor`: a pool of ours (`WorkerPool.run`) takes the bare callable,
    without the Future that `Executor.submit` makes and nobody here would look at."""
    run = getattr(executor, "run", None)
    if run is not None:
        run(fn)
    else:
        executor.submit(fn)


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
                value = src.result()
                _execute(executor, lambda: run(value))
            except RuntimeError as exc:  # the pool was shut down (interpreter exit)
                _settle(out, exception=exc)

    fut.add_done_callback(done)
    return out


def gather(futures: Iterable[concurrent.futures.Future]) -> Future[list]:
    """Future of the list of results; fails with the first error to arrive."""
    futures = list(futures)
    return _join(futures, Future(), lambda: [f.result() for f in futures])


def all_done(futures: list, out: "Future | None" = None) -> Future:
    """Future (`out` if given) of None once every one of `futures` has succeeded; fails with
    the first error to arrive.  `gather` without the list of results nobody reads."""
    return _join(futures, Future() if out is None else out, lambda: None)


def all_finished(futures: list, out: Future) -> Future:
    """`out`, settled with None once every one of `futures` has finished, whether it
    succeeded, failed or was cancelled."""
    remaining = [len(futures)]
    lock = _new_lock()

    def done(_: concurrent.futures.Future) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            _settle(out, result=None)

    if not futures:
        _settle(out, result=None)
    for f in futures:
        f.add_done_callback(done)
    return out


def _all_finished(futures: list) -> bool:
    """Whether every one of `futures` is one of ours and settled (not cancelled)."""
    for f in futures:
        if not isinstance(f, Future) or f._state is not _CF_FINISHED:
            return False
    return True


def _join(futures: list, out: Future, result: Callable[[], Any]) -> Future:
    """Settles `out` with ``result()`` once every one of `futures` has succeeded (then each
    is done), or with the first error; one callback per Future."""
    if not futures:
        _settle(out, result=result())
        return out
    if _all_finished(futures):
        # All settled already (a small write to a store that never waits): settled here, as
        # the callbacks below would, in order, without registering any.
        for f in futures:
            if f._exception is not None:
                _settle(out, exception=f._exception)
                return out
        try:
            value = result()
        except BaseException as exc:  # noqa: BLE001 - delivered to the consumer
            _settle(out, exception=exc)
            return out
        _settle(out, result=value)
        return out
    remaining = [len(futures)]
    lock = _new_lock()

    def done(src: concurrent.futures.Future) -> None:
        if src.cancelled():
            out.cancel()
            return
        exc = src.exception()
        if exc is not None:
            _settle(out, exception=exc)
            return
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            try:
                value = result()
            except BaseException as exc:  # noqa: BLE001 - delivered to the consumer
                _settle(out, exception=exc)
                return
            _settle(out, result=value)

    for f in futures:
        f.add_done_callback(done)
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
