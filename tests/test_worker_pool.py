"""The pools behind the concurrency resources: threads started without a hand-shake, named
after their pool, and joined at shutdown."""

from __future__ import annotations

import sys
import threading
import time

from tensorstore_py.future import Future
from tensorstore_py.worker_pool import WorkerPool


def test_starting_a_thread_does_not_wait_for_it_to_run():
    """A new thread that takes its task at once and keeps the GIL would hold up the thread
    that started it for a switch interval if the start waited for the new thread to run
    (as `threading.Thread.start` does); here the interval is 1 s."""
    pool = WorkerPool(1, "test_pool")
    go_on = threading.Event()

    def spin() -> None:
        while not go_on.is_set():
            pass  # pure Python: keeps the GIL until the interpreter switches threads

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        started = time.perf_counter()
        pool.run(spin)
        go_on.set()
        returned = time.perf_counter() - started
    finally:
        sys.setswitchinterval(old)
    pool.shutdown(wait=True)
    assert returned < 0.5


def test_threads_carry_the_pool_name_and_are_joined_at_shutdown():
    pool = WorkerPool(2, "named_pool")
    names = [pool.submit(lambda: threading.current_thread().name) for _ in range(8)]
    assert {f.result(timeout=30).rsplit("_", 1)[0] for f in names} == {"named_pool"}
    threads = list(pool._threads)
    assert 1 <= len(threads) <= 2
    pool.shutdown(wait=True)
    assert not any(t.is_alive() for t in threads)


def test_errors_go_to_the_future_and_the_pool_keeps_working():
    pool = WorkerPool(1, "error_pool")
    failed: Future = pool.submit(lambda: 1 / 0)
    assert isinstance(failed.exception(timeout=30), ZeroDivisionError)
    assert pool.submit(lambda: 42).result(timeout=30) == 42
    pool.shutdown(wait=True)


def _child_uses_a_new_pool(parent_pool: WorkerPool) -> None:
    pool = WorkerPool(1, "child_pool")
    assert pool.submit(lambda: 7).result(timeout=30) == 7
    assert not any(t.is_alive() for t in parent_pool._threads)  # the parent's: not in this process
    pool.shutdown(wait=True)


def test_forked_child_neither_waits_for_nor_counts_the_parents_threads():
    import multiprocessing

    pool = WorkerPool(2, "parent_pool")
    assert pool.submit(lambda: 1).result(timeout=30) == 1
    child = multiprocessing.get_context("fork").Process(target=_child_uses_a_new_pool, args=(pool,))
    child.start()
    child.join(60)
    pool.shutdown(wait=True)
    assert child.exitcode == 0  # it ran and exited: nothing waited for the parent's threads
