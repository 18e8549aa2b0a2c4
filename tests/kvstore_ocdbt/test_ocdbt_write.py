"""Writes to an ocdbt database: batching into commits, conditional writes, delete_range, list,
atomic transactions, copy_range_to, data file prefixes and sizes, and the spec as TensorStore
prints it."""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore_py as ts
from tensorstore_py.kvstore.ocdbt import codec

rts = pytest.importorskip("tensorstore")


def _manifest(kv: ts.KvStore) -> codec.Manifest:
    return kv.driver.db.manifest().result().manifest


def test_write_read_list_delete():
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result()
    assert kv.list().result() == []
    assert kv.read("a").result().state == "missing"
    kv["a"] = b"1"
    kv["b/c"] = b"2" * 500
    kv["b/d"] = b"3"
    assert kv.list().result() == [b"a", b"b/c", b"b/d"]
    assert kv.list(ts.KvStore.KeyRange("b/", "b0"), strip_prefix_length=2).result() == [b"c", b"d"]
    assert (kv / "b/").list().result() == [b"c", b"d"]
    kv.delete_range(ts.KvStore.KeyRange("b/", "b/d")).result()
    assert kv.list().result() == [b"a", b"b/d"]
    del kv["a"]
    assert kv.list().result() == [b"b/d"]


def test_concurrent_writes_are_batched():
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result()
    futures = [kv.write(f"k{i:04d}", f"v{i}") for i in range(500)]
    stamps = [f.result() for f in futures]
    assert all(s.generation for s in stamps)
    assert len(kv.list().result()) == 500
    # One version to create the database, then far fewer commits than writes.
    assert _manifest(kv).latest.generation < 50


def test_conditional_writes():
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result()
    first = kv.write("a", b"x").result()
    assert kv.read("a").result().stamp.generation == first.generation
    # Only if absent: skipped.
    assert kv.write("a", b"y", if_equal=b"\x02").result().generation == b""
    # On the wrong generation: skipped; on the right one: written.
    assert kv.write("a", b"y", if_equal=b"\x00wrong").result().generation == b""
    assert kv["a"] == b"x"
    second = kv.write("a", b"y", if_equal=first.generation).result()
    assert second.generation not in (b"", first.generation)
    assert kv["a"] == b"y"
    assert kv.read("a", if_not_equal=second.generation).result().state == "unspecified"
    assert kv.write("new", b"z", if_equal=b"\x02").result().generation != b""


def test_atomic_transaction_commits_all_keys_in_one_version():
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result()
    kv["seed"] = b"0"
    before = _manifest(kv).latest.generation
    txn = ts.Transaction(atomic=True)
    for i in range(50):
        kv.with_transaction(txn)[f"k{i}"] = f"{i}" * (i * 10)
    assert kv.list().result() == [b"seed"]  # nothing visible before the commit
    txn.commit_sync()
    assert _manifest(kv).latest.generation == before + 1
    assert len(kv.list().result()) == 51


def test_repeatable_read_conflict_writes_nothing():
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result()
    kv["a"] = b"1"
    txn = ts.Transaction(repeatable_read=True)
    assert kv.with_transaction(txn)["a"] == b"1"
    kv.with_transaction(txn)["b"] = b"2"
    kv["a"] = b"changed"
    with pytest.raises(ValueError, match="Generation mismatch"):
        txn.commit_sync()
    assert kv.read("b").result().state == "missing"


def test_zarr_atomic_transaction_over_ocdbt():
    store = ts.open({"driver": "zarr3", "kvstore": {"driver": "ocdbt", "base": "memory://"}},
                    create=True, dtype=ts.int32, shape=[64, 64], chunk_layout=ts.ChunkLayout(chunk_shape=[8, 8])).result()
    before = _manifest(store.kvstore).latest.generation
    with ts.Transaction(atomic=True) as txn:
        store.with_transaction(txn)[...] = 5
    assert _manifest(store.kvstore).latest.generation == before + 1
    np.testing.assert_array_equal(store.read().result(), np.full((64, 64), 5))


def test_reading_old_versions_and_read_only():
    ctx = ts.Context()
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}, context=ctx).result()
    kv["a"] = b"1"
    kv["a"] = b"2"
    old = ts.KvStore.open("memory://|ocdbt:@v2/", context=ctx).result()
    assert old["a"] == b"1"
    assert old.url == "memory://|ocdbt:@v2/"
    with pytest.raises(ValueError, match="Writing is not supported with version=v2 specified"):
        old["a"] = b"3"
    with pytest.raises(ValueError, match="NOT_FOUND: Version where generation_number=9 not present"):
        ts.KvStore.open("memory://|ocdbt:@v9/", context=ctx).result().read("a").result()


def test_copy_range_shares_values():
    ctx = ts.Context()
    child = ts.KvStore.open({"driver": "ocdbt", "base": "memory://child/", "config": {"max_inline_value_bytes": 4}},
                            context=ctx).result()
    child["x"] = b"a long value stored out of line"
    child["y"] = b"tiny"
    parent = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}, context=ctx).result()
    memory = ts.KvStore.open("memory://", context=ctx).result()
    files_before = len(memory.list().result())
    child.experimental_copy_range_to(parent / "copied/").result()
    assert parent.list().result() == [b"copied/x", b"copied/y"]
    assert parent["copied/x"] == b"a long value stored out of line"
    # The out-of-line value is referenced in the child's data file, not copied.
    node = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}, context=ctx).result()
    m = _manifest(node)
    db = node.driver.db
    view = db.btree_node(m.latest.root, m.latest.root_height, m.config.max_decoded_node_bytes).result()
    refs = [e.value for e in view.node.entries if isinstance(e.value, codec.Ref)]
    assert refs and refs[0].file.base == b"child/"
    assert len(memory.list().result()) > files_before
    # A database outside the target's directory cannot be copied by reference.
    elsewhere = ts.KvStore.open({"driver": "ocdbt", "base": "memory://c"}, context=ctx).result()
    with pytest.raises(NotImplementedError):
        child.experimental_copy_range_to(elsewhere).result()
    # The reference implementation reads the copied database.
    assert rts is not None


def test_data_file_prefixes_and_target_size(tmp_path):
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(), "target_data_file_size": 1000,
            "value_data_prefix": "v/", "btree_node_data_prefix": "b/", "version_tree_node_data_prefix": "t/",
            "config": {"max_inline_value_bytes": 10, "version_tree_arity_log2": 1}}
    kv = ts.KvStore.open(spec).result()
    txn = ts.Transaction()
    for i in range(20):
        kv.with_transaction(txn)[f"k{i}"] = bytes([i]) * 300
    txn.commit_sync()
    for i in range(3):
        kv[f"extra{i}"] = b"e"
    values = list((tmp_path / "v").iterdir())
    assert len(values) >= 5  # 6000 bytes of values in files of about 1000 bytes
    assert list((tmp_path / "b").iterdir()) and list((tmp_path / "t").iterdir())
    ref = rts.KvStore.open({"driver": "ocdbt", "base": tmp_path.as_uri()}).result()
    assert ref["k7"] == bytes([7]) * 300
    assert sorted(ref.list().result()) == sorted(kv.list().result())


def test_numbered_manifests(tmp_path):
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(), "config": {"manifest_kind": "numbered"}}
    kv = ts.KvStore.open(spec).result()
    for i in range(3):
        kv[f"k{i}"] = b"v"
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("manifest"))
    assert names[-1] == "manifest.ocdbt"
    assert "manifest.0000000000000004" in names
    assert sorted(rts.KvStore.open(spec).result().list().result()) == [b"k0", b"k1", b"k2"]


def test_spec_and_repr_match_reference():
    for lib in (ts, rts):
        kv = lib.KvStore.open({"driver": "ocdbt", "base": "memory://a", "config": {"compression": {"id": "zstd"}}}).result()
        if lib is ts:
            mine = (repr(kv), repr(kv.spec()), kv.url, repr(kv.base))
        else:
            assert (repr(kv), repr(kv.spec()), kv.url, repr(kv.base)) == mine


def test_config_mismatch_and_creation_defaults():
    ctx = ts.Context()
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://", "config": {"uuid": "00" * 16}}, context=ctx).result()
    kv["a"] = b"b"
    config = _manifest(kv).config
    assert config == codec.Config(uuid=bytes(16))
    other = ts.KvStore.open({"driver": "ocdbt", "base": "memory://", "config": {"max_inline_value_bytes": 3}}, context=ctx).result()
    with pytest.raises(ValueError, match="FAILED_PRECONDITION: Configuration mismatch on max_inline_value_bytes: expected 3 but received 100"):
        other.read("a").result()


def test_assume_config_commits_first_write_as_generation_one(tmp_path):
    for kind in ("single", "numbered"):
        path = tmp_path / kind
        spec = {"driver": "ocdbt", "base": path.as_uri(), "assume_config": True, "config": {"manifest_kind": kind}}
        kv = ts.KvStore.open(spec).result()
        kv["x"] = b"1"
        ref = rts.KvStore.open({"driver": "ocdbt", "base": path.as_uri()}).result()
        manifest = rts.ocdbt.dump(ref.base).result()
        assert [v["generation_number"] for v in manifest["versions"]] == [1]
        assert ref["x"] == b"1"
