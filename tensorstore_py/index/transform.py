"""`ts.IndexTransform`: an input domain plus one output index map per output dimension.

Also the entry points the chunked engine uses: `identity_transform`, `propagate_bounds`
(resolving a transform against an array's current domain) and `compose` (``t[x]``).
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..errors import StatusError, invalid_argument, out_of_range
from ..json_util import ObjectReader, from_python, dumps, expect_array, parse_array, sorted_json
from .domain import IndexDomain, check_rank, components_from_kwargs, domain_to_json, parse_domain_components
from .indexable import Indexable
from .interval import INF_INDEX, Dim, format_interval, format_plain_interval
from .output_map import OutputIndexMap, OutputIndexMaps, OutputIndexMethod, format_array

__all__ = [
    "IndexTransform", "identity_transform", "propagate_bounds", "compose", "slice_by_domain",
    "compose_with_domain", "status_payload",
]  # fmt: skip

CONSTANT = OutputIndexMethod.constant
SINGLE = OutputIndexMethod.single_input_dimension
ARRAY = OutputIndexMethod.array

_TRANSFORM_KWARGS = {
    "input_rank": "rank", "input_inclusive_min": "inclusive_min", "implicit_lower_bounds": "implicit_lower_bounds",
    "input_exclusive_max": "exclusive_max", "input_inclusive_max": "inclusive_max", "input_shape": "shape",
    "implicit_upper_bounds": "implicit_upper_bounds", "input_labels": "labels",
}  # fmt: skip


class IndexTransform(Indexable):
    """Maps input index vectors (in `domain`) to output index vectors, one map per output dim."""

    __slots__ = ("_domain", "_outputs")

    _domain: IndexDomain
    _outputs: tuple

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "json" in kwargs:
            if args or len(kwargs) != 1:
                raise TypeError("IndexTransform(json=...) takes no other arguments")
            other = parse_transform_json(from_python(kwargs["json"]))
            self._domain, self._outputs = other._domain, other._outputs
            return
        first = args[0] if args else kwargs.get("domain")
        if isinstance(first, IndexDomain) or (
            first is not None and not isinstance(first, (int, np.integer)) and _is_dim_sequence(first)
        ):
            if len(args) > 2 or set(kwargs) - {"domain", "output"}:
                raise TypeError("IndexTransform(domain, output=None) got unexpected arguments")
            domain = first if isinstance(first, IndexDomain) else IndexDomain(list(first))
            output = args[1] if len(args) > 1 else kwargs.get("output")
        else:
            if len(args) > 1:
                raise TypeError("IndexTransform() takes at most 1 positional argument")
            kw = dict(kwargs)
            if args:
                kw["input_rank"] = args[0]
            output = kw.pop("output", None)
            unknown = set(kw) - set(_TRANSFORM_KWARGS)
            if unknown:
                raise TypeError(f"IndexTransform() got an unexpected keyword argument '{sorted(unknown)[0]}'")
            renamed = {_TRANSFORM_KWARGS[k]: v for k, v in kw.items() if v is not None}
            try:
                parts = components_from_kwargs(renamed, "")
            except StatusError as e:
                raise invalid_argument(_rename_message(e.message)) from None
            domain = IndexDomain._make(*parts)
        if output is None:
            outputs: tuple = tuple(OutputIndexMap.single(i) for i in range(domain.rank))
        else:
            outputs = tuple(output)
            for m in outputs:
                if not isinstance(m, OutputIndexMap):
                    raise TypeError("output must be a sequence of ts.OutputIndexMap")
        check_rank(len(outputs))
        t = build_transform(domain, outputs)
        self._domain, self._outputs = t._domain, t._outputs

    @classmethod
    def _make(cls, domain: IndexDomain, outputs: Sequence[OutputIndexMap]) -> "IndexTransform":
        t = cls.__new__(cls)
        t._domain = domain
        t._outputs = tuple(outputs)
        return t

    # -- Indexable hooks -----------------------------------------------------------------------

    def _indexable_transform(self) -> "IndexTransform":
        return self

    def _indexable_with_transform(self, t: "IndexTransform") -> "IndexTransform":
        return t

    # -- properties ----------------------------------------------------------------------------

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def input_rank(self) -> int:
        return self._domain.rank

    @property
    def output_rank(self) -> int:
        return len(self._outputs)

    @property
    def input_origin(self) -> tuple[int, ...]:
        return self._domain.origin

    input_inclusive_min = input_origin

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._domain.shape

    @property
    def input_exclusive_max(self) -> tuple[int, ...]:
        return self._domain.exclusive_max

    @property
    def input_inclusive_max(self) -> tuple[int, ...]:
        return self._domain.inclusive_max

    @property
    def input_labels(self) -> tuple[str, ...]:
        return self._domain.labels

    @property
    def implicit_lower_bounds(self) -> tuple[bool, ...]:
        return self._domain.implicit_lower_bounds

    @property
    def implicit_upper_bounds(self) -> tuple[bool, ...]:
        return self._domain.implicit_upper_bounds

    @property
    def output(self) -> OutputIndexMaps:
        """The output index maps."""
        return OutputIndexMaps(self._outputs)

    # -- evaluation ----------------------------------------------------------------------------

    def __call__(self, indices: Any) -> Any:
        """Maps one input index vector to its output index vector (a tuple).

        As an extension, calling with an IndexTransform composes (same as ``self[other]``).
        """
        if isinstance(indices, IndexTransform):
            return self[indices]
        try:
            vec = [operator.index(x) for x in indices]
        except TypeError:
            raise TypeError(
                "__call__(): incompatible function arguments. The following argument types are supported:\n"
                "    1. (self: tensorstore.IndexTransform, indices: collections.abc.Iterable[typing.SupportsInt | "
                f"typing.SupportsIndex]) -> Tuple[int, ...]\n\nInvoked with: {self!r}, {indices!r}"
            ) from None
        return tuple(self._evaluate(vec))

    def _evaluate(self, vec: Sequence[int]) -> list[int]:
        d = self._domain
        if len(vec) != d.rank:
            raise invalid_argument(
                f"input indices vector of length {len(vec)} cannot be used with index transform with input rank {d.rank}"
            )
        for i, x in enumerate(vec):
            lo = -INF_INDEX if d._il[i] else d._lo[i]
            hi = INF_INDEX if d._iu[i] else d._hi[i]
            if not lo <= x <= hi:
                raise out_of_range(
                    f"Index {x} is not contained in the domain {format_interval(d._lo[i], d._hi[i], d._il[i], d._iu[i])} "
                    f"for input dimension {i}"
                )
        out = []
        for j, m in enumerate(self._outputs):
            if m._method == CONSTANT:
                out.append(m._offset)
            elif m._method == SINGLE:
                out.append(m._offset + m._stride * vec[m._dim])
            else:
                pos = tuple(0 if m._array.shape[i] == 1 else vec[i] - d._lo[i] for i in range(d.rank))
                v = int(m._array[pos])
                if not m._lo <= v <= m._hi:
                    raise out_of_range(
                        f"Computing index for output dimension {j}: Checking result of index array output index map: "
                        f"Index {v} is outside valid range {format_plain_interval(m._lo, m._hi)}"
                    )
                out.append(m._offset + m._stride * v)
        return out

    # -- JSON, repr, equality ------------------------------------------------------------------

    def to_json(self) -> dict:
        """TensorStore's JSON representation (members in sorted order)."""
        j = domain_to_json(self._domain, "input_")
        if not self._is_identity():
            j["output"] = [output_map_to_json(m) for m in self._outputs]
        return dict(sorted(j.items()))

    def _is_identity(self) -> bool:
        if len(self._outputs) != self._domain.rank:
            return False
        return all(
            m._method == SINGLE and m._dim == i and m._offset == 0 and m._stride == 1 for i, m in enumerate(self._outputs)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndexTransform):
            return NotImplemented
        return self._domain == other._domain and self._outputs == other._outputs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        d = self._domain
        lines = [f"Rank {d.rank} -> {len(self._outputs)} index space transform:", "  Input domain:"]
        for i in range(d.rank):
            text = f"    {i}: {format_interval(d._lo[i], d._hi[i], d._il[i], d._iu[i])}"
            if d._labels[i]:
                text += f' "{d._labels[i]}"'
            lines.append(text)
        lines.append("  Output index maps:")
        for j, m in enumerate(self._outputs):
            if m._method == CONSTANT:
                lines.append(f"    out[{j}] = {m._offset}")
            elif m._method == SINGLE:
                lines.append(f"    out[{j}] = {m._offset} + {m._stride} * in[{m._dim}]")
            else:
                lines.append(
                    f"    out[{j}] = {m._offset} + {m._stride} * bounded({format_plain_interval(m._lo, m._hi)}, "
                    "array(in)), where array ="
                )
                lines.append("      " + format_array(m._array))
        return "\n".join(lines) + "\n"

    __str__ = __repr__

    def __reduce__(self):
        return (IndexTransform._make, (self._domain, self._outputs))


def _is_dim_sequence(x: Any) -> bool:
    try:
        items = list(x)
    except TypeError:
        return False
    return all(isinstance(i, Dim) for i in items) and (len(items) > 0 or isinstance(x, (list, tuple)))


def _rename_message(msg: str) -> str:
    # components_from_kwargs speaks IndexDomain's argument names; the transform's differ.
    msg = msg.replace("Invalid rank:", "Invalid input_rank:")
    for ours, theirs in (("`rank`", "`input_rank`"), ("`inclusive_min`", "`input_inclusive_min`"),
                         ("`exclusive_max`", "`input_exclusive_max`"), ("`inclusive_max`", "`input_inclusive_max`"),
                         ("`shape`", "`input_shape`"), ("`labels`", "`input_labels`")):  # fmt: skip
        msg = msg.replace(ours, theirs)
    return msg


def status_payload(name: str, obj: Any) -> str:
    """`` [name='...']`` as TensorStore appends a status payload (newlines become spaces)."""
    text = obj._repr_plain() if isinstance(obj, IndexDomain) else repr(obj)
    return f" [{name}='{text.replace(chr(10), ' ')}']"


# ---------------------------------------------------------------------------------------------
# Construction with validation and TensorStore's normalizations.


def build_transform(domain: IndexDomain, outputs: Sequence[OutputIndexMap]) -> IndexTransform:
    """Validates user-supplied output maps against `domain` and normalizes them.

    Zero strides become constant maps; index arrays over an empty domain become ``0``.
    """
    rank = domain.rank
    shape = domain.shape
    from .compose import explicitly_empty

    empty = explicitly_empty(domain)
    result = []
    for j, m in enumerate(outputs):
        if m._method == SINGLE:
            if not 0 <= m._dim < rank:
                raise invalid_argument(
                    f"Input dimension {m._dim} specified for output dimension {j} is outside valid range [0, {rank})"
                )
            result.append(OutputIndexMap.constant(m._offset) if m._stride == 0 else m)
        elif m._method == ARRAY:
            arr = m._array
            if arr.ndim != rank:
                raise invalid_argument(f"Index array for output dimension {j} has rank {arr.ndim} but must have rank {rank}")
            if any(a != s and a != 1 for a, s in zip(arr.shape, shape)):
                raise invalid_argument(
                    f"Index array for output dimension {j} has shape {{{', '.join(map(str, arr.shape))}}} "
                    f"which does not match input_shape {{{', '.join(map(str, shape))}}}"
                )
            if m._stride == 0:
                result.append(OutputIndexMap.constant(m._offset))
            elif empty:
                result.append(OutputIndexMap.constant(0))
            else:
                result.append(m)
        else:
            result.append(m)
    return IndexTransform._make(domain, result)


def identity_transform(domain: IndexDomain) -> IndexTransform:
    """The identity transform over `domain`."""
    rank = domain.rank
    maps = _IDENTITY_MAPS.get(rank)
    if maps is None:  # output maps are immutable: one tuple per rank serves every transform
        maps = _IDENTITY_MAPS[rank] = tuple(OutputIndexMap.single(i) for i in range(rank))
    return IndexTransform._make(domain, maps)


_IDENTITY_MAPS: dict[int, tuple] = {}


# ---------------------------------------------------------------------------------------------
# JSON


def _bound_value_json(v: int) -> Any:
    if v == -INF_INDEX:
        return "-inf"
    if v == INF_INDEX:
        return "+inf"
    return v


def output_map_to_json(m: OutputIndexMap) -> dict:
    j: dict = {}
    if m._method == ARRAY:
        j["index_array"] = m._array.tolist()
        # Bounds are only written when they matter: some value lies outside them.
        bounded = (m._lo, m._hi) != (-INF_INDEX, INF_INDEX)
        if bounded and m._array.size and (int(m._array.min()) < m._lo or int(m._array.max()) > m._hi):
            j["index_array_bounds"] = [_bound_value_json(m._lo), _bound_value_json(m._hi)]
    elif m._method == SINGLE:
        j["input_dimension"] = m._dim
    if m._offset != 0:
        j["offset"] = m._offset
    if m._method != CONSTANT and m._stride != 1:
        j["stride"] = m._stride
    return j


def _expect_int64(j: Any) -> int:
    if isinstance(j, bool) or not isinstance(j, (int, float)) or (isinstance(j, float) and not j.is_integer()):
        raise invalid_argument(f"Expected 64-bit signed integer, but received: {dumps(j)}")
    v = int(j)
    if not -(1 << 63) <= v < (1 << 63):
        raise invalid_argument(f"Expected 64-bit signed integer, but received: {dumps(j)}")
    return v


def _parse_bound_any(j: Any) -> int:
    if j == "-inf":
        return -INF_INDEX
    if j == "+inf":
        return INF_INDEX
    if isinstance(j, bool) or not isinstance(j, (int, float)) or (isinstance(j, float) and not j.is_integer()):
        raise invalid_argument(f'Expected 64-bit signed integer or "-inf" or "+inf", but received: {dumps(j)}')
    return int(j)


def _parse_index_array(j: Any) -> np.ndarray:
    # Walk the nested lists to find the shape and report bad elements by position.
    shape: list[int] = []
    probe = j
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    out = np.zeros(shape, dtype=np.int64)

    def fill(node: Any, pos: tuple) -> None:
        depth = len(pos)
        if depth == len(shape):
            try:
                out[pos] = _expect_int64(node)
            except StatusError as e:
                raise invalid_argument(
                    f"Error parsing array element at position {{{', '.join(map(str, pos))}}}: {e.message}"
                ) from None
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            raise invalid_argument(f"Expected rectangular array, but received: {dumps(j)}")
        for i, x in enumerate(node):
            fill(x, pos + (i,))

    fill(j, ())
    return out


def _member_error(r: ObjectReader, name: str, message: str) -> None:
    r.get(name, lambda _: (_ for _ in ()).throw(invalid_argument(message)))


def _parse_bounds_member(b: Any) -> tuple:
    from .interval import closed_or_error

    lo, hi = parse_array(expect_array(b, 2), _parse_bound_any)
    return closed_or_error(lo, hi)


def _parse_output_map(j: Any) -> OutputIndexMap:
    # Member order follows TensorStore's, which decides which error is reported first.
    r = ObjectReader(j)
    offset = r.get("offset", _expect_int64, 0)
    if r.has("input_dimension") and r.has("index_array"):
        raise invalid_argument('At most one of "input_dimension", "index_array" members is allowed')
    dim = r.get("input_dimension", _expect_int64, None)
    arr = r.get("index_array", _parse_index_array, None)
    if r.has("index_array_bounds") and arr is None:
        _member_error(r, "index_array_bounds", '"index_array_bounds" is only valid with "index_array"')
    rng = r.get("index_array_bounds", _parse_bounds_member, (-INF_INDEX, INF_INDEX))
    if r.has("stride") and dim is None and arr is None:
        _member_error(r, "stride", 'Either "input_dimension" or "index_array" must be specified in conjunction with "stride"')
    stride = r.get("stride", _expect_int64, 1)
    r.finish()
    if dim is not None:
        return OutputIndexMap.single(dim, offset, stride)
    if arr is not None:
        return OutputIndexMap.from_array(arr, offset, stride, rng)
    return OutputIndexMap.constant(offset)


def parse_transform_json(j: Any) -> IndexTransform:
    """An IndexTransform from TensorStore's JSON; errors prefixed as TensorStore does."""
    try:
        # TensorStore's JSON objects keep their members sorted, which shows in its messages.
        r = ObjectReader(sorted_json(j))
        build = parse_domain_components(r, "input_")
        if build is None:
            names = ("rank", "inclusive_min", "shape", "inclusive_max", "exclusive_max", "labels")
            raise invalid_argument(
                "At least one of " + ", ".join(f'"input_{k}"' for k in names) + " members must be specified"
            )
        outputs = r.get("output", lambda v: parse_array(v, _parse_output_map), None)
        r.finish()
        domain = build()
        if outputs is None:
            return identity_transform(domain)
        check_rank(len(outputs))
        return build_transform(domain, outputs)
    except StatusError as e:
        raise e.with_prefix("Error parsing index transform from JSON") from None


# The algebra lives in compose.py; re-exported here for the engine's convenience.
from .compose import compose, compose_with_domain, propagate_bounds, slice_by_domain  # noqa: E402
