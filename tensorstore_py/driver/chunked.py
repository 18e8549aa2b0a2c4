"""The chunked engine every chunked format shares.

A format package supplies a `ChunkFormat` (keys, encode/decode, fill); this module turns reads
and writes through an `IndexTransform` into per-chunk kvstore operations:

* read: each chunk is fetched through the kvstore, decoded and copied into the output on the
  data-copy executor, all chunks in flight at once;
* write: a chunk the write covers entirely is encoded straight from the source; any other is
  read, merged and written back on the condition that its generation has not changed, retrying
  on conflict, so concurrent writers never lose each other's data.  A chunk that ends up equal
  to the fill value is deleted rather than stored, as TensorStore does.
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import functools
import time
from typing import Any, Callable, Sequence

import numpy as np

from .. import future as futures
from .. import metrics
from ..batch import batched_read
from ..cache.rmw import ENCODE_HERE
from ..cache.staging import Mutation, ValueMutation, write_now
from ..errors import StatusError, failed_precondition, not_found
from ..future import Future
from ..index.compose import propagate_bounds
from ..json_util import dumps
from ..kvstore.byte_parts import SourceReference
from ..kvstore.driver import ReadOptions, WriteOptions
from ..kvstore.generation import NO_VALUE, UNKNOWN
from . import partition
from ..index import IndexDomain
from .chunk_cache import cache_for_pool, staleness_bound
from .chunk_copy import (
    DirectRegions, adopt_region, copy_array, place_points, place_strided, source_part, take_points,
    take_strided, whole_chunk_region,
)  # fmt: skip
from .file_chunk_reads import FileChunkReads, load_decoders
from .chunk_mutations import ChunkForm, ChunkMutation
from .gather_encodes import GatherEncoder, GatheredChunk
from .chunk_memory import check_chunk_memory, empty_output, missing_chunk_extent
from .shared_reads import SharedChunkReads

_READ_ALL = ReadOptions()
_UNKNOWN: Any = object()
#: Writes of at most this many source bytes are staged on the caller's thread.
_FILL_INLINE_BYTES = 64 << 10

__all__ = ["ChunkFormat", "ChunkedArray", "WriteFutures", "copy_array"]


class ChunkFormat(abc.ABC):
    """What a format tells the engine about one opened array (one metadata snapshot)."""

    #: Shape of one grid cell over every array dimension.
    chunk_shape: tuple[int, ...]
    #: The array's shape; its domain is [origin, origin + shape).
    shape: tuple[int, ...]
    #: Where the domain and the chunk grid start (cell k of dim d begins at origin + k * chunk).
    origin: tuple[int, ...] | None = None
    #: User-visible element dtype (native byte order).
    numpy_dtype: np.dtype
    #: True when writing the component rewrites the whole stored chunk (no other fields).
    component_covers_chunk: bool = True

    @abc.abstractmethod
    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        """The kvstore key of a grid cell."""

    @abc.abstractmethod
    def decode_chunk(self, data: bytes, cell: tuple[int, ...]) -> np.ndarray:
        """The full stored chunk of grid cell `cell` from its encoded bytes (raise on corrupt data)."""

    @abc.abstractmethod
    def new_chunk(self) -> np.ndarray:
        """A writable full stored chunk holding the fill value."""

    @abc.abstractmethod
    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes | None:
        """Encoded bytes of the full stored chunk of `cell`; None if it equals the fill value."""

    @abc.abstractmethod
    def component(self, chunk: np.ndarray) -> np.ndarray:
        """View of the user-visible component of a full stored chunk (shape `chunk_shape`)."""

    @abc.abstractmethod
    def fill_value(self) -> np.ndarray:
        """The fill value, broadcastable to a chunk's component."""

    def cell_of_key(self, key: bytes) -> tuple[int, ...] | None:
        """The grid cell a stored key names, or None if it is not a chunk of this array."""
        return None

    def describe_chunk(self, cell: tuple[int, ...]) -> str:
        return dumps(self.chunk_key(cell).decode("utf-8", "replace"))

    def empty_chunk(self) -> np.ndarray:
        """A writable full stored chunk with unspecified contents (for covering writes)."""
        return self.new_chunk()

    def decode_chunk_into(self, data: bytes, cell: tuple[int, ...], out: np.ndarray) -> bool:
        """Decodes the stored chunk straight into `out` (shaped like the full stored chunk,
        of `numpy_dtype`) when the format can, sparing a copy; False when it cannot (then
        nothing was written to `out`).  Only called when the component is the whole chunk."""
        return False

    def adopt_chunk(self, array: np.ndarray) -> np.ndarray | None:
        """`array` (shaped like the full stored chunk, of `numpy_dtype`, never modified
        again by anyone) as a stored chunk buffer without copying, or None if its layout
        or type is not the stored one."""
        return None

    def encode_full_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes:
        """Encoded bytes of `chunk` even where it equals the fill value
        (``store_data_equal_to_fill_value``); formats override when `encode_chunk` elides."""
        raise NotImplementedError(f"{type(self).__name__} cannot store fill-valued chunks")

    def encode_view(self, chunk: np.ndarray) -> memoryview | None:
        """`encode_full_chunk`'s bytes as a view of `chunk`'s own memory, when the format
        stores the elements as they lie in it; None otherwise (nothing encoded)."""
        return None

    def equals_fill(self, chunk: np.ndarray) -> bool:
        """Whether `encode_chunk` stores nothing for `chunk` (it is all fill value)."""
        return self.encode_chunk(chunk, ()) is None


class WriteFutures(Future):
    """The result of a write: `copy` (source consumed) and `commit` (data durable)."""

    def __init__(self, copy: Future, commit: Future | None = None):
        super().__init__()
        self.copy = copy
        if commit is None:  # the producer settles this Future itself: it is the commit
            self.commit = self
        else:
            self.commit = commit
            futures._link(commit, self)


class ChunkedArray:
    """Reads and writes one chunked array through index transforms."""

    def __init__(
        self,
        fmt: ChunkFormat,
        kvstore_driver: Any,
        copy_executor: concurrent.futures.Executor,
        cache: Any = None,
        staleness: Callable[[], float] | None = None,
        identity: Any = None,
        fill_missing_data_reads: bool = True,
        store_data_equal_to_fill_value: bool = False,
    ):
        self.fmt = fmt
        self.kv = kvstore_driver
        self.executor = copy_executor
        #: `cache.chunk_cache.ChunkCache` or None; `staleness()` is the time before which cached
        #: chunks must be revalidated (see chunk_cache.py).
        self.cache = cache
        self.staleness = staleness
        #: What decoded chunks of this array share a cache with: the kvstore's identity and the
        #: format's (same key + same encoding = same decoded chunk).
        self.identity = (kvstore_driver.cache_identity, identity if identity is not None else ("fmt", fmt))
        self.fill_missing_data_reads = fill_missing_data_reads
        self.store_data_equal_to_fill_value = store_data_equal_to_fill_value
        self._shared_reads = SharedChunkReads()
        self._one_step: Any = _UNKNOWN  # FileChunkReads or None, decided on the first read
        self._gather_encoder: Any = _UNKNOWN  # GatherEncoder or None, decided on the first write
        load_decoders(kvstore_driver)
        #: whether a chunk was found to fit in memory (`check_chunk_memory`, checked once)
        self._chunk_fits = False

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, transform):
        maps, origin, shape = partition.analyze(transform)
        if self.fmt.origin is not None and any(self.fmt.origin):
            # Partition in grid-relative coordinates: cell k starts at k * chunk.
            maps = [partition.shift(m, -o) for m, o in zip(maps, self.fmt.origin)]
        if partition.is_strided(maps):
            one = partition.single_strided_cell(maps, origin, shape, self.fmt.chunk_shape)
            if one is not None:
                return "strided", maps, shape, [one]
            cells = list(partition.strided_cells(maps, origin, shape, self.fmt.chunk_shape, self.fmt.shape))
            return "strided", maps, shape, cells
        cells = partition.point_cells(maps, origin, shape, self.fmt.chunk_shape, self.fmt.shape)
        return "points", maps, shape, cells

    # -- reading ----------------------------------------------------------------------------

    def read(self, transform, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None,
             inline: bool = False) -> Future:
        """Future of an array holding the data at every position of `transform`'s domain.

        With `out` (shaped like the domain, of the array's dtype) the data is written into it
        and it is the result.  `batch` (a `batch.BatchState`): chunk reads are queued in it
        until it is submitted.  `inline`: a caller already on a pool thread reads a local
        store's chunks itself, one after another (the Future is done on return).
        """
        kind, maps, shape, cells = self._plan(transform)
        if out is None:
            out = empty_output(shape, self.fmt.numpy_dtype)
        direct = None
        if kind == "strided":
            perm, missing = partition.strided_axes(maps, len(shape))
            if (len(cells) == 1 and not cells[0].covers and transaction is None and batch is None
                    and self.cache is None and self._reads_here(inline)):
                return self._read_part_here(cells[0], out, perm, missing)
            place = lambda cell, src: place_strided(out, cell, src, perm, missing)  # noqa: E731
            direct = self._direct_regions(out, perm, missing)
        else:
            place = lambda cell, src: place_points(out, cell, src)  # noqa: E731
        place = metrics.timed_calls(place, metrics.COPY_SECONDS)
        # What the read's chunks are read with: data (and a shard's index) confirmed after the
        # read began serves every chunk of it, as in TensorStore.  (Batched reads keep "now":
        # a batch shares one request among reads that began at different times.)
        options = ReadOptions(staleness_bound=self.kv.now()) if batch is None else _READ_ALL
        if transaction is None and batch is None and self.cache is None and getattr(self.kv, "read_now", None) is not None:
            return self._read_now(cells, place, direct, out, options, inline)
        if transaction is not None:
            pending = [self._read_cell_in(transaction, cell, place) for cell in cells]
        else:
            pending = [self._read_cell(cell, place, batch, direct, options) for cell in cells]
        done = futures.chain(futures.gather(pending), lambda _: out)
        metrics.CHUNK_READS.increment_when_done(done, len(cells))
        metrics.ELEMENTS_READ.increment_when_done(done, out.size)
        return done

    def _reads_here(self, inline: bool) -> bool:
        """Whether a read of one chunk runs on the calling thread (see `_read_now`)."""
        kv = self.kv
        if getattr(kv, "read_now", None) is None:
            return False
        return inline or (getattr(kv, "inline_read_chunks", 0) >= 1
                          and (getattr(kv, "read_now_inline", False) or not futures.on_event_loop()))

    def _read_part_here(self, cell: Any, out: np.ndarray, perm: list, missing: list) -> Future:
        """`_read_now` of a strided read of part of one chunk, in a straight line (the usual
        small read): the chunk is read, decoded and its part copied out on this thread, in
        one step where the store and codecs allow (`FileChunkReads`)."""
        fmt = self.fmt
        key = fmt.chunk_key(cell.cell)
        place = lambda c, src: place_strided(out, c, src, perm, missing)  # noqa: E731
        try:
            one_step = self.one_step_reads()
            if one_step is None or not one_step.read(key, cell, metrics.timed_calls(place, metrics.COPY_SECONDS),
                                                     self._direct_regions(out, perm, missing)):
                result = self.kv.read_now(key, _READ_ALL)
                src = fmt.component(self._decode(key, result.value, cell.cell)) if result.state == "value" else None
                started = time.perf_counter()
                if src is None:
                    self._place_missing(key, cell, place)
                else:
                    place(cell, src)
                metrics.COPY_SECONDS.increment(time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001 - delivered to the reader
            return futures.failed(exc)
        metrics.CHUNK_READS.increment(1)
        metrics.ELEMENTS_READ.increment(out.size)
        return futures.ready(out)

    def _direct_regions(self, out: np.ndarray, perm: list, missing: list) -> DirectRegions | None:
        """Where a strided read's chunks go in `out`, when chunk and output dimensions line
        up (see `DirectRegions`)."""
        if (self.cache is None and not missing and perm == sorted(perm)
                and self.fmt.component_covers_chunk and out.dtype == self.fmt.numpy_dtype):
            return DirectRegions(out, self.fmt.chunk_shape)
        return None

    def _read_now(self, cells: list, place: Callable, direct: Callable | None, out: np.ndarray,
                  options: ReadOptions, inline: bool = False) -> Future:
        """Reads from a local store (`read_now`), one Future for the whole read instead of a
        few per chunk.  A small read runs at once on the calling thread (not on an event
        loop's, which must not wait on a file); a larger one is a few pool tasks that read,
        decode and copy chunk after chunk.  Reads queued at the same time share each chunk's
        read and decode, as TensorStore's cache entries share a read in flight."""
        kv = self.kv
        if not cells:
            return futures.ready(out)
        limit = getattr(kv, "inline_read_chunks", 0)
        if len(cells) > limit > 0:
            # (One-step reads decode a few chunks side by side on helper threads, where the
            # store's own reads of them, a shard's sub-chunks, would run one after another.)
            one_step = self.one_step_reads()
            if one_step is not None:
                limit = max(limit, one_step.inline_chunks)
        inline = inline or (len(cells) <= limit
                            and (getattr(kv, "read_now_inline", False) or not futures.on_event_loop()))
        if inline:
            done: Future = Future()
            fmt = self.fmt
            try:
                one_step = self.one_step_reads() if len(cells) > 1 else None
                if one_step is None:
                    for cell in cells:
                        self._read_chunk_now(fmt.chunk_key(cell.cell), cell, place, direct, options)
                else:
                    # Decoded side by side in one step; a chunk it did not take is read the
                    # ordinary way, which fills or reports it as always (in order: the first
                    # failing chunk is the one reported).
                    keys = [fmt.chunk_key(cell.cell) for cell in cells]
                    for key, cell, taken in zip(keys, cells, one_step.read_many(keys, cells, place, direct)):
                        if not taken:
                            self._copy_read(key, cell, self.kv.read_now(key, options), place, direct)
            except BaseException as exc:  # noqa: BLE001 - delivered to the reader
                futures._settle(done, exception=exc)
                return done
            metrics.CHUNK_READS.increment(len(cells))
            metrics.ELEMENTS_READ.increment(out.size)
            futures._settle(done, result=out)
            return done
        return self._shared_reads.read(self, cells, place, direct, out, options)

    def _read_chunk_now(self, key: bytes, cell, place: Callable, direct: Callable | None,
                        options: ReadOptions = _READ_ALL) -> None:
        """Reads a chunk of a local store (`read_now`, with the read's `options`) and places
        it; in one step where the store and codecs allow (`FileChunkReads`, which reads the
        file as it is now: newer than any staleness bound)."""
        one_step = self.one_step_reads()
        if one_step is None or not one_step.read(key, cell, place, direct):
            self._copy_read(key, cell, self.kv.read_now(key, options), place, direct)

    def _read_for_all(self, key: bytes, waiters: list) -> bool:
        """Reads a chunk of a local store once in one step and places it for each of
        `waiters` (``(cell, place)``), where the store and codecs allow; False if not."""
        one_step = self.one_step_reads()
        return one_step is not None and one_step.read_for_all(key, waiters)

    def one_step_reads(self) -> FileChunkReads | None:
        """The array's one-step chunk reads, where its store and codecs allow them."""
        one_step = self._one_step
        if one_step is _UNKNOWN:
            one_step = self._one_step = FileChunkReads.for_array(self.fmt, self.kv)
        return one_step

    def _copy_read(self, key: bytes, cell, result, place: Callable, direct: Callable | None) -> None:
        """Places a chunk read (or the fill value where it is missing) into the output."""
        if result.state != "value":
            self._place_missing(key, cell, place)
            return
        # A chunk that fills a region of the output by itself is decoded in place.
        region = direct(cell) if direct is not None else None
        if region is not None and self._decode(key, result.value, cell.cell, region) is region:
            return
        place(cell, self.fmt.component(self._decode(key, result.value, cell.cell)))

    def _place_missing(self, key: bytes, cell, place: Callable) -> None:
        if not self.fill_missing_data_reads:
            raise not_found(f"chunk {{{', '.join(map(str, cell.cell))}}} stored at {self.kv.describe_key(key)} is missing")
        place(cell, np.broadcast_to(self.fmt.fill_value(), missing_chunk_extent(cell, self.fmt.chunk_shape)))

    def _read_cell(self, cell, place: Callable, batch: Any = None, direct: Callable | None = None,
                   options: ReadOptions = _READ_ALL) -> Future:
        key = self.fmt.chunk_key(cell.cell)
        cache = self.cache
        if cache is None:

            def copy(result) -> None:
                self._copy_read(key, cell, result, place, direct)

            return _then_decode(batched_read(batch, self.kv, key, options), copy, self.executor)

        cache_key = (self.identity, key)
        entry = cache.get(cache_key)
        if entry is not None and entry.time >= self.staleness():
            return futures.submit(self.executor, lambda: place(cell, self.fmt.component(entry.chunk)))
        options = ReadOptions() if entry is None else ReadOptions(if_not_equal=entry.generation)

        def copy_cached(result) -> None:
            if result.state == "unspecified" and entry is not None:  # unchanged since cached
                cache.confirm(cache_key, entry.generation, result.stamp.time)
                chunk = entry.chunk
            elif result.state == "value":
                chunk = self._decode(key, result.value, cell.cell)
                cache.put(cache_key, chunk, result.stamp.generation, result.stamp.time)
            else:
                cache.discard(cache_key)
                self._place_missing(key, cell, place)
                return
            place(cell, self.fmt.component(chunk))

        return _then_decode(batched_read(batch, self.kv, key, options), copy_cached, self.executor)

    def _read_cell_in(self, transaction: Any, cell, place: Callable) -> Future:
        """A chunk as the transaction sees it: stored value with its staged writes applied."""
        key = self.fmt.chunk_key(cell.cell)

        def copy(result) -> None:
            if result.state != "value":
                self._place_missing(key, cell, place)
                return
            place(cell, self.fmt.component(self._decode(key, result.value, cell.cell)))

        read = transaction.read(self.kv, key, require_stored=not self.fill_missing_data_reads)
        return futures.chain(read, copy, self.executor)

    def check_chunk_memory(self) -> None:
        """RESOURCE_EXHAUSTED if a chunk cannot fit in this machine's memory (checked once)."""
        if not self._chunk_fits:
            check_chunk_memory(self.fmt)
            self._chunk_fits = True

    def _decode(self, key: bytes, value: bytes, cell: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray | None:
        """The decoded chunk; with `out`, `out` itself if the format decoded into it, else None."""
        if out is None and not self._chunk_fits:
            self.check_chunk_memory()
        started = time.perf_counter()
        try:
            if out is not None:
                return out if self.fmt.decode_chunk_into(value, cell, out) else None
            return self.fmt.decode_chunk(value, cell)
        except (ValueError, TypeError) as exc:
            # As TensorStore: undecodable stored bytes are a failed precondition of the read.
            message = exc.message if isinstance(exc, StatusError) else str(exc)
            raise failed_precondition(f"Error reading {self.kv.describe_key(key)}: {message}") from None
        finally:
            metrics.DECODE_SECONDS.increment(time.perf_counter() - started)

    def _gathering(self, source: np.ndarray) -> Callable | None:
        """What stages a chunk a non-transactional write covers as a `GatheredChunk` (see
        gather_encodes.py): called with a cell, the mutation, or None for a cell it does not
        take (not covered; its source part not a forward box; a format it does not encode).
        The encoder is looked for at the first covered cell: a write of partial chunks alone
        (the first in a process) does not pay for finding it."""
        if self._gather_encoder is None or not self.fmt.component_covers_chunk:
            return None
        chunk_shape = self.fmt.chunk_shape

        def gathered(cell, key: bytes) -> GatheredChunk | None:
            if not cell.covers:
                return None
            encoder = self._gather_encoder
            if encoder is _UNKNOWN:
                encoder = self._gather_encoder = GatherEncoder.for_format(self.fmt, self.store_data_equal_to_fill_value)
            region = None if encoder is None else whole_chunk_region(source, cell, chunk_shape)
            if region is None:
                return None
            return GatheredChunk(ChunkForm(self, cell.cell, key), encoder, region)

        return gathered

    def _encode(self, chunk: np.ndarray, cell: tuple[int, ...], referenced: bool = False) -> Any:
        """The chunk's stored value: bytes, or None to store nothing (all fill).  A chunk
        `referenced` from a source the caller gave up is, on a store that keeps such values,
        a `SourceReference` to its memory where the format stores it as it lies."""
        if referenced and getattr(self.kv, "keeps_source_references", False):
            view = self.fmt.encode_view(chunk)
            if view is not None:
                if self.store_data_equal_to_fill_value or not self.fmt.equals_fill(chunk):
                    return SourceReference(view)
                return None
        started = time.perf_counter()
        try:
            encoded = self.fmt.encode_chunk(chunk, cell)
        finally:
            metrics.ENCODE_SECONDS.increment(time.perf_counter() - started)
        if encoded is None and self.store_data_equal_to_fill_value:
            encoded = self.fmt.encode_full_chunk(chunk, cell)
        return encoded

    # -- writing ----------------------------------------------------------------------------

    def _cache_written(self, form: ChunkForm, committed: Future) -> None:
        """A writeback cache, as TensorStore's: the chunk just stored stays cached under the
        generation the store gave it (only for root kvstores, whose generations are per key;
        an older confirmation never replaces a newer one)."""
        chunk = form.encoded_chunk
        if chunk is None or committed.cancelled() or committed.exception() is not None:
            return
        stamp = committed.result()
        if stamp.generation in (UNKNOWN, NO_VALUE):
            return
        self.cache.put((self.identity, form.key), chunk, stamp.generation, stamp.time, only_if_newer=True)

    def write(self, transform, source: np.ndarray, transaction: Any = None,
              can_reference_source: bool = False, inline: bool = False) -> WriteFutures:
        """Writes `source` (shaped like `transform`'s domain, of the array's dtype).

        The source is copied into staged chunk buffers; `copy` resolves once all are filled
        and the source is never read again.  Outside a transaction each chunk is then written
        back at once (serialised per chunk); inside one, at commit.  With
        `can_reference_source` (the caller never modifies `source` again) a chunk the write
        covers keeps a view of the source where its layout is the stored one.  `inline`: a
        caller already on a pool thread fills the chunks itself (and, on a local store, encodes
        them, leaving only the writes to the store's pool).
        """
        kind, maps, shape, cells = self._plan(transform)
        adopt = take_region = gathering = None
        if kind == "strided":
            perm, missing = partition.strided_axes(maps, len(shape))
            inverse = sorted(range(len(perm)), key=perm.__getitem__)  # the inverse permutation
            inverse = None if inverse == list(range(len(inverse))) else inverse
            take = lambda cell, dst: take_strided(dst, cell, source, inverse, missing)  # noqa: E731
            take_region = lambda cell, box: copy_array(box, source_part(cell, source, inverse, missing))  # noqa: E731
            mark = lambda cell, mask: mask.__setitem__(cell.chunk_index + (Ellipsis,), True)  # noqa: E731
            if can_reference_source and inverse is None and not missing and source.dtype == self.fmt.numpy_dtype:
                adopt = lambda cell: adopt_region(self.fmt, source, cell)  # noqa: E731
            if (transaction is None and self.cache is None and inverse is None and not missing
                    and source.dtype == self.fmt.numpy_dtype and getattr(self.kv, "stage_mutation", None) is None
                    and getattr(self.kv, "write_now", None) is not None):
                gathering = self._gathering(source)
        else:
            flat_source = np.ascontiguousarray(source).reshape(-1)
            take = lambda cell, dst: take_points(dst, cell, flat_source)  # noqa: E731
            mark = lambda cell, mask: mask.__setitem__(cell.chunk_coords, True)  # noqa: E731
        mutations = []
        commits = []
        # Where each chunk is encoded and stored once filled: on a local store (a shard store
        # gathers sub-chunks on its own tasks) the data-copy thread that fills a chunk encodes
        # it at once and hands the write to the store's pool, whose threads may wait on the
        # disk.  Elsewhere writebacks run where the store runs them.
        writeback_executor = self.executor
        kv = self.kv
        if (transaction is None and getattr(kv, "stage_mutation", None) is None
                and getattr(kv, "write_now", None) is not None and getattr(kv, "read_now", None) is not None
                and (inline or source.nbytes > _FILL_INLINE_BYTES)):
            writeback_executor = ENCODE_HERE
        if (transaction is None and getattr(kv, "stage_mutation", None) is None
                and (inline or source.nbytes <= _FILL_INLINE_BYTES)):
            return self._write_filled_first(kind, cells, take, mark, adopt, take_region, gathering, writeback_executor)
        # Stage every chunk in order first, so a later write always lands after this one.
        gathered_commits = []
        for cell in cells:
            key = self.fmt.chunk_key(cell.cell)
            gathered = None if gathering is None else gathering(cell, key)
            if gathered is not None:
                # Gathered and encoded by its writeback, started from a data-copy task, and
                # stored by the store's pool, whose threads wait on the disk meanwhile.
                committed = write_now(self.kv, key, gathered, self.executor, gather=True)
                committed.add_done_callback(functools.partial(_count_written, _cell_elements(kind, cell)))
                commits.append(committed)
                gathered_commits.append(committed)
                continue
            covers = kind == "strided" and cell.covers and self.fmt.component_covers_chunk
            mutation = ChunkMutation(ChunkForm(self, cell.cell, key), covers,
                                     cell.chunk_index if take_region is not None else None)
            if self.cache is not None:
                self.cache.discard((self.identity, key))  # the cached chunk is being replaced
            if transaction is not None:
                transaction.stage(self.kv, key, mutation, self.executor)
                commits.append(mutation.ready)
            else:
                committed = stage_now(self.kv, key, mutation, writeback_executor)
                if self.cache is not None and self.kv.base is None:
                    committed.add_done_callback(functools.partial(self._cache_written, mutation.decoded_form))
                commits.append(committed)
            # Counted as each chunk is stored (staged, in a transaction), so that progress
            # shows what has landed.
            commits[-1].add_done_callback(functools.partial(_count_written, _cell_elements(kind, cell)))
            mutations.append((cell, mutation))

        def fill(cell, mutation: ChunkMutation) -> None:
            try:
                mutation.fill(cell, take, mark, adopt, take_region)
            except BaseException as exc:  # noqa: BLE001 - reported through copy and commit
                futures._settle(mutation.ready, exception=exc)
                return
            futures._settle(mutation.ready, result=None)

        if getattr(self.kv, "stage_mutation", None) is not None:
            # Sub-chunks of one shard filled together: each shard is written (and its encoded
            # sub-chunks freed) as early as possible.
            mutations.sort(key=lambda cm: cm[1].decoded_form.key)
        fill = metrics.timed_calls(fill, metrics.COPY_SECONDS)
        # A few tasks take the chunks in order from one queue, rather than a task (and a
        # Future) per chunk; each chunk's `ready` says when it is staged.
        copy = futures.all_done([m.ready for _, m in mutations] + _finished(gathered_commits))
        n_tasks = min(len(mutations), getattr(self.executor, "max_workers", 1))
        # Taken off the queue as they are filled: a staged chunk then lives only as long as
        # its writeback needs it (a shard's sub-chunk: until encoded), not the whole write.
        queue = collections.deque(mutations)  # shared: `popleft` is atomic
        del mutations

        def fill_some() -> None:
            while True:
                try:
                    cell, m = queue.popleft()
                except IndexError:
                    return
                fill(cell, m)

        if inline or source.nbytes <= _FILL_INLINE_BYTES:
            fill_some()  # a few elements: copying them costs less than handing them to a pool
        else:
            try:
                for _ in range(n_tasks):
                    futures._execute(self.executor, fill_some)
            except RuntimeError as exc:  # the pool was shut down (interpreter exit)
                while queue:
                    futures._settle(queue.popleft()[1].ready, exception=exc)
        written = WriteFutures(copy)
        futures.all_done([copy, *commits], written)
        if gathered_commits:
            # A caller that blocks runs the chunks still queued itself.
            futures.share_tasks(gathered_commits, written)
            futures.share_tasks(gathered_commits, copy)
        return written

    def _write_filled_first(self, kind: str, cells: list, take: Callable, mark: Callable, adopt: Callable | None,
                            take_region: Callable | None, gathering: Callable | None, executor: Any) -> WriteFutures:
        """A non-transactional write whose chunks are filled here, each before it is staged (in
        order, so a later write still lands after this one): a staged chunk is complete, so
        its writeback starts at once, with no Future per chunk for its staging, and on a store
        that never waits (memory) the write is done on return.  A chunk that cannot be filled
        fails the write and is not staged (nothing of it is written)."""
        kv, fmt, cache = self.kv, self.fmt, self.cache
        commits = []
        gathered_commits = []
        error = None
        for cell in cells:
            key = fmt.chunk_key(cell.cell)
            gathered = None if gathering is None else gathering(cell, key)
            if gathered is not None:
                # Gathered, encoded and stored by its writeback on the store's pool (a few
                # chunks: no hop to the data-copy pool first).
                committed = write_now(kv, key, gathered, self.executor)
                if committed.done():
                    _count_written(_cell_elements(kind, cell), committed)
                else:
                    committed.add_done_callback(functools.partial(_count_written, _cell_elements(kind, cell)))
                commits.append(committed)
                gathered_commits.append(committed)
                continue
            covers = kind == "strided" and cell.covers and fmt.component_covers_chunk
            mutation = ChunkMutation(ChunkForm(self, cell.cell, key), covers,
                                     cell.chunk_index if take_region is not None else None, filled_first=True)
            started = time.perf_counter()
            try:
                mutation.fill(cell, take, mark, adopt, take_region)
            except BaseException as exc:  # noqa: BLE001 - reported through copy and commit
                error = exc if error is None else error
                continue
            finally:
                metrics.COPY_SECONDS.increment(time.perf_counter() - started)
            if cache is not None:
                cache.discard((self.identity, key))  # the cached chunk is being replaced
            committed = write_now(kv, key, mutation, executor)
            if cache is not None and kv.base is None:
                committed.add_done_callback(functools.partial(self._cache_written, mutation.decoded_form))
            # Counted as each chunk is stored, so that progress shows what has landed.
            if committed.done():
                _count_written(_cell_elements(kind, cell), committed)
            else:
                committed.add_done_callback(functools.partial(_count_written, _cell_elements(kind, cell)))
            commits.append(committed)
        copy = futures.ready(None) if error is None else futures.failed(error)
        if gathered_commits:
            copy = futures.all_done([copy, *_finished(gathered_commits)])
            futures.share_tasks(gathered_commits, copy)
        written = WriteFutures(copy)
        futures.all_done([copy, *commits], written)
        futures.share_tasks(commits, written)
        return written


def _finished(commits: list) -> list:
    """[a Future of None once every one of `commits` has finished, however], or [] for none:
    until then a write's source may still be read by the chunks gathered from it."""
    return [futures.all_finished(commits, Future())] if commits else []


def _cell_elements(kind: str, cell) -> int:
    """How many elements of the source go to one chunk."""
    if kind == "strided":
        n = 1
        for index in cell.user_index:
            n *= index.stop - index.start
        return n
    return len(cell.user_positions)


def _count_written(n_elements: int, committed: Future) -> None:
    if not committed.cancelled() and committed.exception() is None:
        metrics.CHUNK_WRITES.increment()
        metrics.ELEMENTS_WRITTEN.increment(n_elements)


def _then_decode(read: Future, decode: Callable, executor: Any) -> Future:
    """`decode` of the read's result: on the thread that completes the read (a kvstore's I/O
    thread) when it completes later, saving a hop to `executor` and the thread wake-ups it
    costs; on `executor` when the read is done already, so the caller never decodes."""
    if read.done():
        return futures.chain(read, decode, executor)
    return futures.chain(read, decode)


def stage_now(kv: Any, key: bytes, mutation: Mutation, executor: Any) -> Future:
    """`write_now`, or the store's own staging where it has one: a sharded store applies a
    sub-chunk's mutation inside its shard's read-modify-write (one shard read and write for
    all the writes to one shard)."""
    stage = getattr(kv, "stage_mutation", None)
    if stage is not None:
        return stage(key, mutation, executor)
    return write_now(kv, key, mutation, executor)


def _io_domain(domain: Any) -> Any:
    """`domain` with explicit bounds: I/O resolves against the bounds as they are now
    (resizable bounds are not open-ended).  The last one is kept: formats remember their
    domain per metadata snapshot, so opens of one array ask for the same domain again."""
    global _last_io_domain
    last = _last_io_domain
    if last[0] is domain:
        return last[1]
    d = domain
    io = IndexDomain._make(d._lo, d._hi, [False] * d.rank, [False] * d.rank, d._labels)
    _last_io_domain = (domain, io)
    return io


_last_io_domain: tuple = (None, None)


class ChunkedDriver:
    """What every opened chunked-format array shares (a mixin for `OpenedDriver`s).

    Binds the spec's `cache_pool` and `data_copy_concurrency` resources, runs reads and writes
    through the engine after resolving the view's transform against the array's current
    bounds, and writes the spec JSON members all formats have.  A format supplies its
    `ChunkFormat`, its domain and `format_members_json`.
    """

    driver_id: str = ""

    def _bind(self, spec: Any, kvstore_driver: Any, path: str, context: Any) -> None:
        self.spec = spec
        self.context = context
        self.kv = kvstore_driver
        self.path = path
        self.cache_pool = context.get_resource("cache_pool", spec.resources.get("cache_pool"))
        self.data_copy = context.get_resource("data_copy_concurrency", spec.resources.get("data_copy_concurrency"))

    def _start_engine(self, fmt: ChunkFormat, domain: Any, chunk_kvstore: Any = None) -> None:
        self.format = fmt
        flags = self.spec.extra_flags
        self.engine = ChunkedArray(
            fmt,
            self.kv if chunk_kvstore is None else chunk_kvstore,
            self.data_copy.executor,
            cache=cache_for_pool(self.cache_pool),
            staleness=staleness_bound(self.spec.recheck_cached_data, time.time()),
            # Decoded chunks are shared by handles that agree on where and how they are stored.
            identity=(self.driver_id, self.path, self.format_identity()),
            fill_missing_data_reads=flags.get("fill_missing_data_reads", True),
            store_data_equal_to_fill_value=flags.get("store_data_equal_to_fill_value", False),
        )
        self._domain = domain
        self._io_domain = _io_domain(domain)

    def format_identity(self) -> str:
        """The format's part of the engine's cache identity (formats may remember it per
        metadata snapshot: it is recomputed on every open)."""
        return dumps(self.format_members_json(False))

    @property
    def domain(self) -> Any:
        return self._domain

    def read(self, transform, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None,
             inline: bool = False) -> Future:
        return self.engine.read(propagate_bounds(transform, self._io_domain), transaction, out, batch, inline)

    accepts_source_reference = True

    def write(self, transform, array: np.ndarray, transaction: Any = None,
              can_reference_source: bool = False, inline: bool = False) -> WriteFutures:
        return self.engine.write(propagate_bounds(transform, self._io_domain), array, transaction,
                                 can_reference_source, inline)

    def format_members_json(self, minimal: bool) -> dict:
        """The format's own spec members (metadata unless `minimal`)."""
        return {}

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        from .base import add_resource_members

        j: dict[str, Any] = {"driver": self.driver_id, "dtype": self.dtype.name}
        j["kvstore"] = self.kv.spec_json(self.path, builder) if builder is not None else self.kv.spec_json(self.path)
        j.update(self.format_members_json(minimal))
        for name in ("recheck_cached_data", "recheck_cached_metadata"):
            value = getattr(self.spec, name)
            if value is not None:
                j[name] = value
        j.update(self.spec.extra_flags)
        if builder is not None:
            add_resource_members(j, builder, {"cache_pool": self.cache_pool, "data_copy_concurrency": self.data_copy})
        return j

    def context_resources(self) -> list:
        return [self.cache_pool, self.data_copy]

    def delete_chunks_outside(self, shape: Sequence[int], transaction: Any = None) -> Future:
        """Deletes the stored chunks that lie wholly outside [0, shape) (after a shrink),
        staged in `transaction` if given."""
        from ..kvstore.key_range import KeyRange, prefix_successor

        prefix = self.path.encode()
        chunk_shape = self.format.chunk_shape

        def delete(keys: list) -> Future:
            doomed = []
            for rel in keys:
                cell = self.format.cell_of_key(prefix + rel)
                if cell is not None and any(c * n >= s for c, n, s in zip(cell, chunk_shape, shape)):
                    if transaction is not None:
                        transaction.stage(self.kv, prefix + rel, ValueMutation(None))
                    else:
                        doomed.append(self.kv.write(prefix + rel, None, WriteOptions()))
            return futures.chain(futures.gather(doomed), lambda _: None)

        listed = self.kv.list(KeyRange(prefix, prefix_successor(prefix)) if prefix else KeyRange(), len(prefix))
        return futures.chain(listed, delete)
