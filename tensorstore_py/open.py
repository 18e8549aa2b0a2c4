"""`ts.open`: applies the open options to a spec, opens its driver, returns a Future."""

from __future__ import annotations

import operator
from typing import Any, Iterable

from . import future as futures
from .context import Context, get_provider
from .errors import StatusError, invalid_argument
from .future import Future
from .index import IndexDomain, IndexTransform
from .index.transform import identity_transform
from .json_util import dumps
from .spec import OpenMode, Spec, apply_options, parse_spec_json
from .tensorstore import TensorStore

__all__ = ["open"]

#: `open`'s parameters that are not options applied to the spec
_NOT_OPTIONS = frozenset(("spec", "read", "write", "context", "transaction", "batch"))
#: None for each option parameter (`open` lists them all: test_shared_open_spec checks the list)
_NO_OPTIONS = (None,) * 19


def open(  # noqa: A001 - TensorStore's name
    spec: Any,
    *,
    read: bool | None = None,
    write: bool | None = None,
    open_mode: OpenMode | None = None,
    open: bool | None = None,  # noqa: A002
    create: bool | None = None,
    delete_existing: bool | None = None,
    assume_metadata: bool | None = None,
    assume_cached_metadata: bool | None = None,
    context: Context | None = None,
    transaction: Any = None,
    batch: Any = None,
    kvstore: Any = None,
    recheck_cached_metadata: Any = None,
    recheck_cached_data: Any = None,
    recheck_cached: Any = None,
    rank: int | None = None,
    dtype: Any = None,
    domain: IndexDomain | None = None,
    shape: Iterable[int] | None = None,
    chunk_layout: Any = None,
    codec: Any = None,
    fill_value: Any = None,
    dimension_units: Any = None,
    schema: Any = None,
) -> Future:
    """Opens or creates a `TensorStore` from a `Spec`, spec JSON or URL.

    Returns a Future at once; the open (metadata read, create or validation) runs in the
    background, but for metadata that is cached or in a local file: that is read in the
    calling thread, which costs less than handing the read to a pool.  Options override or constrain what the spec says, as in `Spec.update`.
    """
    given = (open_mode, open, create, delete_existing, assume_metadata, assume_cached_metadata, kvstore,
             recheck_cached_metadata, recheck_cached_data, recheck_cached, rank, dtype, domain, shape,
             chunk_layout, codec, fill_value, dimension_units, schema)
    if any(map(operator.is_not, given, _NO_OPTIONS)):
        options = {k: v for k, v in locals().items() if v is not None and k not in _NOT_OPTIONS and k != "given"}
    else:  # (the usual open: no option, and no pass over every parameter to find that out)
        options = {}
    options["_from_open"] = True
    if batch is not None:
        from .batch import Batch

        # Metadata is read at once; the batch is only checked (TensorStore: submitted is fine).
        if not isinstance(batch, Batch):
            raise TypeError("Invalid batch")
    if schema is not None:
        from .schema import Schema

        if not isinstance(schema, Schema):
            raise TypeError("Invalid schema")  # pybind11 rejects the argument before the call
    try:
        if transaction is not None:
            from .cache.transaction import Transaction

            Transaction.rebind(None, transaction)
            transaction.check_open()
        driver_spec = None
        if isinstance(spec, (dict, str)) and len(options) == 1:  # JSON, and no option but `_from_open`
            driver_spec = _shared_spec(spec)
        if driver_spec is None:
            if isinstance(spec, (dict, str)):
                driver_spec = parse_spec_json(spec)
            else:  # a Spec is copied (the options below must not change the caller's)
                driver_spec = (spec.copy() if isinstance(spec, Spec) else Spec(spec))._driver_spec
            apply_options(driver_spec, options)
    except (ValueError, TypeError) as exc:
        return futures.failed(exc)
    if read is None and write is None:
        read = write = True
    read, write = bool(read), bool(write)
    ctx = context if context is not None else Context()
    if driver_spec.context_spec is not None:
        ctx = Context(Context.Spec(driver_spec.context_spec), ctx)
    opened = driver_spec.open_now(ctx, transaction)

    def make(driver: Any) -> TensorStore:
        transform = driver_spec.transform
        if transform is None:
            transform = identity_transform(driver.domain)
        elif transform.output_rank != driver.domain.rank:
            raise invalid_argument(
                f"Transform with output rank {transform.output_rank} is incompatible with domain of rank {driver.domain.rank}"
            )
        else:
            # Implicit bounds of the spec's transform take the opened array's bounds.
            from .index.compose import propagate_bounds

            transform = propagate_bounds(transform, driver.domain)
        return TensorStore(driver, transform, read, write, transaction)

    def annotate(exc: BaseException) -> BaseException:
        if not isinstance(exc, (ValueError, TypeError)):
            return exc
        suffix = f"[tensorstore_spec={_quote(_error_spec_json(driver_spec))}]"
        prefix = f"Error opening {dumps(driver_spec.id)} driver"
        if isinstance(exc, StatusError):
            return exc.with_prefix(prefix).with_suffix(suffix)
        return invalid_argument(f"{prefix}: {exc} {suffix}")

    if not isinstance(opened, Future):
        # Opened at once (metadata cached or read in this thread): no Future per step.
        try:
            return futures.ready(make(opened))
        except BaseException as error:  # noqa: BLE001 - delivered through the Future
            return futures.failed(annotate(error))
    return futures.map_error(futures.chain(opened, make), annotate)


# ---------------------------------------------------------------------------------------------
# One parse of the same spec JSON for every open of it.

#: frozen spec JSON -> its parsed driver spec (emptied when full: a program opens a few specs
#: many times, or many specs once each)
_shared_specs: dict = {}
_SHARED_SPECS = 256
#: JSON nested deeper than this is parsed on every open (a spec is a few levels deep)
_SHARED_SPEC_DEPTH = 12


class _NotFrozen(Exception):
    """The JSON holds something other than plain JSON values, or nests too deep."""


def _frozen(j: Any, depth: int) -> Any:
    """A hashable value equal for equal JSON, unequal otherwise: numbers and booleans carry
    their type (``1``, ``1.0`` and ``True`` are equal in Python, not in JSON)."""
    t = type(j)
    if t is str or j is None:
        return j
    if t is int or t is float or t is bool:
        return (t, j)
    if depth >= _SHARED_SPEC_DEPTH:
        raise _NotFrozen
    if t is dict:
        items = []
        for k, v in j.items():
            if type(k) is not str:
                raise _NotFrozen
            items.append((k, _frozen(v, depth + 1)))
        return (dict, tuple(items))
    if t is list:
        return (list, tuple(_frozen(v, depth + 1) for v in j))
    raise _NotFrozen


def _thawed(key: Any) -> Any:
    """The JSON `_frozen` made `key` from, in new objects (the shared parse must not hold the
    caller's dicts and lists, which the caller may change later)."""
    if type(key) is tuple:
        t, v = key
        if t is dict:
            return {k: _thawed(x) for k, x in v}
        if t is list:
            return [_thawed(x) for x in v]
        return v
    return key


def _shared_spec(j: dict | str) -> Any:
    """The parsed driver spec of `j` shared by every `ts.open` of the same JSON with no
    options, or None when it cannot be shared (then the caller parses its own).

    Parsing is a pure function of the JSON, and a driver whose open reads its spec without
    modifying it (`DriverSpec.opens_without_modifying`) keeps it unchanged for good: so a
    program that opens the same array again and again parses its spec once.  What the open
    reads from storage (the metadata) is read on every open, as before.  Errors are not
    remembered: a spec that fails to parse fails the same way each time.
    """
    try:
        key = _frozen(j, 0)
    except _NotFrozen:
        return None
    found = _shared_specs.get(key)
    if found is not None:
        return found
    driver_spec = parse_spec_json(_thawed(key))
    apply_options(driver_spec, {"_from_open": True})  # checks the spec as an open does
    if not type(driver_spec).opens_without_modifying:
        return driver_spec  # the caller's own, not shared
    if len(_shared_specs) >= _SHARED_SPECS:
        _shared_specs.clear()
    _shared_specs[key] = driver_spec
    return driver_spec


def _quote(j: dict) -> str:
    return "'" + dumps(j).replace('"', '\\"') + "'"


def _error_spec_json(driver_spec) -> dict:
    """The spec TensorStore attaches to open errors: default context resources listed."""
    j = driver_spec.to_json()
    j.pop("open", None)  # TensorStore leaves the default open mode out of the payload
    context_json = dict(j.get("context", {}))
    names = list(driver_spec.context_resources)
    kvstore = driver_spec.kvstore
    if kvstore is not None:
        parsed = getattr(kvstore, "_parsed", None)
        members = getattr(getattr(parsed, "driver_spec", None), "resource_members", {})
        names.extend(p for p in members.values() if not get_provider(p).config_only)
    for name in names:
        context_json.setdefault(name, {})
    j["context"] = {k: context_json[k] for k in sorted(context_json)}
    return {k: j[k] for k in sorted(j)}
