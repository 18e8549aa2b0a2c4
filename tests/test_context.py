"""ts.Context: specs, resources, references, parents and sharing, against the reference."""

from __future__ import annotations

import pickle

import pytest

import tensorstore as ref
import tensorstore_py as ts
from tensorstore_py.context import ContextSpecBuilder, format_duration, parse_duration


def outcome(fn):
    try:
        return ("ok", fn())
    except ValueError as exc:
        return ("error", str(exc))
    except TypeError:
        return ("error", TypeError)


SPECS = [
    {},
    {"cache_pool": {"total_bytes_limit": 100}, "data_copy_concurrency#a": {"limit": 4}},
    {"cache_pool": {"total_bytes_limit": 0}},
    {"cache_pool": {"total_bytes_limit": 1e3}},
    {"cache_pool": None},
    {"cache_pool#a b": {}},
    {"cache_pool#": {}},
    {"cache_pool#a": "cache_pool"},
    {"cache_pool#a": "cache_pool#"},
    {"data_copy_concurrency": {"limit": "shared"}},
    {"data_copy_concurrency": {"limit": 3.0}},
    {"file_io_sync": False},
    {"file_io_locking": {"mode": "lockfile", "acquire_timeout": "1m30s"}},
    {"file_io_locking": {"mode": "os"}},
    {"file_io_mode": {"mode": "direct"}},
    {"file_io_retries": {"max_retries": 2, "initial_delay": "2s"}},
    {"memory_key_value_store": {}},
    {"gcs_user_project": {"project_id": "p"}, "gcs_request_retries": {"max_retries": 3}},
    # errors
    {"gcs_user_project": {"project_id": 5}},
    5,
    [],
    None,
    {"foo": {}},
    {"#a": {}},
    {"Cache": {}},
    {"cache_pool": 5},
    {"cache_pool": {"foo": 1}},
    {"cache_pool": {"total_bytes_limit": -1}},
    {"cache_pool": {"total_bytes_limit": "a"}},
    {"cache_pool": {"total_bytes_limit": True}},
    {"cache_pool": "data_copy_concurrency"},
    {"cache_pool#a": "foo"},
    {"data_copy_concurrency": {"limit": 0}},
    {"data_copy_concurrency": {"limit": "x"}},
    {"data_copy_concurrency": {"limit": 1.5}},
    {"data_copy_concurrency": {"limit": None}},
    {"memory_key_value_store": {"x": 1}},
    {"file_io_sync": 1},
    {"file_io_locking": {"mode": "bogus"}},
    {"file_io_mode": {"mode": "bogus"}},
    {"file_io_retries": {"initial_delay": "abc"}},
    {"file_io_retries": {"initial_delay": 5}},
    {"file_io_retries": {"max_retries": -1}},
]


@pytest.mark.parametrize("spec", SPECS, ids=[repr(s)[:40] for s in SPECS])
def test_context_spec_matches_reference(spec):
    def describe(module):
        s = module.Context.Spec(spec)
        return repr(s), s.to_json(), repr(module.Context(spec).spec)

    assert outcome(lambda: describe(ts)) == outcome(lambda: describe(ref))


RESOURCE_IDS = [
    "cache_pool", "data_copy_concurrency", "file_io_concurrency", "memory_key_value_store",
    "file_io_sync", "file_io_locking", "file_io_mode", "file_io_retries", "cache_pool#a",
    "cache_pool#", "foo", "cache_poolx", "", "data_copy_concurrency#a", "gcs_request_concurrency",
    "gcs_request_retries", "gcs_user_project", "http_request_concurrency", "http_request_retries",
    "s3_request_concurrency", "s3_request_retries",
]  # fmt: skip


@pytest.mark.parametrize("spec", [s for s in SPECS if isinstance(s, dict)][:18])
@pytest.mark.parametrize("key", RESOURCE_IDS)
def test_resources_match_reference(spec, key):
    def describe(module):
        r = module.Context(spec)[key]
        return repr(r), r.to_json(), r.to_json(include_defaults=True)

    assert outcome(lambda: describe(ts)) == outcome(lambda: describe(ref))


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"cache_pool": "cache_pool#a", "cache_pool#a": {"total_bytes_limit": 7}}, "cache_pool"),
        ({"cache_pool": "cache_pool#b"}, "cache_pool"),
        ({"cache_pool": "cache_pool"}, "cache_pool"),
        ({"cache_pool#a": "cache_pool#b", "cache_pool#b": "cache_pool#a"}, "cache_pool#a"),
        ({"file_io_sync": "file_io_sync#a", "file_io_sync#a": False}, "file_io_sync"),
    ],
)
def test_references_match_reference(spec, key):
    def describe(module):
        return module.Context(spec)[key].to_json()

    assert outcome(lambda: describe(ts)) == outcome(lambda: describe(ref))


def test_parent_lookup_and_sharing():
    parent = ts.Context({"cache_pool": {"total_bytes_limit": 10}, "cache_pool#x": {"total_bytes_limit": 9}})
    child = ts.Context({"data_copy_concurrency": {"limit": 3}, "cache_pool#y": "cache_pool#x"}, parent)
    assert child.parent is parent and parent.parent is None
    assert child["cache_pool"] is parent["cache_pool"]
    assert child["cache_pool#y"] is parent["cache_pool#x"]
    assert child["data_copy_concurrency"].limit == 3
    assert child["cache_pool"].total_bytes_limit == 10
    # Defaults live in the root, so parent and child share them.
    assert child["memory_key_value_store"] is parent["memory_key_value_store"]
    inherited = ts.Context({"cache_pool": None}, parent)
    assert inherited["cache_pool"] is parent["cache_pool"]


def test_default_context():
    c = ts.Context()
    assert c.spec is None and c.parent is None
    assert c["cache_pool"] is c["cache_pool"]
    assert c["cache_pool"].total_bytes_limit == 0
    with pytest.raises(ValueError, match="Expected object, but received: null"):
        ts.Context(None)
    with pytest.raises(TypeError):
        ts.Context.Spec()


def test_same_context_shares_stores_and_pools():
    ctx = ts.Context()
    a = ts.KvStore.open("memory://", context=ctx).result()
    b = ts.KvStore.open("memory://", context=ctx).result()
    a["x"] = b"1"
    assert b["x"] == b"1"
    assert ctx.get_resource("memory_key_value_store") is ctx["memory_key_value_store"]
    assert ctx.get_resource("data_copy_concurrency").executor is ctx["data_copy_concurrency"].executor
    # A fresh context gets fresh resources (and so a fresh, empty memory store).
    other = ts.Context()
    assert other["memory_key_value_store"] is not ctx["memory_key_value_store"]
    assert other["cache_pool"] is not ctx["cache_pool"]
    assert ts.KvStore.open("memory://", context=other).result().list().result() == []
    assert ts.KvStore.open("memory://").result().list().result() == []


def test_executors():
    ctx = ts.Context({"data_copy_concurrency": {"limit": 2}, "file_io_concurrency#b": {"limit": 3}})
    pool = ctx["data_copy_concurrency"]
    assert pool.limit == 2 and pool.executor is pool.executor
    assert pool.executor.max_workers == 2
    assert pool.executor.submit(lambda: 41 + 1).result() == 42
    assert ctx["file_io_concurrency#b"].executor is not ctx["file_io_concurrency"].executor
    # "shared" pools are process-wide, as TensorStore's are.
    assert ts.Context()["file_io_concurrency"].executor is ts.Context()["file_io_concurrency"].executor
    assert ts.Context()["file_io_concurrency"].limit >= 4


def test_get_resource_forms():
    ctx = ts.Context({"cache_pool#a": {"total_bytes_limit": 5}})
    assert ctx.get_resource("cache_pool", "cache_pool#a") is ctx["cache_pool#a"]
    inline = ctx.get_resource("cache_pool", {"total_bytes_limit": 6})
    assert inline.total_bytes_limit == 6 and inline.key is None
    assert ctx.get_resource("cache_pool", {"total_bytes_limit": 6}) is not inline
    assert ctx.get_resource("file_io_sync", False).spec is False
    with pytest.raises(ValueError, match='Invalid spec or reference to "cache_pool" resource'):
        ctx.get_resource("cache_pool", "data_copy_concurrency")
    with pytest.raises(ValueError, match="Resource not defined"):
        ctx.get_resource("cache_pool", "cache_pool#zz")
    with pytest.raises(ValueError, match="Invalid context resource identifier"):
        ctx.get_resource("nope")


def test_spec_builder():
    ctx = ts.Context({"memory_key_value_store#a": {}})
    b = ContextSpecBuilder()
    assert b.member_json(ctx["memory_key_value_store#a"]) == "memory_key_value_store#a"
    b.add(ctx["cache_pool"])
    b.add(ctx["data_copy_concurrency"])
    assert b.member_json(ctx["file_io_sync"]) is True
    assert b.context_json() == {"cache_pool": {}, "data_copy_concurrency": {}, "memory_key_value_store#a": {}}
    retained = ContextSpecBuilder(retain=True)
    assert retained.member_json(ctx["cache_pool"]) == ["cache_pool"]


def test_nested_kvstore_context_is_child_of_open_context():
    outer = ts.Context({"memory_key_value_store#a": {}})
    for module, ctx in ((ts, outer), (ref, ref.Context({"memory_key_value_store#a": {}}))):
        kv = module.KvStore.open(
            {"driver": "memory", "memory_key_value_store": "memory_key_value_store#b",
             "context": {"memory_key_value_store#b": {}}},
            context=ctx,
        ).result()
        text = repr(kv.spec(unbind_context=True))
        if module is ts:
            mine = text
    assert mine == text


@pytest.mark.parametrize("text, ns", [("1s", 10**9), ("1m30s", 90 * 10**9), ("250ms", 250 * 10**6), ("0", 0), ("1.5h", 5400 * 10**9)])
def test_durations(text, ns):
    assert parse_duration(text) == ns
    assert parse_duration(format_duration(ns)) == ns


def test_pickle():
    spec = ts.Context.Spec({"cache_pool": {"total_bytes_limit": 5}})
    assert repr(pickle.loads(pickle.dumps(spec))) == repr(spec)
    ctx = pickle.loads(pickle.dumps(ts.Context(spec)))
    assert ctx["cache_pool"].total_bytes_limit == 5
