"""Encoding and decoding of OCDBT's on-disk structures: manifests, version tree nodes and
B+tree nodes, each framed by a magic number, a length, a format version, a compression
method and a CRC-32C footer (TensorStore's OCDBT storage format).

Every decoder works on untrusted bytes: lengths, counts, varints and indices are checked
against what remains and against the format's limits before anything is allocated, and every
failure is a DATA_LOSS `StatusError` naming what was wrong.  zstd bodies are decoded with the
node size limit of the configuration as the output bound.

Data file references carry the *absolute* directory part of their path (the transitive path of
the node they were read from joined with the table's base path), so a reference read from one
node can be written into another node unchanged (see `DataFile`).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, NamedTuple

import zstandard

from ...errors import data_loss
from ..._ext import crc32c as _crc32c
from ..._ext.ocdbt_varint import VarintError, read_varints, write_varints

__all__ = [
    "DataFile", "Ref", "Stats", "Config", "VersionEntry", "VersionNodeEntry", "Manifest",
    "LeafEntry", "InteriorEntry", "BtreeNode", "VersionTreeNode", "encode_manifest",
    "decode_manifest", "encode_btree_node", "decode_btree_node", "encode_version_node",
    "decode_version_node", "MANIFEST_MAGIC", "BTREE_MAGIC", "VERSION_MAGIC",
]  # fmt: skip

MANIFEST_MAGIC = 0x0CDB3A2A
VERSION_MAGIC = 0x0CDB1234
BTREE_MAGIC = 0x0CDB20DE
_HEADER = 4 + 8  # magic (uint32be) + length (uint64le); then version and compression varints
_FOOTER = 4
_MAX_U64 = (1 << 64) - 1
MAX_PATH_LENGTH = 65535
#: manifest kinds, as stored in the configuration
SINGLE, NUMBERED = 0, 1
#: the manifest (and version tree nodes) are at most this large once decompressed
_MAX_MANIFEST_BYTES = 1 << 26


class DataFile(NamedTuple):
    """A data file: ``base + relative`` is its path relative to the database directory.

    `base` is the directory part that children of a node stored in this file inherit as their
    transitive path (TensorStore's ``base_path``, already joined with the transitive path)."""

    base: bytes
    relative: bytes

    @property
    def path(self) -> bytes:
        return self.base + self.relative


#: the data file of "no node" (an empty tree's root): empty path, all-ones offset and length
NO_FILE = DataFile(b"", b"")


class Ref(NamedTuple):
    """``length`` bytes at ``offset`` in data file ``file``."""

    file: DataFile
    offset: int
    length: int


class Stats(NamedTuple):
    num_keys: int = 0
    num_tree_bytes: int = 0
    num_indirect_value_bytes: int = 0

    def __add__(self, other: "Stats") -> "Stats":  # type: ignore[override]
        return Stats(*(a + b for a, b in zip(self, other)))


@dataclasses.dataclass(frozen=True)
class Config:
    """A database's configuration, as stored in every manifest."""

    uuid: bytes
    manifest_kind: int = SINGLE
    max_inline_value_bytes: int = 100
    max_decoded_node_bytes: int = 8388608
    version_tree_arity_log2: int = 4
    #: None: uncompressed; otherwise the zstd level
    zstd_level: int | None = 0


class VersionEntry(NamedTuple):
    """One version: the root of its B+tree (None: empty tree)."""

    generation: int
    root_height: int
    root: Ref | None
    stats: Stats
    commit_time: int  # nanoseconds since the epoch


class VersionNodeEntry(NamedTuple):
    """A reference to a version tree node holding versions up to `generation`."""

    generation: int
    ref: Ref
    num_generations: int
    commit_time: int  # the earliest commit time within the subtree
    height: int  # height of the referenced node


@dataclasses.dataclass
class Manifest:
    config: Config
    #: None in the config-only manifest.ocdbt of a numbered database
    versions: list[VersionEntry] | None
    version_nodes: list[VersionNodeEntry] = dataclasses.field(default_factory=list)

    @property
    def latest(self) -> VersionEntry:
        assert self.versions
        return self.versions[-1]


class LeafEntry(NamedTuple):
    key: bytes
    #: the value itself (inline) or where it is stored (indirect)
    value: bytes | Ref


class InteriorEntry(NamedTuple):
    key: bytes  # relative to the node's prefix
    subtree_common_prefix_length: int
    ref: Ref
    stats: Stats


class BtreeNode(NamedTuple):
    height: int
    entries: list  # LeafEntry (height 0) or InteriorEntry


class VersionTreeNode(NamedTuple):
    height: int
    arity_log2: int
    entries: list  # VersionEntry (height 0) or VersionNodeEntry


# ---------------------------------------------------------------------------------------------
# Primitives.


class Reader:
    """Bounded reads from a buffer; every overrun is a DATA_LOSS naming `what`."""

    __slots__ = ("data", "pos", "end", "what")

    def __init__(self, data: bytes | memoryview, what: str, pos: int = 0, end: int | None = None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.what = what

    def error(self, message: str) -> Exception:
        return data_loss(f"Error decoding {self.what}: {message}")

    def varint(self, limit: int = _MAX_U64) -> int:
        data, pos, end = self.data, self.pos, self.end
        result = shift = 0
        while True:
            if pos >= end:
                raise self.error(f"Truncated varint at byte {self.pos}")
            b = data[pos]
            pos += 1
            if shift == 63 and b > 1:
                raise self.error(f"Varint overflows 64 bits at byte {self.pos}")
            result |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        if result > limit:
            raise self.error(f"Value {result} at byte {self.pos} exceeds the limit of {limit}")
        self.pos = pos
        return result

    def varints(self, count: int, limit: int = _MAX_U64) -> list[int]:
        """A column of `count` varints (the bounds-checked Cython loop)."""
        try:
            values, self.pos = read_varints(self.data, self.pos, self.end, count, limit)
        except VarintError as exc:
            raise self.error(str(exc)) from None
        return values

    def u8(self) -> int:
        if self.pos >= self.end:
            raise self.error(f"Unexpected end of data at byte {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def fixed(self, fmt: str, size: int) -> Any:
        if self.end - self.pos < size:
            raise self.error(f"Unexpected end of data at byte {self.pos}")
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return value

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise self.error(f"{n} bytes needed at byte {self.pos}, {self.end - self.pos} remain")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def finish(self) -> None:
        if self.pos != self.end:
            raise self.error(f"{self.end - self.pos} unexpected bytes at end")


def put_varints(out: bytearray, values: Any) -> None:
    write_varints(out, values)


def put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _decompress(body: memoryview, limit: int, what: str) -> bytes:
    """A zstd frame's content, refusing more than `limit` bytes."""
    try:
        declared = zstandard.frame_content_size(body)
    except zstandard.ZstdError as exc:
        raise data_loss(f"Error decoding {what}: invalid zstd frame: {exc}") from None
    if declared > limit:
        raise data_loss(f"Error decoding {what}: decoded size {declared} exceeds the limit of {limit}")
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        # Bounded streaming: a frame without a declared size cannot make us allocate unboundedly.
        out = bytearray()
        view = memoryview(body)
        step = 1 << 16
        for start in range(0, len(view), step):
            out += dobj.decompress(view[start : start + step])
            if len(out) > limit:
                raise data_loss(f"Error decoding {what}: decoded size exceeds the limit of {limit}")
    except zstandard.ZstdError as exc:
        raise data_loss(f"Error decoding {what}: {exc}") from None
    if not dobj.eof:
        raise data_loss(f"Error decoding {what}: zstd data is truncated")
    if dobj.unused_data:
        raise data_loss(f"Error decoding {what}: unexpected data after the zstd frame")
    return bytes(out)


_COMPRESSORS: dict[int, zstandard.ZstdCompressor] = {}


def _compress(data: bytes, level: int) -> bytes:
    cctx = _COMPRESSORS.get(level)
    if cctx is None:
        cctx = _COMPRESSORS[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return cctx.compress(data)


def _frame(magic: int, body: bytes, zstd_level: int | None) -> bytes:
    if zstd_level is None:
        method, payload = 0, body
    else:
        method, payload = 1, _compress(body, zstd_level)
    out = bytearray(struct.pack(">I", magic))
    out += b"\0" * 8
    out.append(0)  # format version
    out.append(method)
    out += payload
    struct.pack_into("<Q", out, 4, len(out) + _FOOTER)
    out += struct.pack("<I", _crc32c.value(bytes(out)))
    return bytes(out)


def _unframe(data: bytes, magic: int, what: str, limit: int) -> bytes:
    """The (decompressed) body of an encoded structure, after checking its frame."""
    view = memoryview(data)
    if len(view) < _HEADER + 2 + _FOOTER:
        raise data_loss(f"Error decoding {what}: {len(view)} bytes is too short")
    found = struct.unpack_from(">I", view, 0)[0]
    if found != magic:
        raise data_loss(f"Error decoding {what}: Expected to start with hex bytes {magic:08x} but received: 0x{found:08x}")
    length = struct.unpack_from("<Q", view, 4)[0]
    if length != len(view):
        raise data_loss(f"Error decoding {what}: Length in header ({length}) does not match actual length ({len(view)})")
    stored = struct.unpack_from("<I", view, len(view) - _FOOTER)[0]
    computed = _crc32c.value(bytes(view[: len(view) - _FOOTER]))
    if stored != computed:
        raise data_loss(f"Error decoding {what}: CRC-32C checksum mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}")
    r = Reader(view, what, _HEADER, len(view) - _FOOTER)
    version = r.varint()
    if version != 0:
        raise data_loss(f"Error decoding {what}: Maximum supported version is 0 but received: {version}")
    method = r.varint()
    body = view[r.pos : r.end]
    if method == 0:
        if len(body) > limit:
            raise data_loss(f"Error decoding {what}: size {len(body)} exceeds the limit of {limit}")
        return bytes(body)
    if method == 1:
        return _decompress(body, limit, what)
    raise data_loss(f"Error decoding {what}: Unsupported compression format: {method}")


# ---------------------------------------------------------------------------------------------
# Data file tables.


def _read_data_file_table(r: Reader, transitive: bytes) -> list[DataFile]:
    # Each file needs at least its two length varints: a huge count fails here, not in allocation.
    n = r.varint(limit=max(0, (r.end - r.pos) // 2))
    prefix_lengths = [0] + r.varints(max(n - 1, 0), MAX_PATH_LENGTH)
    suffix_lengths = r.varints(n, MAX_PATH_LENGTH)
    base_lengths = r.varints(n, MAX_PATH_LENGTH)
    files: list[DataFile] = []
    prev = b""
    prev_base_len = 0
    budget = max(1 << 26, 64 * (r.end - r.pos))  # what prefix-compressed paths may expand to
    for i in range(n):
        prefix = prefix_lengths[i]
        if prefix > len(prev):
            raise r.error(f"Data file {i}: common prefix length {prefix} exceeds the previous path's length")
        budget -= prefix + suffix_lengths[i] + len(transitive)
        if budget < 0:
            raise r.error("Data file paths expand to too many bytes")
        path = prev[:prefix] + r.take(suffix_lengths[i])
        if len(path) > MAX_PATH_LENGTH:
            raise r.error(f"Data file {i}: path length {len(path)} exceeds {MAX_PATH_LENGTH}")
        base_len = base_lengths[i]
        if base_len > len(path):
            raise r.error(f"Data file {i}: base path length {base_len} exceeds the path length {len(path)}")
        if i and prefix > min(base_len, prev_base_len) and (base_len != prev_base_len or path[:base_len] != prev[:prev_base_len]):
            raise r.error(f"Data file {i}: path prefix extends past the base path")
        files.append(DataFile(transitive + path[:base_len], path[base_len:]))
        prev, prev_base_len = path, base_len
    return files


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _write_data_file_table(out: bytearray, files: list[DataFile]) -> None:
    put_varint(out, len(files))
    paths = [f.base + f.relative for f in files]
    prefixes = [0]
    for i in range(1, len(files)):
        prefix = _common_prefix(paths[i - 1], paths[i])
        if files[i].base != files[i - 1].base:
            # A shared prefix may not run past a base path unless both base paths are equal.
            prefix = min(prefix, len(files[i].base), len(files[i - 1].base))
        prefixes.append(prefix)
        put_varint(out, prefix)
    for p, prefix in zip(paths, prefixes):
        put_varint(out, len(p) - prefix)
    for f in files:
        put_varint(out, len(f.base))
    for p, prefix in zip(paths, prefixes):
        out += p[prefix:]


class _FileIds:
    """Collects the data files one node refers to and numbers them in table order."""

    def __init__(self, refs: list[Ref | None]):
        files = sorted({(r.file.base + r.file.relative, len(r.file.base)) for r in refs if r is not None} | (
            {(b"", 0)} if any(r is None for r in refs) else set()))
        self.files = [DataFile(p[:n], p[n:]) for p, n in files]
        self.ids = {f: i for i, f in enumerate(self.files)}

    def id(self, ref: Ref | None) -> int:
        return self.ids[NO_FILE if ref is None else ref.file]


def _ref(r: Reader, files: list[DataFile], file_id: int, offset: int, length: int) -> Ref:
    if file_id >= len(files):
        raise r.error(f"Data file id {file_id} out of range [0, {len(files)})")
    return Ref(files[file_id], offset, length)


# ---------------------------------------------------------------------------------------------
# Configuration, version entries and manifests.


def _read_config(r: Reader) -> Config:
    uuid = r.take(16)
    kind = r.varint()
    if kind not in (SINGLE, NUMBERED):
        raise r.error(f"Invalid manifest_kind {kind}")
    max_inline = r.varint(1 << 20)
    max_node = r.varint(0xFFFFFFFF)
    arity = r.u8()
    if not 1 <= arity <= 16:
        raise r.error(f"Invalid version_tree_arity_log2 {arity}")
    method = r.varint()
    level: int | None
    if method == 0:
        level = None
    elif method == 1:
        level = r.fixed("<i", 4)
    else:
        raise r.error(f"Unsupported compression method: {method}")
    return Config(uuid, kind, max_inline, max_node, arity, level)


def _write_config(out: bytearray, c: Config) -> None:
    out += c.uuid
    put_varint(out, c.manifest_kind)
    put_varint(out, c.max_inline_value_bytes)
    put_varint(out, c.max_decoded_node_bytes)
    out.append(c.version_tree_arity_log2)
    if c.zstd_level is None:
        put_varint(out, 0)
    else:
        put_varint(out, 1)
        out += struct.pack("<i", c.zstd_level)


def _check_generations(r: Reader, gens: list[int], arity_log2: int, height: int, what: str) -> None:
    if not gens:
        raise r.error(f"Empty {what}")
    prev = 0
    for g in gens:
        if g <= prev:
            raise r.error(f"{what}: generation numbers must be non-zero and strictly increasing")
        prev = g
    block = 1 << arity_log2
    shift = arity_log2 * height
    limit = (((gens[-1] >> shift) - 1) % block) + 1 if gens[-1] >> shift else 1
    if len(gens) > limit:
        raise r.error(f"{what}: {len(gens)} entries is more than the {limit} allowed for generation {gens[-1]}")


def _read_versions(r: Reader, files: list[DataFile], arity_log2: int) -> list[VersionEntry]:
    n = r.varint(limit=1 << arity_log2)
    gens = r.varints(n)
    heights = [r.u8() for _ in range(n)]
    ids = r.varints(n)
    offsets = r.varints(n)
    lengths = r.varints(n)
    keys = r.varints(n)
    tree_bytes = r.varints(n)
    indirect = r.varints(n)
    times = [r.fixed("<Q", 8) for _ in range(n)]
    if n:
        _check_generations(r, gens, arity_log2, 0, "version tree leaf entries")
    out = []
    for i in range(n):
        ref = _ref(r, files, ids[i], offsets[i], lengths[i])
        root: Ref | None = ref
        if ref.offset == _MAX_U64 and ref.length == _MAX_U64 and ref.file == NO_FILE:
            root = None
            if heights[i]:
                raise r.error("An empty tree must have root_height 0")
        out.append(VersionEntry(gens[i], heights[i], root, Stats(keys[i], tree_bytes[i], indirect[i]), times[i]))
    return out


def _write_versions(out: bytearray, ids: _FileIds, versions: list[VersionEntry]) -> None:
    put_varint(out, len(versions))
    for v in versions:
        put_varint(out, v.generation)
    for v in versions:
        out.append(v.root_height)
    for v in versions:
        put_varint(out, ids.id(v.root))
    for v in versions:
        put_varint(out, _MAX_U64 if v.root is None else v.root.offset)
    for v in versions:
        put_varint(out, _MAX_U64 if v.root is None else v.root.length)
    for field in range(3):
        for v in versions:
            put_varint(out, v.stats[field])
    for v in versions:
        out += struct.pack("<Q", v.commit_time)


def _read_version_nodes(
    r: Reader, files: list[DataFile], arity_log2: int, height: int | None
) -> list[VersionNodeEntry]:
    """Interior entries; `height` None: the manifest's list, each entry with its own height."""
    n = r.varint(limit=(1 << arity_log2) if height is not None else 64)
    gens = r.varints(n)
    ids = r.varints(n)
    offsets = r.varints(n)
    lengths = r.varints(n)
    counts = r.varints(n)
    times = [r.fixed("<Q", 8) for _ in range(n)]
    if height is None:
        heights = [r.u8() for _ in range(n)]
        for i in range(n):
            if not 1 <= heights[i] or (heights[i] + 1) * arity_log2 >= 64:
                raise r.error(f"Invalid version node height {heights[i]}")
            if i and heights[i] >= heights[i - 1]:
                raise r.error("Version node heights must be decreasing")
            if i and gens[i] <= gens[i - 1]:
                raise r.error("Version node generation numbers must be increasing")
    else:
        heights = [height - 1] * n
        if n:
            _check_generations(r, gens, arity_log2, height, "version tree interior entries")
    return [
        VersionNodeEntry(gens[i], _ref(r, files, ids[i], offsets[i], lengths[i]), counts[i], times[i], heights[i])
        for i in range(n)
    ]


def _write_version_nodes(out: bytearray, ids: _FileIds, entries: list[VersionNodeEntry], with_heights: bool) -> None:
    put_varint(out, len(entries))
    for e in entries:
        put_varint(out, e.generation)
    for e in entries:
        put_varint(out, ids.id(e.ref))
    for e in entries:
        put_varint(out, e.ref.offset)
    for e in entries:
        put_varint(out, e.ref.length)
    for e in entries:
        put_varint(out, e.num_generations)
    for e in entries:
        out += struct.pack("<Q", e.commit_time)
    if with_heights:
        for e in entries:
            out.append(e.height)


def encode_manifest(m: Manifest) -> bytes:
    body = bytearray()
    _write_config(body, m.config)
    if m.versions is not None:
        ids = _FileIds([v.root for v in m.versions] + [e.ref for e in m.version_nodes])
        _write_data_file_table(body, ids.files)
        _write_versions(body, ids, m.versions)
        _write_version_nodes(body, ids, m.version_nodes, True)
    return _frame(MANIFEST_MAGIC, bytes(body), m.config.zstd_level)


def decode_manifest(data: bytes, what: str = "manifest") -> Manifest:
    body = _unframe(data, MANIFEST_MAGIC, what, _MAX_MANIFEST_BYTES)
    r = Reader(body, what)
    config = _read_config(r)
    if config.manifest_kind == NUMBERED and r.pos == r.end:
        return Manifest(config, None, [])
    files = _read_data_file_table(r, b"")
    versions = _read_versions(r, files, config.version_tree_arity_log2)
    nodes = _read_version_nodes(r, files, config.version_tree_arity_log2, None)
    r.finish()
    if not versions:
        raise r.error("No versions")
    if nodes and nodes[-1].generation >= versions[0].generation:
        raise r.error("Version nodes must precede the inline versions")
    return Manifest(config, versions, nodes)


# ---------------------------------------------------------------------------------------------
# Version tree nodes.


def encode_version_node(node: VersionTreeNode, zstd_level: int | None) -> bytes:
    body = bytearray([node.arity_log2, node.height])
    if node.height == 0:
        ids = _FileIds([v.root for v in node.entries])
        _write_data_file_table(body, ids.files)
        _write_versions(body, ids, node.entries)
    else:
        ids = _FileIds([e.ref for e in node.entries])
        _write_data_file_table(body, ids.files)
        _write_version_nodes(body, ids, node.entries, False)
    return _frame(VERSION_MAGIC, bytes(body), zstd_level)


def decode_version_node(data: bytes, transitive: bytes, arity_log2: int, what: str = "version tree node") -> VersionTreeNode:
    body = _unframe(data, VERSION_MAGIC, what, _MAX_MANIFEST_BYTES)
    r = Reader(body, what)
    found = r.u8()
    if found != arity_log2:
        raise r.error(f"version_tree_arity_log2={found} does not match the expected value of {arity_log2}")
    height = r.u8()
    if (height + 1) * arity_log2 >= 64:
        raise r.error(f"Invalid height {height}")
    files = _read_data_file_table(r, transitive)
    if height == 0:
        entries: list = _read_versions(r, files, arity_log2)
    else:
        entries = _read_version_nodes(r, files, arity_log2, height)
    r.finish()
    if not entries:
        raise r.error("Empty version tree node")
    return VersionTreeNode(height, arity_log2, entries)


# ---------------------------------------------------------------------------------------------
# B+tree nodes.


def _write_keys(out: bytearray, keys: list[bytes]) -> list[int]:
    prefixes = [0] + [_common_prefix(keys[i - 1], keys[i]) for i in range(1, len(keys))]
    put_varints(out, prefixes[1:])
    put_varints(out, [len(k) - p for k, p in zip(keys, prefixes)])
    return prefixes


def encode_btree_node(node: BtreeNode, zstd_level: int | None) -> bytes:
    body = bytearray([node.height])
    entries = node.entries
    if node.height == 0:
        ids = _FileIds([e.value for e in entries if not isinstance(e.value, bytes)])
    else:
        ids = _FileIds([e.ref for e in entries])
    _write_data_file_table(body, ids.files)
    put_varint(body, len(entries))
    keys = [e.key for e in entries]
    prefixes = _write_keys(body, keys)
    if node.height > 0:
        put_varints(body, [e.subtree_common_prefix_length for e in entries])
    body += b"".join([k[p:] for k, p in zip(keys, prefixes)])
    if node.height == 0:
        values = [e.value for e in entries]
        inline = [isinstance(v, bytes) for v in values]
        put_varints(body, [len(v) if direct else v.length for v, direct in zip(values, inline)])
        body += bytes([0 if direct else 1 for direct in inline])
        indirect = [v for v, direct in zip(values, inline) if not direct]
        put_varints(body, [ids.id(ref) for ref in indirect])
        put_varints(body, [ref.offset for ref in indirect])
        body += b"".join([v for v, direct in zip(values, inline) if direct])
    else:
        put_varints(body, [ids.id(e.ref) for e in entries])
        put_varints(body, [e.ref.offset for e in entries])
        put_varints(body, [e.ref.length for e in entries])
        for field in range(3):
            put_varints(body, [e.stats[field] for e in entries])
    return _frame(BTREE_MAGIC, bytes(body), zstd_level)


def decode_btree_node(data: bytes, transitive: bytes, max_decoded_bytes: int, what: str = "b+tree node") -> BtreeNode:
    # A node holds at least one entry, whose inline value may alone exceed the node limit.
    body = _unframe(data, BTREE_MAGIC, what, max(max_decoded_bytes, 1 << 16) + (2 << 20))
    r = Reader(body, what)
    height = r.u8()
    files = _read_data_file_table(r, transitive)
    # Every entry takes at least two bytes of key lengths and values: bounds the count.
    n = r.varint(limit=max(0, r.end - r.pos))
    if n == 0:
        raise r.error("Empty b+tree node")
    prefixes = [0] + r.varints(n - 1, MAX_PATH_LENGTH * 1024)
    suffixes = r.varints(n, r.end)
    common = r.varints(n, r.end) if height else None
    keys: list[bytes] = []
    prev = b""
    # Prefix compression lets a few bytes stand for a long key: bound what the keys may expand
    # to, so that a crafted node cannot make us allocate without limit.
    budget = max(1 << 26, 64 * len(body))
    for i in range(n):
        if prefixes[i] > len(prev):
            raise r.error(f"Entry {i}: key prefix length {prefixes[i]} exceeds the previous key's length")
        budget -= prefixes[i] + suffixes[i]
        if budget < 0:
            raise r.error(f"Keys expand to more than {max(1 << 26, 64 * len(body))} bytes")
        key = prev[: prefixes[i]] + r.take(suffixes[i])
        if i and key <= prev:
            raise r.error(f"Entry {i}: keys are not in increasing order")
        keys.append(key)
        prev = key
    if height == 0:
        lengths = r.varints(n)
        kinds = r.varints(n)
        for i, kind in enumerate(kinds):
            if kind > 1:
                raise r.error(f"Entry {i}: invalid value kind {kind}")
        indirect = [i for i in range(n) if kinds[i] == 1]
        ids = r.varints(len(indirect))
        offsets = r.varints(len(indirect))
        values: list[Any] = [None] * n
        for j, i in enumerate(indirect):
            values[i] = _ref(r, files, ids[j], offsets[j], lengths[i])
        for i in range(n):
            if kinds[i] == 0:
                values[i] = r.take(lengths[i])
        r.finish()
        return BtreeNode(0, [LeafEntry(keys[i], values[i]) for i in range(n)])
    assert common is not None
    for i in range(n):
        if common[i] > len(keys[i]):
            raise r.error(f"Entry {i}: subtree common prefix length {common[i]} exceeds the key length {len(keys[i])}")
    ids = r.varints(n)
    offsets = r.varints(n)
    lengths = r.varints(n)
    stats = [r.varints(n) for _ in range(3)]
    r.finish()
    return BtreeNode(height, [
        InteriorEntry(keys[i], common[i], _ref(r, files, ids[i], offsets[i], lengths[i]),
                      Stats(stats[0][i], stats[1][i], stats[2][i]))
        for i in range(n)
    ])
