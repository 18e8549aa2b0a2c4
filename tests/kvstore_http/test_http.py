"""The ``http`` kvstore against a static file server on loopback, side by side with tensorstore.

Spec, URL and repr forms, reads (byte ranges, HEAD for empty ranges, conditions), generations
from ETag (and from Last-Modified when there is no ETag), refused writes/lists, errors and
retries through the fault proxy, and zarr arrays written locally read over HTTP by both
libraries.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import tensorstore as ref
import tensorstore_py as ts
from fault_proxy import FaultProxy

FAST_RETRIES = {"max_retries": 3, "initial_delay": "1ms", "max_delay": "2ms"}


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - compared between the libraries
        return ("error", type(exc).__name__ if not isinstance(exc, ValueError) else "ValueError", str(exc))


def put(root: str, rel: str, data: bytes) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def both(spec):
    return ts.KvStore.open(spec).result(), ref.KvStore.open(spec).result()


# -- specs and URLs ------------------------------------------------------------------------------

SPECS = [
    {"driver": "http", "base_url": "http://h"},
    {"driver": "http", "base_url": "http://h", "path": "b"},
    {"driver": "http", "base_url": "http://h", "path": "/b"},
    {"driver": "http", "base_url": "http://h/", "path": "b"},
    {"driver": "http", "base_url": "http://h/a", "path": "b"},
    {"driver": "http", "base_url": "http://h/a//", "path": "b/"},
    {"driver": "http", "base_url": "http://h/a%2Fb/c/d", "path": "e"},
    {"driver": "http", "base_url": "http://h/a%20b", "path": "c d"},
    {"driver": "http", "base_url": "http://h/a?x=1&y", "path": "b"},
    {"driver": "http", "base_url": "https://u:p@h:8/a", "path": "b"},
    {"driver": "http", "base_url": "http:h/a"},
    {"driver": "http", "base_url": "http://h/a/%C3%A9"},
    {"driver": "http", "base_url": "http://h/x", "headers": ["X-A: 1", "Accept:text/plain"]},
    {"driver": "http", "base_url": "http://h/x", "http_request_retries": {"max_retries": 3}, "http_request_concurrency": {"limit": 4}},
    # errors
    {"driver": "http", "base_url": "http://h/a/", "path": "/b"},
    {"driver": "http", "base_url": "ftp://h/x"},
    {"driver": "http", "base_url": "HTTP://h/x"},
    {"driver": "http", "base_url": "http://h/x#f"},
    {"driver": "http"},
    {"driver": "http", "base_url": 3},
    {"driver": "http", "base_url": "http://h", "headers": ["ab"]},
    {"driver": "http", "base_url": "http://h", "headers": "ab"},
    {"driver": "http", "base_url": "http://h", "headers": [1]},
    {"driver": "http", "base_url": "http://h/a/%zz"},
    {"driver": "http", "base_url": "http://h/a/%C3"},
    {"driver": "http", "base_url": "http://h", "extra": 1},
]


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_spec_json_and_url_match_reference(spec):
    for view in (lambda s: s.to_json(), lambda s: s.to_json(include_defaults=True), lambda s: s.url):
        assert outcome(lambda: view(ts.KvStore.Spec(spec))) == outcome(lambda: view(ref.KvStore.Spec(spec)))


URLS = [
    "http://example.com", "http://example.com/", "http://example.com/a/b", "https://example.com:8080/a/b%20c/",
    "http://example.com/x?a=b", "http://user@example.com/x", "http://h/a%2Fb/c", "http://h/~!@$&*()+,;=:%25",
    "http://h/a?x#y", "http://h/a#f", "http://",
]


@pytest.mark.parametrize("url", URLS)
def test_url_parsing_matches_reference(url):
    mine = outcome(lambda: (ts.KvStore.Spec(url).to_json(), ts.KvStore.Spec(url).url))
    theirs = outcome(lambda: (ref.KvStore.Spec(url).to_json(), ref.KvStore.Spec(url).url))
    assert mine == theirs


def test_repr_and_spec_views_match_reference():
    spec = {"driver": "http", "base_url": "http://example.com/x", "path": "y", "headers": ["X-A: 1"]}
    for extra in ({}, {"http_request_concurrency": {"limit": 4}, "http_request_retries": {"max_retries": 3}}):
        mine, theirs = both({**spec, **extra})
        assert repr(mine) == repr(theirs)
        assert repr(mine / "z") == repr(theirs / "z")
        assert mine.url == theirs.url == "http://example.com/x/y"
        assert mine.spec().to_json() == theirs.spec().to_json()
        assert mine.spec(unbind_context=True).to_json() == theirs.spec(unbind_context=True).to_json()


def test_list_write_and_delete_are_refused_as_in_tensorstore():
    for store in both("http://example.com/a/"):
        for op, message in [
            (lambda: store.list().result(), "KeyValueStore does not support listing"),
            (lambda: store.write("k", b"v").result(), "KeyValueStore does not support writing"),
            (lambda: store.write("k", None).result(), "KeyValueStore does not support writing"),
            (lambda: store.delete_range(ts.KvStore.KeyRange() if isinstance(store, ts.KvStore) else ref.KvStore.KeyRange()).result(), "KeyValueStore does not support deleting by range"),
        ]:
            with pytest.raises(NotImplementedError, match=f"^{message}$"):
                op()


# -- reads ---------------------------------------------------------------------------------------


def test_reads_match_reference(server, root):
    data = bytes(range(256)) * 4
    put(root, "r/a", data)
    put(root, "r/empty", b"")
    put(root, "r/sp ace+%", b"odd name")
    mine, theirs = both({"driver": "http", "base_url": server.url + "/r/"})
    cases = [
        ("a", {}), ("a", {"byte_range": slice(2, 5)}), ("a", {"byte_range": slice(-3, None)}),
        ("a", {"byte_range": slice(1000, None)}), ("a", {"byte_range": slice(7, 7)}), ("a", {"byte_range": slice(0, 1024)}),
        ("a", {"byte_range": slice(2000, 3000)}), ("missing", {}), ("empty", {}), ("sp ace+%", {}),
        ("a", {"byte_range": slice(5, 2000)}),
    ]
    for key, kwargs in cases:
        got_mine = outcome(lambda: mine.read(key, **kwargs).result())
        got_theirs = outcome(lambda: theirs.read(key, **kwargs).result())
        if got_theirs[0] == "ok":
            assert got_mine[0] == "ok", (key, kwargs, got_mine)
            a, b = got_mine[1], got_theirs[1]
            assert (a.state, a.value, a.stamp.generation) == (b.state, b.value, b.stamp.generation), (key, kwargs)
            assert abs(a.stamp.time - b.stamp.time) < 5
        else:
            assert got_mine[:2] == got_theirs[:2], (key, kwargs, got_mine, got_theirs)
            # The libraries agree on the status and its wording; the reason phrase differs at most.
            assert got_mine[2].split(" [")[0] == got_theirs[2].split(" [")[0], (got_mine, got_theirs)


def test_generation_conditions(server, root):
    put(root, "c/a", b"one")
    mine, theirs = both({"driver": "http", "base_url": server.url + "/c/"})
    first = mine.read("a").result()
    assert first.stamp.generation == theirs.read("a").result().stamp.generation
    assert first.stamp.generation.startswith(b"\x00") and len(first.stamp.generation) == 41
    for store in (mine, theirs):
        same = store.read("a", if_not_equal=first.stamp.generation).result()
        assert same.state == "unspecified" and same.value == b"" and same.stamp.generation == first.stamp.generation
    server.requests.clear()
    put(root, "c/a", b"two")
    changed = mine.read("a", if_not_equal=first.stamp.generation).result()
    assert changed.state == "value" and changed.value == b"two" and changed.stamp.generation != first.stamp.generation
    (method, _path, headers), = server.requests
    assert method == "GET" and headers["If-None-Match"] == '"' + first.stamp.generation[1:].decode() + '"'
    assert headers["Cache-Control"] == "no-cache"


def test_staleness_bound_sets_max_age(server, root):
    put(root, "s/a", b"v")
    store = ts.KvStore.open({"driver": "http", "base_url": server.url + "/s/"}).result()
    store.read("a", staleness_bound=time.time() - 100).result()
    store.read("a", staleness_bound=time.time() + 100).result()
    ages = [h["Cache-Control"] for _m, _p, h in server.requests]
    assert ages[0] in ("max-age=100", "max-age=99", "max-age=101") and ages[1] == "no-cache"


def test_headers_are_sent(server, root):
    put(root, "h/a", b"v")
    store = ts.KvStore.open({"driver": "http", "base_url": server.url + "/h/", "headers": ["X-Token: abc", "X-Other:x"]}).result()
    assert store["a"] == b"v"
    headers = server.requests[-1][2]
    assert headers["X-Token"] == "abc" and headers["X-Other"] == "x"


def test_without_etag_generation_comes_from_last_modified(server, root):
    """Beyond TensorStore (which reports an invalid generation): a Last-Modified date becomes the
    generation and conditions on it are sent as If-Modified-Since / If-Unmodified-Since."""
    put(root, "lm/a", b"v1")
    server.send_etag = False
    mine, theirs = both({"driver": "http", "base_url": server.url + "/lm/"})
    assert theirs.read("a").result().stamp.generation == b"\x10"
    got = mine.read("a").result()
    assert got.value == b"v1" and got.stamp.generation.startswith(b"\x00\x01Last-Modified:")
    again = mine.read("a", if_not_equal=got.stamp.generation).result()
    assert again.state == "unspecified" and again.stamp.generation == got.stamp.generation
    assert "If-Modified-Since" in server.requests[-1][2] and "If-None-Match" not in server.requests[-1][2]
    # Modified a second later: the condition no longer holds and the new value comes back.
    stamp = os.stat(os.path.join(root, "lm/a")).st_mtime
    put(root, "lm/a", b"v2")
    os.utime(os.path.join(root, "lm/a"), (stamp + 2, stamp + 2))
    newer = mine.read("a", if_not_equal=got.stamp.generation).result()
    assert newer.value == b"v2" and newer.stamp.generation != got.stamp.generation
    server.send_last_modified = False
    assert mine.read("a").result().stamp.generation == b"\x10" == theirs.read("a").result().stamp.generation
    # An invalid generation as a condition is not sent (as TensorStore): the value is read again.
    assert mine.read("a", if_not_equal=b"\x10").result().value == b"v2"


def test_server_ignoring_range(server, root):
    put(root, "ir/a", b"0123456789")
    server.honour_range = False
    mine, theirs = both({"driver": "http", "base_url": server.url + "/ir/"})
    for store in (mine, theirs):
        with pytest.raises(ValueError, match=r"^FAILED_PRECONDITION: Requested byte range \[2, 5\) was ignored by server$"):
            store.read("a", byte_range=slice(2, 5)).result()
        assert store.read("a", byte_range=slice(0, 10)).result().value == b"0123456789"


def test_date_header_bounds_the_stamp(server, root):
    put(root, "d/a", b"v")
    store = ts.KvStore.open({"driver": "http", "base_url": server.url + "/d/"}).result()
    before = time.time()
    stamp = store.read("a").result().stamp.time
    # The server's Date has one-second resolution and is earlier than the request: it wins.
    assert stamp == int(stamp) and before - 1 <= stamp <= before + 1


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["status:503", "status:429", "status:500", "status:408", "reset", "truncate"])
def test_transient_faults_are_retried(http_proxy, root, fault):
    put(root, "f/a", b"x" * 5000)
    store = ts.KvStore.open({"driver": "http", "base_url": http_proxy.url + "/f/", "http_request_retries": FAST_RETRIES}).result()
    http_proxy.reset([fault, fault])
    assert store.read("a").result().value == b"x" * 5000
    assert len(http_proxy.requests) == 3


@pytest.mark.parametrize("fault", ["status:503", "status:429", "reset"])
def test_retry_budget_matches_reference(http_proxy, root, fault):
    put(root, "f/a", b"v")
    spec = {"driver": "http", "base_url": http_proxy.url + "/f/", "http_request_retries": FAST_RETRIES}
    for store in both(spec):
        http_proxy.reset(default=fault)
        with pytest.raises(ValueError, match="^ABORTED: All 3 retry attempts failed: "):
            store.read("a").result()
        assert len(http_proxy.requests) == 4


@pytest.mark.parametrize("code", [400, 403, 401, 404, 410, 412, 304, 416, 302])
def test_status_codes_match_reference(http_proxy, root, code):
    put(root, "f/a", b"v")
    spec = {"driver": "http", "base_url": http_proxy.url + "/f/", "http_request_retries": FAST_RETRIES}
    results = []
    for store in both(spec):
        http_proxy.reset([f"status:{code}"])
        got = outcome(lambda: store.read("a").result())
        results.append(got if got[0] == "error" else ("ok", got[1].state, got[1].value, got[1].stamp.generation))
        assert len(http_proxy.requests) == 1
    assert results[0] == results[1]


def test_timeout_is_retried(http_proxy, root):
    put(root, "f/a", b"v")
    store = ts.KvStore.open({"driver": "http", "base_url": http_proxy.url + "/f/", "http_request_retries": FAST_RETRIES}).result()
    store.driver.client.read_timeout = 0.5
    try:
        http_proxy.reset(["delay:1.5"])
        assert store["a"] == b"v"
        assert len(http_proxy.requests) == 2
    finally:
        store.driver.client.read_timeout = 120.0


def test_concurrency_limit_bounds_requests_in_flight(server, root):
    for i in range(24):
        put(root, f"cc/{i}", b"v%d" % i)
    # A proxy of its own: the session's may still hold a delayed request of another test.
    proxy = FaultProxy(server.port, default="delay:0.02").start()
    try:
        store = ts.KvStore.open({"driver": "http", "base_url": proxy.url + "/cc/", "http_request_concurrency": {"limit": 3}}).result()
        values = [f.result().value for f in [store.read(str(i)) for i in range(24)]]
        assert values == [b"v%d" % i for i in range(24)]
        assert 2 <= proxy.peak <= 3
    finally:
        proxy.stop()


# -- arrays over HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["zarr", "n5", "zarr3"])
def test_arrays_read_identically_over_http(server, root, driver):
    if driver == "zarr3":
        pytest.importorskip("tensorstore_py.driver.zarr3", reason="zarr3 driver not in this tree")
    data = np.arange(20 * 30, dtype=np.int16).reshape(20, 30)
    local = os.path.join(root, f"arr_{driver}")
    ref.open(
        {"driver": driver, "kvstore": {"driver": "file", "path": local}},
        create=True, delete_existing=True, dtype=ref.int16, shape=[20, 30],
        chunk_layout=ref.ChunkLayout(chunk_shape=[7, 8]),
    ).result().write(data).result()
    url = f"{server.url}/arr_{driver}/"
    mine = ts.open({"driver": driver, "kvstore": url}).result()
    theirs = ref.open({"driver": driver, "kvstore": url}).result()
    np.testing.assert_array_equal(mine.read().result(), data)
    np.testing.assert_array_equal(mine[3:17, ::3].read().result(), theirs[3:17, ::3].read().result())
    assert mine.kvstore.url == theirs.kvstore.url == url
    assert mine.spec().to_json()["kvstore"] == theirs.spec().to_json()["kvstore"]
    # By URL pipeline and by auto-detection.
    piped = ts.open(f"{url}|{'zarr2' if driver == 'zarr' else driver}:").result()
    np.testing.assert_array_equal(piped.read().result(), data)
    auto = ts.open(url).result()
    np.testing.assert_array_equal(auto.read().result(), data)
    with pytest.raises(NotImplementedError):
        mine[0:2, 0:2].write(np.zeros((2, 2), np.int16)).result()


def test_pickled_store_reopens(server, root):
    import pickle

    put(root, "pk/a", b"v")
    store = ts.KvStore.open({"driver": "http", "base_url": server.url + "/pk/", "headers": ["X-A: 1"]}).result()
    again = pickle.loads(pickle.dumps(store))
    assert repr(again) == repr(store) and again["a"] == b"v"


@pytest.mark.parametrize("url", ["https://h/a/|n5:", "http://h:8/x/y.zarr/|zarr2:", "http://h/a%20b/", "https://h/p?q=1|zarr2:"])
def test_tensorstore_url_pipelines_match_reference(url):
    assert ts.Spec(url).to_json() == ref.Spec(url).to_json()
