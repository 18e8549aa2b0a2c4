"""The n5 driver: N5 arrays (attributes.json + big-endian blocks) in any kvstore.

Importing this package registers the driver (``"driver": "n5"``, URL scheme ``n5:``) and the
n5 `CodecSpec`.
"""

from .codec import codec_spec_for
from .spec import N5Spec

__all__ = ["N5Spec", "codec_spec_for"]
