"""What the decoder fuzz tests share: the array configurations (every codec and chunk format),
byte mutators, and the budget (a bounded sample in CI, far more with TSPY_FUZZ_DEEP=1)."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

DEEP = os.environ.get("TSPY_FUZZ_DEEP") == "1"


def budget(examples: int) -> settings:
    """Hypothesis settings for `examples` cases in CI (x50 when deep), no deadline: each read is
    bounded by `READ_TIMEOUT` instead, which is what catches a hang."""
    return settings(max_examples=examples * (50 if DEEP else 1), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


READ_TIMEOUT = 20.0  # seconds: far beyond any honest decode of these small chunks


def _zarr(compressor, dtype="<u2"):
    return {"driver": "zarr", "metadata": {"compressor": compressor, "dtype": dtype}}, "uint16"


def _zarr3(codecs):
    grid = {"name": "regular", "configuration": {"chunk_shape": [8, 8]}}
    return {"driver": "zarr3", "metadata": {"codecs": codecs, "chunk_grid": grid}}, "uint16"


def _n5(compression):
    return {"driver": "n5", "metadata": {"compression": compression}}, "uint16"


def _precomputed(scale: dict, dtype: str, channels: int = 1):
    return ({"driver": "neuroglancer_precomputed",
             "scale_metadata": {"resolution": [1, 1, 1], **scale},
             "multiscale_metadata": {"type": "image" if "compressed_segmentation" not in str(scale) else "segmentation",
                                     "data_type": dtype, "num_channels": channels}}, dtype)


_SHARDING = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity",
             "minishard_bits": 1, "shard_bits": 0, "minishard_index_encoding": "gzip", "data_encoding": "gzip"}

#: name -> (spec without kvstore, dtype name, whether corruption is always detectable)
CONFIGS = {
    "zarr-raw": (*_zarr(None), False),
    "zarr-zlib": (*_zarr({"id": "zlib", "level": 1}), False),
    "zarr-gzip": (*_zarr({"id": "gzip", "level": 1}), False),
    "zarr-bz2": (*_zarr({"id": "bz2", "level": 1}), False),
    "zarr-zstd": (*_zarr({"id": "zstd", "level": 1}), False),
    "zarr-blosc-lz4": (*_zarr({"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}), False),
    "zarr-blosc-zstd-bigendian": (*_zarr({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2}, ">u2"), False),
    "zarr3-bytes": (*_zarr3([{"name": "bytes", "configuration": {"endian": "little"}}]), False),
    "zarr3-gzip": (*_zarr3([{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip"}]), False),
    "zarr3-zstd": (*_zarr3([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}]), False),
    "zarr3-blosc-transpose": (*_zarr3([{"name": "transpose", "configuration": {"order": [1, 0]}},
                                       {"name": "bytes", "configuration": {"endian": "little"}},
                                       {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5,
                                                                           "shuffle": "shuffle", "typesize": 2}}]), False),
    "zarr3-crc32c": (*_zarr3([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]), True),
    "zarr3-sharded": (*_zarr3([{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 4], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]), False),
    "zarr3-sharded-index-first": (*_zarr3([{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 4], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_location": "start"}}]), False),
    "n5-raw": (*_n5({"type": "raw"}), False),
    "n5-gzip": (*_n5({"type": "gzip"}), False),
    "n5-bzip2": (*_n5({"type": "bzip2"}), False),
    "n5-xz": (*_n5({"type": "xz"}), False),
    "n5-blosc": (*_n5({"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}), False),
    "n5-zstd": (*_n5({"type": "zstd"}), False),
    "precomputed-raw": (*_precomputed({"encoding": "raw", "size": [16, 16, 1], "chunk_size": [8, 8, 1]}, "uint16"), False),
    "precomputed-cseg32": (*_precomputed({"encoding": "compressed_segmentation", "size": [16, 16, 2],
                                          "chunk_size": [8, 8, 2], "compressed_segmentation_block_size": [4, 4, 1]},
                                         "uint32"), False),
    "precomputed-cseg64": (*_precomputed({"encoding": "compressed_segmentation", "size": [16, 16, 2],
                                          "chunk_size": [8, 8, 2], "compressed_segmentation_block_size": [2, 4, 2]},
                                         "uint64"), False),
    "precomputed-jpeg": (*_precomputed({"encoding": "jpeg", "size": [16, 16, 1], "chunk_size": [8, 8, 1]}, "uint8", 3), False),
    "precomputed-png8": (*_precomputed({"encoding": "png", "size": [16, 16, 1], "chunk_size": [8, 8, 1]}, "uint8", 2), False),
    "precomputed-png16": (*_precomputed({"encoding": "png", "size": [16, 16, 1], "chunk_size": [8, 8, 1]}, "uint16", 2), False),
    "precomputed-sharded": (*_precomputed({"encoding": "raw", "size": [16, 16, 2], "chunk_size": [4, 4, 2],
                                           "sharding": _SHARDING}, "uint16"), False),
}


def mutations(original: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, truncations, and bit flips / overwrites / insertions / deletions of
    `original`."""
    n = len(original)

    def flip(args):
        pos, bit = args
        b = bytearray(original)
        b[pos % n] ^= 1 << bit
        return bytes(b)

    def overwrite(args):
        pos, blob = args
        b = bytearray(original)
        pos %= n
        b[pos: pos + len(blob)] = blob
        return bytes(b[: max(n, pos + len(blob))])

    def insert(args):
        pos, blob = args
        pos %= n + 1
        return original[:pos] + blob + original[pos:]

    def delete(args):
        pos, k = args
        pos %= n
        return original[:pos] + original[pos + k:]

    return st.one_of(
        st.binary(max_size=2 * n + 16),
        st.integers(0, max(n - 1, 0)).map(lambda k: original[:k]),
        st.tuples(st.integers(0, 1 << 30), st.integers(0, 7)).map(flip),
        st.tuples(st.integers(0, 1 << 30), st.binary(min_size=1, max_size=24)).map(overwrite),
        st.tuples(st.integers(0, 1 << 30), st.binary(min_size=1, max_size=24)).map(insert),
        st.tuples(st.integers(0, 1 << 30), st.integers(1, 24)).map(delete),
    )


def picture(shape, dtype) -> np.ndarray:
    """Smooth-ish data (JPEG keeps it close) with some structure for every codec."""
    grid = np.indices(shape).sum(axis=0)
    return ((grid * 7) % 200 + 20).astype(dtype)
