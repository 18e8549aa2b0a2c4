"""The `zarr3_sharding_indexed` kvstore on its own, compared with tensorstore 0.1.86: spec JSON,
entry reads/writes/lists, key errors, and the shard bytes it leaves in the base store."""

from __future__ import annotations

import json
import struct

import pytest

from tensorstore_py.kvstore import driver as kvstore_driver
from zarr3_helpers import same

pytestmark = pytest.mark.skipif(
    not hasattr(kvstore_driver, "KvStoreAdapterSpec"),
    reason="zarr3_sharding_indexed needs the adapter kvstore interface (branch nesting)",
)

INDEX = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]


def _spec(**kw):
    j = {"driver": "zarr3_sharding_indexed", "base": "memory://a/shard", "grid_shape": [2, 3], "index_codecs": INDEX}
    j.update(kw)
    return j


def _key(*position):
    return struct.pack(f">{len(position)}I", *position)


@pytest.mark.parametrize("location", ["start", "end"])
def test_round_trip_and_stored_bytes(location):
    def run(lib):
        ctx = lib.Context()
        kv = lib.KvStore.open(_spec(index_location=location), context=ctx).result()
        kv.write(_key(1, 2), b"hello").result()
        kv.write(_key(0, 0), b"first").result()
        kv.write(_key(0, 1), b"").result()
        kv.write(_key(0, 0), None).result()
        shard = lib.KvStore.open("memory://a/", context=ctx).result().read("shard").result().value
        listed = sorted(kv.list().result())
        return (json.dumps(kv.spec().to_json(), sort_keys=True), kv[_key(1, 2)], kv.read(_key(0, 0)).result().state,
                kv.read(_key(0, 1)).result().value, listed, shard)

    same(run)


@pytest.mark.parametrize("key", [b"abc", _key(5, 2), _key(1, 2, 0)])
def test_invalid_keys(key):
    same(lambda lib: lib.KvStore.open(_spec(), context=lib.Context()).result().read(key).result())


def test_missing_shard_reads_missing():
    same(lambda lib: lib.KvStore.open(_spec(), context=lib.Context()).result().read(_key(0, 0)).result().state)
