"""Binding a driver spec's context resources: ``Spec.update(context=..., unbind_context=...,
strip_context=...)``.

A bound spec holds the `Resource` objects themselves (its own ``cache_pool`` ...
members and, through its ``KvStore.Spec``, the kvstore's), so that opening it uses exactly those
resources.  As in TensorStore, its JSON is the unbound form (every resource under one top-level
``"context"``, members referring to it), while its repr shows the members bound (``[...]``);
two bound specs are equal only if they hold the very same resources.
"""

from __future__ import annotations

import copy as _copy
from typing import TYPE_CHECKING, Any

from ..context import Context, ContextSpecBuilder, Resource
from ..json_util import MISSING

if TYPE_CHECKING:
    from .base import DriverSpec

__all__ = ["bind", "unbind", "strip", "is_bound", "members_json", "bindings", "copy_spec"]


def _kvstore_parsed(spec: "DriverSpec") -> Any:
    """The kvstore member's parsed spec, when it is a ``KvStore.Spec`` (not an open KvStore)."""
    from ..kvstore import KvStore

    kv = spec.kvstore
    return kv._parsed if isinstance(kv, KvStore.Spec) else None


def _wrap_kvstore(parsed: Any) -> Any:
    from ..kvstore import KvStore

    return KvStore.Spec._wrap(parsed)


def is_bound(spec: "DriverSpec") -> bool:
    if any(isinstance(v, Resource) for v in spec.resources.values()):
        return True
    parsed = _kvstore_parsed(spec)
    return parsed is not None and parsed.bound


def bind(spec: "DriverSpec", context: Context) -> None:
    """Binds every resource the driver and its kvstore use in `context` (the spec's own nested
    ``"context"`` first), in place."""
    if not isinstance(context, Context):
        raise TypeError(f"context must be a Context, not {type(context).__name__}")
    ctx = context if spec.context_spec is None else Context(Context.Spec(spec.context_spec), context)
    for provider in spec.context_resources:
        spec.resources[provider] = ctx.get_resource(provider, spec.resources.get(provider))
    spec.context_spec = None
    if _kvstore_parsed(spec) is not None:
        spec.kvstore.update(context=ctx)


def unbind(spec: "DriverSpec") -> None:
    """Turns bound resources back into references to one top-level ``"context"``, in place."""
    from ..kvstore import driver as kv_driver

    builder = ContextSpecBuilder(retain=False)
    for provider, value in list(spec.resources.items()):
        if isinstance(value, Resource):
            member = builder.member_json(value)
            if member is MISSING:
                del spec.resources[provider]
            else:
                spec.resources[provider] = member
    context = dict(spec.context_spec or {})
    parsed = _kvstore_parsed(spec)
    if parsed is not None and parsed.bound:
        unbound = kv_driver.unbind_spec(parsed)
        if unbound.context is not None:
            context.update(unbound.context.to_json())
            unbound.context = None
        spec.kvstore = _wrap_kvstore(unbound)
    context.update(builder.context_json())
    spec.context_spec = dict(sorted(context.items())) or None


def strip(spec: "DriverSpec") -> None:
    """Drops bound resources, references and nested context specs: defaults everywhere."""
    spec.resources = {}
    spec.context_spec = None
    if _kvstore_parsed(spec) is not None:
        spec.kvstore.update(strip_context=True)


def members_json(spec: "DriverSpec", retain: bool) -> dict:
    """The resource members, ``"kvstore"`` and ``"context"`` of a bound spec's JSON: unbound
    references (`retain` False, as ``to_json``) or bound ``[...]`` members (as the repr)."""
    from ..kvstore import driver as kv_driver

    builder = ContextSpecBuilder(retain=retain)
    out: dict[str, Any] = {}
    for provider, value in spec.resources.items():
        if isinstance(value, Resource):
            member = builder.member_json(value)
            if member is not MISSING:
                out[provider] = member
    context = dict(spec.context_spec or {})
    parsed = _kvstore_parsed(spec)
    if parsed is not None and parsed.bound:
        kv_json = kv_driver.spec_to_json(parsed if retain else kv_driver.unbind_spec(parsed))
        context.update(kv_json.pop("context", {}))
        out["kvstore"] = kv_json
    context.update(builder.context_json())
    if context:
        out["context"] = dict(sorted(context.items()))
    return out


def _resources(spec: "DriverSpec") -> list[tuple[Any, Resource]]:
    out: list[tuple[Any, Resource]] = [(p, v) for p, v in sorted(spec.resources.items()) if isinstance(v, Resource)]
    parsed = _kvstore_parsed(spec)
    if parsed is not None:
        for depth, level in enumerate(parsed.levels()):
            out += [((depth, m), v) for m, v in sorted(level.resources.items()) if isinstance(v, Resource)]
    return out


def bindings(spec: "DriverSpec") -> list[tuple[Any, int]]:
    """Where each bound resource sits and which it is (by identity), for equality."""
    return [(where, id(resource)) for where, resource in _resources(spec)]


def copy_spec(spec: "DriverSpec") -> "DriverSpec":
    """A deep copy that still holds the very same bound resources."""
    memo = {id(resource): resource for _, resource in _resources(spec)}
    if _kvstore_parsed(spec) is not None:
        # A KvStore.Spec deep-copies through its pickled (unbound) form; its own copy() keeps
        # the bindings.
        memo[id(spec.kvstore)] = spec.kvstore.copy()
    return _copy.deepcopy(spec, memo)
