"""The `zarr3_sharding_indexed` store: sub-chunk keys mapped onto byte ranges of shard values.

A key is ``<shard key><position>``: the key of the shard in the base store followed by the
sub-chunk's grid position within the shard (`chunk_format.entry_suffix`: big-endian uint32 per
dimension).  The base store may itself be a `ShardedStore` (nested sharding): a shard is then a
sub-chunk of the outer shard, and byte ranges compose.

Reads fetch a shard's index once (a byte-range read of its head or tail, kept with the shard's
generation and the time it was confirmed, and shared by concurrent readers), then only the
sub-chunks they need.  A kept index serves every sub-chunk read whose staleness bound it meets:
the engine reads all chunks of one read with the time the read began, so a shard's index is
checked once per read, not once per sub-chunk (as TensorStore); a bound of None (now) always
checks it again.  Sub-chunk reads of one shard that are pending together go out as one read per
run of neighbouring byte ranges.  A sub-chunk's generation is its shard's generation, so a
reader whose shard changed under it starts again from a fresh index.

Writes are mutations of the shard staged through the cache layer (`cache.staging.write_now`,
the project's one read-modify-write): those that arrive while the shard's writeback is queued or
in flight are applied together; a set that replaces every sub-chunk unconditionally needs no
read; otherwise the shard is read whole, the writes applied (each checked against its
`if_equal`) and the shard written back on the condition that it is unchanged, re-applied when
it changed.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from ... import future as futures
from ...cache.staging import Mutation, write_now
from ...errors import StatusError, data_loss, failed_precondition, unimplemented
from ...future import Future
from ...kvstore.byte_parts import ByteParts
from ...kvstore.driver import KvStoreDriver, ReadOptions, WriteOptions, resolve_byte_range
from ...kvstore.generation import NO_VALUE, UNKNOWN, ReadResult, TimestampedStorageGeneration
from ...kvstore.key_range import KeyRange
from .chunk_format import split_entry_key

__all__ = ["ShardedStore"]

_MAX_ATTEMPTS = 64
_NONE = np.uint64((1 << 64) - 1)
_CODEC_PREFIX = "Error decoding shard index: "


def _prefixed(exc: BaseException, prefix: str) -> BaseException:
    return exc.with_prefix(prefix) if isinstance(exc, StatusError) else exc


def _check_entries(index: Any) -> None:
    """Every entry of a decoded index is missing or a sane byte range (vectorised; the first
    bad entry raises the codec's own message)."""
    table = index.table
    if not len(table):
        return
    offsets, sizes = table[:, 0], table[:, 1]
    missing = (offsets == _NONE) & (sizes == _NONE)
    limit = np.uint64((1 << 63) - 1)
    ok = missing | ((offsets <= limit) & (sizes <= limit) & (offsets <= limit - np.minimum(sizes, limit)))
    if not ok.all():
        index.entry(int(np.flatnonzero(~ok)[0]))
#: Neighbouring sub-chunk byte ranges closer than this are fetched in one read.
_COALESCE_GAP = 1 << 14


class _Index:
    __slots__ = ("generation", "index", "time")

    def __init__(self, generation: bytes, index: Any, time: float) -> None:
        self.generation = generation
        self.index = index  # codecs.sharding.ShardIndex, or None when the shard is absent
        self.time = time  # when the shard was last seen to have `generation`


def _fresh(index: "_Index | None", staleness_bound: float | None) -> bool:
    """Whether a cached index may serve a read made with `staleness_bound` (None: now, never
    a cached one): one confirmed after the read began serves every sub-chunk of that read, as
    TensorStore validates a shard index once per read rather than once per sub-chunk."""
    return index is not None and staleness_bound is not None and index.time >= staleness_bound


#: A staleness bound any cached index meets.
_ANY_TIME = float("-inf")


def _latest_bound(bounds: list) -> float | None:
    """The staleness bound that satisfies each of `bounds` (None: now, the latest of all)."""
    return None if None in bounds else max(bounds)


class _Shard:
    """A shard decoded for writing: its sub-chunks by position, the generation they were
    stored with, and the positions changed since (whose generation is no longer that one)."""

    __slots__ = ("chunks", "generation", "changed")

    def __init__(self, chunks: dict, generation: bytes) -> None:
        self.chunks = chunks
        self.generation = generation
        self.changed: set[int] = set()


class _ShardForm:
    """A shard value as `_SubChunkWrite`s see it (the cache layer's decoded form)."""

    __slots__ = ("store", "shard_key")
    decode_with_generation = True  # a sub-chunk's generation is its shard's

    def __init__(self, store: "ShardedStore", shard_key: bytes) -> None:
        self.store = store
        self.shard_key = shard_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ShardForm) and other.store is self.store and other.shard_key == self.shard_key

    __hash__ = None  # type: ignore[assignment]

    def decode(self, value: Any, generation: bytes = NO_VALUE) -> _Shard:
        if value is None:
            return _Shard({}, NO_VALUE)
        if isinstance(value, ByteParts):  # this form's own encoding, staged before
            value = bytes(value)
        try:
            chunks = dict(self.store.codec.split_shard(value))
        except (ValueError, StatusError) as exc:
            raise _prefixed(exc, f"Error reading {self.store.base.describe_key(self.shard_key)}") from None
        return _Shard(chunks, generation)

    def encode(self, shard: _Shard) -> Any:
        if getattr(self.store.base, "writes_parts", False):  # a file: pieces written as they are
            return self.store.codec.encode_shard_parts(shard.chunks)
        return self.store.codec.encode_shard(shard.chunks)

    def covered_by(self, mutations: list) -> bool:
        """Whether unconditional writes replace every sub-chunk (then the shard is not read)."""
        if any(m.if_equal is not None for m in mutations):
            return False
        positions = {m.position for m in mutations if m.replaces_entry}
        return len(positions) == self.store.codec.num_inner


class _SubChunkWrite(Mutation):
    """One sub-chunk's new bytes (None: deleted), conditional on the generation it was read at."""

    __slots__ = ("decoded_form", "position", "value", "if_equal", "applied")
    replaces_entry = True

    def __init__(self, form: _ShardForm, position: int, value: Any, if_equal: bytes | None) -> None:
        self.decoded_form = form
        self.position = position
        self.value = value
        self.if_equal = if_equal
        self.applied = False

    def apply_decoded(self, shard: _Shard) -> _Shard:
        current = shard.generation if self.position in shard.chunks else NO_VALUE
        # A write conditional on the stored generation fails once an earlier write of this
        # writeback has changed the entry: both read the same value, only the first may win.
        if self.if_equal and (self.if_equal != current or self.position in shard.changed):
            self.applied = False
            return shard
        if self.value is None:
            shard.chunks.pop(self.position, None)
        else:
            shard.chunks[self.position] = self.value
        shard.changed.add(self.position)
        self.applied = True
        return shard


class _EntriesDelete(Mutation):
    """Deletes the sub-chunks of a shard whose positions `doomed` picks (a `delete_range` of
    its entries)."""

    __slots__ = ("decoded_form", "doomed")
    replaces_entry = False
    if_equal = None
    position = None

    def __init__(self, form: _ShardForm, doomed: Callable[[int], bool]) -> None:
        self.decoded_form = form
        self.doomed = doomed

    def apply_decoded(self, shard: _Shard) -> _Shard:
        for position in [p for p in shard.chunks if self.doomed(p)]:
            del shard.chunks[position]
            shard.changed.add(position)
        return shard


_PENDING: Any = object()


class _SubChunkMutation(Mutation):
    """Another mutation (a partly written inner chunk ...) applied to one sub-chunk's bytes
    inside the shard's read-modify-write, so that the writes to one shard cost one read and
    one write of it rather than one of each per sub-chunk.

    A mutation that replaces the whole sub-chunk is encoded as soon as its data is staged (on
    the thread that staged it, so sub-chunks encode in parallel); the shard's writeback waits
    for that through `ready`.
    """

    __slots__ = ("decoded_form", "position", "inner", "ready", "encoded", "replaces_entry", "applied")
    if_equal = None

    def __init__(self, form: _ShardForm, position: int, inner: Mutation) -> None:
        self.decoded_form = form
        self.position = position
        self.inner = inner
        self.replaces_entry = not inner.needs_read
        self.encoded = _PENDING
        self.applied = False
        ready = inner.ready
        if self.replaces_entry and ready is not None:
            self.ready = futures.chain(ready, self._encode)
        else:
            self.ready = ready

    def _encode(self, _: Any = None) -> None:
        # `apply_decoded(None)` of a replacing mutation ignores its argument.
        inner = self.inner
        self.encoded = inner.decoded_form.encode(inner.apply_decoded(None))
        self.inner = None  # its staged chunk is encoded: free it before the shard is written

    def apply_decoded(self, shard: _Shard) -> _Shard:
        if self.replaces_entry:
            if self.encoded is _PENDING:
                self._encode()
            value = self.encoded
        else:
            value = self.inner.apply(shard.chunks.get(self.position))
        if value is None:
            shard.chunks.pop(self.position, None)
        else:
            shard.chunks[self.position] = value
        shard.changed.add(self.position)
        self.applied = True
        return shard


def _stage(kv: KvStoreDriver, key: bytes, mutation: Mutation, executor: Any) -> Future:
    stage = getattr(kv, "stage_mutation", None)
    if stage is not None:  # nested sharding: the outer shard's read-modify-write
        return stage(key, mutation, executor)
    return write_now(kv, key, mutation, executor, gather=True)


class _EntryRead:
    __slots__ = ("position", "options", "future", "attempt")

    def __init__(self, position: int, options: ReadOptions, attempt: int) -> None:
        self.position = position
        self.options = options
        self.future: Future = Future()
        self.attempt = attempt


class ShardedStore(KvStoreDriver):
    """Sub-chunk keys of shards encoded with one bound `ShardingCodec`, stored in `base`."""

    def __init__(self, base: KvStoreDriver, codec: Any, rank: int, executor: Any) -> None:
        self.driver_spec = base.driver_spec
        self.resources = {}
        self.base = base
        self.codec = codec
        self.rank = rank
        self.executor = executor
        self._lock = threading.Lock()
        self._indices: dict[bytes, _Index] = {}
        self._index_reads: dict[bytes, tuple[Future, float]] = {}  # in flight, and since when
        self._entry_queues: dict[bytes, list[_EntryRead]] = {}
        self._index_fetch_locks = [threading.Lock() for _ in range(16)]
        if getattr(base, "read_now", None) is None:
            self.read_now = None  # type: ignore[assignment] # reads wait on a server: no sync path

    @property
    def cache_identity(self) -> tuple:
        codec = self.codec
        layout = (codec.grid_shape, codec.index_location, repr(codec.index_chain))
        return ("zarr3_sharding_indexed", self.base.cache_identity, layout)

    def _split(self, key: bytes) -> tuple[bytes, int]:
        shard_key, position = split_entry_key(key, self.rank)
        grid = self.codec.grid_shape
        if any(p >= g for p, g in zip(position, grid)):
            raise data_loss(f"Sub-chunk position {list(position)} is outside the shard grid {list(grid)}")
        linear = 0
        for p, g in zip(position, grid):
            linear = linear * g + p
        return shard_key, linear

    def describe_key(self, key: bytes) -> str:
        """How TensorStore names a sub-chunk: ``shard entry {0, 1}/{2, 2} in "a/c/0/0"``."""
        try:
            shard_key, position = self._split(key)
        except (ValueError, StatusError):
            return self.base.describe_key(key)
        cell = "{" + ", ".join(map(str, self._cell(position))) + "}"
        grid = "{" + ", ".join(map(str, self.codec.grid_shape)) + "}"
        return f"shard entry {cell}/{grid} in {self.base.describe_key(shard_key)}"

    def now(self) -> float:
        return self.base.now()

    # -- the shard index ----------------------------------------------------------------------

    def _index_range(self) -> tuple[int, int | None]:
        n = self.codec.index_nbytes
        return (0, n) if self.codec.index_location == "start" else (-n, None)

    def _shard_index(self, shard_key: bytes, staleness_bound: float | None = None) -> Future:
        """Future of the shard's `_Index` as of `staleness_bound` or later (None: now), one fetch
        shared by concurrent readers."""
        with self._lock:
            cached = self._indices.get(shard_key)
            if _fresh(cached, staleness_bound):
                return futures.ready(cached)
            joined = self._index_reads.get(shard_key)
            # A fetch in flight serves a read made before it started (or one that names no
            # bound), never one that began after it.
            if joined is not None and (staleness_bound is None or joined[1] >= staleness_bound):
                return joined[0]
            pending = Future()
            self._index_reads[shard_key] = (pending, self.now())
        options = ReadOptions(byte_range=self._index_range(), if_not_equal=cached.generation if cached else None,
                              staleness_bound=staleness_bound)

        def got(res: ReadResult) -> _Index:
            return self._index_from(shard_key, res, cached)

        def settle(f: Future) -> None:
            with self._lock:
                if self._index_reads.get(shard_key, (None,))[0] is pending:
                    del self._index_reads[shard_key]
            futures._link(f, pending)

        read = self._checked(self._base_read(shard_key, options), shard_key)
        # A shard index is small: decoded where its bytes arrive, without another executor hop.
        indexed = futures.chain(read, got)
        futures.map_error(
            indexed, lambda exc: _prefixed(exc, f"Error reading shard index in {self.base.describe_key(shard_key)}")
        ).add_done_callback(settle)
        return pending

    def _index_from(self, shard_key: bytes, res: ReadResult, cached: "_Index | None") -> _Index:
        """The index an index read gives (and caches)."""
        if res.state == "missing":
            index = _Index(NO_VALUE, None, res.stamp.time)
        elif res.state == "unspecified" and cached is not None:
            index = _Index(cached.generation, cached.index, res.stamp.time)
        else:
            try:
                index = _Index(res.stamp.generation, self.codec.decode_index(res.value), res.stamp.time)
                _check_entries(index.index)
            except StatusError as exc:
                message = exc.message
                if message.startswith(_CODEC_PREFIX):
                    message = message[len(_CODEC_PREFIX) :]
                raise type(exc)(exc.code, message) from None
        with self._lock:
            self._indices[shard_key] = index
        return index

    def _shard_index_now(self, shard_key: bytes, staleness_bound: float | None = None) -> _Index:
        """`_shard_index` on the calling thread, for a base with `read_now`."""
        cached = self._indices.get(shard_key)
        if _fresh(cached, staleness_bound):
            return cached
        # One fetch at a time per shard (striped locks): threads reading sub-chunks of one shard
        # at once read its index once; those that waited find it fresh.
        with self._index_fetch_locks[hash(shard_key) % len(self._index_fetch_locks)]:
            return self._fetch_index_now(shard_key, staleness_bound)

    def _fetch_index_now(self, shard_key: bytes, staleness_bound: float | None) -> _Index:
        with self._lock:
            cached = self._indices.get(shard_key)
        if _fresh(cached, staleness_bound):
            return cached
        options = ReadOptions(byte_range=self._index_range(), if_not_equal=cached.generation if cached else None,
                              staleness_bound=staleness_bound)
        try:
            try:
                res = self.base.read_now(shard_key, options)
            except StatusError as exc:
                if exc.code == "OUT_OF_RANGE":  # a shard too short to hold its index
                    raise failed_precondition(exc.message) from None
                raise
            return self._index_from(shard_key, res, cached)
        except BaseException as exc:
            raise _prefixed(exc, f"Error reading shard index in {self.base.describe_key(shard_key)}") from None

    def _forget(self, shard_key: bytes) -> None:
        with self._lock:
            self._indices.pop(shard_key, None)

    # -- reading ------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future:
        try:
            shard_key, position = self._split(key)
        except (ValueError, StatusError) as exc:
            return futures.failed(exc)
        request = _EntryRead(position, options, 0)
        self._read_entry(shard_key, request)
        return futures.map_error(request.future, lambda exc: _prefixed(exc, f"Error reading {self.describe_key(key)}"))

    def read_now(self, key: bytes, options: ReadOptions) -> ReadResult:
        """`read` on the calling thread (where the base has `read_now`): the index (revalidated
        with a conditional read unless confirmed within `options.staleness_bound`), then the
        entry's byte range."""
        shard_key, position = self._split(key)
        try:
            for _ in range(_MAX_ATTEMPTS):
                index = self._shard_index_now(shard_key, options.staleness_bound)
                generation = index.generation
                entry = index.index.entry(position) if index.index is not None else None
                if entry is None:
                    return ReadResult("missing", b"", TimestampedStorageGeneration(NO_VALUE, self.now()))
                if (options.if_not_equal and options.if_not_equal == generation) or (
                    options.if_equal and options.if_equal != generation
                ):
                    return ReadResult("unspecified", b"", TimestampedStorageGeneration(generation, self.now()))
                offset, nbytes = entry
                start, stop = resolve_byte_range(options.byte_range, nbytes)
                res = self.base.read_now(shard_key, ReadOptions(byte_range=(offset + start, offset + stop),
                                                                if_equal=generation,
                                                                staleness_bound=options.staleness_bound))
                if res.state == "value" and len(res.value) == stop - start:
                    if res.stamp.generation == generation:  # as read under `if_equal`: as it is
                        return res
                    return ReadResult("value", res.value, TimestampedStorageGeneration(generation, res.stamp.time))
                self._forget(shard_key)  # changed since its index was read: read that again
            raise data_loss(f"{self.base.describe_key(shard_key)} kept changing while being read")
        except BaseException as exc:
            raise _prefixed(exc, f"Error reading {self.describe_key(key)}") from None

    def entry_location(self, key: bytes) -> tuple[str, int, int, tuple[int, int, int]] | None:
        """Where sub-chunk `key` lies in a `file` base: ``(path, offset, length, (dev, ino,
        mtime_ns))`` of its bytes in its shard as last indexed (any cached index: whoever reads
        them checks that the file still has that identity, as a read of the index confirms
        its generation).  None when it is missing or not simply there (any doubt): the ordinary
        read then fills it or says what is wrong."""
        from ...kvstore.file import generation_identity

        try:
            shard_key, position = self._split(key)
            index = self._shard_index_now(shard_key, _ANY_TIME)
            entry = index.index.entry(position) if index.index is not None else None
        except (StatusError, ValueError):
            return None
        identity = None if entry is None else generation_identity(index.generation)
        if identity is None:
            return None
        return self.base._path_of(shard_key), entry[0], entry[1], identity

    @property
    def read_now_executor(self) -> Any:
        return self.base.read_now_executor

    @property
    def read_now_inline(self) -> bool:  # type: ignore[override]
        return getattr(self.base, "read_now_inline", False)

    @property
    def inline_read_chunks(self) -> int:  # type: ignore[override]
        # One sub-chunk is read on the calling thread, as the base's chunks are; several go to
        # the pool, to be decoded side by side, unless one-step reads decode them on helper
        # threads (`FileChunkReads.inline_chunks`): read through this store, sub-chunks are
        # read and decoded one after another.  (bench_zarr3's 300 random 16^3 reads, most of
        # which touch 2-8 sub-chunks of 512 KiB: 0.39 s inline -> 0.33-0.35 s on the pool,
        # tensorstore 0.33-0.35 s.)
        return min(1, getattr(self.base, "inline_read_chunks", 0))

    def _cell(self, linear: int) -> list[int]:
        cell = []
        for g in reversed(self.codec.grid_shape):
            cell.append(linear % g)
            linear //= g
        return cell[::-1]

    def _read_entry(self, shard_key: bytes, request: _EntryRead) -> None:
        if request.attempt >= _MAX_ATTEMPTS:
            request.future.set_exception(
                data_loss(f"{self.base.describe_key(shard_key)} kept changing while being read")
            )
            return

        def got_index(index: _Index) -> None:
            generation = index.generation
            options = request.options
            entry = None
            if index.index is not None:
                entry = index.index.entry(request.position)
            if entry is None:
                request.future.set_result(ReadResult("missing", b"", TimestampedStorageGeneration(NO_VALUE, self.now())))
                return
            if (options.if_not_equal and options.if_not_equal == generation) or (
                options.if_equal and options.if_equal != generation
            ):
                request.future.set_result(ReadResult("unspecified", b"", TimestampedStorageGeneration(generation, self.now())))
                return
            with self._lock:
                queue = self._entry_queues.setdefault(shard_key, [])
                queue.append(request)
                first = len(queue) == 1
            if first:
                # Gathered behind the decode work already queued, so neighbours coalesce.
                self.executor.submit(self._fetch_entries, shard_key, index)

        def failed(f: Future) -> None:
            if f.exception() is not None and not request.future.done():
                request.future.set_exception(f.exception())

        futures.chain(self._shard_index(shard_key, request.options.staleness_bound), got_index).add_done_callback(failed)

    def _fetch_entries(self, shard_key: bytes, index: _Index) -> None:
        with self._lock:
            batch = self._entry_queues.pop(shard_key, [])
        if not batch:
            return
        spans = []
        for request in batch:
            try:
                offset, nbytes = index.index.entry(request.position)
                start, stop = resolve_byte_range(request.options.byte_range, nbytes)
            except StatusError as exc:
                request.future.set_exception(exc)
                continue
            spans.append((offset + start, offset + stop, request))
        spans.sort(key=lambda s: s[0])
        runs: list[list] = []
        for span in spans:
            if runs and span[0] - runs[-1][1] <= _COALESCE_GAP:
                runs[-1][1] = max(runs[-1][1], span[1])
                runs[-1][2].append(span)
            else:
                runs.append([span[0], span[1], [span]])
        for lo, hi, members in runs:
            self._fetch_run(shard_key, index, lo, hi, members)

    def _fetch_run(self, shard_key: bytes, index: _Index, lo: int, hi: int, members: list) -> None:
        bound = _latest_bound([request.options.staleness_bound for _, _, request in members])
        read = self._base_read(shard_key, ReadOptions(byte_range=(lo, hi), if_equal=index.generation,
                                                      staleness_bound=bound))

        def got(f: Future) -> None:
            exc = f.exception()
            if exc is not None:
                for _, _, request in members:
                    request.future.set_exception(exc)
                return
            res = f.result()
            if res.state != "value" or len(res.value) != hi - lo:
                # The shard changed since its index was read: start again from a fresh index.
                self._forget(shard_key)
                for _, _, request in members:
                    request.attempt += 1
                    self._read_entry(shard_key, request)
                return
            stamp = TimestampedStorageGeneration(index.generation, res.stamp.time)
            data = res.value
            for start, stop, request in members:
                value = data if (start == lo and stop == hi) else data[start - lo : stop - lo]
                request.future.set_result(ReadResult("value", bytes(value), stamp))

        read.add_done_callback(got)

    def _base_read(self, key: bytes, options: ReadOptions) -> Future:
        try:
            return self.base.read(key, options)
        except (ValueError, TypeError) as exc:  # some stores raise at once rather than fail the future
            return futures.failed(exc)

    def _checked(self, fut: Future, shard_key: bytes) -> Future:
        def annotate(exc: BaseException) -> BaseException:
            # A shard too short to hold its index: not a usable shard.
            if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE":
                return failed_precondition(exc.message)
            return exc

        return futures.map_error(fut, annotate)

    # -- writing ------------------------------------------------------------------------------

    def write(self, key: bytes, value: Any, options: WriteOptions) -> Future:
        try:
            shard_key, position = self._split(key)
        except (ValueError, StatusError) as exc:
            return futures.failed(exc)
        # A mutation of the shard through the cache layer: sub-chunk writes that arrive while
        # the shard's writeback is queued or in flight are applied in one read-modify-write.
        mutation = _SubChunkWrite(_ShardForm(self, shard_key), position, value, options.if_equal)
        committed = write_now(self.base, shard_key, mutation, self.executor, gather=True)

        def done(stamp: TimestampedStorageGeneration) -> TimestampedStorageGeneration:
            self._forget_reads(shard_key)  # reads from now on must see this write
            if not mutation.applied:
                return TimestampedStorageGeneration(UNKNOWN, stamp.time)
            if value is None:
                return TimestampedStorageGeneration(NO_VALUE, stamp.time)
            return stamp

        return futures.chain(committed, done)

    def stage_mutation(self, key: bytes, mutation: Mutation, executor: Any = None) -> Future:
        """Future of the write of `mutation` (of the sub-chunk `key`'s value) through the
        shard's read-modify-write, with the other writes to that shard pending meanwhile."""
        try:
            shard_key, position = self._split(key)
        except (ValueError, StatusError) as exc:
            return futures.failed(exc)
        sub = _SubChunkMutation(_ShardForm(self, shard_key), position, mutation)

        def done(stamp: TimestampedStorageGeneration) -> TimestampedStorageGeneration:
            self._forget_reads(shard_key)
            return stamp

        return futures.chain(_stage(self.base, shard_key, sub, self.executor), done)

    def delete_entries(self, shard_key: bytes, doomed: Callable[[int], bool]) -> Future:
        """Future (of None) of the deletion of the sub-chunks of the shard under `shard_key`
        whose positions (C order) `doomed` picks, through the shard's read-modify-write."""
        committed = write_now(self.base, shard_key, _EntriesDelete(_ShardForm(self, shard_key), doomed),
                              self.executor, gather=True)

        def done(_: TimestampedStorageGeneration) -> None:
            self._forget_reads(shard_key)  # reads from now on must see this deletion

        return futures.chain(committed, done)

    def _forget_reads(self, shard_key: bytes) -> None:
        with self._lock:
            self._indices.pop(shard_key, None)
            self._index_reads.pop(shard_key, None)

    # -- the rest of the kvstore interface ----------------------------------------------------

    def delete_range(self, key_range: KeyRange) -> Future:
        return futures.failed(unimplemented("DeleteRange not supported for sharded sub-chunk keys"))

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future:
        return futures.failed(unimplemented("List not supported for sharded sub-chunk keys"))
