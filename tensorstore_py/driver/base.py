"""Driver specs: the members every TensorStore driver shares, and the driver registry.

A `DriverSpec` is the parsed form of a TensorStore spec JSON for one driver.  It keeps the
schema constraints (`dtype`, `rank`, `schema`), the `context` member, the optional `transform`,
and, for drivers stored in a key-value store, the kvstore spec, open mode and cache options.
Each format subclasses it with its own members (zarr: `metadata`, `field`, ...).
"""

from __future__ import annotations

import copy as _copy
import importlib
from typing import Any, Callable, ClassVar

from ..context import Resource
from ..errors import invalid_argument
from ..json_util import MISSING, ObjectReader, dumps, expect_bool, expect_int, expect_string
from ..registry import Registry
from ..schema import Schema
from ..index import IndexTransform
from . import context_binding

__all__ = [
    "DriverSpec", "register_driver", "defer_driver", "driver_for_id", "registered_drivers", "is_registered",
    "driver_for_url_scheme", "auto_detect_formats", "OPEN_MODE_MEMBERS",
]  # fmt: skip

_DRIVERS: Registry[type["DriverSpec"]] = Registry("TensorStore driver")
_URL_SCHEMES: Registry[type["DriverSpec"]] = Registry("TensorStore URL scheme")
#: driver id -> (metadata key, priority) of each format the ``auto`` driver probes; declared
#: with a deferred driver, so that probing imports only the format it finds.
_AUTO_DETECT: dict[str, tuple[str, int]] = {}

OPEN_MODE_MEMBERS = ("open", "create", "delete_existing", "assume_metadata", "assume_cached_metadata")


def register_driver(cls: type["DriverSpec"]) -> type["DriverSpec"]:
    """Class decorator: makes a driver available by its `id`, aliases and URL scheme."""
    for name in (cls.id, *cls.aliases):
        _DRIVERS.register(name, cls)
    if cls.auto_detect_key:
        _AUTO_DETECT[cls.id] = (cls.auto_detect_key, cls.auto_detect_priority)
    if cls.url_scheme:
        from ..kvstore.driver import register_tensorstore_url_scheme

        _URL_SCHEMES.register(cls.url_scheme, cls)
        register_tensorstore_url_scheme(cls.url_scheme)
    return cls


def defer_driver(
    name: str, module: str, aliases: tuple[str, ...] = (), url_scheme: str | None = None,
    auto_detect: tuple[str, int] | None = None,
) -> None:
    """Declares driver `name` (and its `aliases`, `url_scheme` and auto-detection key and
    priority, as its class will have them) before `module`, which registers it, is imported."""
    from ..kvstore.driver import register_tensorstore_url_scheme

    for alias in (name, *aliases):
        _DRIVERS.defer(alias, module)
    if url_scheme:
        _URL_SCHEMES.defer(url_scheme, module)
        register_tensorstore_url_scheme(url_scheme)
    if auto_detect is not None:
        _AUTO_DETECT.setdefault(name, auto_detect)


def registered_drivers() -> list[type["DriverSpec"]]:
    """Every driver class once (importing the deferred ones)."""
    return list(dict.fromkeys(cls for _, cls in _DRIVERS.items()))


def is_registered(name: str) -> bool:
    return name in _DRIVERS


def driver_for_id(name: str) -> type["DriverSpec"]:
    cls = _DRIVERS.get(name)
    if cls is None:
        raise invalid_argument(f'Error parsing object member "driver": {dumps(name)} is not a registered TensorStore driver')
    return cls


def driver_for_url_scheme(scheme: str) -> type["DriverSpec"] | None:
    return _URL_SCHEMES.get(scheme)


def auto_detect_formats() -> list[tuple[str, str]]:
    """``(driver id, metadata key)`` of every format the ``auto`` driver recognises, in
    priority order, without importing the formats."""
    ordered = sorted(_AUTO_DETECT.items(), key=lambda item: item[1][1])
    return [(name, key) for name, (key, _priority) in ordered]


def _recheck(j: Any) -> Any:
    if isinstance(j, bool) or j == "open":
        return j
    if isinstance(j, (int, float)):
        return float(j)  # a time in seconds, printed as TensorStore prints it (1 -> 1.0)
    raise invalid_argument(f'Expected boolean, number, or "open", but received: {dumps(j)}')


def recheck_json(value: Any, default: Any) -> Any:
    """A spec's ``recheck_cached_*`` value as TensorStore prints it: MISSING for its default."""
    if value is None or (type(value) is type(default) and value == default):
        return MISSING
    return value


def _resource_ref(j: Any) -> Any:
    if isinstance(j, (str, dict)) or (isinstance(j, list) and len(j) == 1 and isinstance(j[0], str)):
        return j
    raise invalid_argument(f"Expected string or object, but received: {dumps(j)}")


class DriverSpec:
    """Parsed spec of one driver; subclasses add their own members."""

    #: what an absent ``recheck_cached_data`` means (left out of the spec's JSON when given)
    recheck_cached_data_default: ClassVar[Any] = True

    id: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    url_scheme: ClassVar[str | None] = None
    #: Whether a path may follow the scheme in a URL ("zarr2:sub/dir").
    url_path_supported: ClassVar[bool] = True
    #: Context resources the driver itself uses (its kvstore adds its own).
    context_resources: ClassVar[tuple[str, ...]] = ("cache_pool", "data_copy_concurrency")
    #: The key (below the kvstore path) whose presence identifies this format to the `auto`
    #: driver, and the order in which formats are tried (lower first).
    auto_detect_key: ClassVar[str | None] = None
    auto_detect_priority: ClassVar[int] = 100
    #: Whether opening (and every driver opened) only reads the spec, never modifies it: then
    #: one parse of the same spec JSON may serve every `ts.open` of it (see open.py).
    opens_without_modifying: ClassVar[bool] = False

    @classmethod
    def auto_detect_matches(cls, value: bytes) -> bool:
        """Whether the value at `auto_detect_key` really is this format's metadata."""
        return True

    def __init__(self) -> None:
        self.schema = Schema()
        self.context_spec: dict | None = None
        self.transform: IndexTransform | None = None
        self.kvstore: Any = None  # tensorstore_py.kvstore KvStore.Spec or None
        self.open_mode: dict[str, bool] = {}
        self.recheck_cached_data: Any = None
        self.recheck_cached_metadata: Any = None
        self.resources: dict[str, Any] = {}  # provider -> reference, for drivers' own resources
        self.extra_flags: dict[str, bool] = {}  # fill_missing_data_reads, store_data_equal_to_fill_value

    # -- JSON ---------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, j: dict) -> "DriverSpec":
        self = cls()
        r = ObjectReader(j)
        r.get("driver")
        self.context_spec = r.get("context", _context_json, None)
        rank = r.get("rank", lambda x: expect_int(x, 0, 32), None)
        dtype = r.get("dtype", _parse_dtype, None)
        schema_json = r.get("schema", None, None)
        try:
            schema = Schema(json=schema_json) if schema_json is not None else self.schema
            if dtype is not None:
                schema.update(dtype=dtype)
            if rank is not None:
                schema.update(rank=rank)
        except (ValueError, TypeError) as exc:
            raise invalid_argument(str(exc)) from None
        self.schema = schema
        self.transform = r.get("transform", lambda x: IndexTransform(json=x), None)
        # (`in j` first: a plain spec names few of these, and every open parses one)
        for name in OPEN_MODE_MEMBERS:
            if name in j:
                value = r.get(name, expect_bool, None)
                if value is not None:
                    self.open_mode[name] = value
        if self.open_mode.get("assume_metadata"):
            self.open_mode.pop("assume_cached_metadata", None)  # superseded, as TensorStore
        if "recheck_cached_metadata" in j:
            self.recheck_cached_metadata = r.get("recheck_cached_metadata", _recheck, None)
        if "recheck_cached_data" in j:
            self.recheck_cached_data = r.get("recheck_cached_data", _recheck, None)
        for name in ("fill_missing_data_reads", "store_data_equal_to_fill_value"):
            if name in j:
                value = r.get(name, expect_bool, None)
                if value is not None:
                    self.extra_flags[name] = value
        for provider in cls.context_resources:
            if provider in j:
                ref = r.get(provider, _resource_ref, None)
                if ref is not None:
                    self.resources[provider] = ref
        kvstore = r.get("kvstore", _kvstore_spec, None)
        path = r.get("path", expect_string, None)
        if path is not None:
            if kvstore is None:
                raise invalid_argument('"path" must be specified in conjunction with "kvstore"')
            kvstore = kvstore / path if kvstore.path.endswith("/") or not kvstore.path else _kvstore_join(kvstore, path)
        if kvstore is not None:
            kvstore = self.normalize_kvstore(kvstore)
        self.kvstore = kvstore
        self.parse_driver_members(r)
        r.finish()
        self.check_rank_consistency()
        return self

    def open_now(self, context: Any, transaction: Any = None) -> Any:
        """The opened driver if it is known without waiting (metadata cached, or read in this
        thread), else what `open` returns: a Future of it.  Errors come as a failed Future."""
        return self.open(context, transaction)  # type: ignore[attr-defined]

    def parse_driver_members(self, r: ObjectReader) -> None:
        """Subclasses consume their own members from `r`."""

    def driver_members_json(self) -> dict:
        """Subclasses return their own members' JSON."""
        return {}

    def normalize_kvstore(self, kvstore: Any) -> Any:
        return kvstore

    def url_component(self) -> str:
        """This driver's part of a URL pipeline (``zarr2:``)."""
        if self.url_scheme is None:
            raise invalid_argument(f"URL representation not supported by {dumps(self.id)} driver")
        return f"{self.url_scheme}:"

    def validate_options(self) -> None:
        """Raises for option combinations this driver cannot honour (checked on update/open)."""

    def check_rank_consistency(self) -> None:
        # The stored schema (metadata included) is in the driver's space: the transform's output.
        if self.transform is not None and self.schema.rank is not None and self.transform.output_rank != self.schema.rank:
            raise invalid_argument(
                f"Rank specified by rank ({self.transform.output_rank}) does not match existing rank specified by "
                f"schema ({self.schema.rank})"
            )

    #: Members a spec prints with ``include_defaults`` when absent (formats add their own).
    default_members: ClassVar[dict[str, Any]] = {}

    def to_json(self, include_defaults: bool = False) -> dict:
        out: dict[str, Any] = {"driver": self.id}
        if self.context_spec is not None:
            out["context"] = _copy.deepcopy(self.context_spec)
        schema_json = self.schema.to_json()
        if include_defaults:
            if self.rank is not None:
                schema_json.setdefault("rank", self.rank)
            full_schema = {k: v for k, v in schema_json.items() if k != "domain" or self.transform is None}
        dtype = schema_json.pop("dtype", None)
        rank = schema_json.pop("rank", None)
        if dtype is not None:
            out["dtype"] = dtype
        if rank is not None and self.transform is None and "domain" not in schema_json:
            out["rank"] = rank
        if schema_json:
            out["schema"] = schema_json
        if self.transform is not None:
            out["transform"] = self.transform.to_json()
        if self.kvstore is not None:
            out["kvstore"] = kvstore_json(self.kvstore)
        # As TensorStore prints a mode: only flags that are set, and `open` only beside `create`
        # (alone it is what opening does anyway).
        for flag, value in self.open_mode.items():
            if value and (flag != "open" or self.open_mode.get("create")):
                out[flag] = True
        for name, default in (("recheck_cached_data", self.recheck_cached_data_default),
                              ("recheck_cached_metadata", "open")):
            value = recheck_json(getattr(self, name), default)
            if value is not MISSING:
                out[name] = value
        out.update(self.extra_flags)
        bound = context_binding.is_bound(self)
        out.update((k, v) for k, v in self.resources.items() if not bound or not isinstance(v, Resource))
        if bound:
            out.update(context_binding.members_json(self, retain=False))
        out.update(self.driver_members_json())
        if include_defaults:
            self._add_defaults(out, full_schema)
        return {k: out[k] for k in sorted(out)}

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        """The members TensorStore prints with ``include_defaults``, where absent."""
        defaults: dict[str, Any] = {
            "assume_cached_metadata": False, "assume_metadata": False, "delete_existing": False,
            "context": {}, "fill_missing_data_reads": True, "store_data_equal_to_fill_value": False,
            "recheck_cached_data": True, "recheck_cached_metadata": "open",
        }  # fmt: skip
        for provider in self.context_resources:
            defaults[provider] = provider
        defaults.update(_copy.deepcopy(self.default_members))
        for name, value in defaults.items():
            out.setdefault(name, value)
        out["schema"] = schema_json
        if self.kvstore is not None:
            to_json = getattr(self.kvstore, "to_json", None)
            if to_json is not None:
                out["kvstore"] = to_json(include_defaults=True)

    def copy(self) -> "DriverSpec":
        return context_binding.copy_spec(self)  # bound context resources stay shared

    # -- what the spec says about the array -----------------------------------------------------

    def effective_dtype(self):
        """The data type the spec implies (schema or driver members), or None."""
        return self.schema.dtype

    def effective_rank(self) -> int | None:
        return self.rank

    def effective_schema(self) -> Schema:
        """Every constraint the spec implies, as `Spec.schema` reports it."""
        return _copy.deepcopy(self.schema)

    def base_domain(self, rank: int):
        """The bounds every array of this driver has (e.g. zarr: origin 0), or None."""
        return None

    def effective_domain(self):
        """The domain implied by the spec (schema, transform, driver members), or None."""
        return self.schema.domain

    @property
    def rank(self) -> int | None:
        if self.transform is not None:
            return self.transform.input_rank
        if self.schema.rank is not None:
            return self.schema.rank
        return None


def _parse_dtype(j: Any) -> str:
    from .. import dtypes

    name = expect_string(j)
    if name not in dtypes.ALL_DTYPES:
        raise invalid_argument(f"Unsupported data type: {dumps(name)}")
    return name


def kvstore_json(kvstore: Any) -> dict:
    """JSON of a kvstore member, which is a KvStore.Spec or an open KvStore."""
    to_json = getattr(kvstore, "to_json", None)
    return to_json() if to_json is not None else kvstore.spec().to_json()


def _context_json(j: Any) -> dict:
    if not isinstance(j, dict):
        raise invalid_argument(f"Expected object, but received: {dumps(j)}")
    from ..context import Context

    Context.Spec(j)  # validates
    return _copy.deepcopy(j)


def _kvstore_spec(j: Any):
    global _KvStore
    KvStore = _KvStore
    if KvStore is None:  # the kvstore package imports drivers: bound on first use
        from ..kvstore import KvStore

        _KvStore = KvStore
    if isinstance(j, KvStore):
        return j.copy()  # an open KvStore keeps its bound context resources

    return KvStore.Spec(j)


_KvStore: Any = None


def _kvstore_join(kvstore, path: str):
    spec = _copy.deepcopy(kvstore)
    spec.path = kvstore.path + path
    return spec


def lazy_driver_class(package: str, name: str) -> Callable[[], Any]:
    """A loader of the opened-driver class `name` of a format package's ``driver`` module,
    imported on first call (that module imports the spec module asking for it)."""
    loaded: list = []

    def load() -> Any:
        if not loaded:
            loaded.append(getattr(importlib.import_module(".driver", package), name))
        return loaded[0]

    return load


def add_resource_members(j: dict, builder: Any, resources: dict) -> None:
    """Adds to a spec's JSON `j` the member of each bound context resource (member name ->
    resource) that `builder` gives one for (none where it is the default)."""
    for name, resource in resources.items():
        member = builder.member_json(resource)
        if member is not MISSING:
            j[name] = member
