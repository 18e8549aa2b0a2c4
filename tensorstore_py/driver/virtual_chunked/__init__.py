"""``ts.virtual_chunked``: a TensorStore whose chunks are computed (and stored) by Python
functions.

The view is a chunked array like any stored format: reads and writes go through the chunked
engine (grid partitioning, the chunk cache of the context's ``cache_pool``, read-modify-write
of partially written chunks, transactions), with `callbacks.CallbackStore` in place of a
key-value store.  Its state is plain attributes (functions, loop, schema, context), which is
all pickling needs.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Iterable

import numpy as np

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...index import IndexDomain, IndexTransform
from ..base import DriverSpec
from ..chunked import ChunkedArray, ChunkFormat
from ..driver import Driver
from .callbacks import CallbackStore, VirtualChunkedReadParameters, VirtualChunkedWriteParameters

__all__ = ["virtual_chunked", "VirtualChunkedReadParameters", "VirtualChunkedWriteParameters", "VirtualChunkedDriver"]

_NO_JSON = 'Error converting object member "driver": JSON representation not supported'
_identities = itertools.count()


def _fill(dtype: Any) -> Any:
    if dtype.name == "ustring":
        return ""
    if dtype.name == "string":
        return b""
    if dtype.name == "json":
        return None
    return np.zeros((), dtype=dtype.numpy_dtype)[()]


class _Format(ChunkFormat):
    """The grid of a virtual view: chunks are arrays (nothing is encoded)."""

    component_covers_chunk = True

    def __init__(self, owner: "VirtualChunkedDriver"):
        self.owner = owner
        self.chunk_shape = owner.chunk_shape
        self.shape = tuple(owner.domain.shape)
        self.origin = tuple(owner.domain.origin)
        self.numpy_dtype = owner.dtype.numpy_dtype

    def chunk_key(self, cell: tuple[int, ...]) -> bytes:
        return ",".join(map(str, cell)).encode()

    def describe_chunk(self, cell: tuple[int, ...]) -> str:
        return f"chunk {{{', '.join(map(str, cell))}}}"

    def decode_chunk(self, data: bytes, cell: tuple[int, ...]) -> np.ndarray:
        return data.array  # type: ignore[attr-defined]

    def new_chunk(self) -> np.ndarray:
        return np.full(self.chunk_shape, _fill(self.owner.dtype), dtype=self.numpy_dtype)

    def empty_chunk(self) -> np.ndarray:
        return np.empty(self.chunk_shape, dtype=self.numpy_dtype)

    def encode_chunk(self, chunk: np.ndarray, cell: tuple[int, ...]) -> bytes | None:
        from .callbacks import ChunkValue

        return ChunkValue(chunk)

    def component(self, chunk: np.ndarray) -> np.ndarray:
        return chunk

    def fill_value(self) -> np.ndarray:
        return np.asarray(_fill(self.owner.dtype), dtype=self.numpy_dtype)


class VirtualChunkedDriver(Driver):
    """A virtual_chunked view: `read_function` / `write_function` produce and store chunks."""

    def __init__(self, read_function: Any, write_function: Any, loop: Any, schema: Any, context: Any):
        self.read_function = read_function
        self.write_function = write_function
        self.loop = loop
        self.schema = schema
        self.context = context
        self.spec = None
        self._domain = schema.domain
        self._dtype = schema.dtype
        layout = schema.chunk_layout
        shape = None
        if layout is not None:
            shape = layout.read_chunk.shape or layout.write_chunk.shape
        extents = self._domain.shape
        self.chunk_shape = tuple(
            int(s) if shape is not None and s else max(int(n), 1) for s, n in zip(shape or [None] * len(extents), extents)
        )
        self.cache_pool = context.get_resource("cache_pool", None)
        self.data_copy = context.get_resource("data_copy_concurrency", None)
        self.executor = self.data_copy.executor
        # What the chunk cache files this view's chunks under: unique per view, and holding
        # nothing that refers back to it (the view must stay collectable).
        self.identity = ("virtual_chunked", next(_identities))
        self._start()

    def __reduce__(self) -> Any:
        # No JSON form: the callbacks travel themselves (pickle or cloudpickle them, with what
        # they refer to), the resources as objects so that views pickled together share them.
        # An event loop cannot travel: an unpickled view runs coroutines on the loop running
        # where it is used.
        resources = {"cache_pool": self.cache_pool, "data_copy_concurrency": self.data_copy}
        return (_rebuild_driver, (self.read_function, self.write_function, self.schema, resources))

    def _start(self) -> None:
        self.format = _Format(self)
        self.kv = CallbackStore(self)
        self.engine = self._engine(self.kv)

    def _engine(self, kv: CallbackStore) -> ChunkedArray:
        from ..chunk_cache import cache_for_pool

        return ChunkedArray(self.format, kv, self.executor, cache=cache_for_pool(self.cache_pool),
                            staleness=time.time, identity=("fmt",))

    # -- what the array is -----------------------------------------------------------------------

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def chunk_layout(self) -> Any:
        from ...schema import ChunkLayout

        rank = self._domain.rank
        return ChunkLayout(grid_origin=list(self._domain.origin), inner_order=list(range(rank)),
                           read_chunk_shape=list(self.chunk_shape), write_chunk_shape=list(self.chunk_shape))

    @property
    def dimension_units(self) -> Any:
        return self.schema.dimension_units

    # -- the callbacks' view of a chunk ------------------------------------------------------------

    def cell_domain(self, cell: tuple[int, ...]) -> tuple[IndexDomain, tuple]:
        """The domain of grid cell `cell` (cut to the array) and its region within a chunk."""
        d = self._domain
        lo, hi, region = [], [], []
        for k, c, o, top in zip(cell, self.chunk_shape, d.origin, d.inclusive_max):
            a = o + k * c
            b = min(a + c - 1, top)
            lo.append(a)
            hi.append(b)
            region.append(slice(0, b - a + 1))
        return IndexDomain._make(lo, hi, [False] * d.rank, [False] * d.rank, d.labels), tuple(region)

    def new_array(self, region: tuple) -> np.ndarray:
        shape = tuple(s.stop for s in region)
        return np.full(shape, _fill(self._dtype), dtype=self._dtype.numpy_dtype)

    def full_chunk(self, array: np.ndarray, region: tuple) -> np.ndarray:
        if array.shape == self.chunk_shape:
            return array
        chunk = self.format.new_chunk()
        chunk[region] = array
        return chunk

    # -- I/O ------------------------------------------------------------------------------------------

    def read(self, transform: IndexTransform, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        from ...index.compose import propagate_bounds

        engine = self.engine
        if batch is not None and transaction is None:
            borrowed = _BorrowedBatch.__new__(_BorrowedBatch)
            borrowed._state = _PassThroughState()
            engine = self._engine(self.kv.with_batch(borrowed))
        try:
            t = propagate_bounds(transform, self._domain)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        return engine.read(t, transaction, out)

    def write(self, transform: IndexTransform, array: np.ndarray, transaction: Any = None) -> Any:
        from ...index.compose import propagate_bounds

        return self.engine.write(propagate_bounds(transform, self._domain), array, transaction)

    # -- spec -------------------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        raise NotImplementedError(_NO_JSON)

    def spec_object(self, transform: IndexTransform) -> Any:
        """The `Spec` of this view (it holds the functions: no JSON form)."""
        from ...spec import Spec

        spec = VirtualChunkedSpec()
        spec.driver = self
        spec.schema = self.schema
        spec.transform = transform
        return Spec._from_driver_spec(spec)


from ...batch import Batch as _Batch  # noqa: E402
from ...batch import BatchState as _BatchState  # noqa: E402
from ...batch import batched_read as _batched_read  # noqa: E402


def _rebuild_driver(read_function: Any, write_function: Any, schema: Any, resources: dict) -> "VirtualChunkedDriver":
    from ...context import Context

    return VirtualChunkedDriver(read_function, write_function, None, schema, Context._with_resources(resources))


class _PassThroughState(_BatchState):
    """A batch that is open but issues its reads at once: a read function may wait on reads
    it makes with ``params.batch`` without waiting for the caller's batch to be submitted."""

    __slots__ = ()

    def read(self, driver: Any, key: bytes, options: Any) -> Future:
        return _batched_read(None, driver, key, options)


class _BorrowedBatch(_Batch):
    """The batch a read function of a batched read gets (``params.batch``)."""

    __slots__ = ()

    def __del__(self) -> None:
        pass


_BorrowedBatch.__name__ = _BorrowedBatch.__qualname__ = "Batch"


class VirtualChunkedSpec(DriverSpec):
    """The spec of an open virtual_chunked view (not available as JSON)."""

    id = "virtual_chunked"
    context_resources = ()

    def __init__(self) -> None:
        super().__init__()
        self.driver: VirtualChunkedDriver | None = None

    def to_json(self, include_defaults: bool = False) -> dict:
        raise NotImplementedError(_NO_JSON)

    def copy(self) -> "VirtualChunkedSpec":
        import copy as _copy

        other = VirtualChunkedSpec()
        other.driver = self.driver
        other.schema = _copy.deepcopy(self.schema)
        other.transform = self.transform
        other.open_mode = dict(self.open_mode)
        return other

    def effective_domain(self):
        return self.schema.domain

    def effective_rank(self):
        return self.schema.rank

    def open(self, context: Any, transaction: Any = None) -> Future:
        d = self.driver
        assert d is not None
        return futures.ready(VirtualChunkedDriver(d.read_function, d.write_function, d.loop, d.schema, d.context))


def virtual_chunked(
    read_function: Any = None,
    write_function: Any = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    rank: int | None = None,
    dtype: Any = None,
    domain: IndexDomain | None = None,
    shape: Iterable[int] | None = None,
    chunk_layout: Any = None,
    dimension_units: Any = None,
    schema: Any = None,
    context: Any = None,
    transaction: Any = None,
) -> Any:
    """A `TensorStore` whose content is read and written chunk by chunk by `read_function`
    and `write_function` ``(domain, array, params)``; see the module docstring."""
    from ...context import Context
    from ...schema import Schema
    from ...tensorstore import TensorStore

    if read_function is None and write_function is None:
        raise invalid_argument("Must specify `read_function`, `write_function`, or both")
    constraints = Schema()
    options: dict[str, Any] = {}
    for name, value in (("rank", rank), ("dtype", dtype), ("domain", domain), ("chunk_layout", chunk_layout),
                        ("dimension_units", dimension_units)):
        if value is not None:
            options[name] = value
    if shape is not None:
        shape_domain = IndexDomain(shape=[int(x) for x in shape])
        options["domain"] = shape_domain if domain is None else domain
        if domain is not None:
            constraints.update(domain=shape_domain)
    if options:
        constraints.update(**options)
    if schema is not None:
        constraints.update(schema=schema)
    if constraints.dtype is None:
        raise invalid_argument("dtype must be specified")
    if constraints.domain is None:
        raise invalid_argument("rank must be specified" if constraints.rank is None else "domain must be specified")
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
    if context is None:
        context = Context()
    if transaction is not None:
        transaction.check_open()
    domain = constraints.domain
    driver = VirtualChunkedDriver(read_function, write_function, loop, constraints, context)
    layout_schema = Schema(dtype=constraints.dtype, domain=domain, chunk_layout=driver.chunk_layout)
    if constraints.dimension_units is not None:
        layout_schema.update(dimension_units=constraints.dimension_units)
    driver.schema = layout_schema
    return TensorStore(driver, IndexTransform(domain=domain), read_function is not None, write_function is not None, transaction)

