"""KvStore.Spec parsing, JSON, URLs, reprs and errors against the reference."""

from __future__ import annotations

import pickle

import pytest

import tensorstore as ref
import tensorstore_py as ts

from .conftest import outcome

SPECS = [
    "memory://",
    "memory://a/b",
    "memory://a%20b%23/",
    {"driver": "memory"},
    {"driver": "memory", "path": "x"},
    {"path": "a", "driver": "memory", "atomic": False},
    {"driver": "memory", "atomic": True},
    {"driver": "memory", "context": {"memory_key_value_store": {}}},
    {"driver": "memory", "context": {"cache_pool": {"total_bytes_limit": 5}}},
    {"driver": "memory", "memory_key_value_store": "memory_key_value_store#a"},
    {"driver": "memory", "memory_key_value_store": {}},
    "file:///tmp/x/",
    "file:///a%20b/c",
    {"driver": "file", "path": "/x", "file_io_sync": False},
    {"driver": "file", "path": "/x", "file_io_concurrency": {"limit": 3}},
    {"driver": "file", "path": "/x", "file_io_locking": {"mode": "lockfile"}},
    {"driver": "file", "path": "/x", "file_io_locking": {"mode": "os"}},
    {"driver": "file", "path": "rel/dir"},
    {"driver": "file"},
    # errors
    "",
    "bogus",
    "bogus://x",
    "MEMORY://x",
    "memory:",
    "memory:/x",
    "memory://?a",
    "memory://#a",
    "memory://x|zarr:",
    "memory://%4",
    "memory://%e9",
    "file://rel/dir",
    "file://",
    "file:///a?x",
    {},
    {"driver": 5},
    {"driver": "bogus"},
    {"driver": "memory", "foo": 1},
    {"driver": "memory", "path": 5},
    {"driver": "memory", "atomic": 5},
    {"driver": "memory", "context": 5},
    {"driver": "memory", "context": {"foo": {}}},
    {"driver": "memory", "context": {"cache_pool": {"x": 1}}},
    {"driver": "memory", "memory_key_value_store": 5},
    {"driver": "memory", "memory_key_value_store": None},
    {"driver": "memory", "memory_key_value_store": "cache_pool"},
    {"driver": "file", "file_io_sync": 5},
    {"driver": "file", "path": "/x", "file_io_locking": {"mode": "q"}},
    5,
    None,
]


def _describe(module, spec_json):
    s = module.KvStore.Spec(spec_json)
    url = outcome(lambda: s.url)
    return (repr(s), s.to_json(), s.to_json(include_defaults=True), s.path, url)


@pytest.mark.parametrize("spec_json", SPECS, ids=[repr(s)[:40] for s in SPECS])
def test_spec_matches_reference(spec_json):
    assert outcome(lambda: _describe(ts, spec_json)) == outcome(lambda: _describe(ref, spec_json))


def test_url_percent_encoding_matches_reference():
    text = "".join(chr(i) for i in range(32, 127)).replace("\\", "")
    for j in ({"driver": "memory", "path": text}, {"driver": "file", "path": "/" + text}, {"driver": "memory", "path": "é\x01"}):
        assert ts.KvStore.Spec(j).url == ref.KvStore.Spec(j).url
        assert ts.KvStore.Spec(ts.KvStore.Spec(j).url).to_json() == j


@pytest.mark.parametrize("base", ["memory://a", "memory://a/", "memory://", "memory://a//", "file:///t/d"])
@pytest.mark.parametrize("component", ["q", "/q", "", "q/", "//q", b"x"])
def test_path_join_and_append(base, component):
    mine, theirs = ts.KvStore.Spec(base), ref.KvStore.Spec(base)
    assert repr(mine / component) == repr(theirs / component)
    assert repr(mine + component) == repr(theirs + component)
    assert mine.path == theirs.path  # operators do not modify the original


def test_path_setter_copy_equality_and_pickle():
    s = ts.KvStore.Spec("memory://a")
    c = s.copy()
    s.path = "zz"
    assert repr(s) == "KvStore.Spec({'driver': 'memory', 'path': 'zz'})"
    assert c.path == "a" and c is not s
    assert s == ts.KvStore.Spec({"driver": "memory", "path": "zz"})
    assert not (s == c)
    with pytest.raises(TypeError):
        _ = s == 5
    assert pickle.loads(pickle.dumps(s)) == s
    assert s.base is None


def test_update_bind_unbind_strip_matches_reference():
    for module in (ts, ref):
        spec = module.KvStore.Spec(
            {"driver": "memory", "path": "abc/", "memory_key_value_store": "memory_key_value_store#a"}
        )
        spec.update(context=module.Context({"memory_key_value_store#a": {}}))
        bound = (repr(spec), spec.to_json())
        spec.update(unbind_context=True)
        unbound = repr(spec)
        spec.update(strip_context=True)
        stripped = repr(spec)
        if module is ts:
            mine = (bound, unbound, stripped)
        else:
            assert mine == (bound, unbound, stripped)
    fresh = ts.KvStore.Spec("memory://")
    fresh.update(unbind_context=True)
    assert repr(fresh) == "KvStore.Spec({'driver': 'memory'})"


def test_bound_specs_compare_by_resource_identity():
    spec = ts.KvStore.Spec({"driver": "memory"})
    a, b = spec.copy(), spec.copy()
    a.update(context=ts.Context())
    b.update(context=ts.Context())
    assert a == a
    assert a != b


def test_open_errors_sync_and_async():
    # Parse errors are raised at once, binding errors through the future, as the reference.
    for module in (ts, ref):
        with pytest.raises(ValueError, match="unsupported URL scheme"):
            module.KvStore.open("bogus://")
        fut = module.KvStore.open({"driver": "memory", "memory_key_value_store": "memory_key_value_store#a"})
        with pytest.raises(ValueError, match='Resource not defined: "memory_key_value_store#a"'):
            fut.result()
    with pytest.raises(TypeError):
        ts.KvStore.open("memory://", context=5)


def _binding_scenarios(module, tmp):
    out = []
    c = module.Context({"memory_key_value_store": "memory_key_value_store#a", "memory_key_value_store#a": {}})
    out.append(repr(module.KvStore.open("memory://", context=c).result()))
    parent = module.Context({"file_io_concurrency#x": {"limit": 3}})
    child = module.Context({"file_io_concurrency": "file_io_concurrency#x"}, parent)
    out.append(repr(module.KvStore.open(f"file://{tmp}/q/", context=child).result()))
    kv = module.KvStore.open(
        {"driver": "file", "path": f"{tmp}/q/", "file_io_concurrency": "file_io_concurrency#x"}, context=parent
    ).result()
    out.append(repr(kv.spec(retain_context=True)))
    out.append(repr(module.KvStore.open(
        {"driver": "file", "path": f"{tmp}/q/", "file_io_sync": "file_io_sync#x", "context": {"file_io_sync#x": False}}
    ).result()))  # fmt: skip
    out.append(repr(module.KvStore.Spec({"driver": "memory", "memory_key_value_store": "memory_key_value_store"})))
    s = module.KvStore.Spec({"driver": "file", "path": "/x/"})
    s.update(context=module.Context())
    out += [repr(s), s.to_json(include_defaults=True)]
    s2 = module.KvStore.Spec({"driver": "file", "path": "/x/", "context": {"file_io_concurrency": {"limit": 2}}})
    out.append(repr(s2))
    s2.update(context=module.Context())
    out.append(repr(s2))
    s2.update(unbind_context=True)
    out.append(repr(s2))
    s3 = module.KvStore.Spec({"driver": "memory", "context": {"memory_key_value_store": {}}})
    s3.update(unbind_context=True)
    out.append(repr(s3))
    s3.update(strip_context=True)
    out.append(repr(s3))
    return out


def test_binding_scenarios_match_reference(tmp_path):
    assert _binding_scenarios(ts, tmp_path) == _binding_scenarios(ref, tmp_path)
