"""Spec: open-mode updates, the transform a spec reports, and indexing a spec, against tensorstore."""

from __future__ import annotations

import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _outcome(fn):
    try:
        value = fn()
    except (ValueError, TypeError, IndexError) as exc:
        return ("IndexError" if isinstance(exc, IndexError) else type(exc).__name__ if type(exc) is TypeError
                else "ValueError", str(exc))  # fmt: skip
    return ("ok", value)


_UPDATES = [
    [dict(create=True, delete_existing=True), dict(open_mode=("open", "create"))],
    [dict(create=True, delete_existing=True), dict(open_mode=("open",))],
    [dict(create=True, delete_existing=True), dict(open=True)],
    [dict(create=True, delete_existing=True), dict(open_mode=("create",))],
    [dict(create=True, delete_existing=True), dict(open_mode=("assume_metadata",))],
    [dict(create=True), dict(open=True)],
    [dict(create=True), dict(delete_existing=True)],
    [dict(open=True), dict(delete_existing=True)],
    [dict(open=True, delete_existing=True)],
    [dict(open=True, create=True, delete_existing=True)],
    [dict(open_mode=("open", "delete_existing"))],
    [dict(create=True, assume_metadata=True), dict(open=True)],
    [dict(create=True), dict(create=False)],
    [dict(open=True), dict(open=False)],
    [dict(delete_existing=True)],
    [dict(create=True, delete_existing=True), dict(create=True)],
    [dict(create=True, delete_existing=True), dict(delete_existing=False)],
    [dict(assume_metadata=True), dict(assume_cached_metadata=True)],
    [dict(assume_metadata=True, assume_cached_metadata=True)],
    [dict(assume_cached_metadata=True), dict(delete_existing=True)],
    [dict(open=True, create=True), dict(delete_existing=True)],
    [dict(open_mode=("open", "create")), dict(open_mode=("delete_existing",))],
]


@pytest.mark.parametrize("updates", _UPDATES, ids=repr)
def test_open_mode_updates_as_reference(updates):
    def run(mod):
        spec = mod.Spec({"driver": "zarr", "kvstore": "memory://"})
        for u in updates:
            u = dict(u)
            if "open_mode" in u:
                u["open_mode"] = mod.OpenMode(**{flag: True for flag in u["open_mode"]})
            spec.update(**u)
        return repr(spec.open_mode), spec.to_json()

    assert run(ts) == run(ref)


def test_open_mode_in_json_as_reference():
    for j in [{"open": False}, {"delete_existing": True, "open": True}, {"assume_metadata": True, "assume_cached_metadata": True}]:
        full = {"driver": "zarr", "kvstore": "memory://", **j}
        assert ts.Spec(full).to_json() == ref.Spec(full).to_json()
        assert repr(ts.Spec(full).open_mode) == repr(ref.Spec(full).open_mode)


def test_open_with_replacing_open_mode_as_reference():
    def run(mod):
        ctx = mod.Context()
        mod.open({"driver": "zarr", "kvstore": "memory://a/"}, create=True, shape=[2], dtype=mod.uint8, context=ctx).result()
        out = []
        for spec, kw in [({"create": True, "delete_existing": True}, dict(open=True)),
                         ({"create": True}, dict(open=True)),
                         ({"open": True}, dict(create=True, shape=[3], dtype=mod.uint8))]:
            full = {"driver": "zarr", "kvstore": "memory://a/", **spec}
            out.append(_outcome(lambda: mod.open(full, context=ctx, **kw).result().shape))
        return [(kind, str(value).split(" [")[0].split(": Error writing")[0]) for kind, value in out]

    assert run(ts) == run(ref)


_SPECS = [
    {"driver": "n5", "kvstore": {"driver": "memory"}},
    {"driver": "n5", "kvstore": {"driver": "memory"}, "metadata": {"dimensions": [100, 200], "axes": ["x", "y"]}},
    {"driver": "zarr3", "kvstore": {"driver": "memory"}, "metadata": {"shape": [3, 4], "dimension_names": ["a", None]}},
    {"driver": "zarr3", "kvstore": {"driver": "memory"}, "dtype": "uint8", "schema": {"domain": {"shape": [4, 5]}}},
    {"driver": "n5", "kvstore": {"driver": "memory"}, "dtype": "uint8", "schema": {"domain": {"shape": [4, 5]}}},
    {"driver": "zarr", "kvstore": {"driver": "memory"}, "dtype": "int32", "transform": {"input_rank": 2}},
    {"driver": "zarr", "kvstore": {"driver": "memory"}, "dtype": "int32"},
    {"driver": "zarr", "kvstore": {"driver": "memory"}, "schema": {"rank": 2}},
]


@pytest.mark.parametrize("j", _SPECS, ids=lambda j: str(sorted(j.items())))
@pytest.mark.parametrize(
    "op",
    ["str(s.transform)", "str(s.domain)", "s.rank", "s.ndim",
     "s[ts.d[0].translate_by[5]].to_json()", "s[..., ts.newaxis].to_json()", "s.T.to_json()", "s[1:2].to_json()"],
)  # fmt: skip
def test_spec_transform_and_indexing_as_reference(j, op):
    def run(mod):
        s = mod.Spec(j)
        return eval(op, {"s": s, "ts": mod})

    assert _outcome(lambda: run(ts)) == _outcome(lambda: run(ref))


def _binding_steps(mod):
    out = []
    s = mod.Spec({"driver": "n5", "kvstore": {"driver": "memory"}})
    s.update(context=mod.Context({"cache_pool": {"total_bytes_limit": 5}, "cache_pool#b": {}}))
    out += [repr(s), s.to_json(), s.copy() == s, repr(s.copy())]
    s.update(unbind_context=True)
    out += [repr(s), s.to_json()]
    s.update(context=mod.Context())
    out += [repr(s)]
    s.update(strip_context=True)
    out += [repr(s)]
    s2 = mod.Spec({"driver": "n5", "kvstore": {"driver": "memory"}, "cache_pool": "cache_pool#b",
                   "context": {"cache_pool#b": {"total_bytes_limit": 7}}})  # fmt: skip
    s2.update(context=mod.Context())
    out += [repr(s2), s2.to_json()]
    s3 = mod.Spec({"driver": "zarr3", "kvstore": {"driver": "memory"}, "cache_pool": {"total_bytes_limit": 9}})
    s3.update(context=mod.Context())
    out += [repr(s3), s3.to_json()]
    return out


def test_context_binding_as_reference():
    for ours, theirs in zip(_binding_steps(ts), _binding_steps(ref)):
        assert ours == theirs


def test_bound_specs_compare_resources_by_identity():
    for mod in (ts, ref):
        spec = mod.Spec({"driver": "n5", "kvstore": {"driver": "memory"}})
        a, b, c = spec.copy(), spec.copy(), spec.copy()
        shared = mod.Context()
        a.update(context=shared)
        b.update(context=shared)
        c.update(context=mod.Context())
        assert a == b and a != c and a.to_json() == c.to_json()


def test_a_bound_spec_opens_with_its_own_resources():
    spec = ts.Spec({"driver": "zarr", "kvstore": {"driver": "memory"}})
    spec.update(context=ts.Context())
    ts.open(spec, create=True, dtype=ts.uint8, shape=[3]).result().write([1, 2, 3]).result()
    # A fresh default context would give a new, empty memory store; the bound one is shared.
    assert ts.open(spec, open=True).result().read().result().tolist() == [1, 2, 3]
    unbound = ts.Spec({"driver": "zarr", "kvstore": {"driver": "memory"}})
    with pytest.raises(ValueError, match="NOT_FOUND"):
        ts.open(unbound, open=True).result()


def test_kvstore_option_as_reference():
    def run(mod):
        out = []
        for make in (lambda: {"driver": "memory"}, lambda: "memory://x/", lambda: mod.KvStore.Spec("memory://y/"),
                     lambda: mod.KvStore.open("memory://z/").result()):  # fmt: skip
            spec = mod.Spec({"driver": "zarr"})
            out.append(_outcome(lambda: (spec.update(kvstore=make()), spec.to_json())[1]))
            out.append(_outcome(lambda: mod.open({"driver": "zarr"}, kvstore=make(), dtype=mod.uint8, shape=[1],
                                                 create=True).result().spec().to_json()["kvstore"]))  # fmt: skip
        return out

    assert run(ts) == run(ref)


def test_open_writes_through_an_open_kvstore():
    for mod in (ts, ref):
        kvstore = mod.KvStore.open("memory://").result()
        mod.open({"driver": "zarr3"}, dtype=mod.uint8, shape=[], kvstore=kvstore, create=True).result()
        assert "zarr.json" in kvstore


_RECHECK_SPECS = {
    "zarr": {"driver": "zarr", "kvstore": {"driver": "memory"}},
    "n5": {"driver": "n5", "kvstore": {"driver": "memory"}},
    "json": {"driver": "json", "kvstore": {"driver": "memory", "path": "a.json"}},
}


@pytest.mark.parametrize("driver", sorted(_RECHECK_SPECS))
@pytest.mark.parametrize("value", [True, False, "open", 0, 1, 1.5, 1700000000, "abc", [1]],
                         ids=lambda v: repr(v))
def test_recheck_members_print_as_tensorstore_prints_them(driver, value):
    # Numbers are times in seconds (printed as floats); each member's default is left out.
    for members in ({"recheck_cached_data": value}, {"recheck_cached_metadata": value},
                    {"recheck_cached_data": value, "recheck_cached_metadata": value}):
        if driver == "json" and "recheck_cached_metadata" in members:
            continue  # (not a member of the json driver)
        spec = {**_RECHECK_SPECS[driver], **members}
        ours = _outcome(lambda: ts.Spec(spec).to_json())
        theirs = _outcome(lambda: ref.Spec(spec).to_json())
        assert ours == theirs


_ZARR2_DOMAIN_SPECS = [
    {"schema": {"domain": {"shape": [4, 5]}}, "dtype": "uint8"},
    {"schema": {"domain": {"inclusive_min": [1, 2], "exclusive_max": [4, 5]}}, "dtype": "uint8"},
    {"schema": {"domain": {"shape": [4, 5, 3]}}, "metadata": {"dtype": [["a", "<u2", [3]]]}, "field": "a"},
    {"schema": {"domain": {"shape": [4, 5, 2]}}, "metadata": {"dtype": [["a", "<u2", [3]]]}, "field": "a"},
    {"schema": {"domain": {"shape": [4, 5]}, "rank": 2}},
    {"schema": {"domain": {"labels": ["x", "y"]}}},
    {"schema": {"domain": {"shape": [4, 5]}}, "metadata": {"chunks": [2, 2]}},
    {"schema": {"domain": {"shape": [4, 5]}}, "transform": {"input_shape": [4, 5]}},
    {"schema": {"rank": 2}},
    {"schema": {"domain": {"shape": [4, 5]}}, "metadata": {"shape": [4, 5]}},
    {"schema": {"domain": {"shape": [4, 6]}}, "metadata": {"shape": [4, 5]}},
    {"schema": {"domain": {"inclusive_min": [[0], 0], "exclusive_max": [[4], 5]}}},
    {"metadata": {"shape": [5, 6]}},
    {"metadata": {"shape": [5, 6], "dtype": "<i4"}},
]


@pytest.mark.parametrize("members", _ZARR2_DOMAIN_SPECS, ids=range(len(_ZARR2_DOMAIN_SPECS)))
def test_zarr2_spec_domains_as_tensorstore_derives_them(members):
    # From origin 0, the metadata's shape (unbounded without one) and the field's dimensions,
    # merged with the schema's domain; the array's dimensions resizable (implicit upper bounds).
    spec = {"driver": "zarr", "kvstore": {"driver": "memory"}, **members}

    def described(lib):
        s = lib.Spec(spec)
        return repr(s.domain), s.to_json().get("transform"), repr(s.schema.domain)

    assert _outcome(lambda: described(ts)) == _outcome(lambda: described(ref))


def _retained(lib, tmp_path, case):
    if case == "file, named cache pool":
        ctx = lib.Context({"cache_pool": {"total_bytes_limit": 1000}, "cache_pool#a": {"total_bytes_limit": 5}})
        store = lib.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / lib.__name__) + "/"},
                          "cache_pool": "cache_pool#a"},
                         create=True, delete_existing=True, dtype=lib.float32, shape=[4, 5], context=ctx).result()
    else:
        driver, view = case.split(", ")
        kvstore = {"driver": "memory"}
        if view == "ocdbt":
            kvstore = {"driver": "ocdbt", "base": "memory://db/"}
        elif view == "zip":
            kvstore = {"driver": "zip", "base": "memory://a.zip"}
        store = lib.open({"driver": driver, "kvstore": kvstore}, create=True, dtype=lib.float32,
                         shape=[4, 5], chunk_layout=lib.ChunkLayout(chunk_shape=[2, 2])).result()
        if view == "sliced":
            store = store[1:3, ::2]
    store[1, 0] = 7
    spec = store.spec(retain_context=True)
    reopened = lib.open(spec).result()
    return (spec.to_json(), repr(spec), store.spec(retain_context=True, minimal_spec=True).to_json(),
            reopened.read().result().tolist(),  # the same resources: a memory store's data included
            reopened.spec(retain_context=True).to_json() == spec.to_json())


@pytest.mark.parametrize("case", ["zarr, whole", "n5, whole", "zarr3, whole", "zarr, sliced", "zarr, zip",
                                  "file, named cache pool"])
def test_spec_retain_context_as_tensorstore(tmp_path, case):
    import re

    # (each library wrote its own directory, and made its own ocdbt database uuid)
    ours = re.sub(r"[0-9a-f]{32}", "UUID", repr(_outcome(lambda: _retained(ts, tmp_path, case))))
    theirs = re.sub(r"[0-9a-f]{32}", "UUID", repr(_outcome(lambda: _retained(ref, tmp_path, case))))
    assert ours.replace(ts.__name__, "LIB") == theirs.replace(ref.__name__, "LIB")


def test_spec_retain_context_of_views_of_other_stores_is_refused_for_now():
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "memory"}}, create=True, dtype=ts.float32,
                    shape=[4, 5]).result()
    for view in (ts.cast(store, ts.int32), ts.downsample(store, [2, 1], "mean"), ts.stack([store, store])):
        with pytest.raises(ValueError, match="retain_context"):
            view.spec(retain_context=True)
        assert "context" not in view.spec().to_json()  # (the other forms as before)
