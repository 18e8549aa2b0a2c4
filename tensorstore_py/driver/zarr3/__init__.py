"""The zarr3 driver (zarr v3 arrays, with sharding)."""

from .spec import Zarr3Spec

__all__ = ["Zarr3Spec"]
