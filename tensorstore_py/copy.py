"""``dst.write(src)`` for a TensorStore source: a streaming copy with bounded memory.

The source view's domain is cut into blocks aligned to the destination's write-chunk grid (so
each destination chunk is written whole, without a read, where the views allow), each block is
read from the source and written to the destination, and only a few blocks are in flight at
once: memory stays near ``in_flight x block size`` whatever the array size.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Iterator

import numpy as np

from . import future as futures
from .errors import invalid_argument
from .future import Future

__all__ = ["copy_between", "BLOCK_BYTES", "BLOCKS_IN_FLIGHT"]

#: Target size of one block, and how many blocks may be read or written at once.
BLOCK_BYTES = 8 << 20
BLOCKS_IN_FLIGHT = 4


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


def _blocks(domain: Any, chunk: tuple, origin: tuple, itemsize: int) -> Iterator[tuple]:
    rank = domain.rank
    lo, shape = list(domain.origin), list(domain.shape)
    step = [min(c, s) if c else s for c, s in zip(chunk, shape)]
    # Start from one chunk and grow from the innermost dimension out while the block stays
    # within budget: whole extents where they fit, else the most whole chunks that do.
    extent = [max(1, s) for s in step]
    budget = max(1, BLOCK_BYTES // max(1, itemsize))
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
    blocks = _blocks(dst_domain, chunk, origin, dest.dtype.numpy_dtype.itemsize)

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
                if state["failed"] or state["exhausted"] or state["in_flight"] >= BLOCKS_IN_FLIGHT:
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
            w = _view(dest, dst_index).write(arr)
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


def _view(store: Any, index: tuple) -> Any:
    """The sub-view of `store` over absolute (domain) coordinates `index`."""
    from .index import IndexDomain

    box = IndexDomain(inclusive_min=[s.start for s in index], exclusive_max=[s.stop for s in index])
    return store[box]
