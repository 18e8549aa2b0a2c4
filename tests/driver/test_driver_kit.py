"""Every chunked driver passes the public driver conformance kit (random views against a NumPy
model), on the memory kvstore."""

from __future__ import annotations

import numpy as np

import tensorstore_py as ts
from tensorstore_py.testing import strategies as tst
from tensorstore_py.testing.driver import DriverTests


class TestZarrKit(DriverTests):
    driver = "zarr"


class TestZarr3Kit(DriverTests):
    driver = "zarr3"


class TestN5Kit(DriverTests):
    driver = "n5"


class TestPrecomputedKit(DriverTests):
    driver = "neuroglancer_precomputed"


def _as_array_spec(j: dict) -> dict:
    """A zarr spec drawn by the strategies, as an `array` driver spec of the same zeros."""
    schema = j["schema"]
    shape = schema["domain"]["shape"]
    return {"driver": "array", "dtype": schema["dtype"], "array": np.zeros(shape, dtype=schema["dtype"]).tolist()}


class TestArrayKit(DriverTests):
    """The `array` driver (no storage): the kit's views read and write the NumPy array."""

    driver = "array"
    bounds = {"dtypes_allowed": ["bool", "uint8", "int16", "int32", "uint32", "int64", "float32", "float64"]}

    def spec_json(self):
        return tst.spec_json(drivers=["zarr"], **self.bounds).map(_as_array_spec)

    def open(self, spec, context=None):
        return ts.open(spec, context=context if context is not None else ts.Context()).result()
