"""Chunk reads of a local store queued on a pool, shared by the reads waiting for the same chunk.

A read of many chunks, or any read made on an event loop (``asyncio.gather`` of small reads),
queues its chunks here.  A chunk queued and not yet started is joined by every later read that
needs it: the chunk is read and decoded once and copied into each reader's output.  This is
TensorStore's sharing of a cache entry's read in flight, with its rule: a read never uses data
fetched before the read was made (a chunk whose read has started is not joined).

Each read queues its own new chunks as a few pool tasks over one shared queue; a reader that
blocks on its Future may run them itself (`future.Claimable`), and so may a reader that joined
them, so a reader never waits on work that no thread will run.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from .. import future as futures
from .. import metrics
from ..future import Future
from ..kvstore.driver import ReadOptions

__all__ = ["SharedChunkReads"]


class _Read:
    """One caller's read: its output, its Future, how many of its chunks are still due and the
    options its chunks are read with (their staleness bound: when the read began)."""

    __slots__ = ("done", "out", "due", "lock", "n_cells", "options")

    def __init__(self, out: np.ndarray, n_cells: int, options: ReadOptions):
        self.done: Future = Future()
        self.out = out
        self.options = options
        self.due = n_cells
        self.n_cells = n_cells
        self.lock = threading.Lock()

    def chunk_done(self) -> None:
        with self.lock:
            self.due -= 1
            last = self.due == 0
        if last and self.done._state is futures._CF_PENDING:
            metrics.CHUNK_READS.increment(self.n_cells)
            metrics.ELEMENTS_READ.increment(self.out.size)
            futures._settle(self.done, result=self.out)


def _bound(options: ReadOptions) -> float:
    bound = options.staleness_bound
    return float("inf") if bound is None else bound


class _Queued:
    """A chunk waiting for a pool thread: who needs it, and the tasks that will serve it."""

    __slots__ = ("waiters", "tasks")

    def __init__(self, tasks: list):
        self.waiters: list[tuple[Any, Callable, Callable | None, _Read]] = []
        self.tasks = tasks


class SharedChunkReads:
    """The queued chunk reads of one `ChunkedArray` (see the module docstring).

    It is given the array with each read rather than holding it: an array and its queue that
    referred to each other would be a cycle, left to the garbage collector by every open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[bytes, _Queued] = {}

    def read(self, array: Any, cells: list, place: Callable, direct: Callable | None, out: np.ndarray,
             options: ReadOptions) -> Future:
        kv, fmt = array.kv, array.fmt
        op = _Read(out, len(cells), options)
        tasks: list = []  # filled below, before any pool thread can look at it
        fresh: list[bytes] = []
        joined: list = []
        with self._lock:
            for cell in cells:
                key = fmt.chunk_key(cell.cell)
                entry = self._queued.get(key)
                if entry is None:
                    entry = self._queued[key] = _Queued(tasks)
                    fresh.append(key)
                elif entry.tasks is not tasks and entry.tasks not in joined:
                    joined.append(entry.tasks)
                entry.waiters.append((cell, place, direct, op))
        # Chunks read and decoded in one step (`FileChunkReads`: mostly decoding, from the page
        # cache) run on the data-copy pool, one thread per CPU: the store's larger I/O pool
        # only added threads contending for the GIL (100 reads gathered on an event loop took
        # ~15% longer).  Others run where the store's reads run, in no more tasks than the
        # data-copy pool has threads: each decodes and copies, work for a CPU, and more tasks
        # only take turns on the CPUs, each with its own buffers to touch and thread to wake.
        executor = (array.executor if array.one_step_reads() is not None
                    else getattr(kv, "read_now_executor", None) or array.executor)
        n_tasks = min(len(fresh), getattr(executor, "max_workers", 1), getattr(array.executor, "max_workers", 1))
        queue = iter(fresh)  # shared: `next` on a list iterator is atomic

        def task() -> None:
            for key in queue:
                with self._lock:
                    entry = self._queued.pop(key)
                self._serve(array, key, entry.waiters)

        for _ in range(n_tasks):
            tasks.append(futures.Claimable(task))
        # A reader blocking on its Future may run the tasks of the chunks it joined, too.
        claimable = op.done.__dict__.setdefault("_tasks", [])
        claimable.extend(tasks)
        for other in joined:
            claimable.extend(other)
        try:
            for t in tasks:
                futures._execute(executor, t)
        except RuntimeError as exc:  # the pool was shut down (interpreter exit)
            futures._settle(op.done, exception=exc)
        return op.done

    def _serve(self, array: Any, key: bytes, waiters: list) -> None:
        """Reads and decodes the chunk once and copies it to every reader still waiting."""
        live = [w for w in waiters if w[3].done._state is futures._CF_PENDING]
        if live:
            try:
                # One read for all its readers: the latest reader's staleness bound serves each.
                options = max((w[3].options for w in live), key=_bound)
                if len(live) == 1:
                    cell, place, direct, _ = live[0]
                    array._read_chunk_now(key, cell, place, direct, options)
                elif not array._read_for_all(key, [(cell, place) for cell, place, _, _ in live]):
                    result = array.kv.read_now(key, options)
                    if result.state != "value":
                        for cell, place, _, _ in live:
                            array._place_missing(key, cell, place)
                    else:
                        chunk = array.fmt.component(array._decode(key, result.value, live[0][0].cell))
                        for cell, place, _, _ in live:
                            place(cell, chunk)
            except BaseException as exc:  # noqa: BLE001 - delivered to every reader of the chunk
                for _, _, _, op in live:
                    futures._settle(op.done, exception=exc)
                return
        for _, _, _, op in live:
            op.chunk_done()
