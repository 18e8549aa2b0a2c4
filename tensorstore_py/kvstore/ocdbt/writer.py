"""Committing to an OCDBT database: one new version per batch of operations.

A commit starts from the manifest last seen, loads only the B+tree nodes on the paths of the
keys and ranges it changes, applies the operations in order to those leaves, and rebuilds the
changed nodes bottom-up (splitting any that outgrow ``max_decoded_node_bytes``); untouched
subtrees are referenced as they are.  New values larger than ``max_inline_value_bytes``, the
new nodes and any new version tree nodes go to fresh data files (``<prefix><32 hex digits>``,
a new one started past ``target_data_file_size``), which are written before the manifest.
The manifest is then written conditionally: on the generation read (``single``), or as the
next numbered file only if absent (``numbered``).  If another writer committed meanwhile the
commit starts over from its manifest, re-checking every condition, so nothing is lost and an
interrupted commit leaves the previous version as the current one.

Nodes this module writes store absolute keys (subtree common prefix 0) and refer to every
data file with its full directory part as base path (see `codec.DataFile`).

The version tree grows as TensorStore's does: the manifest keeps the latest versions inline
(one leaf block of ``2**version_tree_arity_log2`` generations); when a new generation starts
a new block, the full block becomes a leaf node, appended to the partial node of height 1
referenced from the manifest, and a full partial node is itself carried up a level first.
"""

from __future__ import annotations

import bisect
import os
import time
from typing import Any

from ... import future as futures
from ...errors import StatusError
from ...future import Future
from .. import generation as gen
from ..driver import WriteOptions
from ..generation import TimestampedStorageGeneration
from ..key_range import KeyRange, contains
from . import codec
from .codec import (
    BtreeNode, Config, DataFile, InteriorEntry, LeafEntry, Manifest, Ref, Stats, VersionEntry,
    VersionNodeEntry, VersionTreeNode,
)  # fmt: skip
from .reader import MANIFEST, Database, ManifestState, numbered_name, value_generation

__all__ = ["SetOp", "DeleteRangeOp", "AtomicOp", "commit", "PendingValue"]

_MAX_ATTEMPTS = 64
# Estimated encoded bytes per entry beyond its key and inline value (varints, ids, offsets).
_ENTRY_OVERHEAD = 8
_INTERIOR_OVERHEAD = 24
_NODE_OVERHEAD = 64


class PendingValue:
    """A new value to be stored out of line; `ref` is set once it has a place in a data file."""

    __slots__ = ("data", "ref")

    def __init__(self, data: bytes):
        self.data = data
        self.ref: Ref | None = None


class SetOp:
    """Write (value None: delete) one key, if its generation is `if_equal`."""

    __slots__ = ("key", "value", "if_equal", "promise", "applied", "final")

    def __init__(self, key: bytes, value: Any, if_equal: bytes | None, promise: Future):
        self.key = key
        self.value = value  # bytes, Ref (copied values), or None
        self.if_equal = if_equal
        self.promise = promise
        self.applied = False
        self.final: Any = None


class DeleteRangeOp:
    __slots__ = ("key_range", "promise")

    def __init__(self, key_range: KeyRange, promise: Future):
        self.key_range = key_range
        self.promise = promise


class AtomicOp:
    """``(key, value or None or ..., if_equal)`` writes applied together or not at all."""

    __slots__ = ("writes", "promise", "applied")

    def __init__(self, writes: list, promise: Future):
        self.writes = writes
        self.promise = promise
        self.applied = False


# ---------------------------------------------------------------------------------------------
# The part of the tree a commit touches.


class _Loaded:
    """A B+tree node loaded for modification (`ref` None: a new, empty leaf)."""

    __slots__ = ("height", "prefix", "entries", "lower", "children", "leaf", "dirty", "ref", "upper", "dropped", "parent")

    def __init__(self, height: int, prefix: bytes, entries: list, ref: Ref | None,
                 upper: bytes | None = None, parent: "_Loaded | None" = None):
        self.height = height
        self.prefix = prefix
        self.entries = entries
        self.ref = ref
        #: every stored key of this subtree is below `upper` (None: no bound)
        self.upper = upper
        self.parent = parent
        self.dirty = False
        self.children: dict[int, _Loaded] = {}
        #: children deleted whole, without loading them (a deleted range covers them)
        self.dropped: set[int] = set()
        if height == 0:
            self.leaf: dict[bytes, Any] | None = {prefix + e.key: e.value for e in entries}
            self.lower: list[bytes] = []
        else:
            self.leaf = None
            self.lower = [prefix + e.key for e in entries]

    def child_for(self, key: bytes) -> int:
        return max(bisect.bisect_right(self.lower, key) - 1, 0)

    def children_for(self, r: KeyRange) -> range:
        lo = max(bisect.bisect_right(self.lower, r.inclusive_min) - 1, 0)
        hi = len(self.lower) if not r.exclusive_max else bisect.bisect_left(self.lower, r.exclusive_max)
        return range(lo, max(hi, lo + 1))

    def child_upper(self, i: int) -> bytes | None:
        return self.lower[i + 1] if i + 1 < len(self.lower) else self.upper

    def covers(self, i: int, r: KeyRange) -> bool:
        """Whether `r` contains every key child `i` can hold."""
        upper = self.child_upper(i)
        return r.inclusive_min <= self.lower[i] and (not r.exclusive_max or (upper is not None and upper <= r.exclusive_max))

    def mark_dirty(self) -> None:
        node: _Loaded | None = self
        while node is not None and not node.dirty:
            node.dirty = True
            node = node.parent


def _load_region(db: Database, m: Manifest, v: VersionEntry, keys: list[bytes], ranges: list[KeyRange]) -> Future:
    """The root `_Loaded` with every node on the paths to `keys` and `ranges` loaded."""
    limit = m.config.max_decoded_node_bytes
    if v.root is None:
        return futures.ready(_Loaded(0, b"", [], None))

    def wanted(node: _Loaded) -> set[int]:
        keyed = {node.child_for(k) for k in keys}
        out = set(keyed)
        for r in ranges:
            for i in node.children_for(r):
                if i not in keyed and node.covers(i, r):
                    # Deleted whole: no need to read it (no key of this commit falls in it).
                    if i not in node.dropped:
                        node.dropped.add(i)
                        node.mark_dirty()
                else:
                    out.add(i)
        return out - node.dropped

    def expand(frontier: list[_Loaded]) -> Any:
        loads = []
        targets = []
        for node in frontier:
            if node.height == 0:
                continue
            for i in sorted(wanted(node)):
                e = node.entries[i]
                prefix = node.prefix + e.key[: e.subtree_common_prefix_length]
                loads.append(db.btree_node(e.ref, node.height - 1, limit))
                targets.append((node, i, prefix, e.ref, node.child_upper(i)))
        if not loads:
            return futures.ready(None)

        def attach(views: list) -> Any:
            nxt = []
            for (parent, i, prefix, ref, upper), view in zip(targets, views):
                child = _Loaded(parent.height - 1, prefix, view.node.entries, ref, upper, parent)
                parent.children[i] = child
                nxt.append(child)
            return expand(nxt)

        return futures.chain(futures.gather(loads), attach)

    def start(view: Any) -> Any:
        root = _Loaded(v.root_height, b"", view.node.entries, v.root)
        return futures.chain(futures.ready(None) if root.height == 0 else expand([root]), lambda _: root)

    return futures.chain(db.btree_node(v.root, v.root_height, limit), start)


def _leaf_path(root: _Loaded, key: bytes) -> list[_Loaded]:
    path = [root]
    node = root
    while node.height:
        node = node.children[node.child_for(key)]
        path.append(node)
    return path


def _leaves_in(node: _Loaded, r: KeyRange, path: list[_Loaded], out: list) -> None:
    if node.height == 0:
        out.append(path + [node])
        return
    for i in node.children_for(r):
        if i in node.children:  # (children not loaded were dropped whole)
            _leaves_in(node.children[i], r, path + [node], out)


def _current(root: _Loaded, key: bytes) -> Any:
    leaf = _leaf_path(root, key)[-1]
    assert leaf.leaf is not None
    return leaf.leaf.get(key)


def _generation_of(value: Any) -> bytes:
    if value is None:
        return gen.NO_VALUE
    if isinstance(value, PendingValue):
        return b"\x00pending"  # matches no condition a caller could hold
    return value_generation(value)


def _set(root: _Loaded, key: bytes, value: Any) -> None:
    path = _leaf_path(root, key)
    leaf = path[-1].leaf
    assert leaf is not None
    if value is None:
        if key not in leaf:
            return
        del leaf[key]
    else:
        leaf[key] = value
    for node in path:
        node.dirty = True


def _apply(root: _Loaded, ops: list, config: Config) -> None:
    def stored(value: Any) -> Any:
        if isinstance(value, bytes) and len(value) > config.max_inline_value_bytes:
            return PendingValue(value)
        return value

    for op in ops:
        if isinstance(op, SetOp):
            if op.if_equal is not None and _generation_of(_current(root, op.key)) != op.if_equal:
                op.applied = False
                continue
            op.applied = True
            op.final = stored(op.value)
            _set(root, op.key, op.final)
        elif isinstance(op, DeleteRangeOp):
            found: list = []
            _leaves_in(root, op.key_range, [], found)
            for path in found:
                leaf = path[-1].leaf
                doomed = [k for k in leaf if contains(op.key_range, k)]
                for k in doomed:
                    del leaf[k]
                if doomed:
                    for node in path:
                        node.dirty = True
        else:
            ok = all(
                cond is None or _generation_of(_current(root, key)) == cond
                for key, _value, cond in op.writes
            )
            op.applied = ok
            if ok:
                for key, value, _cond in op.writes:
                    if value is not ...:
                        _set(root, key, stored(value))


# ---------------------------------------------------------------------------------------------
# Writing new nodes.


class _DataFiles:
    """New data files, filled in order; each prefix has its own current file."""

    def __init__(self, target_size: int):
        self.target = target_size
        self.current: dict[bytes, tuple[DataFile, bytearray]] = {}
        self.files: list[tuple[DataFile, bytearray]] = []

    def add(self, prefix: bytes, data: bytes) -> Ref:
        cur = self.current.get(prefix)
        if cur is None or (self.target and len(cur[1]) >= self.target):
            cur = (DataFile(b"", prefix + os.urandom(16).hex().encode()), bytearray())
            self.current[prefix] = cur
            self.files.append(cur)
        offset = len(cur[1])
        cur[1].extend(data)
        return Ref(cur[0], offset, len(data))


class _Builder:
    def __init__(self, config: Config, files: _DataFiles, prefixes: dict[str, bytes]):
        self.config = config
        self.files = files
        self.prefixes = prefixes
        self.limit = max(config.max_decoded_node_bytes, 1)

    def _chunks(self, sizes: list[int], min_per_chunk: int) -> list[tuple[int, int]]:
        total = sum(sizes) + _NODE_OVERHEAD
        count = max(1, -(-total // self.limit))
        count = min(count, max(1, len(sizes) // min_per_chunk))
        target = total / count
        out = []
        start = 0
        acc = 0
        for i, s in enumerate(sizes):
            if i > start + min_per_chunk - 1 and acc + s > target and len(out) < count - 1:
                out.append((start, i))
                start, acc = i, 0
            acc += s
        out.append((start, len(sizes)))
        return out

    def _write_node(self, node: BtreeNode) -> Ref:
        return self.files.add(self.prefixes["btree"], codec.encode_btree_node(node, self.config.zstd_level))

    def leaf(self, items: list[tuple[bytes, Any]]) -> list[tuple[bytes, int, Ref, Stats]]:
        """Parent entries ``(absolute key, absolute common prefix length, ref, stats)``."""
        if not items:
            return []
        entries = []
        sizes = []
        for key, value in items:
            if isinstance(value, PendingValue):
                if value.ref is None:
                    value.ref = self.files.add(self.prefixes["value"], value.data)
                value = value.ref
            entries.append(LeafEntry(key, value))
            sizes.append(len(key) + (len(value) if isinstance(value, bytes) else 0) + _ENTRY_OVERHEAD)
        out = []
        for lo, hi in self._chunks(sizes, 1):
            part = entries[lo:hi]
            ref = self._write_node(BtreeNode(0, part))
            indirect = sum(e.value.length for e in part if not isinstance(e.value, bytes))
            out.append((part[0].key, 0, ref, Stats(len(part), ref.length, indirect)))
        return out

    def interior(self, height: int, items: list[tuple[bytes, int, Ref, Stats]]) -> list[tuple[bytes, int, Ref, Stats]]:
        sizes = [len(k) + _INTERIOR_OVERHEAD for k, _c, _r, _s in items]
        out = []
        for lo, hi in self._chunks(sizes, 2):
            part = items[lo:hi]
            node = BtreeNode(height, [InteriorEntry(k, c, r, s) for k, c, r, s in part])
            ref = self._write_node(node)
            stats = Stats(0, ref.length, 0)
            for _k, _c, _r, s in part:
                stats = stats + s
            out.append((part[0][0], 0, ref, stats))
        return out

    def rebuild(self, node: _Loaded) -> list[tuple[bytes, int, Ref, Stats]]:
        if node.height == 0:
            assert node.leaf is not None
            return self.leaf(sorted(node.leaf.items()))
        items: list = []
        for i, e in enumerate(node.entries):
            child = node.children.get(i)
            if child is None and i in node.dropped:
                continue
            if child is not None and child.dirty:
                items.extend(self.rebuild(child))
            else:
                items.append((node.prefix + e.key, len(node.prefix) + e.subtree_common_prefix_length, e.ref, e.stats))
        if not items:
            return []
        return self.interior(node.height, items)

    def root(self, root: _Loaded) -> tuple[Ref | None, int, Stats]:
        level = self.rebuild(root)
        height = root.height
        while True:
            if not level:
                return None, 0, Stats()
            if len(level) == 1 and level[0][1] == 0:
                return level[0][2], height, level[0][3]
            height += 1
            level = self.interior(height, level)


# ---------------------------------------------------------------------------------------------
# Versions.


def _children(entry: VersionNodeEntry, arity_log2: int) -> int:
    return entry.num_generations >> (arity_log2 * entry.height)


def _version_to_load(m: Manifest, new_generation: int) -> VersionNodeEntry | None:
    """The manifest's partial version node a new leaf block will be appended to, if any."""
    b = m.config.version_tree_arity_log2
    if (new_generation - 1) % (1 << b) != 0 or new_generation == 1:
        return None
    height = 1
    for e in reversed(m.version_nodes):
        if e.height != height:
            return None
        if _children(e, b) < (1 << b):
            return e
        height += 1
    return None


def _push_versions(m: Manifest, new: VersionEntry, loaded: VersionTreeNode | None, files: _DataFiles,
                   prefix: bytes) -> tuple[list[VersionEntry], list[VersionNodeEntry]]:
    """The inline versions and version node list of the manifest after adding `new`."""
    assert m.versions is not None
    config = m.config
    b = config.version_tree_arity_log2
    if (new.generation - 1) % (1 << b) != 0 or not m.versions:
        return list(m.versions) + [new], list(m.version_nodes)

    def write(node: VersionTreeNode) -> Ref:
        return files.add(prefix, codec.encode_version_node(node, config.zstd_level))

    def entry_for(node: VersionTreeNode, ref: Ref) -> VersionNodeEntry:
        if node.height == 0:
            count = len(node.entries)
            first_time = node.entries[0].commit_time
        else:
            count = sum(e.num_generations for e in node.entries)
            first_time = node.entries[0].commit_time
        return VersionNodeEntry(node.entries[-1].generation, ref, count, first_time, node.height)

    leaf = VersionTreeNode(0, b, list(m.versions))
    carry = entry_for(leaf, write(leaf))
    nodes = list(m.version_nodes)
    below: list[VersionNodeEntry] = []
    while True:
        height = carry.height + 1
        if nodes and nodes[-1].height == height:
            last = nodes[-1]
            if _children(last, b) < (1 << b):
                assert loaded is not None and loaded.height == height
                node = VersionTreeNode(height, b, list(loaded.entries) + [carry._replace(height=height - 1)])
                nodes[-1] = entry_for(node, write(node))
                break
            nodes.pop()
            node = VersionTreeNode(height, b, [carry._replace(height=height - 1)])
            below.append(entry_for(node, write(node)))
            carry = last
            continue
        node = VersionTreeNode(height, b, [carry._replace(height=height - 1)])
        nodes.append(entry_for(node, write(node)))
        break
    nodes.extend(reversed(below))
    return [new], nodes


# ---------------------------------------------------------------------------------------------
# The commit.


def initial_manifest(config: Config, now_ns: int) -> Manifest:
    return Manifest(config, [VersionEntry(1, 0, None, Stats(), now_ns)], [])


def _now_ns() -> int:
    return time.time_ns()


def commit(db: Database, spec: Any, ops: list, fresh: bool = False, attempt: int = 0) -> Future:
    """Applies `ops` in one new version; settles their promises.  Future of None."""
    if attempt >= _MAX_ATTEMPTS:
        return futures.failed(StatusError("ABORTED", f"Too many concurrent commits to {db.describe()}"))
    state = None if fresh else db.cached_state()
    loaded_state = futures.ready(state) if state is not None else db.manifest()

    def with_state(st: ManifestState) -> Any:
        if st.manifest is None or st.manifest.versions is None:
            if spec.options.get("assume_config"):
                # The configuration is taken as given: this commit itself is generation 1.
                return futures.chain(_create(db, spec, st, with_first_version=False),
                                     lambda config: _commit_on(db, spec, ops, _empty(st, config), attempt, True))
            return futures.chain(_create(db, spec, st), lambda _: commit(db, spec, ops, True, attempt + 1))
        return _commit_on(db, spec, ops, st, attempt, fresh or state is None)

    return futures.chain(loaded_state, with_state)


def _empty(st: ManifestState, config: Config) -> ManifestState:
    """A database without versions yet, whose manifest is to be written only if absent."""
    return ManifestState(Manifest(config, [], []), gen.NO_VALUE, st.time, st.config_generation)


def _create(db: Database, spec: Any, st: ManifestState, with_first_version: bool = True) -> Future:
    """Writes a new database's first manifest (generation 1, empty) unless one appeared;
    without `with_first_version`, only a numbered database's manifest.ocdbt.  Future of the
    configuration."""
    import dataclasses

    if st.manifest is not None:
        config = st.manifest.config
    else:
        config = spec.constraints.create()
    base = db.base
    first = initial_manifest(config, _now_ns())
    if config.manifest_kind == codec.SINGLE:
        if not with_first_version:
            return futures.ready(config)
        wrote = base.write(db.prefix + MANIFEST, codec.encode_manifest(first), WriteOptions(if_equal=gen.NO_VALUE))
        return futures.chain(wrote, lambda _: config)

    def numbered_first(_stamp: Any) -> Any:
        if not with_first_version:
            return config
        single = dataclasses.replace(config, manifest_kind=codec.SINGLE)
        wrote = base.write(db.prefix + numbered_name(1), codec.encode_manifest(Manifest(single, first.versions, [])),
                           WriteOptions(if_equal=gen.NO_VALUE))
        return futures.chain(wrote, lambda _: config)

    if st.manifest is None:
        only_config = codec.encode_manifest(Manifest(config, None, []))
        wrote = base.write(db.prefix + MANIFEST, only_config, WriteOptions(if_equal=gen.NO_VALUE))
        return futures.chain(wrote, numbered_first)
    return futures.ready(numbered_first(None))


def _commit_on(db: Database, spec: Any, ops: list, st: ManifestState, attempt: int, fresh: bool) -> Future:
    m = st.manifest
    assert m is not None and m.versions is not None
    latest = m.latest if m.versions else VersionEntry(0, 0, None, Stats(), 0)
    keys: list[bytes] = []
    ranges: list[KeyRange] = []
    for op in ops:
        if isinstance(op, SetOp):
            keys.append(op.key)
        elif isinstance(op, DeleteRangeOp):
            ranges.append(op.key_range)
        else:
            keys.extend(k for k, _v, _c in op.writes)
    new_generation = latest.generation + 1
    to_load = _version_to_load(m, new_generation)
    region = _load_region(db, m, latest, keys, ranges)
    version_node = (db.version_node(to_load.ref, to_load.height, m.config.version_tree_arity_log2)
                    if to_load is not None else futures.ready(None))

    def build(parts: list) -> Any:
        root, vnode = parts
        _apply(root, ops, m.config)
        unchanged = not root.dirty
        failed = any(isinstance(op, (SetOp, AtomicOp)) and not op.applied for op in ops)
        if (unchanged or failed) and not fresh:
            # Decided on a manifest from the cache: make sure against the stored one.
            return None
        if unchanged:
            return time.time()
        files = _DataFiles(spec.target_data_file_size)
        prefixes = {
            "value": spec.prefix("value_data_prefix").encode(),
            "btree": spec.prefix("btree_node_data_prefix").encode(),
            "version": spec.prefix("version_tree_node_data_prefix").encode(),
        }
        ref, height, stats = _Builder(m.config, files, prefixes).root(root)
        commit_time = max(_now_ns(), latest.commit_time + 1)
        new = VersionEntry(new_generation, height, ref, stats, commit_time)
        versions, nodes = _push_versions(m, new, vnode, files, prefixes["version"])
        manifest = Manifest(m.config, versions, nodes)
        writes = [db.base.write(db.prefix + f.path, bytes(data), WriteOptions()) for f, data in files.files]
        return futures.chain(futures.gather(writes), lambda _: _write_manifest(db, st, manifest))

    def written(result: Any) -> Any:
        if result is None:  # another writer committed first: start over from its manifest
            for op in ops:
                if isinstance(op, (SetOp, AtomicOp)):
                    op.applied = False
            return commit(db, spec, ops, True, attempt + 1)
        stamp_time = result
        for op in ops:
            if isinstance(op, SetOp):
                if not op.applied:
                    futures._settle(op.promise, result=TimestampedStorageGeneration(gen.UNKNOWN, stamp_time))
                    continue
                value = op.final
                if isinstance(value, PendingValue):
                    value = value.ref
                futures._settle(op.promise, result=TimestampedStorageGeneration(_generation_of(value), stamp_time))
            elif isinstance(op, DeleteRangeOp):
                futures._settle(op.promise, result=None)
            else:
                futures._settle(op.promise, result=op.applied)
        return None

    return futures.chain(futures.chain(futures.gather([region, version_node]), build), written)


def _write_manifest(db: Database, st: ManifestState, manifest: Manifest) -> Future:
    """Future of the write time, or None if the manifest changed since `st` was read."""
    import dataclasses

    config = manifest.config
    if config.manifest_kind == codec.SINGLE:
        key = db.prefix + MANIFEST
        data = codec.encode_manifest(manifest)
        condition = st.generation
    else:
        key = db.prefix + numbered_name(manifest.latest.generation)
        data = codec.encode_manifest(dataclasses.replace(manifest, config=dataclasses.replace(config, manifest_kind=codec.SINGLE)))
        condition = gen.NO_VALUE

    def done(stamp: TimestampedStorageGeneration) -> Any:
        if stamp.generation == gen.UNKNOWN:
            return None
        db.note_written(ManifestState(manifest, stamp.generation, stamp.time, st.config_generation))
        return stamp.time

    return futures.chain(db.base.write(key, data, WriteOptions(if_equal=condition)), done)
