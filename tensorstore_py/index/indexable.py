"""`Indexable`: the indexing surface shared by IndexTransform, IndexDomain, Spec and TensorStore.

A subclass supplies its current transform and a way to rebuild itself with a new one; the mixin
turns NumPy-style keys, ``.oindex``/``.vindex``, dimension expressions and the shorthand
operations (``.T``, ``.label[...]``, ``.translate_to[...]`` ...) into that new transform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:
    from .domain import IndexDomain
    from .transform import IndexTransform

__all__ = ["Indexable"]


class _Helper:
    """``obj.oindex[...]`` / ``obj.label[...]``: a bound object waiting for its subscript."""

    __slots__ = ("_obj", "_fn")

    __iter__ = None  # subscriptable, not iterable (as TensorStore): iter() raises TypeError

    def __init__(self, obj: "Indexable", fn):
        self._obj = obj
        self._fn = fn

    def __getitem__(self, key: Any) -> Any:
        return self._fn(self._obj, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        # ``store.vindex[...] = v``: objects that can be written say how (TensorStore writes).
        assign = getattr(self._obj, "_indexable_assign", None)
        if assign is None:
            raise TypeError(f"'{type(self._obj).__name__}' indexing helper does not support item assignment")
        assign(self._fn(self._obj, key), value)


def _whole_selection_op(op: str):
    """A shorthand op (``x.label[...]``) applied to all dimensions, as ``x[ts.d[:].op[...]]``."""

    def apply(obj: "Indexable", key: Any) -> Any:
        from .dim_expression import d as _d

        expr = getattr(_d[:], op)[key]
        return obj._indexable_with_transform(expr._apply_to(obj._indexable_transform(), index_errors=False))

    return apply


_late_names: tuple = ()


def _load_late_names() -> tuple:
    # These modules import this one: looked up once, on first use, not on every `[]`.
    global _late_names
    from .dim_expression import DimExpression
    from .domain import IndexDomain
    from .numpy_indexing import apply_numpy_key
    from .transform import IndexTransform, compose, slice_by_domain

    _late_names = (DimExpression, IndexDomain, IndexTransform, apply_numpy_key, compose, slice_by_domain)
    return _late_names


class Indexable:
    """Mixin: NumPy-style indexing and dimension-expression shorthands over a transform."""

    __slots__ = ()

    # Subscriptable but not iterable, as TensorStore (IndexDomain iterates over its dims).
    __iter__ = None

    # Subclass hooks.
    def _indexable_transform(self) -> "IndexTransform":
        raise NotImplementedError

    def _indexable_with_transform(self, t: "IndexTransform") -> Any:
        raise NotImplementedError

    def _indexable_resolve(self, key: Any, mode: str = "default") -> "IndexTransform":
        """The transform `self[key]` would have (mode: "default", "oindex" or "vindex")."""
        DimExpression, IndexDomain, IndexTransform, apply_numpy_key, compose, slice_by_domain = _late_names or _load_late_names()
        t = self._indexable_transform()
        if mode == "default":
            if isinstance(key, IndexTransform):
                return compose(t, key, python_errors=True)
            if isinstance(key, IndexDomain):
                return slice_by_domain(t, key, python_errors=True)
            if isinstance(key, DimExpression):
                return key._apply_to(t)
        return apply_numpy_key(t, key, mode)

    def __getitem__(self, key: Any) -> Any:
        return self._indexable_with_transform(self._indexable_resolve(key, "default"))

    @property
    def oindex(self) -> _Helper:
        """Outer indexing: each index array selects along its own dimension."""
        return _Helper(self, lambda obj, key: obj._indexable_with_transform(obj._indexable_resolve(key, "oindex")))

    @property
    def vindex(self) -> _Helper:
        """Vectorized indexing: index arrays broadcast together; their dims come first."""
        return _Helper(self, lambda obj, key: obj._indexable_with_transform(obj._indexable_resolve(key, "vindex")))

    @property
    def label(self) -> _Helper:
        return _Helper(self, _whole_selection_op("label"))

    @property
    def translate_to(self) -> _Helper:
        return _Helper(self, _whole_selection_op("translate_to"))

    @property
    def translate_by(self) -> _Helper:
        return _Helper(self, _whole_selection_op("translate_by"))

    @property
    def translate_backward_by(self) -> _Helper:
        return _Helper(self, _whole_selection_op("translate_backward_by"))

    @property
    def mark_bounds_implicit(self) -> _Helper:
        return _Helper(self, _whole_selection_op("mark_bounds_implicit"))

    def transpose(self, axes: Optional[Sequence[Any]] = None) -> Any:
        """Permutes the dimensions (reverses them when `axes` is None)."""
        from .dim_expression import d as _d

        t = self._indexable_transform()
        if axes is None:
            axes = list(range(t.input_rank - 1, -1, -1))
        expr = _d[axes].transpose[:]
        return self._indexable_with_transform(expr._apply_to(t, index_errors=False))

    @property
    def T(self) -> Any:
        """The dimensions in reverse order."""
        return self.transpose()

    # Read-only views of the domain.
    @property
    def domain(self) -> "IndexDomain":
        return self._indexable_transform().domain

    @property
    def rank(self) -> int:
        return self.domain.rank

    @property
    def ndim(self) -> int:
        return self.domain.rank

    @property
    def origin(self) -> tuple[int, ...]:
        return self.domain.origin

    @property
    def shape(self) -> tuple[int, ...]:
        return self.domain.shape

    @property
    def size(self) -> int:
        return self.domain.size

    @property
    def labels(self) -> tuple[str, ...]:
        return self.domain.labels
