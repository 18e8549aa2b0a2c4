"""The zarr v3 ``codecs`` JSON dialect, mapped onto the shared classes of `tensorstore_py.codecs`.

Interface for the zarr3 driver:

``parse_zarr3_codecs(j, constraint=False) -> CodecChain``
    Parses a ``codecs`` list.  ``constraint=False`` is stored metadata (``zarr.json``): every
    option the stored form must carry is required (TensorStore's ``<discarded>`` messages) and
    a chain without an array -> bytes codec is refused.  ``constraint=True`` is a spec's
    ``metadata.codecs`` or a ``ts.CodecSpec``'s ``codecs``: options may be left out (kept as
    ``None``) and the array -> bytes codec may be missing.  Errors are INVALID_ARGUMENT,
    relative to the list (``Error parsing value at position 0: ...``); the caller adds
    ``Error parsing object member "codecs": `` and, for stored metadata, turns the code into
    FAILED_PRECONDITION as TensorStore does.

``fill_zarr3_defaults(chain) -> CodecChain``
    What TensorStore fills in for a constraint chain when it creates an array: gzip level 6,
    zstd level 3 without checksum, blosc lz4 / 5 / blocksize 0, sharding's inner chain
    ``[bytes]``, index chain ``[bytes, crc32c]`` and location ``"end"``.

``resolve_zarr3_codecs(chain, shape, dtype, fill_value=None, strict=False)``
    ``chain.resolve`` with TensorStore's zarr3 error wording: use ``strict=True`` for a chain
    from stored metadata (then e.g. a multi-byte type needs an explicit ``endian``).  The
    result is a `ResolvedCodecChain` (``encode(array)`` / ``decode(bytes, out=None)``; when its
    ``array_to_bytes`` is a `ShardingCodec` the shard index API is there).

``zarr3_codecs_json(chain, stored=False) -> list``
    Prints a chain: a resolved chain gives the normalised metadata TensorStore reports (blosc
    typesize/shuffle from the dtype, endian dropped for 1-byte types, the bytes codec made
    explicit); a constraint chain gives only what was specified (``ts.CodecSpec``).
    ``stored=True`` is the ``zarr.json`` form (sharding's default ``index_location`` left
    out).

The same functions handle nested chains (``sharding_indexed`` ``codecs`` / ``index_codecs``).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ...codecs.blosc import AUTOSHUFFLE, BITSHUFFLE, CNAMES, NOSHUFFLE, SHUFFLE, BloscCodec
from ...codecs.bytes_codec import BytesCodec
from ...codecs.chain import ArrayToArrayCodec, ArrayToBytesCodec, CodecChain, ResolvedCodecChain
from ...codecs.crc32c import Crc32cCodec
from ...codecs.deflate import DeflateCodec
from ...codecs.sharding import ShardingCodec
from ...codecs.simple import ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL, ZstdCodec
from ...codecs.transpose import TransposeCodec, is_permutation
from ...errors import StatusError, invalid_argument
from ...json_util import (
    ObjectReader, dumps, expect_array, expect_bool, expect_int, expect_string, member_error,
    position_error,
)  # fmt: skip

__all__ = ["parse_zarr3_codecs", "fill_zarr3_defaults", "resolve_zarr3_codecs",
           "zarr3_codecs_json", "zarr3_codec_json", "describe_zarr3_codec"]

_SHUFFLES = ["noshuffle", "shuffle", "bitshuffle"]
_SHUFFLE_CODES = {"noshuffle": NOSHUFFLE, "shuffle": SHUFFLE, "bitshuffle": BITSHUFFLE}
_SHUFFLE_NAMES = {v: k for k, v in _SHUFFLE_CODES.items()}
# The largest blosc block size TensorStore accepts.
_BLOSC_MAX_BLOCKSIZE = 715827542
_MAX_RANK = 32
_INT64_MAX = (1 << 63) - 1

# TensorStore's zarr3 driver reports undecodable compressed chunks as FAILED_PRECONDITION.
_CORRUPT = "FAILED_PRECONDITION"
_GZIP_DEFAULT_LEVEL = 6
_ZSTD_DEFAULT_LEVEL = 3


def _quoted_choices(choices: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _missing_int(lo: int, hi: int) -> StatusError:
    return invalid_argument(f"Expected integer in the range [{lo}, {hi}], but received: "
                            "<discarded>")


class _Options:
    """Reads one codec's ``configuration`` in constraint or metadata mode."""

    def __init__(self, reader: ObjectReader, constraint: bool):
        self.r = reader
        self.constraint = constraint

    def int(self, name: str, lo: int, hi: int, required: bool = True) -> Optional[int]:
        if not self.r.has(name):
            self.r.skip(name)
            if required and not self.constraint:
                raise member_error(name, _missing_int(lo, hi))
            return None
        return self.r.get(name, lambda v: expect_int(v, lo, hi))

    def bool(self, name: str) -> Optional[bool]:
        return self.r.get(name, expect_bool, None)

    def quoted_choice(self, name: str, choices: Sequence[str], required: bool) -> Optional[str]:
        def parse(v: Any) -> str:
            if not isinstance(v, str) or v not in choices:
                raise invalid_argument(f"Expected one of {_quoted_choices(choices)}, but "
                                       f"received: {dumps(v)}")
            return v

        if not self.r.has(name):
            self.r.skip(name)
            if required and not self.constraint:
                raise member_error(name, invalid_argument(
                    f"Expected one of {_quoted_choices(choices)}, but member is missing"))
            return None
        return self.r.get(name, parse)


# ---------------------------------------------------------------------------------------------
# Parsers, one per codec name.


def _parse_bytes(o: _Options) -> BytesCodec:
    return BytesCodec(o.quoted_choice("endian", ["little", "big"], required=False))


def _parse_order(v: Any) -> Any:
    errors = []
    if isinstance(v, list):
        try:
            order = [0] * len(v)
            for i, item in enumerate(v):
                try:
                    order[i] = expect_int(item, 0, _MAX_RANK - 1)
                except ValueError as exc:
                    raise position_error(i, exc) from None
            if not is_permutation(order):
                raise invalid_argument("{" + ", ".join(map(str, order)) + "} is not a valid "
                                       "permutation")
            return order
        except StatusError as exc:
            errors.append(exc.message)
    else:
        errors.append(f"Expected array, but received: {dumps(v)}")
    if v in ("C", "F"):
        return v
    errors.append(f'Expected one of "C", "F", but received: {dumps(v)}')
    raise invalid_argument("No matching value binder: " + "; ".join(errors))


def _parse_transpose(o: _Options) -> TransposeCodec:
    if not o.r.has("order"):
        raise member_error("order", invalid_argument(
            'No matching value binder: Expected array, but member is missing; Expected one of '
            '"C", "F", but member is missing'))
    return TransposeCodec(o.r.get("order", _parse_order))


def _parse_gzip(o: _Options) -> DeflateCodec:
    codec = DeflateCodec(o.int("level", 0, 9), gzip=True)  # type: ignore[arg-type]
    return codec


def _parse_blosc(o: _Options) -> BloscCodec:
    r = o.r
    if r.has("cname"):
        def cname(v: Any) -> str:
            s = expect_string(v)
            if s not in CNAMES:
                raise invalid_argument(f"Expected one of {','.join(CNAMES)} but received: "
                                       f"{dumps(s)}")
            return s

        name = r.get("cname", cname)
    else:
        r.skip("cname")
        if not o.constraint:
            raise member_error("cname", invalid_argument("Expected string, but member is missing"))
        name = None
    clevel = o.int("clevel", 0, 9)
    shuffle = o.quoted_choice("shuffle", _SHUFFLES, required=True)
    required_typesize = shuffle != "noshuffle"
    typesize = o.int("typesize", 1, 255, required=required_typesize)
    blocksize = o.int("blocksize", 0, _BLOSC_MAX_BLOCKSIZE)
    codec = BloscCodec(name, clevel, None if shuffle is None else _SHUFFLE_CODES[shuffle],  # type: ignore[arg-type]
                       blocksize, None if shuffle == "noshuffle" else typesize)  # type: ignore[arg-type]
    return codec


def _parse_zstd(o: _Options) -> ZstdCodec:
    level = o.int("level", ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL)
    checksum = o.bool("checksum")
    if checksum is None and not o.constraint:
        checksum = False
    return ZstdCodec(level, checksum)  # type: ignore[arg-type]


def _parse_crc32c(o: _Options) -> Crc32cCodec:
    return Crc32cCodec()


def _parse_chunk_shape(v: Any) -> list[int]:
    items = expect_array(v)
    out = []
    for i, item in enumerate(items):
        try:
            out.append(expect_int(item, 1, _INT64_MAX))
        except ValueError as exc:
            raise position_error(i, exc) from None
    return out


def _parse_sharding(o: _Options) -> ShardingCodec:
    r = o.r

    def chain_member(name: str) -> Optional[CodecChain]:
        if not r.has(name):
            r.skip(name)
            if not o.constraint:
                raise member_error(name, invalid_argument("Expected array, but member is missing"))
            return None
        return r.get(name, lambda v: parse_zarr3_codecs(v, constraint=o.constraint))

    if r.has("chunk_shape"):
        chunk_shape = r.get("chunk_shape", _parse_chunk_shape)
    else:
        r.skip("chunk_shape")
        if not o.constraint:
            raise member_error("chunk_shape",
                               invalid_argument("Expected array, but member is missing"))
        chunk_shape = None
    # TensorStore reads the index chain first.
    index = chain_member("index_codecs")
    inner = chain_member("codecs")
    location = o.quoted_choice("index_location", ["start", "end"], required=False)
    if location is None and not o.constraint:
        location = "end"
    return ShardingCodec(chunk_shape, inner, index, location)


_KIND_A2A, _KIND_A2B, _KIND_B2B = "array -> array", "array -> bytes", "bytes -> bytes"

_PARSERS: dict[str, tuple[str, Callable[[_Options], Any]]] = {
    "transpose": (_KIND_A2A, _parse_transpose),
    "bytes": (_KIND_A2B, _parse_bytes),
    "sharding_indexed": (_KIND_A2B, _parse_sharding),
    "gzip": (_KIND_B2B, _parse_gzip),
    "blosc": (_KIND_B2B, _parse_blosc),
    "zstd": (_KIND_B2B, _parse_zstd),
    "crc32c": (_KIND_B2B, _parse_crc32c),
}


def _parse_one(j: Any, constraint: bool) -> tuple[str, Any]:
    if isinstance(j, str) and constraint:
        j = {"name": j}
    reader = ObjectReader(j)
    if not reader.has("name"):
        raise member_error("name", invalid_argument("Expected string, but member is missing"))
    name = reader.get("name", expect_string)
    entry = _PARSERS.get(name)
    if entry is None:
        raise member_error("name", invalid_argument(f"{dumps(name)} is not registered"))
    kind, parse = entry
    config = reader.get("configuration", None, {})
    try:
        options = _Options(ObjectReader(config), constraint)
        codec = parse(options)
        options.r.finish()
    except (ValueError, TypeError) as exc:
        raise member_error("configuration", exc) from None
    reader.finish()
    return kind, codec


def parse_zarr3_codecs(j: Any, constraint: bool = False) -> CodecChain:
    """A zarr v3 ``codecs`` list as a `CodecChain` (see the module docstring)."""
    items = expect_array(j)
    a2a: list[ArrayToArrayCodec] = []
    a2b: Optional[ArrayToBytesCodec] = None
    b2b: list[Any] = []
    for i, item in enumerate(items):
        try:
            kind, codec = _parse_one(item, constraint)
        except (ValueError, TypeError) as exc:
            raise position_error(i, exc) from None
        if kind == _KIND_A2A and a2b is None and not b2b:
            a2a.append(codec)
        elif kind == _KIND_A2B and a2b is None and not b2b:
            a2b = codec
        elif kind == _KIND_B2B:
            b2b.append(codec)
        else:
            raise invalid_argument("Expected bytes -> bytes codec, but received: "
                                   f"{describe_zarr3_codec(codec)}")
    if a2b is None and not constraint:
        raise invalid_argument("array -> bytes codec must be specified")
    return CodecChain(a2a, a2b, b2b, describe=describe_zarr3_codec, corrupt_code=_CORRUPT)


# ---------------------------------------------------------------------------------------------
# Defaults and resolution.


def _default_index_chain() -> CodecChain:
    return CodecChain([], BytesCodec("little"), [Crc32cCodec()], describe=describe_zarr3_codec,
                      corrupt_code=_CORRUPT)


def fill_zarr3_defaults(chain: CodecChain) -> CodecChain:
    """The chain with TensorStore's zarr3 defaults for every option left open.

    Error messages of the result still quote each codec as it was specified."""
    origins: dict[int, Any] = {}
    filled = _fill(chain, origins)
    _set_describe(filled, lambda c: describe_zarr3_codec(origins.get(id(c), c)))
    # Keep the originals alive while their ids are keys.
    filled._origins = origins  # type: ignore[attr-defined]
    return filled


def _set_describe(chain: CodecChain, describe: Callable[[Any], str]) -> None:
    chain.describe = describe
    a2b = chain.array_to_bytes
    if isinstance(a2b, ShardingCodec):
        for sub in (a2b.codecs, a2b.index_codecs):
            if sub is not None:
                _set_describe(sub, describe)


def _fill(chain: CodecChain, origins: dict[int, Any]) -> CodecChain:

    def b2b_default(c: Any) -> Any:
        if isinstance(c, DeflateCodec):
            return DeflateCodec(_GZIP_DEFAULT_LEVEL if c.level is None else c.level, gzip=True)
        if isinstance(c, ZstdCodec):
            return ZstdCodec(_ZSTD_DEFAULT_LEVEL if c.level is None else c.level,
                             bool(c.checksum))
        if isinstance(c, BloscCodec):
            return BloscCodec("lz4" if c.cname is None else c.cname,
                              5 if c.clevel is None else c.clevel,
                              AUTOSHUFFLE if c.shuffle is None else c.shuffle,
                              0 if c.blocksize is None else c.blocksize, c.typesize)
        return c

    def remember(new: Any, old: Any) -> Any:
        if new is not old:
            origins[id(new)] = old
        return new

    a2b = chain.array_to_bytes
    if isinstance(a2b, ShardingCodec):
        inner = _fill(a2b.codecs, origins) if a2b.codecs is not None else CodecChain(
            describe=describe_zarr3_codec, corrupt_code=_CORRUPT)
        index = (_fill(a2b.index_codecs, origins) if a2b.index_codecs is not None
                 else _default_index_chain())
        a2b = remember(ShardingCodec(a2b.chunk_shape, inner, index, a2b.index_location or "end"),
                       a2b)
    b2b = [remember(b2b_default(c), c) for c in chain.bytes_to_bytes]
    return CodecChain(chain.array_to_array, a2b, b2b, describe=describe_zarr3_codec,
                      corrupt_code=_CORRUPT)


def resolve_zarr3_codecs(chain: CodecChain, shape: Sequence[int], dtype: Any,
                         fill_value: Any = None, strict: bool = False) -> ResolvedCodecChain:
    """Resolves `chain` for chunks of `shape`/`dtype` with TensorStore's zarr3 messages."""
    if getattr(chain, "_origins", None) is None:
        _set_describe(chain, describe_zarr3_codec)
    chain.corrupt_code = _CORRUPT
    try:
        resolved = chain.resolve(shape, dtype, fill_value, strict=strict)
    except StatusError as exc:
        if strict and exc.message.startswith("Error propagating data type and shape through"):
            rest = exc.message[len("Error propagating data type and shape through"):]
            raise type(exc)(exc.code, "Error resolving codec spec through" + rest) from None
        raise
    return resolved


# ---------------------------------------------------------------------------------------------
# Printing.


def _configuration(name: str, config: dict) -> dict:
    if not config:
        return {"name": name}
    return {"configuration": {k: config[k] for k in sorted(config)}, "name": name}


def zarr3_codec_json(codec: Any, stored: bool = False) -> dict:
    """One codec as zarr3 JSON (members of a constraint that are open are left out)."""
    if isinstance(codec, TransposeCodec):
        order = codec.order if isinstance(codec.order, str) else list(codec.order)
        return _configuration("transpose", {"order": order})
    if isinstance(codec, BytesCodec):
        return _configuration("bytes", {} if codec.endian is None else {"endian": codec.endian})
    if isinstance(codec, ShardingCodec):
        config: dict[str, Any] = {}
        if codec.chunk_shape is not None:
            config["chunk_shape"] = list(codec.chunk_shape)
        if codec.codecs is not None:
            config["codecs"] = zarr3_codecs_json(_resolved_inner(codec, "inner"), stored)
        if codec.index_codecs is not None:
            config["index_codecs"] = zarr3_codecs_json(_resolved_inner(codec, "index_chain"),
                                                       stored)
        if codec.index_location is not None and not (stored and codec.index_location == "end"):
            config["index_location"] = codec.index_location
        return _configuration("sharding_indexed", config)
    if isinstance(codec, Crc32cCodec):
        return {"name": "crc32c"}
    if isinstance(codec, ZstdCodec):
        config = {}
        if codec.level is not None:
            config["level"] = codec.level
        if codec.checksum is not None:
            config["checksum"] = bool(codec.checksum)
        return _configuration("zstd", config)
    if isinstance(codec, DeflateCodec) and codec.gzip:
        return _configuration("gzip", {} if codec.level is None else {"level": codec.level})
    if isinstance(codec, BloscCodec):
        config = {}
        if codec.cname is not None:
            config["cname"] = codec.cname
        if codec.clevel is not None:
            config["clevel"] = codec.clevel
        if codec.shuffle is not None and codec.shuffle != AUTOSHUFFLE:
            config["shuffle"] = _SHUFFLE_NAMES[codec.shuffle]
        if codec.typesize is not None and codec.shuffle != NOSHUFFLE:
            config["typesize"] = codec.typesize
        if codec.blocksize is not None:
            config["blocksize"] = codec.blocksize
        return _configuration("blosc", config)
    raise invalid_argument(f"{type(codec).__name__} has no zarr3 representation")


def _resolved_inner(codec: ShardingCodec, attr: str) -> CodecChain:
    """A bound sharding codec prints its resolved inner chains (defaults made explicit)."""
    bound = getattr(codec, attr, None)
    if bound is not None:
        return bound
    return codec.codecs if attr == "inner" else codec.index_codecs  # type: ignore[return-value]


def zarr3_codecs_json(chain: CodecChain, stored: bool = False) -> list:
    """A chain as a zarr3 ``codecs`` list (see the module docstring)."""
    return [zarr3_codec_json(c, stored) for c in chain.codecs]


def describe_zarr3_codec(codec: Any) -> str:
    """A codec's compact JSON text, as TensorStore quotes it in messages."""
    try:
        # Quoted as stored: a default "end" index location is left out.
        return dumps(zarr3_codec_json(codec, stored=True))
    except (ValueError, TypeError):
        return repr(codec)
