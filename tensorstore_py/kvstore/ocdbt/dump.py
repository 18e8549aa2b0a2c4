"""``ts.ocdbt``: the JSON dump of an OCDBT database's manifest and nodes, and the reverse.

A node or value is named by a location string
``"<btreenode|versionnode|value>:<base path>:<relative path>:<offset>:<length>"`` (paths
percent-encoded), as the manifest and node dumps print them.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from ... import future as futures
from ...context import Context
from ...errors import invalid_argument, not_found
from ...future import Future
from ...json_util import dumps
from ..driver import ReadOptions
from . import codec
from .codec import DataFile, Manifest, Ref, Stats, VersionEntry, VersionNodeEntry, VersionTreeNode
from .reader import Database
from .spec import ConfigConstraints

__all__ = ["dump", "undump_manifest", "undump_version_tree_node", "DistributedCoordinatorServer"]

_SAFE = "!$&'()*+,-./0123456789;=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
_KINDS = ("value", "btreenode", "versionnode")


def _location(kind: str, ref: Ref) -> str:
    quote = lambda b: urllib.parse.quote(b, safe=_SAFE)  # noqa: E731
    return f"{kind}:{quote(ref.file.base)}:{quote(ref.file.relative)}:{ref.offset}:{ref.length}"


def _parse_location(text: Any) -> tuple[str, Ref]:
    m = re.fullmatch(r"([a-z]+):([^:]*):([^:]*):([0-9]+):([0-9]+)", text) if isinstance(text, str) else None
    if m is None or m.group(1) not in _KINDS:
        raise invalid_argument(f"Invalid indirect data reference: {dumps(text)}")
    unquote = lambda s: urllib.parse.unquote_to_bytes(s)  # noqa: E731
    return m.group(1), Ref(DataFile(unquote(m.group(2)), unquote(m.group(3))), int(m.group(4)), int(m.group(5)))


def manifest_config_json(config: codec.Config) -> dict:
    """A database's config as TensorStore prints it (in a dump's manifest, and in the spec of
    an open kvstore that has read or written the manifest)."""
    out: dict[str, Any] = {}
    if config.zstd_level is None:
        out["compression"] = None
    else:
        out["compression"] = {"id": "zstd"} if config.zstd_level == 0 else {"id": "zstd", "level": config.zstd_level}
    if config.manifest_kind == codec.NUMBERED:
        out["manifest_kind"] = "numbered"
    out["max_decoded_node_bytes"] = config.max_decoded_node_bytes
    out["max_inline_value_bytes"] = config.max_inline_value_bytes
    out["uuid"] = config.uuid.hex()
    out["version_tree_arity_log2"] = config.version_tree_arity_log2
    return out


def _stats_json(s: Stats) -> dict:
    return {"num_indirect_value_bytes": s.num_indirect_value_bytes, "num_keys": s.num_keys,
            "num_tree_bytes": s.num_tree_bytes}


def _version_json(v: VersionEntry) -> dict:
    root: dict[str, Any] = {}
    if v.root is not None:
        root["location"] = _location("btreenode", v.root)
    root["statistics"] = _stats_json(v.stats)
    return {"commit_time": v.commit_time, "generation_number": v.generation, "root": root, "root_height": v.root_height}


def _node_entry_json(e: VersionNodeEntry) -> dict:
    return {"commit_time": e.commit_time, "generation_number": e.generation, "height": e.height,
            "location": _location("versionnode", e.ref), "num_generations": e.num_generations}


def manifest_json(m: Manifest) -> dict:
    return {"config": manifest_config_json(m.config),
            "version_tree_nodes": [_node_entry_json(e) for e in m.version_nodes],
            "versions": [_version_json(v) for v in m.versions or []]}


def _btree_json(node: codec.BtreeNode, base: bytes) -> dict:
    entries = []
    for e in node.entries:
        if node.height == 0:
            if isinstance(e.value, bytes):
                entries.append({"inline_value": e.value, "key": e.key})
            else:
                entries.append({"indirect_value": _location("value", e.value), "key": e.key})
        else:
            entries.append({"key": e.key, "location": _location("btreenode", e.ref), "statistics": _stats_json(e.stats),
                            "subtree_common_prefix": e.key[: e.subtree_common_prefix_length]})
    return {"entries": entries, "height": node.height}


def _version_node_json(node: VersionTreeNode) -> dict:
    if node.height == 0:
        entries = [_version_json(v) for v in node.entries]
    else:
        entries = [_node_entry_json(e) for e in node.entries]
    return {"entries": entries, "height": node.height, "version_tree_arity_log2": node.arity_log2}


def dump(base: Any, node: str | None = None, *, context: Context | None = None) -> Future:
    """The manifest of the OCDBT database in `base` (a ``KvStore``) as JSON, or the node or
    value at location `node`."""
    db = Database(base.driver, base.path.encode("utf-8"), ConfigConstraints({}))
    if node is None:
        def got(st: Any) -> Any:
            if st.manifest is None or st.manifest.versions is None:
                raise not_found("Manifest not found")
            return manifest_json(st.manifest)

        return futures.chain(db.manifest(), got)
    try:
        kind, ref = _parse_location(node)
    except ValueError as exc:
        return futures.failed(exc)
    read = db.base.read(db.prefix + ref.file.path, ReadOptions(byte_range=(ref.offset, ref.offset + ref.length)))

    def got_bytes(res: Any) -> Any:
        if res.state != "value":
            shown = (db.prefix + ref.file.path).decode("utf-8", "replace")
            raise not_found(f"Error reading Byte range [{ref.offset}, {ref.offset + ref.length}) of {dumps(shown)}")
        data = res.value
        if kind == "value":
            return data
        if kind == "btreenode":
            return _btree_json(codec.decode_btree_node(data, ref.file.base, 0xFFFFFFFF), ref.file.base)
        # The arity is checked against the manifest's when reached from it; here, trust the node.
        body = codec._unframe(data, codec.VERSION_MAGIC, "version tree node", codec._MAX_MANIFEST_BYTES)
        arity = body[0] if body else 0
        return _version_node_json(codec.decode_version_node(data, ref.file.base, arity))

    return futures.chain(read, got_bytes)


# ---------------------------------------------------------------------------------------------
# JSON back to bytes.


def _parse_config(j: Any) -> codec.Config:
    compression = j.get("compression", {"id": "zstd"})
    kind = codec.NUMBERED if j.get("manifest_kind") == "numbered" else codec.SINGLE
    return codec.Config(
        uuid=bytes.fromhex(j["uuid"]), manifest_kind=kind,
        max_inline_value_bytes=int(j.get("max_inline_value_bytes", 100)),
        max_decoded_node_bytes=int(j.get("max_decoded_node_bytes", 8388608)),
        version_tree_arity_log2=int(j.get("version_tree_arity_log2", 4)),
        zstd_level=None if compression is None else int(compression.get("level", 0)),
    )


def _stats(j: dict) -> Stats:
    return Stats(int(j["num_keys"]), int(j["num_tree_bytes"]), int(j["num_indirect_value_bytes"]))


def _parse_version(j: dict) -> VersionEntry:
    root = j["root"]
    ref = _parse_location(root["location"])[1] if "location" in root else None
    return VersionEntry(int(j["generation_number"]), int(j["root_height"]), ref, _stats(root["statistics"]),
                        int(j["commit_time"]))


def _parse_node_entry(j: dict, height: int | None = None) -> VersionNodeEntry:
    return VersionNodeEntry(int(j["generation_number"]), _parse_location(j["location"])[1], int(j["num_generations"]),
                            int(j["commit_time"]), int(j["height"]) if height is None else height)


def undump_manifest(dumped_manifest: Any) -> bytes:
    """The on-disk manifest for its JSON dump (as `dump` returns it)."""
    try:
        config = _parse_config(dumped_manifest["config"])
        versions = [_parse_version(v) for v in dumped_manifest["versions"]]
        nodes = [_parse_node_entry(e) for e in dumped_manifest["version_tree_nodes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid_argument(f"Invalid manifest dump: {exc}") from None
    return codec.encode_manifest(Manifest(config, versions, nodes))


def undump_version_tree_node(dumped_config: Any, dumped_node: Any) -> bytes:
    """The on-disk version tree node for its JSON dump and its database's config dump."""
    try:
        config = _parse_config(dumped_config)
        height = int(dumped_node["height"])
        if height == 0:
            entries: list = [_parse_version(v) for v in dumped_node["entries"]]
        else:
            entries = [_parse_node_entry(e, height - 1) for e in dumped_node["entries"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid_argument(f"Invalid version tree node dump: {exc}") from None
    node = VersionTreeNode(height, config.version_tree_arity_log2, entries)
    return codec.encode_version_node(node, config.zstd_level)


class DistributedCoordinatorServer:
    """The distributed coordinator of OCDBT: not available in this package (commits
    coordinate through conditional writes of the manifest)."""

    def __init__(self, json: Any = {}) -> None:  # noqa: B006 - TensorStore's signature
        from ...errors import unimplemented

        raise unimplemented("The OCDBT distributed coordinator is not supported")

    @property
    def port(self) -> int:  # pragma: no cover - never constructed
        raise NotImplementedError
