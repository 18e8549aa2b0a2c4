"""`ts.ChunkLayout` and `ts.ChunkLayout.Grid`: constraints on how an array is split into chunks.

A layout carries, per dimension, an optional grid origin, and for each of the three chunk
usages (write, read, codec) a chunk shape, an aspect ratio and a target element count; each
constraint is either hard (must hold) or soft (a preference).  Both classes are mutable: the
keyword constructor and `update` merge new constraints in, failing without changes when a hard
constraint disagrees with an existing one.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from ..errors import StatusError, invalid_argument
from ..json_util import MISSING, ObjectReader, from_python, expect_object, member_error, pretty_repr
from . import _constraints as C
from ._constraints import ASPECT_RATIO, IMPLICIT, ORIGIN, SHAPE
from .grid import Grid, _GridData, _kwarg_error, _parse_grid_json

_Grid = Grid  # for annotations inside ChunkLayout, whose own `Grid` attribute shadows the class

__all__ = ["ChunkLayout"]

USAGES = ("write", "read", "codec")
WRITE, READ, CODEC = 0, 1, 2

_GRID_MEMBERS = (
    "shape", "shape_soft_constraint", "aspect_ratio", "aspect_ratio_soft_constraint",
    "elements", "elements_soft_constraint",
)  # fmt: skip


def _annotate(exc: BaseException, prefix: str) -> BaseException:
    if isinstance(exc, StatusError):
        return exc.with_prefix(prefix)
    return exc


class ChunkLayout:
    """Constraints on the chunk grids (write, read, codec), grid origin and inner order.

    Construct with keyword arguments (see `update`) or ``ChunkLayout(json)``.
    """

    __slots__ = ("_has_storage", "_rank", "_inner_order", "_inner_order_hard", "_origin", "_origin_hard", "_grids")

    Grid = Grid

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._has_storage = False
        self._rank = -1
        self._inner_order: Optional[list[int]] = None
        self._inner_order_hard = False
        self._origin: list[int] = []
        self._origin_hard: list[bool] = []
        self._grids = [_GridData(-1) for _ in USAGES]
        json = kwargs.pop("json", MISSING)
        if args:
            if len(args) > 1 or json is not MISSING:
                raise TypeError("ChunkLayout() takes at most one positional argument (json)")
            json = args[0]
        if json is not MISSING:
            if kwargs:
                raise TypeError("ChunkLayout(json) takes no other arguments")
            if isinstance(json, ChunkLayout):
                self._merge(json, True)
            else:
                self._load_json(from_python(json))
            return
        if kwargs:  # an empty layout (every Schema starts with one) skips the keyword walk
            self.update(**kwargs)

    # ------------------------------------------------------------------ storage primitives

    def _ensure_rank(self, rank: int) -> None:
        C.validate_rank(rank)
        self._has_storage = True
        if self._rank == rank:
            return
        if self._rank != -1:
            raise C.rank_mismatch(rank, self._rank)
        self._rank = rank
        self._origin = [IMPLICIT] * rank
        self._origin_hard = [False] * rank
        for g in self._grids:
            g.resize(rank)

    def _set_inner_order(self, values: Sequence[int], hard: bool) -> None:
        values = list(values)
        if not C.is_valid_permutation(values):
            raise invalid_argument(f"Invalid permutation: {C.format_vector(values)}")
        self._ensure_rank(len(values))
        if not values:
            return
        if self._inner_order is not None:
            if not hard:
                return
            if self._inner_order_hard:
                if values != self._inner_order:
                    raise invalid_argument(
                        f"New hard constraint ({C.format_vector(values)}) does not match existing "
                        f"hard constraint ({C.format_vector(self._inner_order)})"
                    )
                return
        self._inner_order = values
        if hard:
            self._inner_order_hard = True

    def _set_origin(self, values: Sequence[int], hard: bool | Sequence[bool]) -> None:
        self._ensure_rank(len(values))
        C.merge_vector(ORIGIN, values, hard, self._origin, self._origin_hard)

    def _set_shape(self, usage: int, values: Sequence[int], hard: bool | Sequence[bool]) -> None:
        self._ensure_rank(len(values))
        g = self._grids[usage]
        C.merge_vector(SHAPE, values, hard, g.shape, g.shape_hard)

    def _set_aspect(self, usage: int, values: Sequence[float], hard: bool | Sequence[bool]) -> None:
        self._ensure_rank(len(values))
        g = self._grids[usage]
        C.merge_vector(ASPECT_RATIO, values, hard, g.aspect, g.aspect_hard)

    def _set_elements(self, usage: int, value: int, hard: bool) -> None:
        if value == IMPLICIT:
            return
        self._has_storage = True
        g = self._grids[usage]
        g.elements, g.elements_hard = C.merge_elements(g.elements, g.elements_hard, value, hard)

    # Annotated forms, as used by keyword arguments and layout merging.

    def _set_shape_annotated(self, usage: int, values, hard) -> None:
        try:
            self._set_shape(usage, values, hard)
        except StatusError as exc:
            raise _annotate(exc, f"Error setting {USAGES[usage]}_chunk shape") from None

    def _set_aspect_annotated(self, usage: int, values, hard) -> None:
        try:
            self._set_aspect(usage, values, hard)
        except StatusError as exc:
            raise _annotate(exc, f"Error setting {USAGES[usage]}_chunk aspect_ratio") from None

    def _set_elements_annotated(self, usage: int, value: int, hard: bool) -> None:
        try:
            self._set_elements(usage, value, hard)
        except StatusError as exc:
            raise _annotate(exc, f"Error setting {USAGES[usage]}_chunk elements") from None

    def _set_inner_order_annotated(self, values, hard: bool) -> None:
        if not values:
            return
        try:
            self._set_inner_order(values, hard)
        except StatusError as exc:
            raise _annotate(exc, "Error setting inner_order") from None

    def _set_origin_annotated(self, values, hard) -> None:
        if not values:
            return
        try:
            self._set_origin(values, hard)
        except StatusError as exc:
            raise _annotate(exc, "Error setting grid_origin") from None

    @staticmethod
    def _for_usages(setter, usages: Sequence[int], value: Any, hard: bool) -> None:
        # An empty vector constrains nothing (not even the rank), as in the reference.
        if isinstance(value, list) and not value:
            return
        for usage in usages:
            setter(usage, value, hard)

    def _set_grid(self, usage: int, rank: int, data: _GridData, hard: bool) -> None:
        """Merges one grid's constraints into the `usage` grid (shape, aspect, elements)."""
        if rank > 0:
            self._set_shape_annotated(usage, data.shape, data.shape_hard if hard else False)
            self._set_aspect_annotated(usage, data.aspect, data.aspect_hard if hard else False)
        self._set_elements_annotated(usage, data.elements, data.elements_hard and hard)

    def _set_unspecified_grid(self, rank: int, data: _GridData, hard: bool) -> None:
        """A grid given for all usages: shape and elements go to write and read chunks, the
        aspect ratio to all three."""
        self._set_grid(WRITE, rank, data, hard)
        self._set_grid(READ, rank, data, hard)
        if rank > 0:
            self._set_aspect_annotated(CODEC, data.aspect, data.aspect_hard if hard else False)

    def _merge(self, other: "ChunkLayout", hard: bool = True) -> None:
        """Merges every constraint of `other` (as soft constraints when `hard` is False)."""
        if not other._has_storage:
            return
        if not self._has_storage:
            self._copy_from(other)
            if not hard:
                self._clear_hard()
            return
        if other._inner_order is not None:
            self._set_inner_order_annotated(other._inner_order, other._inner_order_hard and hard)
        if other._rank > 0:
            self._set_origin_annotated(other._origin, other._origin_hard if hard else False)
        for usage in range(3):
            self._set_grid(usage, other._rank, other._grids[usage], hard)

    def _copy_from(self, other: "ChunkLayout") -> None:
        self._has_storage = other._has_storage
        self._rank = other._rank
        self._inner_order = None if other._inner_order is None else list(other._inner_order)
        self._inner_order_hard = other._inner_order_hard
        self._origin = list(other._origin)
        self._origin_hard = list(other._origin_hard)
        self._grids = [g.copy() for g in other._grids]

    def _clear_hard(self) -> None:
        self._inner_order_hard = False
        self._origin_hard = [False] * len(self._origin)
        for g in self._grids:
            g.clear_hard()

    def copy(self) -> "ChunkLayout":
        out = ChunkLayout()
        out._copy_from(self)
        return out

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> "ChunkLayout":
        return self.copy()

    # ------------------------------------------------------------------ finalize

    def _finalize(self) -> None:
        rank = self._rank
        if rank == -1:
            raise invalid_argument("rank must be specified")
        self._ensure_rank(rank)
        origin = self._origin
        for dim in range(rank):
            if not self._origin_hard[dim]:
                raise invalid_argument(f"No grid_origin hard constraint for dimension {dim}")
            if not -C.MAX_FINITE_INDEX <= origin[dim] <= C.MAX_FINITE_INDEX:
                raise invalid_argument(f"Invalid grid_origin: {C.format_vector(origin)}")
        for usage in range(3):
            g = self._grids[usage]
            for dim in range(rank):
                if not g.shape_hard[dim]:
                    g.shape[dim] = 0
                end = origin[dim] + g.shape[dim]
                if not C.valid_sized(origin[dim], g.shape[dim]) or not -C.MAX_FINITE_INDEX <= end <= C.MAX_FINITE_INDEX:
                    raise invalid_argument(
                        f"Invalid {USAGES[usage]} chunk grid: Invalid origin/shape: "
                        f"origin={C.format_vector(origin)}, shape={C.format_vector(g.shape)}"
                    )
                if g.shape[dim] == 0 and usage == READ:
                    w = self._grids[WRITE]
                    g.shape[dim] = w.shape[dim]
                    g.shape_hard[dim] = w.shape_hard[dim]
            g.aspect = [0.0] * rank
            g.aspect_hard = [False] * rank
            g.elements, g.elements_hard = IMPLICIT, False
        w, r = self._grids[WRITE].shape, self._grids[READ].shape
        for dim in range(rank):
            if r[dim] != 0 and w[dim] % r[dim] != 0:
                raise invalid_argument(
                    f"write chunk shape {C.format_vector(w)} is not a multiple of read chunk shape "
                    f"{C.format_vector(r)}"
                )

    # ------------------------------------------------------------------ JSON

    def _load_json(self, j: Any) -> None:
        r = ObjectReader(j)
        rank = r.get("rank", lambda x: C.json_int_in_range(x, 0, C.MAX_RANK), None)
        if rank is not None:
            self._ensure_rank(rank)

        def vec_member(name: str, element, default, setter) -> None:
            values = r.get(name, lambda x: C.json_vector(x, element, default), None)
            if values is None:
                return
            try:
                setter(values)
            except ValueError as exc:
                raise member_error(name, exc) from None

        order_elem = lambda x: C.json_int_in_range(x, 0, C.MAX_RANK - 1)  # noqa: E731
        no_null = C._NO_NULL
        vec_member("inner_order", order_elem, no_null, lambda v: self._set_inner_order(v, True))
        vec_member("inner_order_soft_constraint", order_elem, no_null, lambda v: self._set_inner_order(v, False))
        vec_member("grid_origin", C.json_int64, IMPLICIT, lambda v: self._set_origin(v, True))
        vec_member("grid_origin_soft_constraint", C.json_int64, IMPLICIT, lambda v: self._set_origin(v, False))

        for name, usages in (("chunk", None), ("write_chunk", WRITE), ("read_chunk", READ), ("codec_chunk", CODEC)):
            if not r.has(name):
                continue
            value = r.get(name)
            if usages is None:
                shape_usages, aspect_usages, elem_usages = (WRITE, READ), (WRITE, READ, CODEC), (WRITE, READ)
            else:
                shape_usages = aspect_usages = elem_usages = (usages,)

            def set_shape(v, h, us=shape_usages):
                for u in us:
                    self._set_shape(u, v, h)

            def set_aspect(v, h, us=aspect_usages):
                for u in us:
                    self._set_aspect(u, v, h)

            def set_elements(v, h, us=elem_usages):
                for u in us:
                    self._set_elements(u, v, h)

            try:
                _parse_grid_json(value, set_shape, set_aspect, set_elements)
            except ValueError as exc:
                raise member_error(name, exc) from None
        r.finish()

    def to_json(self, include_defaults: bool = False) -> Any:
        """The JSON representation of the constraints."""
        out: dict[str, Any] = {}
        if self._inner_order is not None:
            out["inner_order" if self._inner_order_hard else "inner_order_soft_constraint"] = list(self._inner_order)
        for key, want in (("grid_origin", True), ("grid_origin_soft_constraint", False)):
            picked = [v if (h == want and v != IMPLICIT) else None for v, h in zip(self._origin, self._origin_hard)]
            if any(v is not None for v in picked):
                out[key] = picked
        for usage, name in enumerate(USAGES):
            g = self._grids[usage]
            if not g.unset():
                out[f"{name}_chunk"] = g.to_json()
        if self._rank >= 0 and self._rank_dependent_unset():
            out["rank"] = self._rank
        return {k: out[k] for k in sorted(out)}

    def _rank_dependent_unset(self) -> bool:
        if self._rank <= 0:
            return True
        if self._inner_order is not None:
            return False
        if any(v != IMPLICIT for v in self._origin):
            return False
        return all(g.vectors_unset() for g in self._grids)

    # ------------------------------------------------------------------ keyword API

    def update(
        self,
        *,
        rank: Optional[int] = None,
        inner_order: Optional[Iterable[int]] = None,
        inner_order_soft_constraint: Optional[Iterable[int]] = None,
        grid_origin: Optional[Iterable[Optional[int]]] = None,
        grid_origin_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        chunk: Optional[_Grid] = None,
        write_chunk: Optional[_Grid] = None,
        read_chunk: Optional[_Grid] = None,
        codec_chunk: Optional[_Grid] = None,
        chunk_shape: Optional[Iterable[Optional[int]]] = None,
        chunk_shape_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        write_chunk_shape: Optional[Iterable[Optional[int]]] = None,
        write_chunk_shape_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        read_chunk_shape: Optional[Iterable[Optional[int]]] = None,
        read_chunk_shape_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        codec_chunk_shape: Optional[Iterable[Optional[int]]] = None,
        codec_chunk_shape_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        chunk_aspect_ratio: Optional[Iterable[Optional[float]]] = None,
        chunk_aspect_ratio_soft_constraint: Optional[Iterable[Optional[float]]] = None,
        write_chunk_aspect_ratio: Optional[Iterable[Optional[float]]] = None,
        write_chunk_aspect_ratio_soft_constraint: Optional[Iterable[Optional[float]]] = None,
        read_chunk_aspect_ratio: Optional[Iterable[Optional[float]]] = None,
        read_chunk_aspect_ratio_soft_constraint: Optional[Iterable[Optional[float]]] = None,
        codec_chunk_aspect_ratio: Optional[Iterable[Optional[float]]] = None,
        codec_chunk_aspect_ratio_soft_constraint: Optional[Iterable[Optional[float]]] = None,
        chunk_elements: Optional[int] = None,
        chunk_elements_soft_constraint: Optional[int] = None,
        write_chunk_elements: Optional[int] = None,
        write_chunk_elements_soft_constraint: Optional[int] = None,
        read_chunk_elements: Optional[int] = None,
        read_chunk_elements_soft_constraint: Optional[int] = None,
        codec_chunk_elements: Optional[int] = None,
        codec_chunk_elements_soft_constraint: Optional[int] = None,
        finalize: Optional[bool] = None,
    ) -> None:
        """Merges additional constraints, applied in the order of the keyword list.

        ``chunk_*`` keywords constrain write and read chunks (aspect ratios also codec chunks).
        Hard constraints must agree with existing hard constraints; soft constraints never
        override existing values.  ``finalize=True`` then turns the layout into a precise one.
        """
        given = dict(locals())
        del given["self"]
        steps: list[tuple[str, Any]] = []

        def add(name: str, fn) -> None:
            steps.append((name, fn))

        if rank is not None:
            rank_value = C.py_index("rank", rank)
            add("rank", lambda: self._ensure_rank(rank_value) if rank_value != -1 else None)
        for name, hard in (("inner_order", True), ("inner_order_soft_constraint", False)):
            if given[name] is not None:
                vec = C.py_index_vector(name, given[name], None, allow_none=False)
                add(name, lambda v=vec, h=hard: self._set_inner_order_annotated(v, h))
        for name, hard in (("grid_origin", True), ("grid_origin_soft_constraint", False)):
            if given[name] is not None:
                vec = C.py_index_vector(name, given[name], IMPLICIT)
                add(name, lambda v=vec, h=hard: self._set_origin_annotated(v, h))
        for name, usage in (("chunk", None), ("write_chunk", WRITE), ("read_chunk", READ), ("codec_chunk", CODEC)):
            grid = given[name]
            if grid is None:
                continue
            if not isinstance(grid, Grid):
                raise TypeError(f"Invalid {name}")
            if usage is None:
                add(name, lambda g=grid: self._set_unspecified_grid(g._rank, g._data, True))
            else:
                add(name, lambda g=grid, u=usage: self._set_grid(u, g._rank, g._data, True))
        # The reference binds codec_chunk_shape and codec_chunk_aspect_ratio to the read chunk;
        # kept for identical behaviour.
        targets = {"chunk": (WRITE, READ), "write_chunk": (WRITE,), "read_chunk": (READ,), "codec_chunk": (READ,)}
        for prefix, usages in targets.items():
            for suffix, hard in (("", True), ("_soft_constraint", False)):
                name = f"{prefix}_shape{suffix}"
                if given[name] is not None:
                    vec = C.py_index_vector(name, given[name], 0)
                    add(name, lambda v=vec, h=hard, us=usages: self._for_usages(self._set_shape_annotated, us, v, h))
        targets["chunk"] = (WRITE, READ, CODEC)
        for prefix, usages in targets.items():
            for suffix, hard in (("", True), ("_soft_constraint", False)):
                name = f"{prefix}_aspect_ratio{suffix}"
                if given[name] is not None:
                    vec = C.py_double_vector(name, given[name])
                    add(name, lambda v=vec, h=hard, us=usages: self._for_usages(self._set_aspect_annotated, us, v, h))
        targets = {"chunk": (WRITE, READ), "write_chunk": (WRITE,), "read_chunk": (READ,), "codec_chunk": (CODEC,)}
        for prefix, usages in targets.items():
            for suffix, hard in (("", True), ("_soft_constraint", False)):
                name = f"{prefix}_elements{suffix}"
                if given[name] is not None:
                    value = C.py_index(name, given[name])
                    add(name, lambda v=value, h=hard, us=usages: self._for_usages(self._set_elements_annotated, us, v, h))
        if finalize:
            add("finalize", self._finalize)
        for name, fn in steps:
            try:
                fn()
            except StatusError as exc:
                raise _kwarg_error(name, exc) from None

    # ------------------------------------------------------------------ properties

    @property
    def rank(self) -> int:
        """Number of dimensions, or -1 if unspecified."""
        return self._rank

    @property
    def ndim(self) -> int:
        """Alias of `rank`."""
        return self._rank

    @property
    def inner_order(self) -> Optional[tuple]:
        """Hard constraint on the storage order within a chunk (outermost dimension first)."""
        if self._inner_order is not None and self._inner_order_hard:
            return tuple(self._inner_order)
        return None

    @property
    def inner_order_soft_constraint(self) -> Optional[tuple]:
        """Preferred storage order within a chunk, when only a soft constraint is set."""
        if self._inner_order is not None and not self._inner_order_hard:
            return tuple(self._inner_order)
        # A rank-0 layout reports an empty soft order in the reference.
        return () if self._rank == 0 else None

    @property
    def grid_origin(self) -> Optional[tuple]:
        """Hard constraints on the chunk grid origin (None where unconstrained)."""
        if self._rank < 0:
            return None
        return tuple(v if h and v != IMPLICIT else None for v, h in zip(self._origin, self._origin_hard))

    @property
    def grid_origin_soft_constraint(self) -> Optional[tuple]:
        """Soft constraints on the chunk grid origin."""
        if self._rank < 0:
            return None
        return tuple(v if not h and v != IMPLICIT else None for v, h in zip(self._origin, self._origin_hard))

    def _grid_view(self, usage: int) -> _Grid:
        # Rank-0 grids carry no per-dimension data, and the reference reports their rank as None.
        return Grid._from_data(self._rank if self._rank > 0 else -1, self._grids[usage])

    @property
    def write_chunk(self) -> _Grid:
        """Constraints on the write chunks (the unit of atomic writes)."""
        return self._grid_view(WRITE)

    @property
    def read_chunk(self) -> _Grid:
        """Constraints on the read chunks (the unit of reads and caching)."""
        return self._grid_view(READ)

    @property
    def codec_chunk(self) -> _Grid:
        """Constraints on the codec chunks (the unit of compression inside a chunk)."""
        return self._grid_view(CODEC)

    def _template(self, usage: int):
        from .. import index as _index

        if self._rank < 0:
            raise invalid_argument("Rank of chunk layout is unspecified")
        g = self._grids[usage]
        lo: list[int] = []
        hi: list[int] = []
        for dim in range(self._rank):
            origin, size = self._origin[dim], g.shape[dim]
            if not (self._origin_hard[dim] and origin != IMPLICIT and g.shape_hard[dim] and size != 0):
                lo.append(-C.INF_INDEX)
                hi.append(C.INF_INDEX + 1)
                continue
            if not C.valid_sized(origin, size):
                raise invalid_argument(
                    f"Incompatible grid origin/chunk shape for dimension {dim}: ({origin}, {size}) "
                    "do not specify a valid sized index interval"
                )
            lo.append(origin)
            hi.append(origin + size)
        return _index.IndexDomain(inclusive_min=lo, exclusive_max=hi)

    @property
    def write_chunk_template(self):
        """The `IndexDomain` of the write chunk at the grid origin (hard constraints only)."""
        return self._template(WRITE)

    @property
    def read_chunk_template(self):
        """The `IndexDomain` of the read chunk at the grid origin (hard constraints only)."""
        return self._template(READ)

    # ------------------------------------------------------------------ comparison, repr

    def _hard_state(self) -> tuple:
        return (
            self._inner_order_hard if self._inner_order is not None else False,
            tuple((g.elements, g.elements_hard) for g in self._grids),
            frozenset(i for i, h in enumerate(self._origin_hard) if h),
            tuple(g.hard_sets() for g in self._grids),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChunkLayout):
            return NotImplemented
        if not self._has_storage or not other._has_storage:
            return self._has_storage == other._has_storage
        if self._hard_state() != other._hard_state():
            return False
        rank = self._rank
        if rank <= 0 or rank != other._rank:
            return self._rank_dependent_unset() and other._rank_dependent_unset()
        return (
            self._inner_order == other._inner_order
            and self._origin == other._origin
            and all(a.shape == b.shape and a.aspect == b.aspect for a, b in zip(self._grids, other._grids))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # The reference lays the JSON out as if it started at column 0, ignoring the prefix.
        return "ChunkLayout(" + pretty_repr(self.to_json()) + ")"

    def __reduce__(self):
        return (ChunkLayout, (self.to_json(),))


def chunk_layout_from_json(j: Any) -> ChunkLayout:
    """`ChunkLayout(j)` for callers that hold JSON (a `ChunkLayout` passes through as a copy)."""
    if isinstance(j, ChunkLayout):
        return j.copy()
    expect_object(j)
    return ChunkLayout(j)


def make_chunk_layout(
    grid_origin: Sequence[int],
    inner_order: Sequence[int],
    write_chunk_shape: Sequence[int],
    read_chunk_shape: Optional[Sequence[int]] = None,
    codec_chunk_shape: Optional[Sequence[int]] = None,
) -> ChunkLayout:
    """The precise (finalized) layout of an existing array, as drivers report `store.chunk_layout`.

    All values are hard constraints; `read_chunk_shape` defaults to the write chunk shape.
    (Use this rather than the ``codec_chunk_shape`` keyword, which the reference binds to the
    read chunk.)
    """
    layout = ChunkLayout()
    layout._set_origin(list(grid_origin), True)
    layout._set_inner_order(list(inner_order), True)
    layout._set_shape(WRITE, list(write_chunk_shape), True)
    layout._set_shape(READ, list(read_chunk_shape if read_chunk_shape is not None else write_chunk_shape), True)
    if codec_chunk_shape is not None:
        layout._set_shape(CODEC, list(codec_chunk_shape), True)
    layout._finalize()
    return layout
