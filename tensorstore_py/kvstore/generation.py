"""Storage generations, timestamped generations and read results.

A generation is an opaque byte string naming one version of one key's value, encoded as
TensorStore 0.1.86 does: a tag byte, then the driver's base generation bytes.

- `UNKNOWN` (``b""``): no condition / unknown version.
- `NO_VALUE` (``b"\\x02"``): the key is absent; as ``if_equal`` it means "only if absent".
- `INVALID` (``b"\\x10"``): matches nothing.
- A clean base generation is ``b"\\x00" + payload``: the memory driver uses a little-endian
  64-bit counter (`from_uint64`), the file driver device, inode and mtime (`from_values`).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Literal

__all__ = [
    "UNKNOWN", "NO_VALUE", "INVALID", "from_uint64", "from_values", "from_string",
    "is_clean_value", "TimestampedStorageGeneration", "ReadResult", "to_bytes",
]  # fmt: skip

UNKNOWN = b""
NO_VALUE = b"\x02"
INVALID = b"\x10"

_TAG_BASE = b"\x00"


def from_uint64(n: int) -> bytes:
    """Base generation holding a 64-bit counter (the memory driver's)."""
    return _TAG_BASE + struct.pack("<Q", n & 0xFFFFFFFFFFFFFFFF)


def from_values(*values: int) -> bytes:
    """Base generation holding 64-bit integers back to back (the file driver's dev/ino/mtime)."""
    return _TAG_BASE + struct.pack(f"<{len(values)}Q", *(v & 0xFFFFFFFFFFFFFFFF for v in values))


def from_string(s: bytes) -> bytes:
    """Base generation holding an arbitrary string (e.g. an HTTP ETag)."""
    return _TAG_BASE + s


def is_clean_value(g: bytes) -> bool:
    """True for a stored value's generation (not unknown, absent or invalid)."""
    return len(g) > 0 and g[0] == 0


def to_bytes(value: Any, what: str = "value") -> bytes:
    """str (UTF-8) or bytes, as the Python API accepts for keys, values and generations."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


# ---------------------------------------------------------------------------------------------


def _time_value(t: Any) -> float:
    if type(t) is float and _EXACT_TIMES_MIN <= t < _EXACT_TIMES_MAX:
        return t  # (every clock reading of these years: see `_EXACT_TIMES_MIN`)
    try:
        v = float(t)
    except (TypeError, ValueError):
        raise TypeError(f"time must be a real number, not {type(t).__name__}") from None
    # absl::Time saturates: NaN and out-of-range values become the infinite future/past.
    if math.isnan(v) or v >= 2.0**63:
        return math.inf
    if v < -(2.0**63):
        return -math.inf
    # absl::Time keeps quarter nanoseconds, rounding half away from zero.
    magnitude = abs(v)
    whole = math.trunc(magnitude)
    ticks = math.floor((magnitude - whole) * 4e9 + 0.5)
    quantized = float(whole) + ticks / 4e9
    return (-quantized if v < 0 else quantized) + 0.0


#: From 2**22 seconds on, a double's spacing exceeds twice the quarter nanosecond absl::Time
#: keeps, so the rounding below gives back the same double: such times are kept as they are.
_EXACT_TIMES_MIN = float(2**22)
_EXACT_TIMES_MAX = 2.0**63


def format_time(t: float) -> str:
    if math.isinf(t):
        return "inf" if t > 0 else "-inf"
    return f"{t:.6f}"


class TimestampedStorageGeneration:
    """A generation together with the time (seconds since the epoch) at which it was current."""

    __slots__ = ("_generation", "_time")

    def __init__(self, generation: str | bytes = "", time: float = -math.inf):
        self._generation = to_bytes(generation, "generation")
        self._time = _time_value(time)

    @property
    def generation(self) -> bytes:
        """Version identifier; ``b''`` means unspecified."""
        return self._generation

    @generation.setter
    def generation(self, value: str | bytes) -> None:
        self._generation = to_bytes(value, "generation")

    @property
    def time(self) -> float:
        """Time at which `generation` was known to be current."""
        return self._time

    @time.setter
    def time(self, value: float) -> None:
        self._time = _time_value(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimestampedStorageGeneration):
            return NotImplemented
        return self._generation == other._generation and self._time == other._time

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KvStore.TimestampedStorageGeneration({self._generation!r}, {format_time(self._time)})"

    def __reduce__(self):
        return (TimestampedStorageGeneration, (self._generation, self._time))

    @classmethod
    def _make(cls, generation: bytes, time: float) -> "TimestampedStorageGeneration":
        """A stamp from parts already checked (a kvstore's own generation and clock reading)."""
        stamp = object.__new__(cls)
        stamp._generation, stamp._time = generation, time
        return stamp


TimestampedStorageGeneration.__qualname__ = "KvStore.TimestampedStorageGeneration"

_DEFAULT_STAMP: Any = object()

ReadState = Literal["unspecified", "missing", "value"]
_STATES = ("unspecified", "missing", "value")


class ReadResult:
    """Outcome of a read: `state` says whether `value` holds the key's bytes.

    ``'value'``: the key exists and `value` is (the requested part of) it; ``'missing'``: the key
    does not exist; ``'unspecified'``: a condition (``if_not_equal``) skipped the read.
    """

    __slots__ = ("_state", "_value", "_stamp")

    def __init__(
        self,
        state: ReadState = "unspecified",
        value: str | bytes = "",
        stamp: TimestampedStorageGeneration = _DEFAULT_STAMP,
    ):
        self.state = state
        self.value = value
        self.stamp = TimestampedStorageGeneration() if stamp is _DEFAULT_STAMP else stamp

    @property
    def state(self) -> ReadState:
        return self._state  # type: ignore[return-value]

    @state.setter
    def state(self, value: ReadState) -> None:
        if value not in _STATES:
            raise TypeError(f"state must be one of {_STATES}, not {value!r}")
        self._state = value

    @property
    def value(self) -> bytes:
        return self._value

    @value.setter
    def value(self, value: str | bytes) -> None:
        self._value = to_bytes(value)

    @property
    def stamp(self) -> TimestampedStorageGeneration:
        return self._stamp

    @stamp.setter
    def stamp(self, value: TimestampedStorageGeneration) -> None:
        if not isinstance(value, TimestampedStorageGeneration):
            raise TypeError("stamp must be a KvStore.TimestampedStorageGeneration")
        self._stamp = value

    @classmethod
    def _make(cls, state: ReadState, value: bytes, stamp: TimestampedStorageGeneration) -> "ReadResult":
        """A result from parts already checked (a kvstore's own bytes and stamp)."""
        result = object.__new__(cls)
        result._state, result._value, result._stamp = state, value, stamp
        return result

    def __repr__(self) -> str:
        return f"KvStore.ReadResult(state={self._state!r}, value={self._value!r}, stamp={self._stamp!r})"

    def __reduce__(self):
        return (ReadResult, (self._state, self._value, self._stamp))


ReadResult.__qualname__ = "KvStore.ReadResult"
