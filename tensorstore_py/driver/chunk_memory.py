"""An up-front check that a chunk buffer can exist on this machine before numpy is asked for it.

Metadata may declare chunks far larger than memory (a hostile or mistaken ``chunks``); reading
a missing chunk of such an array costs nothing, but staging a write or decoding a stored chunk
needs the whole buffer.  Refusing with a ValueError that names the chunk beats a MemoryError
from deep inside numpy (or the machine swapping to death on a lazily committed allocation).
"""

from __future__ import annotations

import math
import os
from typing import Any

from ..errors import resource_exhausted

__all__ = ["check_chunk_memory", "memory_bytes"]


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
