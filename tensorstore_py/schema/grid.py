"""`ts.ChunkLayout.Grid`: constraints on one chunk grid (shape, aspect ratio, element count).

`_GridData` is the storage shared with `ChunkLayout`, which holds one per usage.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from ..errors import StatusError
from ..json_util import MISSING, ObjectReader, member_error
from . import _constraints as C
from ._constraints import ASPECT_RATIO, IMPLICIT, SHAPE

__all__ = ["Grid"]


def _kwarg_error(name: str, exc: BaseException) -> BaseException:
    """Python-level keyword errors read ``Invalid <keyword>: <message>``."""
    if isinstance(exc, StatusError):
        return exc.with_prefix(f"Invalid {name}")
    return exc


class _GridData:
    """Shape, aspect ratio and element-count constraints of one chunk grid (rank-sized lists)."""

    __slots__ = ("shape", "shape_hard", "aspect", "aspect_hard", "elements", "elements_hard")

    def __init__(self, rank: int) -> None:
        self.elements = IMPLICIT
        self.elements_hard = False
        self.resize(rank)

    def resize(self, rank: int) -> None:
        n = max(rank, 0)
        self.shape = [0] * n
        self.shape_hard = [False] * n
        self.aspect = [0.0] * n
        self.aspect_hard = [False] * n

    def copy(self) -> "_GridData":
        g = _GridData.__new__(_GridData)
        g.shape, g.shape_hard = list(self.shape), list(self.shape_hard)
        g.aspect, g.aspect_hard = list(self.aspect), list(self.aspect_hard)
        g.elements, g.elements_hard = self.elements, self.elements_hard
        return g

    def clear_hard(self) -> None:
        self.shape_hard = [False] * len(self.shape)
        self.aspect_hard = [False] * len(self.aspect)
        self.elements_hard = False

    def vectors_unset(self) -> bool:
        return all(v == 0 for v in self.shape) and all(v == 0 for v in self.aspect)

    def unset(self) -> bool:
        return self.vectors_unset() and self.elements == IMPLICIT

    def hard_sets(self) -> tuple:
        return (
            frozenset(i for i, h in enumerate(self.shape_hard) if h),
            frozenset(i for i, h in enumerate(self.aspect_hard) if h),
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        for key, values, hard, default in (
            ("aspect_ratio", self.aspect, self.aspect_hard, 0.0),
            ("shape", self.shape, self.shape_hard, 0),
        ):
            for suffix, want in (("", True), ("_soft_constraint", False)):
                picked = [v if (h == want and v != default) else None for v, h in zip(values, hard)]
                if any(v is not None for v in picked):
                    out[key + suffix] = picked
        if self.elements != IMPLICIT:
            out["elements" if self.elements_hard else "elements_soft_constraint"] = self.elements
        return {k: out[k] for k in sorted(out)}

    def picked(self, which: str, hard: bool) -> Optional[tuple]:
        values, flags, default = (
            (self.shape, self.shape_hard, 0) if which == "shape" else (self.aspect, self.aspect_hard, 0.0)
        )
        return tuple(v if (h == hard and v != default) else None for v, h in zip(values, flags))


def _parse_grid_json(j: Any, set_shape, set_aspect, set_elements) -> None:
    """Feeds the members of a Grid JSON object to the given setters, in TensorStore's order."""
    r = ObjectReader(j)
    for name, hard in (("shape", True), ("shape_soft_constraint", False)):
        values = r.get(name, lambda x: C.json_vector(x, C.json_int64, 0), None)
        if values is not None:
            try:
                set_shape(values, hard)
            except ValueError as exc:
                raise member_error(name, exc) from None
    for name, hard in (("aspect_ratio", True), ("aspect_ratio_soft_constraint", False)):
        values = r.get(name, lambda x: C.json_vector(x, C.json_double, 0.0), None)
        if values is not None:
            try:
                set_aspect(values, hard)
            except ValueError as exc:
                raise member_error(name, exc) from None
    for name, hard in (("elements", True), ("elements_soft_constraint", False)):
        value = r.get(name, C.json_int64, None)
        if value is not None:
            try:
                set_elements(value, hard)
            except ValueError as exc:
                raise member_error(name, exc) from None
    r.finish()


class Grid:
    """Constraints on one chunk grid: per-dimension shape and aspect ratio, and an element count.

    Constructed from keyword arguments (``shape``, ``aspect_ratio``, ``elements``, each with a
    ``*_soft_constraint`` twin, ``rank``, and whole grids ``grid``/``grid_soft_constraint``) or
    from its JSON representation with ``json=``.
    """

    __slots__ = ("_rank", "_data")

    def __init__(self, *args: Any, json: Any = MISSING, **kwargs: Any) -> None:
        self._rank = -1
        self._data = _GridData(-1)
        if args:
            if len(args) > 1 or json is not MISSING:
                raise TypeError("ChunkLayout.Grid() takes at most one positional argument (json)")
            json = args[0]
        if json is not MISSING:
            if kwargs:
                raise TypeError("ChunkLayout.Grid(json=...) takes no other arguments")
            _parse_grid_json(json, self._set_shape, self._set_aspect, self._set_elements)
            return
        self.update(**kwargs)

    # -- internal setters (raise StatusError without keyword annotation) --

    def _set_rank(self, rank: int) -> None:
        if rank == -1 or rank == self._rank:
            return
        C.validate_rank(rank)
        if self._rank != -1:
            raise C.rank_mismatch(rank, self._rank)
        self._rank = rank
        self._data.resize(rank)

    def _set_shape(self, values: Sequence[int], hard: bool | Sequence[bool]) -> None:
        if not values:
            return
        self._set_rank(len(values))
        C.merge_vector(SHAPE, values, hard, self._data.shape, self._data.shape_hard)

    def _set_aspect(self, values: Sequence[float], hard: bool | Sequence[bool]) -> None:
        if not values:
            return
        self._set_rank(len(values))
        C.merge_vector(ASPECT_RATIO, values, hard, self._data.aspect, self._data.aspect_hard)

    def _set_elements(self, value: int, hard: bool) -> None:
        if value == IMPLICIT:
            return
        d = self._data
        d.elements, d.elements_hard = C.merge_elements(d.elements, d.elements_hard, value, hard)

    def _merge_grid(self, other: "Grid", hard: bool) -> None:
        o = other._data
        if other._rank > 0:
            self._set_shape(o.shape, o.shape_hard if hard else False)
            self._set_aspect(o.aspect, o.aspect_hard if hard else False)
        self._set_elements(o.elements, o.elements_hard and hard)

    @classmethod
    def _from_data(cls, rank: int, data: _GridData) -> "Grid":
        g = cls.__new__(cls)
        g._rank = rank
        g._data = data.copy()
        return g

    # -- public API --

    def update(
        self,
        *,
        rank: Optional[int] = None,
        shape: Optional[Iterable[Optional[int]]] = None,
        shape_soft_constraint: Optional[Iterable[Optional[int]]] = None,
        aspect_ratio: Optional[Iterable[Optional[float]]] = None,
        aspect_ratio_soft_constraint: Optional[Iterable[Optional[float]]] = None,
        elements: Optional[int] = None,
        elements_soft_constraint: Optional[int] = None,
        grid: Optional["Grid"] = None,
        grid_soft_constraint: Optional["Grid"] = None,
    ) -> None:
        """Merges additional constraints into this grid (same keywords as the constructor)."""
        steps: list[tuple[str, Any, Any]] = []
        if rank is not None:
            steps.append(("rank", C.py_index("rank", rank), lambda v: self._set_rank(v)))
        for name, value, hard in (("shape", shape, True), ("shape_soft_constraint", shape_soft_constraint, False)):
            if value is not None:
                vec = C.py_index_vector(name, value, 0)
                steps.append((name, vec, lambda v, h=hard: self._set_shape(v, h)))
        for name, value, hard in (
            ("aspect_ratio", aspect_ratio, True),
            ("aspect_ratio_soft_constraint", aspect_ratio_soft_constraint, False),
        ):
            if value is not None:
                vec = C.py_double_vector(name, value)
                steps.append((name, vec, lambda v, h=hard: self._set_aspect(v, h)))
        for name, value, hard in (("elements", elements, True), ("elements_soft_constraint", elements_soft_constraint, False)):
            if value is not None:
                steps.append((name, C.py_index(name, value), lambda v, h=hard: self._set_elements(v, h)))
        # The reference merges grid_soft_constraint with its hard constraints intact; so do we.
        for name, value, hard in (("grid", grid, True), ("grid_soft_constraint", grid_soft_constraint, True)):
            if value is not None:
                if not isinstance(value, Grid):
                    raise TypeError(f"Invalid {name}")
                steps.append((name, value, lambda v, h=hard: self._merge_grid(v, h)))
        for name, value, apply in steps:
            try:
                apply(value)
            except StatusError as exc:
                raise _kwarg_error(name, exc) from None

    @property
    def rank(self) -> Optional[int]:
        """Number of dimensions, or None if unspecified."""
        return None if self._rank < 0 else self._rank

    @property
    def ndim(self) -> Optional[int]:
        """Alias of `rank`."""
        return self.rank

    @property
    def shape(self) -> Optional[tuple]:
        """Hard constraints on the chunk size per dimension (None where unconstrained)."""
        return None if self._rank < 0 else self._data.picked("shape", True)

    @property
    def shape_soft_constraint(self) -> Optional[tuple]:
        """Soft constraints on the chunk size per dimension."""
        return None if self._rank < 0 else self._data.picked("shape", False)

    @property
    def aspect_ratio(self) -> Optional[tuple]:
        """Hard constraints on the chunk aspect ratio per dimension."""
        return None if self._rank < 0 else self._data.picked("aspect", True)

    @property
    def aspect_ratio_soft_constraint(self) -> Optional[tuple]:
        """Soft constraints on the chunk aspect ratio per dimension."""
        return None if self._rank < 0 else self._data.picked("aspect", False)

    @property
    def elements(self) -> Optional[int]:
        """Hard constraint on the target number of elements per chunk."""
        d = self._data
        return d.elements if d.elements != IMPLICIT and d.elements_hard else None

    @property
    def elements_soft_constraint(self) -> Optional[int]:
        """Soft constraint on the target number of elements per chunk."""
        d = self._data
        return d.elements if d.elements != IMPLICIT and not d.elements_hard else None

    def to_json(self, include_defaults: bool = False) -> Any:
        """The JSON representation (``{"shape": [...], "elements": ...}``)."""
        return self._data.to_json()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        a, b = self._data, other._data
        return (
            self._rank == other._rank
            and a.elements == b.elements
            and a.elements_hard == b.elements_hard
            and a.hard_sets() == b.hard_sets()
            and a.shape == b.shape
            and a.aspect == b.aspect
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        # JSON loses the rank when nothing rank-sized is set; carry it separately.
        return (_grid_from_state, (self.rank, self.to_json()))


def _grid_from_state(rank: Optional[int], j: Any) -> Grid:
    g = Grid(json=j)
    if rank is not None:
        g._set_rank(rank)
    return g


Grid.__qualname__ = "ChunkLayout.Grid"
