"""The zarr v2 `CodecSpec`: ``{"driver": "zarr", "compressor": ..., "filters": ...}``.

Registered with the schema layer so that ``ts.CodecSpec({"driver": "zarr", ...})`` validates
the compressor and prints it with its defaults filled in, and ``"filters"`` (kept as given)
defaults to ``null``, as TensorStore prints it.  Two zarr codecs merge member by member.
"""

from __future__ import annotations

from typing import Any

from ... import codecs
from ...json_util import ObjectReader
from ...schema.codec_spec import register_codec_spec

__all__ = ["parse_codec_json"]

_ABSENT = object()


def parse_codec_json(j: dict) -> dict:
    """Validates a zarr codec JSON object and fills the compressor's defaults."""
    r = ObjectReader(j)
    r.get("driver")
    compressor = r.get("compressor", codecs.zarr_compressor_from_json, _ABSENT)
    filters = r.get("filters", None, None)
    r.finish()
    out: dict[str, Any] = {"driver": "zarr"}
    if compressor is not _ABSENT:
        out["compressor"] = None if compressor is None else compressor.to_json()
    out["filters"] = filters
    return out


register_codec_spec("zarr", parse_codec_json)
