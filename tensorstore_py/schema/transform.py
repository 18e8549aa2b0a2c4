"""Carrying schema constraints through an index transform (output space -> input space).

When a TensorStore or Schema is indexed, its constraints, expressed for the *output* dimensions
of the transform, must be re-expressed for its *input* dimensions:

* chunk layouts: `transform_chunk_layout` (TensorStore's ``ApplyIndexTransform``);
* dimension units: `transform_dimension_units`;
* fill values: `transform_fill_value`.

and back (`inverse_transform_chunk_layout`, `inverse_transform_dimension_units`) for constraints
given on a transformed view that must reach the driver in its own (output) space.

Only output dimensions computed from a single input dimension (``offset + stride * x``)
carry a constraint over, and only to input dimensions that feed exactly one output dimension.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import invalid_argument, out_of_range
from . import _constraints as C
from .chunk_layout import ChunkLayout
from .fill_value import unbroadcast
from .unit import Unit

__all__ = [
    "transform_chunk_layout", "transform_dimension_units", "transform_fill_value",
    "transform_output_dimension_order", "inverse_transform_chunk_layout", "inverse_transform_dimension_units",
    "transform_input_dimension_order",
]  # fmt: skip

_SINGLE = 1
_ARRAY = 2


def _maps(transform) -> list:
    return list(transform.output)


def _single(m) -> bool:
    return int(m.method) == _SINGLE and m.stride != 0


def one_to_one_input_dims(transform) -> set[int]:
    """Input dimensions used by exactly one single-input-dimension map and by no index array."""
    counts = [0] * transform.input_rank
    in_arrays: set[int] = set()
    for m in _maps(transform):
        if int(m.method) == _SINGLE:
            counts[m.input_dimension] += 1
        elif int(m.method) == _ARRAY:
            arr = m.index_array
            in_arrays.update(i for i, n in enumerate(arr.shape) if n != 1)
    return {i for i, n in enumerate(counts) if n == 1 and i not in in_arrays}


def transform_output_dimension_order(transform, output_order: Sequence[int]) -> list[int]:
    """The input-space storage order implied by an output-space order: input dimensions sorted
    by the first position at which an output dimension they feed appears, ties by index."""
    first = [C.MAX_RANK] * transform.input_rank
    maps = _maps(transform)
    for pos, out_dim in enumerate(output_order):
        m = maps[out_dim]
        if int(m.method) != _SINGLE:
            continue
        d = m.input_dimension
        first[d] = min(first[d], pos)
    return sorted(range(transform.input_rank), key=lambda d: (first[d], d))


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _origin_back(value: int, offset: int, stride: int, out_dim: int, in_dim: int) -> int:
    v = value - offset
    if not -C.MAX_FINITE_INDEX <= v <= C.MAX_FINITE_INDEX:
        raise out_of_range(
            f"Error transforming output dimension {out_dim} -> input dimension {in_dim}: Integer overflow "
            f"transforming output origin {value} by offset {offset} and stride {stride}"
        )
    return _ceil_div(v if stride > 0 else v - 1, stride)


def transform_chunk_layout(layout: ChunkLayout, transform) -> ChunkLayout:
    """`layout` (constraints on the transform's output space) expressed on its input space."""
    if not layout._has_storage:
        return layout.copy()
    out_rank, in_rank = transform.output_rank, transform.input_rank
    if layout._rank != -1 and layout._rank != out_rank:
        raise invalid_argument(
            f"Cannot transform constraints of rank {layout._rank} by index transform of rank {in_rank} -> {out_rank}"
        )
    if layout._rank <= 0:
        return layout.copy()
    maps = _maps(transform)
    one_to_one = one_to_one_input_dims(transform)
    out = ChunkLayout()
    out._ensure_rank(in_rank)
    if layout._inner_order is not None and in_rank > 0:
        out._inner_order = transform_output_dimension_order(transform, layout._inner_order)
        out._inner_order_hard = layout._inner_order_hard
    for usage in range(3):
        src, dst = layout._grids[usage], out._grids[usage]
        dst.elements, dst.elements_hard = src.elements, src.elements_hard

    def carry(values, hard, default, convert, dst_values, dst_hard, what):
        for out_dim, m in enumerate(maps):
            if not _single(m) or m.input_dimension not in one_to_one:
                continue
            v = values[out_dim]
            if v == default:
                continue
            d = m.input_dimension
            try:
                dst_values[d] = convert(v, m.offset, m.stride, out_dim, d)
            except ValueError as exc:
                raise exc.with_prefix(what) if hasattr(exc, "with_prefix") else exc
            dst_hard[d] = hard[out_dim]

    carry(layout._origin, layout._origin_hard, C.IMPLICIT, _origin_back, out._origin, out._origin_hard,
          "Error transforming grid_origin")
    for usage in range(3):
        src, dst = layout._grids[usage], out._grids[usage]
        carry(src.shape, src.shape_hard, 0, lambda v, o, s, *_: v // math.gcd(s, v), dst.shape, dst.shape_hard,
              f"Error transforming {('write', 'read', 'codec')[usage]}_chunk")
        carry(src.aspect, src.aspect_hard, 0.0, lambda v, o, s, *_: v / abs(float(s)), dst.aspect, dst.aspect_hard,
              f"Error transforming {('write', 'read', 'codec')[usage]}_chunk")
    return out


def transform_dimension_units(units: Optional[Sequence[Optional[Unit]]], transform) -> Optional[list[Optional[Unit]]]:
    """Per-input-dimension units: an output unit scaled by |stride| on a one-to-one input."""
    if units is None:
        return None
    one_to_one = one_to_one_input_dims(transform)
    out: list[Optional[Unit]] = [None] * transform.input_rank
    for out_dim, m in enumerate(_maps(transform)):
        u = units[out_dim]
        if u is None or not _single(m) or m.input_dimension not in one_to_one:
            continue
        out[m.input_dimension] = u * abs(m.stride)
    return out


def transform_fill_value(
    fill: np.ndarray,
    transform,
    output_origin: Optional[Sequence[int]] = None,
    output_shape: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """The fill value seen through `transform`, in unbroadcast form.

    `fill` broadcasts against the output domain (aligned to its trailing dimensions), its first
    element sitting at `output_origin` (zeros when not given).  With `output_shape`, index-array
    maps are checked against the output domain (OUT_OF_RANGE, as the reference reports it).
    """
    out_rank, in_rank = transform.output_rank, transform.input_rank
    fill = np.asarray(fill)
    full = fill.reshape((1,) * (out_rank - fill.ndim) + fill.shape) if fill.ndim < out_rank else fill
    domain = transform.domain
    origin = domain.origin
    base = list(output_origin) if output_origin is not None else [0] * out_rank
    index: list[Any] = []
    for out_dim, m in enumerate(_maps(transform)):
        n = full.shape[out_dim]
        # Broadcast (size-1) fill dimensions ignore the index values, as in the reference.
        if int(m.method) == _ARRAY and output_shape is not None and n != 1:
            _check_index_array(m, out_dim, base[out_dim], output_shape[out_dim])
        if n == 1:
            index.append(np.zeros((1,) * in_rank, dtype=np.int64))
            continue
        method = int(m.method)
        if method == _SINGLE:
            d = m.input_dimension
            size = domain.shape[d]
            shape = [1] * in_rank
            shape[d] = size
            idx = m.offset + m.stride * (origin[d] + np.arange(size, dtype=np.int64))
            index.append(idx.reshape(shape) - base[out_dim])
        elif method == _ARRAY:
            index.append(m.offset + m.stride * m.index_array - base[out_dim])
        else:
            index.append(np.full((1,) * in_rank, m.offset - base[out_dim], dtype=np.int64))
    if not index:
        return fill.copy()
    return unbroadcast(full[tuple(index)])


def _check_index_array(m, out_dim: int, lo: int, size: int) -> None:
    hi = lo + size
    values = m.offset + m.stride * np.asarray(m.index_array, dtype=np.int64)
    bad = values[(values < lo) | (values >= hi)]
    if bad.size:
        raise out_of_range(
            f"Error transforming fill_value: In index array map for output dimension {out_dim}: "
            f"Index {int(bad.flat[0])} is outside valid range [{lo}, {hi})"
        )


# ---------------------------------------------------------------------------------------------
# Input space -> output space (TensorStore's ApplyInverseIndexTransform), used when constraints
# given for a transformed view (e.g. a Spec with a transform) are handed to the driver.


def transform_input_dimension_order(transform, input_order: Sequence[int]) -> list[int]:
    """The output-space order implied by an input-space order: output dimensions fed by a single
    input dimension follow that dimension's position; the others come last, ties by index."""
    position = {d: i for i, d in enumerate(input_order)}
    maps = _maps(transform)

    def key(out_dim: int) -> tuple:
        m = maps[out_dim]
        if int(m.method) == _SINGLE:
            return (position[m.input_dimension], out_dim)
        return (C.MAX_RANK, out_dim)

    return sorted(range(transform.output_rank), key=key)


def _origin_forward(value: int, offset: int, stride: int) -> int:
    if stride < 0:
        value -= 1
    new = stride * value + offset
    if not -C.MAX_FINITE_INDEX <= new <= C.MAX_FINITE_INDEX:
        raise out_of_range(f"Integer overflow transforming input origin {value} by offset {offset} and stride {stride}")
    return new


def _shape_forward(value: int, offset: int, stride: int) -> int:
    new = abs(stride) * value
    if new > C.INT64_MAX:
        raise out_of_range(f"Integer overflow computing abs({stride}) * {value}")
    return new


def inverse_transform_chunk_layout(layout: ChunkLayout, transform) -> ChunkLayout:
    """`layout` (constraints on the transform's input space) expressed on its output space."""
    if not layout._has_storage:
        return layout.copy()
    out_rank, in_rank = transform.output_rank, transform.input_rank
    if layout._rank != -1 and layout._rank != in_rank:
        raise invalid_argument(
            f"Cannot transform constraints of rank {layout._rank} by index transform of rank {in_rank} -> {out_rank}"
        )
    if layout._rank <= 0:
        return layout.copy()
    maps = _maps(transform)
    out = ChunkLayout()
    out._ensure_rank(out_rank)
    if layout._inner_order is not None and out_rank > 0:
        out._inner_order = transform_input_dimension_order(transform, layout._inner_order)
        out._inner_order_hard = layout._inner_order_hard
    for usage in range(3):
        src, dst = layout._grids[usage], out._grids[usage]
        dst.elements, dst.elements_hard = src.elements, src.elements_hard

    def carry(values, hard, default, convert, dst_values, dst_hard, what):
        unmapped = {i for i, (v, h) in enumerate(zip(values, hard)) if h and v != default}
        for out_dim, m in enumerate(maps):
            if not _single(m):
                continue
            d = m.input_dimension
            unmapped.discard(d)
            v = values[d]
            if v == default:
                continue
            try:
                dst_values[out_dim] = convert(v, m.offset, m.stride)
            except ValueError as exc:
                prefix = f"{what}: Error transforming input dimension {d} -> output dimension {out_dim}"
                raise exc.with_prefix(prefix) if hasattr(exc, "with_prefix") else exc
            dst_hard[out_dim] = hard[d]
        if in_rank == out_rank:
            # The reference transforms equal-rank vectors in place, so this check then reads
            # the already-transformed value at the input dimension's index.
            unmapped = {d for d in unmapped if dst_values[d] != default}
        if unmapped:
            raise invalid_argument(f"{what}: No output dimension corresponds to input dimension {min(unmapped)}")

    carry(layout._origin, layout._origin_hard, C.IMPLICIT, _origin_forward, out._origin, out._origin_hard,
          "Error transforming grid_origin")
    for usage in range(3):
        src, dst = layout._grids[usage], out._grids[usage]
        name = f"Error transforming {('write', 'read', 'codec')[usage]}_chunk"
        carry(src.shape, src.shape_hard, 0, _shape_forward, dst.shape, dst.shape_hard,
              f"{name}: Error transforming shape")
        carry(src.aspect, src.aspect_hard, 0.0, lambda v, o, s: v * abs(float(s)), dst.aspect, dst.aspect_hard,
              f"{name}: Error transforming aspect_ratio")
    return out


def inverse_transform_dimension_units(
    units: Optional[Sequence[Optional[Unit]]], transform
) -> Optional[list[Optional[Unit]]]:
    """Per-output-dimension units: an input unit divided by |stride|."""
    if units is None:
        return None
    if len(units) != transform.input_rank:
        raise invalid_argument(
            f"Cannot inverse transform schema of rank {len(units)} by index transform of rank "
            f"{transform.input_rank} -> {transform.output_rank}"
        )
    out: list[Optional[Unit]] = [None] * transform.output_rank
    mapped: set[int] = set()
    for out_dim, m in enumerate(_maps(transform)):
        if not _single(m):
            continue
        mapped.add(m.input_dimension)
        u = units[m.input_dimension]
        if u is not None:
            out[out_dim] = u / abs(m.stride)
    for d, u in enumerate(units):
        if u is not None and d not in mapped:
            raise invalid_argument(
                f"Error transforming dimension_units: No output dimension corresponds to input dimension {d} "
                f"with unit {u}"
            )
    return out


def check_fill_transform(transform, output_domain) -> None:
    """Raises as the reference does when `transform` reaches outside the fill value's box.

    The fill value is broadcast to `output_domain` with every bound explicit; constant maps and
    single-input-dimension maps must stay within that box (index arrays are checked while the
    fill value is transformed).
    """
    from ..errors import StatusError
    from ..index.compose import propagate_bounds
    from ..index.domain import IndexDomain
    from ..index.transform import status_payload

    box = IndexDomain._make(output_domain._lo, output_domain._hi, [False] * output_domain.rank,
                            [False] * output_domain.rank, [""] * output_domain.rank)
    try:
        propagate_bounds(transform, box, check_arrays=False)
    except StatusError as exc:
        shape = [h - l + 1 for l, h in zip(box._lo, box._hi)]
        box_text = (f" [domain='{{origin={{{', '.join(map(str, box._lo))}}}, "
                    f"shape={{{', '.join(map(str, shape))}}}}}']")
        # (The reference's payload order varies between cases; the index layer's is kept.)
        message = exc.message.replace(status_payload("domain", box), box_text)
        raise type(exc)(exc.code, f"Error transforming fill_value: {message}") from None
