"""The ``cast`` driver: a view of another TensorStore with its elements converted.

Reads convert base -> view, writes view -> base (`conversion`); a direction TensorStore does
not convert is not allowed (the view is read-only or write-only), neither is an error.
The view has its base's domain; reads and writes pass the index transform to the base
unchanged, with the caller's transaction.
"""

from __future__ import annotations

import copy as _copy
from typing import Any

import numpy as np

from ... import dtypes
from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...json_util import ObjectReader
from ..base import DriverSpec, register_driver
from ..driver import Driver
from .conversion import can_convert, converter

__all__ = ["CastDriverSpec", "CastDriver", "conversion_modes"]


def conversion_modes(base: Any, target: Any) -> tuple[bool, bool]:
    """(read, write): which directions convert between `base` and `target` data types;
    INVALID_ARGUMENT when neither does."""
    read = can_convert(base.name, target.name)
    write = can_convert(target.name, base.name)
    if not read and not write:
        raise invalid_argument(f"Cannot convert {base.name} <-> {target.name}")
    return read, write


def parse_nested_spec(j: Any) -> DriverSpec:
    """A member holding a TensorStore spec (JSON, URL, `ts.Spec` or open `TensorStore`)."""
    from ...spec import Spec, parse_spec_json
    from ...tensorstore import TensorStore

    if isinstance(j, TensorStore):
        j = j.spec()
    if isinstance(j, Spec):
        return j._driver_spec.copy()
    return parse_spec_json(j)


def compose_optional(inner: Any, outer: Any) -> Any:
    """`inner` after `outer` (``inner[outer]``), either of which may be None (identity)."""
    from ...index.compose import compose

    if inner is None:
        return outer
    if outer is None:
        return inner
    return compose(inner, outer)


@register_driver
class CastDriverSpec(DriverSpec):
    id = "cast"
    context_resources = ()

    def __init__(self) -> None:
        super().__init__()
        self.base: DriverSpec | None = None

    def parse_driver_members(self, r: ObjectReader) -> None:
        self.base = r.get("base", parse_nested_spec)
        if self.transform is None and self.base.transform is not None:
            from ...index import IndexTransform

            self.transform = IndexTransform(domain=self.base.transform.domain)

    def driver_members_json(self) -> dict:
        return {"base": self.base.to_json()}

    def match_written_json(self, j: dict) -> None:
        if "transform" not in j["base"]:
            self.base.transform = None

    def to_json(self, include_defaults: bool = False) -> dict:
        j = super().to_json(include_defaults)
        if include_defaults:
            j["base"] = self.base.to_json(include_defaults=True)
        return j

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        out.setdefault("context", {})
        out["schema"] = schema_json

    def spec_domain_transform_bounds(self, domain: Any) -> Any:
        """A domain given for the view bounds it as it would bound its base (resizable
        bounds implicit)."""
        to_bounds = getattr(self.base, "spec_domain_transform_bounds", None)
        return domain if to_bounds is None else to_bounds(domain)

    # -- what the spec says ------------------------------------------------------------------

    def effective_dtype(self):
        return self.schema.dtype

    def effective_rank(self) -> int | None:
        rank = self.rank
        return rank if rank is not None else self.base.effective_rank()

    def effective_domain(self):
        if self.transform is not None:
            return self.transform.domain
        return self.base.effective_domain() if self.base.transform is None else self.base.transform.domain

    def effective_schema(self):
        from ...schema import Schema

        base = self.base.effective_schema()
        j = base.to_json()
        j.pop("fill_value", None)
        if self.transform is not None and self.base.transform is None:
            j.pop("domain", None)
            j.pop("chunk_layout", None)
            j.pop("dimension_units", None)
        if self.schema.dtype is not None:
            j["dtype"] = self.schema.dtype.name
        schema = Schema(json=j)
        if self.transform is not None and schema.domain is None:
            schema.update(domain=self.transform.domain)
        return schema

    def base_spec_view(self) -> DriverSpec:
        """The base spec seen through this spec's transform (``Spec.base``)."""
        base = self.base.copy()
        base.transform = compose_optional(base.transform, self.transform)
        return base

    # -- open ----------------------------------------------------------------------------------

    def _base_for_open(self) -> DriverSpec:
        """The base spec with the open options given for this view passed on to it."""
        base = self.base.copy()
        base.open_mode.update(self.open_mode)
        for name in ("recheck_cached_data", "recheck_cached_metadata"):
            if getattr(self, name) is not None:
                setattr(base, name, getattr(self, name))
        if self.kvstore is not None:
            base.kvstore = base.normalize_kvstore(self.kvstore)
        constraints = self.schema.to_json()
        constraints.pop("dtype", None)
        constraints.pop("rank", None)
        if constraints and base.transform is None:
            from ...schema import Schema

            base.schema.update(schema=Schema(json=constraints))
        if self.context_spec is not None and base.context_spec is None:
            base.context_spec = _copy.deepcopy(self.context_spec)
        return base

    def open(self, context: Any, transaction: Any = None) -> Future:
        target = self.schema.dtype
        if target is None:
            return futures.failed(invalid_argument("dtype must be specified"))
        try:
            base = self._base_for_open()
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        opened = base.open(context) if transaction is None else base.open(context, transaction)

        def make(driver: Any) -> "CastDriver":
            from ...index.compose import propagate_bounds

            read, write = conversion_modes(driver.dtype, target)
            transform = None if base.transform is None else propagate_bounds(base.transform, driver.domain)
            return CastDriver(driver, transform, target, read, write)

        return futures.chain(opened, make)


class CastDriver(Driver):
    """`base` (through `base_transform`, None for the identity) with elements converted."""

    #: (a view of other drivers: `spec(retain_context=True)` cannot bind its bases yet)
    wraps_driver = True

    def __init__(self, base: Driver, base_transform: Any, dtype: Any, can_read: bool, can_write: bool):
        self.base = base
        self.base_transform = base_transform
        self._dtype = dtype
        self.can_read = can_read
        self.can_write = can_write
        self.spec = getattr(base, "spec", None)
        self.context = getattr(base, "context", None)
        self._to_view = converter(base.dtype, dtype) if can_read else None
        self._to_base = converter(dtype, base.dtype) if can_write else None

    # -- what the array is ---------------------------------------------------------------------

    @property
    def domain(self) -> Any:
        return self.base.domain if self.base_transform is None else self.base_transform.domain

    @property
    def dtype(self) -> Any:
        return self._dtype

    def _through(self, value: Any, how: Any) -> Any:
        return value if self.base_transform is None or value is None else how(value, self.base_transform)

    @property
    def chunk_layout(self) -> Any:
        from ...schema.transform import transform_chunk_layout

        return self._through(self.base.chunk_layout, transform_chunk_layout)

    @property
    def codec(self) -> Any:
        return self.base.codec

    @property
    def dimension_units(self) -> Any:
        from ...schema.transform import transform_dimension_units

        return self._through(self.base.dimension_units, transform_dimension_units)

    @property
    def kv(self) -> Any:
        return getattr(self.base, "kv", None)

    @property
    def path(self) -> Any:
        return getattr(self.base, "path", None)

    def storage_statistics(self, transform: Any, query_not_stored: bool, query_fully_stored: bool, transaction: Any = None) -> Future:
        from ..storage_statistics import driver_storage_statistics

        try:
            t = compose_optional(self.base_transform, transform)
        except (ValueError, TypeError, IndexError) as exc:
            return futures.failed(exc)
        return driver_storage_statistics(self.base, t, query_not_stored, query_fully_stored, transaction)

    def with_base(self, base: Driver) -> "CastDriver":
        """This view over `base` (a resized driver of the same array)."""
        return CastDriver(base, self.base_transform, self._dtype, self.can_read, self.can_write)

    def base_view(self, transform: Any) -> tuple[Driver, Any]:
        """(driver, transform) of the base as this view sees it (``TensorStore.base``)."""
        return self.base, compose_optional(self.base_transform, transform)

    # -- I/O -----------------------------------------------------------------------------------

    def current(self, transaction: Any = None) -> Future:
        def rebind(base: Driver) -> "CastDriver":
            return self if base is self.base else self.with_base(base)

        current = self.base.current(transaction)
        if current.done() and current.exception() is None and current.result() is self.base:
            return futures.ready(self)
        return futures.chain(current, rebind)

    def read(self, transform: Any, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        if not self.can_read:
            return futures.failed(invalid_argument("Source does not support reading."))
        try:
            t = compose_optional(self.base_transform, transform)
        except (ValueError, TypeError, IndexError) as exc:
            return futures.failed(exc)
        if self._dtype is self.base.dtype:
            return self.base.read(t, transaction, out) if batch is None else self.base.read(t, transaction, out, batch=batch)
        raw = self.base.read(t, transaction) if batch is None else self.base.read(t, transaction, batch=batch)
        to_view = self._to_view

        def convert(data: np.ndarray) -> np.ndarray:
            converted = to_view(data)
            if out is None:
                return np.asarray(converted, dtype=self._dtype.numpy_dtype)
            out[...] = converted
            return out

        return futures.chain(raw, convert)

    def write(self, transform: Any, array: np.ndarray, transaction: Any = None) -> Any:
        from ..chunked import WriteFutures

        def fail(exc: BaseException) -> Any:
            return WriteFutures(futures.failed(exc), futures.failed(exc))

        if not self.can_write:
            return fail(invalid_argument("Destination does not support writing."))
        try:
            t = compose_optional(self.base_transform, transform)
            converted = np.asarray(self._to_base(array), dtype=self.base.dtype.numpy_dtype)
        except (ValueError, TypeError, IndexError) as exc:
            return fail(exc)
        return self.base.write(t, converted, transaction)

    # -- spec ----------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        from ...index import IndexTransform

        return self.spec_json_through(IndexTransform(domain=self.domain), builder, minimal)

    def spec_json_through(self, transform: Any, builder: Any, minimal: bool) -> dict:
        base = self.base.spec_json_through(compose_optional(self.base_transform, transform), builder, minimal)
        outer = base.pop("transform")
        base.pop("context", None)
        base = {k: base[k] for k in sorted(base)}
        return {"base": base, "driver": "cast", "dtype": self._dtype.name, "transform": outer}

    def context_resources(self) -> list:
        return self.base.context_resources()

    @property
    def url_suffix(self) -> str:
        return f"{self.base.url_suffix}|cast:{self._dtype.name}"


def cast_store(store: Any, dtype: dtypes.DTypeLike) -> Any:
    """`ts.cast(store, dtype)` for an open TensorStore."""
    from ...tensorstore import TensorStore

    target = dtypes.dtype(dtype)
    driver = store._driver
    read, write = conversion_modes(driver.dtype, target)
    cast = CastDriver(driver, None, target, read, write)
    return TensorStore(cast, store._transform, store.readable and read, store.writable and write, store.transaction)


def cast_spec(spec: Any, dtype: dtypes.DTypeLike) -> Any:
    """`ts.cast(spec, dtype)` for a Spec: the view's transform becomes the cast's."""
    from ...spec import Spec

    target = dtypes.dtype(dtype)
    base = spec._driver_spec.copy()
    base_dtype = base.effective_dtype()
    if base_dtype is not None:
        conversion_modes(base_dtype, target)
    cast = CastDriverSpec()
    cast.base = base
    cast.transform = base.transform
    base.transform = None
    cast.schema.update(dtype=target)
    return Spec._from_driver_spec(cast)
