"""Per-dimension hard/soft constraint vectors shared by `ChunkLayout` and `ChunkLayout.Grid`.

A constraint vector holds one value per dimension plus a flag saying whether that value is a
hard constraint.  Each kind of vector (chunk shape, aspect ratio, grid origin) has a value that
means "unconstrained" and its own validity rule; merging follows TensorStore: a new hard value
must agree with an existing hard value, a soft value only fills a dimension that is still
unconstrained, and a hard value always replaces a soft one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..errors import invalid_argument
from ..json_util import dumps

#: TensorStore's "no value" marker for indices (the most negative 64-bit integer).
IMPLICIT = -(1 << 63)
#: +/- this value stands for an unbounded interval endpoint.
INF_INDEX = (1 << 62) - 1
MAX_FINITE_INDEX = INF_INDEX - 1
MAX_RANK = 32
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def format_number(x: Any) -> str:
    """A number as TensorStore's messages print it (doubles with six significant digits)."""
    if isinstance(x, float):
        if math.isnan(x):
            return "-nan" if math.copysign(1.0, x) < 0 else "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        text = "%.6g" % x
        return text
    return str(x)


def json_number_text(x: float) -> str:
    """A double as TensorStore's JSON printer writes it (exponent form from 1e15 up, unlike
    Python's repr, which switches at 1e16); non-finite values print as ``null``."""
    if not math.isfinite(x):
        return "null"
    if not 1e15 <= abs(x) < 1e16:
        return repr(float(x))
    from decimal import Decimal

    sign, digits, exponent = Decimal(repr(float(x))).normalize().as_tuple()
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return ("-" if sign else "") + f"{mantissa}e+{len(text) - 1 + exponent:02d}"


def format_vector(values: Iterable[Any]) -> str:
    """``{a, b, c}``, the way TensorStore prints a span in error messages."""
    return "{" + ", ".join(format_number(v) for v in values) + "}"


@dataclass(frozen=True)
class VectorKind:
    """How one kind of per-dimension constraint behaves."""

    name: str
    default: Any
    is_valid: Callable[[Any], bool]
    #: Values that can only ever be soft constraints (a chunk size of -1 means "the domain size").
    always_soft: Callable[[Any], bool] = lambda x: False


SHAPE = VectorKind(
    "shape", 0, lambda x: x == -1 or 0 <= x <= MAX_FINITE_INDEX, lambda x: x == -1
)
ASPECT_RATIO = VectorKind("aspect_ratio", 0.0, lambda x: math.isfinite(x) and x >= 0)
ORIGIN = VectorKind(
    "grid_origin", IMPLICIT, lambda x: x == IMPLICIT or -MAX_FINITE_INDEX <= x <= MAX_FINITE_INDEX
)


def merge_vector(
    kind: VectorKind,
    values: Sequence[Any],
    hard: bool | Sequence[bool],
    out_values: list,
    out_hard: list[bool],
) -> None:
    """Validates `values` and merges them into `out_values`/`out_hard` (same length).

    Raises INVALID_ARGUMENT without modifying the output when a value is invalid or a hard
    value conflicts with an existing hard value.
    """
    rank = len(values)
    in_hard = [hard] * rank if isinstance(hard, bool) else list(hard)
    for i, x in enumerate(values):
        if not kind.is_valid(x):
            raise invalid_argument(f"Invalid value for dimension {i}: {format_vector(values)}")
        if kind.always_soft(x):
            in_hard[i] = False
    # Every conflict is detected before anything changes, so a failed merge leaves no trace.
    for i, x in enumerate(values):
        if in_hard[i] and out_hard[i] and x != kind.default and out_values[i] != x:
            raise invalid_argument(
                f"New hard constraint ({format_number(x)}) for dimension {i} does not match "
                f"existing hard constraint ({format_number(out_values[i])})"
            )
    for i, x in enumerate(values):
        if x == kind.default:
            continue
        if in_hard[i] or out_values[i] == kind.default:
            out_values[i] = x
            out_hard[i] = out_hard[i] or in_hard[i]


def merge_elements(current: int, current_hard: bool, value: int, hard: bool) -> tuple[int, bool]:
    """The (elements, is_hard) pair after merging a new target element count."""
    if value < 0 or value > MAX_FINITE_INDEX:
        raise invalid_argument(f"Invalid value: {value}")
    if current != IMPLICIT:
        if not hard:
            return current, current_hard
        if current_hard and current != value:
            raise invalid_argument(
                f"New hard constraint ({value}) does not match existing hard constraint ({current})"
            )
    return value, current_hard or hard


def valid_sized(inclusive_min: int, size: int) -> bool:
    """Whether [inclusive_min, inclusive_min + size) is a valid TensorStore interval: its closed
    form [min, max] may not start at +inf nor end at -inf, and must lie within [-inf, +inf]."""
    inclusive_max = inclusive_min + size - 1
    return (
        inclusive_min != INF_INDEX
        and inclusive_max != -INF_INDEX
        and inclusive_max >= inclusive_min - 1
        and inclusive_min >= -INF_INDEX
        and inclusive_max <= INF_INDEX
    )


def rank_mismatch(new_rank: int, existing_rank: int):
    return invalid_argument(f"Rank {new_rank} does not match existing rank {existing_rank}")


def validate_rank(rank: int) -> None:
    if not 0 <= rank <= MAX_RANK:
        raise invalid_argument(f"Rank {rank} is outside valid range [0, {MAX_RANK}]")


def is_valid_permutation(perm: Sequence[int]) -> bool:
    return sorted(perm) == list(range(len(perm)))


# ---------------------------------------------------------------------------------------------
# JSON element parsing with TensorStore's messages.


def json_int64(j: Any) -> int:
    """A JSON 64-bit signed integer (integral doubles accepted, booleans not)."""
    if isinstance(j, bool):
        pass
    elif isinstance(j, int):
        if INT64_MIN <= j <= INT64_MAX:
            return j
    elif isinstance(j, float) and math.isfinite(j) and j == int(j) and INT64_MIN <= j <= INT64_MAX:
        return int(j)
    raise invalid_argument(f"Expected 64-bit signed integer, but received: {dumps(j)}")


def json_double(j: Any) -> float:
    if isinstance(j, bool) or not isinstance(j, (int, float)):
        raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")
    return float(j)


def json_int_in_range(j: Any, lo: int, hi: int) -> int:
    value: int | None = None
    if isinstance(j, bool):
        value = None
    elif isinstance(j, int):
        value = j
    elif isinstance(j, float) and math.isfinite(j) and j == int(j):
        value = int(j)
    if value is None or not lo <= value <= hi:
        raise invalid_argument(f"Expected integer in the range [{lo}, {hi}], but received: {dumps(j)}")
    return value


_NO_NULL: Any = object()


def json_vector(j: Any, element: Callable[[Any], Any], default: Any = _NO_NULL) -> list:
    """A JSON array whose ``null`` elements mean `default` (when one is given)."""
    from ..json_util import expect_array, position_error

    items = expect_array(j)
    if len(items) > MAX_RANK:
        validate_rank(len(items))
    out = []
    for i, item in enumerate(items):
        if item is None and default is not _NO_NULL:
            out.append(default)
            continue
        try:
            out.append(element(item))
        except ValueError as exc:
            raise position_error(i, exc) from None
    return out


def vector_to_json(values: Sequence[Any], default: Any) -> list:
    return [None if v == default else v for v in values]


# ---------------------------------------------------------------------------------------------
# Python keyword argument conversion (pybind11-style: a wrong type is a TypeError).


def _as_index(x: Any) -> int:
    if isinstance(x, float):
        raise TypeError
    value = x.__index__() if not isinstance(x, int) else int(x)
    if not INT64_MIN <= value <= INT64_MAX:
        raise TypeError
    return value


def _as_double(x: Any) -> float:
    if isinstance(x, (str, bytes)):
        raise TypeError
    if hasattr(x, "__float__"):
        return float(x)
    return float(_as_index(x))


def py_index(name: str, value: Any) -> int:
    try:
        return _as_index(value)
    except (TypeError, AttributeError, ValueError):
        raise TypeError(f"Invalid {name}") from None


def py_index_vector(name: str, value: Any, default: Any, allow_none: bool = True) -> list[int]:
    try:
        items = list(value)
        out = []
        for x in items:
            if x is None:
                if not allow_none:
                    raise TypeError
                out.append(default)
            else:
                out.append(_as_index(x))
        return out
    except (TypeError, AttributeError, ValueError):
        raise TypeError(f"Invalid {name}") from None


def py_double_vector(name: str, value: Any) -> list[float]:
    try:
        return [0.0 if x is None else _as_double(x) for x in list(value)]
    except (TypeError, AttributeError, ValueError):
        raise TypeError(f"Invalid {name}") from None
