"""Dask arrays over TensorStores, aligned to the storage grid.

``to_dask(store)`` gives a Dask array whose blocks are whole read chunks (or multiples of
them), one ``read`` per block.  ``store_dask(darr, store)`` writes a Dask array into a store so
that no two tasks ever write the same stored chunk (zarr v2 chunk, zarr3 shard, n5 block):
blocks whose boundaries cut through a stored chunk are rechunked onto the write-chunk grid
first, or, with ``rechunk=False``, refused with an error naming the boundary.  Two tasks that
write parts of one chunk at once each read it, merge and write it back; with a store that
honours no write conditions (zarr-python's, or a file store without locking) one of the two
writes is lost.  This package's stores merge conditionally and lose nothing even then, but
every collision costs a retry; aligned blocks cost none.

Stores pickle by spec, so both work on the threaded, process and distributed schedulers.
Needs the ``dask`` extra (``pip install 'tensorstore_py[dask]'``).
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np

from .index import OutputIndexMethod
from .tensorstore import TensorStore

__all__ = ["to_dask", "store_dask", "write_chunk_cuts", "aligned_chunks"]

# Per input dimension of a view: ANY (a block may end anywhere), or a sorted array of the
# positions (0 < p < n) where a block may end.
ANY = None


def _origin_zero(store: TensorStore) -> TensorStore:
    """The view re-indexed from 0 in every dimension (Dask indexes from 0)."""
    from .index.dim_expression import d

    if all(lo == 0 for lo in store.domain.inclusive_min):
        return store
    return store[d[:].translate_to[0]]


def _grid(store: TensorStore, which: str) -> tuple[list, list]:
    """(chunk shape, grid origin) of the driver's `which` ("write_chunk" / "read_chunk") grid,
    in its own index space; 0 where a dimension is not chunked."""
    layout = store._driver.chunk_layout
    shape = getattr(layout, which).shape
    rank = store._driver.domain.rank
    shape = [0 if s is None else int(s) for s in shape] if shape is not None else [0] * rank
    origin = layout.grid_origin
    origin = [0 if o is None else int(o) for o in origin] if origin is not None else [0] * rank
    return shape, origin


def _crossings(offset: int, stride: int, n: int, chunk: int, origin: int) -> Any:
    """Positions p in (0, n) where ``offset + stride * k`` enters a new chunk of the grid
    (``origin + j * chunk``) between k = p - 1 and k = p: the cuts this output dimension allows."""
    if chunk <= 0 or abs(stride) >= chunk:
        return ANY  # not chunked, or every step lands in another chunk
    if stride == 0 or n <= 1:
        return np.empty(0, dtype=np.int64)
    first, last = offset, offset + stride * (n - 1)
    lo, hi = min(first, last), max(first, last)
    # Grid lines g with lo < g <= hi: a step from below g to g or beyond crosses it.
    j0 = (lo - origin) // chunk + 1
    j1 = (hi - origin) // chunk
    if j1 < j0:
        return np.empty(0, dtype=np.int64)
    g = origin + np.arange(j0, j1 + 1, dtype=np.int64) * chunk
    if stride > 0:
        p = -((offset - g) // stride)  # ceil((g - offset) / stride)
    else:
        p = (offset - g) // (-stride) + 1
    p = p[(p > 0) & (p < n)]
    return np.unique(p)


def write_chunk_cuts(store: TensorStore, which: str = "write_chunk") -> list:
    """Per dimension of `store` (indexed from 0), where a block boundary may fall without
    splitting a stored chunk of the `which` grid between two blocks: `ANY` (None), or a sorted
    array of allowed positions (empty: the dimension must stay one block).

    Elements in different blocks differ in some dimension k across an allowed cut; an allowed
    cut moves at least one output dimension that k drives (monotonically) into another chunk,
    so the two elements lie in different stored chunks.  Dimensions that no output depends on
    (every position is the same element) or that an index array depends on allow no cut.
    """
    view = _origin_zero(store)
    t = view._transform
    shape = [int(s) for s in view.shape]
    chunk, origin = _grid(view, which)
    rank = len(shape)
    cuts: list = [np.empty(0, dtype=np.int64) for _ in range(rank)]
    frozen = [False] * rank
    for out, m in enumerate(t.output):
        if m.method == OutputIndexMethod.single_input_dimension:
            k = m.input_dimension
            c = _crossings(int(m.offset), int(m.stride), shape[k], chunk[out], origin[out])
            if c is ANY or cuts[k] is ANY:
                cuts[k] = ANY
            else:
                cuts[k] = np.union1d(cuts[k], c)
        elif m.method == OutputIndexMethod.array:
            arr = np.asarray(m.index_array)
            for k in range(min(rank, arr.ndim)):
                if arr.shape[k] > 1:
                    frozen[k] = True
    for k in range(rank):
        if frozen[k]:
            cuts[k] = np.empty(0, dtype=np.int64)
    return cuts


def _is_aligned(chunks: Sequence[Sequence[int]], cuts: list) -> list:
    """The (dimension, boundary) pairs of Dask `chunks` that are not allowed cuts."""
    bad = []
    for k, (sizes, allowed) in enumerate(zip(chunks, cuts)):
        if allowed is ANY:
            continue
        bounds = np.cumsum(np.asarray(sizes[:-1], dtype=np.int64))
        wrong = bounds[~np.isin(bounds, allowed)]
        bad.extend((k, int(b)) for b in wrong)
    return bad


def _choose(n: int, allowed: Any, target: int) -> tuple[int, ...]:
    """Block sizes along a dimension of extent `n`, each ending at an allowed cut, as close to
    `target` as the cuts let them be (never smaller than the distance to the next cut)."""
    if n == 0:
        return (0,)
    target = max(1, int(target))
    if allowed is ANY:
        full, rest = divmod(n, target)
        return (target,) * full + ((rest,) if rest else ())
    allowed = np.asarray(allowed, dtype=np.int64)
    sizes = []
    pos = 0
    while pos < n:
        if pos + target >= n:
            sizes.append(n - pos)
            break
        i = int(np.searchsorted(allowed, pos + target, side="right")) - 1
        if i >= 0 and allowed[i] > pos:
            nxt = int(allowed[i])
        else:
            j = int(np.searchsorted(allowed, pos, side="right"))
            nxt = int(allowed[j]) if j < len(allowed) else n
        sizes.append(nxt - pos)
        pos = nxt
    return tuple(sizes)


def aligned_chunks(store: TensorStore, target: Sequence[int], which: str = "write_chunk") -> tuple:
    """Dask chunks for `store` with blocks about `target` long per dimension, every boundary
    on the `which` grid (see `write_chunk_cuts`)."""
    cuts = write_chunk_cuts(store, which)
    shape = [int(s) for s in _origin_zero(store).shape]
    return tuple(_choose(n, c, t) for n, c, t in zip(shape, cuts, target))


def _auto_target(store: TensorStore, limit_bytes: int) -> list:
    """Block lengths that are multiples of the read chunk, grown until a block holds about
    `limit_bytes`.

    Over a chunk grid they grow from the first dimension: while every later dimension of the
    block is one chunk long, each chunk is one contiguous run of the block (C order), which a
    read decodes straight into; a block that cuts chunks into strided pieces decodes each into
    a temporary and copies it (in a Dask worker, whose ``MALLOC_TRIM_THRESHOLD_`` hands every
    freed temporary back to the kernel, that is a fresh, page-faulting buffer per chunk: a
    1 GiB sum on 2 one-thread workers took 2.2 s of CPU in 128 MiB blocks of 32 such chunks,
    1.65 s in 64 MiB blocks of 16 whole-run chunks).  A later dimension grows, at that cost,
    only while the block is under a quarter of `limit_bytes` (tasks too small cost more in
    scheduling).  Without a grid in some dimension (an in-memory array) blocks grow from the
    last dimension instead: whole rows of the source, contiguous slabs of its memory.
    """
    view = _origin_zero(store)
    shape = [int(s) for s in view.shape]
    chunk, _ = _grid(view, "read_chunk")
    t = view._transform
    base = [1] * len(shape)
    gridded = [False] * len(shape)
    for out, m in enumerate(t.output):
        if m.method == OutputIndexMethod.single_input_dimension and chunk[out] > 0:
            k = m.input_dimension
            base[k] = max(base[k], max(1, chunk[out] // max(1, abs(int(m.stride)))))
            gridded[k] = True
    itemsize = max(1, store.dtype.numpy_dtype.itemsize)
    target = [min(b, n) if n else 1 for b, n in zip(base, shape)]
    outer_first = all(gridded)
    for k in (range(len(shape)) if outer_first else reversed(range(len(shape)))):
        per_block = itemsize * math.prod(target)
        if per_block >= limit_bytes:
            break
        if outer_first and per_block >= limit_bytes // 4 and any(target[j] > 1 for j in range(k)):
            break  # growing dimension k would cut every chunk of the block into strided pieces
        factor = max(1, limit_bytes // per_block)
        target[k] = min(max(shape[k], 1), target[k] * factor)
        # keep it a multiple of the read chunk unless it is the whole dimension
        if target[k] < shape[k]:
            target[k] = max(base[k], target[k] // base[k] * base[k])
    return target


def to_dask(store: TensorStore, chunks: Any = None, *, name: str | None = None) -> Any:
    """A Dask array reading `store` (indexed from 0, as Dask indexes), one read per block.

    `chunks` None: whole read chunks, as many per block as fit Dask's ``array.chunk-size``
    setting, every boundary on the read-chunk grid.  Anything else is passed to Dask as is.
    """
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask.utils import parse_bytes

    if not isinstance(store, TensorStore):
        raise TypeError(f"to_dask expects a tensorstore_py.TensorStore, not {type(store).__name__}")
    view = _origin_zero(store)
    if chunks is None:
        limit = parse_bytes(dask.config.get("array.chunk-size"))
        chunks = aligned_chunks(view, _auto_target(view, limit), "read_chunk")
    if name is None:
        # Not a pickle of the store: two in-memory stores with equal specs are different data.
        name = "tensorstore-" + tokenize(repr(view.spec()), id(view._driver), chunks)
    meta = np.empty((0,) * view.rank, dtype=view.dtype.numpy_dtype)
    source = _BlockSource(view)
    arr = da.from_array(source, chunks=chunks, name=name, lock=False, asarray=False, fancy=False, meta=meta)
    source.n_blocks = math.prod(arr.numblocks)
    return arr


class _BlockSource:
    """What to_dask's tasks index: `view`, each block read on the task's own thread when the
    graph has a block for every core (Dask then runs one read per core at once), else on the
    store's pool.  Dask sizes its threads to the cores (its workers even set
    ``OMP_NUM_THREADS=1``); a pool of its own under every task oversubscribes them, and its
    threads contend for the first touches of one output: on 2 cores with 2 one-thread workers
    a 1 GiB sum cost 5-7 % less CPU read on the tasks' threads (1.70 s against 1.78 s;
    blocks of strided chunk pieces 2.19 s against 2.35 s).  Dask's own getter indexes it, so
    Dask's optimizations treat the graph as any ``from_array`` graph."""

    __slots__ = ("view", "n_blocks", "shape", "dtype", "ndim")

    def __init__(self, view: TensorStore, n_blocks: int = 1):
        self.view = view
        self.n_blocks = n_blocks
        self.shape = tuple(int(n) for n in view.shape)
        self.dtype = view.dtype.numpy_dtype
        self.ndim = len(self.shape)

    def __reduce__(self) -> Any:
        return (_BlockSource, (self.view, self.n_blocks))

    def __getitem__(self, index: Any) -> np.ndarray:
        block = self.view[index]
        if self.n_blocks >= _cores():
            driver = _local_chunked_driver(block)
            if driver is not None:
                return driver.read(block._transform, None, None, None, inline=True).result()
        return block.read().result()


def _cores() -> int:
    """The cores this process may run on (its affinity, which a container or a cluster's
    worker may narrow, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _local_chunked_driver(view: TensorStore) -> Any:
    """The opened chunked driver of a readable `view` outside a transaction (whose read can
    run on the calling thread), else None."""
    from .driver.chunked import ChunkedDriver

    if not view._read or view._transaction is not None:
        return None
    current = view._driver.current(None)
    if not current.done() or current.cancelled() or current.exception() is not None:
        return None
    driver = current.result()
    return driver if isinstance(driver, ChunkedDriver) else None


def store_dask(
    darr: Any,
    store: TensorStore,
    *,
    rechunk: bool = True,
    compute: bool = True,
    **kwargs: Any,
) -> Any:
    """Writes Dask array `darr` into `store` (same shape) so that no two tasks write one stored
    chunk: blocks are rechunked onto the store's write-chunk grid (zarr3: the shard grid) when
    their boundaries are not on it.  With ``rechunk=False`` such blocks raise ``ValueError``
    instead.  Other keyword arguments go to ``dask.array.store``; returns what it returns.
    """
    import dask.array as da

    if not isinstance(store, TensorStore):
        raise TypeError(f"store_dask expects a tensorstore_py.TensorStore, not {type(store).__name__}")
    if not store.writable:
        raise ValueError("store_dask: the store is not open for writing")
    if "lock" in kwargs and kwargs["lock"] not in (False, None):
        raise ValueError("store_dask: blocks are aligned to stored chunks, so no lock is needed (or taken)")
    kwargs.pop("lock", None)
    view = _origin_zero(store)
    shape = tuple(int(s) for s in view.shape)
    if tuple(darr.shape) != shape:
        raise ValueError(f"store_dask: Dask array shape {tuple(darr.shape)} differs from the store's shape {shape}")
    cuts = write_chunk_cuts(view)
    bad = _is_aligned(darr.chunks, cuts)
    if bad:
        if not rechunk:
            k, b = bad[0]
            raise ValueError(
                f"store_dask: Dask block boundary at index {b} of dimension {k} splits a stored "
                f"chunk of the write-chunk grid ({_describe_grid(view)}), so two tasks would "
                f"write the same chunk at once; pass rechunk=True, or rechunk to "
                f"`aligned_chunks(store, ...)` ({len(bad)} misaligned boundar{'y' if len(bad) == 1 else 'ies'})"
            )
        target = [max(sizes) if sizes else 1 for sizes in darr.chunks]
        darr = darr.rechunk(tuple(_choose(n, c, t) for n, c, t in zip(shape, cuts, target)))
    return da.store(darr, view, lock=False, compute=compute, **kwargs)


def _describe_grid(view: TensorStore) -> str:
    chunk, origin = _grid(view, "write_chunk")
    return f"chunk shape {chunk}, grid origin {origin} in the array's index space"
