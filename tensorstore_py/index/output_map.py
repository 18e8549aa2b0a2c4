"""Output index maps: ``ts.OutputIndexMap``, ``ts.OutputIndexMaps`` and ``ts.OutputIndexMethod``.

An output index map computes one output coordinate from an input index vector:
constant (``offset``), single input dimension (``offset + stride * in[d]``) or index array
(``offset + stride * bounded(index_range, array(in))``).
"""

from __future__ import annotations

import enum
import operator
from typing import Any, Iterator, Optional

import numpy as np

from .interval import INF_INDEX, Dim, format_plain_interval

__all__ = ["OutputIndexMethod", "OutputIndexMap", "OutputIndexMaps", "format_array"]


class OutputIndexMethod(enum.IntEnum):
    """How an output index map computes its coordinate."""

    constant = 0
    single_input_dimension = 1
    array = 2

    def __str__(self) -> str:
        return f"OutputIndexMethod.{self.name}"


_UNBOUNDED = (-INF_INDEX, INF_INDEX)

_SIGNATURES = """__init__(): incompatible constructor arguments. The following argument types are supported:
    1. tensorstore.OutputIndexMap(offset: typing.SupportsInt | typing.SupportsIndex = 0)
    2. tensorstore.OutputIndexMap(input_dimension: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex = 0, stride: typing.SupportsInt | typing.SupportsIndex = 1)
    3. tensorstore.OutputIndexMap(index_array: numpy.typing.ArrayLike, offset: typing.SupportsInt | typing.SupportsIndex = 0, stride: typing.SupportsInt | typing.SupportsIndex = 1, index_range: tensorstore.Dim = Dim())
"""


def _int_arg(v: Any) -> int:
    if isinstance(v, (float, str)) or v is None:
        raise TypeError
    return operator.index(v)


def as_index_array(v: Any) -> np.ndarray:
    """`v` as an int64 array, refusing non-integer data like TensorStore's binding does."""
    arr = np.asarray(v)
    # An empty nested list comes out as float64; it carries no values, so it is acceptable.
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and not isinstance(v, np.ndarray)):
        raise TypeError
    return arr.astype(np.int64)


class OutputIndexMap:
    """One output index map (constant, single input dimension or index array)."""

    __slots__ = ("_method", "_offset", "_stride", "_dim", "_array", "_range")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for overload in (self._init_constant, self._init_single, self._init_array):
            try:
                overload(*args, **kwargs)
                return
            except TypeError:
                continue
        invoked = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        raise TypeError(_SIGNATURES + "\nInvoked with: " + invoked)

    def _init_constant(self, offset: Any = 0) -> None:
        self._assign(OutputIndexMethod.constant, _int_arg(offset), 0, -1, None, _UNBOUNDED)

    def _init_single(self, input_dimension: Any, offset: Any = 0, stride: Any = 1) -> None:
        self._assign(OutputIndexMethod.single_input_dimension, _int_arg(offset), _int_arg(stride),
                     _int_arg(input_dimension), None, _UNBOUNDED)  # fmt: skip

    def _init_array(self, index_array: Any, offset: Any = 0, stride: Any = 1, index_range: Any = None) -> None:
        if index_range is None:
            rng = _UNBOUNDED
        elif isinstance(index_range, Dim):
            rng = (index_range.inclusive_min, index_range.inclusive_max)
        else:
            raise TypeError
        arr = as_index_array(index_array)
        arr.setflags(write=False)
        self._assign(OutputIndexMethod.array, _int_arg(offset), _int_arg(stride), -1, arr, rng)

    def _assign(self, method, offset, stride, dim, array, rng) -> None:
        self._method, self._offset, self._stride, self._dim, self._array, self._range = (
            method, offset, stride, dim, array, rng)  # fmt: skip

    @classmethod
    def _make(cls, method: OutputIndexMethod, offset: int = 0, stride: int = 0, dim: int = -1,
              array: Optional[np.ndarray] = None, rng: tuple = _UNBOUNDED) -> "OutputIndexMap":  # fmt: skip
        m = cls.__new__(cls)
        if array is not None and array.flags.writeable:
            array = array.copy()
            array.setflags(write=False)
        m._assign(method, int(offset), int(stride), int(dim), array, rng)
        return m

    @classmethod
    def constant(cls, offset: int) -> "OutputIndexMap":
        return cls._make(OutputIndexMethod.constant, offset)

    @classmethod
    def single(cls, dim: int, offset: int = 0, stride: int = 1) -> "OutputIndexMap":
        return cls._make(OutputIndexMethod.single_input_dimension, offset, stride, dim)

    @classmethod
    def from_array(cls, array: np.ndarray, offset: int = 0, stride: int = 1, rng: tuple = _UNBOUNDED) -> "OutputIndexMap":
        return cls._make(OutputIndexMethod.array, offset, stride, -1, array, rng)

    @property
    def method(self) -> OutputIndexMethod:
        return self._method

    @property
    def offset(self) -> int:
        return self._offset

    @property
    def stride(self) -> Optional[int]:
        """Stride (None for a constant map)."""
        return None if self._method == OutputIndexMethod.constant else self._stride

    @property
    def input_dimension(self) -> Optional[int]:
        return self._dim if self._method == OutputIndexMethod.single_input_dimension else None

    @property
    def index_array(self) -> Optional[np.ndarray]:
        """The index array (int64; size 1 along the input dimensions it does not depend on)."""
        return self._array if self._method == OutputIndexMethod.array else None

    @property
    def index_range(self) -> Optional[Dim]:
        if self._method != OutputIndexMethod.array:
            return None
        return Dim._make(self._range[0], self._range[1], False, False, "")

    # Internal accessors used by the algebra (no None checks).
    @property
    def _lo(self) -> int:
        return self._range[0]

    @property
    def _hi(self) -> int:
        return self._range[1]

    def _key(self) -> tuple:
        if self._method == OutputIndexMethod.constant:
            return (0, self._offset)
        if self._method == OutputIndexMethod.single_input_dimension:
            return (1, self._offset, self._stride, self._dim)
        return (2, self._offset, self._stride, self._range, self._array.shape, self._array.tobytes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutputIndexMap):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._method == OutputIndexMethod.constant:
            return f"OutputIndexMap(offset={self._offset})"
        if self._method == OutputIndexMethod.single_input_dimension:
            return f"OutputIndexMap(offset={self._offset}, stride={self._stride}, input_dimension={self._dim})"
        return (
            f"OutputIndexMap(offset={self._offset}, stride={self._stride}, index_array={format_array(self._array)}, "
            f"index_range={format_plain_interval(*self._range)})"
        )

    def __reduce__(self):
        return (OutputIndexMap._make, (self._method, self._offset, self._stride, self._dim, self._array, self._range))


def format_array(a: np.ndarray) -> str:
    """Nested-brace rendering (``{{1, 2}, {3, 4}}``) as TensorStore prints arrays."""
    if a.ndim == 0:
        return str(int(a))
    if a.ndim == 1:
        return "{" + ", ".join(str(int(x)) for x in a) + "}"
    return "{" + ", ".join(format_array(x) for x in a) + "}"


class OutputIndexMaps:
    """The output index maps of a transform, as a read-only sequence."""

    __slots__ = ("_maps",)

    def __init__(self, maps: tuple):
        self._maps = tuple(maps)

    @property
    def rank(self) -> int:
        return len(self._maps)

    def __len__(self) -> int:
        return len(self._maps)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return list(self._maps[i])
        i = operator.index(i)
        n = len(self._maps)
        if not -n <= i < n:
            raise IndexError(f"Output dimension {i} is outside valid range [{-n}, {n})")
        return self._maps[i]

    def __iter__(self) -> Iterator[OutputIndexMap]:
        return iter(self._maps)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OutputIndexMaps):
            return self._maps == other._maps
        if isinstance(other, (list, tuple)):
            return list(self._maps) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "[" + ", ".join(repr(m) for m in self._maps) + "]"
