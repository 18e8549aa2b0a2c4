"""The zarr v2 dialect of the codec chain: how a `.zarray` describes one chunk's encoding.

* ``order`` "F" is a `TransposeCodec` reversing the dimensions (the elements are stored with
  the first dimension varying fastest); "C" needs no array -> array codec;
* the ``dtype``'s byte order is the `BytesCodec` (structured dtypes carry a byte order per
  field inside the element, so the element bytes are stored as they are);
* ``compressor`` (``null``: none) is the one bytes -> bytes codec; TensorStore supports only
  ``"filters": null``, so there are no others.

Chunks are held in memory in the stored byte order (the dtype of `ZarrDType.numpy_dtype`) and
the stored layout, so decoding is at most a decompression and encoding at most a compression.
"""

from __future__ import annotations

from ...codecs import BytesCodec, CodecChain, TransposeCodec
from .metadata import ZarrMetadata

__all__ = ["zarr_codec_chain"]

_ENDIAN = {"<": "little", ">": "big"}


def zarr_codec_chain(metadata: ZarrMetadata) -> CodecChain:
    """The codec chain of chunks of `metadata` (resolve it with the grid chunk shape and
    ``metadata.dtype.numpy_dtype``)."""
    dtype = metadata.dtype
    endian = None if dtype.has_fields else _ENDIAN.get(dtype.fields[0].endian)
    array_to_array = [TransposeCodec("F")] if metadata.order == "F" else []
    compressor = metadata.compressor
    return CodecChain(array_to_array, BytesCodec(endian), [] if compressor is None else [compressor])
