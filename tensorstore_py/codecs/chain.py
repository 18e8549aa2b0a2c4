"""The codec chain: array -> array codecs, one array -> bytes codec, bytes -> bytes codecs.

This is how zarr v3 (and TensorStore for every format) models chunk encoding.  A chunk of a
known shape and dtype goes through ``[array->array]* + array->bytes + [bytes->bytes]*`` when it
is encoded and back through the same codecs in reverse when it is decoded.

Two stages:

* `CodecChain` holds the codecs as parsed, possibly with options left open (``None``) when it
  comes from a constraint such as a ``ts.CodecSpec``.  Nothing here knows any JSON dialect: a
  format package (``driver/zarr3/codec_json.py`` ...) builds chains from its own JSON.
* `CodecChain.resolve(shape, dtype, fill_value)` binds the chain to one chunk shape and dtype,
  fills the options that follow from them (blosc typesize and shuffle, byte order of a 1-byte
  type), validates (a permutation of the right rank, a sharding sub-chunk shape that divides the
  chunk ...) and returns a `ResolvedCodecChain` that encodes and decodes.

Codec kinds:

* `ArrayToArrayCodec`: maps the (shape, dtype) it receives on decode side to the one it hands
  to the next codec (`resolve`), and arrays between the two as views where it can
  (`encode_array` / `decode_array`), so a transpose costs nothing until the one copy the array
  -> bytes codec makes anyway.
* `ArrayToBytesCodec`: `resolve` binds it; the bound codec's ``encode(array)`` returns a
  bytes-like object (or ``None``: nothing to store, e.g. a shard whose inner chunks are all fill)
  and ``decode(data, out)`` returns an array of the bound shape, written into ``out`` when given.
* bytes -> bytes: the `Codec` class of `base.py` (blosc, gzip/zlib, zstd, bz2, xz, crc32c).
  ``encode(data, itemsize)`` / ``decode(data, out=None, expected_size=None)``; optional
  ``resolve_for_itemsize(itemsize)`` fills dtype-dependent options and `fixed_size_delta`
  (bytes added, when fixed: crc32c adds 4) tells whether an encoding has a fixed size.

Errors: invalid combinations raise INVALID_ARGUMENT with TensorStore's words; a chain built by a
dialect passes ``describe`` (codec -> its JSON text) so messages can quote the codec as the
dialect spells it.  Corrupt stored bytes raise DATA_LOSS from the codec that noticed.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import StatusError, data_loss, invalid_argument
from .base import Codec, as_byte_view

__all__ = [
    "ArrayToArrayCodec", "ArrayToBytesCodec", "BytesToBytesCodec", "CodecChain",
    "ResolvedCodecChain", "Describe", "bytes_to_bytes_fixed_delta",
]  # fmt: skip

#: Bytes -> bytes codecs are the plain `Codec`s of base.py.
BytesToBytesCodec = Codec

#: How a dialect prints one codec inside an error message.
Describe = Callable[[Any], str]


def _default_describe(codec: Any) -> str:
    return repr(codec)


def format_vector(values: Sequence[int]) -> str:
    """TensorStore's ``{1, 2, 3}`` spelling of an index vector in messages."""
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def bytes_to_bytes_fixed_delta(codec: Codec) -> Optional[int]:
    """Bytes a bytes -> bytes codec adds when that is fixed (crc32c: 4), else ``None``."""
    return getattr(codec, "fixed_size_delta", None)


class ArrayToArrayCodec:
    """A codec that rearranges or converts an array (transpose ...)."""

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype
                ) -> tuple["ArrayToArrayCodec", tuple[int, ...], np.dtype]:
        """(bound codec, encoded shape, encoded dtype) for a decoded array of `shape`/`dtype`."""
        raise NotImplementedError

    def encode_array(self, array: np.ndarray) -> np.ndarray:
        """The encoded form of `array` (a view where possible)."""
        raise NotImplementedError

    def decode_array(self, array: np.ndarray) -> np.ndarray:
        """The decoded form of an encoded `array` (a view where possible)."""
        raise NotImplementedError


class ArrayToBytesCodec:
    """A codec that serialises an array (bytes, sharding_indexed, image formats ...)."""

    #: Set on a bound codec by `resolve`.
    shape: tuple[int, ...] = ()
    dtype: np.dtype = np.dtype("u1")

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any,
                strict: bool, describe: Describe) -> "ArrayToBytesCodec":
        """A copy of this codec bound to arrays of `shape` and `dtype`."""
        raise NotImplementedError

    def encoded_size(self) -> Optional[int]:
        """The size of every encoding of the bound shape, when it is fixed."""
        return None

    def encode(self, array: np.ndarray) -> Any:
        raise NotImplementedError

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        raise NotImplementedError

    def decode_into_from(self, codec: Codec, data: Any, out: Optional[np.ndarray]
                         ) -> Optional[np.ndarray]:
        """Optionally decode the last bytes -> bytes stage straight into the array buffer.

        Returns the decoded array, or ``None`` when this codec cannot take the shortcut (then
        the chain decodes to bytes first and calls `decode`)."""
        return None


class CodecChain:
    """``[array->array]* + array->bytes + [bytes->bytes]*``, as parsed (options may be open).

    `array_to_bytes` may be ``None`` in a constraint; `resolve` then uses the plain little-
    endian ``bytes`` codec, as TensorStore does.
    """

    def __init__(self, array_to_array: Sequence[ArrayToArrayCodec] = (),
                 array_to_bytes: Optional[ArrayToBytesCodec] = None,
                 bytes_to_bytes: Sequence[Codec] = (), describe: Optional[Describe] = None,
                 corrupt_code: Optional[str] = None):
        self.array_to_array = tuple(array_to_array)
        self.array_to_bytes = array_to_bytes
        self.bytes_to_bytes = tuple(bytes_to_bytes)
        self.describe: Describe = describe or _default_describe
        # The status code a dialect reports for undecodable compressed data (zarr3 in
        # TensorStore: FAILED_PRECONDITION); None keeps the codecs' DATA_LOSS.  A failed
        # checksum (a codec with ``keeps_data_loss``) stays DATA_LOSS.
        self.corrupt_code = corrupt_code

    @property
    def codecs(self) -> list[Any]:
        """All codecs in encoding order."""
        middle = [] if self.array_to_bytes is None else [self.array_to_bytes]
        return [*self.array_to_array, *middle, *self.bytes_to_bytes]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.codecs!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodecChain) and self.codecs == other.codecs

    def __hash__(self) -> int:
        return hash(tuple(repr(c) for c in self.codecs))

    def resolve(self, shape: Sequence[int], dtype: Any, fill_value: Any = None, *,
                strict: bool = False) -> "ResolvedCodecChain":
        """Binds the chain to chunks of `shape` and `dtype` (see the module docstring).

        `fill_value` (a scalar of `dtype`; default zero) lets sharding leave out inner chunks
        equal to it.  `strict` is for a chain read from stored metadata: options the stored
        form must carry (a multi-byte type's byte order) are then required rather than
        defaulted.  Raises INVALID_ARGUMENT naming the codec that does not fit.
        """
        from .bytes_codec import BytesCodec  # a leaf module that imports this one

        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        fill = np.zeros((), dtype) if fill_value is None else np.asarray(fill_value, dtype)
        a2a: list[ArrayToArrayCodec] = []
        cur_shape, cur_dtype = shape, dtype
        for codec in self.array_to_array:
            try:
                bound, cur_shape, cur_dtype = codec.resolve(cur_shape, cur_dtype)
            except StatusError as exc:
                raise exc.with_prefix("Error propagating data type and shape through codec "
                                      f"{self.describe(codec)}") from None
            a2a.append(bound)
            if cur_dtype != fill.dtype:
                fill = np.asarray(fill, cur_dtype)
        a2b_spec = self.array_to_bytes if self.array_to_bytes is not None else BytesCodec()
        a2b = a2b_spec.resolve(cur_shape, cur_dtype, fill, strict, self.describe)
        if getattr(a2b_spec, "is_sharding", False) and self.bytes_to_bytes:
            after = ",".join(self.describe(c) for c in self.bytes_to_bytes)
            raise invalid_argument(
                f"Sharding codec {self.describe(a2b_spec)} is not compatible with subsequent "
                f"bytes -> bytes codecs [{after}] that apply to the entire shard.  Instead, "
                "bytes -> bytes codecs may be specified as inner codecs that apply to each "
                "sub-chunk individually.")
        # Checks TensorStore makes only once the whole chain has propagated.
        late_check = getattr(a2b, "late_check", None)
        if late_check is not None:
            late_check()
        # Element size seen by each bytes -> bytes codec: known only right after the array ->
        # bytes codec.
        itemsize: Optional[int] = (None if getattr(a2b, "is_sharding", False)
                                   else cur_dtype.itemsize)
        b2b = []
        for codec in self.bytes_to_bytes:
            missing = codec.open_options() if hasattr(codec, "open_options") else []
            if missing:
                raise invalid_argument(f"Codec {self.describe(codec)} leaves "
                                       f"{', '.join(missing)} unspecified")
            hook = getattr(codec, "resolve_for_itemsize", None)
            try:
                b2b.append(hook(itemsize) if hook is not None else codec)
            except StatusError as exc:
                raise exc.with_prefix("Error resolving codec spec through codec "
                                      f"{self.describe(codec)}") from None
            itemsize = None
        resolved = ResolvedCodecChain(shape, dtype, fill, a2a, a2b, b2b, self.describe)
        resolved.corrupt_code = self.corrupt_code
        return resolved


class ResolvedCodecChain(CodecChain):
    """A chain bound to one chunk shape and dtype: `encode` and `decode` chunks.

    Attributes: `shape` / `dtype` (decoded chunk), `encoded_shape` / `encoded_dtype` (what the
    array -> bytes codec sees), `fill_value` (0-d array of `dtype`).
    """

    array_to_bytes: ArrayToBytesCodec

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, fill_value: np.ndarray,
                 array_to_array: Sequence[ArrayToArrayCodec], array_to_bytes: ArrayToBytesCodec,
                 bytes_to_bytes: Sequence[Codec], describe: Describe):
        super().__init__(array_to_array, array_to_bytes, bytes_to_bytes, describe)
        self.shape = shape
        self.dtype = dtype
        self.fill_value = fill_value
        self.encoded_shape = array_to_bytes.shape
        self.encoded_dtype = array_to_bytes.dtype
        self.decoded_nbytes = math.prod(shape) * dtype.itemsize
        self._itemsize = self.encoded_dtype.itemsize

    def resolve(self, shape: Sequence[int], dtype: Any, fill_value: Any = None, *,
                strict: bool = False) -> "ResolvedCodecChain":
        if tuple(shape) == self.shape and np.dtype(dtype) == self.dtype and fill_value is None:
            return self
        return super().resolve(shape, dtype, fill_value, strict=strict)

    def encoded_size(self) -> Optional[int]:
        """The byte size of every encoded chunk when it is fixed (shard index chains)."""
        size = self.array_to_bytes.encoded_size()
        for codec in self.bytes_to_bytes:
            if size is None:
                return None
            delta = bytes_to_bytes_fixed_delta(codec)
            size = None if delta is None else size + delta
        return size

    def encode(self, array: np.ndarray) -> Any:
        """The stored bytes of one chunk (`array` has the chain's shape; any strides), or
        ``None`` when the array -> bytes codec stores nothing (an all-fill shard)."""
        array = np.asarray(array)
        if array.shape != self.shape:
            raise invalid_argument(f"Chunk of shape {format_vector(array.shape)} given to a "
                                   f"codec chain for shape {format_vector(self.shape)}")
        for codec in self.array_to_array:
            array = codec.encode_array(array)
        data = self.array_to_bytes.encode(array)
        if data is None:
            return None
        for codec in self.bytes_to_bytes:
            data = codec.encode(data, self._itemsize)
        return data

    def encode_view(self, array: np.ndarray) -> Optional[memoryview]:
        """The stored bytes of `array` as a view of its own memory, when no codec changes the
        bytes (no compression, no byte swap, a layout the array already has); else ``None``,
        with nothing encoded."""
        if self.bytes_to_bytes or not hasattr(self.array_to_bytes, "view_of"):
            return None
        array = np.asarray(array)
        if array.shape != self.shape:
            return None
        for codec in self.array_to_array:
            array = codec.encode_array(array)
        return self.array_to_bytes.view_of(array)

    def encode_bytes(self, array: np.ndarray) -> Optional[bytes]:
        """`encode`, as a bytes object that owns its memory: a kvstore may keep it while the
        chunk's buffer is reused, and `encode` returns a view of `array` when no codec
        transforms the elements."""
        data = self.encode(array)
        if isinstance(data, memoryview):
            return bytes(data)
        return data

    def decode(self, data: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The chunk stored as `data`, as an array of the chain's shape and dtype.

        With `out` (an array of that shape and dtype, any strides) the result is written into it
        and `out` is returned; otherwise the result may be a read-only view of `data`.
        Corrupt data raises DATA_LOSS.
        """
        if out is not None and (out.shape != self.shape or out.dtype.itemsize != self.dtype.itemsize):
            raise invalid_argument(f"Output array of shape {format_vector(out.shape)} does not "
                                   f"match the chunk shape {format_vector(self.shape)}")
        target = out
        if target is not None:
            for codec in self.array_to_array:
                target = codec.encode_array(target)
        stages = self.bytes_to_bytes
        arr = None
        if stages:
            codec = stages[-1]
            try:
                for codec in reversed(stages[1:]):
                    data = codec.decode(data)
                codec = stages[0]
                arr = self.array_to_bytes.decode_into_from(codec, data, target)
                if arr is None:
                    # A known size lets the codec decode in one shot (libdeflate) and bounds it.
                    data = codec.decode(data, expected_size=self.array_to_bytes.encoded_size())
            except StatusError as exc:
                raise self._recode(codec, exc) from None
        if arr is None:
            arr = self.array_to_bytes.decode(data, target)
        if out is not None:
            return out
        for codec in reversed(self.array_to_array):
            arr = codec.decode_array(arr)
        return arr

    def _recode(self, codec: Codec, exc: StatusError) -> StatusError:
        if (self.corrupt_code is None or exc.code != "DATA_LOSS"
                or getattr(codec, "keeps_data_loss", False)):
            return exc
        return StatusError(self.corrupt_code, exc.message)


def as_bytes_view(data: Any) -> memoryview:
    """`data` as a flat byte memoryview (re-exported for codec modules)."""
    return as_byte_view(data)


def truncated(what: str, need: int, have: int) -> StatusError:
    return data_loss(f"{what}: expected {need} bytes, but received {have} bytes")
