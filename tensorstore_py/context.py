"""Context: the shared resources (cache pools, thread pools, in-memory stores ...) of open stores.

A `Context` maps resource identifiers (``"cache_pool"``, ``"cache_pool#big"``) to resource
objects.  Identifiers are looked up in the context's own spec, then in its parent chain; a bare
provider name that no spec defines gets a default resource in the root context, so children share
it with their parent.  Each provider is registered with `register_resource_provider`, which is how
later drivers (gcs, http ...) add theirs.

Layers above call `Context.get_resource(provider, spec)` with the member value of a driver spec:
``None`` (the default reference), a reference string, or an inline JSON object (a new resource
that nobody else shares).  `ContextSpecBuilder` turns bound resources back into spec JSON.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import os
import re
import threading
from typing import Any, Callable, ClassVar

from .errors import invalid_argument
from .worker_pool import WorkerPool
from .json_util import MISSING, ObjectReader, from_python, dumps, expect_bool, expect_int, expect_object, pretty_repr
from .registry import Registry

__all__ = ["Context"]

_UINT64_MAX = (1 << 64) - 1
_INT64_MAX = (1 << 63) - 1


# ---------------------------------------------------------------------------------------------
# Resource providers.


class Resource:
    """A context resource: the parsed spec it was made from plus whatever state it carries.

    Subclasses add the live state (`CachePoolResource.total_bytes_limit`,
    `ConcurrencyResource.executor`, `MemoryKeyValueStoreResource.data` ...).
    """

    def __init__(self, provider: "ResourceProvider", spec: Any, key: str | None):
        self.provider = provider
        self.spec = spec  # normalized JSON (defaults omitted)
        #: identifier the resource was defined under (``"cache_pool#a"``), None when inline
        self.key = key

    def to_json(self, include_defaults: bool = False) -> Any:
        """The resource's spec as JSON."""
        return self.provider.to_json(self.spec, include_defaults)

    def __repr__(self) -> str:
        return "Context.Resource(" + pretty_repr(self.to_json()) + ")"

    def __reduce__(self):
        # By spec: the live state (pools, a memory store's contents) is not carried, as in
        # TensorStore.  Pickle's memo keeps one resource one object across everything pickled
        # together, which is how unpickled stores come to share their cache and pools.
        return (_rebuild_resource, (self.provider.id, self.spec, self.key))


Resource.__qualname__ = "Context.Resource"


def _rebuild_resource(provider_id: str, spec: Any, key: str | None) -> Resource:
    return get_provider(provider_id).create(spec, key)


class ResourceProvider:
    """Parses, prints and creates one kind of context resource."""

    id: ClassVar[str] = ""
    #: config-only resources are plain settings: drivers print them inline, never under "context"
    config_only: ClassVar[bool] = False
    resource_class: ClassVar[type[Resource]] = Resource

    def parse(self, j: Any) -> Any:
        """Validates `j` and returns its normalized JSON (members at their default removed)."""
        expect_object(j)
        ObjectReader(j).finish()
        return {}

    def to_json(self, spec: Any, include_defaults: bool) -> Any:
        return spec

    def default_spec(self) -> Any:
        return self.parse({})

    def create(self, spec: Any, key: str | None) -> Resource:
        return self.resource_class(self, spec, key)


_PROVIDERS: Registry[ResourceProvider] = Registry("context resource")
#: provider -> its parsed default spec (every default context binds a handful of resources on
#: each open: parsing ``{}`` again each time was a measurable part of it).  Resource specs are
#: never modified, so one parsed value serves them all.
_DEFAULT_SPECS: dict[ResourceProvider, Any] = {}


def _default_spec(provider: ResourceProvider) -> Any:
    spec = _DEFAULT_SPECS.get(provider, _ABSENT_SPEC)
    if spec is _ABSENT_SPEC:
        spec = _DEFAULT_SPECS[provider] = provider.default_spec()
    return spec


_ABSENT_SPEC: Any = object()

#: provider id -> a function making its default resource (see `Context.get_resource`)
_DEFAULT_MAKERS: dict[str, Any] = {}


def _default_maker(provider_id: str) -> Any:
    """A function making the default resource of provider `provider_id` in a default context,
    or None if `provider_id` is no provider."""
    maker = _DEFAULT_MAKERS.get(provider_id)
    if maker is None:
        provider = _PROVIDERS.get(provider_id)
        if provider is None or provider.id != provider_id:
            return None
        # (`create` as the base class defines it is the resource class itself: called directly)
        create = provider.resource_class if type(provider).create is ResourceProvider.create else None
        if create is not None:
            maker = functools.partial(create, provider, _default_spec(provider), provider_id)
        else:
            maker = functools.partial(provider.create, _default_spec(provider), provider_id)
        _DEFAULT_MAKERS[provider_id] = maker
    return maker


def register_resource_provider(provider: ResourceProvider) -> ResourceProvider:
    """Makes `provider` available under `provider.id` in every context spec."""
    _PROVIDERS.register(provider.id, provider)
    _DEFAULT_MAKERS.pop(provider.id, None)
    return provider


def defer_resource_provider(provider_id: str, module: str) -> None:
    """Declares resource `provider_id` before `module`, which registers its provider, is imported."""
    _PROVIDERS.defer(provider_id, module)


def get_provider(provider_id: str) -> ResourceProvider:
    provider = _PROVIDERS.get(provider_id)
    if provider is None:
        raise invalid_argument(f"Invalid context resource identifier: {dumps(provider_id)}")
    return provider


def _provider_of_key(key: str) -> ResourceProvider:
    """The provider named by identifier `key` (``"cache_pool#a"`` -> cache_pool)."""
    provider = _PROVIDERS.get(key.split("#", 1)[0]) if isinstance(key, str) else None
    if provider is None:
        raise invalid_argument(f"Invalid context resource identifier: {dumps(key)}")
    return provider


def _is_reference_to(provider: ResourceProvider, ref: str) -> bool:
    return ref == provider.id or ref.startswith(provider.id + "#")


def _parse_member_value(provider: ResourceProvider, j: Any) -> Any:
    """A resource spec or a reference string, validated for `provider`."""
    if isinstance(j, str):
        if not _is_reference_to(provider, j):
            raise invalid_argument(
                f"Invalid spec or reference to {dumps(provider.id)} resource: {dumps(j)} "
                f"(Expected object, but received: {dumps(j)})"
            )
        return j
    return provider.parse(j)


# -- cache_pool ------------------------------------------------------------------------------


class CachePoolResource(Resource):
    """Chunk cache budget shared by the stores opened with one context."""

    @property
    def total_bytes_limit(self) -> int:
        return self.spec.get("total_bytes_limit", 0)


def _expect_uint64(j: Any) -> int:
    if isinstance(j, bool) or not isinstance(j, (int, float)) or (isinstance(j, float) and j != int(j)):
        raise invalid_argument(f"Expected 64-bit unsigned integer, but received: {dumps(j)}")
    v = int(j)
    if not 0 <= v <= _UINT64_MAX:
        raise invalid_argument(f"Expected 64-bit unsigned integer, but received: {dumps(j)}")
    return v


class CachePoolProvider(ResourceProvider):
    id = "cache_pool"
    resource_class = CachePoolResource

    def parse(self, j: Any) -> Any:
        r = ObjectReader(j)
        limit = r.get("total_bytes_limit", _expect_uint64, 0)
        r.finish()
        return {"total_bytes_limit": limit} if limit else {}

    def to_json(self, spec: Any, include_defaults: bool) -> Any:
        return {"total_bytes_limit": spec.get("total_bytes_limit", 0)} if include_defaults else dict(spec)


# -- concurrency pools -----------------------------------------------------------------------

#: provider id -> the process-wide pool of its "shared" resources
_shared_executors: dict[str, "ProcessLocalExecutor"] = {}
_shared_lock = threading.Lock()


def _reset_pools_after_fork() -> None:
    # A lock a vanished parent thread held at the fork would stay held; the pools themselves
    # notice the new process (see `ProcessLocalExecutor`).
    global _shared_lock
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_pools_after_fork)


class ProcessLocalExecutor(concurrent.futures.Executor):
    """A thread pool that belongs to the process using it.

    Drivers keep the executor they were opened with; after a fork the parent's worker threads
    do not exist in the child, so this hands each process a pool of its own, made on first
    use there (a child's work never queues on threads that will never run it).
    """

    def __init__(self, make: Callable[[], "WorkerPool"]):
        self._make = make
        #: (pid, pool) in one attribute, so a reader never pairs one process's pid with
        #: another's pool
        self._owned: tuple[int, "WorkerPool"] | None = None

    def _current(self) -> "WorkerPool":
        owned, pid = self._owned, os.getpid()
        if owned is None or owned[0] != pid:
            with _shared_lock:  # replaced after a fork, so never held by a vanished thread
                owned = self._owned
                if owned is None or owned[0] != pid:
                    owned = self._owned = (pid, self._make())
        return owned[1]

    @property
    def max_workers(self) -> int:
        return self._current()._max_workers

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        return self._current().submit(fn, *args, **kwargs)

    def run(self, task: Callable[[], Any]) -> None:
        """`WorkerPool.run` on this process's pool."""
        self._current().run(task)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        owned = self._owned
        if owned is not None and owned[0] == os.getpid():
            owned[1].shutdown(wait=wait, cancel_futures=cancel_futures)


class ConcurrencyResource(Resource):
    """A bounded thread pool.  ``"shared"`` (the default) is one process-wide pool per provider,
    as in TensorStore; an explicit integer limit gets a pool of its own."""

    def __init__(self, provider: "ConcurrencyProvider", spec: Any, key: str | None):
        super().__init__(provider, spec, key)
        if not self.shared:
            self._executor = ProcessLocalExecutor(self._make_executor)
            return
        executor = _shared_executors.get(provider.id)  # made once, never replaced
        if executor is None:
            with _shared_lock:
                executor = _shared_executors.get(provider.id)
                if executor is None:
                    executor = _shared_executors[provider.id] = ProcessLocalExecutor(self._make_executor)
        self._executor = executor

    @property
    def shared(self) -> bool:
        return "limit" not in self.spec

    @property
    def limit(self) -> int:
        """Number of threads of the pool."""
        return self.spec.get("limit", self.provider.shared_limit())  # type: ignore[attr-defined]

    @property
    def executor(self) -> concurrent.futures.Executor:
        """The pool (threads started on first use, in each process that uses it)."""
        return self._executor

    def _make_executor(self) -> WorkerPool:
        return WorkerPool(self.limit, thread_name_prefix=f"tensorstore_py-{self.provider.id}")


def _parse_limit(j: Any) -> Any:
    if j == "shared":
        return "shared"
    if isinstance(j, str):
        raise invalid_argument(f"Expected integer in the range [1, {_UINT64_MAX}], but received: {dumps(j)}")
    return expect_int(j, 1, _UINT64_MAX)


class ConcurrencyProvider(ResourceProvider):
    resource_class = ConcurrencyResource

    def __init__(self, provider_id: str, shared_limit: Callable[[], int]):
        self.id = provider_id  # type: ignore[misc]
        self.shared_limit = shared_limit

    def parse(self, j: Any) -> Any:
        r = ObjectReader(j)
        limit = r.get("limit", _parse_limit, "shared")
        r.finish()
        return {} if limit == "shared" else {"limit": limit}

    def to_json(self, spec: Any, include_defaults: bool) -> Any:
        return {"limit": spec.get("limit", "shared")} if include_defaults else dict(spec)


def _cpu_count() -> int:
    return os.cpu_count() or 1


# -- memory_key_value_store ------------------------------------------------------------------


class MemoryKeyValueStoreResource(Resource):
    """The key -> bytes map behind the ``memory`` kvstore driver, shared through the context."""

    def __init__(self, provider: ResourceProvider, spec: Any, key: str | None):
        super().__init__(provider, spec, key)
        #: full key -> (value, generation); changed under the key's lock of `locks` (all of
        #: them for a change of several keys), read without one (an entry is replaced whole)
        self.data: dict[bytes, tuple[bytes, bytes]] = {}
        #: locks striped by key: one lock taken by every write of every thread is a convoy
        #: under the GIL (a thread preempted while holding it makes all the others queue)
        self.locks = tuple(threading.Lock() for _ in range(64))
        #: the numbers of new generations (`next` is atomic): a store never repeats one
        self.generations = itertools.count()


class MemoryKeyValueStoreProvider(ResourceProvider):
    id = "memory_key_value_store"
    resource_class = MemoryKeyValueStoreResource


# -- settings-only resources (file driver, retries) ------------------------------------------

_DURATION_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(j: Any) -> int:
    """A Go/absl duration string (``"1m30s"``, ``"500ms"``) as integer nanoseconds."""
    error = invalid_argument(
        'Expected Duration formatted as a string using time units "ns", "us" "ms", "s", "m", or "h"., '
        f"but received: {dumps(j)}"
    )
    if not isinstance(j, str) or not j:
        raise error
    text, sign = j, 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_RE.match(text, pos)
        if not m:
            raise error
        total += float(m.group(1)) * _DURATION_NS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise error
    return sign * int(round(total))


def format_duration(ns: int) -> str:
    """absl::FormatDuration layout: ``"1h2m3.5s"``, ``"250ms"``, ``"0"``."""
    if ns == 0:
        return "0"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**9:
        for unit, size in (("ms", 10**6), ("us", 10**3), ("ns", 1)):
            if ns >= size:
                return sign + _trim_number(ns / size) + unit
    out = sign
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if rest:
        out += _trim_number(rest / 10**9) + "s"
    return out


def _trim_number(x: float) -> str:
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text


_ABSENT: Any = object()


class _SettingsProvider(ResourceProvider):
    """An object of optional members, each with a parser, a formatter and a default."""

    config_only = True
    members: ClassVar[dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], Any]]] = {}

    def parse(self, j: Any) -> Any:
        r = ObjectReader(j)
        out = {}
        for name, (parse, fmt, default) in self.members.items():
            value = r.get(name, parse, _ABSENT)
            if value is not _ABSENT and value != default:
                out[name] = fmt(value)
        r.finish()
        return dict(sorted(out.items()))

    def to_json(self, spec: Any, include_defaults: bool) -> Any:
        if not include_defaults or not self.show_defaults:
            return dict(spec)
        out = {name: fmt(default) for name, (_p, fmt, default) in self.members.items()}
        out.update(spec)
        return dict(sorted(out.items()))

    show_defaults: ClassVar[bool] = False


def _enum(*choices: str) -> Callable[[Any], str]:
    def parse(j: Any) -> str:
        if j not in choices:
            listed = ", ".join(f'"{c}"' for c in choices)
            raise invalid_argument(f"Expected one of {listed}, but received: {dumps(j)}")
        return j

    return parse


def _identity(x: Any) -> Any:
    return x


class FileIoLockingProvider(_SettingsProvider):
    id = "file_io_locking"
    members = {
        "mode": (_enum("os", "lockfile", "none", "non_atomic"), _identity, "os"),
        "acquire_timeout": (parse_duration, format_duration, 60 * 10**9),
    }


class FileIoModeProvider(_SettingsProvider):
    id = "file_io_mode"
    members = {"mode": (_enum("default", "memmap", "direct"), _identity, "default")}


class RetriesProvider(_SettingsProvider):
    """Retry policy (``max_retries``, ``initial_delay``, ``max_delay``)."""

    show_defaults = True

    def __init__(self, provider_id: str, max_retries: int, config_only: bool = False):
        self.id = provider_id  # type: ignore[misc]
        self.config_only = config_only  # type: ignore[misc]
        self.members = {
            "max_retries": (lambda j: expect_int(j, 0, _INT64_MAX), _identity, max_retries),
            "initial_delay": (parse_duration, format_duration, 10**9),
            "max_delay": (parse_duration, format_duration, 32 * 10**9),
        }


def _expect_string(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    return j


class GcsUserProjectProvider(_SettingsProvider):
    """Billing project for requester-pays buckets (shared through the context)."""

    id = "gcs_user_project"
    config_only = False
    members = {"project_id": (_expect_string, _identity, None)}


class FileIoSyncProvider(ResourceProvider):
    id = "file_io_sync"
    config_only = True

    def parse(self, j: Any) -> Any:
        return expect_bool(j)

    def default_spec(self) -> Any:
        return True


for _p in (
    CachePoolProvider(),
    ConcurrencyProvider("data_copy_concurrency", _cpu_count),
    ConcurrencyProvider("file_io_concurrency", lambda: max(4, _cpu_count())),
    MemoryKeyValueStoreProvider(),
    FileIoSyncProvider(),
    FileIoLockingProvider(),
    FileIoModeProvider(),
    RetriesProvider("file_io_retries", 0, config_only=True),
    # Network drivers (gcs, http, s3) share these; registered here so context specs naming them
    # parse as in TensorStore before those drivers exist.
    ConcurrencyProvider("gcs_request_concurrency", lambda: 32),
    RetriesProvider("gcs_request_retries", 32, config_only=False),
    GcsUserProjectProvider(),
    ConcurrencyProvider("http_request_concurrency", lambda: 32),
    # TensorStore 0.1.86 prints the http and s3 retry settings inline in kvstore specs.
    RetriesProvider("http_request_retries", 32, config_only=True),
    ConcurrencyProvider("s3_request_concurrency", lambda: 32),
    RetriesProvider("s3_request_retries", 32, config_only=True),
):
    register_resource_provider(_p)
del _p


# ---------------------------------------------------------------------------------------------
# Context.Spec and Context.


class _ContextSpec:
    """Parsed JSON of a context: resource identifiers mapped to specs or references.

    ``Context.Spec({'cache_pool': {'total_bytes_limit': 5000000}})``
    """

    __slots__ = ("_json",)

    def __init__(self, json: Any):
        self._json = _parse_context_json(from_python(json))

    def to_json(self, include_defaults: bool = False) -> Any:
        """The spec as a JSON object."""
        return {k: _member_to_json(k, v, include_defaults) for k, v in self._json.items()}

    def __repr__(self) -> str:
        return "Context.Spec(" + pretty_repr(self.to_json()) + ")"

    def __reduce__(self):
        return (_ContextSpec, (self.to_json(),))


_ContextSpec.__name__ = "Spec"
_ContextSpec.__qualname__ = "Context.Spec"


def _parse_context_json(j: Any) -> dict:
    expect_object(j)
    out = {}
    for key in sorted(j):
        provider = _provider_of_key(key)
        if not key.split("#", 1)[0]:
            raise invalid_argument(f"Invalid context resource identifier: {dumps(key)}")
        value = j[key]
        out[key] = None if value is None else _parse_member_value(provider, value)
    return out


def _member_to_json(key: str, value: Any, include_defaults: bool) -> Any:
    if value is None or isinstance(value, str):
        return value
    return _provider_of_key(key).to_json(value, include_defaults)


class Context:
    """Shared resources for opening stores: cache pools, thread pools, in-memory stores.

    `Context()` is a fresh default context: nothing is shared with other default contexts.
    `Context(spec, parent)` defines resources from a `Context.Spec` (or its JSON); identifiers
    it does not define are looked up in `parent`.
    """

    Spec = _ContextSpec
    Resource = Resource

    def __init__(self, spec: "Context.Spec | dict | None" = MISSING, parent: "Context | None" = None):
        # Only an omitted spec means "default context"; an explicit None is bad JSON, as in
        # TensorStore.
        if spec is MISSING:
            spec = None
        elif not isinstance(spec, _ContextSpec):
            spec = _ContextSpec(spec)
        if parent is not None and not isinstance(parent, Context):
            raise TypeError(f"parent must be a Context, not {type(parent).__name__}")
        self._spec: _ContextSpec | None = spec
        self._parent = parent
        self._resources: dict[str, Resource] = {}
        self._lock = threading.RLock()

    @property
    def spec(self) -> "Context.Spec | None":
        """The spec this context was created from (None for a default context)."""
        return self._spec

    @property
    def parent(self) -> "Context | None":
        """The parent context, if any."""
        return self._parent

    def __getitem__(self, key: str) -> Resource:
        """The resource bound to identifier `key` (``"cache_pool"``, ``"cache_pool#a"``)."""
        if not isinstance(key, str):
            raise TypeError(f"Context resource identifier must be a str, not {type(key).__name__}")
        return self._resolve(key, _provider_of_key(key), [])

    def get_resource(self, provider: str, spec: Any = None) -> Resource:
        """Binds a driver spec's resource member: None (default), a reference, or inline JSON.

        Inline JSON (an object, or a settings value) creates a new resource owned by the caller.
        """
        if spec is None:
            found = self._resources.get(provider)  # bound resources are never replaced
            if found is not None:
                return found
            if self._spec is None and self._parent is None:
                # A default context's default resource (what every plain `ts.open` binds a
                # handful of): made straight away, without the general lookup.
                made = _default_maker(provider)
                if made is not None:
                    return self._resources.setdefault(provider, made())
        prov = get_provider(provider)
        if spec is None:
            return self._resolve(prov.id, prov, [])
        if isinstance(spec, Resource):
            return spec
        value = _parse_member_value(prov, spec)
        if isinstance(spec, str):
            return self._resolve(value, prov, [])
        return prov.create(value, None)

    def _resolve(self, key: str, provider: ResourceProvider, chain: list) -> Resource:
        found = self._resources.get(key)  # bound resources are never replaced: no lock needed
        if found is not None:
            return found
        if self._spec is None and self._parent is None:
            # A default context (what every plain `ts.open` makes): only defaults to create.
            if key != provider.id:
                raise invalid_argument(f"Resource not defined: {dumps(key)}")
            # setdefault is atomic: of two threads binding at once, both get the first's.
            return self._resources.setdefault(key, provider.create(_default_spec(provider), key))
        with self._lock:
            found = self._resources.get(key)
            if found is not None:
                return found
            defined = self._spec._json.get(key, None) if self._spec is not None else None
            if defined is not None:
                if any(k == key for k, _v in chain):
                    text = " -> ".join(f"{dumps(k)}:{dumps(v)}" for k, v in reversed(chain))
                    raise invalid_argument(f"Context resource reference cycle: {text}")
                if isinstance(defined, str):
                    resource = self._resolve(defined, provider, chain + [(key, defined)])
                else:
                    resource = provider.create(defined, key)
                self._resources[key] = resource
                return resource
        if self._parent is not None:
            return self._parent._resolve(key, provider, chain)
        if key != provider.id:
            raise invalid_argument(f"Resource not defined: {dumps(key)}")
        with self._lock:
            found = self._resources.get(key)
            if found is None:
                found = provider.create(_default_spec(provider), key)
                self._resources[key] = found
            return found

    def __repr__(self) -> str:
        return f"<tensorstore_py.Context object at {hex(id(self))}>"

    def __reduce__(self):
        # The resources bound so far travel as objects (rebuilt fresh from their specs, see
        # `Resource.__reduce__`), so a resource pickled with its context is the one the
        # unpickled context hands out; the parent chain is kept the same way.
        with self._lock:
            bound = dict(self._resources)
        return (_rebuild_context, (self._spec, self._parent, bound))

    @classmethod
    def _with_resources(cls, resources: dict[str, Resource]) -> "Context":
        """A default context that hands out `resources` (identifier -> resource) as its own:
        what an unpickled store opens in."""
        ctx = cls()
        ctx._resources.update(resources)
        return ctx


def _rebuild_context(spec: Any, parent: "Context | None", bound: dict | None = None) -> Context:
    ctx = Context(parent=parent) if spec is None else Context(spec, parent)
    if bound:
        ctx._resources.update(bound)
    return ctx


# ---------------------------------------------------------------------------------------------
# Bound resources -> spec JSON.


class ContextSpecBuilder:
    """Collects bound resources into a ``"context"`` JSON object while a spec is printed.

    ``member_json(resource)`` returns what the driver spec member should hold (or `MISSING` to
    leave it out, for a default reference); ``context_json()`` is the accompanying
    ``"context"`` object.  With ``retain=True`` members are printed bound (``[...]``).
    """

    def __init__(self, retain: bool = False, include_defaults: bool = False):
        self.retain = retain
        self.include_defaults = include_defaults
        self._context: dict[str, Any] = {}

    def member_json(self, resource: Resource) -> Any:
        spec_json = resource.to_json(self.include_defaults)
        if resource.provider.config_only or resource.key is None:
            return [spec_json] if self.retain else spec_json
        self._context[resource.key] = spec_json
        if self.retain:
            return [resource.key]
        return MISSING if resource.key == resource.provider.id else resource.key

    def add(self, resource: Resource) -> None:
        """Records `resource` under "context" without a member (e.g. a TensorStore's cache_pool)."""
        self.member_json(resource)

    def context_json(self) -> dict:
        return dict(sorted(self._context.items()))


class PickleResourceCollector(ContextSpecBuilder):
    """A `ContextSpecBuilder` for pickling by spec: resource members are written as references
    and the bound resources themselves collected in `resources` (identifier -> resource), so
    the unpickled spec reopens in `Context._with_resources(resources)` with these very
    (unpickled) resources.  Inline resources (defined in the spec itself) stay inline.
    """

    def __init__(self) -> None:
        super().__init__()
        self.resources: dict[str, Resource] = {}

    def member_json(self, resource: Resource) -> Any:
        if resource.key is None:
            return super().member_json(resource)
        # Settings bound from a context travel as objects too: the kvstore's cache identity
        # holds them, so two handles share cache entries only if they share these.
        key = resource.key
        if self.resources.get(key, resource) is not resource:
            # Two resources under one identifier (defined in different nested contexts): the
            # second gets an identifier of its own so neither is lost.
            n = 1
            while self.resources.get(f"{key}#{n}", resource) is not resource:
                n += 1
            key = f"{key}#{n}"
        self.resources[key] = resource
        return MISSING if key == resource.provider.id else key
