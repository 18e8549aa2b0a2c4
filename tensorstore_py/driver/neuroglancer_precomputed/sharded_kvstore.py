"""A kvstore view of a sharded scale: 8-byte chunk-id keys mapped onto shard files.

The chunk engine reads and writes chunk keys as with any kvstore; this adapter finds each
chunk through the shard index and minishard index of its shard file (byte-range reads, with
the decoded indices cached per shard generation) and writes by rewriting whole shards.
Writes to one shard are mutations of the shard file staged through the cache layer, so those
that arrive while a writeback of the shard is in flight are applied together in its next
read-modify-write (conditional on the shard's generation, re-applied on conflict).

A chunk's generation is a digest of its stored bytes, so a conditional write of one chunk
only fails when that chunk changed, not when a neighbour in the same shard did.

It is the registered kvstore adapter ``neuroglancer_uint64_sharded`` (``base``: the scale
directory; ``metadata``: the sharding spec), so ``KvStore.open`` reaches it as TensorStore's.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

from ... import future as futures
from ...errors import StatusError, data_loss, unimplemented
from ...cache.staging import Mutation, write_now
from ...future import Future
from ...context import Resource
from ...errors import invalid_argument
from ...json_util import ObjectReader, member_error
from ...kvstore.driver import (
    KvStoreAdapterDriver, KvStoreAdapterSpec, KvStoreDriver, ReadOptions, WriteOptions, apply_read,
    register_kvstore_driver, unimplemented_url,
)  # fmt: skip
from ...kvstore.generation import NO_VALUE, UNKNOWN, TimestampedStorageGeneration, from_string
from ...kvstore.generation import ReadResult
from ...kvstore.key_range import KeyRange, contains, prefix_successor
from .sharding import (
    ShardingSpec,
    chunk_id_key,
    decode_minishard_index,
    decode_shard,
    decode_shard_index,
    encode_shard,
    key_chunk_id,
    parse_sharding,
    shard_key,
)

__all__ = ["ShardedKvStore", "ShardedKvStoreSpec", "chunk_generation"]

_MAX_READ_ATTEMPTS = 64


def chunk_generation(data: bytes) -> bytes:
    """The generation of one chunk inside a shard: a digest of its (decoded) bytes."""
    return from_string(hashlib.blake2b(data, digest_size=16).digest())


class _ShardIndex:
    __slots__ = ("generation", "table", "minishards", "pending")

    def __init__(self, generation: bytes, table) -> None:
        self.generation = generation
        self.table = table
        self.minishards: dict[int, dict[int, tuple[int, int]]] = {}
        self.pending: dict[int, Future] = {}


class _ShardForm:
    """A shard file decoded as {chunk id: chunk bytes}."""

    __slots__ = ("store", "file_key")

    def __init__(self, store: "ShardedKvStore", file_key: bytes) -> None:
        self.store = store
        self.file_key = file_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ShardForm) and other.store is self.store and other.file_key == self.file_key

    __hash__ = None  # type: ignore[assignment]

    def decode(self, value: bytes | None) -> dict:
        if value is None:
            return {}
        try:
            return decode_shard(self.store.spec, value)
        except StatusError as exc:
            raise exc.with_prefix(f"Error reading {self.store._describe(self.file_key)}") from None

    def encode(self, chunks: dict) -> bytes | None:
        return encode_shard(self.store.spec, chunks)


class _ChunkInShard(Mutation):
    """One chunk's new bytes (None: deleted), conditional on the chunk's own generation."""

    __slots__ = ("decoded_form", "chunk_id", "value", "if_equal", "outcome")

    def __init__(self, store: "ShardedKvStore", chunk_id: int, value: bytes | None, if_equal: bytes | None) -> None:
        self.decoded_form = _ShardForm(store, store.shard_file_key(chunk_id)[0])
        self.chunk_id = chunk_id
        self.value = value
        self.if_equal = if_equal
        self.outcome = UNKNOWN

    def apply_decoded(self, chunks: dict) -> dict:
        current = chunks.get(self.chunk_id)
        current_gen = NO_VALUE if current is None else chunk_generation(current)
        if self.if_equal and self.if_equal != current_gen:
            self.outcome = UNKNOWN
            return chunks
        if self.value is None:
            chunks.pop(self.chunk_id, None)
            self.outcome = NO_VALUE
        else:
            chunks[self.chunk_id] = self.value
            self.outcome = chunk_generation(self.value)
        return chunks


class ShardedKvStoreSpec(KvStoreAdapterSpec):
    """``{"driver": "neuroglancer_uint64_sharded", "base": ..., "metadata": {sharding spec}}``."""

    id = "neuroglancer_uint64_sharded"
    url_scheme = None
    resource_members = {"cache_pool": "cache_pool", "data_copy_concurrency": "data_copy_concurrency"}

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        sharding = reader.get("metadata", _parse_metadata, None)
        return {} if sharding is None else {"metadata": sharding}

    def options_json(self, include_defaults: bool = False) -> dict:
        sharding = self.options.get("metadata")
        if sharding is None and include_defaults:
            sharding = ShardingSpec(0, "identity", 0, 0)  # what TensorStore shows when unset
        return {} if sharding is None else {"metadata": sharding.to_json()}

    def to_url(self, path: str) -> str:
        raise unimplemented_url(self.id)

    def open_adapter(self, resources: dict[str, Resource], base: KvStoreDriver, base_path: str) -> "ShardedKvStore":
        if "metadata" not in self.options:
            raise invalid_argument('"metadata" must be specified')
        return ShardedKvStore(self, resources, base, base_path)


def _parse_metadata(j: Any) -> ShardingSpec:
    if isinstance(j, dict) and "@type" not in j:
        # As a kvstore member (unlike inside "info"), a missing "@type" is named as missing.
        message = 'Expected "neuroglancer_uint64_sharded_v1", but member is missing'
        raise member_error("@type", invalid_argument(message))
    return parse_sharding(j)


class ShardedKvStore(KvStoreAdapterDriver):
    """Chunk-id keys (8 bytes, big endian) of one scale, stored in shard files under `prefix`."""

    # Listing works (whole shards are read), but TensorStore refuses storage statistics of
    # sharded volumes, which is what this flag tells storage_statistics.
    can_list = False

    def __init__(self, driver_spec: ShardedKvStoreSpec, resources: dict[str, Resource], base: KvStoreDriver, prefix: str) -> None:
        super().__init__(driver_spec, resources, base, prefix)
        spec: ShardingSpec = driver_spec.options["metadata"]
        self.base: KvStoreDriver = base
        self.prefix = prefix
        self.spec = spec
        self.executor: Any = resources["data_copy_concurrency"].executor
        self._lock = threading.Lock()
        self._indices: dict[bytes, _ShardIndex] = {}
        self._index_reads: dict[bytes, Future] = {}
        self._index_size = 16 * spec.num_minishards

    @property
    def cache_identity(self) -> tuple:
        return ("neuroglancer_uint64_sharded", self.base.cache_identity, self.prefix, repr(self.spec))

    def shard_file_key(self, chunk_id: int) -> tuple[bytes, int]:
        shard, minishard = self.spec.locate(chunk_id)
        return (self.prefix + shard_key(self.spec, shard)).encode(), minishard

    def describe_key(self, key: bytes) -> str:
        return f"chunk {key_chunk_id(key)}"

    # -- reading ------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future:
        try:
            chunk_id = key_chunk_id(key)
        except ValueError as exc:
            return futures.failed(exc)
        return self._read_chunk(chunk_id, options, 0)

    def _result(self, data: bytes | None, options: ReadOptions) -> ReadResult:
        generation = NO_VALUE if data is None else chunk_generation(data)
        return apply_read(data, generation, options, self.base.now())

    def _read_chunk(self, chunk_id: int, options: ReadOptions, attempt: int) -> Future:
        if attempt >= _MAX_READ_ATTEMPTS:
            return futures.failed(data_loss(f"Shard for chunk {chunk_id} kept changing while being read"))
        file_key, minishard = self.shard_file_key(chunk_id)

        def got_index(index: _ShardIndex | None) -> Any:
            if index is None:
                return self._result(None, options)
            start, end = int(index.table[minishard, 0]), int(index.table[minishard, 1])
            if start == end:
                return self._result(None, options)

            def got_entries(entries: dict | None) -> Any:
                if entries is None:
                    return self._retry(file_key, chunk_id, options, attempt)
                return self._read_entry(file_key, index, entries, chunk_id, options, attempt)

            return futures.chain(self._minishard(file_key, index, minishard, start, end), got_entries)

        return futures.chain(self._shard_index(file_key), got_index, self.executor)

    def _shard_index(self, file_key: bytes) -> Future:
        """Future of the shard's current index (None: no shard), one fetch shared by concurrent reads."""
        with self._lock:
            pending = self._index_reads.get(file_key)
            if pending is not None:
                return pending
            cached = self._indices.get(file_key)
            pending = Future()
            self._index_reads[file_key] = pending
        read = self._base_read(
            file_key,
            ReadOptions(byte_range=(0, self._index_size), if_not_equal=cached.generation if cached else None),
        )

        def got(res: ReadResult) -> _ShardIndex | None:
            if res.state == "missing":
                with self._lock:
                    self._indices.pop(file_key, None)
                return None
            if res.state == "unspecified" and cached is not None:
                return cached
            try:
                table = decode_shard_index(self.spec, res.value)
            except StatusError as exc:
                raise exc.with_prefix(f"Error reading shard index in {self._describe(file_key)}") from None
            index = _ShardIndex(res.stamp.generation, table)
            with self._lock:
                self._indices[file_key] = index
            return index

        def settle(f) -> None:
            with self._lock:
                if self._index_reads.get(file_key) is pending:
                    del self._index_reads[file_key]
            futures._link(f, pending)

        futures.chain(_checked(read, file_key, self._describe), got, self.executor).add_done_callback(settle)
        return pending

    def _minishard(self, file_key: bytes, index: _ShardIndex, minishard: int, start: int, end: int) -> Future:
        """Future of a minishard's entries (None: the shard changed), fetched once per index."""
        with self._lock:
            known = index.minishards.get(minishard)
            if known is not None:
                return futures.ready(known)
            pending = index.pending.get(minishard)
            if pending is not None:
                return pending
            pending = Future()
            index.pending[minishard] = pending
        base = self._index_size
        read = self._base_read(file_key, ReadOptions(byte_range=(base + start, base + end), if_equal=index.generation))

        def got(res: ReadResult) -> dict | None:
            if res.state != "value":
                return None
            try:
                decoded = decode_minishard_index(self.spec, res.value)
            except StatusError as exc:
                raise exc.with_prefix(
                    f"Error decoding minishard index for minishard {minishard} in {self._describe(file_key)}"
                ) from None
            with self._lock:
                index.minishards[minishard] = decoded
            return decoded

        def settle(f) -> None:
            with self._lock:
                index.pending.pop(minishard, None)
            futures._link(f, pending)

        futures.chain(_checked(read, file_key, self._describe), got, self.executor).add_done_callback(settle)
        return pending

    def _read_entry(self, file_key, index, entries, chunk_id, options, attempt) -> Any:
        span = entries.get(chunk_id)
        if span is None:
            return self._result(None, options)
        base = self._index_size
        data_read = self._base_read(
            file_key, ReadOptions(byte_range=(base + span[0], base + span[1]), if_equal=index.generation)
        )

        def got_data(res: ReadResult) -> Any:
            if res.state != "value":
                return self._retry(file_key, chunk_id, options, attempt)
            data = res.value
            if self.spec.data_encoding == "gzip":
                from .sharding import _decode_data

                data = _decode_data("gzip", data, f"chunk {chunk_id}")
            return self._result(data, options)

        return futures.chain(_checked(data_read, file_key, self._describe), got_data, self.executor)

    def _retry(self, file_key: bytes, chunk_id: int, options: ReadOptions, attempt: int) -> Future:
        with self._lock:
            self._indices.pop(file_key, None)
        return self._read_chunk(chunk_id, options, attempt + 1)

    def _base_read(self, file_key: bytes, options: ReadOptions) -> Future:
        """The base store's read as a Future even when the store raises at once (a byte range
        past the end of a truncated shard): a shared index read must always settle."""
        try:
            return self.base.read(file_key, options)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)

    def _describe(self, file_key: bytes) -> str:
        describe = getattr(self.base, "describe_key", None)
        return describe(file_key) if describe is not None else repr(file_key.decode("utf-8", "replace"))

    # -- writing ------------------------------------------------------------------------------

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future:
        try:
            chunk_id = key_chunk_id(key)
        except ValueError as exc:
            return futures.failed(exc)
        file_key, _ = self.shard_file_key(chunk_id)
        # Staged as a mutation of the shard file: writes that arrive while the shard's writeback
        # is in flight are applied together in its next read-modify-write.
        mutation = _ChunkInShard(self, chunk_id, value, options.if_equal)
        committed = write_now(self.base, file_key, mutation, self.executor)

        def done(stamp: TimestampedStorageGeneration) -> TimestampedStorageGeneration:
            with self._lock:
                # Reads that start from now on must see this write: no cached or shared index.
                self._indices.pop(file_key, None)
                self._index_reads.pop(file_key, None)
            return TimestampedStorageGeneration(mutation.outcome, stamp.time)

        return futures.chain(committed, done)

    # -- the rest of the kvstore interface ----------------------------------------------------

    def delete_range(self, key_range: KeyRange) -> Future:
        return futures.failed(unimplemented("DeleteRange not supported"))

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future:
        """Chunk-id keys of every shard file under `prefix` (each shard read whole)."""
        prefix = self.prefix.encode()
        digits = (self.spec.shard_bits + 3) // 4
        listing = self.base.list(KeyRange(prefix, prefix_successor(prefix)), len(prefix))

        def is_shard(name: bytes) -> bool:
            stem = name[: -len(b".shard")]
            return name.endswith(b".shard") and len(stem) == digits and all(c in b"0123456789abcdef" for c in stem)

        def got_names(names: list) -> Future:
            reads = [self.base.read(prefix + n, ReadOptions()) for n in sorted(names) if is_shard(n)]
            return futures.chain(futures.gather(reads), collect, self.executor)

        def collect(results: list) -> list:
            ids: set[int] = set()
            for res in results:
                if res.state == "value":
                    ids.update(decode_shard(self.spec, res.value))
            keys = (chunk_id_key(i) for i in sorted(ids))
            return [k[strip_prefix_length:] for k in keys if contains(key_range, k)]

        return futures.chain(listing, got_names)



def _checked(fut: Future, file_key: bytes, describe: Callable[[bytes], str]) -> Future:
    """Read errors on a shard file name the shard file."""

    def annotate(exc: BaseException) -> BaseException:
        if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE":
            return data_loss(f"Error reading {describe(file_key)}: {exc.message}")
        return exc

    return futures.map_error(fut, annotate)


register_kvstore_driver(ShardedKvStoreSpec.id, ShardedKvStoreSpec)
