"""The ``stack`` driver: layers (TensorStores or Specs with a known domain) placed in one
index space; each position reads from and writes to the last layer covering it.

Reads fill the caller's buffer part by part (`grid.LayerGrid`), each part straight from its
layer's driver; writes send each part of the source to its layer.  Spec layers are opened
for each operation, in the stack's context; transactions pass through to the layers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import future as futures
from ...errors import annotate, invalid_argument
from ...future import Future
from ...index import IndexDomain, IndexTransform
from ...index.compose import compose, propagate_bounds
from ...json_util import ObjectReader, dumps
from ..base import DriverSpec, register_driver
from ..chunk_memory import empty_output
from ..driver import Driver
from .grid import LayerGrid

__all__ = ["StackDriverSpec", "StackDriver", "Layer"]


class Layer:
    """One layer: an open TensorStore, or a spec (with a transform) opened on demand."""

    def __init__(self, store: Any = None, spec: DriverSpec | None = None):
        self.store = store
        self.spec = spec
        if store is not None:
            self.domain = store.domain
            self.dtype = store.dtype
        else:
            domain = spec.transform.domain if spec.transform is not None else spec.effective_domain()
            if domain is None:
                raise invalid_argument("Domain must be specified")
            self.domain = domain
            self.dtype = spec.effective_dtype()

    def box(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        d = self.domain
        return tuple(d.inclusive_min), tuple(d.inclusive_max)

    def open(self, context: Any, transaction: Any, index: int) -> Future:
        """Future of (driver, transform onto it) for this layer, fresh as its spec asks."""
        if self.store is not None:
            s = self.store
            return futures.chain(s._driver.current(transaction), lambda d: (d, s._transform))
        from ...open import open as open_store
        from ...spec import Spec

        # Opened as ts.open opens a spec, so failures read as TensorStore reports them.
        opened = open_store(Spec._from_driver_spec(self.spec.copy()), context=context, transaction=transaction)
        opened = futures.map_error(opened, lambda exc: annotate(exc, f"While opening layer {index}"))
        return futures.chain(opened, lambda store: (store._driver, store._transform))

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        if self.store is not None:
            j = self.store._driver.spec_json_through(self.store._transform, builder, minimal)
            j.pop("context", None)
            return {k: j[k] for k in sorted(j)}
        return self.spec.to_json()

    def context_resources(self) -> list:
        return self.store._driver.context_resources() if self.store is not None else []


class _LayerError(Exception):
    """A layer that cannot be parsed (not a ValueError, so no member path is added)."""


def _json_value(j: Any) -> Any:
    """Members that may hold Python objects (a ts.dtype, a Spec) as their JSON."""
    from ...spec import Spec
    from ...tensorstore import TensorStore

    if isinstance(j, TensorStore):
        return j.spec().to_json()
    if isinstance(j, Spec):
        return j.to_json()
    if hasattr(j, "to_json") and hasattr(j, "numpy_dtype"):
        return j.to_json()
    if isinstance(j, dict):
        return {k: _json_value(v) for k, v in j.items()}
    if isinstance(j, (list, tuple)):
        return [_json_value(v) for v in j]
    return j


def check_layers(layers: Sequence[Layer], dtype: Any) -> tuple[Any, IndexDomain]:
    """(dtype, domain): the layers' common data type and the hull of their domains, with
    TensorStore's errors for layers that disagree."""
    domain = None
    for i, layer in enumerate(layers):
        try:
            if layer.dtype is not None:
                if dtype is None:
                    dtype = layer.dtype
                elif layer.dtype != dtype:
                    raise invalid_argument(f"Layer dtype of {layer.dtype.name} does not match existing dtype of {dtype.name}")
            if domain is None:
                domain = layer.domain
                continue
            if layer.domain.rank != domain.rank:
                raise invalid_argument(
                    f"Layer domain {layer.domain} of rank {layer.domain.rank} does not match layer 0 rank of {domain.rank}"
                )
            domain = domain.hull(layer.domain)
        except ValueError as exc:
            raise invalid_argument(f"Layer {i}: {getattr(exc, 'message', str(exc))}") from None
    if dtype is None:
        raise invalid_argument("dtype must be specified")
    if domain is None:
        raise invalid_argument("At least one layer must be specified for stack")
    return dtype, IndexDomain._make(domain._lo, domain._hi, [False] * domain.rank, [False] * domain.rank, domain._labels)


@register_driver
class StackDriverSpec(DriverSpec):
    id = "stack"
    context_resources = ("data_copy_concurrency",)

    def __init__(self) -> None:
        super().__init__()
        self.layers: list[Layer] = []

    @classmethod
    def from_json(cls, j: dict) -> "StackDriverSpec":
        self = super().from_json(_json_value(j))
        # What the layers imply, as TensorStore fills it in when parsing.
        if self.schema.dtype is None:
            dtype = self.effective_dtype()
            if dtype is not None:
                self.schema.update(dtype=dtype)
        if self.transform is None:
            domain = self.effective_domain()
            if domain is not None:
                self.transform = IndexTransform(domain=domain)
        return self

    def to_json(self, include_defaults: bool = False) -> dict:
        j = super().to_json(include_defaults)
        if include_defaults:
            j["layers"] = [layer.spec.to_json(include_defaults=True) if layer.spec is not None else layer.spec_json(None, False)
                           for layer in self.layers]
        return j

    def parse_driver_members(self, r: ObjectReader) -> None:
        from ..cast.driver import parse_nested_spec

        def parse_layers(j: Any) -> list[Layer]:
            if not isinstance(j, list):
                raise invalid_argument(f"Expected array, but received: {dumps(j)}")
            out = []
            for i, item in enumerate(j):
                try:
                    out.append(Layer(spec=parse_nested_spec(item)))
                except ValueError as exc:
                    raise _LayerError(f"Layer {i}: {getattr(exc, 'message', str(exc))}") from None
            return out

        try:
            self.layers = r.get("layers", parse_layers)
        except _LayerError as exc:  # reported without the member path, as TensorStore does
            raise invalid_argument(str(exc)) from None

    def driver_members_json(self) -> dict:
        return {"layers": [layer.spec_json(None, False) for layer in self.layers]}

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        out.setdefault("context", {})
        out.setdefault("data_copy_concurrency", "data_copy_concurrency")
        schema = self.schema.to_json()
        if self.rank is not None:
            schema.setdefault("rank", self.rank)
        out["schema"] = {k: schema[k] for k in sorted(schema)}

    def effective_schema(self):
        schema = super().effective_schema()
        domain = self.effective_domain()
        if domain is not None and schema.domain is None:
            schema.update(domain=domain)
        dtype = self.effective_dtype()
        if dtype is not None and schema.dtype is None:
            schema.update(dtype=dtype)
        return schema

    def effective_domain(self):
        if self.transform is not None:
            return self.transform.domain
        if self.schema.domain is not None:
            return self.schema.domain
        try:
            return check_layers(self.layers, self.schema.dtype)[1]
        except ValueError:
            return None

    def effective_dtype(self):
        if self.schema.dtype is not None:
            return self.schema.dtype
        return next((layer.dtype for layer in self.layers if layer.dtype is not None), None)

    def open(self, context: Any, transaction: Any = None) -> Future:
        try:
            dtype, domain = check_layers(self.layers, self.schema.dtype)
            if self.schema.domain is not None:
                domain = self.schema.domain  # a domain given for the stack bounds it
            copy = context.get_resource("data_copy_concurrency", self.resources.get("data_copy_concurrency"))
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        return futures.ready(StackDriver(self.layers, dtype, domain, context, copy, self, self.schema.dimension_units))


class StackDriver(Driver):
    """Layers in one index space (`domain`, the hull of theirs)."""

    #: (a view of other drivers: `spec(retain_context=True)` cannot bind its bases yet)
    wraps_driver = True

    def __init__(self, layers: Sequence[Layer], dtype: Any, domain: IndexDomain, context: Any, data_copy: Any, spec: Any = None,
                 dimension_units: Any = None):
        self.layers = list(layers)
        self._units = None if dimension_units is None else tuple(dimension_units)
        self._dtype = dtype
        self._domain = domain
        self.context = context
        self.data_copy = data_copy
        self.spec = spec
        self.grid = LayerGrid([layer.box() for layer in self.layers], domain.rank)

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def chunk_layout(self) -> Any:
        from ...schema import ChunkLayout

        return ChunkLayout()

    @property
    def dimension_units(self) -> Any:
        return self._units

    #: Layers keep their own bounds: TensorStore does not resize a stack.
    supports_resize = False

    # -- I/O -----------------------------------------------------------------------------------

    def _parts(self, transform: IndexTransform) -> tuple[str, list, BaseException | None]:
        """(kind, parts, error): the request's parts in order up to the first cell no layer
        covers (`error` then says which; a write still reaches the parts before it)."""
        from .. import partition

        transform = propagate_bounds(transform, self._domain)
        maps, _, _ = partition.analyze(transform)
        if not partition.is_strided(maps):
            return "points", self.grid.point_parts(transform), None
        parts: list = []
        try:
            for part in self.grid.box_parts(transform):
                parts.append(part)
        except ValueError as exc:
            return "box", parts, exc
        return "box", parts, None

    def read(self, transform: Any, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        try:
            kind, parts, error = self._parts(transform)
        except (ValueError, TypeError, IndexError) as exc:
            return futures.failed(exc)
        if error is not None:
            return futures.failed(error)
        shape = tuple(transform.input_shape)
        if out is None:
            out = empty_output(shape, self._dtype.numpy_dtype)
        pending = []
        for part in parts:
            layer = self.layers[part.layer]

            def start(pair: tuple, part: Any = part) -> Future:
                driver, layer_transform = pair
                t = compose(layer_transform, part.transform)
                if kind == "box":
                    target = out[part.index + (Ellipsis,)]
                    return driver.read(t, transaction, target) if batch is None else driver.read(t, transaction, target, batch=batch)
                got = driver.read(t, transaction) if batch is None else driver.read(t, transaction, batch=batch)
                return futures.chain(got, lambda values, part=part: _scatter(out, part.positions, values))

            pending.append(futures.chain(layer.open(self.context, transaction, part.layer), start))
        return futures.chain(futures.gather(pending), lambda _: out)

    def write(self, transform: Any, array: np.ndarray, transaction: Any = None) -> Any:
        from ..chunked import WriteFutures

        try:
            kind, parts, error = self._parts(transform)
        except (ValueError, TypeError, IndexError) as exc:
            return WriteFutures(futures.failed(exc), futures.failed(exc))
        copies, commits = [], []
        if error is not None:
            copies.append(futures.failed(error))
        flat = None if kind == "box" else np.ascontiguousarray(array).reshape(-1)
        for part in parts:
            layer = self.layers[part.layer]
            source = array[part.index + (Ellipsis,)] if kind == "box" else flat[part.positions]

            def start(pair: tuple, part: Any = part, source: Any = source) -> Any:
                driver, layer_transform = pair
                return driver.write(compose(layer_transform, part.transform), source, transaction)

            started = futures.chain(layer.open(self.context, transaction, part.layer), lambda pair, f=start: futures.ready(f(pair)))
            copies.append(futures.chain(started, lambda w: w.copy))
            commits.append(futures.chain(started, lambda w: w.commit))
        copy = futures.chain(futures.gather(copies), lambda _: None)
        commit = futures.chain(futures.gather([copy, *commits]), lambda _: None)
        return WriteFutures(copy, commit)

    # -- spec ----------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        j: dict[str, Any] = {"driver": "stack", "dtype": self._dtype.name}
        j["layers"] = [layer.spec_json(builder, minimal) for layer in self.layers]
        j["schema"] = {"domain": self._domain.to_json()}
        if self._units is not None and any(u is not None for u in self._units):
            j["schema"]["dimension_units"] = [None if u is None else u.to_json() for u in self._units]
            j["schema"] = {k: j["schema"][k] for k in sorted(j["schema"])}
        return j

    def context_resources(self) -> list:
        resources = [self.data_copy]
        for layer in self.layers:
            for r in layer.context_resources():
                if all(r is not x for x in resources):
                    resources.append(r)
        return resources


def _scatter(out: np.ndarray, positions: np.ndarray, values: np.ndarray) -> None:
    out[np.unravel_index(positions, out.shape)] = values.reshape(-1)
