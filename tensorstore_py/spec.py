"""`ts.Spec`: a TensorStore spec (JSON or URL) parsed for its driver, and `ts.OpenMode`."""

from __future__ import annotations

import copy as _copy
from typing import Any

from . import dtypes
from .driver import base as driver_base
from .driver import context_binding
from .errors import invalid_argument
from .index import IndexDomain, IndexTransform, Indexable
from .kvstore import KvStore
from .json_util import MISSING, from_python, dumps, expect_object, expect_string, pretty_repr
from .schema import ChunkLayout, CodecSpec, Schema

__all__ = ["Spec", "OpenMode"]


class OpenMode:
    """Which of open / create / delete_existing / assume_metadata ts.open may do."""

    _FLAGS = driver_base.OPEN_MODE_MEMBERS

    def __init__(
        self,
        *,
        open: bool = False,
        create: bool = False,
        delete_existing: bool = False,
        assume_metadata: bool = False,
        assume_cached_metadata: bool = False,
    ):
        self.open = open
        self.create = create
        self.delete_existing = delete_existing
        self.assume_metadata = assume_metadata
        self.assume_cached_metadata = assume_cached_metadata

    def __repr__(self) -> str:
        set_flags = [f"{f}=True" for f in self._FLAGS if getattr(self, f)]
        return f"OpenMode({', '.join(set_flags)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OpenMode):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FLAGS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in self._FLAGS))


def _parse_url(url: str) -> dict:
    """A TensorStore URL pipeline ("file:///a|zarr2:", "file:///a.zip|zip:b|zarr3:") as spec
    JSON: kvstore components (parsed by the kvstore layer), then at most one driver scheme."""
    from .errors import annotate
    from .kvstore import driver as kv

    if not url:
        raise invalid_argument("URL must be non-empty")
    try:
        kvstore: dict | None = None
        driver_part: str | None = None
        for i, part in enumerate(url.split("|")):
            scheme = part.split(":", 1)[0]
            kind = kv.url_scheme_kind(scheme)
            if kind is None:
                raise invalid_argument(f"unsupported URL scheme: {dumps(scheme)}")
            if driver_part is not None:
                raise invalid_argument(
                    f"{kv._KIND_NAMES[kind]} in {dumps(part)} is not valid following a TensorStore URL pipeline component"
                )
            if i == 0 and kind != "root":
                raise invalid_argument(f"{kv._KIND_NAMES[kind]} in {dumps(part)} is not valid as the first URL pipeline component")
            if kind == "root":
                if i != 0:
                    raise invalid_argument(
                        f"{kv._KIND_NAMES[kind]} in {dumps(part)} is not valid following a KvStore URL pipeline component"
                    )
                kvstore = kv.parse_root_url(part)
            elif kind == "adapter":
                kvstore = kv.apply_adapter_url(part, kvstore)
            else:
                driver_part = part
        assert kvstore is not None
        if driver_part is None:
            # No TensorStore driver named: the URL is just a kvstore (opened by auto-detection).
            return {"driver": "auto", "kvstore": kvstore}
        scheme = driver_part.split(":", 1)[0]
        driver_cls = driver_base.driver_for_url_scheme(scheme)
        assert driver_cls is not None
        rest = driver_part[len(scheme) + 1 :]
        try:
            if rest and not driver_cls.url_path_supported:
                raise invalid_argument("Path not supported")
            if "#" in rest:
                raise invalid_argument("Fragment identifier not supported")
            if "?" in rest:
                raise invalid_argument("Query string not supported")
            path = kv.percent_decode_path(rest)
        except ValueError as exc:
            raise annotate(exc, f"Invalid TensorStore URL component {dumps(driver_part)}") from None
        from_url = getattr(driver_cls, "spec_json_from_url", None)
        if from_url is not None:  # the driver reads the rest itself ("json:/a/b" is a pointer)
            return from_url(kvstore, path)
        if path:
            # A path after the driver scheme continues the kvstore path ("memory://x|zarr2:a").
            kvstore["path"] = kv.join_path(kvstore.get("path", ""), path)
        return {"driver": driver_cls.id, "kvstore": kvstore}
    except ValueError as exc:
        raise annotate(exc, f"Parsing spec from url: {dumps(url)}") from None


def parse_spec_json(j: Any) -> driver_base.DriverSpec:
    j = from_python(j)
    if isinstance(j, str):
        j = _parse_url(j)
    expect_object(j)
    if "driver" not in j:
        raise invalid_argument('Error parsing object member "driver": Expected string, but member is missing')
    name = expect_string(j["driver"])
    if not driver_base.is_registered(name) and _is_kvstore_driver(name):
        # A kvstore spec: open whatever array it holds, by format auto-detection.
        return driver_base.driver_for_id("auto").from_json({"driver": "auto", "kvstore": j})
    cls = driver_base.driver_for_id(name)
    return cls.from_json(j)


def _is_kvstore_driver(name: str) -> bool:
    from .kvstore.driver import get_driver_spec_class

    try:
        get_driver_spec_class(name)
    except ValueError:
        return False
    return True


class Spec(Indexable):
    """A TensorStore spec: the JSON description of how to open a TensorStore.

    Constructed from JSON (``ts.Spec({'driver': 'zarr', ...})``), a URL
    (``ts.Spec('file:///tmp/a.zarr|zarr2:')``) or ``json=``.
    """

    def __init__(self, json: Any = MISSING):
        if isinstance(json, Spec):
            self._driver_spec = json._driver_spec.copy()
            return
        if json is MISSING:
            raise TypeError("Spec() requires a JSON object or URL")
        if not isinstance(json, (dict, str)) and isinstance(json, (KvStore, KvStore.Spec)):
            # A kvstore (open or spec): the array it holds, by format auto-detection.
            json = {"driver": "auto", "kvstore": json}
        self._driver_spec = parse_spec_json(json)

    @classmethod
    def _from_driver_spec(cls, driver_spec: driver_base.DriverSpec) -> "Spec":
        self = object.__new__(cls)
        self._driver_spec = driver_spec
        return self

    # -- Indexable --------------------------------------------------------------------------

    def _indexable_transform(self) -> IndexTransform:
        t = self.transform
        if t is not None:
            return t
        domain = self._driver_spec.effective_domain()
        if domain is None:
            rank = self._driver_spec.rank
            if rank is None:
                raise invalid_argument("Cannot perform indexing operations on Spec with unspecified rank")
            return IndexTransform(input_rank=rank)
        return IndexTransform(domain=domain)

    def _indexable_with_transform(self, transform: IndexTransform) -> "Spec":
        spec = self._driver_spec.copy()
        spec.transform = transform
        return Spec._from_driver_spec(spec)

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self, include_defaults: bool = False) -> Any:
        return self._driver_spec.to_json(include_defaults)

    def __repr__(self) -> str:
        try:
            j = self.to_json()
        except NotImplementedError:  # no JSON form (virtual_chunked)
            return "Spec(...)"
        if context_binding.is_bound(self._driver_spec):
            # Bound resources show as ``[...]`` members (the JSON has them unbound).
            j.update(context_binding.members_json(self._driver_spec, retain=True))
            j = {k: j[k] for k in sorted(j)}
        return pretty_repr(j, "Spec(", ")")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spec):
            return NotImplemented
        # Bound context resources compare by identity, the rest by JSON (as TensorStore).
        return (context_binding.bindings(self._driver_spec) == context_binding.bindings(other._driver_spec)
                and self.to_json() == other.to_json())  # fmt: skip

    def copy(self) -> "Spec":
        return Spec(self)

    def __copy__(self) -> "Spec":
        return self.copy()

    def __deepcopy__(self, memo) -> "Spec":
        return self.copy()

    def __reduce__(self):
        return (Spec, (self.to_json(),))

    # -- properties ------------------------------------------------------------------------------

    @property
    def dtype(self) -> dtypes.dtype | None:
        return self._driver_spec.effective_dtype()

    @property
    def rank(self) -> int | None:
        return self._driver_spec.effective_rank()

    @property
    def ndim(self) -> int | None:
        return self.rank

    @property
    def transform(self) -> IndexTransform | None:
        """The spec's transform as its JSON shows it: the one given, or the identity over the
        domain a driver derives from its metadata (``None`` when there is neither)."""
        t = self._driver_spec.transform
        if t is not None:
            return t
        j = self._driver_spec.to_json(False).get("transform")
        return None if j is None else IndexTransform(json=j)

    @property
    def domain(self) -> IndexDomain | None:
        t = self.transform
        if t is not None:
            return t.domain
        return self._driver_spec.effective_domain()

    @property
    def schema(self) -> Schema:
        return self._driver_spec.effective_schema()

    @property
    def chunk_layout(self) -> ChunkLayout | None:
        return self.schema.chunk_layout

    @property
    def codec(self) -> CodecSpec | None:
        return self.schema.codec

    @property
    def fill_value(self):
        return self.schema.fill_value

    @property
    def dimension_units(self):
        return self.schema.dimension_units

    @property
    def kvstore(self):
        return None if self._driver_spec.kvstore is None else _copy.deepcopy(self._driver_spec.kvstore)

    @property
    def base(self) -> "Spec | None":
        """The spec of the underlying TensorStore of an adapter (cast, downsample ...), else None."""
        view = getattr(self._driver_spec, "base_spec_view", None)
        return None if view is None else Spec._from_driver_spec(view())

    @property
    def open_mode(self) -> OpenMode:
        flags = dict(self._driver_spec.open_mode)
        if not flags.get("open") and not flags.get("create"):
            flags["open"] = True  # what opening without open/create does
        return OpenMode(**flags)

    @property
    def url(self) -> str:
        spec = self._driver_spec
        component = spec.url_component()
        if spec.kvstore is None:
            raise invalid_argument(f"URL representation not supported by {dumps(spec.id)} driver")
        return f"{spec.kvstore.url}|{component}"

    # -- update ----------------------------------------------------------------------------------

    def update(
        self,
        *,
        open_mode: OpenMode | None = None,
        open: bool | None = None,
        create: bool | None = None,
        delete_existing: bool | None = None,
        assume_metadata: bool | None = None,
        assume_cached_metadata: bool | None = None,
        unbind_context: bool | None = None,
        strip_context: bool | None = None,
        context: Any = None,
        kvstore: Any = None,
        minimal_spec: bool | None = None,
        recheck_cached_metadata: Any = None,
        recheck_cached_data: Any = None,
        recheck_cached: Any = None,
        rank: int | None = None,
        dtype: dtypes.DTypeLike = None,
        domain: IndexDomain | None = None,
        shape: Any = None,
        chunk_layout: ChunkLayout | None = None,
        codec: CodecSpec | None = None,
        fill_value: Any = None,
        dimension_units: Any = None,
        schema: Schema | None = None,
    ) -> None:
        """Adds open options and schema constraints to this spec, in place."""
        apply_options(self._driver_spec, locals())


def _apply_open_mode(spec: driver_base.DriverSpec, options: dict) -> None:
    """The open mode of `options` (``open_mode`` and the flags given as True; False ones do
    nothing), as TensorStore applies it: a mode naming `open` or `create` replaces the spec's
    mode, one naming only modifiers (``delete_existing``, ``assume_metadata`` ...) adds to it;
    ``assume_metadata`` supersedes ``assume_cached_metadata``."""
    given = set()
    mode = options.get("open_mode")
    if mode is not None:
        given.update(flag for flag in OpenMode._FLAGS if getattr(mode, flag))
    given.update(flag for flag in OpenMode._FLAGS if options.get(flag))
    if not given:
        return
    if "open" not in given and "create" not in given:
        given.update(flag for flag, value in spec.open_mode.items() if value)
    if "assume_metadata" in given:
        given.discard("assume_cached_metadata")
    spec.open_mode = {flag: True for flag in OpenMode._FLAGS if flag in given}


def apply_options(spec: driver_base.DriverSpec, options: dict) -> None:
    """Applies `Spec.update` / `ts.open` keyword options to a driver spec."""
    _apply_open_mode(spec, options)
    if options.get("context") is not None and not options.get("_from_open"):
        context_binding.bind(spec, options["context"])
    if options.get("unbind_context"):
        context_binding.unbind(spec)
    if options.get("strip_context"):
        context_binding.strip(spec)
    recheck = options.get("recheck_cached")
    if recheck is not None:
        spec.recheck_cached_data = recheck
        spec.recheck_cached_metadata = recheck
    for name in ("recheck_cached_data", "recheck_cached_metadata"):
        if options.get(name) is not None:
            setattr(spec, name, options[name])
    kvstore = options.get("kvstore")
    if kvstore is not None:
        from .kvstore import KvStore

        # As TensorStore: a KvStore.Spec, or (to ts.open only) an open KvStore, used as it is.
        if isinstance(kvstore, KvStore) and options.get("_from_open"):
            kvstore = kvstore.copy()
        elif not isinstance(kvstore, KvStore.Spec):
            raise TypeError("Invalid kvstore")
        spec.kvstore = spec.normalize_kvstore(kvstore)
    constraints: dict[str, Any] = {}
    for name in ("rank", "dtype", "chunk_layout", "codec", "fill_value", "dimension_units"):
        if options.get(name) is not None:
            constraints[name] = options[name]
    domain = options.get("domain")
    if options.get("shape") is not None:
        shape = [int(x) for x in options["shape"]]
        shape_domain = IndexDomain(shape=shape)
        domain = shape_domain if domain is None else domain
    if domain is not None:
        base = spec.base_domain(domain.rank)
        if base is not None:
            from .schema.schema import merge_index_domains

            merge_index_domains(base, domain)
        constraints["domain"] = domain
    if options.get("schema") is not None:
        constraints["schema"] = options["schema"]
    if constraints:
        # As TensorStore: the keyword constraints first, then `schema` (which `ts.open` reports
        # as "Invalid schema: ..." and `Spec.update` without a prefix).
        schema_constraint = constraints.pop("schema", None)
        if constraints:
            spec.schema.update(**constraints)
        if schema_constraint is not None:
            if options.get("_from_open"):
                spec.schema.update(schema=schema_constraint)
            else:
                if not isinstance(schema_constraint, type(spec.schema)):
                    raise TypeError("Invalid schema")
                spec.schema._merge_schema(schema_constraint)
        schema_option = options.get("schema")
        if (domain is not None or getattr(schema_option, "domain", None) is not None) and spec.transform is None:
            to_bounds = getattr(spec, "spec_domain_transform_bounds", None)
            bounded = to_bounds(spec.schema.domain) if to_bounds is not None else spec.schema.domain
            spec.transform = IndexTransform(domain=bounded)
    spec.check_rank_consistency()
    spec.validate_options()
