"""`ts.Schema`: rank, data type, domain, chunk layout, codec, fill value and dimension units.

Every member is optional; constraints are merged in (keyword arguments, ``schema=``, JSON) and
a constraint that disagrees with one already present is an error naming both.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from .. import dtypes as _dtypes
from ..errors import StatusError, invalid_argument
from ..json_util import MISSING, ObjectReader, from_python, dumps, member_error, pretty_repr
from . import _constraints as C
from .chunk_layout import ChunkLayout
from .codec_spec import CodecSpec, merge_codec_specs
from .fill_value import (
    check_broadcastable,
    convert_fill_value,
    fill_value_from_json,
    fill_value_to_json,
    format_array,
    format_shape,
    same_fill_value,
    unbroadcast,
)
from .unit import (
    Unit,
    dimension_units_to_json,
    merge_dimension_units,
    normalize_dimension_units,
    parse_dimension_units_json,
)

__all__ = ["Schema", "merge_index_domains"]


def _index():
    # The index layer sits above this one; imported lazily so either package can load first.
    from .. import index

    return index


def _kwarg_error(name: str, exc: BaseException) -> BaseException:
    if isinstance(exc, StatusError):
        return exc.with_prefix(f"Invalid {name}")
    return exc


def _domain_shape(domain) -> list[int]:
    return [hi - lo + 1 for lo, hi in zip(domain._lo, domain._hi)]


def _index_mixin():
    # Schema takes the indexing surface of the index layer (imported at class creation).
    from ..index.indexable import Indexable

    return Indexable


def merge_index_domains(a, b):
    """Merges two IndexDomains of equal rank (TensorStore's MergeIndexDomains).

    Bounds must agree, except that an infinite implicit bound yields to the other domain's
    bound; a non-empty label wins over an empty one; two different labels conflict.
    """
    index = _index()
    prefix = f"Cannot merge index domain {a} with index domain {b}"
    if a.rank != b.rank:
        raise invalid_argument(f"{prefix}: Ranks do not match")
    lo, hi, il, iu, labels = [], [], [], [], []
    inf = C.INF_INDEX
    for i in range(a.rank):
        alo, ahi, ail, aiu = a._dim_tuple(i)
        blo, bhi, bil, biu = b._dim_tuple(i)
        la, lb = a._labels[i], b._labels[i]
        if la and lb and la != lb:
            raise invalid_argument(f"{prefix}: Mismatch in dimension {i}: Dimension labels do not match")
        if ail and alo == -inf:
            l, lflag = blo, bil
        elif bil and blo == -inf:
            l, lflag = alo, ail
        elif alo == blo:
            l, lflag = alo, ail and bil
        else:
            raise invalid_argument(f"{prefix}: Mismatch in dimension {i}: Lower bounds do not match")
        if aiu and ahi == inf:
            h, hflag = bhi, biu
        elif biu and bhi == inf:
            h, hflag = ahi, aiu
        elif ahi == bhi:
            h, hflag = ahi, aiu and biu
        else:
            raise invalid_argument(f"{prefix}: Mismatch in dimension {i}: Upper bounds do not match")
        if not (l != inf and h != -inf and h >= l - 1):
            raise invalid_argument(
                f"{prefix}: Mismatch in dimension {i}: ({l}, {h}) do not specify a valid closed index interval"
            )
        lo.append(l)
        hi.append(h)
        il.append(lflag)
        iu.append(hflag)
        labels.append(la or lb)
    return index.IndexDomain._make(lo, hi, il, iu, labels)


class Schema(_index_mixin()):  # type: ignore[misc]
    """Constraints on a TensorStore: rank, dtype, domain, chunk layout, codec, fill value, units.

    ``Schema(json)`` parses the JSON form; keyword arguments are merged as by `update`.
    Indexing (``schema[...]``, ``.T``, ``.translate_to[...]`` ...) re-expresses every
    constraint for the new dimensions.
    """

    __slots__ = ("_rank", "_dtype", "_domain", "_chunk_layout", "_codec", "_fill_value", "_units")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rank = -1
        self._dtype: Optional[_dtypes.dtype] = None
        self._domain = None
        self._chunk_layout = ChunkLayout()
        self._codec: Optional[CodecSpec] = None
        self._fill_value: Optional[np.ndarray] = None
        self._units: Optional[list[Optional[Unit]]] = None
        json = kwargs.pop("json", MISSING)
        if args:
            if len(args) > 1 or json is not MISSING:
                raise TypeError("Schema() takes at most one positional argument (json)")
            json = args[0]
        if json is not MISSING:
            if kwargs:
                raise TypeError("Schema(json) takes no other arguments")
            if isinstance(json, Schema):
                self._copy_from(json)
            else:
                self._load_json(from_python(json))
            return
        if kwargs:
            self.update(**kwargs)

    # ------------------------------------------------------------------ primitives

    def _copy_from(self, other: "Schema") -> None:
        self._rank = other._rank
        self._dtype = other._dtype
        self._domain = other._domain
        self._chunk_layout = other._chunk_layout.copy()
        self._codec = other._codec
        self._fill_value = None if other._fill_value is None else other._fill_value.copy()
        self._units = None if other._units is None else list(other._units)

    def copy(self) -> "Schema":
        """A copy whose changes do not affect this schema."""
        out = Schema()
        out._copy_from(self)
        return out

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> "Schema":
        return self.copy()

    def _set_rank(self, rank: int, source: str) -> None:
        if rank == -1:
            return
        C.validate_rank(rank)
        if self._rank != -1 and self._rank != rank:
            raise invalid_argument(
                f"Rank specified by {source} ({rank}) does not match existing rank specified by schema ({self._rank})"
            )
        if self._rank == -1 and self._fill_value is not None and self._fill_value.ndim > rank:
            raise invalid_argument(
                f"Rank specified by {source} ({rank}) is incompatible with existing fill_value of shape "
                f"{format_shape(self._fill_value.shape)}"
            )
        self._rank = rank

    def _set_dtype(self, dtype: _dtypes.dtype) -> None:
        if self._dtype is not None and self._dtype != dtype:
            raise invalid_argument(f"Specified dtype ({dtype.name}) does not match existing value ({self._dtype.name})")
        self._dtype = dtype

    def _set_domain(self, domain, source: str) -> None:
        self._set_rank(domain.rank, source)
        merged = domain if self._domain is None else merge_index_domains(self._domain, domain)
        if self._fill_value is not None:
            try:
                check_broadcastable(self._fill_value.shape, _domain_shape(merged))
            except StatusError as exc:
                raise exc.with_prefix("domain is incompatible with fill_value") from None
        self._domain = merged

    def _set_chunk_layout(self, layout: ChunkLayout) -> None:
        if layout._rank >= 0:
            self._set_rank(layout._rank, "chunk_layout")
        merged = self._chunk_layout.copy()
        merged._merge(layout, True)
        self._chunk_layout = merged

    def _set_codec(self, codec: CodecSpec) -> None:
        self._codec = merge_codec_specs(self._codec, codec)

    def _set_fill_value(self, arr: np.ndarray) -> None:
        if self._domain is not None:
            try:
                check_broadcastable(arr.shape, _domain_shape(self._domain))
            except StatusError as exc:
                raise exc.with_prefix("fill_value is incompatible with domain") from None
        value = unbroadcast(arr)
        if self._domain is None and self._rank != -1 and value.ndim > self._rank:
            raise invalid_argument(f"Invalid fill_value for rank {self._rank}: {format_array(value)}")
        if self._fill_value is not None:
            old = self._fill_value
            if not same_fill_value(old, value):
                raise invalid_argument(
                    f"Specified fill_value ({format_array(value)}) does not match existing value in schema "
                    f"({format_array(old)})"
                )
            return
        self._fill_value = value

    def _set_units(self, units: Sequence[Optional[Unit]], source: str = "dimension_units") -> None:
        if not units:
            return
        self._set_rank(len(units), source)
        self._units = list(units) if self._units is None else merge_dimension_units(self._units, units)

    def _merge_schema(self, other: "Schema") -> None:
        if other._rank != -1:
            self._set_rank(other._rank, "rank")
        if other._dtype is not None:
            self._set_dtype(other._dtype)
        if other._domain is not None:
            self._set_domain(other._domain, "domain")
        self._set_chunk_layout(other._chunk_layout)
        # The reference merges the fill value before the codec.
        if other._fill_value is not None:
            self._set_fill_value(other._fill_value)
        if other._codec is not None:
            self._set_codec(other._codec)
        if other._units is not None:
            self._set_units(other._units)

    # ------------------------------------------------------------------ keyword API

    def update(
        self,
        *,
        rank: Optional[int] = None,
        dtype: Any = None,
        domain: Any = None,
        shape: Optional[Iterable[int]] = None,
        chunk_layout: Optional[ChunkLayout] = None,
        codec: Optional[CodecSpec] = None,
        fill_value: Any = None,
        dimension_units: Optional[Iterable[Any]] = None,
        schema: Optional["Schema"] = None,
    ) -> None:
        """Merges additional constraints (applied in keyword order; errors name the keyword)."""
        steps: list[tuple[str, Any]] = []
        if rank is not None:
            r = C.py_index("rank", rank)
            steps.append(("rank", lambda: self._set_rank(r, "rank")))
        if dtype is not None:
            try:
                dt = _dtypes.dtype(dtype)
            except TypeError:
                raise TypeError("Invalid dtype") from None
            steps.append(("dtype", lambda: self._set_dtype(dt)))
        if domain is not None:
            if not isinstance(domain, _index().IndexDomain):
                raise TypeError("Invalid domain")
            steps.append(("domain", lambda: self._set_domain(domain, "domain")))
        if shape is not None:
            shape_vec = C.py_index_vector("shape", shape, None, allow_none=False)
            steps.append(("shape", lambda: self._set_domain(_shape_domain(shape_vec), "shape")))
        if chunk_layout is not None:
            if not isinstance(chunk_layout, ChunkLayout):
                raise TypeError("Invalid chunk_layout")
            steps.append(("chunk_layout", lambda: self._set_chunk_layout(chunk_layout)))
        if codec is not None:
            if not isinstance(codec, CodecSpec):
                raise TypeError("Invalid codec")
            steps.append(("codec", lambda: self._set_codec(codec)))
        if fill_value is not None:
            steps.append(("fill_value", lambda: self._set_fill_value(convert_fill_value(fill_value, self._dtype))))
        if dimension_units is not None:
            units = normalize_dimension_units(dimension_units)
            steps.append(("dimension_units", lambda: self._set_units(units)))
        if schema is not None:
            if not isinstance(schema, Schema):
                raise TypeError("Invalid schema")
            steps.append(("schema", lambda: self._merge_schema(schema)))
        for name, fn in steps:
            try:
                fn()
            except StatusError as exc:
                raise _kwarg_error(name, exc) from None

    # ------------------------------------------------------------------ JSON

    def _load_json(self, j: Any) -> None:
        r = ObjectReader(j)

        def member(name: str, parse, apply) -> None:
            if not r.has(name):
                r.skip(name)
                return
            value = r.get(name, parse)
            try:
                apply(value)
            except ValueError as exc:
                raise member_error(name, exc) from None

        member("rank", lambda x: C.json_int_in_range(x, 0, C.MAX_RANK), lambda v: self._set_rank(v, "rank"))
        member("dtype", _parse_dtype_json, self._set_dtype)
        member("domain", _parse_domain_json, lambda d: self._set_domain(d, "domain"))
        member("chunk_layout", _parse_layout_json, self._set_chunk_layout)
        member("codec", CodecSpec, self._set_codec)
        member("fill_value", lambda x: fill_value_from_json(x, self._dtype), self._set_fill_value)
        member("dimension_units", parse_dimension_units_json, self._set_units)
        r.finish()

    def to_json(self, include_defaults: bool = False) -> Any:
        """The JSON representation (members in sorted order)."""
        out: dict[str, Any] = {}
        layout_json = self._chunk_layout.to_json()
        layout_json.pop("rank", None)
        if layout_json:
            out["chunk_layout"] = layout_json
        if self._codec is not None:
            out["codec"] = self._codec.to_json()
        if self._units is not None and any(u is not None for u in self._units):
            out["dimension_units"] = dimension_units_to_json(self._units)
        if self._domain is not None:
            out["domain"] = self._domain.to_json()
        if self._dtype is not None:
            out["dtype"] = self._dtype.name
        if self._fill_value is not None:
            out["fill_value"] = fill_value_to_json(self._fill_value)
        if self._rank != -1:
            out["rank"] = self._rank
        return out

    def __repr__(self) -> str:
        # The reference prints JSON text there, so NaN/inf appear as null; layout from column 0.
        return "Schema(" + pretty_repr(_nonfinite_to_null(self.to_json())) + ")"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        # Member by member, as the reference: e.g. units known to be all unknown ([None]) differ
        # from no units, although both print the same JSON.
        a, b = self._fill_value, other._fill_value
        same_fill = (a is None) == (b is None) and (a is None or same_fill_value(a, b))
        return (
            self._rank == other._rank
            and self._dtype == other._dtype
            and self._domain == other._domain
            and self._chunk_layout == other._chunk_layout
            and (None if self._codec is None else self._codec.to_json())
            == (None if other._codec is None else other._codec.to_json())
            and same_fill
            and self._units == other._units
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (Schema, (self.to_json(),))

    # ------------------------------------------------------------------ indexing

    def _indexable_transform(self):
        index = _index()
        from ..index.transform import identity_transform

        if self._domain is not None:
            return identity_transform(self._domain)
        if self._rank == -1:
            raise invalid_argument("Cannot index a schema of unknown rank")
        return identity_transform(index.IndexDomain(rank=self._rank))

    def _indexable_with_transform(self, t) -> "Schema":
        from .transform import (
            check_fill_transform,
            transform_chunk_layout,
            transform_dimension_units,
            transform_fill_value,
        )

        out = Schema()
        out._rank = t.input_rank
        out._dtype = self._dtype
        out._codec = self._codec
        out._domain = _propagate_explicit_bounds(self._domain, t) if self._domain is not None else None
        out._chunk_layout = transform_chunk_layout(self._chunk_layout, t)
        # Over an empty domain the reference drops the fill value.
        if self._fill_value is not None and 0 not in t.domain.shape:
            if self._domain is not None:
                check_fill_transform(t, self._domain)
            origin = self._domain.origin if self._domain is not None else None
            shape = _domain_shape(self._domain) if self._domain is not None else None
            out._fill_value = transform_fill_value(self._fill_value, t, origin, shape)
        out._units = transform_dimension_units(self._units, t)
        return out

    # ------------------------------------------------------------------ properties

    @property
    def rank(self) -> Optional[int]:
        """Number of dimensions, or None if unconstrained."""
        return None if self._rank == -1 else self._rank

    @property
    def ndim(self) -> Optional[int]:
        """Alias of `rank`."""
        return self.rank

    @property
    def dtype(self) -> Optional[_dtypes.dtype]:
        """The data type, or None."""
        return self._dtype

    @property
    def domain(self):
        """The `IndexDomain`, or None."""
        return self._domain

    @property
    def chunk_layout(self) -> ChunkLayout:
        """The chunk layout constraints (an empty layout if none)."""
        return self._chunk_layout.copy()

    @property
    def codec(self) -> Optional[CodecSpec]:
        """The codec constraints, or None."""
        return self._codec

    @property
    def fill_value(self) -> Optional[np.ndarray]:
        """The fill value (unbroadcast NumPy array) or None."""
        # Returned as stored: the reference does not convert a fill value given before the dtype.
        return None if self._fill_value is None else self._fill_value.copy()

    @property
    def dimension_units(self) -> Optional[tuple]:
        """One `Unit` (or None when unknown) per dimension; None when the rank is unknown."""
        if self._units is not None:
            return tuple(self._units)
        if self._rank == -1:
            return None
        return (None,) * self._rank

    def _require_domain(self):
        if self._domain is None:
            raise invalid_argument("Schema has no domain")
        return self._domain

    @property
    def shape(self) -> tuple:
        """Shape of the domain (an error if there is none)."""
        return self._require_domain().shape

    @property
    def origin(self) -> tuple:
        """Inclusive lower bounds of the domain."""
        return self._require_domain().origin

    @property
    def size(self) -> int:
        """Number of elements in the domain."""
        return self._require_domain().size


class _Null:
    """Prints as ``null``: the reference's repr shows non-finite numbers that way."""

    def __repr__(self) -> str:
        return "null"


_NULL = _Null()


def _nonfinite_to_null(j: Any) -> Any:
    if isinstance(j, float) and not math.isfinite(j):
        return _NULL
    if isinstance(j, dict):
        return {k: _nonfinite_to_null(v) for k, v in j.items()}
    if isinstance(j, list):
        return [_nonfinite_to_null(v) for v in j]
    return j


def _propagate_explicit_bounds(domain, t):
    """`t`'s input domain, with implicit bounds made explicit where they map onto an explicit
    bound of the schema's domain (the reference keeps a schema's explicit bounds explicit)."""
    index = _index()
    new = t.domain
    lo, hi = list(new._lo), list(new._hi)
    il, iu = list(new._il), list(new._iu)
    for out_dim, m in enumerate(t.output):
        if int(m.method) != 1 or not m.stride:
            continue
        d, stride, offset = m.input_dimension, m.stride, m.offset
        olo, ohi, oil, oiu = domain._dim_tuple(out_dim)
        # The input bound that maps onto the output lower / upper bound depends on the sign.
        lower_src, upper_src = (oil, oiu) if stride > 0 else (oiu, oil)
        # Smallest / largest input index whose image stays within the output bounds.
        if il[d] and not lower_src:
            bound = olo if stride > 0 else ohi
            lo[d] = -((offset - bound) // stride)
            il[d] = False
        if iu[d] and not upper_src:
            bound = ohi if stride > 0 else olo
            hi[d] = (bound - offset) // stride
            iu[d] = False
    return index.IndexDomain._make(lo, hi, il, iu, new._labels)


def _shape_domain(shape: Sequence[int]):
    index = _index()
    for s in shape:
        if s < 0:
            raise invalid_argument(f"(0, {s}) do not specify a valid sized index interval")
    C.validate_rank(len(shape))
    return index.IndexDomain(shape=list(shape))


def _parse_dtype_json(j: Any) -> _dtypes.dtype:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    try:
        return _dtypes.dtype(j)
    except (ValueError, TypeError):
        raise invalid_argument(f"Unsupported data type: {dumps(j)}") from None


def _parse_domain_json(j: Any):
    index = _index()
    return index.IndexDomain(json=j)


def _parse_layout_json(j: Any) -> ChunkLayout:
    from ..json_util import expect_object

    expect_object(j)
    return ChunkLayout(copy.deepcopy(j))
