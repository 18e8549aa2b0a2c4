"""``ts.KvStore`` and ``ts.KvStore.Spec``: the public face of the key-value store layer."""

from __future__ import annotations

from typing import Any

from ..context import Context, ContextSpecBuilder
from ..errors import StatusError
from ..future import Future, chain, failed, gather, ready
from ..json_util import from_python, pretty_repr

from . import driver as drv
from .driver import KvStoreDriver, ParsedSpec, ReadOptions, WriteOptions
from .generation import ReadResult, TimestampedStorageGeneration, to_bytes
from .key_range import KeyRange, add_prefix

__all__ = ["KvStore", "KvStoreSpec"]


def wrapped_repr(name: str, j: Any) -> str:
    """``Name({...})``: TensorStore decides line breaks on the JSON alone, not the prefix."""
    return f"{name}({pretty_repr(j)})"


def _path_arg(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"path must be str or bytes, not {type(value).__name__}")


class KvStoreSpec:
    """A parsed kvstore spec (``KvStore.Spec``): JSON or URL in, JSON, URL and repr out."""

    __slots__ = ("_parsed",)

    def __init__(self, json: Any):
        if isinstance(json, KvStoreSpec):
            self._parsed: ParsedSpec = json._parsed.copy()
        else:
            self._parsed = drv.parse_kvstore_spec(from_python(json))

    @classmethod
    def _wrap(cls, parsed: ParsedSpec) -> "KvStoreSpec":
        out = cls.__new__(cls)
        out._parsed = parsed
        return out

    def to_json(self, include_defaults: bool = False) -> Any:
        """The spec as JSON; bound context resources appear as references to a ``"context"``
        member (the repr shows them bound, as ``[...]``)."""
        parsed = self._parsed
        if parsed.bound and not include_defaults:
            parsed = drv.unbind_spec(parsed)
        return drv.spec_to_json(parsed, include_defaults)

    @property
    def url(self) -> str:
        """URL form, e.g. ``'file:///tmp/data/'`` or ``'file:///a.zip|zip:b/'``."""
        return drv.spec_url(self._parsed)

    @property
    def path(self) -> str:
        """Key prefix within the driver."""
        return self._parsed.path

    @path.setter
    def path(self, value: str | bytes) -> None:
        self._parsed.path = _path_arg(value)

    @property
    def base(self) -> "KvStoreSpec | None":
        """The spec of the store an adapter (zip ...) wraps; None for root drivers."""
        base = self._parsed.base
        return None if base is None else KvStoreSpec._wrap(base.copy())

    def copy(self) -> "KvStoreSpec":
        """An independent copy."""
        return KvStoreSpec._wrap(self._parsed.copy())

    def __copy__(self) -> "KvStoreSpec":
        return self.copy()  # its own path; bound resources stay shared

    def update(
        self,
        *,
        unbind_context: bool | None = None,
        strip_context: bool | None = None,
        context: Context | None = None,
    ) -> None:
        """Binds resources in `context`, or unbinds / strips them, in place."""
        parsed = self._parsed
        if context is not None:
            if not isinstance(context, Context):
                raise TypeError("context must be a tensorstore_py.Context")
            parsed = drv.bind_spec(parsed, context)
        if unbind_context:
            parsed = drv.unbind_spec(parsed)
        if strip_context:
            parsed = drv.strip_spec(parsed)
        self._parsed = parsed

    def __truediv__(self, component: str | bytes) -> "KvStoreSpec":
        out = self.copy()
        out._parsed.path = drv.join_path(self._parsed.path, _path_arg(component))
        return out

    def __add__(self, suffix: str | bytes) -> "KvStoreSpec":
        out = self.copy()
        out._parsed.path = self._parsed.path + _path_arg(suffix)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KvStoreSpec):
            raise TypeError(f"cannot compare KvStore.Spec with {type(other).__name__}")
        return _same_bindings(self._parsed, other._parsed) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return wrapped_repr("KvStore.Spec", drv.spec_to_json(self._parsed))

    def __reduce__(self):
        # The parsed spec itself: bound resources stay objects, shared through pickle's memo
        # with whatever else is pickled alongside (see `Context.Resource.__reduce__`).
        return (_spec_from_parsed, (self._parsed,))


def _spec_from_parsed(parsed: ParsedSpec) -> KvStoreSpec:
    return KvStoreSpec._wrap(parsed)


def _same_bindings(a: ParsedSpec, b: ParsedSpec) -> bool:
    """Bound resources are equal only if they are the very same, at every level."""
    mine, theirs = a.resources, b.resources
    if mine.keys() != theirs.keys():
        return False
    if not all(mine[k] is theirs[k] or (not _is_bound(mine[k]) and not _is_bound(theirs[k])) for k in mine):
        return False
    if a.base is None or b.base is None:
        return a.base is None and b.base is None
    return _same_bindings(a.base, b.base)


def _is_bound(value: Any) -> bool:
    from ..context import Resource

    return isinstance(value, Resource)


KvStoreSpec.__name__ = "Spec"
KvStoreSpec.__qualname__ = "KvStore.Spec"


def _byte_range_arg(byte_range: Any) -> tuple[int, int | None] | None:
    if byte_range is None:
        return None
    if not isinstance(byte_range, slice) or byte_range.step is not None:
        raise TypeError(f"byte_range must be a slice without step, not {byte_range!r}")
    start = 0 if byte_range.start is None else int(byte_range.start)
    stop = None if byte_range.stop is None else int(byte_range.stop)
    if (stop is not None and (stop < 0 or start < 0 or stop < start)):
        shown_start = "" if byte_range.start is None else str(start)
        raise ValueError(f"Unsupported byte_range slice: {shown_start}:{stop}")
    return (start, stop)


def _staleness_arg(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
        raise TypeError(f"staleness_bound must be a number, not {type(value).__name__}")
    return float(value)


def _as_future(fn, *args) -> Future:
    """Runs a driver call, turning a synchronous exception into a failed future."""
    try:
        return fn(*args)
    except (StatusError, ValueError, OSError) as exc:
        return failed(exc)


class KvStore:
    """An open key-value store: a driver plus a key prefix (`path`).

    Created by `KvStore.open`; keys given to the methods are appended to `path`.
    """

    Spec = KvStoreSpec
    ReadResult = ReadResult
    TimestampedStorageGeneration = TimestampedStorageGeneration
    KeyRange = KeyRange

    __slots__ = ("_driver", "_path", "_transaction")

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("tensorstore_py.KvStore: No constructor defined! Use KvStore.open.")

    @classmethod
    def _from_driver(cls, driver: KvStoreDriver, path: str, transaction: Any = None) -> "KvStore":
        """A KvStore over an open driver (used by TensorStore drivers for ``store.kvstore``)."""
        out = object.__new__(cls)
        out._driver = driver
        out._path = path
        out._transaction = transaction
        return out

    @staticmethod
    def open(
        spec: "KvStoreSpec | dict | str",
        *,
        context: Context | None = None,
        transaction: Any = None,
    ) -> "Future[KvStore]":
        """Opens a store from a spec, its JSON or a URL; the result is a `Future`."""
        if context is not None and not isinstance(context, Context):
            raise TypeError("Invalid context: expected tensorstore_py.Context")
        parsed = spec._parsed if isinstance(spec, KvStoreSpec) else drv.parse_kvstore_spec(spec)
        _check_transaction(transaction)
        ctx = context if context is not None else Context()
        try:
            driver, path = drv.open_kvstore_driver(parsed, ctx)
        except (StatusError, ValueError) as exc:
            return failed(exc)
        return ready(KvStore._from_driver(driver, path, transaction))

    # -- accessors --------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Key prefix within the driver."""
        return self._path

    @path.setter
    def path(self, value: str | bytes) -> None:
        self._path = _path_arg(value)

    @property
    def url(self) -> str:
        """URL form of the store, e.g. ``'memory://abc/'``."""
        return self._driver.url(self._path)

    @property
    def base(self) -> "KvStore | None":
        """The store an adapter (zip ...) wraps; None for root drivers."""
        base = self._driver.base
        return None if base is None else KvStore._from_driver(base, self._driver.base_path, self._transaction)

    @property
    def transaction(self) -> Any:
        """The transaction reads and writes go through, or None."""
        return self._transaction

    @property
    def driver(self) -> KvStoreDriver:
        return self._driver

    def with_transaction(self, transaction: Any) -> "KvStore":
        """The same store with reads and writes going through `transaction` (None: none)."""
        from ..cache.transaction import Transaction

        return KvStore._from_driver(self._driver, self._path, Transaction.rebind(self._transaction, transaction))

    def copy(self) -> "KvStore":
        """A copy sharing the driver; changing its `path` leaves this one alone."""
        return KvStore._from_driver(self._driver, self._path, self._transaction)

    def spec(self, *, retain_context: bool | None = None, unbind_context: bool | None = None) -> KvStoreSpec:
        """Spec to reopen the store: context stripped by default, kept with `unbind_context`
        (as references plus ``"context"``) or `retain_context` (the very same resources)."""
        bound = self._driver.bound_spec(self._path)
        if retain_context:
            return KvStoreSpec._wrap(bound)
        if unbind_context:
            return KvStoreSpec._wrap(drv.unbind_spec(bound))
        return KvStoreSpec._wrap(drv.strip_spec(bound))

    def _unbound_json(self) -> dict:
        builder = ContextSpecBuilder()
        # A bare KvStore prints request settings (gcs retries, billing project) inline, as 0.1.86.
        builder.settings_inline = True
        j = self._driver.spec_json(self._path, builder)
        context = builder.context_json()
        if context:
            j["context"] = context
        return dict(sorted(j.items()))

    def __repr__(self) -> str:
        return wrapped_repr("KvStore", self._unbound_json())

    def __truediv__(self, component: str | bytes) -> "KvStore":
        return KvStore._from_driver(self._driver, drv.join_path(self._path, _path_arg(component)), self._transaction)

    def __add__(self, suffix: str | bytes) -> "KvStore":
        return KvStore._from_driver(self._driver, self._path + _path_arg(suffix), self._transaction)

    def __copy__(self) -> "KvStore":
        return self.copy()

    def __reduce__(self):
        # By its bound spec, as TensorStore: the unpickled store reopens with the same
        # (unpickled) resources as everything pickled with it.
        if self._transaction is not None:
            raise ValueError("Cannot serialize bound transaction")
        return (_reopen_bound, (self._driver.bound_spec(self._path),))

    # -- I/O --------------------------------------------------------------------------------

    def _full_key(self, key: Any) -> bytes:
        return self._path.encode("utf-8") + to_bytes(key, "key")

    def read(
        self,
        key: str | bytes,
        *,
        if_not_equal: str | bytes | None = None,
        staleness_bound: float | None = None,
        batch: Any = None,
        byte_range: slice | None = None,
    ) -> "Future[ReadResult]":
        """Reads one key; a missing key gives state ``'missing'``, not an error.

        With `batch`, the read waits for the batch's submit and shares a request with the
        batch's other reads of the same key.
        """
        from ..batch import batch_state, batched_read

        full = self._full_key(key)
        state = batch_state(batch)
        options = ReadOptions(
            if_not_equal=drv.generation_of(if_not_equal),
            staleness_bound=_staleness_arg(staleness_bound),
            byte_range=_byte_range_arg(byte_range),
        )
        if self._transaction is not None:
            return self._transaction.read(self._driver, full, options, counts=False)
        return batched_read(state, self._driver, full, options)

    def write(
        self, key: str | bytes, value: str | bytes | None, *, if_equal: str | bytes | None = None
    ) -> "Future[TimestampedStorageGeneration]":
        """Writes (`value` None: deletes) one key; with `if_equal`, only if the generation
        matches (otherwise the returned generation is ``b''``)."""
        full = self._full_key(key)
        data = None if value is None else to_bytes(value, "value")
        options = WriteOptions(if_equal=drv.generation_of(if_equal))
        if self._transaction is not None:
            return _as_future(self._stage, full, data)
        return _as_future(self._driver.write, full, data, options)

    def _stage(self, full: bytes, data: bytes | None) -> Future:
        from ..cache.staging import ValueMutation
        from .generation import UNKNOWN

        self._transaction.stage(self._driver, full, ValueMutation(data))
        return ready(TimestampedStorageGeneration(UNKNOWN, self._driver.now()))

    def delete_range(self, range: KeyRange) -> "Future[None]":
        """Deletes every key in `range` (relative to `path`)."""
        if not isinstance(range, KeyRange):
            raise TypeError(f"range must be a KvStore.KeyRange, not {type(range).__name__}")
        if range.empty:
            return ready(None)
        full = add_prefix(self._path.encode("utf-8"), range)
        if self._transaction is not None:
            # Staged as one deletion per key present now (stored or staged).
            return chain(self._listed_in_transaction(full, 0), lambda keys: chain(gather([self._stage(k, None) for k in keys]), _none))
        return _as_future(self._driver.delete_range, full)

    def list(self, range: KeyRange | None = None, strip_prefix_length: int = 0) -> "Future[list[bytes]]":
        """Keys under `path` (within `range`), as bytes relative to `path`."""
        if range is not None and not isinstance(range, KeyRange):
            raise TypeError(f"range must be a KvStore.KeyRange, not {type(range).__name__}")
        if isinstance(strip_prefix_length, bool) or not isinstance(strip_prefix_length, int) or strip_prefix_length < 0:
            raise TypeError(f"strip_prefix_length must be a non-negative int, not {strip_prefix_length!r}")
        key_range = range if range is not None else KeyRange()
        if key_range.empty:
            return ready([])
        prefix = self._path.encode("utf-8")
        full = add_prefix(prefix, key_range)
        if self._transaction is not None:
            return self._listed_in_transaction(full, len(prefix) + strip_prefix_length)
        return _as_future(self._driver.list, full, len(prefix) + strip_prefix_length)

    def _listed_in_transaction(self, key_range: KeyRange, strip: int) -> Future:
        return self._transaction.list(self._driver, key_range, strip)

    def experimental_copy_range_to(
        self, target: "KvStore", source_range: KeyRange | None = None, source_staleness_bound: float | None = None
    ) -> "Future[None]":
        """Copies the keys of `source_range` into `target` without rewriting their values.

        Only kvstores that can share stored data between keys (TensorStore's ocdbt) support
        it; every other target fails with ``NotImplementedError``, as in TensorStore.
        """
        copy_range = getattr(target._driver, "copy_range_from", None)
        if copy_range is None or self._transaction is not None:
            return failed(NotImplementedError("CopyRange not supported"))
        return _as_future(copy_range, self, target, source_range, source_staleness_bound)

    # -- synchronous helpers ----------------------------------------------------------------

    def __getitem__(self, key: str | bytes) -> bytes:
        """Reads `key` now; KeyError if it is missing."""
        result = self.read(key).result()
        if result.state != "value":
            # (TensorStore's KeyError for a key deleted inside a transaction carries no key.)
            raise KeyError(key if self._transaction is None else "")
        return result.value

    def __contains__(self, key: str | bytes) -> bool:
        """Whether `key` is present now."""
        return self.read(key, byte_range=slice(0, 0)).result().state == "value"

    def __setitem__(self, key: str | bytes, value: str | bytes | None) -> None:
        """Writes (None: deletes) `key` now."""
        self.write(key, value).result()

    def __delitem__(self, key: str | bytes) -> None:
        """Deletes `key` now (no error if it is absent)."""
        self.write(key, None).result()


def _check_transaction(transaction: Any) -> None:
    from ..cache.transaction import Transaction

    if transaction is not None and not isinstance(transaction, Transaction):
        raise TypeError(f"transaction must be a tensorstore_py.Transaction, not {type(transaction).__name__}")


# Pickle finds these as tensorstore_py.KvStore.<Name>.
for _cls in (KvStore, KvStoreSpec, ReadResult, TimestampedStorageGeneration, KeyRange):
    _cls.__module__ = "tensorstore_py"
del _cls


def _reopen_bound(parsed: ParsedSpec) -> KvStore:
    """The store a pickled `KvStore` names (opening a bound spec does no I/O)."""
    return KvStore._from_driver(drv.open_bound(parsed), parsed.path)


def _none(_value: Any) -> None:
    return None
