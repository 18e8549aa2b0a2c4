"""Blosc codecs (zarr ``blosc``, n5 ``blosc``): written by python-blosc 1.x (c-blosc 1.x), read
by whichever of c-blosc 1.x and c-blosc2 decodes the frame's compressor faster.

Chunks are written in the Blosc1 frame format (header version 2) that every c-blosc 1.x reader
accepts (c-blosc2 writes its own format, which they do not).  c-blosc2 (python-blosc2) reads
Blosc1 frames too; measured in bench/bench_codecs.py, it decodes zstd frames 1.15-1.35x and zlib
frames 3-10x faster (newer zstd; zlib-ng), but lz4 and blosclz frames about 3 us per call slower
(it sets up a context per call), so those stay with c-blosc 1.x.  Both decode straight into the
caller's buffer with the GIL released.  python-blosc2 is imported on the first frame it decodes:
its import takes a noticeable fraction of a second, which a process that never meets such a
frame should not pay.  Both libraries believe the sizes in a frame's 16-byte header, so
`parse_header` checks them against the buffer before any byte reaches them.
"""

from __future__ import annotations

import collections
import ctypes
import importlib
import struct
import sys
import threading
import types
from typing import Any, NamedTuple

import numpy as np

from ..errors import data_loss, invalid_argument, unimplemented
from ..json_util import ObjectReader
from .base import (
    N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, as_byte_view, choice_member, int_member,
    required_int_member, size_mismatch, uint64_member,
)  # fmt: skip

__all__ = ["BloscCodec", "ZarrBlosc", "N5Blosc", "BloscHeader", "parse_header", "CNAMES"]


def _import_python_blosc() -> Any:
    """python-blosc without the test suite its package ``__init__`` imports (``from blosc.test
    import run as test`` loads unittest, and psutil where installed: 10-20 ms of CPU, more than
    the rest of the package).  A stand-in serves that one import and is removed right after, so
    ``import blosc.test`` still finds the real module; ``blosc.test()`` loads and runs it."""
    if "blosc" in sys.modules or "blosc.test" in sys.modules:
        return importlib.import_module("blosc")

    def run(*args: Any, **kwargs: Any) -> Any:
        real = importlib.import_module("blosc.test")
        package.test = real.run  # importing the submodule bound the module in its place
        return real.run(*args, **kwargs)

    stand_in = types.ModuleType("blosc.test")
    stand_in.run = run  # type: ignore[attr-defined]
    sys.modules["blosc.test"] = stand_in
    try:
        package = importlib.import_module("blosc")
    finally:
        if sys.modules.get("blosc.test") is stand_in:
            del sys.modules["blosc.test"]
    return package


_blosc = _import_python_blosc()
_blosc_ext = _blosc.blosc_extension

#: The compressors TensorStore accepts, in the order its error message lists them.
CNAMES = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"]

NOSHUFFLE, SHUFFLE, BITSHUFFLE, AUTOSHUFFLE = 0, 1, 2, -1

HEADER_SIZE = 16
# c-blosc 1.x refuses buffers above 2**31 - 1 - 16 bytes.
MAX_BUFFER_SIZE = (1 << 31) - 1 - HEADER_SIZE
_MAX_TYPESIZE = 255
_FLAG_MEMCPYED = 0x02
# Compressor codes stored in the top 3 flag bits: blosclz, lz4/lz4hc, snappy, zlib, zstd.
_MAX_COMPRESSOR_CODE = 4
# The compressors compiled into python-blosc's c-blosc (its wheels leave out snappy).
AVAILABLE_CNAMES = frozenset(_blosc.compressor_list())
# Frame compressor codes by library (lz4hc writes the lz4 format).
_FORMAT_NAMES = {0: "blosclz", 1: "lz4", 2: "snappy", 3: "zlib", 4: "zstd"}
AVAILABLE_FORMATS = frozenset(code for code, name in _FORMAT_NAMES.items()
                              if name in AVAILABLE_CNAMES)

# Release the GIL inside c-blosc so chunk codecs run in parallel on executor threads.  Each call
# then uses a private c-blosc context; with one internal thread it does not spawn a thread pool
# per chunk (our executors already provide the parallelism).
_blosc.set_releasegil(True)
_blosc.set_nthreads(1)
#: Buffers smaller than this are coded with the GIL held (c-blosc's global context, used only
#: by GIL holders): a few microseconds of work do not pay for handing the GIL to another thread
#: and waiting to get it back, which with many threads busy costs two thread switches and up
#: to a switch interval (measured: 64 threads of single-element writes to 16 KiB chunks make
#: 5x fewer thread switches and use 15% less CPU).  python-blosc's switch is process-wide, so
#: it is set before each call; a call racing with another's setting only runs the other way.
_RELEASE_GIL_BYTES = 64 << 10
_set_releasegil = _blosc_ext.set_releasegil

# Compressor codes (the top 3 flag bits) whose frames c-blosc2 decodes faster: zlib, zstd.
_C_BLOSC2_FORMATS = frozenset({3, 4})
_blosc2: Any = None
_blosc2_lock = threading.Lock()


def _c_blosc2() -> Any:
    """python-blosc2, imported once, set to release the GIL while it decodes."""
    global _blosc2
    if _blosc2 is None:
        with _blosc2_lock:
            if _blosc2 is None:
                import blosc2

                blosc2.set_releasegil(True)
                _blosc2 = blosc2
    return _blosc2


class BloscHeader(NamedTuple):
    version: int
    versionlz: int
    flags: int
    typesize: int
    nbytes: int
    blocksize: int
    cbytes: int


_HEADER = struct.Struct("<BBBBIII")
_new_header = tuple.__new__  # BloscHeader(...) without the namedtuple's Python-level constructor
_BLOCK_STARTS: dict[int, struct.Struct] = {}


def _block_starts(nblocks: int) -> struct.Struct:
    """The compiled layout of a frame's `nblocks` block offsets (every chunk's decode reads it)."""
    layout = _BLOCK_STARTS.get(nblocks)
    if layout is None:
        layout = _BLOCK_STARTS[nblocks] = struct.Struct(f"<{nblocks}I")
    return layout


def parse_header(src: memoryview) -> BloscHeader:
    """Reads and validates the Blosc1 header of the frame `src` (DATA_LOSS when unsafe)."""
    if len(src) < HEADER_SIZE:
        raise data_loss(f"Invalid blosc-compressed data: {len(src)} bytes is shorter than the "
                        f"{HEADER_SIZE}-byte header")
    h = _new_header(BloscHeader, _HEADER.unpack_from(src, 0))
    if h.version not in (1, 2):
        raise data_loss(f"Invalid blosc-compressed data: unsupported format version {h.version}")
    if h.cbytes != len(src):
        raise data_loss(f"Invalid blosc-compressed data: header gives {h.cbytes} compressed "
                        f"bytes, but the buffer has {len(src)}")
    if h.nbytes > MAX_BUFFER_SIZE:
        raise data_loss(f"Invalid blosc-compressed data: decoded size {h.nbytes} is too large")
    if h.flags & _FLAG_MEMCPYED:
        if h.cbytes != h.nbytes + HEADER_SIZE:
            raise data_loss(f"Invalid blosc-compressed data: stored uncompressed with "
                            f"{h.cbytes} bytes for {h.nbytes} decoded bytes")
        return h
    if (h.flags >> 5) > _MAX_COMPRESSOR_CODE:
        raise data_loss(f"Invalid blosc-compressed data: unknown compressor code {h.flags >> 5}")
    if (h.flags >> 5) not in AVAILABLE_FORMATS:
        name = _FORMAT_NAMES[h.flags >> 5]
        raise unimplemented(f"Blosc chunk is compressed with {name}, which the installed c-blosc "
                            f"lacks")
    if h.nbytes:
        if h.blocksize == 0 or h.typesize == 0:
            raise data_loss("Invalid blosc-compressed data: zero block size or type size")
        nblocks = -(-h.nbytes // h.blocksize)
        # Each block has a 4-byte start offset after the header, then at least one byte.
        if HEADER_SIZE + 4 * nblocks > h.cbytes:
            raise data_loss(f"Invalid blosc-compressed data: {nblocks} blocks cannot fit in "
                            f"{h.cbytes} bytes")
        # struct is quicker than numpy for the few blocks of a typical chunk.
        starts = (_block_starts(nblocks).unpack_from(src, HEADER_SIZE) if nblocks <= 256
                  else np.frombuffer(src, dtype="<u4", count=nblocks, offset=HEADER_SIZE))
        if nblocks and (int(min(starts)) < HEADER_SIZE + 4 * nblocks
                        or int(max(starts)) >= h.cbytes):
            raise data_loss("Invalid blosc-compressed data: block offsets out of range")
    return h


class _BlocksizeGate:
    """Serialises changes of python-blosc's process-wide forced block size.

    python-blosc reads the forced block size from a global inside each compress call, so calls
    that need different block sizes must not overlap; calls that agree run concurrently.

    A call that needs the block size already set takes no lock: it holds a token (an item of
    `_tokens`, whose appends and pops are atomic) and checks that no change is pending.  Every
    chunk encode passes here, and a lock taken by every encode of every thread is a convoy
    under the GIL.  A change waits, under `_cond`, until no token is held; ordering makes it
    sound: a caller appends its token before it looks for a pending change, a change is
    announced (`_changing`) before it looks for tokens, so one of the two always sees the
    other.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._value = 0
        self._tokens: collections.deque = collections.deque()  # one per compress in flight
        self._changing = 0  # callers in `_acquire_slow` (written under `_cond`)

    def acquire(self, blocksize: int) -> None:
        self._tokens.append(None)
        if blocksize == self._value and not self._changing:
            return
        self.release()  # give the token back: it may be what a change is waiting for
        self._acquire_slow(blocksize)

    def _acquire_slow(self, blocksize: int) -> None:
        with self._cond:
            self._changing += 1
            try:
                while self._tokens and self._value != blocksize:
                    self._cond.wait()
                if self._value != blocksize:
                    _blosc.set_blocksize(blocksize)
                    self._value = blocksize
                self._tokens.append(None)
            finally:
                self._changing -= 1
                self._cond.notify_all()  # a caller of the same block size may go on too

    def release(self) -> None:
        self._tokens.pop()
        if self._changing:
            with self._cond:
                self._cond.notify_all()


_GATE = _BlocksizeGate()


class BloscCodec(Codec):
    """Blosc1 frames with the given compressor, level, shuffle mode and forced block size.

    `shuffle` -1 (zarr only) picks bit-shuffle for 1-byte elements, byte-shuffle otherwise;
    `blocksize` 0 lets c-blosc choose.
    """

    inferred_options = ("typesize", "shuffle")

    def __init__(self, cname: str = "lz4", clevel: int = 5, shuffle: int = AUTOSHUFFLE,
                 blocksize: int = 0, typesize: int | None = None):
        # Options may be None in a constraint that leaves them open (see codecs/chain.py).
        if cname is not None and cname not in CNAMES:
            raise invalid_argument(f"Expected one of {','.join(CNAMES)}, but received: {cname!r}")
        self.cname = cname
        self.clevel = clevel
        self.shuffle = shuffle
        self.blocksize = blocksize
        # The element size given to c-blosc; None: the itemsize the caller passes to `encode`.
        self.typesize = typesize

    def resolve_for_itemsize(self, itemsize: int | None) -> "BloscCodec":
        """This codec with the automatic shuffle and the type size made explicit for elements
        of `itemsize` bytes (None: unknown; 1 without shuffling)."""
        shuffle = self.shuffle
        if shuffle is None or shuffle == AUTOSHUFFLE:
            # An explicit type size decides, as in TensorStore; with no element size known
            # (after another bytes -> bytes codec) nothing is shuffled.
            size = self.typesize if self.typesize is not None else itemsize
            shuffle = NOSHUFFLE if size is None else BITSHUFFLE if size == 1 else SHUFFLE
        typesize = self.typesize
        if shuffle == NOSHUFFLE:
            # Without shuffling the type size only steers c-blosc's block splitting; TensorStore
            # leaves it out of the JSON and compresses as bytes, so do the same.
            typesize = 1
        elif typesize is None and itemsize is None:
            raise invalid_argument("typesize must be specified explicitly because inferred "
                                   "itemsize -1/8 is not supported by Blosc")
        elif typesize is None:
            typesize = min(max(itemsize, 1), _MAX_TYPESIZE)
        resolved = BloscCodec(self.cname, self.clevel, shuffle, self.blocksize, typesize)
        return resolved

    def params(self) -> dict[str, Any]:
        return {"blocksize": self.blocksize, "clevel": self.clevel, "cname": self.cname,
                "shuffle": self.shuffle}

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        src = as_byte_view(data)
        if src.nbytes > MAX_BUFFER_SIZE:
            raise invalid_argument(f"Blosc cannot compress {src.nbytes} bytes; the limit is "
                                   f"{MAX_BUFFER_SIZE}")
        if self.cname not in AVAILABLE_CNAMES:
            raise unimplemented(f"Blosc compressor {self.cname!r} is not available in the "
                                f"installed c-blosc (available: {sorted(AVAILABLE_CNAMES)})")
        clevel, shuffle, typesize, cname, blocksize = self.compress_arguments(itemsize)
        _GATE.acquire(blocksize)
        try:
            _set_releasegil(src.nbytes >= _RELEASE_GIL_BYTES)
            return _blosc_ext.compress(src, typesize, clevel, shuffle, cname)
        finally:
            _GATE.release()

    def compress_arguments(self, itemsize: int) -> tuple[int, int, int, str, int]:
        """(clevel, shuffle, typesize, cname, forced block size) that c-blosc compresses data
        of `itemsize`-byte elements with (also what `_ext.chunkio.gather_encode` takes)."""
        shuffle = self.shuffle
        if shuffle == AUTOSHUFFLE:
            shuffle = BITSHUFFLE if itemsize == 1 else SHUFFLE
        if self.typesize is not None:
            itemsize = self.typesize
        # c-blosc treats elements wider than 255 bytes as single bytes; say so explicitly.
        typesize = itemsize if 1 <= itemsize <= _MAX_TYPESIZE else 1
        return self.clevel, shuffle, typesize, self.cname, min(self.blocksize, MAX_BUFFER_SIZE)

    def decode(self, data: Any, out: Any = None, expected_size: int | None = None) -> Any:
        if (type(data) is bytes and type(out) is memoryview and out.format == "B" and out.ndim == 1
                and not out.readonly and out.c_contiguous
                and (expected_size is None or expected_size == out.nbytes)):
            # `Codec.decode` for what every chunk decode passes (stored bytes into a whole
            # chunk buffer), without re-checking the views.
            self._decode_into(memoryview(data), out)
            return out
        return super().decode(data, out, expected_size)

    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        header = parse_header(src)
        if expected_size is not None and header.nbytes != expected_size:
            raise size_mismatch(header.nbytes, expected_size, "blosc")
        if header.nbytes == 0:
            return b""
        try:
            # Both allocate the result without zero-filling it first; one thread: our executors
            # decode chunks in parallel already.
            if _uses_c_blosc2(header):
                return _c_blosc2().decompress2(src, nthreads=1)
            _set_releasegil(header.nbytes >= _RELEASE_GIL_BYTES)
            return _blosc_ext.decompress(src, False)
        except Exception as exc:  # each library raises its own error types
            raise data_loss(f"Invalid blosc-compressed data: {exc}") from None

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        header = parse_header(src)
        if header.nbytes != dst.nbytes:
            raise size_mismatch(header.nbytes, dst.nbytes, "blosc")
        self._run(src, dst, header)

    @staticmethod
    def _run(src: memoryview, dst: memoryview, header: BloscHeader) -> None:
        if header.nbytes == 0:
            return
        try:
            if _uses_c_blosc2(header):
                _c_blosc2().decompress2(src, dst=dst, nthreads=1)
            else:
                # (ctypes finds the address in a tenth of the time numpy's .ctypes.data takes.)
                _set_releasegil(header.nbytes >= _RELEASE_GIL_BYTES)
                _blosc_ext.decompress_ptr(src, ctypes.addressof(ctypes.c_char.from_buffer(dst)))
        except Exception as exc:  # each library raises its own error types
            raise data_loss(f"Invalid blosc-compressed data: {exc}") from None


def _uses_c_blosc2(header: BloscHeader) -> bool:
    return not header.flags & _FLAG_MEMCPYED and (header.flags >> 5) in _C_BLOSC2_FORMATS


def _element_typesize(codec: BloscCodec, itemsize: int | None) -> BloscCodec:
    """zarr v2 and n5 hand c-blosc the element size whatever the shuffle (unlike zarr3, which
    compresses unshuffled data as bytes): the options `encode` would pick, made explicit."""
    size = codec.typesize if codec.typesize is not None else (itemsize or 1)
    shuffle = codec.shuffle
    if shuffle == AUTOSHUFFLE:
        shuffle = BITSHUFFLE if size == 1 else SHUFFLE
    typesize = size if 1 <= size <= _MAX_TYPESIZE else 1
    return BloscCodec(codec.cname, codec.clevel, shuffle, codec.blocksize, typesize)


@ZARR_COMPRESSORS.register("blosc")
class ZarrBlosc(BloscCodec):
    """zarr v2 ``{"id": "blosc", "cname", "clevel", "shuffle", "blocksize"}``."""

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "ZarrBlosc":
        cname = choice_member(reader, "cname", CNAMES, "lz4")
        clevel = int_member(reader, "clevel", 0, 9, 5)
        shuffle = int_member(reader, "shuffle", -1, 2, AUTOSHUFFLE)
        blocksize = uint64_member(reader, "blocksize", 0)
        return cls(cname, clevel, shuffle, blocksize)

    resolve_for_itemsize = _element_typesize


@N5_COMPRESSIONS.register("blosc")
class N5Blosc(BloscCodec):
    """n5 ``{"type": "blosc", ...}``: cname, clevel and shuffle (0..2) are required."""

    def __init__(self, cname: str = "lz4", clevel: int = 5, shuffle: int = SHUFFLE,
                 blocksize: int = 0):
        super().__init__(cname, clevel, shuffle, blocksize)

    @classmethod
    def from_members(cls, reader: ObjectReader) -> "N5Blosc":
        cname = choice_member(reader, "cname", CNAMES, None)
        clevel = required_int_member(reader, "clevel", 0, 9)
        shuffle = required_int_member(reader, "shuffle", 0, 2)
        blocksize = uint64_member(reader, "blocksize", 0)
        return cls(cname, clevel, shuffle, blocksize)

    resolve_for_itemsize = _element_typesize
