"""The schema layer: pure constraint objects (no I/O).

`ChunkLayout` (+ the chunk-grid choice in `chunk_shape`), `Schema`, `CodecSpec`, `Unit` and the
fill-value helpers.  See ../shared/DESIGN.md for where this sits among the layers.
"""

from .chunk_layout import ChunkLayout
from .codec_spec import CodecSpec, register_codec_spec
from .schema import Schema
from .unit import Unit

__all__: list[str] = ["ChunkLayout", "CodecSpec", "Schema", "Unit"]
