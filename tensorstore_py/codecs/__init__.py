"""Chunk codecs, one class per algorithm, of the three kinds zarr v3 and TensorStore use.

* bytes -> bytes (`Codec`): blosc, gzip/zlib (`DeflateCodec`), zstd, bz2, xz, crc32c;
* array -> bytes: `BytesCodec` (elements with a byte order), `ShardingCodec` (zarr v3 shards),
  `CompressedSegmentationCodec`, `JpegCodec`, `PngCodec` (Neuroglancer's encodings);
* array -> array: `TransposeCodec`;

composed into a `CodecChain` that is resolved against a chunk's shape and dtype (chain.py).
No format's JSON dialect lives here except the zarr v2 ``compressor`` / n5 ``compression``
registries kept from before (`zarr_compressor_from_json`, `n5_compression_from_json`).  The
formats build their chains in their own packages: driver/zarr3/codec_json.py,
driver/zarr/codec_chain.py, driver/n5/block.py, driver/neuroglancer_precomputed/
chunk_encoding.py.  Heavy work releases the GIL.
"""

from __future__ import annotations

from typing import Any

from .base import N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, Registry
from .blosc import BloscCodec, N5Blosc, ZarrBlosc
from .deflate import DeflateCodec, N5Gzip, ZarrGzip, ZarrZlib
from .bytes_codec import BytesCodec
from .chain import ArrayToArrayCodec, ArrayToBytesCodec, CodecChain, ResolvedCodecChain
from .compressed_segmentation import CompressedSegmentationCodec
from .crc32c import Crc32cCodec
from .image import JpegCodec, PngCodec
from .sharding import ShardIndex, ShardingCodec
from .simple import N5Bzip2, N5Raw, N5Xz, N5Zstd, ZarrBz2, ZarrZstd, ZstdCodec
from .transpose import TransposeCodec

__all__ = [
    "Codec", "Registry", "ZARR_COMPRESSORS", "N5_COMPRESSIONS", "zarr_compressor_from_json",
    "n5_compression_from_json", "default_zarr_compressor", "default_n5_compression",
    "BloscCodec", "ZarrBlosc", "N5Blosc", "DeflateCodec", "ZarrZlib", "ZarrGzip", "N5Gzip",
    "ZarrBz2", "N5Bzip2", "N5Xz", "ZarrZstd", "N5Zstd", "N5Raw", "ZstdCodec", "Crc32cCodec",
    "BytesCodec", "TransposeCodec", "ShardingCodec", "ShardIndex", "CodecChain",
    "ResolvedCodecChain", "ArrayToArrayCodec", "ArrayToBytesCodec", "CompressedSegmentationCodec",
    "JpegCodec", "PngCodec",
]  # fmt: skip


def zarr_compressor_from_json(j: Any) -> Codec | None:
    """Parses a zarr v2 ``compressor`` member; ``None`` (JSON null) means uncompressed.

    Raises ``ValueError`` with TensorStore's message (relative to the member itself, e.g.
    ``Error parsing object member "level": Expected integer in the range [0, 9], ...``).
    """
    if j is None:
        return None
    return ZARR_COMPRESSORS.parse(j)


def n5_compression_from_json(j: Any) -> Codec:
    """Parses an n5 ``compression`` member (always an object; ``{"type": "raw"}`` for none)."""
    return N5_COMPRESSIONS.parse(j)


def default_zarr_compressor() -> Codec:
    """The compressor TensorStore picks when zarr metadata leaves it unspecified (blosc lz4)."""
    return ZarrBlosc()


def default_n5_compression() -> Codec:
    """The compression TensorStore picks when n5 metadata leaves it unspecified (blosc lz4)."""
    return N5Blosc()
