"""The n5 `CodecSpec`: ``{"driver": "n5", "compression": {...}}``.

Registered with the schema layer so that ``ts.CodecSpec({"driver": "n5", ...})`` normalises the
compression with its defaults (as the reference prints it) and two n5 codecs merge only when
their compressions agree.
"""

from __future__ import annotations

from typing import Any

from ... import codecs
from ...errors import invalid_argument
from ...json_util import ObjectReader
from ...schema import CodecSpec
from ...schema.codec_spec import register_codec_spec

__all__ = ["codec_spec_for", "parse_codec_json", "merge_codec_json"]


def parse_codec_json(j: dict) -> dict:
    """Validates an n5 codec JSON object and fills the compression's defaults."""
    r = ObjectReader(j)
    r.get("driver")
    compression = r.get("compression", codecs.n5_compression_from_json, None)
    r.finish()
    out: dict[str, Any] = {"driver": "n5"}
    if compression is not None:
        out["compression"] = compression.to_json()
    return out


def merge_codec_json(a: dict, b: dict) -> dict:
    """Combines two n5 codec constraints: a compression named by both must be the same."""
    if "compression" in a and "compression" in b and a["compression"] != b["compression"]:
        raise invalid_argument('"compression" does not match')
    merged = dict(a)
    if "compression" in b:
        merged["compression"] = b["compression"]
    return merged


def codec_spec_for(compressor: Any) -> CodecSpec:
    """The CodecSpec describing arrays compressed with `compressor` (None: unconstrained)."""
    j: dict[str, Any] = {"driver": "n5"}
    if compressor is not None:
        j["compression"] = compressor.to_json()
    return CodecSpec(j)


register_codec_spec("n5", parse_codec_json, merge_codec_json)
