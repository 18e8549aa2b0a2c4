"""The ocdbt spec as tensorstore 0.1.86 has it: JSON (with and without defaults), URLs with
versions, base paths made directories, errors for bad members and URLs, and the
FAILED_PRECONDITION errors of a configuration that contradicts the stored one."""

from __future__ import annotations

import pytest

import tensorstore_py as ts

rts = pytest.importorskip("tensorstore")

SPECS = [
    {"driver": "ocdbt", "base": "memory://y"},
    {"driver": "ocdbt", "base": "memory://y/z", "path": "a/b"},
    {"driver": "ocdbt", "base": "memory://y", "version": 2, "assume_config": True, "target_data_file_size": 5,
     "value_data_prefix": "v/", "btree_node_data_prefix": "b/", "version_tree_node_data_prefix": "t/",
     "experimental_read_coalescing_threshold_bytes": 10, "experimental_read_coalescing_merged_bytes": 100,
     "experimental_read_coalescing_interval": "1ms",
     "config": {"max_inline_value_bytes": 5, "uuid": "000102030405060708090a0b0c0d0e0f", "manifest_kind": "single",
                "max_decoded_node_bytes": 10, "version_tree_arity_log2": 3, "compression": {"id": "zstd", "level": 5}}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"compression": {"id": "zstd"}}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"compression": None}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"compression": {"id": "gzip"}}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"compression": 5}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"uuid": "xyz"}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"bogus": 1}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"version_tree_arity_log2": 17}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"max_inline_value_bytes": 1048577}},
    {"driver": "ocdbt", "base": "memory://y", "config": {"manifest_kind": "other"}},
    {"driver": "ocdbt", "base": "memory://y", "version": 0},
    {"driver": "ocdbt", "base": "memory://y", "version": "abc"},
    {"driver": "ocdbt", "base": "memory://y", "version": "2023-01-01T00:00:00.5Z"},
    {"driver": "ocdbt", "base": "memory://y", "version": "2023-01-01T00:00:00+01:00"},
    {"driver": "ocdbt", "base": "memory://y", "target_data_file_size": -1},
    {"driver": "ocdbt", "base": "memory://y", "coordinator": {"address": "localhost:1234"}},
    {"driver": "ocdbt"},
    "memory://y|ocdbt:@v2/", "memory://y|ocdbt:@v3", "memory://y|ocdbt:@2/a", "memory://y|ocdbt:@2023-01-01T00:00:00Z/a",
    "memory://y|ocdbt:a/b", "memory://y|ocdbt:@/a", "memory://y|ocdbt:@x/a", "memory://y|ocdbt:@v0/a",
    "memory://y|ocdbt", "memory://y|ocdbt:a%20b",
]


def _outcome(fn):
    try:
        return repr(fn())
    except ValueError as exc:  # (our StatusError is a ValueError with the same text)
        return f"ValueError: {exc}"


@pytest.mark.parametrize("spec", SPECS, ids=[str(s)[:60] for s in SPECS])
def test_spec_matches_reference(spec):
    views = [
        lambda lib: lib.KvStore.Spec(spec),
        lambda lib: lib.KvStore.Spec(spec).to_json(include_defaults=True),
        lambda lib: lib.KvStore.Spec(spec).url,
        lambda lib: lib.KvStore.Spec(spec).base,
    ]
    for view in views:
        assert _outcome(lambda: view(ts)) == _outcome(lambda: view(rts))


def _open_existing(lib, **members):
    ctx = lib.Context()
    kv = lib.KvStore.open({"driver": "ocdbt", "base": "memory://y",
                           "config": {"max_inline_value_bytes": 5, "uuid": "000102030405060708090a0b0c0d0e0f"}},
                          context=ctx).result()
    kv["a"] = b"1"
    kv["b"] = b"2"
    kv["a"] = b"3"
    return lib.KvStore.open({"driver": "ocdbt", "base": "memory://y", **members}, context=ctx).result()["a"]


@pytest.mark.parametrize("members", [
    {"config": {"max_inline_value_bytes": 6}}, {"config": {"uuid": "000102030405060708090a0b0c0d0e0e"}},
    {"config": {"manifest_kind": "numbered"}}, {"config": {"compression": None}},
    {"config": {"version_tree_arity_log2": 2}}, {"config": {"max_decoded_node_bytes": 2}},
    {"config": {"compression": {"id": "zstd", "level": 3}}},
    {"version": 2}, {"version": 3}, {"version": 5}, {"version": "2023-01-01T00:00:00Z"}, {"version": "2099-01-01T00:00:00Z"},
], ids=str)
def test_opening_existing_database_matches_reference(members):
    assert _outcome(lambda: _open_existing(ts, **members)) == _outcome(lambda: _open_existing(rts, **members))


def test_store_views_match_reference():
    for view in (lambda lib: lib.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result(),
                 lambda lib: lib.KvStore.open({"driver": "ocdbt", "base": "memory://"}).result().base,
                 lambda lib: lib.KvStore.open("memory://|ocdbt:@v3/").result().write("a", "b").result(),
                 lambda lib: lib.KvStore.open("memory://|ocdbt:@v3/").result().read("a").result().state):
        assert _outcome(lambda: view(ts)) == _outcome(lambda: view(rts))
