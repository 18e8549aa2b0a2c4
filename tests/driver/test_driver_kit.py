"""Every chunked driver passes the public driver conformance kit (random views against a NumPy
model), on the memory kvstore."""

from __future__ import annotations

from tensorstore_py.testing.driver import DriverTests


class TestZarrKit(DriverTests):
    driver = "zarr"


class TestZarr3Kit(DriverTests):
    driver = "zarr3"


class TestN5Kit(DriverTests):
    driver = "n5"


class TestPrecomputedKit(DriverTests):
    driver = "neuroglancer_precomputed"
