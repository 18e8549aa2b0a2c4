"""The ``s3`` kvstore against moto's S3 server on loopback, side by side with tensorstore.

Specs, URLs, reprs and bucket-name rules as the reference parses them; key-value operations
whose results (values, generations, conditions) and HTTP exchanges (methods, paths, condition
headers) match the reference's on the same server; arrays written by either library read by
the other; list pagination; region discovery, host header, requester pays and the credential
providers.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorstore as ref
import tensorstore_py as ts
from s3_testing import BUCKET, s3_spec
from tensorstore_py.kvstore.s3.driver import classify_bucket_name


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - compared between the libraries
        return ("error", "ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))


def both(spec):
    return ts.KvStore.open(spec).result(), ref.KvStore.open(spec).result()


# -- specs, URLs, names --------------------------------------------------------------------------

SPECS = [
    {"driver": "s3", "bucket": "bucket", "path": "a/b"},
    {"driver": "s3", "bucket": "Bucket_old", "path": "a b"},
    {"driver": "s3", "bucket": "bucket", "endpoint": "http://127.0.0.1:9000", "host_header": "foo", "aws_region": "us-east-1",
     "requester_pays": True, "aws_credentials": {"type": "anonymous"}, "use_conditional_write": True},
    {"driver": "s3", "bucket": "bucket", "use_conditional_write": False, "requester_pays": False},
    {"driver": "s3", "bucket": "bucket", "s3_request_concurrency": {"limit": 3}, "s3_request_retries": {"max_retries": 2}},
    {"driver": "s3", "bucket": "bucket", "endpoint": "ftp://x"},
    {"driver": "s3", "endpoint": "http://h:1"},
    {"driver": "s3"},
    {"driver": "s3", "bucket": "b"},
    {"driver": "s3", "bucket": "1.2.3.4"},
    {"driver": "s3", "bucket": "bucket", "aws_region": 3},
    {"driver": "s3", "bucket": "bucket", "requester_pays": "x"},
    {"driver": "s3", "bucket": "bucket", "extra": 1},
    {"driver": "s3", "bucket": "bucket", "experimental_s3_rate_limiter": {"read_rate": 10, "write_rate": 5, "doubling_time": "10s"}},
    {"driver": "s3", "bucket": "bucket", "experimental_s3_rate_limiter": {}},
    {"driver": "s3", "bucket": "bucket", "experimental_s3_rate_limiter": {"x": 1}},
] + [
    {"driver": "s3", "bucket": "bucket", "aws_credentials": c}
    for c in [
        {"type": "default"}, {"type": "default", "profile": "p"}, {"type": "anonymous"}, {"type": "environment"},
        {"type": "profile", "profile": "p", "credentials_file": "/x", "config_file": "/y"}, {"type": "ecs"},
        {"type": "ecs", "endpoint": "http://x", "auth_token_file": "/f"}, {"type": "imds"}, {"type": "imds", "endpoint": "http://y"},
        {"type": "bogus"}, {}, "default", "aws_credentials", "aws_credentials#a", {"type": "environment", "x": 1}, {"type": 3},
    ]
]


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_spec_json_and_url_match_reference(spec):
    for view in (lambda s: s.to_json(), lambda s: s.to_json(include_defaults=True), lambda s: s.url):
        assert outcome(lambda: view(ts.KvStore.Spec(spec))) == outcome(lambda: view(ref.KvStore.Spec(spec)))


URLS = ["s3://bucket/a/b", "s3://bucket", "s3://bucket/", "s3://bucket/a%20b", "s3://bucket/a b", "s3://Bucket/a",
        "s3://b/a", "s3://bu_cket/a", "s3://bucket/a?x", "s3://bucket/a#x", "s3://bucket/%zz", "s3://"]


@pytest.mark.parametrize("url", URLS)
def test_url_parsing_matches_reference(url):
    mine = outcome(lambda: (ts.KvStore.Spec(url).to_json(), ts.KvStore.Spec(url).url))
    theirs = outcome(lambda: (ref.KvStore.Spec(url).to_json(), ref.KvStore.Spec(url).url))
    assert mine == theirs


@settings(max_examples=150, deadline=None)
@given(name=st.text(alphabet="abcXY019_.-", max_size=12) | st.sampled_from(["x" * 63, "x" * 64, "x" * 255, "x" * 256, "1.2.3.4", "xn--abc", "abc-s3alias", "abc--ol-s3"]))
def test_bucket_name_rules_match_reference(name):
    spec = {"driver": "s3", "bucket": name}
    mine = outcome(lambda: ts.KvStore.Spec(spec).to_json())
    assert mine == outcome(lambda: ref.KvStore.Spec(spec).to_json())
    assert (mine[0] == "ok") == (classify_bucket_name(name) != "invalid")


def test_repr_and_spec_views_match_reference(moto):
    for extra in ({}, {"s3_request_concurrency": {"limit": 4}, "s3_request_retries": {"max_retries": 3}, "aws_credentials": {"type": "anonymous"}}):
        mine, theirs = both({**s3_spec(moto.url, "p/"), **extra})
        assert repr(mine) == repr(theirs)
        assert repr(mine / "z") == repr(theirs / "z")
        for store in (mine, theirs):
            with pytest.raises(NotImplementedError, match="^S3 URL syntax not supported with explicit endpoint$"):
                store.url
        assert mine.spec().to_json() == theirs.spec().to_json()
        assert mine.spec(unbind_context=True).to_json() == theirs.spec(unbind_context=True).to_json()


# -- operations ----------------------------------------------------------------------------------


def summary(result):
    """What two libraries must agree on (times differ)."""
    if hasattr(result, "state"):
        return (result.state, result.value, result.stamp.generation)
    if hasattr(result, "generation"):
        return ("stamp", result.generation)
    return result


SEQUENCE = [
    ("write", "a", b"hello", None), ("read", "a", {}), ("read", "a", {"byte_range": slice(1, 3)}),
    ("read", "a", {"byte_range": slice(-2, None)}), ("read", "a", {"byte_range": slice(2, 2)}),
    ("read", "a", {"byte_range": slice(3, None)}), ("read", "missing", {}),
    ("write", "a", b"v2", "current"), ("write", "a", b"v3", "stale"), ("read", "a", {"if_not_equal": "current"}),
    ("read", "a", {"if_not_equal": "stale"}), ("write", "new", b"n", b"\x02"), ("write", "new", b"n2", b"\x02"),
    ("write", "sp ace/+%~", b"odd", None), ("read", "sp ace/+%~", {}), ("list", None, None),
    ("write", "a", None, "stale"), ("write", "a", None, b"\x02"), ("write", "zz", None, b"\x02"), ("write", "zz", None, None),
    ("write", "a", None, "current"), ("delete_range", "n", "o"), ("list", None, None),
    ("read", "a", {"if_not_equal": b"\x00"}), ("write", "a", b"x", b"\x10"), ("read", "", {}), ("read", b"\xff", {}),
]


def run_sequence(store, kv_ranges):
    """Runs SEQUENCE; 'current' / 'stale' are the generations of the last and the previous write."""
    out = []
    generations = [b"", b""]

    def gen_of(g):
        return {"current": generations[-1], "stale": generations[-2]}.get(g, g) if isinstance(g, str) else g

    for op, key, arg, *rest in SEQUENCE:
        if op == "write":
            got = outcome(lambda: store.write(key, arg, if_equal=gen_of(rest[0])).result())
            if got[0] == "ok" and got[1].generation not in (b"", b"\x02"):
                generations.append(got[1].generation)
        elif op == "read":
            kwargs = {k: gen_of(v) if k == "if_not_equal" else v for k, v in arg.items()}
            got = outcome(lambda: store.read(key, **kwargs).result())
        elif op == "list":
            got = outcome(lambda: sorted(store.list().result()))
        else:
            got = outcome(lambda: store.delete_range(kv_ranges(key, arg)).result())
        out.append((op, key, got[0], summary(got[1]) if got[0] == "ok" else got[1:]))
    return out


@pytest.mark.parametrize("conditional", [None, True, False])
def test_operations_and_requests_match_reference(s3_proxy, prefix, conditional):
    """Same results, and the same HTTP exchanges (method, path, conditions), as tensorstore."""
    extra = {} if conditional is None else {"use_conditional_write": conditional}
    results, exchanges = [], []
    for lib, name in ((ref, "ref"), (ts, "mine")):
        store = lib.KvStore.open(s3_spec(s3_proxy.url, f"{prefix}{name}/", **extra)).result()
        s3_proxy.reset()
        results.append(run_sequence(store, lambda a, b, lib=lib: lib.KvStore.KeyRange(a, b)))
        exchanges.append([
            (m, p.replace(f"{prefix}{name}/", "P/").replace(f"{prefix[:-1]}%2F{name}%2F", "P%2F"),
             {k.lower(): v for k, v in h.items() if k.lower() in ("if-match", "if-none-match", "range", "x-amz-checksum-mode")})
            for m, p, h in s3_proxy.requests
        ])
    assert results[0] == results[1]
    assert exchanges[0] == exchanges[1]


def test_each_library_reads_what_the_other_wrote(moto, prefix):
    mine, theirs = both(s3_spec(moto.url, prefix))
    stamp = mine.write("from_mine", b"m" * 1000).result()
    assert theirs.read("from_mine").result().stamp.generation == stamp.generation
    stamp = theirs.write("from_ref", b"r" * 1000).result()
    got = mine.read("from_ref").result()
    assert got.value == b"r" * 1000 and got.stamp.generation == stamp.generation
    assert mine.write("from_ref", b"x", if_equal=stamp.generation).result().generation
    assert theirs.write("from_ref", b"y", if_equal=stamp.generation).result().generation == b""
    assert sorted(mine.list().result()) == sorted(theirs.list().result()) == [b"from_mine", b"from_ref"]


def test_list_follows_continuation_tokens(moto, prefix):
    """moto pages ListObjectsV2 at 1000 keys."""
    store = ts.KvStore.open(s3_spec(moto.url, prefix)).result()
    keys = [f"k{i:05d}".encode() for i in range(1010)]
    ts_futures = [store.write(k, b"v") for k in keys]
    for f in ts_futures:
        f.result()
    assert sorted(store.list().result()) == keys
    assert sorted(store.list(ts.KvStore.KeyRange(b"k00990", b"k01005")).result()) == keys[990:1005]
    assert sorted(ref.KvStore.open(s3_spec(moto.url, prefix)).result().list().result()) == keys
    store.delete_range(ts.KvStore.KeyRange(b"k00005", b"k01010")).result()
    assert sorted(store.list().result()) == keys[:5]


@pytest.mark.parametrize("driver", ["zarr", "n5"])
@pytest.mark.parametrize("writer", ["ref", "mine"])
def test_arrays_written_by_either_library_read_by_the_other(moto, prefix, driver, writer):
    data = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    kvstore = s3_spec(moto.url, prefix + "arr/")
    w, r = (ref, ts) if writer == "ref" else (ts, ref)
    created = w.open({"driver": driver, "kvstore": kvstore}, create=True, dtype=w.float32, shape=[30, 40],
                     chunk_layout=w.ChunkLayout(chunk_shape=[8, 16])).result()
    created.write(data).result()
    created[2:5, 3:9] = 7
    expected = data.copy()
    expected[2:5, 3:9] = 7
    reader = r.open({"driver": driver, "kvstore": kvstore}).result()
    np.testing.assert_array_equal(reader.read().result(), expected)
    mine = ts.open({"driver": driver, "kvstore": kvstore}).result()
    with pytest.raises(NotImplementedError, match="^S3 URL syntax not supported with explicit endpoint$"):
        mine.kvstore.url
    assert mine.spec().to_json()["kvstore"] == ref.open({"driver": driver, "kvstore": kvstore}).result().spec().to_json()["kvstore"]
    # Auto-detection over s3.
    np.testing.assert_array_equal(ts.open(kvstore).result().read().result(), expected)


# -- endpoint, region, headers, credentials ------------------------------------------------------


def test_region_discovery_and_signing_scope(moto, s3_proxy, prefix):
    moto.client.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, bucket="eu-bucket")).result()
    store["k"] = b"v"
    assert store["k"] == b"v"
    (m0, p0, h0), (m1, _p1, h1), (_m2, _p2, h2) = s3_proxy.requests
    # One unsigned HEAD of the bucket finds the region; requests are signed for it.
    assert (m0, p0) == ("HEAD", "/eu-bucket") and "Authorization" not in h0 and "authorization" not in h0
    assert m1 == "PUT" and "/eu-west-1/s3/aws4_request" in h1["Authorization"]
    assert "/eu-west-1/s3/aws4_request" in h2["Authorization"]
    s3_proxy.reset()
    pinned = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, bucket="eu-bucket", aws_region="eu-west-1")).result()
    assert pinned["k"] == b"v"
    assert [m for m, _p, _h in s3_proxy.requests] == ["GET"]


def test_host_header_requester_pays_and_anonymous(s3_proxy, prefix):
    # moto reads the bucket from a virtual-host name, so the stand-in host name is "localhost".
    host = f"localhost:{s3_proxy.upstream_port}"
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, host_header=host, requester_pays=True,
                                    aws_credentials={"type": "anonymous"})).result()
    store["k"] = b"v"
    assert [m for m, _p, _h in s3_proxy.requests] == ["HEAD", "PUT"]
    for _m, _p, headers in s3_proxy.requests:
        assert headers["Host"] == host
    for _m, _p, headers in s3_proxy.requests[1:]:
        assert headers["x-amz-request-payer"] == "requester"
        assert "Authorization" not in headers and "x-amz-date" in headers
    with pytest.raises(ValueError, match='"host_header" cannot be set without also setting "endpoint"'):
        ts.KvStore.open({"driver": "s3", "bucket": BUCKET, "host_header": "x"}).result()
    with pytest.raises(ValueError, match="Endpoint ftp://x has invalid scheme ftp. Should be http"):
        ts.KvStore.open({"driver": "s3", "bucket": BUCKET, "endpoint": "ftp://x"}).result()


def test_environment_and_profile_credentials(s3_proxy, prefix, tmp_path, monkeypatch):
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_credentials={"type": "environment"})).result()
    store["k"] = b"v"
    assert "Credential=testing/" in s3_proxy.requests[-1][2]["Authorization"]
    assert s3_proxy.requests[-1][2]["X-Amz-Security-Token"] == "testing-token"
    creds = tmp_path / "credentials"
    creds.write_text("[other]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = s\n")
    s3_proxy.reset()
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_credentials={
        "type": "profile", "profile": "other", "credentials_file": str(creds), "config_file": str(tmp_path / "none")})).result()
    assert store["k"] == b"v"
    assert "Credential=PROFILEKEY/" in s3_proxy.requests[-1][2]["Authorization"]
    # default: the standard chain, here the profile named by AWS_PROFILE in the files named by
    # the environment.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "other")
    s3_proxy.reset()
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_credentials={"type": "default"})).result()
    assert store["k"] == b"v"
    assert "Credential=PROFILEKEY/" in s3_proxy.requests[-1][2]["Authorization"]


def test_ecs_credentials_from_a_container_endpoint(s3_proxy, prefix, tmp_path):
    """A loopback stand-in for the ECS container credentials service."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"AccessKeyId": "ECSKEY", "SecretAccessKey": "s", "Token": "t",
                               "Expiration": "2100-01-01T00:00:00Z"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        token = tmp_path / "token"
        token.write_text("secret-token")
        store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_credentials={
            "type": "ecs", "endpoint": f"http://127.0.0.1:{httpd.server_address[1]}/creds", "auth_token_file": str(token)})).result()
        store["k"] = b"v"
        assert "Credential=ECSKEY/" in s3_proxy.requests[-1][2]["Authorization"]
        assert seen == ["secret-token"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_imds_credentials_from_a_metadata_service(s3_proxy, prefix, monkeypatch):
    """A loopback stand-in for the EC2 instance metadata service (IMDSv2: token, role, keys)."""
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            paths.append(("PUT", self.path))
            self._answer(b"imds-token")

        def do_GET(self):
            paths.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
            if self.path.endswith("/security-credentials/"):
                self._answer(b"the-role")
            else:
                self._answer(json.dumps({"Code": "Success", "AccessKeyId": "IMDSKEY", "SecretAccessKey": "s",
                                         "Token": "t", "Expiration": "2100-01-01T00:00:00Z"}).encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}/")
        store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_credentials={"type": "imds"})).result()
        store["k"] = b"v"
        assert "Credential=IMDSKEY/" in s3_proxy.requests[-1][2]["Authorization"]
        assert paths[0] == ("PUT", "/latest/api/token")
        assert ("GET", "/latest/meta-data/iam/security-credentials/the-role", "imds-token") in paths
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_missing_etag_is_reported_in_plain_words(s3_proxy, prefix):
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix)).result()
    store["k"] = b"v"
    s3_proxy.reset(["strip:ETag"])
    with pytest.raises(ValueError, match="^DATA_LOSS: The S3 server sent no ETag header with the value of .*no usable generation"):
        store.read("k").result()
    s3_proxy.reset(["pass", "strip:ETag"])  # the PUT's answer (after the peek) lacks the ETag
    with pytest.raises(ValueError, match="no usable generation"):
        store.write("k2", b"w", if_equal=b"\x02").result()


def test_large_values_both_ways(moto, prefix):
    mine, theirs = both(s3_spec(moto.url, prefix))
    big = os.urandom(6 << 20)
    stamp = mine.write("big", big).result()
    got = theirs.read("big").result()
    assert got.value == big and got.stamp.generation == stamp.generation
    theirs.write("big2", big[::-1]).result()
    assert mine.read("big2").result().value == big[::-1]
    assert mine.read("big2", byte_range=slice(1 << 20, (1 << 20) + 10)).result().value == big[::-1][1 << 20 : (1 << 20) + 10]


@pytest.mark.parametrize("endpoint,expected", [
    ("https://s3.amazonaws.com", True), ("https://s3.us-west-2.amazonaws.com", True),
    ("https://bucket.s3.eu-west-1.amazonaws.com/x", True), ("http://s3-fips.dualstack.us-east-1.amazonaws.com", True),
    ("http://127.0.0.1:9000", False), ("https://storage.googleapis.com", False), ("https://s3.example.com", False),
    ("https://notamazonaws.com", False), ("", False),
])
def test_aws_endpoint_heuristic(endpoint, expected):
    from tensorstore_py.kvstore.s3.driver import is_aws_endpoint

    assert is_aws_endpoint(endpoint) is expected


def test_pickled_store_reopens(moto, prefix):
    import pickle

    store = ts.KvStore.open(s3_spec(moto.url, prefix, s3_request_retries={"max_retries": 2}, aws_credentials={"type": "environment"})).result()
    store["k"] = b"v"
    again = pickle.loads(pickle.dumps(store))
    assert repr(again) == repr(store) and again["k"] == b"v"


@pytest.mark.parametrize("url", ["s3://bucket/p/|zarr2:", "s3://bucket/p/|n5:", "s3://bucket/p/", "s3://bucket/a%20b/|zarr2:"])
def test_tensorstore_url_pipelines_match_reference(url):
    assert ts.Spec(url).to_json() == ref.Spec(url).to_json()


def test_explicit_provider_without_credentials_is_an_error(s3_proxy, prefix, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for kind in ("environment", "profile"):
        store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_region="us-east-1", aws_credentials={"type": kind})).result()
        with pytest.raises(ValueError, match=f"^INTERNAL: Failed to get credentials from provider: the {kind} provider found no AWS credentials$"):
            store.read("k").result()
    # The default chain finding nothing means unsigned requests, as in tensorstore.
    s3_proxy.reset()
    store = ts.KvStore.open(s3_spec(s3_proxy.url, prefix, aws_region="us-east-1", aws_credentials={"type": "default"})).result()
    store.read("k").result()
    assert "Authorization" not in s3_proxy.requests[-1][2]
