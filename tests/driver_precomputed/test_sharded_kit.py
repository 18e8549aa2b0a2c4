"""The neuroglancer_uint64_sharded kvstore (chunks keyed by big-endian uint64 ids) passes the
public kvstore kit, with either hash."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from tensorstore_py.testing.kvstore import KvStoreTests


def _sharding(hash_: str) -> dict:
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": hash_, "minishard_bits": 1,
            "shard_bits": 1, "minishard_index_encoding": "gzip", "data_encoding": "raw"}  # fmt: skip


class TestShardedIdentityKit(KvStoreTests):
    spec = {"driver": "neuroglancer_uint64_sharded", "base": "memory://vol/s/", "metadata": _sharding("identity")}
    examples = 10
    supports_delete_range = False  # nor in TensorStore 0.1.86

    def keys(self) -> st.SearchStrategy[bytes]:
        return st.integers(0, 40).map(lambda i: struct.pack(">Q", i))


class TestShardedMurmurKit(TestShardedIdentityKit):
    spec = {**TestShardedIdentityKit.spec, "metadata": _sharding("murmurhash3_x86_128")}
    examples = 5
