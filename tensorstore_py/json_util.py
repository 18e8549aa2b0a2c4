"""JSON parsing helpers with TensorStore's error messages, and TensorStore's pretty printer.

Parsing: every layer validates JSON specs with these so that errors read like TensorStore's,
e.g. ``Error parsing object member "metadata": Error parsing object member "shape": Expected
array, but received: 5``.

Printing: `pretty_repr` lays JSON out as a Python literal the way TensorStore's reprs do
(``TensorStore({...})``, ``Spec({...})``): a value stays on one line if the line fits in 80
columns, otherwise each element goes on its own line, indented by 2, with a trailing comma.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

from .errors import StatusError, invalid_argument

T = TypeVar("T")

__all__ = [
    "dumps", "ObjectReader", "member_error", "expect_object", "expect_array", "expect_int",
    "expect_number", "expect_string", "expect_bool", "parse_array", "pretty_repr",
    "python_repr", "INDEX_MAX", "MISSING", "MAX_JSON_DEPTH", "from_python", "loads",
]  # fmt: skip

#: TensorStore's largest finite index (2**62 - 2); +/- (2**62 - 1) mean infinity.
INDEX_MAX = (1 << 62) - 2
MISSING: Any = object()


#: How deeply JSON values may nest (TensorStore's limit converting Python values to JSON).
#: Everything that walks JSON here recurses, so deeper values are refused where they enter.
MAX_JSON_DEPTH = 100


def from_python(j: Any, message: str = "Recursion limit exceeded converting value to JSON") -> Any:
    """`j` as JSON, converted the way TensorStore converts the Python values it is given: numpy
    scalars become numbers and booleans, numpy arrays nested lists, bytes text.  Plain JSON
    comes back as it is (the same objects, nothing copied), and so do this package's own
    objects, which parsers take in place of their JSON.  Any other type raises TypeError, as in
    TensorStore; containers nested more than `MAX_JSON_DEPTH` deep raise INVALID_ARGUMENT
    with `message`."""
    return _from_python(j, 0, message)


def _from_python(v: Any, depth: int, message: str) -> Any:
    t = type(v)
    if t is str or t is int or t is float or t is bool or v is None:
        return v
    if isinstance(v, (dict, list, tuple)):
        if depth >= MAX_JSON_DEPTH:
            raise invalid_argument(message)
        if isinstance(v, dict):
            out = None
            for k, x in v.items():
                y = _from_python(x, depth + 1, message)
                if y is not x:
                    if out is None:
                        out = dict(v)
                    out[k] = y
            return v if out is None else out
        items = [_from_python(x, depth + 1, message) for x in v]
        if all(a is b for a, b in zip(items, v)):
            return v
        return items if isinstance(v, list) else tuple(items)
    if isinstance(v, bool):  # numpy's bool is not one; a subclass of bool cannot exist
        return v
    if isinstance(v, str):  # subclasses (numpy's str, enums) as the plain values they hold
        return str.__str__(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, (np.generic, np.ndarray)):
        converted = v.tolist() if isinstance(v, np.ndarray) else v.item()
        if isinstance(converted, (complex, bytes, np.generic)) or (converted is not None and not isinstance(
                converted, (str, int, float, list))):
            raise TypeError(f"Object '{t.__name__}' does not support conversion to JSON")
        return _from_python(converted, depth, message)
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if t.__module__.partition(".")[0] == __name__.partition(".")[0]:
        return v  # one of ours (a KvStore, a Spec) where a parser takes it in place of its JSON
    raise TypeError(f"Object '{t.__name__}' does not support conversion to JSON")


def loads(data: Any, **kwargs: Any) -> Any:
    """Stored JSON bytes parsed, or INVALID_ARGUMENT naming what is wrong with them (never a
    RecursionError or UnicodeDecodeError)."""
    try:
        j = json.loads(data, **kwargs)
    except RecursionError:
        raise invalid_argument(f"Invalid JSON: nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if isinstance(exc, StatusError):
            raise
        raise invalid_argument(f"Invalid JSON: {exc}") from None
    return from_python(j, f"Invalid JSON: nested more than {MAX_JSON_DEPTH} levels deep")


def dumps(j: Any) -> str:
    """Compact JSON as TensorStore prints it inside messages (``{"a":1}``).

    Object members come out sorted (TensorStore's JSON objects are ordered maps) and doubles
    as nlohmann::json writes them, which differs from Python only for magnitudes in [1e15, 1e16).
    """
    if isinstance(j, dict):
        return "{" + ",".join(f"{_dumps_key(k)}:{dumps(j[k])}" for k in sorted(j, key=str)) + "}"
    if isinstance(j, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in j) + "]"
    if isinstance(j, float) and math.isfinite(j) and 1e15 <= abs(j) < 1e16:
        return f"{_shortest_mantissa(j)}e+15"
    return json.dumps(j, ensure_ascii=False, allow_nan=True)


_C_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("'"): "\\'", ord("\\"): "\\\\"}


def quote_string(s: str) -> str:
    """A string quoted C-style, as TensorStore quotes strings outside JSON (``"\\xc3\\xa9"``)."""
    out = []
    for b in s.encode("utf-8"):
        if b in _C_ESCAPES:
            out.append(_C_ESCAPES[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"'


def _dumps_key(k: Any) -> str:
    return json.dumps(k if isinstance(k, str) else str(k), ensure_ascii=False)


def _shortest_mantissa(x: float) -> str:
    """The shortest round-tripping digits of `x` as d.ddd (x in [1e15, 1e16))."""
    digits = repr(abs(x)).replace(".", "").rstrip("0") or "0"  # 16 integer digits, maybe a fraction
    sign = "-" if x < 0 else ""
    return sign + (digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}")


def _wrap(prefix: str, exc: BaseException) -> BaseException:
    if isinstance(exc, StatusError):
        return exc.with_prefix(prefix)
    if type(exc) is ValueError:
        return invalid_argument(f"{prefix}: {exc}")
    return exc


def member_error(name: str, exc: BaseException) -> BaseException:
    """`exc` re-raised as an error parsing object member `name`."""
    return _wrap(f'Error parsing object member "{name}"', exc)


def position_error(index: int, exc: BaseException) -> BaseException:
    return _wrap(f"Error parsing value at position {index}", exc)


def expect_object(j: Any) -> dict:
    if not isinstance(j, dict):
        raise invalid_argument(f"Expected object, but received: {dumps(j)}")
    return j


def expect_string(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    return j


def expect_bool(j: Any) -> bool:
    if not isinstance(j, bool):
        raise invalid_argument(f"Expected boolean, but received: {dumps(j)}")
    return j


def expect_int(j: Any, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (JSON number with integral value), optionally within [lo, hi]."""
    value: int | None = None
    if isinstance(j, bool):
        value = None
    elif isinstance(j, int):
        value = j
    elif isinstance(j, float) and math.isfinite(j) and j == int(j):
        value = int(j)
    if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None or hi is not None:
            lo_s = str(lo if lo is not None else -(1 << 63))
            hi_s = str(hi if hi is not None else (1 << 63) - 1)
            raise invalid_argument(f"Expected integer in the range [{lo_s}, {hi_s}], but received: {dumps(j)}")
        raise invalid_argument(f"Expected integer, but received: {dumps(j)}")
    return value


def expect_number(j: Any) -> float:
    if isinstance(j, bool) or not isinstance(j, (int, float)):
        if isinstance(j, str):
            try:
                return float(j)
            except ValueError:
                pass
        raise invalid_argument(f"Expected number, but received: {dumps(j)}")
    return float(j)


def expect_array(j: Any, size: int | None = None) -> list:
    if not isinstance(j, (list, tuple)):
        raise invalid_argument(f"Expected array, but received: {dumps(j)}")
    if size is not None and len(j) != size:
        raise invalid_argument(f"Array has length {len(j)} but should have length {size}")
    return list(j)


def parse_array(j: Any, element: Callable[[Any], T], size: int | None = None) -> list[T]:
    """An array whose elements are parsed by `element`, errors naming the position."""
    items = expect_array(j, size)
    out = []
    for i, item in enumerate(items):
        try:
            out.append(element(item))
        except (ValueError, TypeError) as exc:
            raise position_error(i, exc) from None
    return out


class ObjectReader:
    """Consumes the members of a JSON object, wrapping errors with the member name.

    >>> r = ObjectReader({"a": 1})
    >>> r.get("a", expect_int)
    1
    >>> r.finish()
    """

    def __init__(self, j: Any):
        self._j = expect_object(j)
        self._seen: set[str] = set()

    @property
    def json(self) -> dict:
        return self._j

    def has(self, name: str) -> bool:
        return name in self._j

    def get(self, name: str, parse: Callable[[Any], T] | None = None, default: Any = MISSING) -> Any:
        """The parsed member, or `default` when absent (absent with no default: an error)."""
        j = self._j
        if name not in j:  # (only present members need marking as consumed)
            if default is MISSING:
                raise member_error(name, invalid_argument("Expected member to be present"))
            return default
        self._seen.add(name)
        value = j[name]
        if parse is None:
            return value
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            raise member_error(name, exc) from None

    def skip(self, *names: str) -> None:
        self._seen.update(names)

    def remaining(self) -> dict:
        return {k: v for k, v in self._j.items() if k not in self._seen}

    def finish(self) -> None:
        """Raises if any member was not consumed."""
        extra = [k for k in self._j if k not in self._seen]
        if extra:
            names = ",".join(f'"{k}"' for k in extra)
            raise invalid_argument(f"Object includes extra members: {names}")


# ---------------------------------------------------------------------------------------------
# Pretty printing as a Python literal.


def python_repr(j: Any) -> str:
    """Single-line Python literal for a JSON value (``{'a': [1, 2], 'b': None}``)."""
    if isinstance(j, dict):
        return "{" + ", ".join(f"{python_repr(k)}: {python_repr(v)}" for k, v in j.items()) + "}"
    if isinstance(j, (list, tuple)):
        return "[" + ", ".join(python_repr(v) for v in j) + "]"
    return repr(j)


def pretty_repr(j: Any, prefix: str = "", suffix: str = "", width: int = 80, indent: int = 2) -> str:
    """`prefix` + `j` as an indented Python literal + `suffix`, as TensorStore lays out reprs."""
    # The layout depends on the JSON alone (TensorStore ignores the prefix when measuring), and
    # each nesting level leaves one more column free for its trailing comma.
    out: list[str] = []
    _format(out, j, 0, width, indent)
    return prefix + "".join(out) + suffix


def _current_line_length(out: list[str]) -> int:
    n = 0
    for piece in reversed(out):
        nl = piece.rfind("\n")
        if nl >= 0:
            return n + len(piece) - nl - 1
        n += len(piece)
    return n


def _format(out: list[str], j: Any, cur_indent: int, width: int, indent: int) -> None:
    single = python_repr(j)
    is_container = isinstance(j, (dict, list, tuple)) and len(j) > 0
    if not is_container or _current_line_length(out) + len(single) <= width:
        out.append(single)
        return
    inner = " " * (cur_indent + indent)
    if isinstance(j, dict):
        out.append("{")
        for k, v in j.items():
            out.append("\n" + inner + python_repr(k) + ": ")
            _format(out, v, cur_indent + indent, width - 1, indent)
            out.append(",")
        out.append("\n" + " " * cur_indent + "}")
    else:
        out.append("[")
        for v in j:
            out.append("\n" + inner)
            _format(out, v, cur_indent + indent, width - 1, indent)
            out.append(",")
        out.append("\n" + " " * cur_indent + "]")


def sorted_json(j: Any) -> Any:
    """`j` with every object's members in sorted key order (TensorStore's JSON is ordered)."""
    if isinstance(j, dict):
        return {k: sorted_json(j[k]) for k in sorted(j)}
    if isinstance(j, (list, tuple)):
        return [sorted_json(v) for v in j]
    return j


def iter_members(j: dict, names: Iterable[str]) -> Iterable[tuple[str, Any]]:
    for name in names:
        if name in j:
            yield name, j[name]
