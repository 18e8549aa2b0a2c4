"""gcs spec JSON, URLs, reprs and context resources, compared with tensorstore 0.1.86.

No server is contacted: opening a gcs store only binds its context resources.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore as ref
import tensorstore_py as ts
import tensorstore_py.kvstore.gcs  # noqa: F401
from tensorstore_py.context import ContextSpecBuilder
from tensorstore_py.kvstore.gcs.driver import (
    generation_number, is_valid_bucket_name, is_valid_generation, is_valid_object_name,
)  # fmt: skip
from tensorstore_py.kvstore.gcs.resources import RetryPolicy, retry_policy


def outcome(fn):
    try:
        return ("ok", fn())
    except ValueError as exc:
        return ("error", str(exc))


SPECS = [
    {"driver": "gcs", "bucket": "bkt"},
    {"driver": "gcs", "bucket": "bkt", "path": "a/b/"},
    {"driver": "gcs", "bucket": "my-bucket.with_dots-1", "path": "x y/ü"},
    {"driver": "gcs"},
    {"driver": "gcs", "bucket": 5},
    {"driver": "gcs", "bucket": "Bkt"},
    {"driver": "gcs", "bucket": "ab"},
    {"driver": "gcs", "bucket": "-ab"},
    {"driver": "gcs", "bucket": "a..b"},
    {"driver": "gcs", "bucket": "bkt", "path": 5},
    {"driver": "gcs", "bucket": "bkt", "path": "."},
    {"driver": "gcs", "bucket": "bkt", "path": "a\nb"},
    {"driver": "gcs", "bucket": "bkt", "path": ".well-known/acme-challenge/x"},
    {"driver": "gcs", "bucket": "bkt", "foo": 1},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"max_retries": 0}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"max_retries": -1}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"initial_delay": "10ms", "max_delay": "2s"}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"initial_delay": "1s", "max_delay": "32s", "max_retries": 32}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"initial_delay": 5}},
    {"driver": "gcs", "bucket": "bkt", "gcs_user_project": {"project_id": "proj"}},
    {"driver": "gcs", "bucket": "bkt", "gcs_user_project": {"project_id": 5}},
    {"driver": "gcs", "bucket": "bkt", "gcs_user_project": {"x": "a"}},
    {"driver": "gcs", "bucket": "bkt", "gcs_user_project": "gcs_user_project#a"},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_concurrency": {"limit": 0}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_concurrency": {"limit": 8}},
    {"driver": "gcs", "bucket": "bkt", "gcs_request_concurrency": {"limit": "shared"}},
    {
        "driver": "gcs", "bucket": "bkt", "gcs_request_concurrency": "gcs_request_concurrency#x",
        "context": {"gcs_request_concurrency#x": {"limit": 3}},
    },  # fmt: skip
    {"driver": "gcs", "bucket": "bkt", "experimental_gcs_rate_limiter": {}},
    {"driver": "gcs", "bucket": "bkt", "experimental_gcs_rate_limiter": {"read_rate": 5, "write_rate": 3, "doubling_time": "10s"}},
    {"driver": "gcs", "bucket": "bkt", "experimental_gcs_rate_limiter": {"read_rate": "x"}},
]


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
@pytest.mark.parametrize("include_defaults", [False, True])
def test_spec_json_matches_reference(spec, include_defaults):
    mine = outcome(lambda: ts.KvStore.Spec(spec).to_json(include_defaults=include_defaults))
    theirs = outcome(lambda: ref.KvStore.Spec(spec).to_json(include_defaults=include_defaults))
    assert mine == theirs


URLS = [
    "gs://bkt", "gs://bkt/", "gs://bkt/a/b", "gs://bkt/a%20c/d", "gs://bkt.a-b_c/a/b%2Fc", "gs://bkt//a",
    "gs://bkt/a/b?x", "gs://bkt/a/b#x", "gs://Bkt/a", "gs://", "gs:bkt", "gs:/bkt", "gs://bkt/%zz",
    "gs://bkt@x/a", "gs://bkt/a%FFb", "gs://bkt/%C3%BC",
]  # fmt: skip


@pytest.mark.parametrize("url", URLS)
def test_url_parsing_matches_reference(url):
    mine = outcome(lambda: ts.KvStore.Spec(url).to_json())
    theirs = outcome(lambda: ref.KvStore.Spec(url).to_json())
    assert mine == theirs


_path_chars = st.characters(blacklist_categories=("Cs", "Cc"))


@settings(max_examples=150, deadline=None)
@given(path=st.text(_path_chars, max_size=24))
def test_url_round_trip_matches_reference(path):
    spec = {"driver": "gcs", "bucket": "bkt", "path": path}
    mine = outcome(lambda: ts.KvStore.Spec(spec).url)
    theirs = outcome(lambda: ref.KvStore.Spec(spec).url)
    assert mine == theirs
    if mine[0] == "ok":
        assert ts.KvStore.Spec(mine[1]).to_json() == ref.KvStore.Spec(theirs[1]).to_json()


def test_open_reprs_and_specs():
    spec = {"driver": "gcs", "bucket": "bkt", "path": "a/"}
    store = ts.KvStore.open(spec).result()
    theirs = ref.KvStore.open(spec).result()
    assert store.url == theirs.url == "gs://bkt/a/"
    assert repr(store.spec()) == repr(theirs.spec())
    assert store.spec().to_json(include_defaults=True) == theirs.spec().to_json(include_defaults=True)
    # A bare KvStore prints retries and billing project inline, as TensorStore 0.1.86 does (a
    # TensorStore repr lists them under "context", as the seed page shows).
    assert repr(store) == repr(theirs)
    assert store._unbound_json()["context"] == {"data_copy_concurrency": {}, "gcs_request_concurrency": {}}


def test_explicit_resources_print_inline_like_reference():
    spec = {
        "driver": "gcs", "bucket": "bkt",
        "gcs_request_concurrency": {"limit": 4}, "gcs_request_retries": {"max_retries": 3},
        "gcs_user_project": {"project_id": "p"},
    }  # fmt: skip
    mine = ts.KvStore.open(spec).result()
    theirs = ref.KvStore.open(spec).result()
    assert repr(mine) == repr(theirs)
    assert mine.spec(unbind_context=True).to_json() == theirs.spec(unbind_context=True).to_json()
    assert mine.driver.user_project == "p"
    assert mine.driver.policy.max_retries == 3
    assert mine.driver.client.max_connections == 4


def test_one_client_per_resource():
    ctx = ts.Context({"gcs_request_concurrency#a": {"limit": 2}})
    a = ts.KvStore.open({"driver": "gcs", "bucket": "bkt", "gcs_request_concurrency": "gcs_request_concurrency#a"}, context=ctx).result()
    b = ts.KvStore.open({"driver": "gcs", "bucket": "bkt2", "gcs_request_concurrency": "gcs_request_concurrency#a"}, context=ctx).result()
    c = ts.KvStore.open({"driver": "gcs", "bucket": "bkt"}, context=ctx).result()
    d = ts.KvStore.open({"driver": "gcs", "bucket": "bkt"}).result()
    assert a.driver.client is b.driver.client
    assert a.driver.executor is b.driver.executor and a.driver.executor.max_workers == 2
    assert a.driver.client is not c.driver.client
    # The shared default is process-wide, like TensorStore's shared limit of 32.
    assert c.driver.client is d.driver.client and c.driver.client.max_connections == 32


def test_key_and_generation_errors_match_reference():
    mine = ts.KvStore.open({"driver": "gcs", "bucket": "bkt"}).result()
    theirs = ref.KvStore.open({"driver": "gcs", "bucket": "bkt"}).result()
    for key in ["", "a\nb", ".", "..", b"\xff", "\x01", ".well-known/acme-challenge/x"]:
        assert outcome(lambda: mine.read(key).result()) == outcome(lambda: theirs.read(key).result())
        assert outcome(lambda: mine.write(key, b"x").result()) == outcome(lambda: theirs.write(key, b"x").result())
    for bad in [b"\x00abc", b"xyz", b"\x10"]:
        assert outcome(lambda: mine.read("a", if_not_equal=bad).result()) == ("error", "Malformed StorageGeneration")
        assert outcome(lambda: theirs.read("a", if_not_equal=bad).result()) == ("error", "Malformed StorageGeneration")
        assert outcome(lambda: mine.write("a", b"v", if_equal=bad).result()) == ("error", "Malformed StorageGeneration")
    # Generation 0 is what a read reports when the server sent no x-goog-generation header.
    # TensorStore calls it malformed; we say what happened.
    zero = b"\x00" + bytes(8)
    assert outcome(lambda: theirs.write("a", b"v", if_equal=zero).result()) == ("error", "Malformed StorageGeneration")
    for op in (lambda: mine.read("a", if_not_equal=zero).result(), lambda: mine.write("a", b"v", if_equal=zero).result()):
        kind, message = outcome(op)
        assert kind == "error" and "the server sent no usable generation (no x-goog-generation header)" in message


@settings(max_examples=200, deadline=None)
@given(name=st.binary(max_size=12) | st.text(max_size=12).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_object_name_rules(name):
    ok = is_valid_object_name(name)
    if ok:
        assert 0 < len(name) <= 1024 and not any(b < 0x20 or b == 0x7F for b in name)
        name.decode("utf-8")
    store = ref.KvStore.open({"driver": "gcs", "bucket": "bkt"}).result()
    if not ok:
        # The reference refuses the same names before any request is made.
        with pytest.raises(ValueError, match="Invalid GCS object name"):
            store.read(name).result()


@pytest.mark.parametrize(
    "bucket,valid",
    [("bkt", True), ("a-b_c.d", True), ("a" * 63, True), ("a" * 64, False), ("ab", False), ("a.-b", False),
     ("A12", False), ("1ab", True), ("ab-", False), ("a b", False), ("x." * 74 + "x", True)],
)  # fmt: skip
def test_bucket_name_rules(bucket, valid):
    assert is_valid_bucket_name(bucket) is valid
    assert outcome(lambda: ref.KvStore.Spec({"driver": "gcs", "bucket": bucket}))[0] == ("ok" if valid else "error")


def test_generation_encoding():
    assert generation_number(b"\x02") == 0
    assert generation_number(b"\x00" + (1234).to_bytes(8, "little")) == 1234
    assert generation_number(b"\x00abc") is None
    assert is_valid_generation(b"") and is_valid_generation(b"\x02")
    assert not is_valid_generation(b"\x00" + bytes(8))


@settings(max_examples=100, deadline=None)
@given(
    attempt=st.integers(0, 80),
    initial=st.floats(1e-4, 2.0),
    ceiling=st.floats(1e-4, 40.0),
    retries=st.integers(0, 40),
)
def test_backoff_bounds(attempt, initial, ceiling, retries):
    policy = RetryPolicy(retries, initial, max(ceiling, initial))
    delay = policy.delay(attempt)
    if attempt >= retries:
        assert delay is None
        return
    assert delay is not None
    base = initial * 2 ** min(attempt, 63)
    assert min(base, policy.max_delay) <= delay + 1e-12
    assert delay <= min(base + min(1.0, initial), policy.max_delay) + 1e-12


def test_retry_policy_from_context():
    store = ts.KvStore.open(
        {"driver": "gcs", "bucket": "bkt", "gcs_request_retries": {"max_retries": 5, "initial_delay": "10ms", "max_delay": "2s"}}
    ).result()
    policy = retry_policy(store.driver.resources["gcs_request_retries"])
    assert (policy.max_retries, policy.initial_delay, policy.max_delay) == (5, 0.01, 2.0)
    default = ts.KvStore.open({"driver": "gcs", "bucket": "bkt"}).result().driver.policy
    assert (default.max_retries, default.initial_delay, default.max_delay) == (32, 1.0, 32.0)
