"""The `Driver` interface: everything a `TensorStore` asks of an opened array.

A `TensorStore` is a driver viewed through an index transform (and bound to a transaction).
Every request it makes of the array goes through the methods below, so a new kind of array
(a stored format, or a virtual one that stores nothing) is a new `Driver` subclass and nothing
else.  `read` fills a caller-given output array when asked, so composite drivers can have
their parts fill slices of one buffer without a second copy.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from .. import future as futures
from ..future import Future

__all__ = ["Driver"]


class Driver(abc.ABC):
    """An opened array of some driver, in its own index space (its `domain`)."""

    #: The parsed spec the array was opened from (options such as recheck_cached_*).
    spec: Any
    #: The context its resources are bound in.
    context: Any

    # -- what the array is -----------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def domain(self) -> Any:
        """The array's `IndexDomain` (resizable bounds implicit)."""

    @property
    @abc.abstractmethod
    def dtype(self) -> Any:
        """The element `ts.dtype`."""

    @property
    def chunk_layout(self) -> Any:
        from ..schema import ChunkLayout

        return ChunkLayout(rank=self.domain.rank)

    @property
    def codec(self) -> Any:
        return None

    @property
    def fill_value(self) -> Any:
        return None

    @property
    def dimension_units(self) -> Any:
        return None

    # -- I/O ---------------------------------------------------------------------------------------

    def current(self, transaction: Any = None) -> Future:
        """Future of the driver to use now: this one, or one for metadata that changed since
        (another handle's resize), as fresh as the spec's ``recheck_cached_metadata`` asks."""
        return futures.ready(self)

    @abc.abstractmethod
    def read(self, transform: Any, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        """Future of the data at every position of `transform`'s domain (into `out` if given)."""

    @abc.abstractmethod
    def write(self, transform: Any, array: np.ndarray, transaction: Any = None) -> Any:
        """`WriteFutures` of writing `array` (shaped like `transform`'s domain).

        A driver whose `accepts_source_reference` is true also takes the keyword
        ``can_reference_source=True``: the caller will never modify `array` again, so staged
        chunks may keep views of it instead of copies (TensorStore's
        ``can_reference_source_data_indefinitely``)."""

    #: Whether `write` takes ``can_reference_source`` (see `write`).
    accepts_source_reference: bool = False

    # -- spec --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def spec_json(self, builder: Any, minimal: bool) -> dict:
        """The driver's spec JSON without "transform" (context resources via `builder`)."""

    def spec_json_through(self, transform: Any, builder: Any, minimal: bool) -> dict:
        """The spec JSON of this array viewed through `transform` (with "transform").  Drivers
        whose spec depends on the view (the array driver writes only what it sees) override it."""
        j = self.spec_json(builder, minimal)
        j["transform"] = transform.to_json()
        return j

    def context_resources(self) -> list:
        """The bound context resources its spec refers to."""
        return []

    # -- pickling ----------------------------------------------------------------------------------

    def __reduce__(self) -> Any:
        """How a `TensorStore` on this driver pickles: by spec, with its metadata.

        The spec JSON carries resource references and the bound resources travel as objects,
        so drivers pickled together reopen sharing one cache and one set of pools.  A driver
        that cannot be described by JSON (virtual_chunked's Python callbacks) overrides this
        with its own ``(callable, args)`` that rebuild an equivalent driver.
        """
        return (open_pickled_driver, self.spec_json_with_resources(None, False))

    def spec_json_with_resources(self, transform: Any, minimal: bool) -> tuple[dict, dict]:
        """The spec JSON (through `transform`, when given) with resource members written as
        references, and the bound resources (identifier -> resource) they refer to: what a
        pickled store and a spec retaining its context carry."""
        from ..context import PickleResourceCollector

        collector = PickleResourceCollector()
        if transform is None:
            j = self.spec_json(collector, minimal)
        else:
            j = self.spec_json_through(transform, collector, minimal)
        for resource in self.context_resources():
            collector.add(resource)
        return j, collector.resources

    @property
    def url_suffix(self) -> str:
        """This driver's part of a URL pipeline (``zarr2:``)."""
        from ..errors import invalid_argument

        raise invalid_argument("URL representation not supported")


def open_pickled_driver(spec_json: dict, resources: dict) -> Driver:
    """The driver of a spec pickled by `Driver.__reduce__`, bound to `resources`.

    A spec that carries its metadata opens as with ``assume_cached_metadata``: no I/O, so an
    unpickled store costs nothing until it is used (TensorStore does not re-read it either).
    """
    from ..context import Context
    from ..spec import Spec, apply_options

    spec = Spec(spec_json)
    if "metadata" in spec_json:
        apply_options(spec._driver_spec, {"assume_cached_metadata": True, "open": True})
    opened = spec._driver_spec.open(Context._with_resources(resources))
    return opened.result()


class KvStoreBackedDriver(Driver):
    """A driver whose data lives in a kvstore: `kv` and `path` name where (for
    ``store.kvstore`` and ``store.url``); chunked ones also expose their `format` (a
    `ChunkFormat`) and `engine` (the `ChunkedArray`) for storage statistics."""

    kv: Any
    path: str
