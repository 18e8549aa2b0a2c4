"""The zarr v2 driver."""

from . import codec as _codec  # noqa: F401 - registers the zarr CodecSpec
from .spec import ZarrSpec

__all__ = ["ZarrSpec"]
