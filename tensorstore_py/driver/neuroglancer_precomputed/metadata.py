"""The precomputed `info` file and the spec's `multiscale_metadata` / `scale_metadata` members.

`MultiscaleMetadata` is a parsed `info` (unknown members are kept and written back);
`OpenConstraints` is what a spec says about it (`scale_index`, `multiscale_metadata`,
`scale_metadata`), used to pick a scale on open and to build a new scale on create.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from ... import dtypes
from ...errors import failed_precondition, invalid_argument
from ...json_util import ObjectReader, dumps, expect_int, expect_number, expect_string, parse_array
from .sharding import ShardingSpec, compressed_z_index_bits, missing_enum, missing_int, need, parse_sharding

__all__ = [
    "ScaleMetadata", "MultiscaleMetadata", "ScaleConstraints", "MultiscaleConstraints", "OpenConstraints",
    "parse_info", "SUPPORTED_DTYPES", "ENCODINGS", "validate_encoding_dtype", "resolve_scale_key",
]  # fmt: skip

SUPPORTED_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "uint64", "float32")
ENCODINGS = ("raw", "png", "jpeg", "compressed_segmentation")
_INF_SIZE = 2**62
_MAX_INDEX = 2**62 - 2
_TYPE_ID = "neuroglancer_multiscale_volume"


def _encoding(j: Any) -> str:
    if not isinstance(j, str) or j not in ENCODINGS:
        choices = ", ".join(dumps(e) for e in ENCODINGS)
        raise invalid_argument(f"Expected one of {choices}, but received: {dumps(j)}")
    return j


def _vec3_int(lo: int, hi: int):
    return lambda j: parse_array(j, lambda v: expect_int(v, lo, hi), 3)


def _vec3_float(j: Any) -> list[float]:
    return [float(v) for v in parse_array(j, expect_number, 3)]


def _sharding_member(j: Any) -> ShardingSpec | None:
    return None if j is None else parse_sharding(j)


def check_dtype(name: str) -> None:
    if name not in SUPPORTED_DTYPES:
        raise invalid_argument(
            f"{name} data type is not one of the supported data types: {', '.join(SUPPORTED_DTYPES)}"
        )


def validate_encoding_dtype(encoding: str, dtype: str | None, num_channels: int | None) -> None:
    """INVALID_ARGUMENT when `encoding` cannot store `dtype` / `num_channels` channels."""
    if encoding == "compressed_segmentation":
        if dtype is not None and dtype not in ("uint32", "uint64"):
            raise invalid_argument(f"compressed_segmentation encoding only supported for uint32 and uint64, not for {dtype}")
    elif encoding == "jpeg":
        if dtype is not None and dtype != "uint8":
            raise invalid_argument(f'"jpeg" encoding only supported for uint8, not for {dtype}')
        if num_channels is not None and num_channels not in (1, 3):
            raise invalid_argument(f'"jpeg" encoding only supports 1 or 3 channels, not {num_channels}')
    elif encoding == "png":
        if dtype is not None and dtype not in ("uint8", "uint16"):
            raise invalid_argument(f'"png" encoding only supported for uint8 and uint16, not for {dtype}')
        if num_channels is not None and not 1 <= num_channels <= 4:
            raise invalid_argument(f'"png" encoding only supports 1 to 4 channels, not {num_channels}')


def _check_bounds(origin: list[int], shape: list[int]) -> None:
    for o, s in zip(origin, shape):
        if not (-_MAX_INDEX <= o and o + s <= _MAX_INDEX + 1 and s < _INF_SIZE):
            raise invalid_argument(
                f'"size" of {dumps(shape)} and "voxel_offset" of {dumps(origin)} do not specify a valid region'
            )


def _check_sharded_chunk_size(chunk_size: list[int], shape: list[int], sharding: ShardingSpec | None) -> None:
    if sharding is None:
        return
    if sum(compressed_z_index_bits(shape, chunk_size)) > 64:
        raise invalid_argument(
            f'"size" of {dumps(shape)} with "chunk_size" of {dumps(chunk_size)} is not compatible with sharded '
            "format because the chunk keys would exceed 64 bits"
        )


@dataclasses.dataclass
class ScaleMetadata:
    """One entry of `info["scales"]`."""

    key: str = ""
    size: list[int] = dataclasses.field(default_factory=lambda: [0, 0, 0])
    voxel_offset: list[int] = dataclasses.field(default_factory=lambda: [0, 0, 0])
    chunk_sizes: list[list[int]] = dataclasses.field(default_factory=list)
    encoding: str = "raw"
    jpeg_quality: int = 75
    png_level: int | None = None
    compressed_segmentation_block_size: list[int] | None = None
    resolution: list[float] = dataclasses.field(default_factory=lambda: [1.0, 1.0, 1.0])
    sharding: ShardingSpec | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, j: Any) -> "ScaleMetadata":
        r = ObjectReader(j)
        self = cls()
        self.key = need(r, "key", expect_string, "Expected string, but member is missing")
        self.resolution = need(r, "resolution", _vec3_float, "Expected array, but member is missing")
        self.sharding = r.get("sharding", _sharding_member, None)
        self.encoding = need(r, "encoding", _encoding, missing_enum(ENCODINGS))
        _parse_encoding_members_existing(r, self)
        self.size = need(r, "size", _vec3_int(0, _INF_SIZE - 1), "Expected array, but member is missing")
        self.voxel_offset = r.get("voxel_offset", _vec3_int(-_MAX_INDEX, _MAX_INDEX), [0, 0, 0])
        self.chunk_sizes = need(r, "chunk_sizes", lambda v: parse_array(v, _vec3_int(1, _INF_SIZE - 1)), "Expected array, but member is missing")
        self.extra = r.remaining()
        if not self.chunk_sizes:
            raise invalid_argument("At least one chunk size must be specified")
        if self.sharding is not None and len(self.chunk_sizes) != 1:
            raise invalid_argument("Sharded format does not support more than one chunk size")
        for c in self.chunk_sizes:
            _check_sharded_chunk_size(c, self.size, self.sharding)
        _check_bounds(self.voxel_offset, self.size)
        if self.encoding == "compressed_segmentation" and self.compressed_segmentation_block_size is None:
            raise invalid_argument('Error parsing object member "compressed_segmentation_block_size": Expected array, but member is missing')
        return self

    def to_json(self) -> dict:
        j: dict[str, Any] = dict(copy.deepcopy(self.extra))
        j.update(
            {
                "chunk_sizes": [list(c) for c in self.chunk_sizes],
                "encoding": self.encoding,
                "key": self.key,
                "resolution": list(self.resolution),
                "size": list(self.size),
                "voxel_offset": list(self.voxel_offset),
            }
        )
        self._encoding_json(j)
        if self.sharding is not None:
            j["sharding"] = self.sharding.to_json()
        return {k: j[k] for k in sorted(j)}

    def _encoding_json(self, j: dict) -> None:
        if self.encoding == "jpeg":
            j["jpeg_quality"] = self.jpeg_quality
        if self.encoding == "png" and self.png_level is not None:
            j["png_level"] = self.png_level
        if self.encoding == "compressed_segmentation":
            j["compressed_segmentation_block_size"] = list(self.compressed_segmentation_block_size or [])

    def spec_json(self) -> dict:
        """The scale as the spec's `scale_metadata` member (one `chunk_size`)."""
        j: dict[str, Any] = {
            "chunk_size": list(self.chunk_sizes[0]),
            "encoding": self.encoding,
            "key": self.key,
            "resolution": list(self.resolution),
            "sharding": None if self.sharding is None else self.sharding.to_json(),
            "size": list(self.size),
            "voxel_offset": list(self.voxel_offset),
        }
        self._encoding_json(j)
        return {k: j[k] for k in sorted(j)}


def _parse_encoding_members_existing(r: ObjectReader, target: Any) -> None:
    for name, encoding, parse in (
        ("jpeg_quality", "jpeg", lambda v: expect_int(v, 0, 100)),
        ("png_level", "png", lambda v: expect_int(v, 0, 9)),
        ("compressed_segmentation_block_size", "compressed_segmentation", _vec3_int(1, 2**62)),
    ):
        if not r.has(name):
            r.skip(name)
            continue
        if target.encoding != encoding:
            def fail(_: Any, encoding: str = encoding) -> Any:
                raise invalid_argument(f'Only valid for "{encoding}" encoding')

            r.get(name, fail)
        setattr(target, name, r.get(name, parse))


@dataclasses.dataclass
class MultiscaleMetadata:
    """A parsed `info` file."""

    type: str = "image"
    data_type: str = "uint8"
    num_channels: int = 1
    scales: list[ScaleMetadata] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        j: dict[str, Any] = dict(copy.deepcopy(self.extra))
        j.update(
            {
                "@type": _TYPE_ID,
                "data_type": self.data_type,
                "num_channels": self.num_channels,
                "scales": [s.to_json() for s in self.scales],
                "type": self.type,
            }
        )
        return {k: j[k] for k in sorted(j)}

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.get(self.data_type)


def parse_info(j: Any) -> MultiscaleMetadata:
    r = ObjectReader(j)

    def type_id(v: Any) -> str:
        if v != _TYPE_ID:
            raise invalid_argument(f"Expected {dumps(_TYPE_ID)}, but received: {dumps(v)}")
        return v

    r.get("@type", type_id, None)
    m = MultiscaleMetadata()
    m.type = need(r, "type", expect_string, "Expected string, but member is missing")

    def data_type(v: Any) -> str:
        name = expect_string(v)
        try:
            dtypes.get(name)
        except (ValueError, TypeError):
            raise invalid_argument(f"Unsupported data type: {dumps(v)}") from None
        check_dtype(name)
        return name

    m.data_type = need(r, "data_type", data_type, "Expected string, but member is missing")
    m.num_channels = need(r, "num_channels", lambda v: expect_int(v, 1, 2**31 - 1), missing_int(1, 2**31 - 1))
    m.scales = need(r, "scales", lambda v: parse_array(v, ScaleMetadata.from_json), "Expected array, but member is missing")
    m.extra = r.remaining()
    for s in m.scales:
        validate_encoding_dtype(s.encoding, m.data_type, m.num_channels)
    return m


# ---------------------------------------------------------------------------------------------
# Spec constraints.


@dataclasses.dataclass
class ScaleConstraints:
    key: str | None = None
    resolution: list[float] | None = None
    has_sharding: bool = False
    sharding: ShardingSpec | None = None
    encoding: str | None = None
    jpeg_quality: int | None = None
    png_level: int | None = None
    compressed_segmentation_block_size: list[int] | None = None
    size: list[int] | None = None
    voxel_offset: list[int] | None = None
    chunk_size: list[int] | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, j: Any) -> "ScaleConstraints":
        r = ObjectReader(j)
        self = cls()
        self.key = r.get("key", expect_string, None)
        self.resolution = r.get("resolution", _vec3_float, None)
        if r.has("sharding"):
            self.has_sharding = True
            self.sharding = r.get("sharding", _sharding_member)
        else:
            r.skip("sharding")
        self.encoding = r.get("encoding", _encoding, None)
        _parse_encoding_members_existing(r, self)
        self.size = r.get("size", _vec3_int(0, _INF_SIZE - 1), None)
        if r.has("voxel_offset") and self.size is None:
            r.get("voxel_offset", lambda _: (_ for _ in ()).throw(invalid_argument('cannot be specified without "size"')))
        self.voxel_offset = r.get("voxel_offset", _vec3_int(-_MAX_INDEX, _MAX_INDEX), None)
        if self.size is not None and self.voxel_offset is None:
            self.voxel_offset = [0, 0, 0]
        self.chunk_size = r.get("chunk_size", _vec3_int(1, _INF_SIZE - 1), None)
        self.extra = r.remaining()
        if self.chunk_size is not None and self.sharding is not None and self.size is not None:
            _check_sharded_chunk_size(self.chunk_size, self.size, self.sharding)
        if self.size is not None:
            _check_bounds(self.voxel_offset, self.size)
        return self

    def to_json(self) -> dict:
        j: dict[str, Any] = dict(copy.deepcopy(self.extra))
        if self.key is not None:
            j["key"] = self.key
        if self.resolution is not None:
            j["resolution"] = list(self.resolution)
        if self.has_sharding:
            j["sharding"] = None if self.sharding is None else self.sharding.to_json()
        if self.encoding is not None:
            j["encoding"] = self.encoding
        if self.jpeg_quality is not None:
            j["jpeg_quality"] = self.jpeg_quality
        if self.png_level is not None:
            j["png_level"] = self.png_level
        if self.compressed_segmentation_block_size is not None:
            j["compressed_segmentation_block_size"] = list(self.compressed_segmentation_block_size)
        if self.size is not None:
            j["size"] = list(self.size)
            j["voxel_offset"] = list(self.voxel_offset or [0, 0, 0])
        if self.chunk_size is not None:
            j["chunk_size"] = list(self.chunk_size)
        return {k: j[k] for k in sorted(j)}

    def is_empty(self) -> bool:
        return not self.to_json()


@dataclasses.dataclass
class MultiscaleConstraints:
    type: str | None = None
    data_type: str | None = None
    num_channels: int | None = None

    @classmethod
    def from_json(cls, j: Any) -> "MultiscaleConstraints":
        r = ObjectReader(j)
        self = cls()
        self.type = r.get("type", expect_string, None)

        def data_type(v: Any) -> str:
            name = expect_string(v)
            dtypes.get(name)
            check_dtype(name)
            return name

        self.data_type = r.get("data_type", data_type, None)
        self.num_channels = r.get("num_channels", lambda v: expect_int(v, 1, 2**31 - 1), None)
        r.finish()
        return self

    def to_json(self) -> dict:
        j: dict[str, Any] = {}
        if self.num_channels is not None:
            j["num_channels"] = self.num_channels
        if self.type is not None:
            j["type"] = self.type
        return j


@dataclasses.dataclass
class OpenConstraints:
    scale_index: int | None = None
    multiscale: MultiscaleConstraints = dataclasses.field(default_factory=MultiscaleConstraints)
    scale: ScaleConstraints = dataclasses.field(default_factory=ScaleConstraints)


def mismatch(name: str, expected: Any, actual: Any) -> ValueError:
    return failed_precondition(f"Expected {dumps(name)} of {dumps(expected)} but received: {dumps(actual)}")


def validate_multiscale_for_open(c: MultiscaleConstraints, m: MultiscaleMetadata) -> None:
    if c.data_type is not None and c.data_type != m.data_type:
        raise mismatch("data_type", c.data_type, m.data_type)
    if c.num_channels is not None and c.num_channels != m.num_channels:
        raise mismatch("num_channels", c.num_channels, m.num_channels)
    if c.type is not None and c.type != m.type:
        raise mismatch("type", c.type, m.type)


def validate_scale_for_open(c: ScaleConstraints, s: ScaleMetadata) -> None:
    if c.key is not None and c.key != s.key:
        raise mismatch("key", c.key, s.key)
    if c.encoding is not None and c.encoding != s.encoding:
        raise mismatch("encoding", c.encoding, s.encoding)
    if s.encoding == "jpeg" and c.jpeg_quality is not None and c.jpeg_quality != s.jpeg_quality:
        raise mismatch("jpeg_quality", c.jpeg_quality, s.jpeg_quality)
    if s.encoding == "png" and c.png_level is not None and c.png_level != s.png_level:
        raise mismatch("png_level", c.png_level, s.png_level)
    if (
        s.encoding == "compressed_segmentation"
        and c.compressed_segmentation_block_size is not None
        and c.compressed_segmentation_block_size != s.compressed_segmentation_block_size
    ):
        raise mismatch("compressed_segmentation_block_size", c.compressed_segmentation_block_size, s.compressed_segmentation_block_size)
    if c.resolution is not None and c.resolution != s.resolution:
        raise mismatch("resolution", c.resolution, s.resolution)
    if c.has_sharding and c.sharding != s.sharding:
        raise mismatch(
            "sharding",
            None if c.sharding is None else c.sharding.to_json(),
            None if s.sharding is None else s.sharding.to_json(),
        )
    if c.size is not None:
        if c.size != s.size:
            raise mismatch("size", c.size, s.size)
        if c.voxel_offset != s.voxel_offset:
            raise mismatch("voxel_offset", c.voxel_offset, s.voxel_offset)
    if c.chunk_size is not None and c.chunk_size not in s.chunk_sizes:
        raise mismatch("chunk_size", c.chunk_size, s.chunk_sizes)
    for k, v in c.extra.items():
        if k not in s.extra:
            raise failed_precondition(f"Expected {dumps(k)} of {dumps(v)} but received: null")
        if s.extra[k] != v:
            raise mismatch(k, v, s.extra[k])


def scale_key_from_resolution(resolution: list[float]) -> str:
    return "_".join(_six_digits(r) for r in resolution)


def _six_digits(x: float) -> str:
    s = f"{x:.6g}"
    return s


def resolve_scale_key(prefix: str, scale_key: str) -> str:
    """The kvstore path of a scale: `scale_key` relative to the volume path (".." allowed)."""
    if prefix.endswith("/"):
        prefix = prefix[:-1]
    if not prefix:
        return scale_key
    parts = prefix.split("/")
    for part in scale_key.split("/"):
        if part == ".." and parts:
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
