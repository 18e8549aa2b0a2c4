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

def bound_chunkio(bind: Callable[[Any], bool]) -> Callable[[], Any]:
    """A function giving `_ext.chunkio` once ``bind(chunkio)`` (run once, on first call) has
    bound what it needs, or None where the extension or what `bind` looks for is missing."""
    lock = threading.Lock()
    bound: list = [None]

    def chunkio_if_bound() -> Any:
        try:
            from .._ext import chunkio
        except ImportError:
            return None
        if bound[0] is None:
            with lock:
                if bound[0] is None:
                    bound[0] = bind(chunkio)
        return chunkio if bound[0] else None

    return chunkio_if_bound


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

        # (binding its symbols lazily: the few used are resolved on their first call, and
        # loading it takes a third less time than resolving all of them up front)
        lib = ctypes.CDLL(path, mode=os.RTLD_LAZY | os.RTLD_LOCAL)
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


#: `_ext.chunkio` bound to c-blosc2, or None where either is missing.
_chunkio = bound_chunkio(_bind)


def load_decoders(kv: Any) -> None:
    """Binds c-blosc2 now where `kv` is a file store (what one-step reads serve): an array is
    opened before it is read, and loading the library (a millisecond or two, once per
    process) belongs with the opening, as TensorStore resolves its codecs when it opens an
    array.  Whether an array's reads take the one step is still decided on its first read."""
    if type(kv).__name__ == "FileDriver" and type(kv).__module__ == "tensorstore_py.kvstore.file":
        _chunkio()


def one_compressor_chain(fmt: Any, sharded: bool = False) -> tuple[Any, str] | None:
    """``(codec chain, format module)`` of a zarr v2 or unsharded zarr3 chunk format (with
    `sharded`, also a zarr3 format of one sharding level: its sub-chunks' chain) whose
    chunks are stored as their elements lie in a C-order array of its dtype, through one
    bytes -> bytes codec; None for any other format or chain."""
    from ..codecs.bytes_codec import BytesCodec

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
        if fmt.levels and (not sharded or len(fmt.levels) != 1):
            return None  # sharded: its sub-chunks are read and written through the shard store
        chain, module = fmt.chain, "tensorstore_py.driver.zarr3.chunk_format"
    else:
        return None
    dtype = chain.dtype
    if (dtype != fmt.numpy_dtype or dtype.hasobject or tuple(chain.shape) != tuple(fmt.chunk_shape)
            or chain.array_to_array or type(chain.array_to_bytes) is not BytesCodec
            or chain.array_to_bytes._swap or len(chain.bytes_to_bytes) != 1):
        return None
    return chain, module


def own_method(obj: Any, name: str, module: str) -> bool:
    """Whether `obj.name` is the method `module` defines (behind the metrics wrapper)."""
    if name in vars(obj):
        return False
    fn = getattr(type(obj), name, None)
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(fn, "__module__", None) == module


#: What `buffer_view_dtype` gives for a type with no unsigned type of its size.
UNBUFFERED: Any = object()


def buffer_view_dtype(dtype: np.dtype) -> Any:
    """None if arrays of `dtype` export their memory through the buffer protocol (which
    `_ext.chunkio` takes them by), else the unsigned type of its size to view them as
    (numpy exports no buffer of bfloat16 and the other ml_dtypes types), or `UNBUFFERED`."""
    try:
        memoryview(np.empty(1, dtype))
        return None
    except (ValueError, TypeError):
        pass
    if dtype.itemsize not in (1, 2, 4, 8):
        return UNBUFFERED
    return np.dtype(f"u{dtype.itemsize}")


#: The compressors decoded here (exactly these classes: a subclass may decode otherwise).
_CODECS = {
    ("tensorstore_py.codecs.blosc", "BloscCodec"): "BLOSC",
    ("tensorstore_py.codecs.blosc", "ZarrBlosc"): "BLOSC",
    ("tensorstore_py.codecs.simple", "ZstdCodec"): "ZSTD",
    ("tensorstore_py.codecs.simple", "ZarrZstd"): "ZSTD",
}


class FileChunkReads:
    """The one-step chunk reads of one array (see the module docstring)."""

    def __init__(self, chunkio: Any, codec: int, fmt: Any, kv: Any, chain: Any, header: bytes | None = None,
                 swap: int = 0, shards: Any = None):
        self._chunkio = chunkio
        self._codec = codec
        self._fmt = fmt
        self._kv = kv
        #: a zarr3 array's shard store on `kv`: its sub-chunks are byte ranges of shard files
        self._shards = shards
        #: how many chunks a read takes on the calling thread (decoded side by side)
        self.inline_chunks: int = getattr(kv, "inline_read_chunks", 0)
        self._kv_metrics = metrics._metrics_of(kv)
        #: each chunk key's file path, as `read_decode_into` takes it (bounded: cleared when full)
        self._paths: dict[bytes, bytes] = {}
        self._shape = tuple(chain.shape)
        self._dtype = np.dtype(chain.dtype)
        #: the type the chunk and the output are handed to `chunkio` as (None: their own)
        self._view = buffer_view_dtype(chain.dtype)
        #: n5: the header of a full block (a file not starting with it is read the ordinary
        #: way: a truncated edge block, another mode, a corrupt one), and the byte swap of its
        #: big-endian elements, done by the copy into the output
        self._header = header
        self._swap = swap

    @classmethod
    def for_array(cls, fmt: Any, kv: Any) -> "FileChunkReads | None":
        from ..kvstore.file import FileDriver

        shards = None
        if (type(kv).__module__, type(kv).__name__) == ("tensorstore_py.driver.zarr3.sharded_store", "ShardedStore"):
            # Sub-chunks of shards in a file store: each is read as its byte range of the shard
            # (where the shard's index says it is), which the read checks is still that file.
            if not own_method(kv, "read_now", "tensorstore_py.driver.zarr3.sharded_store"):
                return None
            shards, kv = kv, kv.base
        if type(kv) is not FileDriver or not own_method(kv, "read_now", "tensorstore_py.kvstore.file"):
            return None
        if (type(fmt).__module__, type(fmt).__name__) == ("tensorstore_py.driver.n5.chunk_format", "N5ChunkFormat"):
            return cls._for_n5(fmt, kv)
        found = one_compressor_chain(fmt, sharded=shards is not None)
        if found is None:
            return None
        chain, module = found
        # It stands in for the package's own read and decode: not where either was replaced
        # (instrumented, as tests count calls, on the instance or the class).
        if not (own_method(fmt, "decode_chunk_into", module) and own_method(fmt, "decode_chunk", module)):
            return None
        dtype = chain.dtype
        chunkio = _chunkio()
        if chunkio is None:
            return None
        compressor = type(chain.bytes_to_bytes[0])
        codec = _CODECS.get((compressor.__module__, compressor.__name__))
        codec = None if codec is None else getattr(chunkio, codec)
        if codec is None or not chunkio.bound(codec) or buffer_view_dtype(dtype) is UNBUFFERED:
            return None
        return cls(chunkio, codec, fmt, kv, chain, shards=shards)

    @classmethod
    def _for_n5(cls, fmt: Any, kv: Any) -> "FileChunkReads | None":
        """An n5 array whose blocks are Blosc frames behind the block header: the frame is
        decoded (its dimensions reversed, big endian) and the copy into the output swaps the
        bytes and reverses the dimensions, in the one step."""
        from ..codecs.bytes_codec import BytesCodec

        if not own_method(fmt, "decode_chunk", "tensorstore_py.driver.n5.chunk_format"):
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
        if buffer_view_dtype(dtype) is not None:
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
            # Decoded into this thread's scratch chunk, then copied into the output in the
            # same step where the output region is known here.
            target, into = _scratch_chunk(self._shape, self._dtype), region
            if region is None and hasattr(direct, "part"):
                views = direct.part(cell, target)
                if views is not None:
                    into, part = views
        if not self._read_into(key, target, into, part):
            return False
        if into is None and region is None:
            place(cell, self._fmt.component(target))
        return True

    def read_many(self, keys: list, cells: list, place: Callable, direct: Callable | None) -> list:
        """`read` of several chunks in one GIL-free step, this thread and helper threads
        decoding them side by side; per chunk, whether it was read (those that were not
        were not placed)."""
        if self._header is not None:  # (n5 blocks: one after another)
            return [self._read_block(key, cell, direct) for key, cell in zip(keys, cells)]
        chunkio = self._chunkio
        _start_helpers(chunkio)
        jobs = []
        later = []  # per chunk: the decoded chunk to place once the step is done, or None
        for i, (key, cell) in enumerate(zip(keys, cells)):
            region = direct(cell) if direct is not None else None
            part = None
            if region is not None and region.flags.c_contiguous:
                target, into = region, None
            else:
                # A scratch chunk of its own: the chunks are decoded at the same time.
                target, into = _scratch_chunk(self._shape, self._dtype, i), region
                if region is None and hasattr(direct, "part"):
                    views = direct.part(cell, target)
                    if views is not None:
                        into, part = views
            where = self._locate(key)
            if where is None:
                later.append(False)  # (not one frame of a file: read the ordinary way)
                continue
            jobs.append((where[0], self._codec) + self._as_buffers(target, into, part) + where[1])
            later.append(target if into is None and region is None else None)
        outcomes = iter(chunkio.read_decode_many(jobs))
        jobs_left = iter(jobs)
        taken = []
        for target, cell in zip(later, cells):
            if target is False:
                taken.append(False)
                continue
            outcome, job = next(outcomes), next(jobs_left)
            if outcome[0] < 0:
                taken.append(False)
                continue
            self._count(outcome, job[3] is not None)
            if target is not None:
                place(cell, self._fmt.component(target))
            taken.append(True)
        return taken

    def read_for_all(self, key: bytes, waiters: list) -> bool:
        """Reads the chunk under `key` once and places it for each of `waiters` (``(cell,
        place)`` pairs, as `read` places it); False if it did not (nothing was placed)."""
        if self._header is not None:
            return False  # an n5 block is only decoded straight into an output region
        target = _scratch_chunk(self._shape, self._dtype)
        if not self._read_into(key, target, None, None):
            return False
        chunk = self._fmt.component(target)
        for cell, place in waiters:
            place(cell, chunk)
        return True

    def _read_block(self, key: bytes, cell: Any, direct: Callable | None) -> bool:
        """`read` of an n5 block: always copied into the output region (the copy swaps the
        bytes and reverses the dimensions); False where the read has no output region to
        give (the ordinary read places the chunk)."""
        region = direct(cell) if direct is not None else None
        part_of = getattr(direct, "part", None) if region is None else None
        if region is None and part_of is None:
            return False
        target = _scratch_chunk(self._shape, self._dtype)
        chunk = target.transpose()  # the block in the array's dimension order
        if region is not None:
            into, part = region, chunk
        else:
            views = part_of(cell, chunk)
            if views is None:
                return False
            into, part = views
        outcome = self._chunkio.read_decode_into(self._path(key), self._codec, target, into, part,
                                                 self._header, self._swap)
        if outcome[0] < 0:
            return False
        self._count(outcome, True)
        return True

    def _read_into(self, key: bytes, target: np.ndarray, into: np.ndarray | None, part: np.ndarray | None) -> bool:
        where = self._locate(key)
        if where is None:
            return False
        outcome = self._chunkio.read_decode_into(where[0], self._codec, *self._as_buffers(target, into, part),
                                                 *where[1])
        if outcome[0] < 0:
            return False
        self._count(outcome, into is not None)
        return True

    def _as_buffers(self, target: np.ndarray, into: np.ndarray | None, part: np.ndarray | None) -> tuple:
        """The arrays as `chunkio` takes them: viewed as unsigned integers of their size where
        numpy exports no buffer of their type."""
        view = self._view
        if view is None:
            return target, into, part
        return (target.view(view), None if into is None else into.view(view),
                None if part is None else part.view(view))

    def _locate(self, key: bytes) -> tuple[bytes, tuple] | None:
        """(file path, the further arguments of `read_decode_into` that place the frame in it)
        of the chunk stored under `key`; None where it is not simply one frame of a file (a
        missing or doubtful sub-chunk: the ordinary read fills it or says what is wrong)."""
        if self._shards is None:
            return self._path(key), ()
        where = self._shards.entry_location(key)
        if where is None:
            return None
        path, offset, length, identity = where
        # (header, swap: none for zarr3 sub-chunks)
        return os.fsencode(path), (None, 0, offset, length, identity)

    def _path(self, key: bytes) -> bytes:
        path = self._paths.get(key)
        if path is None:
            path = os.fsencode(self._kv._path_of(key))  # (raises on a key that names no file)
            if len(self._paths) >= 4096:
                self._paths.clear()
            self._paths[key] = path
        return path

    def _count(self, outcome: tuple, copied: bool) -> None:
        """The statistics of a chunk read in one step, as those of an ordinary read."""
        stored, read_ns, decode_ns, copy_ns = outcome
        m = self._kv_metrics
        if m is not None:
            m.read.increment()
            m.read_latency.observe(read_ns / 1e6)
            m.bytes_read.increment(stored)
        metrics.DECODE_SECONDS.increment(decode_ns / 1e9)
        if copied:
            metrics.COPY_SECONDS.increment(copy_ns / 1e9)


#: A chunk decoded only to be copied out is decoded into a buffer its thread keeps for the next
#: one: faulting in fresh pages costs ~10% of a 512 KiB chunk's read and decode.  A thread
#: keeps at most this many bytes of them (beyond, chunks get buffers of their own).
_SCRATCH_BYTES = 8 << 20
_scratch = threading.local()


def _scratch_chunk(shape: tuple, dtype: np.dtype, index: int = 0) -> np.ndarray:
    """This thread's scratch buffer `index` as an array of `shape` and `dtype` (its contents
    are anything; it is overwritten by the next chunk this thread reads into it)."""
    views = getattr(_scratch, "views", None)
    if views is None:
        views = _scratch.views = {}
        _scratch.buffers = []
    view = views.get((shape, dtype, index))
    if view is not None:
        return view
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if nbytes * (index + 1) > _SCRATCH_BYTES:
        return np.empty(shape, dtype)
    buffers = _scratch.buffers
    while len(buffers) <= index:
        buffers.append(None)
    buffer = buffers[index]
    if buffer is None or buffer.nbytes < nbytes or len(views) >= 64:
        if buffer is None or buffer.nbytes < nbytes:
            buffer = buffers[index] = np.empty(nbytes, np.uint8)
        views.clear()
    view = views[(shape, dtype, index)] = buffer[:nbytes].view(dtype).reshape(shape)
    return view


#: The pid the helper threads were last checked for (a forked child starts its own).
_helpers_pid = 0


def _start_helpers(chunkio: Any) -> None:
    global _helpers_pid
    pid = os.getpid()
    if pid != _helpers_pid:
        # One helper fewer than the CPUs this process may use (the caller is one), at most 3:
        # a one-step read of several chunks takes at most 4 (`FileDriver.inline_read_chunks`).
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        chunkio.start_helpers(max(0, min(3, cpus - 1)))
        _helpers_pid = pid
