"""`ts.Unit`: a physical quantity (multiplier x base unit) per index step, and dimension units.

A unit is written ``"4nm"`` (multiplier 4, base unit ``nm``), ``"nm"`` (multiplier 1), a bare
number (dimension-less), a ``(multiplier, base_unit)`` pair, or as JSON ``[4, "nm"]``.
"""

from __future__ import annotations

import json as _json
import math
import re

import numpy as np
from typing import Any, Optional, Sequence, Union

from ..errors import invalid_argument
from ..json_util import MISSING, dumps, position_error
from ._constraints import format_number, json_number_text

__all__ = ["Unit", "UnitLike", "parse_unit_json", "normalize_dimension_units", "dimension_units_to_json",
           "parse_dimension_units_json", "merge_dimension_units"]  # fmt: skip

# A leading decimal number (sign, digits with optional point, optional exponent), as the
# reference accepts it: no hex, no inf/nan, and an exponent only when it has digits.
_LEADING_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _split(text: str) -> tuple[float, str]:
    text = text.strip()
    m = _LEADING_NUMBER.match(text)
    if m is None:
        return 1.0, text
    return float(m.group(0)), text[m.end() :].strip()


def _as_multiplier(x: Any) -> float:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError
    if hasattr(x, "__float__"):
        return float(x)
    return float(x.__index__())


class Unit:
    """A physical unit: ``multiplier`` times ``base_unit`` (e.g. ``Unit(4, "nm")``)."""

    __slots__ = ("_multiplier", "_base_unit")

    def __init__(self, *args: Any, json: Any = MISSING, **kwargs: Any) -> None:
        if json is not MISSING:
            if args or kwargs:
                raise TypeError("Unit(json=...) takes no other arguments")
            self._multiplier, self._base_unit = _parse_json(json)
            return
        names = ("multiplier", "base_unit")
        if "unit" in kwargs:
            if args or len(kwargs) > 1:
                raise TypeError("Unit(unit=...) takes no other arguments")
            args = (kwargs.pop("unit"),)
        for name in names[len(args):]:
            if name in kwargs:
                args = args + (kwargs.pop(name),)
        if kwargs or len(args) > 2:
            raise TypeError(f"Unit() got unexpected arguments: {sorted(kwargs) or args}")
        try:
            self._multiplier, self._base_unit = _from_python(*args)
        except (TypeError, AttributeError, ValueError):
            raise TypeError(f"Unit(): incompatible constructor arguments: {args!r}") from None

    @property
    def multiplier(self) -> float:
        """The numeric factor."""
        return self._multiplier

    @property
    def base_unit(self) -> str:
        """The base unit symbol (``""`` for a dimension-less quantity)."""
        return self._base_unit

    def to_json(self) -> list:
        """``[multiplier, base_unit]``."""
        return [self._multiplier, self._base_unit]

    def __mul__(self, multiplier: Union[float, int]) -> "Unit":
        try:
            factor = _as_multiplier(multiplier)
        except (TypeError, AttributeError):
            return NotImplemented
        return _make(self._multiplier * factor, self._base_unit)

    def __truediv__(self, divisor: Union[float, int]) -> "Unit":
        try:
            d = _as_multiplier(divisor)
        except (TypeError, AttributeError):
            return NotImplemented
        # Hardware IEEE division as in the reference: 4nm / 0 is inf nm, 0 / 0 is -nan.
        with np.errstate(all="ignore"):
            q = float(np.float64(self._multiplier) / np.float64(d))
        return _make(q, self._base_unit)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Unit):
            return NotImplemented
        return self._multiplier == other._multiplier and self._base_unit == other._base_unit

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        if self._base_unit == "":
            return format_number(self._multiplier)
        if self._multiplier == 1:
            return self._base_unit
        return f"{format_number(self._multiplier)} {self._base_unit}"

    def __repr__(self) -> str:
        return f"Unit({format_number(self._multiplier)}, {_json.dumps(self._base_unit, ensure_ascii=False)})"

    def __reduce__(self):
        return (Unit, (self._multiplier, self._base_unit))


def _make(multiplier: float, base_unit: str) -> Unit:
    u = Unit.__new__(Unit)
    u._multiplier = float(multiplier)
    u._base_unit = base_unit
    return u


def _from_python(*args: Any) -> tuple[float, str]:
    if not args:
        return 1.0, ""
    if len(args) == 2:
        if not isinstance(args[1], str):
            raise TypeError
        return _as_multiplier(args[0]), args[1]
    (value,) = args
    if isinstance(value, Unit):
        return value._multiplier, value._base_unit
    if isinstance(value, str):
        return _split(value)
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not isinstance(value[1], str):
            raise TypeError
        return _as_multiplier(value[0]), value[1]
    return _as_multiplier(value), ""


def _parse_json(j: Any) -> tuple[float, str]:
    if isinstance(j, str):
        return _split(j)
    if isinstance(j, (int, float)) and not isinstance(j, bool):
        return float(j), ""
    if not isinstance(j, (list, tuple)):
        raise invalid_argument(f"Expected array, but received: {dumps(j)}")
    if len(j) != 2:
        raise invalid_argument(f"Array has length {len(j)} but should have length 2")
    m, b = j
    if isinstance(m, bool) or not isinstance(m, (int, float)):
        raise position_error(0, invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(m)}"))
    if not (math.isfinite(m) and m > 0):
        shown = json_number_text(float(m))
        raise position_error(0, invalid_argument(f"Expected finite positive number, but received: {shown}"))
    if not isinstance(b, str):
        raise position_error(1, invalid_argument(f"Expected string, but received: {dumps(b)}"))
    return float(m), b


UnitLike = Union[Unit, str, float, int, tuple]


def parse_unit_json(j: Any) -> Unit:
    """A `Unit` from its JSON form (string, number or ``[multiplier, base_unit]``)."""
    return _make(*_parse_json(j))


def unit_from_python(value: Any) -> Unit:
    """A `Unit` from any Python form the reference accepts (TypeError otherwise)."""
    return _make(*_from_python(value))


# ---------------------------------------------------------------------------------------------
# Dimension units: one Optional[Unit] per dimension.


def normalize_dimension_units(values: Any, name: str = "dimension_units") -> list[Optional[Unit]]:
    """Python keyword value (iterable of Unit | str | number | (m, unit) | None) to units."""
    try:
        items = list(values)
        return [None if v is None else unit_from_python(v) for v in items]
    except (TypeError, AttributeError, ValueError):
        raise TypeError(f"Invalid {name}") from None


def parse_dimension_units_json(j: Any) -> list[Optional[Unit]]:
    if not isinstance(j, (list, tuple)):
        raise invalid_argument(f"Expected array, but received: {dumps(j)}")
    out: list[Optional[Unit]] = []
    for i, item in enumerate(j):
        if item is None:
            out.append(None)
            continue
        try:
            out.append(parse_unit_json(item))
        except ValueError as exc:
            raise position_error(i, exc) from None
    return out


def dimension_units_to_json(units: Sequence[Optional[Unit]]) -> list:
    return [None if u is None else u.to_json() for u in units]


def _units_text(units: Sequence[Optional[Unit]]) -> str:
    return "[" + ", ".join("null" if u is None else _json.dumps(str(u), ensure_ascii=False) for u in units) + "]"


def merge_dimension_units(existing: Sequence[Optional[Unit]], new: Sequence[Optional[Unit]]) -> list[Optional[Unit]]:
    """Per-dimension merge: a known unit fills an unknown one; two known units must agree."""
    out = list(existing)
    for i, (a, b) in enumerate(zip(existing, new)):
        if a is not None and b is not None and a != b:
            raise invalid_argument(
                f"Cannot merge dimension units {_units_text(new)} and {_units_text(existing)}"
            )
        if a is None:
            out[i] = b
    return out
