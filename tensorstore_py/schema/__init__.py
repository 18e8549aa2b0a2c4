"""The schema layer: pure constraint objects (no I/O).

Public (``ts.<name>``): `ChunkLayout` (with ``ChunkLayout.Grid``), `Schema`, `CodecSpec`, `Unit`.

For the drivers and the layers below (see each module's docstring):

* ``chunk_shape``: ``choose_read_write_chunk_grid`` / ``choose_read_write_chunk_template``
  (one chunk level: zarr v2, n5), ``choose_read_write_chunk_shapes`` (read chunk inside write
  chunk: zarr3 sharding), ``choose_chunk_grid``, ``choose_chunk_shape``, ``choose_inner_order``;
* ``chunk_layout.make_chunk_layout``: the precise layout of an existing array;
* ``codec_spec``: ``register_codec_spec(driver, parse, merge=None)``, ``merge_codec_specs``;
* ``fill_value``: ``normalize_fill_value(value, dtype, domain_shape)``, ``same_fill_value``,
  ``fill_value_to_json`` / ``fill_value_from_json``;
* ``unit``: ``normalize_dimension_units``, ``merge_dimension_units`` and their JSON forms;
* ``transform``: constraints through an index transform (``transform_chunk_layout``,
  ``inverse_transform_chunk_layout``, ``transform_dimension_units``, ...);
* ``schema.merge_index_domains``.

It sits after the index layer and before context, kvstore and the drivers.
"""

from .chunk_layout import ChunkLayout
from .codec_spec import CodecSpec, register_codec_spec
from .schema import Schema
from .unit import Unit

__all__: list[str] = ["ChunkLayout", "CodecSpec", "Schema", "Unit"]
