"""The zarr3_sharding_indexed kvstore (entries of one shard, keyed by grid position) passes
the public kvstore kit."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from tensorstore_py.testing.kvstore import KvStoreTests

GRID = (2, 3)


class TestZarr3ShardingKit(KvStoreTests):
    spec = {
        "driver": "zarr3_sharding_indexed", "base": "memory://a/shard", "grid_shape": list(GRID),
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
    }  # fmt: skip
    examples = 10
    # TensorStore 0.1.86 deletes ranges of entries; this kvstore does not yet.
    supports_delete_range = False

    def keys(self) -> st.SearchStrategy[bytes]:
        return st.tuples(*(st.integers(0, n - 1) for n in GRID)).map(lambda p: struct.pack(">2I", *p))


class TestZarr3ShardingIndexAtStartKit(TestZarr3ShardingKit):
    spec = {**TestZarr3ShardingKit.spec, "index_location": "start"}
    examples = 5
