"""Faults between client and S3 server: 503s, 429s, 500s, resets, truncated bodies, delays,
412s the server sends, and an exhausted retry budget, with moto behind the fault proxy.

Retries use millisecond delays (`FAST_RETRIES`, 3 retries).  Failed writes must leave the old
object intact: S3 makes an object visible only once its whole body has arrived.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore as ref
import tensorstore_py as ts
from s3_testing import BUCKET, FAST_RETRIES, s3_spec

TRANSIENT = ["status:503", "status:429", "status:500", "status:408", "reset", "truncate"]


def open_pair(url: str, prefix: str, **members):
    spec = s3_spec(url, prefix, s3_request_retries=FAST_RETRIES, aws_region="us-east-1", **members)
    return ts.KvStore.open(spec).result(), ref.KvStore.open(spec).result()


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_faults_are_retried(s3_proxy, prefix, fault):
    mine, _theirs = open_pair(s3_proxy.url, prefix)
    s3_proxy.reset([fault, fault])
    stamp = mine.write("k", b"value" * 100).result()
    assert stamp.generation
    # A PUT's reply has no body, so "truncate" leaves nothing to cut.
    assert len(s3_proxy.requests) == (1 if fault == "truncate" else 3)
    s3_proxy.reset([fault, fault])
    got = mine.read("k").result()
    assert got.value == b"value" * 100 and got.stamp.generation == stamp.generation
    assert len(s3_proxy.requests) == 3
    s3_proxy.reset([fault])
    assert mine.list().result() == [b"k"]
    s3_proxy.reset([fault, fault])
    assert mine.write("k", b"new", if_equal=stamp.generation).result().generation
    s3_proxy.reset([fault, fault, fault])
    assert mine.write("k", None).result().generation == b"\x02"


@pytest.mark.parametrize("fault", ["status:503", "status:429", "reset"])
def test_retry_budget_exhausted_matches_reference(s3_proxy, moto, prefix, fault):
    mine, theirs = open_pair(s3_proxy.url, prefix)
    mine["k"] = b"old"
    for store in (mine, theirs):
        s3_proxy.reset(default=fault)
        for op in (lambda: store.read("k").result(), lambda: store.write("k", b"new" * 1000).result(), lambda: store.list().result()):
            with pytest.raises(ValueError) as info:
                op()
            assert str(info.value).startswith("ABORTED: All 3 retry attempts failed: ")
        # One first attempt plus three retries per operation.
        assert len(s3_proxy.requests) == 12
    s3_proxy.reset()
    assert moto.objects(BUCKET, prefix) == {prefix + "k": b"old"}  # no partial or new object


def test_exhausted_message_names_the_s3_error(s3_proxy, prefix):
    mine, theirs = open_pair(s3_proxy.url, prefix)
    for store in (mine, theirs):
        s3_proxy.reset(default="status:503")
        with pytest.raises(ValueError) as info:
            store.read("k").result()
        message = str(info.value)
        assert message.startswith("ABORTED: All 3 retry attempts failed: Injected503: injected 503 [")
        assert "[http_response_code='503']" in message


@pytest.mark.parametrize("code,status", [(403, "PERMISSION_DENIED"), (401, "PERMISSION_DENIED"), (400, "INVALID_ARGUMENT")])
def test_permanent_errors_are_not_retried(s3_proxy, prefix, code, status):
    mine, theirs = open_pair(s3_proxy.url, prefix)
    for store in (mine, theirs):
        s3_proxy.reset(default=f"status:{code}")
        with pytest.raises(ValueError) as info:
            store.write("k", b"v").result()
        expected = f"Injected{code}: injected {code}"
        if status != "INVALID_ARGUMENT":
            expected = f"{status}: {expected}"
        assert str(info.value).startswith(expected + " [")
        assert len(s3_proxy.requests) == 1


def test_truncated_response_never_returns_partial_value(s3_proxy, prefix):
    mine, _theirs = open_pair(s3_proxy.url, prefix)
    value = bytes(range(256)) * 40
    mine["k"] = value
    s3_proxy.reset(default="truncate")
    with pytest.raises(ValueError, match="^ABORTED: All 3 retry attempts failed"):
        mine.read("k").result()
    s3_proxy.reset(["truncate", "truncate"])
    assert mine.read("k").result().value == value


def test_reset_before_upload_leaves_old_value(s3_proxy, moto, prefix):
    mine, _theirs = open_pair(s3_proxy.url, prefix)
    mine["k"] = b"old"
    s3_proxy.reset(default="reset")
    with pytest.raises(ValueError):
        mine.write("k", b"new" * 100000).result()
    s3_proxy.reset()
    assert moto.objects(BUCKET, prefix)[prefix + "k"] == b"old"


def test_lost_reply_to_conditional_write(s3_proxy, prefix):
    """The write landed but its reply was lost: the retry's condition fails, reported as a
    skipped write (as TensorStore reports it); the value is the one written."""
    mine, _theirs = open_pair(s3_proxy.url, prefix, use_conditional_write=True)
    stamp = mine.write("k", b"v1").result()
    s3_proxy.reset(["reset_after"])
    assert mine.write("k", b"v2", if_equal=stamp.generation).result().generation == b""
    assert mine["k"] == b"v2"


@pytest.mark.parametrize("conditional", [None, True, False])
def test_server_412_and_304_answers(s3_proxy, prefix, conditional):
    """A server answering 412 / 304 (the request layer's view, whatever moto decides)."""
    extra = {} if conditional is None else {"use_conditional_write": conditional}
    mine, theirs = open_pair(s3_proxy.url, prefix, **extra)
    mine["k"] = b"v"
    generation = mine.read("k").result().stamp.generation
    for store in (mine, theirs):
        s3_proxy.reset(["status:412"])
        assert store.write("k", b"new", if_equal=generation).result().generation == b""
        s3_proxy.reset(["status:304"])
        got = store.read("k", if_not_equal=generation).result()
        assert (got.state, got.stamp.generation) == ("unspecified", generation)
        s3_proxy.reset(["status:412"])
        assert store.write("k", None, if_equal=generation).result().generation == b""
    assert mine["k"] == b"v"


def test_read_timeout_is_retried(s3_proxy, prefix):
    mine, _theirs = open_pair(s3_proxy.url, prefix)
    mine["k"] = b"v"
    mine.driver.client.read_timeout = 0.5
    try:
        s3_proxy.reset(["delay:1.5"])
        assert mine["k"] == b"v"
        assert len(s3_proxy.requests) == 2
        s3_proxy.reset(default="delay:1.5")
        with pytest.raises(ValueError, match="HTTP request timed out"):
            mine.read("k").result()
    finally:
        mine.driver.client.read_timeout = 120.0


def test_connection_refused_is_unavailable_then_aborted(prefix):
    mine = ts.KvStore.open(s3_spec("http://127.0.0.1:9", prefix, s3_request_retries={"max_retries": 1, "initial_delay": "1ms"})).result()
    with pytest.raises(ValueError, match=r"^ABORTED: All 1 retry attempts failed: HTTP request failed"):
        mine.read("k").result()


def test_array_write_through_faults_is_whole(s3_proxy, moto, prefix):
    """A zarr array written while every other request fails once: complete and readable by
    tensorstore."""
    # Concurrent requests share the plan, so one may meet several faults in a row: a larger budget.
    retries = {"max_retries": 12, "initial_delay": "1ms", "max_delay": "4ms"}
    spec = {"driver": "zarr", "kvstore": s3_spec(s3_proxy.url, prefix, s3_request_retries=retries)}
    data = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    s3_proxy.reset(["status:503", "pass", "reset", "pass", "status:429", "pass"] * 20)
    store = ts.open(spec, create=True, dtype=ts.uint16, shape=[64, 64], chunk_layout=ts.ChunkLayout(chunk_shape=[16, 16])).result()
    store.write(data).result()
    s3_proxy.reset()
    np.testing.assert_array_equal(ref.open(spec).result().read().result(), data)


def test_concurrency_limit_bounds_requests_in_flight(moto, prefix):
    from fault_proxy import FaultProxy
    from s3_testing import s3_error_body

    proxy = FaultProxy(moto.port, default="delay:0.02", error_body=s3_error_body).start()
    try:
        store = ts.KvStore.open(s3_spec(proxy.url, prefix, aws_region="us-east-1", s3_request_concurrency={"limit": 4})).result()
        for f in [store.write(f"k{i}", b"v") for i in range(24)]:
            f.result()
        assert 2 <= proxy.peak <= 4
    finally:
        proxy.stop()
