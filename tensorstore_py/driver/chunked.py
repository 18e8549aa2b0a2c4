"""The chunked engine every chunked format shares.

A format package supplies a `ChunkFormat` (keys, encode/decode, fill); this module turns reads
and writes through an `IndexTransform` into per-chunk kvstore operations:

* read: each chunk is fetched through the kvstore, decoded and copied into the output on the
  data-copy executor, all chunks in flight at once;
* write: a chunk the write covers entirely is encoded straight from the source; any other is
  read, merged and written back on the condition that its generation has not changed, retrying
  on conflict, so concurrent writers never lose each other's data.  A chunk that ends up equal
  to the fill value is deleted rather than stored, as TensorStore does.
"""

from __future__ import annotations

import abc
import concurrent.futures
import time
from typing import Any, Callable, Sequence

import numpy as np

from .. import future as futures
from ..batch import batched_read
from ..errors import StatusError, failed_precondition
from ..future import Future
from ..json_util import dumps
from ..kvstore.driver import ReadOptions, WriteOptions
from ..kvstore.generation import NO_VALUE, UNKNOWN
from . import partition

try:
    from .._ext import copy as _copy_ext
except ImportError:  # pragma: no cover - only before the extension is built
    _copy_ext = None

__all__ = ["ChunkFormat", "ChunkedArray", "WriteFutures", "copy_array"]


class ChunkFormat(abc.ABC):
    """What a format tells the engine about one opened array (one metadata snapshot)."""

    #: Shape of one grid cell over every array dimension.
    chunk_shape: tuple[int, ...]
    #: The array's shape; its domain is [origin, origin + shape).
    shape: tuple[int, ...]
    #: Where the domain and the chunk grid start (cell k of dim d begins at origin + k * chunk).
    origin: tuple[int, ...] | None = None
    #: User-visible element dtype (native byte order).
    numpy_dtype: np.dtype
    #: True when writing the component rewrites the whole stored chunk (no other fields).
    component_covers_chunk: bool = True

    @abc.abstractmethod
    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        """The kvstore key of a grid cell."""

    @abc.abstractmethod
    def decode_chunk(self, data: bytes, cell: tuple[int, ...]) -> np.ndarray:
        """The full stored chunk of grid cell `cell` from its encoded bytes (raise on corrupt data)."""

    @abc.abstractmethod
    def new_chunk(self) -> np.ndarray:
        """A writable full stored chunk holding the fill value."""

    @abc.abstractmethod
    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes | None:
        """Encoded bytes of the full stored chunk of `cell`; None if it equals the fill value."""

    @abc.abstractmethod
    def component(self, chunk: np.ndarray) -> np.ndarray:
        """View of the user-visible component of a full stored chunk (shape `chunk_shape`)."""

    @abc.abstractmethod
    def fill_value(self) -> np.ndarray:
        """The fill value, broadcastable to a chunk's component."""

    def cell_of_key(self, key: bytes) -> tuple[int, ...] | None:
        """The grid cell a stored key names, or None if it is not a chunk of this array."""
        return None

    def describe_chunk(self, cell: tuple[int, ...]) -> str:
        return dumps(self.chunk_key(cell).decode("utf-8", "replace"))


def copy_array(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[...] = src, through the GIL-free Cython kernel when the layouts allow it."""
    if (
        _copy_ext is not None
        and dst.dtype == src.dtype
        and dst.shape == src.shape
        and not dst.dtype.hasobject
        and dst.size >= 4096
    ):
        _copy_ext.strided_copy(dst, src)
    else:
        np.copyto(dst, src, casting="unsafe")


class WriteFutures(Future):
    """The result of a write: `copy` (source consumed) and `commit` (data durable)."""

    def __init__(self, copy: Future, commit: Future):
        super().__init__()
        self.copy = copy
        self.commit = commit
        futures._link(commit, self)


class ChunkedArray:
    """Reads and writes one chunked array through index transforms."""

    def __init__(
        self,
        fmt: ChunkFormat,
        kvstore_driver: Any,
        copy_executor: concurrent.futures.Executor,
        cache: Any = None,
        staleness: Callable[[], float] | None = None,
    ):
        self.fmt = fmt
        self.kv = kvstore_driver
        self.executor = copy_executor
        #: `chunk_cache.ChunkCache` or None; `staleness()` is the time before which cached
        #: chunks must be revalidated (see chunk_cache.py).
        self.cache = cache
        self.staleness = staleness

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, transform):
        maps, origin, shape = partition.analyze(transform)
        if self.fmt.origin is not None and any(self.fmt.origin):
            # Partition in grid-relative coordinates: cell k starts at k * chunk.
            maps = [partition.shift(m, -o) for m, o in zip(maps, self.fmt.origin)]
        if partition.is_strided(maps):
            cells = list(partition.strided_cells(maps, origin, shape, self.fmt.chunk_shape, self.fmt.shape))
            return "strided", maps, shape, cells
        cells = partition.point_cells(maps, origin, shape, self.fmt.chunk_shape, self.fmt.shape)
        return "points", maps, shape, cells

    # -- reading ----------------------------------------------------------------------------

    def read(self, transform, batch: Any = None) -> Future:
        """Future of a new array holding the data at every position of `transform`'s domain.

        `batch` (a `batch.BatchState`): chunk reads are queued in it until it is submitted.
        """
        kind, maps, shape, cells = self._plan(transform)
        out = np.empty(shape, dtype=self.fmt.numpy_dtype)
        if kind == "strided":
            perm, missing = partition.strided_axes(maps, len(shape))
            place = lambda cell, src: _place_strided(out, cell, src, perm, missing)  # noqa: E731
        else:
            place = lambda cell, src: _place_points(out, cell, src)  # noqa: E731
        pending = [self._read_cell(cell, place, batch) for cell in cells]
        return futures.chain(futures.gather(pending), lambda _: out)

    def _read_cell(self, cell, place: Callable, batch: Any = None) -> Future:
        key = self.fmt.chunk_key(cell.cell)
        cache = self.cache
        if cache is None:

            def copy(result) -> None:
                if result.state != "value":
                    place(cell, np.broadcast_to(self.fmt.fill_value(), self.fmt.chunk_shape))
                    return
                place(cell, self.fmt.component(self._decode(key, result.value, cell.cell)))

            return futures.chain(batched_read(batch, self.kv, key, ReadOptions()), copy, self.executor)

        cache_key = (id(self.kv), key)
        entry = cache.get(cache_key)
        if entry is not None and entry.time >= self.staleness():
            return futures.submit(self.executor, lambda: place(cell, self.fmt.component(entry.chunk)))
        options = ReadOptions() if entry is None else ReadOptions(if_not_equal=entry.generation)

        def copy_cached(result) -> None:
            if result.state == "unspecified" and entry is not None:  # unchanged since cached
                cache.confirm(cache_key, entry.generation, result.stamp.time)
                chunk = entry.chunk
            elif result.state == "value":
                chunk = self._decode(key, result.value, cell.cell)
                cache.put(cache_key, chunk, result.stamp.generation, result.stamp.time)
            else:
                cache.discard(cache_key)
                place(cell, np.broadcast_to(self.fmt.fill_value(), self.fmt.chunk_shape))
                return
            place(cell, self.fmt.component(chunk))

        return futures.chain(batched_read(batch, self.kv, key, options), copy_cached, self.executor)

    def _decode(self, key: bytes, value: bytes, cell: tuple[int, ...]) -> np.ndarray:
        try:
            return self.fmt.decode_chunk(value, cell)
        except (ValueError, TypeError) as exc:
            # As TensorStore: undecodable stored bytes are a failed precondition of the read.
            message = exc.message if isinstance(exc, StatusError) else str(exc)
            raise failed_precondition(f"Error reading {self.kv.describe_key(key)}: {message}") from None

    # -- writing ----------------------------------------------------------------------------

    def write(self, transform, source: np.ndarray) -> WriteFutures:
        """Writes `source` (shaped like `transform`'s domain, of the array's dtype)."""
        kind, maps, shape, cells = self._plan(transform)
        if kind == "strided":
            perm, missing = partition.strided_axes(maps, len(shape))
            take = lambda cell, dst: _take_strided(dst, cell, source, perm, missing)  # noqa: E731
        else:
            flat_source = np.ascontiguousarray(source).reshape(-1)
            take = lambda cell, dst: _take_points(dst, cell, flat_source)  # noqa: E731
        copies, commits = [], []
        for cell in cells:
            copied: Future = Future()
            copies.append(copied)
            full = kind == "strided" and cell.covers and self.fmt.component_covers_chunk
            commits.append(self._write_cell(cell, take, full, copied))
        return WriteFutures(
            futures.chain(futures.gather(copies), lambda _: None),
            futures.chain(futures.gather(commits), lambda _: None),
        )

    def _write_cell(self, cell, take: Callable, full: bool, copied: Future) -> Future:
        key = self.fmt.chunk_key(cell.cell)

        def merge(existing: bytes | None) -> bytes | None:
            chunk = self.fmt.new_chunk() if existing is None else np.array(self._decode(key, existing, cell.cell))
            take(cell, self.fmt.component(chunk))
            if not copied.done():
                copied.set_result(None)
            return self.fmt.encode_chunk(chunk, cell.cell)

        def fail_copy(f: concurrent.futures.Future) -> None:
            if self.cache is not None:
                self.cache.discard((id(self.kv), key))  # the cached chunk is replaced
            if f.exception() is not None and not copied.done():
                copied.set_exception(f.exception())

        if full:
            encoded = futures.submit(self.executor, merge, None)
            done = futures.chain(encoded, lambda data: self.kv.write(key, data, WriteOptions()))
            done.add_done_callback(fail_copy)
            return futures.chain(done, lambda _: None)

        def attempt() -> Future:
            read = self.kv.read(key, ReadOptions())

            def merged(result):
                existing = result.value if result.state == "value" else None
                generation = result.stamp.generation if result.state == "value" else NO_VALUE
                return futures.chain(
                    futures.submit(self.executor, merge, existing),
                    lambda data: futures.chain(
                        self.kv.write(key, data, WriteOptions(if_equal=generation)),
                        lambda stamp: attempt() if stamp.generation == UNKNOWN else None,
                    ),
                )

            return futures.chain(read, merged)

        done = attempt()
        done.add_done_callback(fail_copy)
        return done


# ---------------------------------------------------------------------------------------------
# Copies between a chunk's component and the user array.


def _arrange_for_user(view: np.ndarray, perm: Sequence[int], missing: Sequence[int], shape: tuple) -> np.ndarray:
    """Chunk view (array-dim order) -> view in input-dim order broadcast to `shape`."""
    v = view.transpose(perm) if list(perm) != list(range(view.ndim)) else view
    for j in missing:
        v = np.expand_dims(v, j)
    return np.broadcast_to(v, shape) if v.shape != shape else v


# Indexing with a trailing Ellipsis keeps 0-d results as views rather than scalars.


def _place_strided(out: np.ndarray, cell, src: np.ndarray, perm, missing) -> None:
    dst = out[cell.user_index + (Ellipsis,)]
    copy_array(dst, _arrange_for_user(src[cell.chunk_index + (Ellipsis,)], perm, missing, dst.shape))


def _take_strided(dst_chunk: np.ndarray, cell, source: np.ndarray, perm, missing) -> None:
    region = source[cell.user_index + (Ellipsis,)]
    # Input dimensions no output depends on all map to the same element: any one will do.
    if missing:
        index = tuple(0 if j in missing else slice(None) for j in range(region.ndim))
        region = region[index]
    inverse = np.argsort(perm) if len(perm) else perm
    region = region.transpose(inverse) if list(inverse) != list(range(region.ndim)) else region
    dst = dst_chunk[cell.chunk_index + (Ellipsis,)]
    copy_array(dst, region)


def _place_points(out: np.ndarray, cell, src: np.ndarray) -> None:
    flat = out.reshape(-1)
    flat[cell.user_positions] = src[cell.chunk_coords]


def _take_points(dst_chunk: np.ndarray, cell, flat_source: np.ndarray) -> None:
    dst_chunk[cell.chunk_coords] = flat_source[cell.user_positions]


class ChunkedDriver:
    """What every opened chunked-format array shares (a mixin for `OpenedDriver`s).

    Binds the spec's `cache_pool` and `data_copy_concurrency` resources, runs reads and writes
    through the engine after resolving the view's transform against the array's current
    bounds, and writes the spec JSON members all formats have.  A format supplies its
    `ChunkFormat`, its domain and `format_members_json`.
    """

    driver_id: str = ""

    def _bind(self, spec: Any, kvstore_driver: Any, path: str, context: Any) -> None:
        self.spec = spec
        self.context = context
        self.kv = kvstore_driver
        self.path = path
        self.cache_pool = context.get_resource("cache_pool", spec.resources.get("cache_pool"))
        self.data_copy = context.get_resource("data_copy_concurrency", spec.resources.get("data_copy_concurrency"))

    def _start_engine(self, fmt: ChunkFormat, domain: Any, chunk_kvstore: Any = None) -> None:
        from ..index import IndexDomain

        from .chunk_cache import cache_for_pool, staleness_bound

        self.format = fmt
        self.engine = ChunkedArray(
            fmt,
            self.kv if chunk_kvstore is None else chunk_kvstore,
            self.data_copy.executor,
            cache=cache_for_pool(self.cache_pool),
            staleness=staleness_bound(self.spec.recheck_cached_data, time.time()),
        )
        self._domain = domain
        # I/O resolves against the bounds as they are now: resizable bounds are not open-ended.
        d = domain
        self._io_domain = IndexDomain._make(d._lo, d._hi, [False] * d.rank, [False] * d.rank, d._labels)

    @property
    def domain(self) -> Any:
        return self._domain

    def read(self, transform, batch: Any = None) -> Future:
        from ..index.compose import propagate_bounds

        return self.engine.read(propagate_bounds(transform, self._io_domain), batch)

    def write(self, transform, array: np.ndarray) -> WriteFutures:
        from ..index.compose import propagate_bounds

        return self.engine.write(propagate_bounds(transform, self._io_domain), array)

    def format_members_json(self, minimal: bool) -> dict:
        """The format's own spec members (metadata unless `minimal`)."""
        return {}

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        from ..json_util import MISSING

        j: dict[str, Any] = {"driver": self.driver_id, "dtype": self.dtype.name}
        j["kvstore"] = self.kv.spec_json(self.path, builder) if builder is not None else self.kv.spec_json(self.path)
        j.update(self.format_members_json(minimal))
        if builder is not None:
            for name, resource in (("cache_pool", self.cache_pool), ("data_copy_concurrency", self.data_copy)):
                member = builder.member_json(resource)
                if member is not MISSING:
                    j[name] = member
        return j

    def context_resources(self) -> list:
        return [self.cache_pool, self.data_copy]

    def delete_chunks_outside(self, shape: Sequence[int]) -> Future:
        """Deletes the stored chunks that lie wholly outside [0, shape) (after a shrink)."""
        from ..kvstore.key_range import KeyRange, prefix_successor

        prefix = self.path.encode()
        chunk_shape = self.format.chunk_shape

        def delete(keys: list) -> Future:
            doomed = []
            for rel in keys:
                cell = self.format.cell_of_key(prefix + rel)
                if cell is not None and any(c * n >= s for c, n, s in zip(cell, chunk_shape, shape)):
                    doomed.append(self.kv.write(prefix + rel, None, WriteOptions()))
            return futures.chain(futures.gather(doomed), lambda _: None)

        listed = self.kv.list(KeyRange(prefix, prefix_successor(prefix)) if prefix else KeyRange(), len(prefix))
        return futures.chain(listed, delete)
