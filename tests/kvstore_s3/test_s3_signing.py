"""Request signing: the driver's SigV4 signatures are botocore's own, byte for byte."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest

from tensorstore_py.context import Context
from tensorstore_py.kvstore.s3.credentials import EMPTY_SHA256, Signer


@pytest.mark.parametrize("method,body", [("GET", None), ("HEAD", None), ("PUT", b"hello" * 1000), ("DELETE", None)])
def test_signature_is_botocores(monkeypatch, method, body):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "TOKEN")
    fixed = datetime.datetime(2026, 12, 6, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: fixed)
    resource = Context().get_resource("aws_credentials", {"type": "environment"})
    url = "http://127.0.0.1:9000/bucket/some/key%20x/0.0.0?list-type=2&prefix=a%2F"
    base = {"User-Agent": "x", "Content-Type": "application/octet-stream", "If-Match": '"abc"'}
    mine = dict(base)
    Signer(resource, "eu-west-1").authorize(method, url, mine, body)
    request = AWSRequest(method=method, url=url, headers=dict(base), data=body or b"")
    botocore.auth.S3SigV4Auth(resource.frozen(), "s3", "eu-west-1").add_auth(request)
    for name in ("Authorization", "X-Amz-Content-SHA256", "X-Amz-Date", "X-Amz-Security-Token"):
        assert mine[name] == request.headers[name]
    assert "SignedHeaders=content-type;host;if-match;x-amz-content-sha256;x-amz-date;x-amz-security-token" in mine["Authorization"]


def test_anonymous_requests_carry_date_and_hash():
    resource = Context().get_resource("aws_credentials", {"type": "anonymous"})
    headers: dict[str, str] = {}
    Signer(resource, "us-east-1").authorize("GET", "http://h/b/k", headers, None)
    assert set(headers) == {"x-amz-date", "x-amz-content-sha256"} and headers["x-amz-content-sha256"] == EMPTY_SHA256
