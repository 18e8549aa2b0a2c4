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

    def keys(self) -> st.SearchStrategy[bytes]:
        return st.tuples(*(st.integers(0, n - 1) for n in GRID)).map(lambda p: struct.pack(">2I", *p))


class TestZarr3ShardingIndexAtStartKit(TestZarr3ShardingKit):
    spec = {**TestZarr3ShardingKit.spec, "index_location": "start"}
    examples = 5


def test_delete_range_matches_tensorstore(tmp_path):
    import tensorstore as ref

    import tensorstore_py as ts

    def key(i: int, j: int) -> bytes:
        return struct.pack(">2I", i, j)

    def run(lib, base):
        kv = lib.KvStore.open({**TestZarr3ShardingKit.spec, "base": base, "grid_shape": [4, 4]}).result()
        for i in range(4):
            for j in range(4):
                kv[key(i, j)] = b"v%d%d" % (i, j)
        seen = []
        for lo, hi in ((key(1, 0), key(2, 2)), (key(3, 3), b""), (b"", key(0, 1)), (key(2, 9), key(3, 1)),
                       (b"\x00\x00", b"\x00\x01")):
            kv.delete_range(lib.KvStore.KeyRange(lo, hi)).result()
            seen.append(sorted(kv.list().result()))
        seen.append(kv.read(key(2, 2)).result().state)
        return seen

    for base in ("memory://s/shard", f"file://{tmp_path}/shard"):
        assert run(ts, base.replace("/shard", "/ours")) == run(ref, base.replace("/shard", "/theirs"))
