"""The json driver compared with tensorstore 0.1.86: reads and writes at JSON Pointers,
errors, specs and URLs, transactions, and concurrent writers to one document."""

import json
import threading

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")

DOCUMENT = {"a": [1, 2], "s": "x", "n": None, "b": True, "o": {"k~/": 1}, "": 4}
POINTERS = ["", "/a", "/a/-", "/a/1", "/a/2", "/a/x", "/a/01", "/s/q", "/n/q", "/b/q", "/a/0/q", "/o/k~0~1",
            "/", "/o/k~0~1/z", "/a/1/2/3", "/missing", "/missing/deeper", "/new/deep/er", "/a/-/x"]  # fmt: skip


def _outcome(fn):
    try:
        return ("ok", fn())
    except (ValueError, TypeError) as exc:
        return ("ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))


def _open(lib, ctx, pointer, path="d.json"):
    return lib.open({"driver": "json", "kvstore": "memory://", "path": path, "json_pointer": pointer}, context=ctx).result()


@pytest.mark.parametrize("pointer", POINTERS)
def test_reads_and_writes_at_a_pointer_like_the_reference(pointer):
    results = []
    for lib in (ts, ref):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv["d.json"] = json.dumps(DOCUMENT).encode()
        store = _outcome(lambda: _open(lib, ctx, pointer))
        if store[0] != "ok":
            results.append(store)
            continue
        t = store[1]
        read = _outcome(lambda: t.read().result().tolist())
        written = _outcome(lambda: t.write({"v": [1.5, "é"]}).result())
        after = kv["d.json"]
        results.append((read, written, after, repr(t), t.spec().to_json(), t.url, repr(t.schema)))
    assert results[0] == results[1]


def test_missing_documents_invalid_json_and_special_values():
    results = []
    for lib in (ts, ref):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv["bad.json"] = b"{not json"
        got = [
            _outcome(lambda: _open(lib, ctx, "", "none.json").read().result()),
            _outcome(lambda: _open(lib, ctx, "", "bad.json").read().result()),
            _outcome(lambda: _open(lib, ctx, "/x/0", "new.json").write(3).result()),
            _outcome(lambda: kv["new.json"]),
            _outcome(lambda: _open(lib, ctx, "/0", "f.json").write(float("nan")).result()),
            _outcome(lambda: kv["f.json"]),
            _outcome(lambda: _open(lib, ctx, "/t", "f.json").write(np.array([1, 2])).result()),
            _outcome(lambda: _open(lib, ctx, "/t", "f.json").read().result().tolist()),
            _outcome(lambda: _open(lib, ctx, "/t", "f.json").write(object()).result()),
            _outcome(lambda: _open(lib, ctx, "", "z.json").write(None).result()),
            _outcome(lambda: kv["z.json"]),
            _outcome(lambda: _open(lib, ctx, "bad")),
            _outcome(lambda: _open(lib, ctx, "/o/k~2")),
            _outcome(lambda: lib.open({"driver": "json", "kvstore": "memory://a.json"}, context=ctx, dtype=lib.int32).result()),
            _outcome(lambda: lib.open({"driver": "json", "kvstore": "memory://a.json", "rank": 1}, context=ctx).result()),
        ]
        results.append(got)
    assert results[0] == results[1]


def test_specs_and_urls_like_the_reference():
    cases = [
        lambda lib: lib.Spec({"driver": "json", "kvstore": "memory://a.json"}).to_json(),
        lambda lib: lib.Spec({"driver": "json", "kvstore": "memory://a.json", "json_pointer": "/a"}).to_json(include_defaults=True),
        lambda lib: lib.open("memory://a.json|json:/a/b").result().spec().to_json(),
        lambda lib: repr(lib.Spec({"driver": "json", "kvstore": "memory://a.json"}).schema),
        lambda lib: lib.open("memory://x.json|json:/p").result().url,
    ]
    for case in cases:
        assert _outcome(lambda: case(ts)) == _outcome(lambda: case(ref))


def test_transactions_stage_the_write_like_the_reference():
    results = []
    for lib in (ts, ref):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv["d.json"] = b'{"a":1}'
        with lib.Transaction() as txn:
            view = _open(lib, ctx, "/t").with_transaction(txn)
            view.write([1]).result()
            inside = view.read().result().tolist()
            outside = kv["d.json"]
        results.append((inside, outside, kv["d.json"]))
    assert results[0] == results[1]


def test_concurrent_writers_keep_every_member(tmp_path):
    # Separate contexts: no shared entry, so each write is a conditional read-modify-write
    # of the file that must retry when another writer got there first.
    path = str(tmp_path / "doc.json")
    stores = [ts.open({"driver": "json", "kvstore": {"driver": "file", "path": path}, "json_pointer": f"/m{i}"},
                      context=ts.Context()).result() for i in range(8)]

    def writer(i):
        for k in range(5):
            stores[i].write(k).result()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(path, "rb") as f:
        assert json.loads(f.read()) == {f"m{i}": 4 for i in range(8)}
    # The reference reads what was written.
    assert ref.open({"driver": "json", "kvstore": {"driver": "file", "path": path}, "json_pointer": "/m3"}).result().read().result() == 4


def test_recheck_cached_data_bounds_what_a_handle_sees():
    results = []
    for lib in (ts, ref):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv["d.json"] = b"1"
        seen = []
        for option in ("open", True, False):
            store = lib.open({"driver": "json", "kvstore": "memory://d.json", "recheck_cached_data": option}, context=ctx).result()
            before = int(store.read().result())
            kv["d.json"] = str(before + 1).encode()
            seen.append((before, int(store.read().result())))
        results.append(seen)
    assert results[0] == results[1]
