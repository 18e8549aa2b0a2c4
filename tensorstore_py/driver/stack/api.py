"""``ts.stack``, ``ts.concat`` and ``ts.overlay``: layers arranged in one index space."""

from __future__ import annotations

from typing import Any, Iterable

from ... import dtypes

from ...errors import invalid_argument
from ...index import IndexDomain, IndexTransform, OutputIndexMap
from .driver import Layer, StackDriver, check_layers

__all__ = ["stack", "concat", "overlay"]


def _layer(value: Any) -> Layer:
    from ...spec import Spec
    from ...tensorstore import TensorStore

    if isinstance(value, TensorStore):
        return Layer(store=value)
    if isinstance(value, Spec):
        return Layer(spec=value._driver_spec.copy())
    raise TypeError(f"Expected TensorStore or Spec, but received: {type(value).__name__}")


def _layers(values: Iterable[Any]) -> list[Layer]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(_layer(value))
        except ValueError as exc:
            raise invalid_argument(f"Layer {i}: {getattr(exc, 'message', str(exc))}") from None
    return out


def _normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise invalid_argument(f"Dimension index {axis} is outside valid range [{-rank}, {rank})")
    return axis + rank if axis < 0 else axis


def _resolve_axis(axis: Any, domain: IndexDomain) -> int:
    if isinstance(axis, str):
        labels = domain.labels
        if axis not in labels:
            raise invalid_argument(f'Label "{axis}" does not match one of {{' + ", ".join(f'"{x}"' for x in labels) + "}")
        return labels.index(axis)
    return _normalize_axis(int(axis), domain.rank)


def _moved(layer: Layer, transform_of: Any) -> Layer:
    """`layer` with its view transform replaced by `transform_of(transform)`."""
    if layer.store is not None:
        from ...tensorstore import TensorStore

        s = layer.store
        return Layer(store=TensorStore(s._driver, transform_of(s._transform), s.readable, s.writable, s.transaction))
    spec = layer.spec.copy()
    base = spec.transform if spec.transform is not None else IndexTransform(domain=layer.domain)
    spec.transform = transform_of(base)
    return Layer(spec=spec)


def _translated(t: IndexTransform, axis: int, delta: int) -> IndexTransform:
    """`t` with its input dimension `axis` shifted by `delta`."""
    d = t.domain
    lo, hi = list(d._lo), list(d._hi)
    lo[axis] += delta
    hi[axis] += delta
    outputs = []
    for m in t.output:
        if m.method == 1 and m.input_dimension == axis:
            outputs.append(OutputIndexMap.single(axis, m.offset - m.stride * delta, m.stride))
        else:
            outputs.append(m)
    return IndexTransform._make(IndexDomain._make(lo, hi, d._il, d._iu, d._labels), tuple(outputs))


def _with_new_dim(t: IndexTransform, axis: int, position: int) -> IndexTransform:
    """`t` with a new input dimension at `axis` spanning [position, position + 1)."""
    import numpy as np

    d = t.domain
    lo, hi, il, iu, labels = list(d._lo), list(d._hi), list(d._il), list(d._iu), list(d._labels)
    lo.insert(axis, position)
    hi.insert(axis, position)
    il.insert(axis, False)
    iu.insert(axis, False)
    labels.insert(axis, "")
    outputs = []
    for m in t.output:
        if m.method == 1:
            j = m.input_dimension
            outputs.append(OutputIndexMap.single(j + 1 if j >= axis else j, m.offset, m.stride))
        elif m.method == 2:
            outputs.append(OutputIndexMap.from_array(np.expand_dims(m.index_array, axis), m.offset, m.stride, m._range))
        else:
            outputs.append(m)
    return IndexTransform._make(IndexDomain._make(lo, hi, il, iu, labels), tuple(outputs))


def _open(layers: list[Layer], read: bool | None, write: bool | None, context: Any, transaction: Any, **constraints: Any) -> Any:
    from ...context import Context
    from ...schema import Schema
    from ...tensorstore import TensorStore

    schema = Schema()
    options = {k: v for k, v in constraints.items() if v is not None and k != "schema"}
    if "shape" in options:
        options["domain"] = IndexDomain(shape=options.pop("shape"))
    if options:
        schema.update(**options)
    if constraints.get("schema") is not None:
        schema.update(schema=constraints["schema"])
    dtype, domain = check_layers(layers, schema.dtype)
    schema._set_rank(domain.rank, "rank")
    if schema.domain is not None:
        domain = schema.domain  # a domain given for the stack bounds it
    context = context if context is not None else Context()
    if transaction is not None:
        transaction.check_open()
    driver = StackDriver(layers, dtype, domain, context, context.get_resource("data_copy_concurrency"), None, schema.dimension_units)
    if not read and not write:  # as TensorStore: neither asked for (or both refused) is both
        read = write = True
    # A layer that cannot be read (written) makes the stack so too.
    for layer in layers:
        if layer.store is not None:
            read = read and layer.store.readable
            write = write and layer.store.writable
    return TensorStore(driver, IndexTransform(domain=domain), bool(read), bool(write), transaction)


def overlay(
    layers: Iterable[Any], *, read: bool | None = None, write: bool | None = None, context: Any = None,
    transaction: Any = None, rank: int | None = None, dtype: dtypes.DTypeLike = None, domain: Any = None,
    shape: Any = None, dimension_units: Any = None, schema: Any = None,
) -> Any:  # fmt: skip
    """A virtual TensorStore over `layers` (TensorStores, or Specs with a known domain) in their
    own positions; where they overlap, later layers win."""
    return _open(_layers(layers), read, write, context, transaction, rank=rank, dtype=dtypes.get(dtype), domain=domain,
                 shape=shape, dimension_units=dimension_units, schema=schema)  # fmt: skip


def stack(
    layers: Iterable[Any], axis: int = 0, *, read: bool | None = None, write: bool | None = None, context: Any = None,
    transaction: Any = None, rank: int | None = None, dtype: dtypes.DTypeLike = None, domain: Any = None,
    shape: Any = None, dimension_units: Any = None, schema: Any = None,
) -> Any:  # fmt: skip
    """Layers of equal rank stacked along a new dimension `axis` (layer i at index i)."""
    given = _layers(layers)
    if not given:
        raise invalid_argument("At least one layer must be specified for stack")
    new_axis = _normalize_axis(int(axis), given[0].domain.rank + 1)
    placed = []
    for i, layer in enumerate(given):
        if layer.domain.rank != given[0].domain.rank:
            raise invalid_argument(
                f"Layer {i}: Layer domain {layer.domain} of rank {layer.domain.rank} does not match layer 0 rank of {given[0].domain.rank}"
            )
        placed.append(_moved(layer, lambda t, i=i: _with_new_dim(t, new_axis, i)))
    return _open(placed, read, write, context, transaction, rank=rank, dtype=dtypes.get(dtype), domain=domain,
                 shape=shape, dimension_units=dimension_units, schema=schema)  # fmt: skip


def concat(
    layers: Iterable[Any], axis: int | str, *, read: bool | None = None, write: bool | None = None, context: Any = None,
    transaction: Any = None, rank: int | None = None, dtype: dtypes.DTypeLike = None, domain: Any = None,
    shape: Any = None, dimension_units: Any = None, schema: Any = None,
) -> Any:  # fmt: skip
    """Layers joined end to end along their existing dimension `axis` (index or label)."""
    given = _layers(layers)
    if not given:
        raise invalid_argument("At least one layer must be specified for concat")
    first = given[0].domain
    dim = _resolve_axis(axis, first)
    placed = [given[0]]
    end = first.exclusive_max[dim]
    for i, layer in enumerate(given[1:], start=1):
        d = layer.domain
        if d.rank != first.rank:
            raise invalid_argument(f"Layer {i}: Layer domain {d} of rank {d.rank} does not match layer 0 rank of {first.rank}")
        a, b = d.labels[dim], first.labels[dim]
        # Given by label, the dimension's labels must agree (by index, the hull checks them).
        if isinstance(axis, str) and a and b and a != b:
            raise invalid_argument(f"Layer {i}: Mismatch in dimension {dim}: Dimension labels do not match")
        delta = end - d.inclusive_min[dim]
        placed.append(_moved(layer, lambda t, delta=delta: _translated(t, dim, delta)))
        end += d.shape[dim]
    return _open(placed, read, write, context, transaction, rank=rank, dtype=dtypes.get(dtype), domain=domain,
                 shape=shape, dimension_units=dimension_units, schema=schema)  # fmt: skip



