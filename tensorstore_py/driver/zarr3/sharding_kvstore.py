"""The `zarr3_sharding_indexed` kvstore: the entries of one shard as keys of their own.

``{"driver": "zarr3_sharding_indexed", "base": <the shard's kvstore>, "grid_shape": [...],
"index_codecs": [...], "index_location": "end"}``: keys are an entry's grid position as
big-endian uint32 per dimension (`chunk_format.entry_suffix`).  Reads, writes and the
read-modify-write of the shard are `ShardedStore`'s, with the shard at the base's path.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ... import future as futures
from ...context import Resource
from ...errors import invalid_argument
from ...future import Future
from ...json_util import ObjectReader, expect_int, parse_array, quote_string
from ...kvstore.driver import (
    KvStoreAdapterDriver, KvStoreAdapterSpec, KvStoreDriver, ReadOptions, WriteOptions, register_kvstore_driver,
    unimplemented_url,
)  # fmt: skip
from ...kvstore.key_range import KeyRange
from .sharded_store import ShardedStore

__all__ = ["ShardingIndexedKvStoreSpec"]

_DEFAULT_INDEX = [{"configuration": {"endian": "little"}, "name": "bytes"}, {"name": "crc32c"}]


def _grid(j: Any) -> list[int]:
    return parse_array(j, lambda v: expect_int(v, 1, (1 << 32) - 1))


def _location(j: Any) -> str:
    if j not in ("start", "end"):
        raise invalid_argument(f'Expected one of "start", "end", but received: {quote_string(str(j))}')
    return j


class ShardingIndexedKvStoreSpec(KvStoreAdapterSpec):
    id = "zarr3_sharding_indexed"
    url_scheme = None
    resource_members = {"cache_pool": "cache_pool", "data_copy_concurrency": "data_copy_concurrency"}

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        from .codec_json import parse_zarr3_codecs, zarr3_codecs_json

        options: dict[str, Any] = {}
        grid = reader.get("grid_shape", _grid, None)
        if grid is not None:
            options["grid_shape"] = grid
        index = reader.get("index_codecs", lambda v: parse_zarr3_codecs(v, constraint=False), None)
        if index is not None:
            options["index_codecs"] = zarr3_codecs_json(index)
        options["index_location"] = reader.get("index_location", _location, "end")
        return options

    def options_json(self, include_defaults: bool = False) -> dict:
        return {k: self.options[k] for k in ("grid_shape", "index_codecs", "index_location") if k in self.options}

    def to_url(self, path: str) -> str:
        raise unimplemented_url(self.id)

    def open_adapter(self, resources: dict[str, Resource], base: KvStoreDriver, base_path: str) -> "ShardingIndexedKvStore":
        for name in ("grid_shape", "index_codecs"):
            if name not in self.options:
                raise invalid_argument(f'"{name}" must be specified')
        return ShardingIndexedKvStore(self, resources, base, base_path)


class ShardingIndexedKvStore(KvStoreAdapterDriver):
    """Entry keys of the shard stored at `base_path` in `base`."""

    def __init__(self, spec: ShardingIndexedKvStoreSpec, resources: dict[str, Resource], base: KvStoreDriver, base_path: str):
        super().__init__(spec, resources, base, base_path)
        from ...codecs.sharding import ShardingCodec
        from .codec_json import parse_zarr3_codecs

        grid = tuple(spec.options["grid_shape"])
        index = parse_zarr3_codecs(spec.options["index_codecs"], constraint=False)
        # Only the index matters here: a codec over a grid of 1-element sub-chunks of bytes.
        codec = ShardingCodec([1] * len(grid), None, index, spec.options["index_location"]).resolve(grid, np.uint8)
        self.grid = grid
        self.store = ShardedStore(base, codec, len(grid), resources["data_copy_concurrency"].executor)
        self._shard = base_path.encode()

    def _key(self, key: bytes) -> bytes:
        rank = len(self.grid)
        if len(key) == 4 * rank:
            position = struct.unpack(f">{rank}I", key)
            if all(p < g for p, g in zip(position, self.grid)):
                return self._shard + key
        shape = "{" + ", ".join(map(str, self.grid)) + "}"
        raise invalid_argument(f"Invalid key (grid_shape={shape}): {quote_string(key.decode('latin-1'))}")

    def read(self, key: bytes, options: ReadOptions) -> Future:
        try:
            return self.store.read(self._key(key), options)
        except ValueError as exc:
            return futures.failed(exc)

    def write(self, key: bytes, value: Any, options: WriteOptions) -> Future:
        try:
            return self.store.write(self._key(key), value, options)
        except ValueError as exc:
            return futures.failed(exc)

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future:
        def keys(index: Any) -> list[bytes]:
            if index.index is None:
                return []
            out = []
            for linear in index.index.present():
                key = struct.pack(f">{len(self.grid)}I", *np.unravel_index(linear, self.grid)) if self.grid else b""
                if key >= key_range.inclusive_min and (not key_range.exclusive_max or key < key_range.exclusive_max):
                    out.append(key[strip_prefix_length:])
            return out

        return futures.chain(self.store._shard_index(self._shard), keys)

    def delete_range(self, key_range: KeyRange) -> Future:
        grid, rank = self.grid, len(self.grid)
        lo, hi = key_range.inclusive_min, key_range.exclusive_max

        def doomed(linear: int) -> bool:
            key = struct.pack(f">{rank}I", *np.unravel_index(linear, grid)) if grid else b""
            return key >= lo and (not hi or key < hi)

        return self.store.delete_entries(self._shard, doomed)

    def describe_key(self, key: bytes) -> str:
        try:
            return self.store.describe_key(self._key(key))
        except ValueError:
            return self.base.describe_key(self._shard)


register_kvstore_driver(ShardingIndexedKvStoreSpec.id, ShardingIndexedKvStoreSpec)
