"""Databases written by tensorstore_py and by the reference tensorstore 0.1.86 read identically
by both, at the latest and at old versions: raw keys with deletes over many commits (the two
libraries taking turns on one database), zarr v2 and zarr3 arrays, the numbered manifest kind,
multi-level B+trees and version trees."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

import tensorstore_py as ts

rts = pytest.importorskip("tensorstore")

LIBS = {"mine": ts, "theirs": rts}

CONFIGS = [
    pytest.param({}, id="defaults"),
    # Tiny nodes and a binary version tree: several B+tree levels and version tree heights.
    pytest.param({"max_decoded_node_bytes": 200, "max_inline_value_bytes": 8, "version_tree_arity_log2": 1}, id="deep"),
    pytest.param({"manifest_kind": "numbered", "version_tree_arity_log2": 2, "compression": None}, id="numbered"),
]


def _latest_generation(spec: dict) -> int:
    kv = ts.KvStore.open(spec).result()
    return kv.driver.db.manifest().result().manifest.latest.generation


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("first", ["mine", "theirs"])
def test_raw_keys_alternating_writers(tmp_path, config, first):
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(), "config": config}
    second = "theirs" if first == "mine" else "mine"
    rng = random.Random(len(str(config)) * 7 + len(first))
    model: dict[str, bytes] = {}
    history = []
    for step in range(24):
        lib = LIBS[first if step % 2 == 0 else second]
        kv = lib.KvStore.open(spec).result()
        txn = lib.Transaction()
        for _ in range(rng.randint(1, 10)):
            key = f"k{rng.randint(0, 50):03d}"
            if rng.random() < 0.2:
                kv.with_transaction(txn).write(key, None).result()
                model.pop(key, None)
            else:
                value = os.urandom(rng.choice([0, 1, 5, 20, 150]))
                kv.with_transaction(txn).write(key, value).result()
                model[key] = value
        txn.commit_sync()
        history.append((_latest_generation(spec), dict(model)))
    for name, lib in LIBS.items():
        kv = lib.KvStore.open(spec).result()
        assert sorted(k.decode() for k in kv.list().result()) == sorted(model), name
        for key, value in model.items():
            assert kv[key] == value, (name, key)
        for step in (0, 5, 11, 23):
            generation, want = history[step]
            old = lib.KvStore.open({**spec, "version": generation}).result()
            got = {k.decode(): old[k] for k in old.list().result()}
            assert got == want, (name, step)


@pytest.mark.parametrize("writer", ["mine", "theirs"])
def test_many_commits_and_versions_by_time(tmp_path, writer):
    """40 separate commits (version tree nodes of arity 4 at two levels), read back at every
    version by number, and by commit time through the URL form."""
    lib = LIBS[writer]
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(), "config": {"version_tree_arity_log2": 2}}
    kv = lib.KvStore.open(spec).result()
    for i in range(40):
        kv[f"key{i % 7}"] = f"value{i}"
        if i % 9 == 8:
            kv.delete_range(lib.KvStore.KeyRange("key2", "key4")).result()
    for name, reader in LIBS.items():
        manifest_kv = ts.KvStore.open(spec).result()
        latest = manifest_kv.driver.db.manifest().result().manifest.latest.generation
        states = {}
        for generation in range(2, latest + 1):
            old = reader.KvStore.open({**spec, "version": generation}).result()
            states[generation] = {k: old[k] for k in old.list().result()}
        if name == "mine":
            mine_states = states
        else:
            assert states == mine_states
    # Version by commit time (URL form): the time of a version finds that version.
    url = f"{tmp_path.as_uri()}/|ocdbt:@2099-01-01T00:00:00Z/"
    for name, reader in LIBS.items():
        newest = reader.KvStore.open(url).result()
        assert {k: newest[k] for k in newest.list().result()} == mine_states[latest], name


@pytest.mark.parametrize("driver", ["zarr", "zarr3"])
@pytest.mark.parametrize("first", ["mine", "theirs"])
def test_arrays(tmp_path, driver, first):
    a_lib = LIBS[first]
    b_lib = LIBS["theirs" if first == "mine" else "mine"]
    spec = {"driver": driver, "kvstore": {"driver": "ocdbt", "base": tmp_path.as_uri() + "/"}}
    a = a_lib.open(spec, create=True, dtype=a_lib.uint16, shape=[40, 50],
                   chunk_layout=a_lib.ChunkLayout(chunk_shape=[8, 16])).result()
    data = np.arange(2000, dtype=np.uint16).reshape(40, 50)
    a[...] = data
    with a_lib.Transaction(atomic=True) as txn:
        a.with_transaction(txn)[5:30, 7:40] = 7
    data[5:30, 7:40] = 7
    b = b_lib.open(spec).result()
    np.testing.assert_array_equal(b.read().result(), data)
    b[0:3, 0:3] = 99
    data[0:3, 0:3] = 99
    np.testing.assert_array_equal(a_lib.open(spec).result().read().result(), data)


@pytest.mark.parametrize("writer", ["mine", "theirs"])
def test_large_values_and_byte_ranges(tmp_path, writer):
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(), "config": {"max_inline_value_bytes": 16}}
    kv = LIBS[writer].KvStore.open(spec).result()
    big = os.urandom(100_000)
    kv["big"] = big
    kv["small"] = b"0123456789"
    for name, lib in LIBS.items():
        other = lib.KvStore.open(spec).result()
        assert other["big"] == big, name
        assert other.read("big", byte_range=slice(10, 20)).result().value == big[10:20], name
        assert other.read("small", byte_range=slice(2, 4)).result().value == b"23", name


@pytest.mark.parametrize("first", ["mine", "theirs"])
def test_sharded_zarr3(tmp_path, first):
    """Shards read by byte range from values stored out of line in the database."""
    a_lib = LIBS[first]
    b_lib = LIBS["theirs" if first == "mine" else "mine"]
    spec = {"driver": "zarr3", "kvstore": {"driver": "ocdbt", "base": tmp_path.as_uri() + "/"}}
    a = a_lib.open(spec, create=True, dtype=a_lib.float32, shape=[64, 64],
                   chunk_layout=a_lib.ChunkLayout(read_chunk_shape=[8, 8], write_chunk_shape=[32, 32])).result()
    data = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    a[...] = data
    b = b_lib.open(spec).result()
    np.testing.assert_array_equal(b[3:50, 10:20].read().result(), data[3:50, 10:20])


@pytest.mark.parametrize("copier", ["mine", "theirs"])
def test_copy_range_between_databases(tmp_path, copier):
    """Values copied by reference into a parent database (data file paths with a base path)
    read the same in both libraries; the child keeps working."""
    lib = LIBS[copier]
    child_spec = {"driver": "ocdbt", "base": (tmp_path / "sub dir").as_uri(), "config": {"max_inline_value_bytes": 2}}
    parent_spec = {"driver": "ocdbt", "base": tmp_path.as_uri()}
    context = lib.Context()  # (the two databases must share their base kvstore)
    child = lib.KvStore.open(child_spec, context=context).result()
    child["x"] = b"stored out of line"
    child["y"] = b"in"
    parent = lib.KvStore.open(parent_spec, context=context).result()
    parent["own"] = b"parent value, also out of line"
    child.experimental_copy_range_to(parent / "from_child/").result()
    for reader in LIBS.values():
        p = reader.KvStore.open(parent_spec).result()
        assert sorted(p.list().result()) == [b"from_child/x", b"from_child/y", b"own"]
        assert p["from_child/x"] == b"stored out of line"
        assert p["from_child/y"] == b"in"
        assert reader.KvStore.open(child_spec).result()["x"] == b"stored out of line"
