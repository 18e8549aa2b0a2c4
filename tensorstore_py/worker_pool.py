"""The thread pools behind the context's concurrency resources.

`concurrent.futures.ThreadPoolExecutor.submit` makes a Future (a Condition and an RLock) and a
work item per task; every task of ours already reports through a Future of its own, so a pool
here runs bare callables from a queue (`run`), and keeps `submit` for callers that want the
Executor interface.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import itertools
import os
import queue
import threading
import weakref
from typing import Any, Callable

from .future import Future, _settle

__all__ = ["WorkerPool"]

_LOGGER = concurrent.futures._base.LOGGER
_live_queues: "weakref.WeakKeyDictionary[PoolThread, queue.SimpleQueue]" = weakref.WeakKeyDictionary()
_exiting = False
_pool_numbers = itertools.count()


def _stop_at_exit() -> None:
    # As concurrent.futures: work already queued finishes before the interpreter exits (a
    # write the caller did not wait for still lands), then the threads are joined.
    global _exiting
    _exiting = True
    items = list(_live_queues.items())
    for _, q in items:
        q.put(None)
    for thread, _ in items:
        thread.join()


threading._register_atexit(_stop_at_exit)  # type: ignore[attr-defined]


class PoolThread:
    """A pool's thread, started without waiting for it to run.

    `threading.Thread.start` waits until the new thread has signalled that it runs; a new pool
    thread takes a task at once and may hold the GIL for a whole switch interval (5 ms) before
    the starting thread gets it back, so each thread a first read started cost it up to 5 ms.
    """

    __slots__ = ("name", "_finished", "__weakref__")

    def __init__(self, name: str, target: Callable[..., None], args: tuple) -> None:
        self.name = name
        self._finished = _thread.allocate_lock()
        self._finished.acquire()
        _thread.start_new_thread(self._run, (target, args))

    def _run(self, target: Callable[..., None], args: tuple) -> None:
        try:
            threading.current_thread().name = self.name  # what profilers and logs show
            target(*args)
        finally:
            self._finished.release()

    def join(self, timeout: float | None = None) -> None:
        if self._finished.acquire(timeout=-1 if timeout is None else timeout):
            self._finished.release()

    def is_alive(self) -> bool:
        return self._finished.locked()


def _forget_threads_after_fork() -> None:
    # The parent's threads do not exist in a forked child: nothing there may wait for them
    # (as `threading` marks its own threads stopped in the child).
    for thread in list(_live_queues):
        if thread._finished.locked():
            thread._finished.release()
    _live_queues.clear()


os.register_at_fork(after_in_child=_forget_threads_after_fork)


def _work(pool_ref: "weakref.ref[WorkerPool]", tasks: queue.SimpleQueue, idle: list, lock: Any) -> None:
    get = tasks.get
    while True:
        task = get()
        if task is None:
            tasks.put(None)  # wakes the next thread: one sentinel stops them all
            return
        try:
            task()
        except BaseException:  # noqa: BLE001 - a task reports through its own Future
            _LOGGER.exception("exception in a tensorstore_py pool task")
        del task
        if _exiting or pool_ref() is None:
            tasks.put(None)
            return
        with lock:
            idle[0] += 1


class WorkerPool(concurrent.futures.Executor):
    """At most `max_workers` threads, started as tasks arrive while none is idle."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "tensorstore_py"):
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max_workers = max_workers
        self._name = thread_name_prefix or f"tensorstore_py-pool-{next(_pool_numbers)}"
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        #: threads done with their last task and not yet promised another (a counter under a
        #: plain lock: `threading.Semaphore` is a Condition, several times slower)
        self._idle = [0]
        self._idle_lock = _thread.allocate_lock()
        self._threads: list[PoolThread] = []
        self._lock = threading.Lock()
        self._shutdown = False
        tasks = self._tasks
        # Dropping the pool stops its idle threads (they hold the queue, not the pool).
        self._finalizer = weakref.finalize(self, tasks.put, None)

    def run(self, task: Callable[[], Any]) -> None:
        """Queues `task()`; its errors are logged (tasks report through their own Futures)."""
        if self._shutdown or _exiting:
            raise RuntimeError("cannot schedule new work after shutdown")
        self._tasks.put(task)
        idle = self._idle
        if idle[0]:
            with self._idle_lock:
                if idle[0]:
                    idle[0] -= 1
                    return
        if len(self._threads) < self._max_workers:
            self._start_thread()

    def _start_thread(self) -> None:
        with self._lock:
            if len(self._threads) >= self._max_workers:
                return
            thread = PoolThread(f"{self._name}_{len(self._threads)}", _work,
                                (weakref.ref(self), self._tasks, self._idle, self._idle_lock))
            self._threads.append(thread)
            _live_queues[thread] = self._tasks

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        out: Future = Future()

        def task() -> None:
            if out.cancelled():
                return
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller
                _settle(out, exception=exc)
            else:
                _settle(out, result=value)

        self.run(task)
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
        if cancel_futures:
            while True:
                try:
                    self._tasks.get_nowait()
                except queue.Empty:
                    break
        self._tasks.put(None)
        if wait:
            for thread in list(self._threads):
                thread.join()
