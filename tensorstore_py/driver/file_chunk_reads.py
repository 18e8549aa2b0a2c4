"""Chunks of zarr v2, unsharded zarr3 and n5 arrays stored as Blosc (or Zstandard) frames in a
local `file` store, read, decoded and placed into the reader's output in one step without the GIL
(`_ext.chunkio`).

It takes the common layouts only: a codec chain that is the byte layout of the array's own
(native, C-ordered) type and one compressor, Blosc or Zstandard; and n5 blocks of Blosc frames
(a full block's header, then big-endian elements in reversed dimension order, which the copy
into the output swaps and transposes in the same step).  A chunk it does not take
(missing, refused by the header check, undecodable) is read the ordinary way
(`ChunkedArray._copy_read`), which fills a missing chunk or says what is wrong exactly as it
always has; so it changes how fast chunks are read, never what a read returns or raises.  Its
I/O, decode and copy times and its bytes count in the store's and the driver's statistics as
those of an ordinary read.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import struct
import threading
from typing import Any, Callable

import numpy as np

from .. import metrics

__all__ = ["FileChunkReads", "load_decoders"]

_bind_lock = threading.Lock()
_bound: bool | None = None


def _chunkio() -> Any:
    """`_ext.chunkio` bound to c-blosc2, or None where either is missing."""
    global _bound
    try:
        from .._ext import chunkio
    except ImportError:
        return None
    if _bound is None:
        with _bind_lock:
            if _bound is None:
                _bound = _bind(chunkio)
    return chunkio if _bound else None


def load_decoders(kv: Any) -> None:
    """Binds c-blosc2 now where the process has not tried yet and `kv` is a file store (what
    one-step reads serve): an array is opened before it is read, and loading the library (a
    millisecond or two, once per process) belongs with the opening, as TensorStore resolves
    its codecs when it opens an array.  Whether an array's reads take the one step is still
    decided on its first read."""
    if _bound is None and type(kv).__name__ == "FileDriver" and type(kv).__module__ == "tensorstore_py.kvstore.file":
        _chunkio()


def _bind(chunkio: Any) -> bool:
    # python-blosc2 ships c-blosc2 as a shared library beside its package; loading the library
    # alone spares the package's import (a noticeable fraction of a second).
    spec = importlib.util.find_spec("blosc2")
    if spec is None or not spec.submodule_search_locations:
        return False
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "lib", "libblosc2.so")
        if os.path.exists(path):
            break
    else:
        return False
    try:
        from .._ext import copy as copy_kernels

        lib = ctypes.CDLL(path)
        lib.blosc2_init()
        address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
        chunkio.bind(address(lib.blosc2_create_dctx), address(lib.blosc2_free_ctx),
                     address(lib.blosc2_decompress_ctx), copy_kernels.copy_layout_address())
    except (ImportError, OSError, AttributeError):
        return False
    try:  # the zstd c-blosc2 is built with (1.4 and later have every function used)
        if lib.ZSTD_versionNumber() >= 10400:
            chunkio.bind_zstd(address(lib.ZSTD_createDCtx), address(lib.ZSTD_freeDCtx),
                              address(lib.ZSTD_decompressDCtx), address(lib.ZSTD_getFrameContentSize),
                              address(lib.ZSTD_findFrameCompressedSize), address(lib.ZSTD_isError))
    except AttributeError:
        pass
    return True


def _own(obj: Any, name: str, module: str) -> bool:
    """Whether `obj.name` is the method `module` defines (behind the metrics wrapper)."""
    if name in vars(obj):
        return False
    fn = getattr(type(obj), name, None)
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(fn, "__module__", None) == module


#: The compressors decoded here (exactly these classes: a subclass may decode otherwise).
_CODECS = {
    ("tensorstore_py.codecs.blosc", "BloscCodec"): "BLOSC",
    ("tensorstore_py.codecs.blosc", "ZarrBlosc"): "BLOSC",
    ("tensorstore_py.codecs.simple", "ZstdCodec"): "ZSTD",
    ("tensorstore_py.codecs.simple", "ZarrZstd"): "ZSTD",
}


#: each thread's decode buffer (`FileChunkReads._scratch`), for chunks up to _SCRATCH_MAX bytes
_scratch = threading.local()
_SCRATCH_MIN = 1 << 16
_SCRATCH_MAX = 4 << 20


class FileChunkReads:
    """The one-step chunk reads of one array (see the module docstring)."""

    def __init__(self, chunkio: Any, codec: int, fmt: Any, kv: Any, chain: Any, header: bytes | None = None,
                 swap: int = 0):
        self._chunkio = chunkio
        self._codec = codec
        self._fmt = fmt
        self._kv = kv
        self._kv_metrics = metrics._metrics_of(kv)
        #: the decoded frame's shape and type (C order)
        self._shape = chain.shape
        self._dtype = chain.dtype
        self._nbytes = int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize
        #: n5: the header of a full block (a file not starting with it is read the ordinary
        #: way: a truncated edge block, another mode, a corrupt one), and the byte swap of its
        #: big-endian elements, done by the copy into the output
        self._header = header
        self._swap = swap

    @classmethod
    def for_array(cls, fmt: Any, kv: Any) -> "FileChunkReads | None":
        from ..codecs.bytes_codec import BytesCodec
        from ..kvstore.file import FileDriver

        if type(kv) is not FileDriver or not _own(kv, "read_now", "tensorstore_py.kvstore.file"):
            return None
        # (The formats' modules are loaded already where `fmt` is one of theirs; the other
        # format's drivers are not imported for the asking.)
        kind = (type(fmt).__module__, type(fmt).__name__)
        if kind == ("tensorstore_py.driver.zarr.chunk_format", "ZarrChunkFormat"):
            metadata = fmt.metadata
            if metadata.order != "C" or metadata.dtype.has_fields or fmt.field.field_shape:
                return None
            if fmt.stored_dtype != fmt.numpy_dtype:
                return None
            chain, module = fmt.codecs, "tensorstore_py.driver.zarr.chunk_format"
        elif kind == ("tensorstore_py.driver.zarr3.chunk_format", "Zarr3ChunkFormat"):
            if fmt.levels:
                return None  # sharded: its sub-chunks are read through the shard store
            chain, module = fmt.chain, "tensorstore_py.driver.zarr3.chunk_format"
        elif kind == ("tensorstore_py.driver.n5.chunk_format", "N5ChunkFormat"):
            return cls._for_n5(fmt, kv)
        else:
            return None
        # It stands in for the package's own read and decode: not where either was replaced
        # (instrumented, as tests count calls, on the instance or the class).
        if not (_own(fmt, "decode_chunk_into", module) and _own(fmt, "decode_chunk", module)):
            return None
        dtype = chain.dtype
        if (dtype != fmt.numpy_dtype or dtype.hasobject or tuple(chain.shape) != tuple(fmt.chunk_shape)
                or chain.array_to_array or type(chain.array_to_bytes) is not BytesCodec
                or chain.array_to_bytes._swap or len(chain.bytes_to_bytes) != 1):
            return None
        chunkio = _chunkio()
        if chunkio is None:
            return None
        compressor = type(chain.bytes_to_bytes[0])
        codec = _CODECS.get((compressor.__module__, compressor.__name__))
        codec = None if codec is None else getattr(chunkio, codec)
        if codec is None or not chunkio.bound(codec):
            return None
        return cls(chunkio, codec, fmt, kv, chain)

    @classmethod
    def _for_n5(cls, fmt: Any, kv: Any) -> "FileChunkReads | None":
        """An n5 array whose blocks are Blosc frames behind the block header: the frame is
        decoded (its dimensions reversed, big endian) and the copy into the output swaps the
        bytes and reverses the dimensions, in the one step."""
        from ..codecs.bytes_codec import BytesCodec

        if not _own(fmt, "decode_chunk", "tensorstore_py.driver.n5.chunk_format"):
            return None
        chain, rank = fmt.codecs, len(fmt.chunk_shape)
        block = chain.array_to_bytes
        if rank == 0 or chain.bytes_to_bytes or type(block).__name__ != "N5BlockCodec":
            return None
        reverse = tuple(range(rank - 1, -1, -1))
        if len(chain.array_to_array) != 1 or chain.array_to_array[0].order != reverse:
            return None
        compression = type(block.compression)
        inner = block._inner
        if ((compression.__module__, compression.__name__) != ("tensorstore_py.codecs.blosc", "N5Blosc")
                or inner is None or inner.array_to_array or type(inner.array_to_bytes) is not BytesCodec
                or len(inner.bytes_to_bytes) != 1
                or (type(inner.bytes_to_bytes[0]).__module__, type(inner.bytes_to_bytes[0]).__name__)
                != ("tensorstore_py.codecs.blosc", "BloscCodec")):
            return None
        dtype = inner.dtype
        if dtype != fmt.numpy_dtype or dtype.hasobject or tuple(inner.shape) != tuple(reversed(fmt.chunk_shape)):
            return None
        swap = dtype.itemsize if inner.array_to_bytes._swap else 0
        if swap not in (0, 2, 4, 8):
            return None
        chunkio = _chunkio()
        if chunkio is None or not chunkio.bound(chunkio.BLOSC):
            return None
        # Default mode, the rank, then the block's sizes (n5's dimension order: the array's).
        header = struct.pack(f">HH{rank}I", 0, rank, *fmt.chunk_shape)
        return cls(chunkio, chunkio.BLOSC, fmt, kv, inner, header, swap)

    def _scratch(self) -> np.ndarray | None:
        """This thread's decode buffer as a chunk of this array, or None for a chunk too large
        to keep one of per thread.  A buffer used chunk after chunk is touched (page-faulted)
        once per thread, where a new one per chunk costs its pages again and again in a new
        process, and unmapping it costs every thread a TLB flush."""
        nbytes = self._nbytes
        if nbytes > _SCRATCH_MAX:
            return None
        buffer = getattr(_scratch, "buffer", None)
        if buffer is None or buffer.nbytes < nbytes:
            buffer = _scratch.buffer = np.empty(max(nbytes, _SCRATCH_MIN), np.uint8)
        return buffer[:nbytes].view(self._dtype).reshape(self._shape)

    def read(self, key: bytes, cell: Any, place: Callable, direct: Callable | None) -> bool:
        """Reads the chunk under `key` into the reader's output (as `ChunkedArray._copy_read`
        places it); False if it did not (nothing was placed)."""
        if self._header is not None:
            return self._read_block(key, cell, direct)
        region = direct(cell) if direct is not None else None
        part = None
        if region is not None and region.flags.c_contiguous:
            target, into = region, None  # decoded in place
        else:
            # Decoded into a chunk of its own, then copied into the output in the same step
            # where the output region is known here: then the chunk is this thread's scratch
            # (nothing keeps it), else a new array (handed to `place`).
            part_of = getattr(direct, "part", None) if region is None else None
            target = self._scratch() if region is not None or part_of is not None else None
            scratch = target is not None
            if not scratch:
                target = np.empty(self._shape, self._dtype)
            into = region
            if part_of is not None:
                views = part_of(cell, target)
                if views is not None:
                    into, part = views
                elif scratch:
                    target = np.empty(self._shape, self._dtype)  # handed to `place` below
        stored, read_ns, decode_ns, copy_ns = self._chunkio.read_decode_into(
            os.fsencode(self._kv._path_of(key)), self._codec, target, into, part)
        if stored < 0:
            return False
        self._count(stored, read_ns, decode_ns, copy_ns if into is not None else None)
        if into is None and region is None:
            place(cell, self._fmt.component(target))
        return True

    def _read_block(self, key: bytes, cell: Any, direct: Callable | None) -> bool:
        """`read` of an n5 block: always copied into the output region (the copy swaps the
        bytes and reverses the dimensions); False where the read has no output region to
        give (the ordinary read places the chunk)."""
        region = direct(cell) if direct is not None else None
        part_of = getattr(direct, "part", None) if region is None else None
        if region is None and part_of is None:
            return False
        target = self._scratch()
        if target is None:
            target = np.empty(self._shape, self._dtype)
        chunk = target.transpose()  # the block in the array's dimension order
        if region is not None:
            into, part = region, chunk
        else:
            views = part_of(cell, chunk)
            if views is None:
                return False
            into, part = views
        stored, read_ns, decode_ns, copy_ns = self._chunkio.read_decode_into(
            os.fsencode(self._kv._path_of(key)), self._codec, target, into, part, self._header, self._swap)
        if stored < 0:
            return False
        self._count(stored, read_ns, decode_ns, copy_ns)
        return True

    def _count(self, stored: int, read_ns: int, decode_ns: int, copy_ns: int | None) -> None:
        """The statistics of an ordinary read of the chunk: the store's read, the decode and
        (None: none here) the copy."""
        m = self._kv_metrics
        if m is not None:
            m.read.increment()
            m.read_latency.observe(read_ns / 1e6)
            m.bytes_read.increment(stored)
        metrics.DECODE_SECONDS.increment(decode_ns / 1e9)
        if copy_ns is not None:
            metrics.COPY_SECONDS.increment(copy_ns / 1e9)
