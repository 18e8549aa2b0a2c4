"""The zarr3 driver (zarr v3 arrays, with sharding)."""

from ...kvstore import driver as _kvstore_driver
from .spec import Zarr3Spec

# The `zarr3_sharding_indexed` kvstore needs the adapter interface of nested kvstore specs.
if hasattr(_kvstore_driver, "KvStoreAdapterSpec"):
    from . import sharding_kvstore  # noqa: F401  (registers the kvstore driver)

__all__ = ["Zarr3Spec"]
