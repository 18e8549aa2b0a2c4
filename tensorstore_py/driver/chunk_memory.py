"""An up-front check that a chunk buffer can exist on this machine before numpy is asked for it,
the allocation of large read results without numpy's huge page hint (`empty_output`), and
decoded-chunk buffers reused once nothing refers to them (`ChunkBuffers`).

Metadata may declare chunks far larger than memory (a hostile or mistaken ``chunks``); reading
a missing chunk of such an array costs nothing, but staging a write or decoding a stored chunk
needs the whole buffer.  Refusing with a ValueError that names the chunk beats a MemoryError
from deep inside numpy (or the machine swapping to death on a lazily committed allocation).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
from typing import Any, Callable, Optional

import numpy as np

from ..errors import resource_exhausted

__all__ = ["ChunkBuffers", "check_chunk_memory", "memory_bytes", "empty_output"]


def memory_bytes() -> int:
    """Physical memory of this machine (a generous bound where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 46


_MEMORY = memory_bytes()


def check_chunk_memory(fmt: Any) -> None:
    """RESOURCE_EXHAUSTED if one chunk of `fmt` could not fit in this machine's memory."""
    nbytes = math.prod(fmt.chunk_shape) * fmt.numpy_dtype.itemsize
    if nbytes > _MEMORY:
        shape = ", ".join(str(int(n)) for n in fmt.chunk_shape)
        raise resource_exhausted(
            f"Chunk of shape {{{shape}}} with data type {fmt.numpy_dtype} needs {nbytes} bytes, more than "
            f"the {_MEMORY} bytes of memory of this machine")


_VIEW_MAX = 1 << 62  # numpy cannot describe even a broadcast view of more elements


def missing_chunk_extent(cell: Any, chunk_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a fill-valued stand-in for a missing chunk that `cell` reads from: the
    chunk's own shape, or, for chunks too large for numpy to view, just the part `cell` reads."""
    if math.prod(chunk_shape) < _VIEW_MAX:
        return tuple(chunk_shape)
    coords = getattr(cell, "chunk_coords", None)
    if coords is not None:
        return tuple(int(c.max()) + 1 if c.size else 1 for c in coords)
    extent = []
    for index, n in zip(cell.chunk_index, chunk_shape):
        if isinstance(index, slice):
            r = range(*index.indices(n))
            extent.append(max(r) + 1 if r else 1)
        else:
            extent.append(int(index) + 1)
    return tuple(extent)


# numpy asks for transparent huge pages (madvise MADV_HUGEPAGE) on every data buffer of at
# least 4 MiB.  Where the kernel's THP "defrag" mode is "madvise" or "defer+madvise", the first
# touch of each 2 MiB of such a buffer then compacts memory synchronously: measured here, a
# 256 MiB read result cost 0.07-0.75 s of system time that way against 0.1-0.15 s in 4 KiB
# pages, which is what TensorStore's (malloc'd, unhinted) buffers get.  Read results are
# written once, chunk by chunk, by the decoders, so they gain little from huge pages.
_MADV_NOHUGEPAGE = 15
_HINTED_MIN_BYTES = 1 << 22
_PAGE = 4096


def _thp_hint_stalls() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/sys/kernel/mm/transparent_hugepage/defrag") as f:
            mode = f.read()
    except OSError:
        return False
    return "[madvise]" in mode or "[defer+madvise]" in mode


def _libc_madvise() -> Optional[Any]:
    if not _thp_hint_stalls():
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_MADVISE = _libc_madvise()


def empty_output(shape: tuple[int, ...], dtype: Any, order: str = "C") -> np.ndarray:
    """`np.empty(shape, dtype, order)` for a buffer filled once (a read result, a chunk being
    staged or decoded, a block being copied), in ordinary pages where numpy's huge page hint
    would make the kernel compact memory on first touch (see above)."""
    out = np.empty(shape, dtype=dtype, order=order)
    if _MADVISE is not None and out.nbytes >= _HINTED_MIN_BYTES:
        address = out.__array_interface__["data"][0]
        start = (address + _PAGE - 1) & ~(_PAGE - 1)
        stop = (address + out.nbytes) & ~(_PAGE - 1)
        if stop > start:
            _MADVISE(start, stop - start, _MADV_NOHUGEPAGE)  # advice only: a failure changes nothing
    return out


class ChunkBuffers:
    """Decoded-chunk buffers reused once nothing refers to them any more.

    A read decodes a chunk, copies what it needs and drops it, and a writeback decodes one,
    merges into it, encodes it and drops it; a fresh array of a chunk's size for every decode
    costs the page faults of new memory, several times the decode itself for well-compressed
    chunks.  A buffer is reused only when the pool holds the only reference and it is
    writable (the chunk cache marks what it keeps read-only): whatever keeps a chunk or a view
    of it (a cache, a caller's result, an encoded value that is a view) keeps it out of reuse.
    """

    _LIMIT = 16
    #: at most this many bytes kept per pool (chunks larger than this are not kept at all): a
    #: pool lives as long as its array, and holds its buffers between reads
    _KEPT_BYTES = 64 << 20
    #: smaller chunks are not pooled: malloc serves them from memory it holds already (glibc
    #: maps fresh pages only for blocks from 128 KiB up), and the pool's lock, taken by every
    #: decode of every thread, makes a convoy of many threads decoding small chunks (64
    #: threads of 4x4 reads and single-element writes on 16 KiB chunks: 1.7x the time)
    _MIN_BYTES = 128 << 10

    def __init__(self, make: Callable[[], np.ndarray]):
        self._make = make  # a new writable buffer of the chunk's shape, type and layout
        self._pool: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._limit = -1  # how many buffers to keep (known from the first one made)

    def take(self) -> np.ndarray:
        if self._limit == 0:
            return self._make()
        with self._lock:
            pool = self._pool
            for i in range(len(pool)):
                # References: the list's and getrefcount's argument (the subscript result).
                if sys.getrefcount(pool[i]) == 2 and pool[i].flags.writeable:
                    return pool[i]
            buf = self._make()
            if self._limit < 0:
                small = buf.nbytes < self._MIN_BYTES
                self._limit = 0 if small else min(self._LIMIT, self._KEPT_BYTES // buf.nbytes)
            if len(pool) < self._limit:
                pool.append(buf)
            else:
                # Replace one that is kept elsewhere (e.g. by the chunk cache) for good.
                for i in range(len(pool)):
                    if not pool[i].flags.writeable:
                        pool[i] = buf
                        break
            return buf
