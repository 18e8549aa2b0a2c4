"""Half-open ranges of keys, ordered as byte strings, and the helpers drivers need on them."""

from __future__ import annotations

from .generation import to_bytes

__all__ = [
    "KeyRange", "prefix_successor", "prefix_range", "add_prefix", "contains", "longest_prefix",
    "intersects_prefix", "contains_prefix",
]  # fmt: skip


class KeyRange:
    """Keys ``k`` with ``inclusive_min <= k < exclusive_max``; an empty `exclusive_max` means
    no upper bound."""

    __slots__ = ("_min", "_max")

    def __init__(self, inclusive_min: str | bytes = "", exclusive_max: str | bytes = ""):
        self._min = to_bytes(inclusive_min, "inclusive_min")
        self._max = to_bytes(exclusive_max, "exclusive_max")

    @property
    def inclusive_min(self) -> bytes:
        """Lower bound (inclusive); ``b''`` is the smallest key."""
        return self._min

    @inclusive_min.setter
    def inclusive_min(self, value: str | bytes) -> None:
        self._min = to_bytes(value, "inclusive_min")

    @property
    def exclusive_max(self) -> bytes:
        """Upper bound (exclusive); ``b''`` means unbounded."""
        return self._max

    @exclusive_max.setter
    def exclusive_max(self, value: str | bytes) -> None:
        self._max = to_bytes(value, "exclusive_max")

    @property
    def empty(self) -> bool:
        """True if no key lies in the range."""
        return self._max != b"" and self._min >= self._max

    def copy(self) -> "KeyRange":
        """An independent copy."""
        return KeyRange(self._min, self._max)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyRange):
            raise TypeError(f"cannot compare KvStore.KeyRange with {type(other).__name__}")
        return self._min == other._min and self._max == other._max

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KvStore.KeyRange({self._min!r}, {self._max!r})"

    def __reduce__(self):
        return (KeyRange, (self._min, self._max))


KeyRange.__qualname__ = "KvStore.KeyRange"


def prefix_successor(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (``b''``: none)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b""
    return stripped[:-1] + bytes([stripped[-1] + 1])


def prefix_range(prefix: bytes) -> KeyRange:
    """All keys starting with `prefix`."""
    return KeyRange(prefix, prefix_successor(prefix))


def add_prefix(prefix: bytes, r: KeyRange) -> KeyRange:
    """`r` moved under `prefix` (an unbounded max becomes the end of the prefix)."""
    if not prefix:
        return r.copy()
    upper = prefix + r.exclusive_max if r.exclusive_max else prefix_successor(prefix)
    return KeyRange(prefix + r.inclusive_min, upper)


def contains(r: KeyRange, key: bytes) -> bool:
    return r.inclusive_min <= key and (not r.exclusive_max or key < r.exclusive_max)


def longest_prefix(r: KeyRange) -> bytes:
    """The longest prefix shared by every key of `r`."""
    lo, hi = r.inclusive_min, r.exclusive_max
    if not hi:
        return b""
    n = 0
    while n < len(lo) and n < len(hi) and lo[n] == hi[n]:
        n += 1
    # Every key of [lo, hi) starts with lo[:k] when hi <= successor(lo[:k]); otherwise the
    # common prefix of the two bounds is shared by everything between them.
    for k in range(len(lo), n, -1):
        if prefix_successor(lo[:k]) >= hi:
            return lo[:k]
    return lo[:n]


def intersects_prefix(r: KeyRange, prefix: bytes) -> bool:
    """True if some key starting with `prefix` lies in `r`."""
    if r.exclusive_max and r.exclusive_max <= prefix:
        return False
    succ = prefix_successor(prefix)
    return not succ or r.inclusive_min < succ


def contains_prefix(r: KeyRange, prefix: bytes) -> bool:
    """True if every key starting with `prefix` lies in `r`."""
    if r.inclusive_min > prefix:
        return False
    if not r.exclusive_max:
        return True
    succ = prefix_successor(prefix)
    return bool(succ) and succ <= r.exclusive_max
