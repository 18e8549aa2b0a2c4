"""What a chunked write stages for one chunk (`chunked.ChunkedArray.write`): the chunk's decoded
form for the writeback (`ChunkForm`), and the source's part for it, copied in (`ChunkMutation`).
A chunk gathered straight from the source instead is a `gather_encodes.GatheredChunk`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..cache.staging import Mutation
from ..future import Future
from .chunk_copy import copy_array, region_shape
from .gather_encodes import EncodedChunk

if TYPE_CHECKING:
    from .chunked import ChunkedArray

__all__ = ["ChunkForm", "ChunkMutation"]


class ChunkForm:
    """A chunk's decoded form for staged writes: the full stored chunk of one grid cell."""

    __slots__ = ("array", "cell", "key", "encoded_chunk", "referenced")

    #: (what `KeyNode` asks a decoded form: this one decodes without the generation, and
    #: several partial mutations never cover a chunk together)
    decode_with_generation = False
    covered_by = None

    def __init__(self, array: "ChunkedArray", cell: tuple[int, ...], key: bytes):
        self.array = array
        self.cell = cell
        self.key = key
        #: the chunk as last encoded for writeback (None if stored as absent, or if the array
        #: has no cache): what the cache holds once the write commits
        self.encoded_chunk: np.ndarray | None = None
        #: the staged chunk when it is a view of a source the caller gave up: the kvstore may
        #: then keep its bytes without a copy
        self.referenced: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChunkForm) and other.array.fmt is self.array.fmt and other.cell == self.cell

    __hash__ = None  # type: ignore[assignment]

    def decode(self, value: bytes | None) -> np.ndarray:
        if value is None:
            return self.array.fmt.new_chunk()
        return self.array._decode(self.key, value, self.cell)

    def encode(self, chunk: "np.ndarray | EncodedChunk") -> bytes | None:
        if type(chunk) is EncodedChunk:
            self.encoded_chunk = None  # (gathered only where nothing is cached)
            return chunk.data
        encoded = self.array._encode(chunk, self.cell, referenced=chunk is self.referenced)
        # Kept only for a cache: a decoded chunk nobody holds goes back to its format's pool
        # (`ChunkBuffers`) for the next chunk's decode.
        self.encoded_chunk = None if encoded is None or self.array.cache is None else chunk
        return encoded


class ChunkMutation(Mutation):
    """Staged data for one chunk: the written box of it (a strided write), or a full stored
    chunk buffer plus a mask of written elements (any other).

    The caller's source is copied in once (`fill`); writeback merges it into whatever is
    stored then, as often as conflicts require, without the source.  A write that covers the
    chunk is a full buffer with no mask, stored without reading.
    """

    __slots__ = ("decoded_form", "needs_read", "ready", "buffer", "mask", "region")

    def __init__(self, form: ChunkForm, covers: bool, region: tuple | None = None, filled_first: bool = False):
        self.decoded_form = form
        self.needs_read = not covers
        #: None for a mutation filled before it is staged (nothing to wait for)
        self.ready: Future | None = None if filled_first else Future()
        self.buffer: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        #: for a partial strided write: the index of the written box in the chunk's component
        #: (`buffer` then holds just that box, so a small write stages a small buffer)
        self.region = region if not covers else None

    def fill(self, cell: Any, take: Callable, mark: Callable, adopt: Callable | None = None,
             take_region: Callable | None = None) -> None:
        """Copies the source's part for `cell` in (`take(cell, component)`, `mark(cell, mask)`;
        `take_region(cell, box)` for a box); a covering write may instead keep the chunk
        `adopt(cell)` returns (a view of a source the caller gave up)."""
        array = self.decoded_form.array
        fmt = array.fmt
        if self.region is not None and take_region is not None:
            array.check_chunk_memory()  # the writeback will hold the whole chunk
            box = np.empty(region_shape(self.region, fmt.chunk_shape), dtype=fmt.numpy_dtype)
            take_region(cell, box)
            box.flags.writeable = False
            self.buffer = box
            return
        self.region = None
        if adopt is not None and not self.needs_read:
            buffer = adopt(cell)
            if buffer is not None:
                self.buffer = buffer
                self.decoded_form.referenced = buffer
                return
        array.check_chunk_memory()
        # A covering write overwrites every element: no need to start from the fill value.
        buffer = fmt.new_chunk() if self.needs_read else fmt.empty_chunk()
        component = fmt.component(buffer)
        take(cell, component)
        if self.needs_read:
            mask = np.zeros(component.shape, dtype=bool)
            mark(cell, mask)
            self.mask = mask
        buffer.flags.writeable = False  # shared by every later merge of this write
        self.buffer = buffer

    def apply_decoded(self, chunk: "np.ndarray | EncodedChunk | None") -> "np.ndarray | EncodedChunk":
        fmt = self.decoded_form.array.fmt
        if self.mask is None and self.region is None:
            return self.buffer  # the whole chunk, whatever came before
        if type(chunk) is EncodedChunk:
            chunk = self.decoded_form.decode(chunk.data)  # an earlier covering write of the node
        if self.region is not None:
            if not chunk.flags.writeable:
                chunk = np.array(chunk, order="K")
            copy_array(fmt.component(chunk)[self.region + (Ellipsis,)], self.buffer)
            return chunk
        if not chunk.flags.writeable:
            chunk = np.array(chunk, order="K")
        np.copyto(fmt.component(chunk), fmt.component(self.buffer), where=self.mask)
        return chunk
