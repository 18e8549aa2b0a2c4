"""Conformance tests for TensorStore drivers: subclass `DriverTests` in a test module.

::

    from tensorstore_py.testing.driver import DriverTests

    class TestZarr(DriverTests):
        driver = "zarr"

Each test draws stores of the driver (on the memory kvstore, through
`tensorstore_py.testing.strategies`), random views of them (NumPy-style and ``ts.d``
indexing, chained) and values, and checks what reads and writes through the views do
against a NumPy model of the array (`tensorstore_py.testing.model`).  Override `stores`
(or set `bounds`) to test other specs, e.g. on another kvstore.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import given, strategies as st

import tensorstore_py as ts

from . import kit_settings, model
from . import strategies as tst

__all__ = ["DriverTests"]


def _fill_array(store: ts.TensorStore) -> np.ndarray:
    """The array an unwritten store reads as."""
    fill = store.fill_value
    dtype = np.dtype(store.dtype.numpy_dtype)
    out = np.zeros(store.shape, dtype=dtype)
    if fill is not None:
        out[...] = fill
    return out


class DriverTests:
    """The driver conformance suite; pytest collects the ``test_*`` methods of a subclass."""

    #: The driver under test (a name `tensorstore_py.testing.strategies.spec_json` knows).
    driver: str = "zarr"
    #: Further bounds for `spec_json` (``max_rank``, ``max_size``, ``dtypes_allowed`` ...).
    bounds: dict[str, Any] = {}
    #: Examples per test under the default profile (a thorough profile raises them all).
    examples: int = 12
    #: Views drawn per store in the write test.
    max_writes: int = 3

    def spec_json(self) -> st.SearchStrategy[dict]:
        """Specs of empty arrays of the driver (each example opens one in a new context)."""
        return tst.spec_json(drivers=[self.driver], **self.bounds)

    def open(self, spec: dict, context: ts.Context | None = None) -> ts.TensorStore:
        """Creates the array of `spec` (in a new context unless `context` is given)."""
        return ts.open(spec, create=True, context=context if context is not None else ts.Context()).result()

    def _run(self, body: Callable[..., None], *strategies: st.SearchStrategy) -> None:
        kit_settings(self.examples)(given(*strategies)(body))()

    def test_reads_through_random_views(self) -> None:
        def body(data: Any) -> None:
            store = self.open(data.draw(self.spec_json(), label="spec"))
            array = data.draw(tst.arrays_for(store.dtype, store.shape), label="array")
            store.write(array).result()
            chain = data.draw(tst.index_expression_chains(store.domain, implicit=False), label="view")
            view = chain.apply(store)
            transform = chain.apply(ts.IndexTransform(domain=store.domain))
            expected = model.read_view(array, transform, store.origin)
            got = view.read().result()
            assert got.shape == expected.shape, (got.shape, expected.shape)
            np.testing.assert_array_equal(got, expected)

        self._run(body, st.data())

    def test_writes_through_random_views(self) -> None:
        def body(data: Any) -> None:
            context = ts.Context()
            store = self.open(data.draw(self.spec_json(), label="spec"), context)
            expected = _fill_array(store)
            for i in range(data.draw(st.integers(1, self.max_writes), label="writes")):
                chain = data.draw(tst.index_expression_chains(store.domain, implicit=False), label=f"view {i}")
                transform = chain.apply(ts.IndexTransform(domain=store.domain))
                shape = tuple(transform.domain.shape)
                if model.is_injective(transform):
                    value = data.draw(tst.arrays_for(store.dtype, shape), label=f"value {i}")
                else:
                    # Where several points of a view share an element, only one value is defined.
                    value = data.draw(tst.arrays_for(store.dtype, ()), label=f"value {i}")
                chain.apply(store).write(value).result()
                model.write_view(expected, transform, value, store.origin)
                np.testing.assert_array_equal(chain.apply(store).read().result(), model.read_view(expected, transform, store.origin))
            np.testing.assert_array_equal(store.read().result(), expected)
            # Through the stored metadata and chunks: the spec alone, in the same context.
            reopened = ts.open(store.spec(minimal_spec=True), context=context).result()
            np.testing.assert_array_equal(reopened.read().result(), expected)

        self._run(body, st.data())

    def test_unwritten_elements_read_the_fill_value(self) -> None:
        def body(spec: dict) -> None:
            store = self.open(spec)
            np.testing.assert_array_equal(store.read().result(), _fill_array(store))

        self._run(body, self.spec_json())

