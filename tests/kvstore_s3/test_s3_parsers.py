"""Property tests for what the HTTP layer and the s3 driver parse from servers: list pages,
error documents, Content-Range headers and generations.  Random or corrupt input gives a clear
error or a well-formed result, never a crash or a hang."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py.errors import StatusError
from tensorstore_py.kvstore import http_transport
from tensorstore_py.kvstore.http import etag_generation, last_modified_generation
from tensorstore_py.kvstore.s3.driver import _parse_list_page, status_from_response

LIST_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>b</Name><IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>"
    b"<Contents><Key>a/1</Key></Contents><Contents><Key>a/2</Key></Contents></ListBucketResult>"
)


def test_list_page():
    assert _parse_list_page(LIST_PAGE) == (["a/1", "a/2"], "tok")
    last = LIST_PAGE.replace(b"<IsTruncated>true", b"<IsTruncated>false")
    assert _parse_list_page(last) == (["a/1", "a/2"], "")
    with pytest.raises(StatusError, match="truncated but has no continuation token"):
        _parse_list_page(LIST_PAGE.replace(b"<NextContinuationToken>tok</NextContinuationToken>", b""))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.integers(0, len(LIST_PAGE)).map(lambda n: LIST_PAGE[:n]))
def test_list_page_corrupt_bytes(data):
    try:
        names, token = _parse_list_page(data)
    except StatusError as exc:
        assert exc.code == "INTERNAL"
    else:
        assert all(isinstance(n, str) for n in names) and isinstance(token, str)


@settings(max_examples=300, deadline=None)
@given(status=st.integers(100, 599), body=st.binary(max_size=400), request_id=st.none() | st.text(max_size=20))
def test_error_documents(status, body, request_id):
    headers = {} if request_id is None else {"x-amzn-requestid": request_id}
    error = status_from_response(http_transport.HttpResponse(status, headers, body))
    if 200 <= status < 300:
        assert error is None
    else:
        assert isinstance(error, StatusError) and f"[http_response_code='{status}']" in error.message


@settings(max_examples=300, deadline=None)
@given(value=st.none() | st.text(max_size=40) | st.from_regex(r"bytes [0-9]{1,4}-[0-9]{1,4}/([0-9]{1,4}|\*)", fullmatch=True))
def test_content_range(value):
    try:
        start, stop, total = http_transport.parse_content_range(value)
    except StatusError as exc:
        assert exc.code == "FAILED_PRECONDITION" and "Content-Range" in exc.message
    else:
        assert 0 <= start < stop and (total == -1 or stop <= total)


@settings(max_examples=200, deadline=None)
@given(header=st.none() | st.text(max_size=30) | st.text(max_size=30).map(lambda t: f'"{t}"'))
def test_http_generations(header):
    g = etag_generation(header)
    if header is not None and len(header) > 2 and header[0] == header[-1] == '"':
        assert g == b"\x00" + header[1:-1].encode("latin-1", "replace")
    else:
        assert g is None
    lm = last_modified_generation(header)
    assert lm is None or lm.startswith(b"\x00\x01Last-Modified:")
    assert last_modified_generation("Sun, 06 Dec 2026 16:27:51 GMT") == b"\x00\x01Last-Modified:Sun, 06 Dec 2026 16:27:51 GMT"
