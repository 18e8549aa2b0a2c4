"""`ts.TensorStore`: an open driver viewed through an index transform."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from . import future as futures
from .context import ContextSpecBuilder
from .driver.storage_statistics import StorageStatistics as _StorageStatistics
from .errors import invalid_argument
from .future import Future
from .index import IndexTransform, Indexable
from .index.interval import format_plain_interval as format_interval
from .json_util import pretty_repr
from .spec import Spec

__all__ = ["TensorStore", "prepare_source"]


class TensorStore(Indexable):
    """An open array: reads and writes go through its index transform to its driver."""

    StorageStatistics = _StorageStatistics

    def __init__(self, driver: Any, transform: IndexTransform, read: bool = True, write: bool = True, transaction: Any = None):
        self._driver = driver
        self._transform = transform
        self._read = read
        self._write = write
        self._transaction = transaction

    # -- Indexable ---------------------------------------------------------------------------

    def _indexable_transform(self) -> IndexTransform:
        return self._transform

    def _indexable_with_transform(self, transform: IndexTransform) -> "TensorStore":
        return TensorStore(self._driver, transform, self._read, self._write, self._transaction)

    # -- basic properties ----------------------------------------------------------------------

    @property
    def dtype(self) -> dtypes.dtype:
        return self._driver.dtype

    @property
    def readable(self) -> bool:
        return self._read

    @property
    def writable(self) -> bool:
        return self._write

    @property
    def mode(self) -> str:
        return ("r" if self._read else "") + ("w" if self._write else "")

    @property
    def transaction(self) -> Any:
        """The transaction reads and writes go through, or None."""
        return self._transaction

    def with_transaction(self, transaction: Any) -> "TensorStore":
        """The same view with reads and writes going through `transaction` (None: none)."""
        from .cache.transaction import Transaction

        transaction = Transaction.rebind(self._transaction, transaction)
        return TensorStore(self._driver, self._transform, self._read, self._write, transaction)

    @property
    def kvstore(self):
        from .kvstore import KvStore

        kv = getattr(self._driver, "kv", None)
        if kv is None:  # a virtual driver (array, stack ...) has none
            return None
        return KvStore._from_driver(kv, self._driver.path, self._transaction)

    @property
    def url(self) -> str:
        kv = getattr(self._driver, "kv", None)
        if kv is None:  # a virtual driver with nothing stored (array, stack ...)
            raise NotImplementedError("URL representation not supported")
        return f"{kv.url(self._driver.path)}|{self._driver.url_suffix}"

    # What the driver reports is in its own index space; a view sees it through its transform.

    @property
    def schema(self):
        from .schema import Schema

        schema = Schema(dtype=self.dtype, domain=self.domain, chunk_layout=self.chunk_layout, codec=self.codec)
        fill = self.fill_value
        if fill is not None:
            schema.update(fill_value=fill)
        units = self.dimension_units
        if units is not None and any(u is not None for u in units):
            schema.update(dimension_units=units)
        return schema

    @property
    def chunk_layout(self):
        from .schema.transform import transform_chunk_layout

        return transform_chunk_layout(self._driver.chunk_layout, self._transform)

    @property
    def codec(self):
        return self._driver.codec

    @property
    def fill_value(self):
        from .schema.transform import transform_fill_value

        fill = self._driver.fill_value
        if fill is None:
            return None
        return transform_fill_value(np.asarray(fill), self._transform, list(self._driver.domain.origin))

    @property
    def dimension_units(self):
        from .schema.transform import transform_dimension_units

        units = transform_dimension_units(self._driver.dimension_units, self._transform)
        return None if units is None else tuple(units)

    # -- spec and repr ------------------------------------------------------------------------

    def _spec_json(self, retain_context: bool, minimal_spec: bool, with_context: bool) -> dict:
        builder = ContextSpecBuilder(retain=retain_context) if with_context else None
        j = self._driver.spec_json_through(self._transform, builder, minimal_spec)
        if builder is not None:
            for resource in self._driver.context_resources():
                builder.add(resource)
            context = builder.context_json()
            if context:
                j["context"] = context
        return {k: j[k] for k in sorted(j)}

    def spec(
        self,
        *,
        minimal_spec: bool = False,
        retain_context: bool = False,
        unbind_context: bool = False,
        **options: Any,
    ) -> Spec:
        """The spec that reopens this TensorStore (with `minimal_spec`, without the metadata)."""
        if self._transaction is not None:
            self._transaction.check_open()
        spec_object = getattr(self._driver, "spec_object", None)
        if spec_object is not None:  # a driver without a JSON form (virtual_chunked)
            spec = spec_object(self._transform)
        else:
            if retain_context:
                from .errors import unimplemented

                if getattr(self._driver, "wraps_driver", False):
                    raise unimplemented("spec(retain_context=True) of a view of another TensorStore (cast, "
                                        "downsample, stack) is not supported yet")
                # Bound to the very resources this store uses (its memory store, cache pool ...),
                # as a pickled store is: reopened, the spec shares them.
                j, resources = self._driver.spec_json_with_resources(self._transform, minimal_spec)
            else:
                j = self._spec_json(False, minimal_spec, unbind_context)
            spec = Spec(j)
            # Nested specs written by an open driver keep exactly the members written (a parsed
            # array layer would otherwise gain its default transform).
            written = getattr(spec._driver_spec, "match_written_json", None)
            if written is not None:
                written(j)
            if retain_context:
                from .context import Context

                spec.update(context=Context._with_resources(resources))
        if options:
            spec.update(**options)
        return spec

    def __repr__(self) -> str:
        try:
            return pretty_repr(self._spec_json(False, False, True), "TensorStore(", ")")
        except NotImplementedError:  # no JSON form (virtual_chunked)
            return "TensorStore(...)"

    # -- I/O ---------------------------------------------------------------------------------

    def read(self, *, order: str = "C", batch: Any = None) -> Future:
        """Future[numpy.ndarray] of the data in this view's domain.

        With `batch`, the chunk reads wait for the batch's submit and are coalesced with the
        batch's other reads.
        """
        if order not in ("C", "F"):
            raise TypeError("`order` must be specified as 'C' or 'F'")
        if batch is not None:
            from .batch import batch_state

            batch = batch_state(batch)
        return self._read_in(batch, order)

    def _read_in(self, batch: Any, order: str = "C") -> Future:
        """`read` with a checked `batch.BatchState` (or None)."""
        if not self._read:
            return futures.failed(invalid_argument("Source does not support reading."))
        txn = self._transaction
        try:
            if txn is not None:
                txn.check_open()
            current = self._driver.current(txn)
            if current.done() and not current.cancelled() and current.exception() is None:  # usual: no hop
                d = current.result()
                result = d.read(self._transform, txn) if batch is None else d.read(self._transform, txn, batch=batch)
            else:
                result = futures.chain(
                    current,
                    lambda d: d.read(self._transform, txn) if batch is None else d.read(self._transform, txn, batch=batch),
                )
        except (ValueError, TypeError, IndexError) as exc:
            return futures.failed(exc)
        if order == "F":
            return futures.chain(result, np.asfortranarray)
        return result

    def write(self, source: Any, *, batch: Any = None, can_reference_source_data_indefinitely: bool | None = None):
        """Writes `source` (array-like, broadcast to this view's domain); returns WriteFutures."""
        state = None
        if batch is not None:
            from .batch import Batch

            if not isinstance(batch, Batch):
                raise TypeError(f"batch must be a tensorstore_py.Batch, not {type(batch).__name__}")
            if not isinstance(source, TensorStore):
                raise invalid_argument("Invalid batch: batch can only be specified when copying from a TensorStore source")
            # As in TensorStore, copying with an already submitted batch simply reads at once.
            state = batch._state
        if not self._write:
            return failed_write(invalid_argument("Destination does not support writing."))
        if isinstance(source, TensorStore):
            from .copy import copy_between

            return copy_between(source, self, state)
        txn = self._transaction
        try:
            if txn is not None:
                txn.check_open()
            array = prepare_source(source, self.dtype, self._transform.domain)
        except (ValueError, TypeError, IndexError) as exc:
            return failed_write(exc)
        current = self._driver.current(txn)
        reference = bool(can_reference_source_data_indefinitely)

        def start(d: Any) -> Any:
            if reference and d.accepts_source_reference:
                return d.write(self._transform, array, txn, can_reference_source=True)
            return d.write(self._transform, array, txn)

        if current.done() and current.exception() is None:
            try:
                return start(current.result())
            except (ValueError, TypeError, IndexError) as exc:
                return failed_write(exc)
        return deferred_write(current, start)

    def __setitem__(self, key: Any, value: Any) -> None:
        self[key].write(value).result()

    def _indexable_assign(self, view: "TensorStore", value: Any) -> None:
        view.write(value).result()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The data of this view, read synchronously (NumPy's conversion protocol).

        As NumPy 2 defines `copy`: the result is always a new array, so ``copy=False`` (never
        copy) cannot be honoured and raises ``ValueError``; ``True`` and ``None`` are the same.
        """
        if copy is False:
            raise ValueError(
                "Unable to avoid copy while creating an array as requested: a TensorStore's data "
                "is read into a new array (use copy=None)"
            )
        arr = self.read().result()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def storage_statistics(self, *, query_not_stored: bool = False, query_fully_stored: bool = False) -> Future:
        """Future[TensorStore.StorageStatistics]: whether data is stored for none / all of
        this view's domain (only what is asked for is computed; the rest is None)."""
        from .driver.storage_statistics import driver_storage_statistics

        txn = self._transaction
        return futures.chain(
            self._driver.current(txn),
            lambda d: driver_storage_statistics(d, self._transform, bool(query_not_stored), bool(query_fully_stored), txn),
        )

    def resolve(self, *, fix_resizable_bounds: bool = False, batch: Any = None) -> Future:
        """Future of this view with implicit bounds resolved against the current metadata."""
        from .batch import batch_state
        from .index.compose import propagate_bounds

        batch_state(batch)  # checked as TensorStore checks it

        def resolved(driver: Any) -> "TensorStore":
            return TensorStore(driver, propagate_bounds(self._transform, driver.domain), self._read, self._write, self._transaction)

        return futures.chain(self._driver.current(self._transaction), resolved)

    def resize(
        self,
        inclusive_min: Any = None,
        exclusive_max: Any = None,
        resize_metadata_only: bool = False,
        resize_tied_bounds: bool = False,
        expand_only: bool = False,
        shrink_only: bool = False,
    ) -> Future:
        """Future of this TensorStore with resizable (implicit) bounds changed in storage.

        `inclusive_min` / `exclusive_max` give a new bound per dimension of this view, None to
        keep it.  Chunks wholly outside a shrunken array are deleted unless
        `resize_metadata_only`.
        """
        if not getattr(self._driver, "supports_resize", True):
            return futures.failed(NotImplementedError("Resize not supported"))
        with_base = getattr(self._driver, "with_base", None)
        if with_base is not None and getattr(self._driver, "base_transform", True) is None:
            # An adapter that passes the view's transform to its base (cast): resize the base.
            resized = self.base.resize(inclusive_min, exclusive_max, resize_metadata_only, resize_tied_bounds, expand_only, shrink_only)
            return futures.chain(resized, lambda b: TensorStore(with_base(b._driver), b._transform, self._read, self._write, self._transaction))
        try:
            return self._resize(inclusive_min, exclusive_max, resize_metadata_only, resize_tied_bounds, expand_only, shrink_only)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)

    def _resize(self, inclusive_min, exclusive_max, metadata_only, resize_tied_bounds, expand_only, shrink_only) -> Future:
        from .driver.kvs_backed import resize_stored
        from .errors import failed_precondition, unimplemented
        from .index import OutputIndexMethod

        t = self._transform
        rank = t.input_rank
        lows = [None] * rank if inclusive_min is None else list(inclusive_min)
        highs = [None] * rank if exclusive_max is None else list(exclusive_max)
        if len(lows) != rank or len(highs) != rank:
            raise invalid_argument(f"Resize bounds must have length {rank}")
        new_output_max: list = [None] * t.output_rank
        for i in range(rank):
            if lows[i] is not None and lows[i] != t.input_inclusive_min[i]:
                if not t.implicit_lower_bounds[i]:
                    raise invalid_argument(f"Invalid resize request for input dimension {i}: Cannot change explicit lower bound")
                raise unimplemented("Resizing lower bounds is not supported by this driver")
            if highs[i] is None:
                continue
            if not t.implicit_upper_bounds[i]:
                raise invalid_argument(f"Invalid resize request for input dimension {i}: Cannot change explicit upper bound")
            outputs = [d for d, m in enumerate(t.output)
                       if m.method == OutputIndexMethod.single_input_dimension and m.input_dimension == i]
            if len(outputs) != 1 or t.output[outputs[0]].stride != 1:
                raise unimplemented(f"Resizing input dimension {i} through this transform is not supported")
            d = outputs[0]
            view_lo = t.output[d].offset + t.input_inclusive_min[i]
            array_lo = self._driver.domain.origin[d]
            if view_lo > array_lo and not resize_tied_bounds:
                # The rest of the dimension, outside this view, would be resized as well.
                raise failed_precondition(
                    f"Resize operation would also affect output dimension {d} over the interval "
                    f"[{array_lo}, {view_lo}) but `resize_tied_bounds` was not specified"
                )
            new_output_max[d] = t.output[d].offset + int(highs[i])
        driver = self._driver
        resized = resize_stored(driver.spec, driver, new_output_max, expand_only=expand_only,
                                shrink_only=shrink_only, metadata_only=metadata_only,
                                transaction=self._transaction)

        def rebind(new_driver: Any) -> "TensorStore":
            from .index.compose import propagate_bounds

            # Implicit bounds of the view follow the array's new shape.
            j = t.to_json()
            bounds = list(j.get("input_exclusive_max", [[x] if imp else x for x, imp in zip(t.input_exclusive_max, t.implicit_upper_bounds)]))
            for i, h in enumerate(highs):
                if h is not None:
                    bounds[i] = [int(h)]
            j["input_exclusive_max"] = bounds
            transform = propagate_bounds(IndexTransform(json=j), new_driver.domain)
            return TensorStore(new_driver, transform, self._read, self._write, self._transaction)

        return futures.chain(resized, rebind)

    def astype(self, dtype: Any) -> "TensorStore":
        """A read/write view of this store converted to `dtype` (``ts.cast``)."""
        from .driver.cast import cast

        return cast(self, dtype)

    @property
    def base(self) -> "TensorStore | None":
        """The underlying TensorStore of an adapter (cast, downsample ...) over the positions
        this view depends on, in this view's modes; None for other drivers."""
        base_view = getattr(self._driver, "base_view", None)
        if base_view is None:
            return None
        driver, transform = base_view(self._transform)
        return TensorStore(driver, transform, self._read, self._write, self._transaction)

    def __copy__(self) -> "TensorStore":
        return self  # immutable, as TensorStore's handles

    def __reduce__(self) -> Any:
        # The driver pickles itself (by spec unless it says otherwise, see
        # `Driver.__reduce__`); views of one driver pickled together share the unpickled one.
        # A deep copy is a pickle round trip: a new handle with fresh context resources.
        if self._transaction is not None:
            raise ValueError("Cannot serialize TensorStore with bound transaction")
        return (TensorStore, (self._driver, self._transform, self._read, self._write))


def failed_write(exc: BaseException) -> Any:
    """WriteFutures whose `copy` and `commit` both fail with `exc`."""
    from .driver.chunked import WriteFutures

    return WriteFutures(futures.failed(exc), futures.failed(exc))


def deferred_write(driver_future: Future, start: Any) -> Any:
    """WriteFutures of a write that starts once `driver_future` (fresh metadata) is ready."""
    from .driver.chunked import WriteFutures

    started = futures.chain(driver_future, lambda d: futures.ready(start(d)))
    copy = futures.chain(started, lambda w: w.copy)
    commit = futures.chain(started, lambda w: w.commit)
    return WriteFutures(copy, commit)


def prepare_source(source: Any, dtype: dtypes.dtype, domain) -> np.ndarray:
    """`source` as an array of `dtype` broadcast to `domain`'s shape, as TensorStore aligns it."""
    target = dtype.numpy_dtype
    if dtype.name in ("string", "ustring", "json"):
        from .driver.array.elements import object_elements

        source = object_elements(source, dtype.name, domain.rank)
    elif isinstance(source, np.ndarray) and source.dtype != target and not target.hasobject:
        if not np.can_cast(source.dtype, target, "safe"):
            raise TypeError(f"Cannot cast array data from {source.dtype!r} to {target!r} according to the rule 'safe'")
    array = np.asarray(source, dtype=target)
    shape = tuple(domain.shape)
    if array.shape == shape:
        return array
    if array.ndim > len(shape):
        raise invalid_argument(
            f"Error aligning dimensions: Cannot align source of rank {array.ndim} to target of rank {len(shape)}"
        )
    problems = []
    for i in range(1, array.ndim + 1):
        s, t = array.shape[-i], shape[-i]
        if s != t and s != 1:
            sd, td = array.ndim - i, len(shape) - i
            lo = domain.origin[td]
            problems.append(
                f"source dimension {sd} {format_interval(0, s - 1)} mismatch with target dimension {td} {format_interval(lo, lo + t - 1)}"
            )
    if problems:
        raise invalid_argument("Error aligning dimensions: " + ", ".join(reversed(problems)))
    return np.broadcast_to(array, shape)
