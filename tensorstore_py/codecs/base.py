"""The `Codec` interface, the JSON registries, and the helpers every codec shares.

A codec turns the bytes of one chunk into stored bytes and back.  Each supported JSON flavour
(the zarr v2 ``compressor`` member, the n5 ``compression`` member) has its own registry that maps
the identifying member (``"id"`` / ``"type"``) to a parser, so adding a codec is one
registration, not another branch.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from ..errors import data_loss, invalid_argument
from ..json_util import ObjectReader, dumps, expect_bool, expect_int, expect_string, member_error, quote_string

__all__ = [
    "Codec", "Registry", "ZARR_COMPRESSORS", "N5_COMPRESSIONS", "as_byte_view", "deliver",
    "int_member", "uint64_member", "bool_member", "choice_member", "required_int_member",
]  # fmt: skip

# The ``Expected integer in the range [lo, hi]`` message needs both ends printed.
_UINT64_MAX = (1 << 64) - 1


class Codec:
    """One chunk compressor with its parameters.

    Subclasses set `kind` (the registry name, e.g. ``"zlib"``) and `id_member` (``"id"`` for
    zarr, ``"type"`` for n5), implement `params`, `encode` and `_decode`.
    """

    kind: ClassVar[str] = ""
    id_member: ClassVar[str] = "id"

    #: Options that may stay ``None`` in a codec ready to run (filled from the data).
    inferred_options: ClassVar[tuple[str, ...]] = ()

    def params(self) -> dict[str, Any]:
        """The parameter members of the normalised JSON (without the identifying member)."""
        return {}

    def open_options(self) -> list[str]:
        """Options still ``None`` (left open by a constraint) that encoding needs."""
        return [k for k, v in vars(self).items()
                if v is None and not k.startswith("_") and k not in self.inferred_options]

    def to_json(self) -> dict[str, Any]:
        """The normalised JSON, members in TensorStore's (sorted) order."""
        j = dict(self.params())
        j[self.id_member] = self.kind
        return {k: j[k] for k in sorted(j)}

    def encode(self, data: Any, itemsize: int = 1) -> bytes:
        """Compresses `data` (any C-contiguous buffer); `itemsize` is the element size in bytes."""
        raise NotImplementedError

    def decode(self, data: Any, out: Any = None, expected_size: int | None = None) -> Any:
        """Decompresses `data`.

        With `out` (a writable C-contiguous buffer) the result is written straight into it and
        the decoded size must equal ``expected_size`` if given, else the size of `out`; the
        return value is then `out` itself (or a memoryview of its first bytes).  Without `out`,
        returns the decoded bytes, checked against `expected_size` when given.  Corrupt input
        raises a DATA_LOSS `StatusError`.
        """
        src = as_byte_view(data)
        if out is not None:
            dst = as_byte_view(out, writable=True)
            size = dst.nbytes if expected_size is None else expected_size
            if size > dst.nbytes:
                raise invalid_argument(
                    f"Output buffer of {dst.nbytes} bytes cannot hold {size} decoded bytes")
            target = dst if size == dst.nbytes else dst[:size]
            self._decode_into(src, target)
            return out if size == dst.nbytes else target
        return self._decode(src, expected_size)

    # Subclasses implement at least `_decode`; `_decode_into` defaults to decode + copy.
    def _decode(self, src: memoryview, expected_size: int | None) -> Any:
        raise NotImplementedError

    def _decode_into(self, src: memoryview, dst: memoryview) -> None:
        decoded = self._decode(src, dst.nbytes)
        dst[:] = decoded

    def __eq__(self, other: object) -> bool:
        # Every option is an attribute, including ones a dialect's JSON does not show.
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), repr(sorted(vars(self).items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dumps(self.to_json())})"


def as_byte_view(data: Any, writable: bool = False) -> memoryview:
    """`data` as a flat unsigned-byte memoryview without copying (copies only if strided)."""
    try:
        view = data if isinstance(data, memoryview) else memoryview(data)
    except (TypeError, ValueError):
        # numpy dtypes without a buffer format (bfloat16, datetime64): view the raw bytes.
        if not isinstance(data, np.ndarray):
            raise
        if not data.flags.c_contiguous:
            if writable:
                raise TypeError("output buffer must be C-contiguous") from None
            data = np.ascontiguousarray(data)
        view = memoryview(data.reshape(-1).view(np.uint8))
    if writable and view.readonly:
        raise TypeError("output buffer is read-only")
    if not view.c_contiguous:
        if writable:
            raise TypeError("output buffer must be C-contiguous")
        view = memoryview(view.tobytes())
    if view.ndim != 1 or view.format != "B":
        if view.nbytes == 0:
            return memoryview(b"") if not writable else memoryview(bytearray())
        view = view.cast("B")
    return view


def deliver(decoded: Any, expected_size: int | None, what: str) -> Any:
    """Checks a decoded result against the size the caller expects."""
    if expected_size is not None and len(decoded) != expected_size:
        raise size_mismatch(len(decoded), expected_size, what)
    return decoded


def size_mismatch(actual: int, expected: int, what: str) -> BaseException:
    return data_loss(f"{what} data decoded to {actual} bytes, but {expected} bytes were expected")


# ---------------------------------------------------------------------------------------------
# Registries.

Parser = Callable[[ObjectReader], Codec]


class Registry:
    """Maps the identifying member of one JSON flavour to codec parsers."""

    def __init__(self, id_member: str):
        self.id_member = id_member
        self._parsers: dict[str, Parser] = {}

    def register(self, kind: str) -> Callable[[type], type]:
        """Class decorator: the class's ``from_members(reader)`` parses JSON of this kind."""

        def wrap(cls: type) -> type:
            cls.kind = kind
            cls.id_member = self.id_member
            self._parsers[kind] = cls.from_members  # type: ignore[attr-defined]
            return cls

        return wrap

    def kinds(self) -> list[str]:
        return sorted(self._parsers)

    def parse(self, j: Any) -> Codec:
        """Parses and validates one codec JSON object (errors as TensorStore words them)."""
        reader = ObjectReader(j)
        if not reader.has(self.id_member):
            raise member_error(self.id_member,
                               invalid_argument("Expected string, but member is missing"))
        kind = reader.get(self.id_member, expect_string)
        parser = self._parsers.get(kind)
        if parser is None:
            raise member_error(self.id_member, invalid_argument(f"{dumps(kind)} is not registered"))
        codec = parser(reader)
        reader.finish()
        return codec


ZARR_COMPRESSORS = Registry("id")
N5_COMPRESSIONS = Registry("type")


# ---------------------------------------------------------------------------------------------
# Member parsers with TensorStore's messages.


def int_member(reader: ObjectReader, name: str, lo: int, hi: int, default: int) -> int:
    return reader.get(name, lambda v: expect_int(v, lo, hi), default)


def required_int_member(reader: ObjectReader, name: str, lo: int, hi: int) -> int:
    """A required integer member; TensorStore reports a missing one as ``<discarded>``."""
    if not reader.has(name):
        raise member_error(name, invalid_argument(
            f"Expected integer in the range [{lo}, {hi}], but received: <discarded>"))
    return int_member(reader, name, lo, hi, 0)


def uint64_member(reader: ObjectReader, name: str, default: int) -> int:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            value = None
        elif isinstance(v, float):
            value = int(v) if v.is_integer() else None
        else:
            value = v
        if value is None or not 0 <= value <= _UINT64_MAX:
            raise invalid_argument(f"Expected 64-bit unsigned integer, but received: {dumps(v)}")
        return value

    return reader.get(name, parse, default)


def bool_member(reader: ObjectReader, name: str, default: bool) -> bool:
    return reader.get(name, expect_bool, default)


def choice_member(reader: ObjectReader, name: str, choices: list[str], default: str | None) -> str:
    """A string member restricted to `choices` (required when `default` is None)."""

    def parse(v: Any) -> str:
        s = expect_string(v)
        if s not in choices:
            raise invalid_argument(f"Expected one of {','.join(choices)}, but received: {quote_string(s)}")
        return s

    if default is None and not reader.has(name):
        raise member_error(name, invalid_argument("Expected string, but member is missing"))
    return reader.get(name, parse, default)
