"""Reading an OCDBT database: the manifest (single or numbered), the version tree and B+tree.

`Database` is the read side shared by a driver's reads, lists and commits.  The manifest is
kept with its storage generation and revalidated with an ``if_not_equal`` read when a read
asks for fresher data; concurrent revalidations share one request.  Decoded B+tree and version
tree nodes are immutable once written, so they are cached by location (bounded by bytes).

Everything returns Futures and chains on the base kvstore's reads; nothing waits.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import threading
import time
from typing import Any, NamedTuple

from ... import future as futures
from ...errors import StatusError, data_loss, not_found
from ...future import Future
from .. import generation as gen
from ..driver import KvStoreDriver, ReadOptions
from ..key_range import KeyRange
from . import codec
from .codec import BtreeNode, Manifest, Ref, VersionEntry, VersionNodeEntry
from .spec import ConfigConstraints, format_commit_time, parse_commit_time

__all__ = ["Database", "ManifestState", "value_generation", "NodeView"]

MANIFEST = b"manifest.ocdbt"
NUMBERED_PREFIX = b"manifest."
_NODE_CACHE_BYTES = 64 << 20
_MAX_ATTEMPTS = 32


def value_generation(value: bytes | Ref) -> bytes:
    """The storage generation of a stored value: a digest of the inline bytes, or of where an
    out-of-line value lives (two writes of equal large values are different generations)."""
    h = hashlib.blake2b(digest_size=20)
    if isinstance(value, bytes):
        h.update(b"\0")
        h.update(value)
    else:
        h.update(b"\1%d:%d:%d:" % (len(value.file.path), value.offset, value.length))
        h.update(value.file.path)
    return b"\0" + h.digest()


class ManifestState(NamedTuple):
    """A manifest as read: None if the database does not exist; `generation` is the storage
    generation of the key that held it (`key`: manifest.ocdbt or a numbered one)."""

    manifest: Manifest | None
    generation: bytes
    time: float
    #: for numbered databases, the generation of the config-only manifest.ocdbt
    config_generation: bytes = gen.NO_VALUE


class NodeView(NamedTuple):
    node: BtreeNode
    keys: list[bytes]


def numbered_name(generation: int) -> bytes:
    return b"manifest.%016x" % generation


class Database:
    """The read side of one OCDBT database at `prefix` in `base`."""

    def __init__(self, base: KvStoreDriver, prefix: bytes, constraints: ConfigConstraints):
        self.base = base
        self.prefix = prefix
        self.constraints = constraints
        self._lock = threading.Lock()
        self._state: ManifestState | None = None
        self._loading: tuple[Future, float] | None = None
        self._next: Future | None = None
        self._nodes: collections.OrderedDict = collections.OrderedDict()
        self._node_bytes = 0
        self._node_loads: dict[tuple, Future] = {}

    def describe(self) -> str:
        return self.base.describe_key(self.prefix + MANIFEST)

    # -- the manifest -------------------------------------------------------------------------

    def cached_state(self) -> ManifestState | None:
        with self._lock:
            return self._state

    def manifest(self, staleness_bound: float | None = None) -> Future:
        """Future of a `ManifestState` at least as fresh as `staleness_bound` (None: now)."""
        bound = time.time() if staleness_bound is None else staleness_bound
        with self._lock:
            state = self._state
            if state is not None and state.time >= bound:
                return futures.ready(state)
            if self._loading is not None:
                if self._loading[1] >= bound:
                    return self._loading[0]
                # A load started before the bound is in flight: one more load, started when it
                # ends, serves every request that arrives meanwhile (as TensorStore's cache).
                if self._next is None:
                    self._next = Future()
                return self._next
            pending: Future = Future()
            self._loading = (pending, time.time())
        self._start_load(pending, state)
        return pending

    def _start_load(self, pending: Future, state: ManifestState | None) -> None:
        try:
            loaded = self._load(state, 0)
        except BaseException as exc:  # noqa: BLE001 - never leave the shared load pending
            loaded = futures.failed(exc)

        def settle(f: Future) -> None:
            with self._lock:
                if f.exception() is None:
                    new = f.result()
                    if self._state is None or new.time >= self._state.time:
                        self._state = new
                nxt, self._next = self._next, None
                self._loading = None if nxt is None else (nxt, time.time())
                known = self._state
            futures._link(f, pending)
            if nxt is not None:
                self._start_load(nxt, known)

        loaded.add_done_callback(settle)

    def note_written(self, state: ManifestState) -> None:
        """Records a manifest this process just wrote."""
        with self._lock:
            self._state = state

    def _read(self, key: bytes, options: ReadOptions) -> Future:
        try:
            return self.base.read(key, options)
        except (StatusError, ValueError, OSError) as exc:
            return futures.failed(exc)

    def _load(self, known: ManifestState | None, attempt: int) -> Future:
        if attempt >= _MAX_ATTEMPTS:
            return futures.failed(data_loss(f"Manifest {self.describe()} kept changing while it was read"))
        single_known = known is not None and known.manifest is not None and known.manifest.config.manifest_kind == codec.SINGLE
        options = ReadOptions(if_not_equal=known.generation if single_known else None)
        key = self.prefix + MANIFEST

        def got(res: Any) -> Any:
            now = res.stamp.time
            if res.state == "missing":
                return ManifestState(None, gen.NO_VALUE, now)
            if res.state == "unspecified":
                assert known is not None
                return known._replace(time=now)
            m = self._decode(res.value, key)
            if m.config.manifest_kind == codec.SINGLE:
                if m.versions is None:
                    raise data_loss(f"Error decoding {self.describe()}: the version tree is missing")
                return ManifestState(m, res.stamp.generation, now)
            if m.versions is not None:
                raise data_loss(f"Error decoding {self.describe()}: a numbered database's manifest.ocdbt holds versions")
            return self._load_numbered(m, res.stamp.generation, now, attempt)

        return futures.chain(self._read(key, options), got)

    def _decode(self, value: bytes, key: bytes, check: bool = True) -> Manifest:
        try:
            m = codec.decode_manifest(value, f"manifest {self.base.describe_key(key)}")
        except StatusError as exc:
            raise exc.with_prefix(f"Error reading {self.base.describe_key(key)}") if exc.code != "DATA_LOSS" else exc
        if check:
            self.constraints.check(m.config)
        return m

    def _load_numbered(self, config_manifest: Manifest, config_generation: bytes, now: float, attempt: int) -> Future:
        start = self.prefix + NUMBERED_PREFIX
        listed = self.base.list(KeyRange(start, self.prefix + b"manifest/"), len(start))

        def got_list(names: list[bytes]) -> Any:
            numbers = [int(n, 16) for n in names if len(n) == 16 and all(c in b"0123456789abcdef" for c in n)]
            if not numbers:
                return ManifestState(Manifest(config_manifest.config, None, []), gen.NO_VALUE, now, config_generation)
            latest = max(numbers)
            key = start + b"%016x" % latest

            def got(res: Any) -> Any:
                if res.state != "value":  # deleted meanwhile: list again
                    return self._load_numbered(config_manifest, config_generation, now, attempt + 1)
                m = self._decode(res.value, key, check=False)
                if m.versions is None or m.config.manifest_kind != codec.SINGLE:
                    raise data_loss(f"Error decoding {self.base.describe_key(key)}: expected a manifest with versions")
                if m.config.uuid != config_manifest.config.uuid:
                    raise data_loss(f"Error decoding {self.base.describe_key(key)}: uuid differs from manifest.ocdbt")
                if m.latest.generation != latest:
                    raise data_loss(f"Error decoding {self.base.describe_key(key)}: its latest generation is "
                                    f"{m.latest.generation}, not {latest}")
                return ManifestState(Manifest(config_manifest.config, m.versions, m.version_nodes),
                                     res.stamp.generation, now, config_generation)

            return futures.chain(self._read(key, ReadOptions()), got)

        return futures.chain(listed, got_list)

    # -- nodes --------------------------------------------------------------------------------

    def read_ref(self, ref: Ref, byte_range: tuple[int, int] | None = None) -> Future:
        """The bytes `ref` names (a sub-range of them with `byte_range`)."""
        lo, hi = (0, ref.length) if byte_range is None else byte_range
        key = self.prefix + ref.file.path
        read = self._read(key, ReadOptions(byte_range=(ref.offset + lo, ref.offset + hi)))

        def got(res: Any) -> bytes:
            if res.state != "value":
                raise data_loss(f"Data file {self.base.describe_key(key)} is missing")
            return res.value

        def annotate(exc: BaseException) -> BaseException:
            if isinstance(exc, StatusError) and exc.code == "OUT_OF_RANGE":
                return data_loss(f"Data file {self.base.describe_key(key)} is shorter than the reference "
                                 f"[{ref.offset}, {ref.offset + ref.length}) needs")
            return exc

        return futures.chain(futures.map_error(read, annotate), got)

    def _cached(self, ident: tuple, load: Any) -> Future:
        """The cached node `ident`, or one shared load of it by ``load()``."""
        with self._lock:
            hit = self._nodes.get(ident)
            if hit is not None:
                self._nodes.move_to_end(ident)
                return futures.ready(hit)
            inflight = self._node_loads.get(ident)
            if inflight is not None:
                return inflight
            pending: Future = Future()
            self._node_loads[ident] = pending
        try:
            loaded = load()
        except BaseException as exc:  # noqa: BLE001
            loaded = futures.failed(exc)

        def settle(f: Future) -> None:
            with self._lock:
                self._node_loads.pop(ident, None)
            futures._link(f, pending)

        loaded.add_done_callback(settle)
        return pending

    def btree_node(self, ref: Ref, height: int, max_decoded_bytes: int) -> Future:
        ident = (b"b", ref)

        def decode(data: bytes) -> NodeView:
            what = f"b+tree node {self.base.describe_key(self.prefix + ref.file.path)} [{ref.offset}, +{ref.length})"
            node = codec.decode_btree_node(data, ref.file.base, max_decoded_bytes, what)
            if node.height != height:
                raise data_loss(f"Error decoding {what}: height {node.height}, expected {height}")
            view = NodeView(node, [e.key for e in node.entries])
            self._remember(ident, view, ref.length)
            return view

        return self._cached(ident, lambda: futures.chain(self.read_ref(ref), decode))

    def version_node(self, ref: Ref, height: int, arity_log2: int) -> Future:
        ident = (b"v", ref)

        def decode(data: bytes) -> Any:
            what = f"version tree node {self.base.describe_key(self.prefix + ref.file.path)} [{ref.offset}, +{ref.length})"
            node = codec.decode_version_node(data, ref.file.base, arity_log2, what)
            if node.height != height:
                raise data_loss(f"Error decoding {what}: height {node.height}, expected {height}")
            self._remember(ident, node, ref.length)
            return node

        return self._cached(ident, lambda: futures.chain(self.read_ref(ref), decode))

    def _remember(self, ident: Any, value: Any, size: int) -> None:
        with self._lock:
            if ident not in self._nodes:
                self._node_bytes += size
            self._nodes[ident] = value
            while self._node_bytes > _NODE_CACHE_BYTES and self._nodes:
                (_, ref), _v = self._nodes.popitem(last=False)
                self._node_bytes -= ref.length

    # -- versions -----------------------------------------------------------------------------

    def find_version(self, m: Manifest, version: Any) -> Future:
        """The `VersionEntry` of `version` (a generation number, or a commit time: the latest
        version committed at or before it); NOT_FOUND if the database has none."""
        assert m.versions is not None
        if version is None:
            return futures.ready(m.latest)
        arity = m.config.version_tree_arity_log2
        if isinstance(version, int):
            def match(v: VersionEntry) -> bool:
                return v.generation == version

            def child_index(entries: list) -> int:
                # the first subtree whose latest generation reaches the one asked for
                for i, e in enumerate(entries):
                    if e.generation >= version:
                        return i
                return -1

            missing = f"Version where generation_number={version} not present"
        else:
            t = parse_commit_time(version)

            def match(v: VersionEntry) -> bool:
                return v.commit_time <= t

            def child_index(entries: list) -> int:
                # the last subtree whose earliest commit is not after the time asked for
                for i in range(len(entries) - 1, -1, -1):
                    if entries[i].commit_time <= t:
                        return i
                return -1

            missing = f"Version where commit_time<={format_commit_time(t, offset_style=True)} not present"

        def in_leaf(entries: list[VersionEntry]) -> VersionEntry | None:
            found = [v for v in entries if match(v)]
            if not found:
                return None
            return found[0] if isinstance(version, int) else found[-1]

        hit = in_leaf(m.versions)
        if hit is not None:
            return futures.ready(hit)
        nodes = m.version_nodes

        def search(entries: list[VersionNodeEntry]) -> Any:
            i = child_index(entries)
            if i < 0:
                raise not_found(missing)
            e = entries[i]
            return futures.chain(self.version_node(e.ref, e.height, arity), descend)

        def descend(node: codec.VersionTreeNode) -> Any:
            if node.height == 0:
                found = in_leaf(node.entries)
                if found is None:
                    raise not_found(missing)
                return found
            return search(node.entries)

        try:
            return search(nodes)
        except StatusError as exc:
            return futures.failed(exc)

    # -- B+tree lookups -----------------------------------------------------------------------

    def lookup(self, m: Manifest, v: VersionEntry, key: bytes) -> Future:
        """Future of the stored value (bytes or `Ref`) of `key` in version `v`, or None."""
        if v.root is None:
            return futures.ready(None)
        limit = m.config.max_decoded_node_bytes

        def step(view: NodeView, prefix: bytes) -> Any:
            if not key.startswith(prefix):
                return None
            rel = key[len(prefix) :]
            node = view.node
            if node.height == 0:
                i = bisect.bisect_left(view.keys, rel)
                if i < len(view.keys) and view.keys[i] == rel:
                    return node.entries[i].value
                return None
            i = bisect.bisect_right(view.keys, rel) - 1
            if i < 0:
                return None
            e = node.entries[i]
            child_prefix = prefix + e.key[: e.subtree_common_prefix_length]
            return futures.chain(self.btree_node(e.ref, node.height - 1, limit), lambda c: step(c, child_prefix))

        return futures.chain(self.btree_node(v.root, v.root_height, limit), lambda view: step(view, b""))

    def lookup_cached(self, v: VersionEntry, key: bytes) -> tuple[bool, Any]:
        """``(True, value or None)`` when every node on the path to `key` is cached, else
        ``(False, None)``: the common case answered without any Future."""
        if v.root is None:
            return True, None
        nodes = self._nodes
        ref, prefix = v.root, b""
        while True:
            view = nodes.get((b"b", ref))
            if view is None:
                return False, None
            if not key.startswith(prefix):
                return True, None
            rel = key[len(prefix) :]
            node = view.node
            if node.height == 0:
                i = bisect.bisect_left(view.keys, rel)
                if i < len(view.keys) and view.keys[i] == rel:
                    return True, node.entries[i].value
                return True, None
            i = bisect.bisect_right(view.keys, rel) - 1
            if i < 0:
                return True, None
            e = node.entries[i]
            prefix = prefix + e.key[: e.subtree_common_prefix_length]
            ref = e.ref

    def entries_in(self, m: Manifest, v: VersionEntry, key_range: KeyRange, keys_only: bool = False) -> Future:
        """Future of the sorted ``[(key, value)]`` of version `v` within `key_range`."""
        if v.root is None:
            return futures.ready([])
        limit = m.config.max_decoded_node_bytes
        lo, hi = key_range.inclusive_min, key_range.exclusive_max

        def visit(view: NodeView, prefix: bytes, upper: bytes | None) -> Any:
            node = view.node
            if node.height == 0:
                out = []
                for e in node.entries:
                    k = prefix + e.key
                    if k >= lo and (not hi or k < hi):
                        out.append((k, e.value))
                return out
            pending = []
            n = len(node.entries)
            for i, e in enumerate(node.entries):
                start = prefix + e.key
                end = prefix + node.entries[i + 1].key if i + 1 < n else upper
                if hi and start >= hi:
                    break
                if end is not None and end <= lo:
                    continue
                child_prefix = prefix + e.key[: e.subtree_common_prefix_length]
                pending.append(futures.chain(
                    self.btree_node(e.ref, node.height - 1, limit),
                    lambda c, p=child_prefix, u=end: visit(c, p, u)))
            return futures.chain(futures.gather(pending), lambda parts: [x for part in parts for x in part])

        return futures.chain(self.btree_node(v.root, v.root_height, limit), lambda view: visit(view, b"", None))
