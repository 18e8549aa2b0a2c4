"""Chunks a write covers whole, gathered from the writer's source and encoded as Blosc frames in
one step without the GIL (`_ext.chunkio.gather_encode`), for zarr v2 and unsharded zarr3
arrays.

A thread filling a covered chunk gave the GIL up twice per chunk (the copy into a chunk
buffer, then the compressor) and allocated a fresh chunk buffer, whose pages the kernel faults
in and zeroes, for every chunk of every write; here the copy goes to a buffer the allocator
reuses and straight on to c-blosc.  The bytes are those python-blosc writes (the same c-blosc
function with the same arguments), and a chunk equal to the fill value is still not stored.

It takes the common layout only, the one `file_chunk_reads` reads: a codec chain that is the
byte layout of the array's own (native, C-ordered) type and one Blosc compressor whose
compressor c-blosc has.  Anything else (and every chunk where the encoder is not bound) is
encoded the ordinary way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import metrics
from ..cache.staging import Mutation
from .chunk_copy import copy_array
from .file_chunk_reads import UNBUFFERED, bound_chunkio, buffer_view_dtype, one_compressor_chain, own_method

__all__ = ["GatherEncoder", "EncodedChunk", "GatheredChunk"]

def _bind(chunkio: Any) -> bool:
    from .._ext import copy as copy_kernels
    from ..codecs import blosc
    from ..codecs.blosc_symbols import compress_ctx_address

    address = compress_ctx_address(blosc._blosc_ext)
    if address is None:
        return False
    chunkio.bind_encoder(address, copy_kernels.copy_layout_address())
    # The function found must be the one python-blosc calls: same frame, byte for byte.
    sample = (np.arange(2048, dtype=np.float32) % 37).reshape(32, 64)[:, ::2]
    codec = blosc.BloscCodec("lz4", 5, blosc.SHUFFLE, 0, 4)
    frame, _, _ = chunkio.gather_encode(sample, 5, blosc.SHUFFLE, 4, b"lz4", 0)
    if frame != codec.encode(np.ascontiguousarray(sample), 4):
        chunkio.bind_encoder(0, 0)
        return False
    return True


#: `_ext.chunkio` bound to c-blosc 1.x's compressor, or None.
_chunkio = bound_chunkio(_bind)


#: The compressors encoded here (exactly these classes: a subclass may encode otherwise).
_CODECS = {("tensorstore_py.codecs.blosc", "BloscCodec"), ("tensorstore_py.codecs.blosc", "ZarrBlosc")}


class GatherEncoder:
    """The one-step encodes of one array's covered chunks (see the module docstring)."""

    __slots__ = ("_chunkio", "_arguments", "_fill", "_view")

    def __init__(self, chunkio: Any, arguments: tuple, fill: np.ndarray | None, view: np.dtype | None):
        self._chunkio = chunkio
        self._arguments = arguments
        self._fill = fill
        #: the unsigned type the elements are handed over as, for a type numpy cannot export
        #: through the buffer protocol (bfloat16 ...); None: as they are
        self._view = view

    @classmethod
    def for_format(cls, fmt: Any, store_fill: bool) -> "GatherEncoder | None":
        """The encoder of `fmt`'s chunks, or None where it does not take them;
        `store_fill`: chunks equal to the fill value are stored too."""
        from ..codecs import blosc

        found = one_compressor_chain(fmt)
        if found is None:
            return None
        chain, module = found
        # It stands in for the format's own encode: not where that was replaced.
        if not all(own_method(fmt, name, module) for name in ("encode_chunk", "encode_full_chunk", "_equals_fill")):
            return None
        if module == "tensorstore_py.driver.zarr.chunk_format":  # a null fill value elides nothing
            elides = not store_fill and not all(v is None for v in fmt.metadata.fill_values)
        else:
            elides = not store_fill
        dtype = chain.dtype
        codec = chain.bytes_to_bytes[0]
        if (type(codec).__module__, type(codec).__name__) not in _CODECS:
            return None
        clevel, shuffle, typesize, cname, blocksize = codec.compress_arguments(chain._itemsize)
        nbytes = math.prod(fmt.chunk_shape) * dtype.itemsize
        if cname not in blosc.AVAILABLE_CNAMES or nbytes > blosc.MAX_BUFFER_SIZE or nbytes == 0:
            return None
        chunkio = _chunkio()
        if chunkio is None:
            return None
        view = buffer_view_dtype(dtype)
        if view is UNBUFFERED:
            return None
        fill = np.ascontiguousarray(fmt.new_chunk()).reshape(-1).view(np.uint8) if elides else None
        return cls(chunkio, (clevel, shuffle, typesize, cname.encode(), blocksize), fill, view)

    def encode(self, region: np.ndarray) -> "EncodedChunk | None":
        """The stored bytes of a chunk holding `region`, or None if c-blosc failed (the chunk
        is then encoded the ordinary way, which reports it)."""
        if self._view is not None:
            region = region.view(self._view)
        frame, copy_ns, encode_ns = self._chunkio.gather_encode(region, *self._arguments, self._fill)
        if type(frame) is int:
            return None
        metrics.COPY_SECONDS.increment(copy_ns / 1e9)
        metrics.ENCODE_SECONDS.increment(encode_ns / 1e9)
        return EncodedChunk(frame)


class EncodedChunk:
    """A covered chunk's stored bytes, encoded straight from the source; None: the chunk
    equals the fill value and is not stored.  What a chunk's writeback works on is either
    this or the chunk array (`chunked.ChunkForm`)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | None):
        self.data = data


class GatheredChunk(Mutation):
    """A chunk a write covers whole, staged as the part of the writer's source it takes:
    its writeback (on the store's pool) gathers and encodes it in one step, and stores it.
    Nothing is copied before: the write's `copy` completes once every such chunk is stored."""

    __slots__ = ("decoded_form", "_encoder", "_region")

    needs_read = False
    ready = None

    def __init__(self, form: Any, encoder: GatherEncoder, region: np.ndarray):
        self.decoded_form = form
        self._encoder = encoder
        self._region = region

    def apply_decoded(self, chunk: Any) -> Any:
        array = self.decoded_form.array
        array.check_chunk_memory()  # (a chunk's worth is gathered, and a frame as large)
        encoded = self._encoder.encode(self._region)
        if encoded is not None:
            return encoded
        fmt = array.fmt
        chunk = fmt.empty_chunk()
        copy_array(fmt.component(chunk), self._region)
        return chunk
