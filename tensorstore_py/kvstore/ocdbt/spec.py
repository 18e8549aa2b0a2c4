"""The ``ocdbt`` kvstore spec: its JSON members, configuration constraints, versions and URLs.

``{"driver": "ocdbt", "base": ..., "config": {...}, "version": 3}``; the URL form is
``<base>|ocdbt:[@v<generation>/ | @<commit time>/]<path>``.  The base's path always names a
directory (a trailing ``/`` is added), as in TensorStore.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ...context import ResourceProvider, parse_duration, register_resource_provider
from ...errors import failed_precondition, invalid_argument
from ...json_util import ObjectReader, dumps, expect_bool, expect_int, expect_object, expect_string
from ..driver import KvStoreAdapterSpec, percent_decode_path, percent_encode_path
from .codec import NUMBERED, SINGLE, Config

__all__ = ["OcdbtDriverSpec", "ConfigConstraints", "parse_commit_time", "format_commit_time"]

_MAX_U64 = (1 << 64) - 1
_KINDS = {"single": SINGLE, "numbered": NUMBERED}
_DEFAULT_PREFIX = "d/"
_PREFIX_MEMBERS = ("value_data_prefix", "btree_node_data_prefix", "version_tree_node_data_prefix")
_COALESCING = (
    ("experimental_read_coalescing_threshold_bytes", lambda j: expect_int(j, 0, _MAX_U64)),
    ("experimental_read_coalescing_merged_bytes", lambda j: expect_int(j, 0, _MAX_U64)),
    ("experimental_read_coalescing_interval", lambda j: (parse_duration(j), j)[1]),
)
DEFAULT_TARGET_DATA_FILE_SIZE = 2147483648


class OcdbtCoordinatorProvider(ResourceProvider):
    """``Context.ocdbt_coordinator``: accepted and printed; this package commits without one."""

    id = "ocdbt_coordinator"

    def parse(self, j: Any) -> Any:
        r = ObjectReader(j)
        out = {}
        address = r.get("address", expect_string, None)
        if address is not None:
            out["address"] = address
        lease = r.get("lease_duration", lambda v: (parse_duration(v), v)[1], None)
        if lease is not None:
            out["lease_duration"] = lease
        r.finish()
        return out


register_resource_provider(OcdbtCoordinatorProvider())


# ---------------------------------------------------------------------------------------------
# Commit times.

_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z)$")


def parse_commit_time(text: Any) -> int:
    """An RFC 3339 time as nanoseconds since the epoch."""
    m = _TIME_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise invalid_argument(f"Invalid OCDBT commit time {dumps(text)}: Failed to parse input")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    try:
        dt = datetime.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=datetime.timezone.utc)
    except ValueError:
        raise invalid_argument(f"Invalid OCDBT commit time {dumps(text)}: Failed to parse input") from None
    seconds = int((dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds())
    return seconds * 10**9 + int(frac)


def format_commit_time(ns: int, offset_style: bool = False) -> str:
    """``2023-01-01T00:00:00.5Z`` (or ``...+00:00`` as TensorStore's messages print times)."""
    seconds, frac = divmod(ns, 10**9)
    dt = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + ("+00:00" if offset_style else "Z")


def _parse_version(j: Any) -> Any:
    """A generation number (int) or a commit time (the string, validated)."""
    if isinstance(j, str):
        parse_commit_time(j)
        return j
    return expect_int(j, 1, _MAX_U64)


def version_json(version: Any) -> Any:
    return version


# ---------------------------------------------------------------------------------------------
# Configuration constraints.


def _parse_uuid(j: Any) -> str:
    if not isinstance(j, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", j):
        raise invalid_argument(f"Expected string with 32 hex digits, but received: {dumps(j)}")
    return j.lower()


def _parse_kind(j: Any) -> str:
    if j not in _KINDS:
        raise invalid_argument(f'Expected one of "single", "numbered", but received: {dumps(j)}')
    return j


def _parse_compression(j: Any) -> Any:
    if j is None:
        return None
    try:
        obj = expect_object(j)
    except ValueError:
        raise invalid_argument(f"No matching value binder: Expected null, but received: {dumps(j)}; "
                               f"Expected object, but received: {dumps(j)}") from None
    r = ObjectReader(obj)

    def expect_zstd(v: Any) -> str:
        if v != "zstd":
            raise invalid_argument(f'Expected "zstd", but received: {dumps(v)}')
        return v

    try:
        r.get("id", expect_zstd)
        level = r.get("level", lambda v: expect_int(v, -(1 << 31), (1 << 31) - 1), None)
        r.finish()
    except ValueError as exc:
        raise invalid_argument(f"No matching value binder: Expected null, but received: {dumps(j)}; {exc}") from None
    # (level 0, zstd's default, is left out of the JSON unless defaults are asked for)
    return {"id": "zstd"} if not level else {"id": "zstd", "level": level}


_CONFIG_MEMBERS = {
    "uuid": _parse_uuid,
    "manifest_kind": _parse_kind,
    "max_inline_value_bytes": lambda j: expect_int(j, 0, 1 << 20),
    "max_decoded_node_bytes": lambda j: expect_int(j, 0, 0xFFFFFFFF),
    "version_tree_arity_log2": lambda j: expect_int(j, 1, 16),
    "compression": _parse_compression,
}


def _parse_config(j: Any) -> dict:
    r = ObjectReader(j)
    out = {}
    for name, parse in _CONFIG_MEMBERS.items():
        value = r.get(name, parse, _ABSENT)
        if value is not _ABSENT:
            out[name] = value
    r.finish()
    return out


_ABSENT: Any = object()


class ConfigConstraints:
    """The ``config`` member: what a new database gets, and what an existing one must have."""

    def __init__(self, members: dict):
        self.members = members

    def create(self, default_kind: int = SINGLE) -> Config:
        import os

        m = self.members
        compression = m.get("compression", {"id": "zstd"})
        return Config(
            uuid=bytes.fromhex(m["uuid"]) if "uuid" in m else os.urandom(16),
            manifest_kind=_KINDS[m["manifest_kind"]] if "manifest_kind" in m else default_kind,
            max_inline_value_bytes=m.get("max_inline_value_bytes", 100),
            max_decoded_node_bytes=m.get("max_decoded_node_bytes", 8388608),
            version_tree_arity_log2=m.get("version_tree_arity_log2", 4),
            zstd_level=None if compression is None else compression.get("level", 0),
        )

    def check(self, config: Config) -> None:
        """FAILED_PRECONDITION naming the first member that `config` contradicts."""
        found = config_json(config)
        for name in _CONFIG_MEMBERS:
            if name not in self.members:
                continue
            want = self.members[name]
            if name == "compression" and want is not None:
                want = {"id": "zstd", "level": want.get("level", 0)}
            have = found[name]
            if want != have:
                raise failed_precondition(
                    f"Configuration mismatch on {name}: expected {dumps(want)} but received {dumps(have)}")


def config_json(config: Config) -> dict:
    return {
        "uuid": config.uuid.hex(),
        "manifest_kind": "numbered" if config.manifest_kind == NUMBERED else "single",
        "max_inline_value_bytes": config.max_inline_value_bytes,
        "max_decoded_node_bytes": config.max_decoded_node_bytes,
        "version_tree_arity_log2": config.version_tree_arity_log2,
        "compression": None if config.zstd_level is None else {"id": "zstd", "level": config.zstd_level},
    }


# ---------------------------------------------------------------------------------------------
# The spec.


def _expect_uint64(j: Any) -> int:
    if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j <= _MAX_U64:
        raise invalid_argument(f"Expected 64-bit unsigned integer, but received: {dumps(j)}")
    return j


def _expect_prefix(j: Any) -> str:
    return expect_string(j)


class OcdbtDriverSpec(KvStoreAdapterSpec):
    """``{"driver": "ocdbt", "base": <kvstore of the database directory>, ...}``."""

    id = "ocdbt"
    url_scheme = "ocdbt"
    resource_members = {
        "cache_pool": "cache_pool",
        "data_copy_concurrency": "data_copy_concurrency",
        "coordinator": "ocdbt_coordinator",
    }

    @classmethod
    def normalize_base_path(cls, path: str) -> str:
        return path if not path or path.endswith("/") else path + "/"

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        out: dict[str, Any] = {}
        config = reader.get("config", _parse_config, {})
        if config:
            out["config"] = config
        version = reader.get("version", _parse_version, None)
        if version is not None:
            out["version"] = version
        if reader.get("assume_config", expect_bool, False):
            out["assume_config"] = True
        size = reader.get("target_data_file_size", _expect_uint64, None)
        if size is not None:
            out["target_data_file_size"] = size
        for name in _PREFIX_MEMBERS:
            prefix = reader.get(name, _expect_prefix, _DEFAULT_PREFIX)
            if prefix != _DEFAULT_PREFIX:
                out[name] = prefix
        for name, parse in _COALESCING:
            value = reader.get(name, parse, None)
            if value is not None:
                out[name] = value
        return out

    def options_json(self, include_defaults: bool = False) -> dict:
        out = dict(self.options)
        if "config" in out:
            out["config"] = dict(sorted(out["config"].items()))
        if include_defaults:
            out.setdefault("assume_config", False)
            out.setdefault("config", {})
            compression = out["config"].get("compression")
            if compression is not None:
                out["config"] = {**out["config"], "compression": {"id": "zstd", "level": compression.get("level", 0)}}
            for name in _PREFIX_MEMBERS:
                out.setdefault(name, _DEFAULT_PREFIX)
        return out

    # -- what the driver uses ---------------------------------------------------------------

    @property
    def constraints(self) -> ConfigConstraints:
        return ConfigConstraints(self.options.get("config", {}))

    @property
    def version(self) -> Any:
        return self.options.get("version")

    def prefix(self, name: str) -> str:
        return self.options.get(name, _DEFAULT_PREFIX)

    @property
    def target_data_file_size(self) -> int:
        return self.options.get("target_data_file_size", DEFAULT_TARGET_DATA_FILE_SIZE)

    # -- URLs --------------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str) -> dict:
        rest = url[len("ocdbt:") :] if url.startswith("ocdbt:") else ""
        if "#" in rest:
            raise invalid_argument("Fragment identifier not supported")
        if "?" in rest:
            raise invalid_argument("Query string not supported")
        j: dict[str, Any] = {"driver": "ocdbt"}
        if rest.startswith("@"):
            slash = rest.find("/")
            text = percent_decode_path(rest[1:] if slash < 0 else rest[1:slash])
            try:
                j["version"] = _version_from_url(text)
            except ValueError as exc:
                raise invalid_argument(f"Invalid OCDBT version: {dumps(text)}: {_message(exc)}") from None
            rest = "" if slash < 0 else rest[slash + 1 :]
        path = percent_decode_path(rest)
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str) -> str:
        version = self.version
        head = "ocdbt:"
        if isinstance(version, int):
            head += f"@v{version}/"
        elif isinstance(version, str):
            head += f"@{version}/"
        return head + percent_encode_path(path)

    def open_adapter(self, resources: dict, base: Any, base_path: str) -> Any:
        from .driver import OcdbtDriver

        return OcdbtDriver(self, resources, base, self.normalize_base_path(base_path))


def _version_from_url(text: str) -> Any:
    if re.fullmatch(r"v[0-9]+", text):
        number = int(text[1:])
        if not 1 <= number <= _MAX_U64:
            raise invalid_argument("Invalid generation number")
        return number
    parse_commit_time(text)
    return text


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", str(exc))
