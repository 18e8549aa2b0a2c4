"""The ``array`` driver: an in-memory NumPy array as a TensorStore (``ts.array``).

Reads are views or gathers of the array (copied into the caller's output); writes go into it,
so a store made with ``copy=False`` shares the caller's buffer.  The spec is the array as the
view sees it, with the repeated dimensions removed, as TensorStore writes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...index import IndexDomain, IndexTransform, OutputIndexMap
from ...json_util import ObjectReader
from ..base import DriverSpec, add_resource_members, register_driver
from ..driver import Driver
from . import access
from .json_array import array_from_json, array_to_json

__all__ = ["ArrayDriverSpec", "ArrayDriver"]

#: Reads and writes of fewer elements than this are copied on the caller's thread; a hop to
#: the data-copy executor costs more than the copy.
_INLINE_ELEMENTS = 1 << 16


def _not_transactional() -> NotImplementedError:
    return NotImplementedError('"array" driver does not support transactions')


def inner_order(array: np.ndarray) -> list[int]:
    """The array's dimensions, outermost first: by decreasing magnitude of their stride."""
    strides = array.strides
    if array.size == 0:  # NumPy's strides of an empty array say nothing: C order's, as computed
        strides = tuple(int(np.prod(array.shape[i + 1:], dtype=np.int64)) for i in range(array.ndim))
    return sorted(range(array.ndim), key=lambda i: -abs(strides[i]))


def _domain_text(domain: IndexDomain) -> str:
    return "{ " + " ".join(f"[{lo}, {hi})" for lo, hi in zip(domain.inclusive_min, domain.exclusive_max)) + " }"


@register_driver
class ArrayDriverSpec(DriverSpec):
    id = "array"
    context_resources = ("data_copy_concurrency",)

    def __init__(self) -> None:
        super().__init__()
        self.array: np.ndarray | None = None

    @classmethod
    def from_json(cls, j: dict) -> "ArrayDriverSpec":
        self = super().from_json(j)
        if self.transform is None:
            self.transform = IndexTransform(domain=IndexDomain(shape=self.array.shape))
        return self

    def parse_driver_members(self, r: ObjectReader) -> None:
        dtype = self.schema.dtype
        if dtype is None:
            raise invalid_argument("dtype must be specified")
        # The array's own rank: the transform's output rank, else the spec's rank.
        rank = self.transform.output_rank if self.transform is not None else self.schema.rank
        self.array = r.get("array", lambda j: array_from_json(j, dtype, rank))

    def check_rank_consistency(self) -> None:
        if self.transform is not None and self.array is not None and self.transform.output_rank != self.array.ndim:
            raise invalid_argument(
                f"Transform output rank ({self.transform.output_rank}) does not match array rank ({self.array.ndim})"
            )

    def driver_members_json(self) -> dict:
        return {"array": array_to_json(self.array, self.schema.dtype)}

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        out.setdefault("context", {})
        out.setdefault("data_copy_concurrency", "data_copy_concurrency")
        out["schema"] = schema_json

    def effective_domain(self):
        from ...index.compose import propagate_bounds

        if self.transform is None:
            return IndexDomain(shape=self.array.shape)
        return propagate_bounds(self.transform, IndexDomain(shape=self.array.shape), check_arrays=False).domain

    def effective_schema(self):
        from ...schema import ChunkLayout
        from ...schema.transform import transform_chunk_layout

        schema = super().effective_schema()
        layout = ChunkLayout(grid_origin=[0] * self.array.ndim, inner_order=inner_order(self.array))
        if self.transform is not None:
            layout = transform_chunk_layout(layout, self.transform)
        schema.update(domain=self.effective_domain(), chunk_layout=layout)
        return schema

    def open(self, context: Any, transaction: Any = None) -> Future:
        if transaction is not None:
            return futures.failed(_not_transactional())
        try:
            array_domain = IndexDomain(shape=self.array.shape)
            schema_domain = self.schema.domain
            if schema_domain is not None and (
                schema_domain.inclusive_min != array_domain.inclusive_min or schema_domain.exclusive_max != array_domain.exclusive_max
            ):
                origin = ",".join(map(str, array_domain.inclusive_min))
                shape = ",".join(map(str, array_domain.shape))
                raise invalid_argument(
                    f"Mismatch between domain in schema {{ {_domain_text(schema_domain)} }} and array "
                    f"{{ {{origin={{{origin}}}, shape={{{shape}}}}} }}"
                )
            copy_resource = context.get_resource("data_copy_concurrency", self.resources.get("data_copy_concurrency"))
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        return futures.ready(ArrayDriver(self.array.copy(), self.schema.dtype, copy_resource, self, context))


class ArrayDriver(Driver):
    """A NumPy array (origin 0) as a driver; its elements are read and written in place."""

    def __init__(self, array: np.ndarray, dtype: Any, data_copy: Any, spec: Any = None, context: Any = None):
        self.array = array
        self._dtype = dtype
        self.data_copy = data_copy
        self.spec = spec
        self.context = context
        self._domain = IndexDomain(shape=array.shape)

    @property
    def domain(self) -> IndexDomain:
        return self._domain

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def chunk_layout(self) -> Any:
        from ...schema import ChunkLayout

        return ChunkLayout(grid_origin=[0] * self.array.ndim, inner_order=inner_order(self.array))

    @property
    def dimension_units(self) -> Any:
        return (None,) * self.array.ndim

    #: TensorStore cannot resize an in-memory array.
    supports_resize = False

    def storage_statistics(self, transform: Any, query_not_stored: bool, query_fully_stored: bool, transaction: Any = None) -> Future:
        from ..storage_statistics import StorageStatistics

        # Every element of an in-memory array is stored.
        return futures.ready(StorageStatistics(not_stored=False if query_not_stored else None,
                                               fully_stored=True if query_fully_stored else None))

    def _bounded(self, transform: IndexTransform) -> IndexTransform:
        from ...index.compose import propagate_bounds

        return propagate_bounds(transform, self._domain)

    def _run(self, elements: int, fn: Any) -> Future:
        if elements <= _INLINE_ELEMENTS:
            try:
                return futures.ready(fn())
            except (ValueError, TypeError, IndexError) as exc:
                return futures.failed(exc)
        return futures.submit(self.data_copy.executor, fn)

    def read(self, transform: Any, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        if transaction is not None:
            return futures.failed(_not_transactional())
        try:
            transform = self._bounded(transform)
        except (ValueError, TypeError, IndexError) as exc:
            return futures.failed(exc)

        def copy() -> np.ndarray:
            data = access.view_or_gather(self.array, transform)
            if out is None:
                return np.array(data, dtype=self.array.dtype, order="C", copy=True)
            np.copyto(out, data, casting="unsafe")
            return out

        return self._run(int(np.prod(transform.input_shape, dtype=np.int64)), copy)

    def write(self, transform: Any, array: np.ndarray, transaction: Any = None) -> Any:
        from ..chunked import WriteFutures

        if transaction is not None:
            exc = _not_transactional()
            return WriteFutures(futures.failed(exc), futures.failed(exc))
        try:
            transform = self._bounded(transform)
        except (ValueError, TypeError, IndexError) as exc:
            return WriteFutures(futures.failed(exc), futures.failed(exc))
        done = self._run(int(array.size), lambda: access.scatter(self.array, transform, array))
        return WriteFutures(done, done)

    # -- spec ----------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        return self.spec_json_through(IndexTransform(domain=self._domain), builder, minimal)

    def spec_json_through(self, transform: IndexTransform, builder: Any, minimal: bool) -> dict:
        """The spec of this array seen through `transform`: the elements the view sees, with
        the dimensions along which they repeat removed, and a transform onto that array."""
        domain = transform.domain
        if 0 in domain.shape:
            data = np.empty((0,), dtype=self.array.dtype)
            outputs = [OutputIndexMap.constant(0)]
        else:
            data, keep = access.unbroadcast_view(self.array, self._bounded(transform))
            outputs = [OutputIndexMap.single(j, -domain.inclusive_min[j]) for j in keep]
        j: dict[str, Any] = {"driver": "array", "dtype": self._dtype.name, "array": array_to_json(data, self._dtype)}
        j["transform"] = IndexTransform._make(domain, tuple(outputs)).to_json()
        if builder is not None:
            add_resource_members(j, builder, {"data_copy_concurrency": self.data_copy})
        return j

    def context_resources(self) -> list:
        return [self.data_copy]


def make_array_driver(array: np.ndarray, dtype: Any, context: Any) -> ArrayDriver:
    """The driver `ts.array` wraps around `array` (shared, not copied)."""
    return ArrayDriver(array, dtype, context.get_resource("data_copy_concurrency"), None, context)

