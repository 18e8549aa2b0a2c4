"""I/O against a real GCS server (the emulator), differential with tensorstore 0.1.86.

Values written by either library are read back by the other; list results, byte ranges,
generations and conditional operations are compared call by call.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore as ref
import tensorstore_py as ts
from gcs_testing import BUCKET, gcs_spec
from gcs_emulator import Emulator


def outcome(fn):
    try:
        return ("ok", fn())
    except ValueError as exc:
        return ("error", str(exc).split(" [http_response")[0])


def same_read(a, b) -> bool:
    """Equal results apart from the timestamp."""
    return (a.state, a.value, a.stamp.generation) == (b.state, b.value, b.stamp.generation)


KEYS = ["a", "b/c d", "b/e", "ü/x", "z" * 200, "k%2F", "q?x#y", "dir/sub/leaf"]


def test_values_cross_read(stores, emulator, prefix):
    theirs, mine = stores
    for i, key in enumerate(KEYS):
        value = os.urandom(i * 37)
        writer, reader = (theirs, mine) if i % 2 else (mine, theirs)
        stamp = writer.write(key, value).result()
        got = reader.read(key).result()
        assert got.state == "value" and got.value == value
        assert got.stamp.generation == stamp.generation
        assert same_read(mine.read(key).result(), theirs.read(key).result())
    stored = emulator.objects(BUCKET)
    assert {k[len(prefix):] for k in stored if k.startswith(prefix)} == set(KEYS)


def test_missing_and_delete(stores):
    theirs, mine = stores
    assert same_read(mine.read("nothing").result(), theirs.read("nothing").result())
    assert mine.read("nothing").result().stamp.generation == b"\x02"
    mine["x"] = b"1"
    assert mine.write("x", None).result().generation == b"\x02"
    assert theirs.read("x").result().state == "missing"
    # Deleting an absent key succeeds in both.
    assert mine.write("x", None).result().generation == theirs.write("x", None).result().generation == b"\x02"


def test_list_matches_reference(stores):
    theirs, mine = stores
    for key in KEYS:
        mine[key] = b"v"
    assert sorted(mine.list().result()) == sorted(theirs.list().result()) == sorted(k.encode() for k in KEYS)
    for lo, hi in [("a", "b"), ("b", "b/f"), ("b/", ""), ("", "c"), ("dir/", "dir0"), ("y", "")]:
        r1, r2 = ts.KvStore.KeyRange(lo, hi), ref.KvStore.KeyRange(lo, hi)
        assert sorted(mine.list(r1).result()) == sorted(theirs.list(r2).result())
    # (TensorStore 0.1.86 aborts the process when strip_prefix_length exceeds a key's length.)
    assert sorted(mine.list(strip_prefix_length=1).result()) == sorted(theirs.list(strip_prefix_length=1).result())
    assert sorted((mine + "b").list().result()) == sorted((theirs + "b").list().result()) == [b"/c d", b"/e"]
    assert sorted((mine / "b/").list().result()) == [b"c d", b"e"]


def test_list_pagination():
    with Emulator(("pages",), page_size=3) as server:
        spec = {"driver": "gcs", "bucket": "pages"}
        os.environ["TENSORSTORE_GCS_HTTP_URL"], saved = server.url, os.environ["TENSORSTORE_GCS_HTTP_URL"]
        try:
            mine = ts.KvStore.open(spec).result()
            theirs = ref.KvStore.open(spec).result()
            keys = [f"k{i:02d}".encode() for i in range(11)]
            for k in keys:
                mine[k] = b"x"
            assert mine.list().result() == keys
            assert sorted(theirs.list().result()) == keys
            assert mine.list(ts.KvStore.KeyRange("k03", "k09")).result() == keys[3:9]
            mine.delete_range(ts.KvStore.KeyRange("k02", "k10")).result()
            assert theirs.list().result() == [b"k00", b"k01", b"k10"]
        finally:
            os.environ["TENSORSTORE_GCS_HTTP_URL"] = saved


def test_delete_range_matches_reference(stores, emulator, prefix):
    theirs, mine = stores
    for key in KEYS:
        mine[key] = b"v"
    mine.delete_range(ts.KvStore.KeyRange("b", "c")).result()
    theirs_keys = sorted(theirs.list().result())
    assert theirs_keys == sorted(k.encode() for k in KEYS if not ("b" <= k < "c"))
    mine.delete_range(ts.KvStore.KeyRange()).result()
    assert theirs.list().result() == []
    assert not [k for k in emulator.objects(BUCKET) if k.startswith(prefix)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.integers(0, 40),
    start=st.integers(-45, 45),
    stop=st.one_of(st.none(), st.integers(0, 45)),
)
def test_byte_ranges_match_reference(stores, size, start, stop):
    theirs, mine = stores
    key = f"range{size}"
    value = bytes(range(size))
    if mine.read(key).result().state != "value":
        mine[key] = value
    if start < 0 and stop is not None:
        stop = None
    if stop is not None and (start < 0 or stop < start):
        return  # rejected by both Python APIs before any I/O
    byte_range = slice(start, stop)
    a = outcome(lambda: mine.read(key, byte_range=byte_range).result())
    b = outcome(lambda: theirs.read(key, byte_range=byte_range).result())
    assert a[0] == b[0], (a, b)
    if a[0] == "ok":
        assert same_read(a[1], b[1])
    else:
        assert a[1].split(":")[0] == b[1].split(":")[0]


def test_conditional_writes_match_reference(stores):
    theirs, mine = stores
    for store in (mine, theirs):
        first = store.write("c", b"1", if_equal=b"\x02").result()
        assert first.generation not in (b"", b"\x02")
        # NO_VALUE condition on an existing key: skipped, value kept (ifGenerationMatch=0).
        assert store.write("c", b"2", if_equal=b"\x02").result().generation == b""
        assert store["c"] == b"1"
        second = store.write("c", b"3", if_equal=first.generation).result()
        assert second.generation not in (b"", first.generation)
        assert store.write("c", b"4", if_equal=first.generation).result().generation == b""
        assert store["c"] == b"3"
        # Conditional delete: stale generation skipped, current one deletes.
        assert store.write("c", None, if_equal=first.generation).result().generation == b""
        assert store.write("c", None, if_equal=second.generation).result().generation == b"\x02"
        assert store.read("c").result().state == "missing"
        assert store.write("c", None, if_equal=second.generation).result().generation == b""


def test_if_not_equal_matches_reference(stores):
    theirs, mine = stores
    stamp = theirs.write("n", b"value").result()
    a = mine.read("n", if_not_equal=stamp.generation).result()
    b = theirs.read("n", if_not_equal=stamp.generation).result()
    assert same_read(a, b) and a.state == "unspecified" and a.stamp.generation == stamp.generation
    other = b"\x00" + (12345).to_bytes(8, "little")
    assert same_read(mine.read("n", if_not_equal=other).result(), theirs.read("n", if_not_equal=other).result())
    assert mine.read("gone", if_not_equal=other).result().state == "missing"


def test_concurrent_read_modify_write_never_loses_updates(emulator, prefix):
    """Increment a counter from threads of both libraries with if_equal; every increment lands."""
    mine = ts.KvStore.open(gcs_spec(prefix)).result()
    theirs = ref.KvStore.open(gcs_spec(prefix)).result()
    mine.write("counter", b"0").result()

    def worker(store, n):
        done = 0
        while done < n:
            current = store.read("counter").result()
            new = str(int(current.value) + 1).encode()
            if store.write("counter", new, if_equal=current.stamp.generation).result().generation:
                done += 1

    threads = [threading.Thread(target=worker, args=(s, 6)) for s in (mine, theirs, mine, theirs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert mine["counter"] == b"24"


def test_user_project_is_sent(proxy, prefix):
    store = ts.KvStore.open(gcs_spec(prefix, gcs_user_project={"project_id": "my proj"})).result()
    store["k"] = b"v"
    store.read("k").result()
    store.list().result()
    store.write("k", None).result()
    paths = [path for _m, path, _h in proxy.requests]
    assert len(paths) == 4 and all("userProject=my%20proj" in p for p in paths)
    plain = ts.KvStore.open(gcs_spec(prefix)).result()
    plain.read("k").result()
    assert "userProject" not in proxy.requests[-1][1]


@pytest.mark.parametrize("limit", [1, 4])
def test_request_concurrency_limit(proxy, prefix, limit):
    store = ts.KvStore.open(gcs_spec(prefix, gcs_request_concurrency={"limit": limit})).result()
    proxy.reset(default="delay:0.05")
    futures = [store.write(f"c{i}", b"x") for i in range(12)]
    for f in futures:
        f.result()
    assert proxy.peak == limit
    assert len(proxy.requests) == 12


def test_plain_emulator_gaps_behave_as_reference():
    """The emulator as shipped omits x-goog-generation and ignores generation conditions; both
    libraries then report generation 0 for reads, and the reference's write-then-read shows the
    same values, so the gap is the server's, not the client's."""
    with Emulator(("plain",), fidelity=False) as server:
        saved = os.environ["TENSORSTORE_GCS_HTTP_URL"]
        os.environ["TENSORSTORE_GCS_HTTP_URL"] = server.url
        try:
            mine = ts.KvStore.open({"driver": "gcs", "bucket": "plain"}).result()
            theirs = ref.KvStore.open({"driver": "gcs", "bucket": "plain"}).result()
            mine["a"] = b"hello"
            assert same_read(mine.read("a").result(), theirs.read("a").result())
            assert mine.read("a").result().stamp.generation == b"\x00" + bytes(8)
            # Suffix ranges are ignored by this server: both refuse the full body.
            assert outcome(lambda: mine.read("a", byte_range=slice(-2, None)).result()) == outcome(
                lambda: theirs.read("a", byte_range=slice(-2, None)).result()
            )
            # Listing a range: the server ignores startOffset/endOffset, we filter client-side.
            mine["b"] = b"x"
            assert mine.list(ts.KvStore.KeyRange("b", "c")).result() == [b"b"]
        finally:
            os.environ["TENSORSTORE_GCS_HTTP_URL"] = saved


def test_large_value_round_trip(stores):
    theirs, mine = stores
    value = os.urandom(3 << 20)
    mine["big"] = value
    assert theirs["big"] == value
    assert mine.read("big", byte_range=slice(1 << 20, (1 << 20) + 10)).result().value == value[1 << 20 : (1 << 20) + 10]


def test_zarr_array_on_gcs_cross_library(emulator, prefix):
    """A zarr array written through our gcs kvstore opens in TensorStore, and the reverse."""
    data = np.arange(60, dtype=np.int16).reshape(6, 10)
    spec_mine = {"driver": "zarr", "kvstore": gcs_spec(prefix + "mine/")}
    spec_ref = {"driver": "zarr", "kvstore": gcs_spec(prefix + "ref/")}
    try:
        store = ts.open(spec_mine, create=True, dtype=ts.int16, shape=[6, 10], chunk_layout=ts.ChunkLayout(chunk_shape=[4, 4])).result()
    except (TypeError, ValueError, NotImplementedError) as exc:  # pragma: no cover - engine not integrated
        pytest.skip(f"zarr driver not available over gcs yet: {exc}")
    store.write(data).result()
    np.testing.assert_array_equal(ref.open(spec_mine).result().read().result(), data)
    other = ref.open(spec_ref, create=True, dtype=ref.int16, shape=[6, 10], chunk_layout=ref.ChunkLayout(chunk_shape=[3, 5])).result()
    other.write(data * 2).result()
    np.testing.assert_array_equal(ts.open(spec_ref).result().read().result(), data * 2)


def test_storage_emulator_host_is_honoured(emulator, monkeypatch, prefix):
    """google-cloud-storage's variable (``host:port``) works when TensorStore's is unset."""
    from tensorstore_py.kvstore.gcs import http

    monkeypatch.delenv("TENSORSTORE_GCS_HTTP_URL")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"127.0.0.1:{emulator.port}")
    assert http.endpoint() == (emulator.url, True)
    store = ts.KvStore.open(gcs_spec(prefix)).result()
    store["k"] = b"via STORAGE_EMULATOR_HOST"
    assert emulator.objects(BUCKET)[prefix + "k"] == b"via STORAGE_EMULATOR_HOST"
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert http.endpoint() == ("https://storage.googleapis.com", False)


def test_emulator_requests_are_anonymous(proxy, prefix):
    store = ts.KvStore.open(gcs_spec(prefix)).result()
    store["k"] = b"v"
    assert all("Authorization" not in headers for _m, _p, headers in proxy.requests)


def test_pickle_and_await(stores):
    import asyncio
    import pickle

    _theirs, mine = stores
    mine["k"] = b"v"
    copy = pickle.loads(pickle.dumps(mine))
    assert copy.url == mine.url and copy["k"] == b"v"

    async def main():
        result = await copy.read("k")
        await copy.write("k2", b"w")
        return result.value, await copy.list()

    value, keys = asyncio.run(main())
    assert value == b"v" and sorted(keys) == [b"k", b"k2"]


def test_list_with_non_utf8_bounds(stores):
    _theirs, mine = stores
    for key in ["a", "a\u00e9", "b", "\u00ff"]:
        mine[key] = b"v"
    # b"a\xc3" cuts a two-byte character; b"\xff" is never UTF-8.
    assert mine.list(ts.KvStore.KeyRange(b"a\xc3", b"\xff")).result() == ["a\u00e9".encode(), b"b", "\u00ff".encode()]
    assert mine.list(ts.KvStore.KeyRange(b"", b"a\xc3")).result() == [b"a"]


def test_tensorstore_repr_lists_gcs_resources_like_seed(emulator, prefix):
    """The seed page's gcs-backed TensorStore repr: the three gcs resources under "context",
    only bucket, driver and path in "kvstore"."""
    store = ts.open({"driver": "zarr", "kvstore": gcs_spec(prefix)}, create=True, dtype=ts.uint8, shape=[4]).result()
    text = repr(store)
    assert text.startswith(
        "TensorStore({\n  'context': {\n    'cache_pool': {},\n    'data_copy_concurrency': {},\n"
        "    'gcs_request_concurrency': {},\n    'gcs_request_retries': {},\n    'gcs_user_project': {},\n  },\n"
    )
    assert f"  'kvstore': {{'bucket': '{BUCKET}', 'driver': 'gcs', 'path': '{prefix}'}},\n" in text


_ops = st.lists(
    st.tuples(
        st.sampled_from(["write", "cond_write", "delete", "read", "range_read", "list", "delete_range"]),
        st.sampled_from(["a", "ab", "b/x", "b/y", "c"]),
        st.binary(max_size=12),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_random_operation_sequences_match_reference(emulator, ops):
    """Both libraries run the same operations on separate prefixes; every observable result
    (states, values, list results, whether a conditional write applied) agrees."""
    import uuid

    base = f"seq{uuid.uuid4().hex[:10]}"
    mine = ts.KvStore.open(gcs_spec(base + "m/")).result()
    theirs = ref.KvStore.open(gcs_spec(base + "r/")).result()
    for op, key, value in ops:
        results = []
        for store, lib in ((mine, ts), (theirs, ref)):
            if op == "write":
                results.append(bool(store.write(key, value).result().generation))
            elif op == "cond_write":
                current = store.read(key).result().stamp.generation
                results.append(bool(store.write(key, value + b"!", if_equal=current).result().generation))
                results.append(bool(store.write(key, value + b"?", if_equal=current).result().generation))
            elif op == "delete":
                results.append(store.write(key, None).result().generation)
            elif op == "read":
                r = store.read(key).result()
                results.append((r.state, r.value))
            elif op == "range_read":
                results.append(outcome(lambda: (lambda r: (r.state, r.value))(store.read(key, byte_range=slice(1, 4)).result())))
            elif op == "list":
                results.append(sorted(store.list().result()))
            else:
                results.append(store.delete_range(lib.KvStore.KeyRange(key, key + "\x7f")).result())
        half = len(results) // 2
        assert results[:half] == results[half:], (op, key, results)
