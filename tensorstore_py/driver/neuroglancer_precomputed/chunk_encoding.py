"""The precomputed dialect of the codec chain: a scale's ``encoding`` as codecs.

A chunk is held as a numpy array of shape ``(x, y, z, channel)`` in Fortran order, whose memory
is the format's ``[channel][z][y][x]`` layout.  The chain is a `TransposeCodec` "F" (giving the
codec the C-ordered ``(channel, z, y, x)`` view, no copy) followed by the array -> bytes codec
of the encoding:

* ``raw``: `BytesCodec` "little";
* ``compressed_segmentation``: `CompressedSegmentationCodec` with the scale's block size;
* ``jpeg``: `JpegCodec` at ``jpeg_quality``; ``png``: `PngCodec` at ``png_level`` (default 6);

and no bytes -> bytes codec (sharded volumes compress in the shard, not here).  Chunks at the
upper edge of the volume are stored truncated to it, so the chain is resolved per stored
extent (chunk_format.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...codecs import BytesCodec, CodecChain, TransposeCodec
from ...codecs.chain import ArrayToBytesCodec
from ...codecs.compressed_segmentation import CompressedSegmentationCodec
from ...codecs.image import JpegCodec, PngCodec, read_png
from .metadata import ScaleMetadata

__all__ = ["precomputed_codec_chain", "encoding_codec"]

_DEFAULT_PNG_LEVEL = 6


def encoding_codec(encoding: str, jpeg_quality: Any = None, png_level: Any = None,
                   block_size: Any = None) -> ArrayToBytesCodec:
    """The array -> bytes codec of one ``encoding`` with its parameters."""
    if encoding == "raw":
        return BytesCodec("little")
    if encoding == "compressed_segmentation":
        return CompressedSegmentationCodec(block_size)
    if encoding == "jpeg":
        return JpegCodec(jpeg_quality)
    if encoding == "png":
        return PngCodec(_DEFAULT_PNG_LEVEL if png_level is None else png_level)
    raise ValueError(f"Unsupported encoding: {encoding}")


def precomputed_codec_chain(scale: ScaleMetadata) -> CodecChain:
    """The codec chain of `scale`'s chunks; resolve it with ``(ex, ey, ez, channels)`` and the
    volume's dtype."""
    codec = encoding_codec(scale.encoding, scale.jpeg_quality, scale.png_level,
                           scale.compressed_segmentation_block_size)
    return CodecChain([TransposeCodec("F")], codec, [])


# The stored ``(channel, z, y, x)`` arrays of one image chunk (kept for the image tests).


def _read_png(data: Any, depth: int, nc: int) -> np.ndarray:
    return read_png(data, depth, nc)


def decode_png(data: Any, extent: tuple, nc: int, dtype: np.dtype, params: dict) -> np.ndarray:
    ex, ey, ez = extent
    return PngCodec().resolve((nc, ez, ey, ex), dtype).decode(data)


def decode_jpeg(data: Any, extent: tuple, nc: int, dtype: np.dtype, params: dict) -> np.ndarray:
    ex, ey, ez = extent
    return JpegCodec().resolve((nc, ez, ey, ex), dtype).decode(data)
