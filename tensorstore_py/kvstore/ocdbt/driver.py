"""The open ``ocdbt`` kvstore: reads through `reader.Database`, writes batched into commits.

Writes issued while a commit is in flight wait and go together into the next one, so a burst
of writes becomes a few versions, as TensorStore batches them.  A transaction on one ocdbt
store commits all its keys in one version (`write_atomic`), or none of them.
``experimental_copy_range_to`` between two databases in the same base store copies the
entries, referring to out-of-line values where they are (the data is not rewritten).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from ... import future as futures
from ...context import Resource
from ...errors import StatusError, invalid_argument
from ...future import Future
from .. import generation as gen
from ..driver import KvStoreAdapterDriver, KvStoreDriver, ReadOptions, WriteOptions, apply_read
from ..generation import ReadResult, TimestampedStorageGeneration
from ..key_range import KeyRange
from .codec import Ref
from .reader import Database, value_generation
from .spec import OcdbtDriverSpec
from .writer import AtomicOp, DeleteRangeOp, SetOp, commit

__all__ = ["OcdbtDriver"]


class OcdbtDriver(KvStoreAdapterDriver):
    """The database whose directory is ``base_path`` in `base`."""

    #: every key of one database commits atomically in one transaction (one new version)
    atomic_multi_key = True

    def __init__(self, spec: OcdbtDriverSpec, resources: dict[str, Resource], base: KvStoreDriver, base_path: str):
        super().__init__(spec, resources, base, base_path)
        self.spec = spec
        self.db = Database(base, base_path.encode("utf-8"), spec.constraints)
        self.executor = resources["data_copy_concurrency"].executor
        self._lock = threading.Lock()
        self._pending: list = []
        self._committing = False

    def describe_key(self, key: bytes) -> str:
        from ...json_util import dumps

        return dumps(key.decode("utf-8", "replace"))

    def printed_spec(self) -> OcdbtDriverSpec:
        """The spec, with the database's whole config once this handle has read or written its
        manifest, as TensorStore prints it (the uuid, compression ... of the database)."""
        state = self.db.cached_state()
        config = None if state is None or state.manifest is None else state.manifest.config
        if config is None:
            return self.spec
        from .dump import manifest_config_json

        printed = copy.copy(self.spec)
        printed.options = {**self.spec.options, "config": manifest_config_json(config)}
        return printed

    # -- reads ----------------------------------------------------------------------------------

    def _version(self, staleness_bound: float | None) -> Future:
        """Future of ``(manifest, version entry)`` to read from (None, None: no database)."""
        return futures.chain(self.db.manifest(self._bound_for_version(staleness_bound)), self._pick)

    def _pick(self, st: Any) -> Any:
        m = st.manifest
        if m is None or m.versions is None:
            if self.spec.version is not None:
                from ...errors import not_found

                raise not_found("OCDBT manifest not present")
            return futures.ready((None, None))
        return futures.chain(self.db.find_version(m, self.spec.version), lambda v: (m, v))

    def _bound_for_version(self, staleness_bound: float | None) -> float | None:
        # A version once committed never changes: a cached manifest that already has it will do.
        version = self.spec.version
        if version is None:
            return staleness_bound
        st = self.db.cached_state()
        if st is None or st.manifest is None or st.manifest.versions is None:
            return staleness_bound
        if isinstance(version, int):
            return float("-inf") if version <= st.manifest.latest.generation else staleness_bound
        from .spec import parse_commit_time

        return float("-inf") if st.time * 1e9 >= parse_commit_time(version) else staleness_bound

    def read(self, key: bytes, options: ReadOptions) -> Future:
        out: Future = Future()

        def on_manifest(f: Future) -> None:
            # Runs for every read waiting on one shared manifest load: answered from cached
            # nodes without further Futures when possible.
            try:
                exc = f.exception()
                if exc is not None:
                    raise exc
                st = f.result()
                m = st.manifest
                if self.spec.version is None and m is not None and m.versions is not None:
                    hit, value = self.db.lookup_cached(m.latest, key)
                    if hit:
                        futures._resolve(out, got(value))
                        return
                futures._resolve(out, futures.chain(futures.chain(self._pick(st), found), lambda r: r))
            except BaseException as error:  # noqa: BLE001 - delivered to the caller
                futures._settle(out, exception=error)

        def found(mv: Any) -> Any:
            m, v = mv
            if m is None:
                return apply_read(None, gen.NO_VALUE, options, self.now())
            return futures.chain(self.db.lookup(m, v, key), got)

        def got(value: Any) -> Any:
            now = self.now()
            if value is None:
                return apply_read(None, gen.NO_VALUE, options, now)
            generation = value_generation(value)
            if isinstance(value, bytes):
                return apply_read(value, generation, options, now)
            # Out of line: check conditions first, then fetch only the bytes asked for.
            unsatisfied = apply_read(b"", generation, ReadOptions(options.if_equal, options.if_not_equal), now)
            if unsatisfied.state == "unspecified":
                return unsatisfied
            from ..driver import resolve_byte_range

            lo, hi = resolve_byte_range(options.byte_range, value.length)
            return futures.chain(self.db.read_ref(value, (lo, hi)), lambda data: ReadResult(
                "value", data, TimestampedStorageGeneration(generation, now)))

        self.db.manifest(self._bound_for_version(options.staleness_bound)).add_done_callback(on_manifest)
        return out

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future:
        def found(mv: Any) -> Any:
            m, v = mv
            if m is None:
                return []
            return futures.chain(self.db.entries_in(m, v, key_range),
                                 lambda items: [k[strip_prefix_length:] for k, _v in items])

        return futures.chain(self._version(None), found)

    # -- writes ---------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        version = self.spec.version
        if version is not None:
            shown = f"v{version}" if isinstance(version, int) else version
            raise invalid_argument(f"Writing is not supported with version={shown} specified")

    def _enqueue(self, op: Any) -> Future:
        with self._lock:
            self._pending.append(op)
            if self._committing:
                return op.promise
            self._committing = True
        # The commit starts from the executor, so that writes issued meanwhile (a loop of
        # writes, the chunks of one array write) join it rather than each making a version.
        try:
            self.executor.submit(self._run_next)
        except RuntimeError:  # the pool was shut down (interpreter exit)
            self._run_next()
        return op.promise

    def _run_next(self) -> None:
        with self._lock:
            ops, self._pending = self._pending, []
            if not ops:
                self._committing = False
                return
        try:
            done = commit(self.db, self.spec, ops)
        except BaseException as exc:  # noqa: BLE001
            done = futures.failed(exc)

        def finished(f: Future) -> None:
            exc = f.exception()
            if exc is not None:
                for op in ops:
                    if not op.promise.done():
                        futures._settle(op.promise, exception=exc)
            self._run_next()

        done.add_done_callback(finished)

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future:
        self._check_writable()
        return self._enqueue(SetOp(key, None if value is None else bytes(value), options.if_equal, Future()))

    def write_atomic(self, writes: list) -> Future:
        """Applies every ``(key, value or None or ..., if_equal)`` in one new version, or none of
        them (result False) if a condition fails."""
        self._check_writable()
        return self._enqueue(AtomicOp(list(writes), Future()))

    def delete_range(self, key_range: KeyRange) -> Future:
        self._check_writable()
        return self._enqueue(DeleteRangeOp(key_range, Future()))

    # -- copying between databases --------------------------------------------------------------

    def copy_range_from(self, source: Any, target: Any, source_range: KeyRange | None, staleness: float | None) -> Future:
        """Copies the keys of `source` (a ``KvStore`` on an ocdbt database in the same base
        store) within `source_range` to ``target.path + key``; out-of-line values are
        referenced where they are stored."""
        from ..key_range import add_prefix

        self._check_writable()
        src = source.driver
        if not isinstance(src, OcdbtDriver) or src.base.cache_identity != self.base.cache_identity:
            return futures.failed(NotImplementedError("CopyRange not supported"))
        mine, theirs = self.db.prefix, src.db.prefix
        if not theirs.startswith(mine):
            return futures.failed(NotImplementedError("Source database is not within the target database's directory"))
        relative = theirs[len(mine) :]
        src_prefix = source.path.encode("utf-8")
        dst_prefix = target.path.encode("utf-8")
        key_range = add_prefix(src_prefix, source_range if source_range is not None else KeyRange())

        def found(mv: Any) -> Any:
            m, v = mv
            if m is None:
                return []
            return src.db.entries_in(m, v, key_range)

        def copy(items: list) -> Any:
            if not items:
                return None
            writes = []
            for key, value in items:
                if isinstance(value, Ref):
                    value = Ref(value.file._replace(base=relative + value.file.base), value.offset, value.length)
                writes.append((dst_prefix + key[len(src_prefix) :], value, None))
            return futures.chain(self.write_atomic(writes), lambda _ok: None)

        return futures.map_error(futures.chain(futures.chain(src._version(staleness), found), copy), _not_implemented)


def _not_implemented(exc: BaseException) -> BaseException:
    if isinstance(exc, StatusError) and exc.code == "UNIMPLEMENTED":
        return NotImplementedError(exc.message)
    return exc
