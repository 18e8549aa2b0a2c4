"""The key-value store driver interface, the driver registry and kvstore spec/URL parsing.

A driver is registered with a `KvStoreDriverSpec` subclass: it parses the driver's own JSON
members, names the context resources it needs, converts to and from URLs, and opens a
`KvStoreDriver` once those resources are bound.  A `KvStoreDriver` serves every `KvStore`
opened on it; the path of a `KvStore` is simply prepended to its keys, so drivers only ever
see full keys (bytes).

All driver operations return a `Future` at once; none blocks an executor thread on another
future.  A failed ``if_equal`` condition is not an error: the write is skipped and the
returned stamp has generation `UNKNOWN`.

Adding a driver (sketch)::

    class GcsDriverSpec(KvStoreDriverSpec):
        id = "gcs"
        url_scheme = "gs"
        resource_members = {"gcs_request_concurrency": "gcs_request_concurrency", ...}

        @classmethod
        def parse_options(cls, reader):        # consume "bucket" etc. from the ObjectReader
            return {"bucket": reader.get("bucket", expect_string)}

        @classmethod
        def from_url(cls, url): ...            # "gs://b/p" -> {"driver": "gcs", ...}
        def to_url(self, path): ...
        def open(self, resources):             # resources: member -> bound context Resource
            return GcsDriver(self, resources)

    register_kvstore_driver("gcs", GcsDriverSpec, url_scheme="gs")

Users of drivers (the chunked engine, TensorStore drivers) call `open_kvstore_driver(spec,
context)` and then `read`/`write`/`list`/`delete_range` with full keys, and
``driver.spec_json(path, builder)`` / ``driver.url(path)`` for spec output.

Adapters (zip, neuroglancer_uint64_sharded, zarr3_sharding_indexed, ocdbt ...)
------------------------------------------------------------------------------
An adapter is a driver whose JSON has a ``"base"`` member: another kvstore spec (any driver,
possibly itself an adapter) holding the adapter's bytes.  Specs nest: a `ParsedSpec` has a
`base` `ParsedSpec`; binding, unbinding and stripping context resources recurse into it (a
nested ``"context"`` applies to the base too); unbound JSON collects every level's resources
in one top-level ``"context"``.  An open adapter driver holds its open base driver and the
path within it (`KvStoreDriver.base`, `KvStoreDriver.base_path`); ``KvStore.base`` and
``KvStore.Spec.base`` expose them.

URL pipelines parse left to right: the first component names a root driver (``file:///a.zip``),
each following ``scheme:path`` component an adapter wrapping everything to its left
(``|zip:inner/path``).  A TensorStore driver scheme (``zarr3:``) may end a pipeline; the
TensorStore layer registers those with `register_tensorstore_url_scheme` so that the kvstore
parser names them in its errors as TensorStore does.

Adding an adapter (sketch)::

    class ZipDriverSpec(KvStoreAdapterSpec):
        id = "zip"
        url_scheme = "zip"                     # None: no URL form (to_url raises)
        resource_members = {"cache_pool": "cache_pool", ...}

        @classmethod
        def parse_options(cls, reader): ...    # its own members; "base"/"path" are parsed for it
        # from_url / to_url: inherited ("zip:percent-encoded/path"); override if needed
        def open_adapter(self, resources, base, base_path):
            return ZipDriver(self, resources, base, base_path)   # a KvStoreAdapterDriver

    register_kvstore_driver("zip", ZipDriverSpec, url_scheme="zip")

A format driver that builds an adapter over a store it already has open (the precomputed
driver over a scale directory) calls `open_adapter_driver(spec, base, base_path, context)`.
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import time
import urllib.parse
from typing import Any, Callable, ClassVar

from ..context import Context, ContextSpecBuilder, Resource, get_provider
from ..errors import invalid_argument, out_of_range
from ..future import Future
from ..json_util import MISSING, ObjectReader, dumps, member_error
from ..metrics import instrument_kvstore_driver
from ..registry import Registry
from . import generation as gen
from .generation import ReadResult, TimestampedStorageGeneration, to_bytes
from .key_range import KeyRange

__all__ = [
    "ReadOptions", "WriteOptions", "KvStoreDriver", "KvStoreDriverSpec", "register_kvstore_driver", "defer_kvstore_driver",
    "get_driver_spec_class", "parse_kvstore_url", "parse_kvstore_spec", "open_kvstore_driver",
    "apply_read", "resolve_byte_range", "percent_encode_path", "percent_decode_path",
    "join_path", "ParsedSpec", "KvStoreAdapterSpec", "KvStoreAdapterDriver", "open_adapter_driver",
    "register_tensorstore_url_scheme", "url_scheme_kind", "parse_root_url", "apply_adapter_url",
    "spec_url",
]  # fmt: skip


@dataclasses.dataclass
class ReadOptions:
    """Conditions and byte range of a read.

    `byte_range` is ``(inclusive_min, exclusive_max)`` with ``exclusive_max`` None for "to the
    end"; a negative ``inclusive_min`` (with None) asks for that many bytes from the end.
    """

    if_equal: bytes | None = None
    if_not_equal: bytes | None = None
    staleness_bound: float | None = None
    byte_range: tuple[int, int | None] | None = None


@dataclasses.dataclass
class WriteOptions:
    """``if_equal``: write only if the stored generation is this one (`NO_VALUE`: if absent)."""

    if_equal: bytes | None = None


def resolve_byte_range(byte_range: tuple[int, int | None] | None, size: int) -> tuple[int, int]:
    """``[start, stop)`` within a value of `size` bytes, or OUT_OF_RANGE as TensorStore reports."""
    if byte_range is None:
        return 0, size
    lo, hi = byte_range
    if lo < 0 and hi is None:
        if -lo > size:
            raise out_of_range(f"Requested byte range [{lo}, ?) is not valid for value of size {size}")
        return size + lo, size
    stop = size if hi is None else hi
    if lo < 0 or lo > stop or stop > size:
        shown = "?" if hi is None else str(hi)
        raise out_of_range(f"Requested byte range [{lo}, {shown}) is not valid for value of size {size}")
    return lo, stop


def apply_read(value: bytes | None, generation: bytes, options: ReadOptions, now: float) -> ReadResult:
    """The `ReadResult` for a stored `value` (None: absent) under `options`' conditions."""
    stamp = TimestampedStorageGeneration(generation, now)
    if value is None:
        return ReadResult._make("missing", b"", stamp)
    if options.if_not_equal and generation == options.if_not_equal:
        return ReadResult._make("unspecified", b"", stamp)
    if options.if_equal and generation != options.if_equal:
        return ReadResult._make("unspecified", b"", stamp)
    if options.byte_range is None:
        return ReadResult._make("value", to_bytes(value), stamp)
    start, stop = resolve_byte_range(options.byte_range, len(value))
    if start == 0 and stop == len(value):
        return ReadResult._make("value", to_bytes(value), stamp)
    return ReadResult._make("value", to_bytes(value[start:stop]), stamp)


def condition_matches(stored: bytes, if_equal: bytes | None) -> bool:
    """Whether a write conditioned on `if_equal` may replace a value whose generation is `stored`."""
    return not if_equal or stored == if_equal


# ---------------------------------------------------------------------------------------------
# Driver specs and drivers.


class KvStoreDriverSpec(abc.ABC):
    """The driver-specific part of a kvstore spec, not yet bound to a context.

    Subclasses set `id`, `url_scheme` and `resource_members` (JSON member -> context resource
    provider), and implement `parse_options`, `from_url`, `to_url` and `open`.
    """

    id: ClassVar[str] = ""
    url_scheme: ClassVar[str | None] = None
    resource_members: ClassVar[dict[str, str]] = {}
    #: True for adapters: the spec has a "base" kvstore (see `KvStoreAdapterSpec`)
    is_adapter: ClassVar[bool] = False

    def __init__(self, options: dict | None = None):
        #: driver-specific JSON members other than resources, normalized (defaults omitted)
        self.options: dict = dict(options or {})

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        """Consumes the driver's own members from `reader`; returns them normalized."""
        return {}

    def options_json(self, include_defaults: bool = False) -> dict:
        return dict(self.options)

    @classmethod
    def from_url(cls, url: str) -> dict:
        """Spec JSON for a URL of this driver's scheme (errors: plain messages)."""
        raise invalid_argument(f"URL not supported by {cls.id!r} driver")

    def to_url(self, path: str) -> str:
        raise unimplemented_url(self.id)

    def normalize_path(self, path: str) -> str:
        return path

    @abc.abstractmethod
    def open(self, resources: dict[str, Resource]) -> "KvStoreDriver":
        """A driver serving this spec with `resources` (member -> bound resource)."""


class KvStoreAdapterSpec(KvStoreDriverSpec):
    """The driver part of an adapter's spec: its "base" is parsed and bound by the caller.

    URLs: an adapter's component is ``scheme:path`` (path percent-encoded), appended to its
    base's URL after ``|``.
    """

    is_adapter: ClassVar[bool] = True

    @classmethod
    def normalize_base_path(cls, path: str) -> str:
        """The base's path as this adapter keeps it (ocdbt: a directory, ending in ``/``)."""
        return path

    @classmethod
    def from_url(cls, url: str) -> dict:
        """Spec JSON (without "base") for an adapter URL component ``scheme:path``."""
        scheme = cls.url_scheme or cls.id
        rest = url[len(scheme) + 1 :] if url.startswith(scheme + ":") else ""
        if rest.startswith("//"):
            raise invalid_argument(f"Scheme {dumps(scheme + ':')} not present in url")
        if "#" in rest:
            raise invalid_argument("Fragment identifier not supported")
        if "?" in rest:
            raise invalid_argument("Query string not supported")
        j: dict[str, Any] = {"driver": cls.id}
        path = percent_decode_path(rest)
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str) -> str:
        """This adapter's own URL component (the base's URL and ``|`` go before it)."""
        if self.url_scheme is None:
            raise unimplemented_url(self.id)
        return f"{self.url_scheme}:{percent_encode_path(path)}"

    def open(self, resources: dict[str, Resource]) -> "KvStoreDriver":
        raise invalid_argument(f"{dumps(self.id)} kvstore requires a base kvstore")

    @abc.abstractmethod
    def open_adapter(self, resources: dict[str, Resource], base: "KvStoreDriver", base_path: str) -> "KvStoreDriver":
        """A driver over `base` (open) at `base_path`, with this level's `resources` bound."""


def unimplemented_url(driver_id: str) -> ValueError:
    from ..errors import unimplemented

    # TensorStore's kvstore message names no driver (its TensorStore drivers' messages do).
    return unimplemented("URL representation not supported")


class KvStoreDriver(abc.ABC):
    """An open key-value store.  Keys are full keys (the KvStore path already prepended)."""

    #: an adapter's open base driver and the path within it (None / "" for root drivers)
    base: "KvStoreDriver | None" = None
    base_path: str = ""
    #: Whether reads issued with a `ts.Batch` wait for its submit to be coalesced per key
    #: (see batch.py); False runs them at once.
    batch_reads: ClassVar[bool] = True
    #: False for an adapter whose `list` is UNIMPLEMENTED (asked before listing is attempted).
    can_list: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        instrument_kvstore_driver(cls)  # calls, bytes and latency under TensorStore's metric names

    def __init__(self, spec: KvStoreDriverSpec, resources: dict[str, Resource]):
        self.driver_spec = spec
        #: JSON member -> bound context resource
        self.resources = dict(resources)

    @property
    def context_resources(self) -> tuple[str, ...]:
        """Provider names of the context resources this driver uses."""
        return tuple(self.driver_spec.resource_members.values())

    @abc.abstractmethod
    def read(self, key: bytes, options: ReadOptions) -> "Future[ReadResult]":
        """Reads `key`; a missing key is a 'missing' result, not an error."""

    #: ``read_now(key, options) -> ReadResult``: `read` done on the calling thread, for stores
    #: whose reads are quick local work (file, memory), so that the engine can read, decode
    #: and copy a chunk in one task; None where a read waits on a server.
    read_now: "Callable[[bytes, ReadOptions], ReadResult] | None" = None

    #: ``write_now(key, value, options) -> TimestampedStorageGeneration``: `write` done on the
    #: calling thread, where `read_now` is (the read-modify-write then runs as one task).
    write_now: "Callable[[bytes, bytes | None, WriteOptions], TimestampedStorageGeneration] | None" = None

    #: True where a write's value may be a `byte_parts.ByteParts` (written part after part,
    #: never joined): producers of large values made of pieces (zarr3 shards) check it.
    writes_parts: ClassVar[bool] = False

    #: True where `read_now` and `write_now` are quick work that never waits (a memory store):
    #: the engine then runs them on the calling thread, as TensorStore runs memory reads at once.
    read_now_inline: ClassVar[bool] = False

    #: How many chunks a read may fetch and decode on the calling thread (`read_now`) rather
    #: than on a pool: a small read of a local file is quicker done than handed over.
    inline_read_chunks: ClassVar[int] = 0

    @property
    def read_now_executor(self) -> "concurrent.futures.Executor | None":
        """The pool `read_now` and `write_now` should run on (None: any, e.g. the engine's
        data-copy pool, or inline where they never block)."""
        return None

    @abc.abstractmethod
    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> "Future[TimestampedStorageGeneration]":
        """Writes (`value` None: deletes) `key`, conditionally on `options.if_equal`."""

    @abc.abstractmethod
    def delete_range(self, key_range: KeyRange) -> "Future[None]":
        """Deletes every key in `key_range`."""

    @abc.abstractmethod
    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> "Future[list[bytes]]":
        """Keys in `key_range` (unspecified order), each with its first bytes stripped."""

    def spec_json(self, path: str, builder: ContextSpecBuilder | None = MISSING) -> dict:
        """The kvstore spec JSON of this driver at `path`.

        `builder` omitted: context stripped (what ``KvStore.spec()`` prints).  With a builder,
        resource members are written as references and the resources recorded in the builder,
        whose ``context_json()`` the caller places under ``"context"``.
        """
        spec = self.printed_spec()
        j: dict[str, Any] = {"driver": spec.id}
        j.update(spec.options_json())
        if path:
            j["path"] = path
        if builder is not MISSING and builder is not None:
            for member, resource in self.resources.items():
                value = builder.member_json(resource)
                if value is not MISSING:
                    j[member] = value
        if self.base is not None:
            j["base"] = self.base.spec_json(self.base_path, builder)
        return dict(sorted(j.items()))

    def bound_spec(self, path: str) -> "ParsedSpec":
        """The spec of this driver at `path`, its resources (and its base's) bound."""
        base = None if self.base is None else self.base.bound_spec(self.base_path)
        return ParsedSpec(self.printed_spec(), path, None, dict(self.resources), base)

    def printed_spec(self) -> Any:
        """The driver spec that this open driver's specs print: the one it was opened with, or
        with what it has learned since (an ocdbt database's config)."""
        return self.driver_spec

    def describe_key(self, key: bytes) -> str:
        """How TensorStore names `key` in messages (``".zarray"``; files: ``local file "..."``)."""
        return dumps(key.decode("utf-8", "replace"))

    def url(self, path: str) -> str:
        """The URL (``memory://a/``, ``file:///tmp/x``, ``file:///a.zip|zip:b/``) for `path`."""
        own = self.driver_spec.to_url(path)
        if self.base is None:
            return own
        return f"{self.base.url(self.base_path)}|{own}"

    def now(self) -> float:
        return time.time()

    #: Whether one transaction may atomically commit several keys of this store.
    atomic_multi_key: ClassVar[bool] = False

    @property
    def cache_identity(self) -> tuple:
        """What makes two opened drivers the same store, for sharing cache entries.

        The driver's id and options plus the bound context resources themselves: the tuple
        holds them, so an identity cannot be reused by another store while it is in use (an
        object id could be, once garbage collected).
        """
        ident = self.__dict__.get("_cache_identity")
        if ident is None:
            resources = tuple(sorted(self.resources.items()))  # (the names differ: never compares two resources)
            options = self.driver_spec.options_json()
            ident = (self.driver_spec.id, dumps(options) if options else "{}", resources)
            self.__dict__["_cache_identity"] = ident
        return ident


class KvStoreAdapterDriver(KvStoreDriver):
    """An open adapter: serves its keys from the value(s) of `base` at `base_path`."""

    def __init__(self, spec: KvStoreAdapterSpec, resources: dict[str, Resource], base: KvStoreDriver, base_path: str):
        super().__init__(spec, resources)
        self.base = base
        self.base_path = base_path

    @property
    def context_resources(self) -> tuple[str, ...]:
        assert self.base is not None
        return tuple(dict.fromkeys(super().context_resources + self.base.context_resources))

    def now(self) -> float:
        assert self.base is not None
        return self.base.now()

    @property
    def cache_identity(self) -> tuple:
        """As for any driver, plus the identity of the base and the path within it: two
        adapters over different archives (or shard directories) never share cache entries."""
        ident = self.__dict__.get("_cache_identity")
        if ident is None:
            assert self.base is not None
            ident = (*KvStoreDriver.cache_identity.fget(self), self.base.cache_identity, self.base_path)  # type: ignore[attr-defined]
            self.__dict__["_cache_identity"] = ident
        return ident


# ---------------------------------------------------------------------------------------------
# Registry.

_DRIVERS: Registry[type[KvStoreDriverSpec]] = Registry("kvstore driver")
_URL_SCHEMES: Registry[type[KvStoreDriverSpec]] = Registry("kvstore URL scheme")
#: URL scheme -> "root" or "adapter", for the schemes of deferred drivers (what a URL parser
#: must know of a scheme before its driver is imported).
_DEFERRED_SCHEME_KINDS: dict[str, str] = {}
# URL schemes of TensorStore drivers (zarr2:, n5: ...), known here only to name them in errors.
_TENSORSTORE_URL_SCHEMES: set[str] = set()


def register_kvstore_driver(name: str, factory: type[KvStoreDriverSpec], url_scheme: str | None = None) -> None:
    """Registers driver `name`; `factory` is its `KvStoreDriverSpec` subclass (an adapter's
    `url_scheme` is a pipeline component, a root driver's the start of a URL)."""
    _DRIVERS.register(name, factory)
    if url_scheme:
        _URL_SCHEMES.register(url_scheme, factory)


def defer_kvstore_driver(name: str, module: str, url_schemes: tuple[str, ...] = (), adapter: bool = False) -> None:
    """Declares driver `name` and its URL schemes (an adapter's, if `adapter`) before
    `module`, which registers them, is imported."""
    _DRIVERS.defer(name, module)
    for scheme in url_schemes:
        _URL_SCHEMES.defer(scheme, module)
        _DEFERRED_SCHEME_KINDS[scheme] = "adapter" if adapter else "root"


def register_tensorstore_url_scheme(scheme: str) -> None:
    """Records the URL scheme of a TensorStore driver (``zarr3``), which ends a pipeline."""
    _TENSORSTORE_URL_SCHEMES.add(scheme)


def url_scheme_kind(scheme: str) -> str | None:
    """``"root"``, ``"adapter"``, ``"tensorstore"`` or None (unknown scheme)."""
    cls = _URL_SCHEMES.peek(scheme)
    if cls is not None:
        return "adapter" if cls.is_adapter else "root"
    if scheme in _URL_SCHEMES:
        return _DEFERRED_SCHEME_KINDS[scheme]
    if scheme in _TENSORSTORE_URL_SCHEMES:
        return "tensorstore"
    return None


def get_driver_spec_class(name: str) -> type[KvStoreDriverSpec]:
    cls = _DRIVERS.get(name)
    if cls is None:
        raise member_error("driver", invalid_argument(f"{dumps(name)} is not a registered KvStore driver"))
    return cls


# ---------------------------------------------------------------------------------------------
# URLs.

# Characters kept verbatim in URL paths (everything else is percent-encoded).
_URL_SAFE = "!$&'()*+,-./0123456789:;=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"


def percent_encode_path(path: str, extra_safe: str = "") -> str:
    return urllib.parse.quote(path, safe=_URL_SAFE + extra_safe)


def percent_decode_path(text: str) -> str:
    """Decodes ``%XX`` escapes, rejecting malformed ones and invalid UTF-8 as TensorStore does."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # '%'
            hexpart = raw[i + 1 : i + 3]
            try:
                if len(hexpart) != 2:
                    raise ValueError
                out.append(int(hexpart, 16))
            except ValueError:
                raise invalid_argument(f"Invalid percent-encoding at position {-i}: {dumps(text)}") from None
            i += 3
        else:
            out.append(c)
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_argument(f"Invalid UTF-8 percent-encoding sequence: {dumps(text)}") from None


def split_url(url: str, scheme: str) -> tuple[str, str]:
    """``scheme://authority/path`` -> (authority-and-path, decoded), errors as TensorStore's."""
    prefix = scheme + "://"
    if not url.startswith(prefix):
        raise invalid_argument(f"Scheme {dumps(prefix)} not present in url")
    rest = url[len(prefix) :]
    if "#" in rest:
        raise invalid_argument("Fragment identifier not supported")
    if "?" in rest:
        raise invalid_argument("Query string not supported")
    return rest, percent_decode_path(rest)


def parse_kvstore_url(url: str) -> dict:
    """Spec JSON for a kvstore URL pipeline (``memory://a/``, ``file:///a.zip|zip:b/``)."""
    if not url:
        raise invalid_argument("URL must be non-empty")
    try:
        parts = url.split("|")
        if not all(parts):
            raise invalid_argument("URL must be non-empty")
        spec = parse_root_url(parts[0])
        for part in parts[1:]:
            spec = apply_adapter_url(part, spec)
        return spec
    except ValueError as exc:
        raise _prefixed(exc, f"Parsing spec from url: {dumps(url)}") from None


_KIND_NAMES = {
    "root": "root kvstore URL scheme",
    "adapter": "kvstore adapter URL scheme",
    "tensorstore": "kvstore-based TensorStore URL scheme",
}


def component_scheme(component: str) -> tuple[str, str]:
    """``(scheme, component)`` of a pipeline component after the first; a component without
    ``:`` is all scheme (``"zip"`` means ``"zip:"``)."""
    colon = component.find(":")
    if colon < 0:
        return component, component + ":"
    return component[:colon], component


def _unsupported(scheme: str, shown: str, kind: str | None) -> ValueError:
    message = f"unsupported URL scheme {dumps(scheme)} in {dumps(shown)}"
    if kind is not None:
        message += f": {dumps(scheme)} is a {_KIND_NAMES[kind]}"
    return invalid_argument(message)


def parse_root_url(component: str) -> dict:
    """Spec JSON for the first component of a kvstore URL (a root driver's URL)."""
    scheme = _scheme_of(component)
    kind = url_scheme_kind(scheme)
    if kind != "root":
        raise _unsupported(scheme, component, kind)
    try:
        return _URL_SCHEMES.get(scheme).from_url(component)  # type: ignore[union-attr]  (kind is root)
    except ValueError as exc:
        raise _prefixed(exc, f"Invalid kvstore URL component {dumps(component)}") from None


def apply_adapter_url(component: str, base: dict) -> dict:
    """Spec JSON of the adapter URL `component` wrapping the spec JSON `base`."""
    scheme, shown = component_scheme(component)
    kind = url_scheme_kind(scheme)
    if kind != "adapter":
        raise _unsupported(scheme, shown, kind)
    try:
        spec = _URL_SCHEMES.get(scheme).from_url(shown)  # type: ignore[union-attr]  (kind is adapter)
    except ValueError as exc:
        raise _prefixed(exc, f"Invalid kvstore URL component {dumps(shown)}") from None
    spec["base"] = base
    return spec


def _scheme_of(component: str) -> str:
    colon = component.find(":")
    if colon <= 0:
        raise invalid_argument(f"URL scheme must be specified in {dumps(component)}")
    return component[:colon]


def _prefixed(exc: ValueError, prefix: str) -> ValueError:
    from ..errors import annotate

    return annotate(exc, prefix)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Spec JSON.


@dataclasses.dataclass
class ParsedSpec:
    """A kvstore spec: driver part, path, nested context, resource members and, for an
    adapter, the `base` spec it wraps.

    `resources` maps a JSON member to its unbound JSON (reference string, inline spec) or to a
    bound `Resource`; members not present are the default reference.
    """

    driver_spec: KvStoreDriverSpec
    path: str = ""
    context: Any = None  # Context.Spec | None
    resources: dict = dataclasses.field(default_factory=dict)
    base: "ParsedSpec | None" = None

    @property
    def bound(self) -> bool:
        own = any(isinstance(v, Resource) for v in self.resources.values())
        return own or (self.base is not None and self.base.bound)

    def copy(self) -> "ParsedSpec":
        base = None if self.base is None else self.base.copy()
        return ParsedSpec(self.driver_spec, self.path, self.context, dict(self.resources), base)

    def levels(self) -> "list[ParsedSpec]":
        """This spec, its base, its base's base ..."""
        out: list[ParsedSpec] = []
        level: ParsedSpec | None = self
        while level is not None:
            out.append(level)
            level = level.base
        return out


def _expect_present_string(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    return j


def _parse_resource_member(provider_id: str, j: Any) -> Any:
    if j is None:
        raise invalid_argument("Expected non-null value, but received: null")
    from ..context import _parse_member_value

    return _parse_member_value(get_provider(provider_id), j)


def _parse_base(j: Any) -> ParsedSpec:
    if not isinstance(j, (dict, str)):
        raise invalid_argument(f"Expected object, but received: {dumps(j)}")
    return parse_kvstore_spec(j)


_ABSENT: Any = object()


def parse_kvstore_spec(j: Any) -> ParsedSpec:
    """Parses a kvstore spec given as JSON object or URL string."""
    if isinstance(j, str):
        j = parse_kvstore_url(j)
    reader = ObjectReader(j)
    if not reader.has("driver"):
        raise member_error("driver", invalid_argument("Expected string, but member is missing"))
    driver_id = reader.get("driver", _expect_present_string)
    cls = get_driver_spec_class(driver_id)
    base = None
    if cls.is_adapter:
        if not reader.has("base"):
            raise member_error("base", invalid_argument("Expected object, but member is missing"))
        base = reader.get("base", _parse_base)
        base.path = cls.normalize_base_path(base.path)  # type: ignore[attr-defined]
    path = reader.get("path", _expect_present_string, "")
    context = reader.get("context", Context.Spec, None)
    resources = {}
    j = reader.json
    for member, provider_id in cls.resource_members.items():
        if member not in j:  # (the usual case: a default reference, nothing to parse)
            continue
        value = reader.get(member, lambda v, p=provider_id: _parse_resource_member(p, v), _ABSENT)
        if value is not _ABSENT:
            resources[member] = value
    options = cls.parse_options(reader)
    reader.finish()
    spec = cls(options)
    return ParsedSpec(spec, spec.normalize_path(path), context, resources, base)


def _bind_resources(driver_spec: KvStoreDriverSpec, given: dict, ctx: Context) -> dict:
    resources = {}
    for member, provider_id in driver_spec.resource_members.items():
        value = given.get(member)
        resources[member] = value if isinstance(value, Resource) else ctx.get_resource(provider_id, value)
    return resources


def bind_spec(parsed: ParsedSpec, context: Context) -> ParsedSpec:
    """`parsed` with every resource member bound in `context` (nested "context" first), at
    every level: a level's nested context applies to its base too."""
    ctx = context if parsed.context is None else Context(parsed.context, context)
    base = None if parsed.base is None else bind_spec(parsed.base, ctx)
    resources = _bind_resources(parsed.driver_spec, parsed.resources, ctx)
    return ParsedSpec(parsed.driver_spec, parsed.path, None, resources, base)


def open_kvstore_driver(spec_json: Any, context: Context) -> tuple[KvStoreDriver, str]:
    """Opens the driver for a kvstore spec (JSON, URL, `ParsedSpec`, ``KvStore.Spec``), or
    returns the driver and path of an already open ``KvStore``."""
    driver = getattr(spec_json, "_driver", None)
    if isinstance(driver, KvStoreDriver):
        return driver, spec_json.path
    parsed = _as_parsed(spec_json)
    if parsed.base is None and parsed.context is None:
        # One level, no nested context (a plain file or memory store): bound and opened
        # without building the bound spec.
        return parsed.driver_spec.open(_bind_resources(parsed.driver_spec, parsed.resources, context)), parsed.path
    bound = bind_spec(parsed, context)
    return open_bound(bound), bound.path


def open_bound(bound: ParsedSpec) -> KvStoreDriver:
    """The driver of a spec whose resources are bound at every level."""
    if bound.base is None:
        return bound.driver_spec.open(bound.resources)
    spec = bound.driver_spec
    assert isinstance(spec, KvStoreAdapterSpec)
    return spec.open_adapter(bound.resources, open_bound(bound.base), bound.base.path)


def open_adapter_driver(
    spec: KvStoreAdapterSpec, base: KvStoreDriver, base_path: str, context: Context
) -> KvStoreDriver:
    """An adapter over an already open `base` driver, its own resources bound in `context`."""
    return spec.open_adapter(_bind_resources(spec, {}, context), base, base_path)


def _as_parsed(spec: Any) -> ParsedSpec:
    if isinstance(spec, ParsedSpec):
        return spec
    inner = getattr(spec, "_parsed", None)
    if isinstance(inner, ParsedSpec):
        return inner
    return parse_kvstore_spec(spec)


def join_path(path: str, component: str) -> str:
    """``path / component`` with exactly the separators TensorStore adds."""
    if not component:
        return path
    if path and not path.endswith("/") and not component.startswith("/"):
        return path + "/" + component
    return path + component


def spec_url(parsed: ParsedSpec) -> str:
    """The URL pipeline of a spec (``file:///a.zip|zip:b/``)."""
    own = parsed.driver_spec.to_url(parsed.path)
    if parsed.base is None:
        return own
    return f"{spec_url(parsed.base)}|{own}"


def spec_to_json(parsed: ParsedSpec, include_defaults: bool = False) -> dict:
    """JSON of a (possibly bound) spec; bound members print in TensorStore's ``[...]`` form,
    and the resources of every level are listed in one top-level ``"context"``."""
    # TensorStore prints bound members as ``[...]``, except with defaults, where they print
    # as references again.
    builder = ContextSpecBuilder(retain=not include_defaults, include_defaults=include_defaults)
    j = _level_json(parsed, builder, include_defaults)
    context_json: dict = dict(j.pop("context", {}))
    context_json.update(builder.context_json())
    if context_json or include_defaults:
        j["context"] = dict(sorted(context_json.items()))
    return dict(sorted(j.items()))


def _level_json(parsed: ParsedSpec, builder: ContextSpecBuilder, include_defaults: bool) -> dict:
    spec = parsed.driver_spec
    j: dict[str, Any] = {"driver": spec.id}
    j.update(spec.options_json(include_defaults))
    if parsed.path or include_defaults:
        j["path"] = parsed.path
    for member, provider_id in spec.resource_members.items():
        value = parsed.resources.get(member, MISSING)
        if isinstance(value, Resource):
            value = builder.member_json(value)
        elif value is not MISSING and not isinstance(value, str):
            value = get_provider(provider_id).to_json(value, include_defaults)
        elif value == provider_id and not include_defaults:
            value = MISSING
        if value is MISSING and include_defaults:
            value = provider_id
        if value is not MISSING:
            j[member] = value
    if parsed.context is not None or include_defaults:
        j["context"] = {} if parsed.context is None else parsed.context.to_json(include_defaults)
    if parsed.base is not None:
        base = _level_json(parsed.base, builder, include_defaults)
        if "context" in base and not base["context"] and not include_defaults:
            del base["context"]
        j["base"] = dict(sorted(base.items()))
    return j


def unbind_spec(parsed: ParsedSpec) -> ParsedSpec:
    """Bound resources (at every level) turned back into references plus one top-level
    nested context spec."""
    if not parsed.bound:
        return parsed.copy()
    builder = ContextSpecBuilder(retain=False)
    out = _unbind_level(parsed, builder)
    context_json = builder.context_json()
    if context_json:
        if out.context is not None:
            context_json = {**out.context.to_json(), **context_json}
        out.context = Context.Spec(context_json)
    return out


def _unbind_level(parsed: ParsedSpec, builder: ContextSpecBuilder) -> ParsedSpec:
    resources: dict = {}
    for member, value in parsed.resources.items():
        if isinstance(value, Resource):
            out = builder.member_json(value)
            if out is not MISSING:
                resources[member] = out if isinstance(out, str) else _reparse(value, out)
        else:
            resources[member] = value
    base = None if parsed.base is None else _unbind_level(parsed.base, builder)
    return ParsedSpec(parsed.driver_spec, parsed.path, parsed.context, resources, base)


def _reparse(resource: Resource, j: Any) -> Any:
    return resource.provider.parse(j)


def strip_spec(parsed: ParsedSpec) -> ParsedSpec:
    base = None if parsed.base is None else strip_spec(parsed.base)
    return ParsedSpec(parsed.driver_spec, parsed.path, None, {}, base)


def generation_of(value: Any) -> bytes | None:
    """An ``if_equal``/``if_not_equal`` argument as bytes (None stays None)."""
    if value is None:
        return None
    return gen.to_bytes(value, "generation")
