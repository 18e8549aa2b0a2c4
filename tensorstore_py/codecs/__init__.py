"""Chunk codecs: the compressors named by zarr v2 ``compressor`` and n5 ``compression`` JSON.

Drivers call `zarr_compressor_from_json` / `n5_compression_from_json` while parsing metadata and
then use the returned `Codec`'s ``encode`` / ``decode`` on each chunk (on executor threads: the
heavy work releases the GIL).  See ../shared/DESIGN.md for where this layer sits.
"""

from __future__ import annotations

from typing import Any

from .base import N5_COMPRESSIONS, ZARR_COMPRESSORS, Codec, Registry
from .blosc import BloscCodec, N5Blosc, ZarrBlosc
from .deflate import DeflateCodec, N5Gzip, ZarrGzip, ZarrZlib
from .simple import N5Bzip2, N5Raw, N5Xz, N5Zstd, ZarrBz2, ZarrZstd

__all__ = [
    "Codec", "Registry", "ZARR_COMPRESSORS", "N5_COMPRESSIONS", "zarr_compressor_from_json",
    "n5_compression_from_json", "default_zarr_compressor", "default_n5_compression",
    "BloscCodec", "ZarrBlosc", "N5Blosc", "DeflateCodec", "ZarrZlib", "ZarrGzip", "N5Gzip",
    "ZarrBz2", "N5Bzip2", "N5Xz", "ZarrZstd", "N5Zstd", "N5Raw",
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
