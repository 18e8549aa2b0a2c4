"""``dst.write(src)`` for a TensorStore source: a streaming copy with bounded memory.

The source view's domain is cut into blocks aligned to the destination's write-chunk grid (so
each destination chunk is written whole, without a read, where the views allow), each block is
read from the source and written to the destination, and only a few blocks are in flight at
once: memory stays near ``in_flight x block size`` whatever the array size.  Between arrays on
local stores with the same chunk grid, a block that is one whole chunk of both is copied from
stored chunk to stored chunk (`_ChunkToChunk`).
"""

from __future__ import annotations

import collections
import itertools
import threading
from typing import Any, Iterator

import numpy as np

from . import future as futures
from . import metrics
from .cache.rmw import ENCODE_HERE, read_modify_write
from .driver.chunk_copy import copy_array
from .driver.chunked import _READ_ALL
from .errors import invalid_argument
from .future import Future
from .index.output_map import OutputIndexMethod

_SINGLE = OutputIndexMethod.single_input_dimension

__all__ = ["copy_between", "BLOCK_BYTES", "BYTES_IN_FLIGHT"]

#: Target size of one block, and how many bytes of blocks may be read or written at once.
BLOCK_BYTES = 8 << 20
BYTES_IN_FLIGHT = 16 << 20
#: Destination chunks at least this large are copied one per block when the source's chunks
#: tile them: each block is then read straight into a buffer the destination keeps as its
#: staged chunk, with no copy between.
WHOLE_CHUNK_BYTES = 256 << 10


def _aligned_cuts(lo: int, hi: int, origin: int, step: int) -> list[tuple[int, int]]:
    """[lo, hi) cut at multiples of `step` from `origin`."""
    cuts = []
    start = lo
    while start < hi:
        nxt = origin + ((start - origin) // step + 1) * step
        stop = min(hi, nxt)
        cuts.append((start, stop))
        start = stop
    return cuts


def _blocks(domain: Any, chunk: tuple, origin: tuple, itemsize: int, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple]:
    rank = domain.rank
    lo, shape = list(domain.origin), list(domain.shape)
    step = [min(c, s) if c else s for c, s in zip(chunk, shape)]
    # Start from one chunk and grow from the innermost dimension out while the block stays
    # within budget: whole extents where they fit, else the most whole chunks that do.
    extent = [max(1, s) for s in step]
    budget = max(1, block_bytes // max(1, itemsize))
    for d in reversed(range(rank)):
        rest = int(np.prod(extent, dtype=np.int64)) // extent[d]
        if shape[d] * rest <= budget:
            extent[d] = max(1, shape[d])
            continue
        extent[d] = max(step[d], (budget // rest) // step[d] * step[d])
        break
    per_dim = []
    for d in range(rank):
        if extent[d] >= shape[d]:
            per_dim.append([(lo[d], lo[d] + shape[d])])
            continue
        cuts = _aligned_cuts(lo[d], lo[d] + shape[d], origin[d] if origin[d] is not None else 0, step[d])
        # Merge consecutive chunk-aligned cuts up to the block extent.
        merged, start, size = [], cuts[0][0], 0
        for a, b in cuts:
            if size and size + (b - a) > extent[d]:
                merged.append((start, a))
                start, size = a, 0
            size += b - a
        merged.append((start, lo[d] + shape[d]))
        per_dim.append(merged)
    yield from itertools.product(*per_dim)


def copy_between(source: Any, dest: Any, batch: Any = None) -> Any:
    """WriteFutures of copying `source`'s data into `dest` (same shape), block by block.

    `batch` (a `batch.BatchState` or None): the source reads go through it."""
    from .driver.chunked import WriteFutures
    from .tensorstore import failed_write, prepare_source

    src_domain, dst_domain = source.domain, dest.domain
    if tuple(src_domain.shape) != tuple(dst_domain.shape):
        try:  # broadcasting rules and messages as for array sources
            prepare_source(np.empty(src_domain.shape, dtype=dest.dtype.numpy_dtype), dest.dtype, dst_domain)
        except (ValueError, TypeError) as exc:
            return failed_write(exc)
        # Broadcasting a source: read it whole, then write as from an array.
        started = futures.chain(source._read_in(batch), lambda arr: futures.ready(dest.write(arr)))
        return WriteFutures(futures.chain(started, lambda w: w.copy), futures.chain(started, lambda w: w.commit))
    if source.dtype != dest.dtype:
        return failed_write(invalid_argument(
            f"Explicit data type conversion required to convert {source.dtype.name} -> {dest.dtype.name}"))
    try:
        layout = dest.chunk_layout
        chunk = tuple(layout.write_chunk.shape or (None,) * dst_domain.rank)
        origin = tuple(layout.grid_origin or (0,) * dst_domain.rank)
    except (ValueError, TypeError, AttributeError):
        chunk, origin = (None,) * dst_domain.rank, (0,) * dst_domain.rank
    # Blocks are cut in destination coordinates, and the same offsets applied to the source.
    shift = [s - d for s, d in zip(src_domain.origin, dst_domain.origin)]
    itemsize = dest.dtype.numpy_dtype.itemsize
    block_bytes = BLOCK_BYTES
    if _whole_chunk_blocks(source, chunk, origin, shift, itemsize):
        block_bytes = 1  # one destination chunk per block
    blocks = _blocks(dst_domain, chunk, origin, itemsize, block_bytes)
    max_in_flight = max(4, BYTES_IN_FLIGHT // max(1, min(BLOCK_BYTES, _chunk_bytes(chunk, itemsize) if block_bytes == 1 else BLOCK_BYTES)))
    local = _local_drivers(source, dest, batch)
    if local is not None:
        return _copy_on_pool(source, dest, *local, blocks, shift, max_in_flight)

    copy_done: Future = Future()
    commit_done: Future = Future()
    lock = threading.Lock()
    state = {"in_flight": 0, "exhausted": False, "failed": False, "copied": [], "committed": []}

    def fail(exc: BaseException) -> None:
        with lock:
            if state["failed"]:
                return
            state["failed"] = True
        futures._settle(copy_done, exception=exc)
        futures._settle(commit_done, exception=exc)

    def finish_if_done() -> None:
        with lock:
            if not state["exhausted"] or state["in_flight"] or state["failed"]:
                return
            copies, commits = state["copied"], state["committed"]
        futures._link(futures.chain(futures.gather(copies), lambda _: None), copy_done)
        futures._link(futures.chain(futures.gather(commits), lambda _: None), commit_done)

    def start_more() -> None:
        while True:
            with lock:
                if state["failed"] or state["exhausted"] or state["in_flight"] >= max_in_flight:
                    break
                box = next(blocks, None)
                if box is None:
                    state["exhausted"] = True
                    break
                state["in_flight"] += 1
            start_block(box)
        finish_if_done()

    def start_block(box: tuple) -> None:
        dst_index = tuple(slice(a, b) for a, b in box)
        src_index = tuple(slice(a + s, b + s) for (a, b), s in zip(box, shift))
        read = _view(source, src_index)._read_in(batch)

        def write(arr: np.ndarray) -> Future:
            # The block is ours alone: the destination may keep it as its staged chunks.
            w = _view(dest, dst_index).write(arr, can_reference_source_data_indefinitely=True)
            with lock:
                state["copied"].append(w.copy)
                state["committed"].append(w.commit)
            return w.commit

        def block_done(f: Any) -> None:
            exc = f.exception()
            if exc is not None:
                fail(exc)
                return
            with lock:
                state["in_flight"] -= 1
            start_more()

        futures.chain(read, write).add_done_callback(block_done)

    start_more()
    return WriteFutures(copy_done, commit_done)


def _local_drivers(source: Any, dest: Any, batch: Any) -> tuple | None:
    """The opened chunked drivers of `source` and `dest` when both keep their chunks in local
    stores (`read_now`/`write_now`) with nothing between (no batch, transaction or chunk
    cache): the copy then reads and encodes each block on one thread (`_copy_on_pool`)."""
    from .driver.chunked import ChunkedDriver

    if batch is not None or source._transaction is not None or dest._transaction is not None:
        return None
    drivers = []
    for view in (source, dest):
        current = view._driver.current(None)
        if not current.done() or current.cancelled() or current.exception() is not None:
            return None
        d = current.result()
        if not isinstance(d, ChunkedDriver) or d.engine.cache is not None:
            return None
        kv = d.engine.kv
        if getattr(kv, "read_now", None) is None or getattr(kv, "write_now", None) is None:
            return None
        drivers.append(d)
    if getattr(drivers[1].engine.kv, "stage_mutation", None) is not None:
        return None  # a shard store gathers its sub-chunks' writes on its own tasks
    return tuple(drivers)


#: Blocks a copy task may have handed to the store's pool and not seen stored yet.
_WRITES_BEHIND = 8


def _copy_on_pool(source: Any, dest: Any, src_driver: Any, dst_driver: Any, blocks: Iterator[tuple],
                  shift: list, max_tasks: int) -> Any:
    """The copy as a few tasks on the data-copy pool, each taking block after block from one
    queue, reading it (decoded straight into a buffer of its own) and encoding it (the buffer
    becomes the staged chunks), and handing only the writes to the destination store's pool:
    no Future or callback chain per block, and memory bounded by a few blocks per task."""
    from .driver.chunk_memory import empty_output
    from .driver.chunked import WriteFutures

    done = WriteFutures(None)  # one Future: the source is read as each block is written
    done.copy = done
    # The tasks run on the data-copy pool (as many as cores): the stores' own pools are left
    # to the writes, whose threads wait on the disk (fsync) while these encode the next block.
    executor = dst_driver.engine.executor
    n_tasks = max(1, min(max_tasks, getattr(executor, "max_workers", 1)))
    dtype = dest.dtype.numpy_dtype
    lock = threading.Lock()
    remaining = [n_tasks]
    failed: list[BaseException] = []  # the first failure: every task stops at its next block
    whole = _ChunkToChunk.make(source, dest, src_driver, dst_driver, shift)
    # A store that keeps a referenced source (the memory store) may hold on to a block's
    # memory after it is stored: its blocks are never reused.
    reuse = not getattr(dst_driver.engine.kv, "keeps_source_references", False)

    def fail(exc: BaseException) -> None:
        with lock:
            if not failed:
                failed.append(exc)

    def next_box() -> tuple | None:
        with lock:
            return next(blocks, None)

    def task() -> None:
        spare = None  # a block buffer whose data is stored: the next block of its shape reuses it
        # This task's blocks still being written, oldest first, with their commits: at most
        # `_WRITES_BEHIND` of them, so memory stays a few blocks per task.
        behind: collections.deque = collections.deque()
        try:
            while not failed and done._state is futures._CF_PENDING:
                box = next_box()
                if box is None:
                    break
                while behind and (len(behind) >= _WRITES_BEHIND or behind[0][0].done()):
                    commit, stored, elements = behind.popleft()
                    commit.result()
                    _count_stored(elements)
                    spare = stored if reuse else None
                shape = tuple(b - a for a, b in box)
                # (Fresh memory costs a page fault per page; a reused buffer none.)
                block = spare if spare is not None and spare.shape == shape else empty_output(shape, dtype)
                spare = None
                commit = None if whole is None else whole.copy(box, block)
                # (The general path counts its own chunks written; these are counted here, on
                # this thread, before the copy's Future can settle.)
                elements = 0 if commit is None else block.size
                if commit is None:
                    dst_index = tuple(slice(a, b) for a, b in box)
                    src_index = tuple(slice(a + s, b + s) for (a, b), s in zip(box, shift))
                    read = src_driver.read(_view(source, src_index)._transform, None, block, inline=True)
                    read.result()
                    # The block is ours alone: the destination may keep it as its staged chunks.
                    commit = dst_driver.write(_view(dest, dst_index)._transform, block, None,
                                              can_reference_source=True, inline=True).commit
                if commit.done() and not commit.cancelled() and commit.exception() is None:
                    _count_stored(elements)
                    spare = block if reuse else None  # encoded and stored: nothing refers to it any more
                else:
                    behind.append((commit, block, elements))
        except BaseException as exc:  # noqa: BLE001 - delivered to the caller
            fail(exc)
        # Every write this task handed on has landed (or failed) before the copy settles, so
        # nothing of a copy goes on after its Future says it is over, even when it failed.
        for commit, _, elements in behind:
            try:
                commit.result()
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller
                fail(exc)
            else:
                _count_stored(elements)
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            if failed:
                futures._settle(done, exception=failed[0])
            else:
                futures._settle(done, result=None)

    try:
        for _ in range(n_tasks):
            futures.execute_claimable(executor, task, done)
    except RuntimeError as exc:  # the pool was shut down (interpreter exit)
        futures._settle(done, exception=exc)
    return done


class _ChunkToChunk:
    """Blocks that are one whole stored chunk of the source and one of the destination, copied
    chunk to chunk: the stored chunk is read and decoded into the block, which is encoded and
    written whole (as the general path does for a chunk it covers), without planning either
    view or staging the chunk, whose cost per chunk was about that of encoding it.  Blocks it
    does not take (edge chunks, other layouts) go the general way."""

    def __init__(self, src: Any, dst: Any, src_offsets: list, dst_offsets: list, shift: list):
        self.src, self.dst = src, dst
        self.src_offsets, self.dst_offsets = src_offsets, dst_offsets
        self.shift = shift
        self.chunk = dst.fmt.chunk_shape

    @classmethod
    def make(cls, source: Any, dest: Any, src_driver: Any, dst_driver: Any, shift: list) -> "_ChunkToChunk | None":
        src, dst = src_driver.engine, dst_driver.engine
        if (src.fmt.chunk_shape != dst.fmt.chunk_shape or not src.fmt.component_covers_chunk
                or not dst.fmt.component_covers_chunk or src.fmt.numpy_dtype != dst.fmt.numpy_dtype):
            return None
        src_offsets, dst_offsets = _grid_offsets(source, src.fmt), _grid_offsets(dest, dst.fmt)
        if src_offsets is None or dst_offsets is None:
            return None
        return cls(src, dst, src_offsets, dst_offsets, shift)

    def _cell(self, box: tuple, offsets: list, shift: list) -> tuple | None:
        cell = []
        for (a, b), offset, s, c in zip(box, offsets, shift, self.chunk):
            lo = a + s + offset
            if b - a != c or lo % c:
                return None
            cell.append(lo // c)
        return tuple(cell)

    def copy(self, box: tuple, block: np.ndarray) -> Future | None:
        """The Future of storing the block's chunk, or None if the block is not one whole
        chunk of both arrays (nothing is done then)."""
        dst_cell = self._cell(box, self.dst_offsets, [0] * len(box))
        src_cell = None if dst_cell is None else self._cell(box, self.src_offsets, self.shift)
        if src_cell is None:
            return None
        src, dst = self.src, self.dst
        staged = dst.fmt.adopt_chunk(block)
        if staged is None:
            return None  # the destination stores another layout: the general path converts
        key = src.fmt.chunk_key(src_cell)
        one_step = src.one_step_reads()
        if one_step is None or not one_step.read(key, src_cell, None, lambda _cell: block):
            result = src.kv.read_now(key, _READ_ALL)
            if result.state != "value":
                if not src.fill_missing_data_reads:
                    return None  # the general path reads it again and says it is missing
                block[...] = src.fmt.fill_value()
            elif src._decode(key, result.value, src_cell, block) is not block:
                copy_array(block, src.fmt.component(src._decode(key, result.value, src_cell)))
        metrics.CHUNK_READS.increment()
        metrics.ELEMENTS_READ.increment(block.size)
        # An unconditional write of the whole chunk (none when it holds only the fill value),
        # encoded here, stored on the store's pool.
        return read_modify_write(dst.kv, dst.fmt.chunk_key(dst_cell),
                                 lambda _value, _generation: dst._encode(staged, dst_cell),
                                 needs_read=False, executor=ENCODE_HERE)


def _count_stored(elements: int) -> None:
    """Counts a chunk the copy stored chunk to chunk (`elements`: 0 for one the general path
    stored, which counts its own)."""
    if elements:
        metrics.CHUNK_WRITES.increment()
        metrics.ELEMENTS_WRITTEN.increment(elements)


def _grid_offsets(view: Any, fmt: Any) -> list | None:
    """Per dimension, what to add to a position of `view`'s domain to get its position on the
    chunk grid of the array, if the view is the array translated (else None)."""
    transform = view._transform
    origin = fmt.origin or (0,) * len(fmt.chunk_shape)
    if transform.input_rank != len(fmt.chunk_shape) or len(transform._outputs) != len(fmt.chunk_shape):
        return None
    offsets = []
    for j, m in enumerate(transform._outputs):
        if m._method != _SINGLE or m._stride != 1 or m._dim != j:
            return None
        offsets.append(int(m._offset) - (origin[j] or 0))
    return offsets


def _chunk_bytes(chunk: tuple, itemsize: int) -> int:
    n = itemsize
    for c in chunk:
        n *= c or 1
    return n


def _whole_chunk_blocks(source: Any, chunk: tuple, origin: tuple, shift: list, itemsize: int) -> bool:
    """Whether to copy one destination chunk per block: the chunks are large, and every
    source chunk lies within one destination chunk (so no source chunk is decoded twice)."""
    if any(c is None for c in chunk) or _chunk_bytes(chunk, itemsize) < WHOLE_CHUNK_BYTES:
        return False
    try:
        layout = source.chunk_layout
        src_chunk = layout.read_chunk.shape
        src_origin = layout.grid_origin or (0,) * len(chunk)
    except (ValueError, TypeError, AttributeError):
        return False
    if src_chunk is None or any(c is None or c <= 0 for c in src_chunk):
        return False
    for c, o, sc, so, sh in zip(chunk, origin, src_chunk, src_origin, shift):
        # Destination chunk boundaries (o + k*c), seen in source coordinates, must fall on
        # source chunk boundaries.
        if c % sc or ((o or 0) + sh - (so or 0)) % sc:
            return False
    return True


def _view(store: Any, index: tuple) -> Any:
    """The sub-view of `store` over absolute (domain) coordinates `index`."""
    from .index import IndexDomain

    rank = len(index)
    box = IndexDomain._make([s.start for s in index], [s.stop - 1 for s in index],
                            (False,) * rank, (False,) * rank, ("",) * rank)
    return store[box]
