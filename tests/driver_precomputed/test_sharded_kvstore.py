"""The sharded chunk kvstore: per-chunk generations, conditional writes, batching, deletes."""


import pytest

from tensorstore_py.context import Context
from tensorstore_py.driver.neuroglancer_precomputed.sharded_kvstore import ShardedKvStore, chunk_generation
from tensorstore_py.driver.neuroglancer_precomputed.sharding import ShardingSpec, chunk_id_key, decode_shard, decode_shard_index
from tensorstore_py.kvstore import KvStore
from tensorstore_py.kvstore.driver import ReadOptions, WriteOptions, open_kvstore_driver
from tensorstore_py.kvstore.generation import NO_VALUE, UNKNOWN


@pytest.fixture
def store():
    spec = ShardingSpec(1, "identity", 1, 1, "gzip", "raw")
    adapter = {"driver": "neuroglancer_uint64_sharded", "base": "memory://vol/s/", "metadata": spec.to_json()}
    kv, path = open_kvstore_driver(adapter, Context())
    assert isinstance(kv, ShardedKvStore) and path == ""
    yield kv, kv.base


def _read(kv, chunk_id):
    return kv.read(chunk_id_key(chunk_id), ReadOptions()).result()


def test_missing_then_written_then_deleted(store):
    kv, base = store
    assert _read(kv, 5).state == "missing"
    stamp = kv.write(chunk_id_key(5), b"five", WriteOptions()).result()
    assert stamp.generation == chunk_generation(b"five")
    result = _read(kv, 5)
    assert (result.state, result.value, result.stamp.generation) == ("value", b"five", chunk_generation(b"five"))
    # Chunk 5 >> 1 = 2: minishard 0, shard 1.
    shard = base.read(b"vol/s/1.shard", ReadOptions()).result()
    assert decode_shard(kv.spec, shard.value) == {5: b"five"}
    assert kv.write(chunk_id_key(5), None, WriteOptions()).result().generation == NO_VALUE
    assert base.read(b"vol/s/1.shard", ReadOptions()).result().state == "missing"


def test_conditional_writes_are_per_chunk(store):
    kv, _ = store
    kv.write(chunk_id_key(4), b"a", WriteOptions()).result()
    gen_a = _read(kv, 4).stamp.generation
    # A neighbour in the same shard changes: chunk 4's generation does not.
    kv.write(chunk_id_key(6), b"b", WriteOptions()).result()
    assert kv.write(chunk_id_key(4), b"a2", WriteOptions(if_equal=gen_a)).result().generation == chunk_generation(b"a2")
    # A stale condition on chunk 4 itself fails and leaves the value alone.
    assert kv.write(chunk_id_key(4), b"a3", WriteOptions(if_equal=gen_a)).result().generation == UNKNOWN
    assert _read(kv, 4).value == b"a2"
    assert kv.write(chunk_id_key(7), b"c", WriteOptions(if_equal=NO_VALUE)).result().generation != UNKNOWN
    assert kv.write(chunk_id_key(7), b"d", WriteOptions(if_equal=NO_VALUE)).result().generation == UNKNOWN
    assert {i: _read(kv, i).value for i in (4, 6, 7)} == {4: b"a2", 6: b"b", 7: b"c"}


def test_many_concurrent_writes_to_one_shard(store):
    kv, base = store
    futures = [kv.write(chunk_id_key(i), bytes([i]) * 3, WriteOptions()) for i in range(0, 64, 4)]
    for f in futures:
        f.result()
    shard = decode_shard(kv.spec, base.read(b"vol/s/0.shard", ReadOptions()).result().value)
    assert shard == {i: bytes([i]) * 3 for i in range(0, 64, 4) if (i >> 2) % 2 == 0}
    for i in range(0, 64, 4):
        assert _read(kv, i).value == bytes([i]) * 3


def test_bad_keys_are_rejected(store):
    kv, _ = store
    with pytest.raises(ValueError, match="Invalid key"):
        kv.read(b"abc", ReadOptions()).result()


def test_reads_share_index_fetches_and_see_completed_writes(store):
    kv, base = store
    for i in range(0, 16):
        kv.write(chunk_id_key(i), bytes([i + 1]), WriteOptions()).result()
    calls = []
    original = base.read

    def counting(key, options):
        calls.append((key, options.byte_range))
        return original(key, options)

    base.read = counting
    try:
        results = [kv.read(chunk_id_key(i), ReadOptions()) for i in range(16)]
        assert [r.result().value for r in results] == [bytes([i + 1]) for i in range(16)]
        # Each minishard index is fetched once (2 shards x 2 minishards); shard indices at most
        # once per chunk read (shared while in flight); one read per chunk: not 3 per chunk.
        ranges = set()
        for name in (b"vol/s/0.shard", b"vol/s/1.shard"):
            table = decode_shard_index(kv.spec, original(name, ReadOptions()).result().value)
            ranges |= {(name, (32 + int(a), 32 + int(b))) for a, b in table if b > a}
        assert len(ranges) == 4
        assert sum(r in ranges for r in calls) == 4
        assert len(calls) <= 16 + 16 + 4
        for i in range(16):
            pending = kv.read(chunk_id_key(i), ReadOptions())
            kv.write(chunk_id_key(i), b"new", WriteOptions()).result()
            pending.result()
            assert _read(kv, i).value == b"new"
    finally:
        base.read = original
