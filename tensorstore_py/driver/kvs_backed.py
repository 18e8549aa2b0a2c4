"""Open-mode logic for formats whose metadata lives under one key of a kvstore.

`open`, `create`, `delete_existing`, `assume_metadata` and `assume_cached_metadata` behave as
in TensorStore: metadata is read (and validated against the spec), created with a write that
succeeds only if the key is absent, or assumed from the spec without any I/O.  A format
subclass supplies the metadata hooks; nothing here knows a format.
"""

from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

from .. import future as futures
from ..context import Context
from ..errors import StatusError, already_exists, failed_precondition, invalid_argument, not_found
from ..future import Future
from ..json_util import dumps
from ..kvstore.driver import WriteOptions, open_kvstore_driver
from ..cache.metadata import memoized_parse, metadata_entry
from ..cache.rmw import UNCHANGED
from ..kvstore.generation import UNKNOWN
from ..kvstore.key_range import KeyRange
from .base import DriverSpec
from .driver import KvStoreBackedDriver
from .chunk_cache import staleness_bound

__all__ = ["KvsBackedDriverSpec", "OpenedDriver", "describe_key"]


def describe_key(kv: Any, key: bytes) -> str:
    """How TensorStore names a key in messages (`".zarray"`, `local file "/a/.zarray"`)."""
    return kv.describe_key(key)


class OpenedDriver(KvStoreBackedDriver):
    """A kvstore-backed array whose metadata is one key: the `Driver` interface plus the
    shared metadata entry that keeps every handle's bounds as fresh as asked."""

    # -- metadata freshness -------------------------------------------------------------------

    _metadata_entry: Any = None
    _metadata_generation: bytes | None = None
    open_time: float = 0.0
    _successor: Any = None
    _ready_self: Any = None  # a completed Future of this driver, reused while nothing changes

    def attach_metadata(self, entry: Any, generation: bytes | None, open_time: float) -> None:
        """Ties this driver (built for one metadata snapshot) to the context's shared entry."""
        self._metadata_entry = entry
        self._metadata_generation = generation
        self.open_time = open_time

    def metadata_entry_for_update(self) -> Any:
        entry = self._metadata_entry
        if entry is None:
            spec = self.spec
            entry = spec.metadata_entry(self.context, self.kv, self.path)
        return entry

    def current(self, transaction: Any = None) -> Future:
        """Future of the driver for the metadata as fresh as ``recheck_cached_metadata`` asks.

        Another handle's resize (or a change in storage, when rechecked) yields a driver for the
        new metadata, so bounds are checked against it.
        """
        entry = self._metadata_entry
        if entry is None:
            return futures.ready(self)
        if transaction is not None and transaction.node(self.kv, entry.key) is not None:
            return self._current_staged(transaction, entry)
        staleness = metadata_staleness(self.spec.recheck_cached_metadata, self.open_time)
        if transaction is None:
            # The common case, without a Future: the shared entry is fresh and unchanged.
            value, generation, when = entry.snapshot()
            if value is not None and when >= staleness and generation == self._metadata_generation:
                ready = self._ready_self
                if ready is None:
                    ready = self._ready_self = futures.ready(self)
                return ready

        def pick(pair: tuple) -> Any:
            metadata, generation = pair
            if transaction is not None:
                transaction.note_read(self.kv, entry.key, generation)
            if generation == self._metadata_generation:
                return self
            if metadata is None:
                raise not_found(f"Metadata at {describe_key(self.kv, entry.key)} does not exist")
            successor = self._successor
            if successor is not None and successor._metadata_generation == generation:
                return successor
            if not self.spec.compatible_metadata(self.metadata, metadata):
                raise failed_precondition(
                    f"Error reading {describe_key(self.kv, entry.key)}: Updated metadata is incompatible with the open array"
                )
            successor = self.spec.make_driver(metadata, self.kv, self.path, self.context)
            successor.attach_metadata(entry, generation, self.open_time)
            self._successor = successor
            return successor

        return futures.chain(entry.get(staleness), pick)

    def _current_staged(self, transaction: Any, entry: Any) -> Future:
        """The driver for the metadata as the transaction has it (created or resized in it)."""

        def pick(result: Any) -> Any:
            if result.state != "value":
                raise not_found(f"Metadata at {describe_key(self.kv, entry.key)} does not exist")
            metadata = entry.parse(result.value)
            if self.spec.encode_metadata(metadata) == self.spec.encode_metadata(self.metadata):
                return self
            if not self.spec.compatible_metadata(self.metadata, metadata):
                raise failed_precondition(
                    f"Error reading {describe_key(self.kv, entry.key)}: Updated metadata is incompatible with the open array"
                )
            driver = self.spec.make_driver(metadata, self.kv, self.path, self.context)
            driver.attach_metadata(entry, STAGED, self.open_time)
            return driver

        return futures.chain(transaction.read(self.kv, entry.key), pick)


#: The metadata generation of a driver built from metadata staged in a transaction.
STAGED = b"\x00staged"


class KvsBackedDriverSpec(DriverSpec):
    """A driver whose array metadata is one kvstore key (zarr `.zarray`, n5 `attributes.json`)."""

    default_metadata_key: str = ""
    #: Whether `parse_stored_metadata` depends on the stored bytes alone (not on the spec) and
    #: what it returns is never modified, so one parse may serve every open of those bytes.
    parsed_metadata_is_shareable: ClassVar[bool] = True
    #: `_open` and the drivers it makes only read the spec (a format that overrides `open`
    #: says for itself).
    opens_without_modifying: ClassVar[bool] = True

    # -- hooks for formats ---------------------------------------------------------------------

    @property
    def metadata_key_or_default(self) -> str:
        return self.default_metadata_key

    @abc.abstractmethod
    def parse_stored_metadata(self, data: bytes) -> Any: ...

    @abc.abstractmethod
    def encode_metadata(self, metadata: Any) -> bytes: ...

    @abc.abstractmethod
    def create_metadata(self) -> Any:
        """Metadata for a new array from the spec's constraints (INVALID_ARGUMENT if unsatisfiable)."""

    @abc.abstractmethod
    def validate_metadata(self, metadata: Any) -> None: ...

    @abc.abstractmethod
    def metadata_domain(self, metadata: Any): ...

    @abc.abstractmethod
    def make_driver(self, metadata: Any, kvstore_driver: Any, path: str, context: Context) -> OpenedDriver: ...

    def metadata_shape(self, metadata: Any) -> list[int]:
        """The resizable extent of each array dimension in stored metadata."""
        from ..errors import unimplemented

        raise unimplemented(f"Resizing is not supported by the {dumps(self.id)} driver")

    def resized_metadata(self, metadata: Any, shape: list[int]) -> Any:
        """`metadata` with a new shape (same length as `metadata_shape`)."""
        from ..errors import unimplemented

        raise unimplemented(f"Resizing is not supported by the {dumps(self.id)} driver")

    def normalize_kvstore(self, kvstore: Any) -> Any:
        # Array kvstore paths name a directory.
        if kvstore.path and not kvstore.path.endswith("/"):
            kvstore = kvstore / ""
            if not kvstore.path.endswith("/"):
                kvstore.path = kvstore.path + "/"
        return kvstore

    # -- open ----------------------------------------------------------------------------------

    def check_open_mode(self) -> dict[str, bool]:
        mode = {k: bool(v) for k, v in self.open_mode.items()}
        if not mode.get("open") and not mode.get("create"):
            mode["open"] = True
        if mode.get("delete_existing") and not mode.get("create"):
            raise invalid_argument("Cannot specify an open mode of `delete_existing` without `create`")
        if mode.get("delete_existing") and mode.get("open") and self.open_mode.get("open"):
            raise invalid_argument("Cannot specify an open mode of `delete_existing` with `open`")
        for name in ("assume_metadata", "assume_cached_metadata"):
            if mode.get(name) and mode.get("delete_existing"):
                raise invalid_argument(f"Cannot specify an open mode of `delete_existing` with `{name}`")
            if mode.get(name) and not mode.get("open"):
                raise invalid_argument(f"Cannot specify an open mode of `{name}` without `open`")
        return mode

    def open_storage(self, context: Context) -> tuple[dict[str, bool], Any, str]:
        """(open mode, kvstore driver, path) for opening; raises for bad options."""
        if self.kvstore is None:
            raise invalid_argument('"kvstore" must be specified')
        mode = self.check_open_mode()
        kv, path = open_kvstore_driver(self.kvstore, context)
        return mode, kv, path

    def metadata_entry(self, context: Context, kv: Any, path: str) -> Any:
        """The context's shared entry for this array's metadata key."""
        key = (path + self.metadata_key_or_default).encode()
        pool = context.get_resource("cache_pool", self.resources.get("cache_pool"))
        kind = type(self)
        parse_stored = self.parse_stored_metadata

        def parse(data: bytes) -> Any:
            try:
                if kind.parsed_metadata_is_shareable:
                    return memoized_parse(kind, data, parse_stored)
                return parse_stored(data)
            except (ValueError, TypeError) as exc:
                # Unusable stored metadata is a precondition failure, not bad input.
                message = exc.message if isinstance(exc, StatusError) else str(exc)
                raise failed_precondition(f"Error reading {describe_key(kv, key)}: {message}") from None

        return metadata_entry(pool, kv, key, parse, kind=type(self))

    def open(self, context: Context, transaction: Any = None) -> Future:
        """Future[OpenedDriver] for this spec bound to `context` (and `transaction`)."""
        opened = self._open(context, transaction)
        return opened if isinstance(opened, Future) else futures.ready(opened)

    def open_now(self, context: Context, transaction: Any = None) -> Any:
        if type(self).open is not KvsBackedDriverSpec.open:  # a format that opens its own way
            return self.open(context, transaction)
        return self._open(context, transaction)

    def _open(self, context: Context, transaction: Any) -> Any:
        """`open_now`: the driver when the metadata is known at once, else a Future of it."""
        try:
            mode, kv, path = self.open_storage(context)
            entry = self.metadata_entry(context, kv, path)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        key = entry.key
        open_time = time.time()

        def make(metadata: Any, generation: bytes | None) -> OpenedDriver:
            self.validate_metadata(metadata)
            driver = self.make_driver(metadata, kv, path, context)
            driver.attach_metadata(entry if generation is not None else None, generation, open_time)
            return driver

        def create_new() -> Any:
            try:
                return self.create_metadata()
            except (ValueError, TypeError) as exc:
                raise _prefixed(exc, f'Error writing {describe_key(kv, key)}: Cannot create using specified "metadata" and schema') from None

        if mode.get("assume_cached_metadata"):
            cached, generation, _ = entry.snapshot()
            if cached is not None:
                return futures.submit(_inline, lambda: make(cached, generation))
        if mode.get("assume_metadata") or mode.get("assume_cached_metadata"):
            return futures.submit(_inline, lambda: make(create_new(), None))
        if transaction is not None:
            return self._open_in(transaction, mode, kv, path, entry, make, create_new)

        def write_new(allow_open: bool) -> Future:
            def fn(current: Any) -> Any:
                if current is not None:
                    if allow_open:
                        return UNCHANGED
                    raise already_exists(f"Error writing {describe_key(kv, key)}")
                return create_new()

            return futures.chain(entry.update(fn, self.encode_metadata), lambda pair: make(*pair))

        def read_existing(allow_create: bool) -> Future:
            def got(pair: tuple) -> Any:
                metadata, generation = pair
                if metadata is not None:
                    return make(metadata, generation)
                if allow_create:
                    return write_new(True)
                raise not_found(f"Metadata at {describe_key(kv, key)} does not exist")

            staleness = metadata_staleness(self.recheck_cached_metadata, open_time)
            try:
                now = entry.get_now(staleness)
                if now is not None:  # straight through, without a Future per step
                    return got(now)
            except BaseException as exc:  # noqa: BLE001 - delivered through the Future
                return futures.failed(exc)
            return futures.chain(entry.get(staleness), got)

        if mode.get("delete_existing"):
            def after_delete(_: Any) -> Any:
                metadata = create_new()

                def stored(stamp: Any) -> Any:
                    entry.set(metadata, stamp.generation, stamp.time)
                    return make(metadata, stamp.generation)

                return futures.chain(kv.write(key, self.encode_metadata(metadata), WriteOptions()), stored)

            prefix = path.encode()
            deleted = kv.delete_range(KeyRange(prefix, _successor(prefix)) if prefix else KeyRange())
            return futures.chain(deleted, after_delete)
        if mode.get("open"):
            return read_existing(bool(mode.get("create")))

        def create_only(pair: tuple) -> Any:
            # As TensorStore: an existing array is ALREADY_EXISTS before any constraint is checked.
            if pair[0] is not None:
                raise already_exists(f"Error writing {describe_key(kv, key)}")
            return write_new(False)

        return futures.chain(entry.get(float("inf")), create_only)

    def _open_in(self, transaction: Any, mode: dict, kv: Any, path: str, entry: Any, make: Any, create_new: Any) -> Future:
        """Open inside a transaction: metadata read through it, creation and deletion staged."""
        from ..cache.staging import UpdateMutation, ValueMutation

        key = entry.key

        def create_staged() -> Any:
            metadata = create_new()
            encoded = self.encode_metadata(metadata)

            def create(value: bytes | None) -> bytes:
                if value is not None:  # created by someone else before the commit
                    raise already_exists(f"Error writing {describe_key(kv, key)}")
                return encoded

            transaction.stage(kv, key, UpdateMutation(create))
            return make(metadata, STAGED)

        if mode.get("delete_existing"):
            prefix = path.encode()

            def delete_all(keys: list) -> Any:
                for k in keys:
                    transaction.stage(kv, prefix + k, ValueMutation(None))
                metadata = create_new()
                transaction.stage(kv, key, ValueMutation(self.encode_metadata(metadata)))
                return make(metadata, STAGED)

            listed = kv.list(KeyRange(prefix, _successor(prefix)) if prefix else KeyRange(), len(prefix))
            return futures.chain(listed, delete_all)

        def got(result: Any) -> Any:
            if result.state == "value":
                if not mode.get("open"):
                    raise already_exists(f"Error writing {describe_key(kv, key)}")
                generation = STAGED if result.stamp.generation == UNKNOWN else result.stamp.generation
                return make(entry.parse(result.value), generation)
            if not mode.get("create"):
                raise not_found(f"Metadata at {describe_key(kv, key)} does not exist")
            return create_staged()

        return futures.chain(transaction.read(kv, key), got)

    def compatible_metadata(self, old: Any, new: Any) -> bool:
        """Whether `new` metadata differs from `old` only in its resizable shape."""
        try:
            same_shape = self.resized_metadata(new, self.metadata_shape(old))
        except (ValueError, TypeError, NotImplementedError):
            return self.encode_metadata(old) == self.encode_metadata(new)
        return self.encode_metadata(same_shape) == self.encode_metadata(old)


def resize_stored(
    spec: "KvsBackedDriverSpec",
    driver: Any,
    new_exclusive_max: list,
    *,
    expand_only: bool,
    shrink_only: bool,
    metadata_only: bool,
    transaction: Any = None,
) -> Future:
    """Future of a driver for the array after resizing its stored metadata.

    The metadata entry is updated by a read-modify-write (concurrent resizes serialise, and
    every handle sharing the entry sees the new shape); then chunks wholly outside a shrunken
    shape are deleted.
    """
    kv, path = driver.kv, driver.path
    entry = driver.metadata_entry_for_update()
    key = entry.key
    where = f"Error writing {describe_key(kv, key)}"
    shapes: list = []

    def fn(metadata: Any) -> Any:
        if metadata is None:
            raise not_found(f"Metadata at {describe_key(kv, key)} does not exist")
        old = spec.metadata_shape(metadata)
        new = [o if n is None else int(n) for o, n in zip(old, new_exclusive_max)]
        for d, (o, n) in enumerate(zip(old, new)):
            if expand_only and n < o:
                raise failed_precondition(
                    f"{where}: Resize operation would shrink output dimension {d} from [0, {o}) to [0, {n}) but `expand_only` was specified"
                )
            if shrink_only and n > o:  # (TensorStore reports this one without the key)
                raise failed_precondition(
                    f"Resize operation would expand output dimension {d} from [0, {o}) to [0, {n}) but `shrink_only` was specified"
                )
        shapes[:] = [old, new]
        return spec.resized_metadata(metadata, new)

    if transaction is not None:
        return _resize_in(transaction, spec, driver, entry, fn, shapes, metadata_only)

    def done(pair: tuple) -> Any:
        resized, generation = pair
        old, new = shapes
        new_driver = spec.make_driver(resized, kv, path, driver.context)
        new_driver.attach_metadata(entry, generation, driver.open_time)
        if metadata_only or all(n >= o for o, n in zip(old, new)):
            return new_driver
        return futures.chain(new_driver.delete_chunks_outside(new), lambda _: new_driver)

    return futures.chain(entry.update(fn, spec.encode_metadata), done)


def metadata_staleness(option: Any, open_time: float) -> float:
    """The time before which cached metadata must be re-read (default ``"open"``)."""
    return staleness_bound("open" if option is None else option, open_time)()


def _resize_in(transaction: Any, spec: Any, driver: Any, entry: Any, fn: Any, shapes: list, metadata_only: bool) -> Future:
    """A resize staged in `transaction`: the metadata update (and the deletion of chunks wholly
    outside a shrunken shape) land at commit; the returned driver sees the staged metadata."""
    from ..cache.staging import UpdateMutation

    kv, path = driver.kv, driver.path

    def update(value: bytes | None) -> bytes:
        return spec.encode_metadata(fn(None if value is None else entry.parse(value)))

    try:
        transaction.stage(kv, entry.key, UpdateMutation(update))
    except ValueError as exc:
        return futures.failed(exc)

    def staged(result: Any) -> Any:
        resized = entry.parse(result.value)
        new_driver = spec.make_driver(resized, kv, path, driver.context)
        new_driver.attach_metadata(entry, STAGED, driver.open_time)
        old, new = shapes if shapes else (None, None)
        if metadata_only or old is None or all(n >= o for o, n in zip(old, new)):
            return new_driver
        return futures.chain(new_driver.delete_chunks_outside(new, transaction), lambda _: new_driver)

    # Reading through the transaction applies the update now, so its errors surface here.
    return futures.chain(transaction.read(kv, entry.key), staged)


class _InlineExecutor:
    """Runs a submitted callable at once (for open paths with no I/O)."""

    def submit(self, fn, *args):
        fn(*args)


_inline = _InlineExecutor()


def _successor(prefix: bytes) -> bytes:
    from ..kvstore.key_range import prefix_successor

    return prefix_successor(prefix)


def _prefixed(exc: BaseException, prefix: str) -> BaseException:
    if isinstance(exc, StatusError):
        return exc.with_prefix(prefix)
    return invalid_argument(f"{prefix}: {exc}")
