"""The ``zip`` kvstore adapter: the members of a zip archive stored as one value of a base kvstore.

Nothing is read up front.  The central directory is found from the archive's tail (one
byte-range read of at most `TAIL_SIZE` bytes, plus one for the ZIP64 record or the directory
when they lie outside it) and kept with the archive's generation.  A member read fetches its
local header and data in one byte-range read conditioned on that generation, so a changed
archive is noticed and the directory read again; answers that rest on the directory alone
(a missing key, a list) first revalidate it with an ``if_not_equal`` read.  Every member's
generation is the archive's.

Members may be stored, deflated (the shared zlib kernel, raw mode), bzip2, zstd or xz
compressed; decoding runs on the ``data_copy_concurrency`` executor and is checked against the
entry's CRC-32.

Writes, as TensorStore's, rewrite the whole archive: each is a mutation of the archive value
staged through `cache.staging` (the project's one read-modify-write), so writes issued while a
rewrite is in flight are applied together in the next one (see `writer.py`).
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

from ... import future as futures
from ...context import Resource
from ...errors import StatusError, data_loss, invalid_argument, unimplemented
from ...future import Future
from ...json_util import ObjectReader, dumps
from .. import generation as gen
from ..driver import (
    KvStoreAdapterDriver, KvStoreAdapterSpec, KvStoreDriver, ReadOptions, WriteOptions, apply_read,
    register_kvstore_driver,
)  # fmt: skip
from ..generation import ReadResult, TimestampedStorageGeneration
from ..key_range import KeyRange, contains
from ...cache.staging import Mutation
from .writer import ArchiveForm, new_member
from .directory import (
    LOCAL_HEADER_SIZE, TAIL_SIZE, ZIP64_EOCD_SIZE, ZIP64_LOCATOR_SIZE, EndRecord, Entry, find_end_record,
    local_data_offset, parse_central_directory, parse_zip64_end_record,
)  # fmt: skip

__all__ = ["ZipDriverSpec", "ZipDriver"]

_COMPRESSIONS = ("store", "deflate", "zstd", "xz")
# Reads retried when the archive changes between the directory read and a member read.
_MAX_ATTEMPTS = 16
# DEFLATE cannot expand beyond about 1032:1; other codecs' output is preallocated from the
# declared size only below this ratio (beyond it, it grows as the stream decodes).
_DEFLATE_MAX_RATIO = 1032
_PREALLOCATE_RATIO = 64


def _compression(j: Any) -> str:
    if not isinstance(j, str) or j not in _COMPRESSIONS:
        choices = ", ".join(dumps(c) for c in _COMPRESSIONS)
        raise invalid_argument(f"Expected one of {choices}, but received: {dumps(j)}")
    return j


class ZipDriverSpec(KvStoreAdapterSpec):
    """``{"driver": "zip", "base": <kvstore of the archive>, "path": <key prefix in it>}``."""

    id = "zip"
    url_scheme = "zip"
    resource_members = {"cache_pool": "cache_pool", "data_copy_concurrency": "data_copy_concurrency"}

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        compression = reader.get("compression", _compression, "deflate")
        return {} if compression == "deflate" else {"compression": compression}

    def options_json(self, include_defaults: bool = False) -> dict:
        if include_defaults:
            return {"compression": self.options.get("compression", "deflate")}
        return dict(self.options)

    def open_adapter(self, resources: dict[str, Resource], base: KvStoreDriver, base_path: str) -> "ZipDriver":
        return ZipDriver(self, resources, base, base_path)


class _Directory:
    """The archive's members (directories left out) as of one generation."""

    __slots__ = ("generation", "time", "entries", "data_end")

    def __init__(self, generation: bytes, time: float, entries: dict[bytes, Entry], data_end: int = 0):
        self.generation = generation
        self.time = time
        self.entries = entries
        #: where the central directory starts: every member's header and data lie before it
        self.data_end = data_end


def _decoders() -> dict[int, Any]:
    from ...codecs.deflate import RawDeflateCodec
    from ...codecs.simple import Bz2Codec, XzCodec, ZstdCodec

    return {8: RawDeflateCodec(), 12: Bz2Codec(), 93: ZstdCodec(), 95: XzCodec()}


class ZipDriver(KvStoreAdapterDriver):
    """The members of the archive at ``base_path`` in `base`."""

    def __init__(self, spec: ZipDriverSpec, resources: dict[str, Resource], base: KvStoreDriver, base_path: str):
        super().__init__(spec, resources, base, base_path)
        self.archive_key = base_path.encode("utf-8")
        self.executor = resources["data_copy_concurrency"].executor
        self._lock = threading.Lock()
        self._directory: _Directory | None = None
        self._loading: Future | None = None
        self._decoders = _decoders()

    def describe_key(self, key: bytes) -> str:
        # As TensorStore names them: the member, then the archive as its base names it.
        return f"{dumps(key.decode('utf-8', 'replace'))} in {self.base.describe_key(self.archive_key)}"

    # -- the central directory ----------------------------------------------------------------

    def _current(self) -> Future:
        """``(directory, fresh)``: the directory last read, or one read just now (fresh)."""
        with self._lock:
            known = self._directory
        if known is not None:
            return futures.ready((known, False))
        return futures.chain(self._reload(None), lambda d: (d, True))

    def _reload(self, known: _Directory | None) -> Future:
        """Reads the directory again (only if the archive's generation differs from `known`'s);
        concurrent callers share one read."""
        with self._lock:
            if self._loading is not None:
                return self._loading
            pending: Future = Future()
            self._loading = pending
        try:
            loaded = self._load(known, 0)
        except BaseException as exc:  # noqa: BLE001  (never leave the shared read pending)
            loaded = futures.failed(exc)

        def settle(f: Future) -> None:
            with self._lock:
                self._loading = None
                if not f.cancelled() and f.exception() is None:
                    self._directory = f.result()
            futures._link(f, pending)

        loaded.add_done_callback(settle)
        return pending

    def _base_read(self, options: ReadOptions) -> Future:
        def annotate(exc: BaseException) -> BaseException:
            if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE":
                return data_loss(f"ZIP archive {self.base.describe_key(self.archive_key)} is truncated: {exc.message}")
            return exc

        return futures.map_error(self._raw_read(options), annotate)

    def _raw_read(self, options: ReadOptions) -> Future:
        """The base driver's read as a Future, also when the driver raised at once."""
        try:
            return self.base.read(self.archive_key, options)
        except (StatusError, ValueError, OSError) as exc:
            return futures.failed(exc)

    def _load(self, known: _Directory | None, attempt: int) -> Future:
        if attempt >= _MAX_ATTEMPTS:
            return futures.failed(data_loss("ZIP archive kept changing while its directory was read"))
        if_not_equal = known.generation if known is not None else None
        tail = self._raw_read(ReadOptions(byte_range=(-TAIL_SIZE, None), if_not_equal=if_not_equal))

        def shorter_than_tail(exc: BaseException) -> Any:
            # The whole archive is shorter than the longest possible tail: read all of it.
            if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE":
                return futures.chain(self._raw_read(ReadOptions(if_not_equal=if_not_equal)), lambda r: (r, True))
            raise exc

        def got_tail(res_whole: tuple[ReadResult, bool]) -> Any:
            res, whole = res_whole
            if res.state == "missing":
                return _Directory(res.stamp.generation, res.stamp.time, {})
            if res.state == "unspecified":
                assert known is not None
                return _Directory(known.generation, res.stamp.time, known.entries, known.data_end)
            return self._parse(res.value, whole or len(res.value) < TAIL_SIZE, res.stamp, attempt)

        return futures.chain(futures.recover(futures.chain(tail, lambda r: (r, False)), shorter_than_tail), got_tail)

    def _parse(self, tail: bytes, whole: bool, stamp: TimestampedStorageGeneration, attempt: int) -> Any:
        """The directory of the archive whose last bytes (`whole`: all bytes) are `tail`."""
        generation = stamp.generation
        end = find_end_record(tail)
        if end.zip64_offset is None:
            # The EOCD follows the directory, so it gives the tail's own offset in the archive.
            tail_start = 0 if whole else end.cd_offset + end.cd_size - end.position
            return self._with_directory(tail, tail_start, end, stamp, attempt)
        record_at = end.position - ZIP64_LOCATOR_SIZE - ZIP64_EOCD_SIZE
        if whole:
            record_at = end.zip64_offset
        if 0 <= record_at and tail[record_at : record_at + 4] == b"PK\x06\x06":
            end64 = parse_zip64_end_record(tail[record_at : record_at + ZIP64_EOCD_SIZE], end)
            return self._with_directory(tail, end.zip64_offset - record_at, end64, stamp, attempt)
        read = self._base_read(
            ReadOptions(byte_range=(end.zip64_offset, end.zip64_offset + ZIP64_EOCD_SIZE), if_equal=generation)
        )

        def got_record(res: ReadResult) -> Any:
            if res.state != "value":
                return self._load(None, attempt + 1)
            return self._with_directory(b"", None, parse_zip64_end_record(res.value, end), stamp, attempt)

        return futures.chain(read, got_record)

    def _with_directory(
        self, tail: bytes, tail_start: int | None, end: EndRecord, stamp: TimestampedStorageGeneration, attempt: int
    ) -> Any:
        lo, hi = end.cd_offset, end.cd_offset + end.cd_size
        if tail_start is not None and tail_start <= lo and hi <= tail_start + len(tail):
            return self._build(tail[lo - tail_start : hi - tail_start], end, stamp)
        read = self._base_read(ReadOptions(byte_range=(lo, hi), if_equal=stamp.generation))

        def got(res: ReadResult) -> Any:
            if res.state != "value":
                return self._load(None, attempt + 1)
            return self._build(res.value, end, stamp)

        return futures.chain(read, got, self.executor)

    @staticmethod
    def _build(data: bytes, end: EndRecord, stamp: TimestampedStorageGeneration) -> _Directory:
        entries = {e.name: e for e in parse_central_directory(data, end.entries, end.cd_offset) if not e.is_directory}
        return _Directory(stamp.generation, stamp.time, entries, end.cd_offset)

    # -- reading ------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future:
        with self._lock:
            known = self._directory
        if known is None:
            return futures.chain(self._current(), lambda df: self._read_in(df[0], key, options, df[1], 0))
        try:
            out = self._read_in(known, key, options, False, 0)
        except (StatusError, ValueError) as exc:
            return futures.failed(exc)
        return out if isinstance(out, Future) else futures.ready(out)

    def _read_in(self, d: _Directory, key: bytes, options: ReadOptions, fresh: bool, attempt: int) -> Any:
        if attempt >= _MAX_ATTEMPTS:
            raise data_loss(f"ZIP archive kept changing while {self.describe_key(key)} was read")
        entry = d.entries.get(key)
        unsatisfied = (options.if_not_equal is not None and options.if_not_equal == d.generation) or (
            options.if_equal is not None and options.if_equal != d.generation
        )
        if entry is None or unsatisfied:
            cached_ok = options.staleness_bound is not None and d.time >= options.staleness_bound
            if not fresh and not cached_ok:
                return futures.chain(self._reload(d), lambda now: self._read_in(now, key, options, True, attempt))
            if entry is None:
                return apply_read(None, d.generation, options, d.time)
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(d.generation, d.time))
        guess = LOCAL_HEADER_SIZE + len(entry.name) + entry.extra_length
        start = entry.local_offset
        if start + LOCAL_HEADER_SIZE + len(entry.name) + entry.compressed_size > d.data_end:
            raise data_loss(f"ZIP entry {self.describe_key(key)} extends past the end of the member data")
        # Conditions are checked before byte ranges, and the range ends within the member data,
        # so a changed archive answers "unspecified" rather than OUT_OF_RANGE.
        read = self._raw_read(
            ReadOptions(byte_range=(start, min(start + guess + entry.compressed_size, d.data_end)), if_equal=d.generation)
        )

        def got(res: ReadResult) -> Any:
            if res.state != "value":  # the archive changed: read its directory again
                return futures.chain(self._reload(d), lambda now: self._read_in(now, key, options, True, attempt + 1))
            offset = local_data_offset(res.value[:LOCAL_HEADER_SIZE], entry)
            if offset + entry.compressed_size <= len(res.value):
                data = res.value[offset : offset + entry.compressed_size]
                return self._decode(entry, data, d, options, res.stamp)
            # The local extra field is longer than the central one: fetch the data itself.
            if start + offset + entry.compressed_size > d.data_end:
                raise data_loss(f"ZIP entry {self.describe_key(key)} extends past the end of the member data")
            data_read = self._raw_read(
                ReadOptions(byte_range=(start + offset, start + offset + entry.compressed_size), if_equal=d.generation)
            )

            def got_data(res2: ReadResult) -> Any:
                if res2.state != "value":
                    return futures.chain(
                        self._reload(d), lambda now: self._read_in(now, key, options, True, attempt + 1)
                    )
                return self._decode(entry, res2.value, d, options, res2.stamp)

            return futures.chain(data_read, got_data, self.executor)

        # Stored members need no decoding: no executor hop for them.
        return futures.chain(read, got, self.executor if entry.method != 0 else None)

    def _decode(self, entry: Entry, data: bytes, d: _Directory, options: ReadOptions, stamp) -> ReadResult:
        name = self.describe_key(entry.name)
        if entry.encrypted:
            raise unimplemented(f"Encrypted ZIP entries are not supported: {name}")
        if entry.method == 0:
            if entry.compressed_size != entry.uncompressed_size:
                raise data_loss(f"Stored ZIP entry {name} has different compressed and uncompressed sizes")
            value = bytes(data)
        else:
            codec = self._decoders.get(entry.method)
            if codec is None:
                raise unimplemented(f"ZIP compression method {entry.method} is not supported: {name}")
            size = entry.uncompressed_size
            if entry.method == 8 and size > _DEFLATE_MAX_RATIO * len(data) + 64:
                raise data_loss(f"ZIP entry {name} declares {size} bytes, more than {len(data)} deflated bytes can hold")
            # The declared size sizes the output buffer only when plausible: a corrupt header
            # must not make us allocate gigabytes before the stream proves it wrong.
            plausible = size <= _PREALLOCATE_RATIO * len(data) + (1 << 16) or entry.method == 8
            try:
                value = bytes(codec.decode(data, expected_size=size if plausible else None))
            except StatusError as exc:
                raise exc.with_prefix(f"Error decoding {name}") from None
            if len(value) != size:
                raise data_loss(f"ZIP entry {name} decodes to {len(value)} bytes, but declares {size}")
        if zlib.crc32(value) != entry.crc32:
            raise data_loss(f"ZIP entry {name} fails its CRC-32 check")
        return apply_read(value, d.generation, options, stamp.time)

    # -- the rest of the interface --------------------------------------------------------------

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future:
        def fresh(df: tuple[_Directory, bool]) -> Any:
            d, is_fresh = df
            return listing(d) if is_fresh else futures.chain(self._reload(d), listing)

        def listing(d: _Directory) -> list[bytes]:
            return [k[strip_prefix_length:] for k in sorted(d.entries) if contains(key_range, k)]

        return futures.chain(self._current(), fresh)

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future:
        """Rewrites the archive with `key` replaced (None: removed), as TensorStore does; the
        stamp is the new archive's.  ``if_equal`` compares with the archive's generation (every
        member's), or with `NO_VALUE` for "only if the member is absent"."""
        from ...cache.staging import KeyNode, write_now

        compression = self.driver_spec.options.get("compression", "deflate")
        mutation = _SetMember(key, None if value is None else bytes(value), compression, options.if_equal == gen.NO_VALUE)
        if options.if_equal is None or options.if_equal == gen.NO_VALUE:
            committed = write_now(self.base, self.archive_key, mutation, self.executor)
        else:
            node = KeyNode(self.base, self.archive_key)
            node.add(mutation)
            committed = futures.recover(node.writeback(self.executor, expected_generation=options.if_equal), _condition_failed)

        def done(stamp: TimestampedStorageGeneration) -> TimestampedStorageGeneration:
            with self._lock:
                self._directory = None  # the next read sees the rewritten archive
            if not mutation.applied:
                return TimestampedStorageGeneration(gen.UNKNOWN, stamp.time)
            return stamp

        return futures.chain(committed, done)

    #: Members of one archive commit atomically in one transaction: one archive rewrite.
    atomic_multi_key = True

    def write_atomic(self, writes: list) -> Future:
        """Applies every ``(key, value or None or ..., if_equal)`` in one archive rewrite, or
        none (result False) if a condition fails.  ``...`` only checks the condition."""
        from ...cache.staging import KeyNode

        archive_conditions = {c for _, _, c in writes if c is not None and c != gen.NO_VALUE}
        if len(archive_conditions) > 1:  # members read at different archive generations
            return futures.ready(False)
        compression = self.driver_spec.options.get("compression", "deflate")
        node = KeyNode(self.base, self.archive_key)
        node.add(_SetMembers(writes, compression))
        expected = archive_conditions.pop() if archive_conditions else None
        committed = node.writeback(self.executor, expected_generation=expected)

        def done(_stamp: Any) -> bool:
            with self._lock:
                self._directory = None
            return True

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, _ConditionFailed) or (isinstance(exc, StatusError) and exc.code == "ABORTED"):
                return False
            raise exc

        return futures.recover(futures.chain(committed, done), failed)

    def delete_range(self, key_range: KeyRange) -> Future:
        from ...cache.staging import write_now

        committed = write_now(self.base, self.archive_key, _DeleteMembers(key_range), self.executor)

        def done(_stamp: Any) -> None:
            with self._lock:
                self._directory = None

        return futures.chain(committed, done)


_FORM = ArchiveForm()


class _SetMember(Mutation):
    """Replace (or remove) one member of the archive."""

    decoded_form = _FORM

    def __init__(self, name: bytes, value: bytes | None, compression: str, only_if_absent: bool):
        self.name = name
        self.value = value
        self.compression = compression
        self.only_if_absent = only_if_absent
        self.applied = True

    def apply_decoded(self, members: dict) -> dict:
        if self.only_if_absent and self.name in members:
            self.applied = False
            return members
        self.applied = True
        if self.value is None:
            members.pop(self.name, None)
        else:
            members[self.name] = new_member(self.name, self.value, self.compression)
        return members


class _ConditionFailed(Exception):
    """A member of an atomic write was not absent as required: nothing is written."""


class _SetMembers(Mutation):
    """Several members at once (an atomic transaction's commit)."""

    decoded_form = _FORM

    def __init__(self, writes: list, compression: str):
        self.writes = writes
        self.compression = compression

    def apply_decoded(self, members: dict) -> dict:
        for key, _value, if_equal in self.writes:
            if if_equal == gen.NO_VALUE and key in members:
                raise _ConditionFailed()
        for key, value, _if_equal in self.writes:
            if value is ...:
                continue
            if value is None:
                members.pop(key, None)
            else:
                members[key] = new_member(key, bytes(value), self.compression)
        return members


class _DeleteMembers(Mutation):
    decoded_form = _FORM

    def __init__(self, key_range: KeyRange):
        self.key_range = key_range

    def apply_decoded(self, members: dict) -> dict:
        return {k: m for k, m in members.items() if not contains(self.key_range, k)}


def _condition_failed(exc: BaseException) -> TimestampedStorageGeneration:
    # The archive's generation was not the one named: the write is skipped, not an error.
    if isinstance(exc, StatusError) and exc.code == "ABORTED":
        return TimestampedStorageGeneration(gen.UNKNOWN, time.time())
    raise exc



register_kvstore_driver("zip", ZipDriverSpec, url_scheme="zip")
