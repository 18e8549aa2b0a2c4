"""Faults between client and server: 503s, 429s, resets, truncated bodies, delays, 412/304.

The emulator sits behind `FaultProxy`; retries use millisecond delays (`FAST_RETRIES`, 3
retries) so the budget is spent quickly.
"""

from __future__ import annotations

import pytest

import tensorstore as ref
import tensorstore_py as ts
from gcs_testing import BUCKET, FAST_RETRIES, gcs_spec
from tensorstore_py.kvstore.gcs import http
from tensorstore_py.kvstore.gcs.resources import RetryPolicy

TRANSIENT = ["status:503", "status:429", "status:500", "status:408", "reset", "truncate"]


def open_pair(prefix: str, **members):
    spec = gcs_spec(prefix, gcs_request_retries=FAST_RETRIES, **members)
    return ts.KvStore.open(spec).result(), ref.KvStore.open(spec).result()


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_faults_are_retried(proxy, prefix, fault):
    mine, _theirs = open_pair(prefix)
    proxy.reset([fault, fault])
    stamp = mine.write("k", b"value").result()
    assert stamp.generation
    assert len(proxy.requests) == 3
    proxy.reset([fault, fault])
    got = mine.read("k").result()
    assert got.value == b"value" and got.stamp.generation == stamp.generation
    proxy.reset([fault])
    assert mine.list().result() == [b"k"]
    proxy.reset([fault, fault, fault])
    assert mine.write("k", None).result().generation == b"\x02"
    # A delete's reply has no body, so "truncate" leaves nothing to cut.
    assert len(proxy.requests) == (1 if fault == "truncate" else 4)


@pytest.mark.parametrize("fault", ["status:503", "status:429", "reset"])
def test_retry_budget_exhausted(proxy, prefix, fault):
    mine, theirs = open_pair(prefix)
    mine["k"] = b"old"
    for store in (mine, theirs):
        proxy.reset(default=fault)
        for op in (lambda: store.read("k").result(), lambda: store.write("k", b"new").result(), lambda: store.list().result()):
            with pytest.raises(ValueError) as info:
                op()
            assert str(info.value).startswith("ABORTED: All 3 retry attempts failed: ")
        # One first attempt plus three retries per operation.
        assert len(proxy.requests) == 12
    proxy.reset()
    assert mine["k"] == b"old"  # the failed writes left the old value intact


def test_exhausted_message_matches_reference(proxy, prefix):
    mine, theirs = open_pair(prefix)
    messages = []
    for store in (mine, theirs):
        proxy.reset(default="status:503")
        with pytest.raises(ValueError) as info:
            store.read("k").result()
        messages.append(str(info.value))
    # The two libraries print the same status, message and payloads (payload order may differ).
    for message in messages:
        assert message.startswith("ABORTED: All 3 retry attempts failed: injected 503 [")
        assert "[http_response_code='503']" in message
        assert "[http_response_body='{\\\"error\\\": {\\\"code\\\": 503, \\\"message\\\": \\\"injected 503\\\"}}']" in message


@pytest.mark.parametrize("code,status", [(403, "PERMISSION_DENIED"), (401, "PERMISSION_DENIED"), (400, "INVALID_ARGUMENT")])
def test_permanent_errors_are_not_retried(proxy, prefix, code, status):
    mine, theirs = open_pair(prefix)
    for store in (mine, theirs):
        proxy.reset(default=f"status:{code}")
        with pytest.raises(ValueError) as info:
            store.write("k", b"v").result()
        # INVALID_ARGUMENT prints without its code, as every TensorStore error does.
        expected = f"injected {code}" if status == "INVALID_ARGUMENT" else f"{status}: injected {code}"
        assert str(info.value).startswith(expected + " [http_response_")
        assert len(proxy.requests) == 1


def test_truncated_response_never_returns_partial_value(proxy, prefix):
    mine, _theirs = open_pair(prefix)
    value = bytes(range(256)) * 40
    mine["k"] = value
    proxy.reset(default="truncate")
    with pytest.raises(ValueError, match="^ABORTED: All 3 retry attempts failed"):
        mine.read("k").result()
    proxy.reset(["truncate", "truncate"])
    assert mine.read("k").result().value == value


def test_reset_before_upload_leaves_old_value(proxy, emulator, prefix):
    mine, _theirs = open_pair(prefix)
    mine["k"] = b"old"
    proxy.reset(default="reset")
    with pytest.raises(ValueError):
        mine.write("k", b"new" * 1000).result()
    assert emulator.objects(BUCKET)[prefix + "k"] == b"old"


def test_reset_after_upload_is_retried_idempotently(proxy, prefix):
    mine, _theirs = open_pair(prefix)
    proxy.reset(["reset_after"])
    stamp = mine.write("k", b"v1").result()
    assert mine.read("k").result().stamp.generation == stamp.generation
    # A conditional write whose success reply was lost: the retry's precondition fails, which
    # is reported as a skipped write, exactly as TensorStore reports it.
    proxy.reset(["reset_after"])
    assert mine.write("k", b"v2", if_equal=stamp.generation).result().generation == b""
    assert mine["k"] == b"v2"


def test_read_timeout_is_retried(proxy, prefix):
    mine, _theirs = open_pair(prefix)
    mine["k"] = b"v"
    mine.driver.client.read_timeout = 0.2
    try:
        proxy.reset(["delay:0.6"])
        assert mine["k"] == b"v"
        assert len(proxy.requests) == 2
        proxy.reset(default="delay:0.6")
        with pytest.raises(ValueError, match="HTTP request timed out"):
            mine.read("k").result()
    finally:
        mine.driver.client.read_timeout = 120.0


def test_connection_refused_is_unavailable_then_aborted(monkeypatch, prefix, emulator):
    monkeypatch.setenv("TENSORSTORE_GCS_HTTP_URL", "http://127.0.0.1:9")
    mine = ts.KvStore.open(gcs_spec(prefix, gcs_request_retries={"max_retries": 1, "initial_delay": "1ms"})).result()
    with pytest.raises(ValueError, match=r"^ABORTED: All 1 retry attempts failed: HTTP request failed"):
        mine.read("k").result()


@pytest.mark.parametrize("code", [412, 304])
def test_precondition_answers(proxy, prefix, code):
    """A server answering 412 / 304 (the request layer's view, whatever the emulator does)."""
    mine, theirs = open_pair(prefix)
    mine["k"] = b"v"
    generation = mine.read("k").result().stamp.generation
    for store in (mine, theirs):
        proxy.reset([f"status:{code}"])
        assert store.write("k", b"new", if_equal=generation).result().generation == b""
        proxy.reset([f"status:{code}"])
        got = store.read("k", if_not_equal=generation).result()
        assert got.state == "unspecified"
        assert got.stamp.generation == (generation if code == 304 else b"")
    proxy.reset(["status:412"])
    assert mine.write("k", None, if_equal=generation).result().generation == b""
    assert mine["k"] == b"v"


def test_requests_carry_conditions(proxy, prefix):
    mine, _theirs = open_pair(prefix)
    proxy.reset()
    stamp = mine.write("a b", b"v", if_equal=b"\x02").result()
    number = int.from_bytes(stamp.generation[1:], "little")
    mine.read("a b", if_not_equal=stamp.generation).result()
    mine.write("a b", None, if_equal=stamp.generation).result()
    (m1, p1, h1), (m2, p2, h2), (m3, p3, _h3) = proxy.requests
    assert m1 == "POST" and "uploadType=media" in p1 and "ifGenerationMatch=0" in p1 and "name=" in p1
    assert h1["Content-Type"] == "application/octet-stream"
    assert m2 == "GET" and f"ifGenerationNotMatch={number}" in p2 and "alt=media" in p2 and "tensorstore=" in p2
    assert m3 == "DELETE" and f"ifGenerationMatch={number}" in p3 and "%20" in p3
    mine.read("x", byte_range=slice(3, 7)).result()
    assert proxy.requests[-1][2]["Range"] == "bytes=3-6"


def test_send_backoff_schedule():
    """The request layer sleeps per the policy between attempts, then gives up."""

    class Refusing:
        def request(self, *args):
            raise ConnectionResetError("reset by peer")

    waits: list[float] = []
    policy = RetryPolicy(4, 0.01, 0.05)
    with pytest.raises(ValueError, match="^ABORTED: All 4 retry attempts failed: HTTP request failed: reset by peer"):
        http.send(Refusing(), policy, http.Credentials(anonymous=True), "GET", "http://x/y", sleep=waits.append)
    assert len(waits) == 4
    for attempt, wait in enumerate(waits):
        assert min(0.01 * 2**attempt, 0.05) <= wait <= min(0.01 * 2**attempt + 0.01, 0.05)


def test_application_default_credentials_are_sent_and_refreshed(monkeypatch, proxy):
    """With credentials available (a stand-in here), requests carry a bearer token, refreshed
    when it expires; a failed refresh is UNAUTHENTICATED and not retried."""

    class FakeCredentials:
        def __init__(self):
            self.valid = False
            self.token = None
            self.refreshes = 0
            self.fail = False

        def refresh(self, _request):
            if self.fail:
                raise RuntimeError("token endpoint unreachable")
            self.refreshes += 1
            self.token = f"tok{self.refreshes}"
            self.valid = True

    fake = FakeCredentials()
    monkeypatch.setattr(http, "_default_credentials", lambda scope: fake)
    creds = http.Credentials(anonymous=False)
    client = http.HttpClient(2)
    policy = RetryPolicy(0, 0.001, 0.001)
    url = proxy.url + "/storage/v1/b/ts-bucket/o"
    http.send(client, policy, creds, "GET", url)
    http.send(client, policy, creds, "GET", url)
    assert [h.get("Authorization") for _m, _p, h in proxy.requests] == ["Bearer tok1", "Bearer tok1"]
    fake.valid = False
    http.send(client, policy, creds, "GET", url)
    assert proxy.requests[-1][2]["Authorization"] == "Bearer tok2" and fake.refreshes == 2
    fake.valid, fake.fail = False, True
    with pytest.raises(ValueError, match="^UNAUTHENTICATED: Failed to refresh GCS credentials"):
        http.send(client, policy, creds, "GET", url)
    assert len(proxy.requests) == 3
