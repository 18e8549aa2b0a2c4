"""The `neuroglancer_precomputed` driver: Neuroglancer's precomputed volumes, sharded or not."""

from . import sharded_kvstore as _sharded_kvstore  # noqa: F401  (registers neuroglancer_uint64_sharded)
from .spec import PrecomputedSpec

__all__ = ["PrecomputedSpec"]
