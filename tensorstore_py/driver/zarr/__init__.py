"""The zarr v2 driver."""

from .spec import ZarrSpec

__all__ = ["ZarrSpec"]
