"""The HTTP layer of the ``gcs`` driver: connection pool, credentials, status mapping, retries.

`HttpClient` is one urllib3 connection pool per ``gcs_request_concurrency`` resource, sized to
its limit, so connections are reused across requests and never outnumber the workers.
`send` issues one logical request: it retries transient failures (HTTP 408/409/429/5xx,
dropped connections, timeouts) with the context's backoff policy and turns every other outcome
into either an `HttpResponse` the caller asked to see (e.g. 404, 412) or a `StatusError` whose
code and message follow TensorStore's (``PERMISSION_DENIED: ... [http_response_code='403']``,
``ABORTED: All 32 retry attempts failed: ...``).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import urllib.parse
from typing import Any, Callable, Iterable

import urllib3
import urllib3.exceptions

from ...errors import StatusError, aborted
from .resources import RetryPolicy

__all__ = [
    "HttpClient", "HttpResponse", "Credentials", "endpoint", "send", "status_from_response",
    "encode_component", "RETRIABLE_CODES", "DEFAULT_ENDPOINT",
]  # fmt: skip

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
#: status codes TensorStore's gcs driver retries
RETRIABLE_CODES = frozenset({"DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"})

_USER_AGENT = "tensorstore_py"


def endpoint() -> tuple[str, bool]:
    """``(base_url, is_emulator)``: ``TENSORSTORE_GCS_HTTP_URL`` (TensorStore's variable), then
    ``STORAGE_EMULATOR_HOST`` (google-cloud-storage's, ``host:port`` or a URL), then GCS."""
    url = os.environ.get("TENSORSTORE_GCS_HTTP_URL")
    if url:
        return url.rstrip("/"), True
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if host:
        if "://" not in host:
            host = "http://" + host
        return host.rstrip("/"), True
    return DEFAULT_ENDPOINT, False


def encode_component(text: str) -> str:
    """Percent-encodes an object name or query value as TensorStore does (RFC 3986 unreserved
    characters and ``!*'()`` stay as they are)."""
    return urllib.parse.quote(text, safe="!*'()")


# ---------------------------------------------------------------------------------------------
# Responses and status mapping.


class HttpResponse:
    """Status, lower-cased headers and the complete body of one HTTP exchange."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {self.headers!r}, {self.body[:64]!r})"


# HTTP status -> TensorStore status code (as TensorStore's HTTP layer maps them).
_HTTP_CODES: dict[int, str] = {
    400: "INVALID_ARGUMENT", 411: "INVALID_ARGUMENT",
    401: "PERMISSION_DENIED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 410: "NOT_FOUND",
    302: "FAILED_PRECONDITION", 303: "FAILED_PRECONDITION", 304: "FAILED_PRECONDITION",
    307: "FAILED_PRECONDITION", 412: "FAILED_PRECONDITION", 413: "FAILED_PRECONDITION",
    416: "OUT_OF_RANGE",
    308: "UNAVAILABLE", 408: "UNAVAILABLE", 409: "UNAVAILABLE", 429: "UNAVAILABLE",
    500: "UNAVAILABLE", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "UNAVAILABLE",
}  # fmt: skip


def _c_escape(data: bytes) -> str:
    out = []
    for b in data:
        ch = chr(b)
        if ch in "\"'\\":
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}.get(b, f"\\{b:03o}"))
    return "".join(out)


def status_from_response(response: HttpResponse) -> StatusError | None:
    """The error a response stands for (None for success), with GCS's JSON error message."""
    status = response.status
    code = _HTTP_CODES.get(status, "OK" if status < 300 else "UNKNOWN")
    if code == "OK":
        return None
    message = None
    try:
        parsed = json.loads(response.body)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
    except (ValueError, UnicodeDecodeError):
        pass
    if message is None:
        clipped = response.body[:256]
        joiner = " with body (clipped): " if len(response.body) > 256 else " with body: "
        message = f"HTTP response code: {status}{joiner}{clipped.decode('utf-8', 'replace')}"
    body = _c_escape(response.body[:256])
    return StatusError(code, f"{message} [http_response_code='{status}'] [http_response_body='{body}']")


# ---------------------------------------------------------------------------------------------
# Credentials.


class Credentials:
    """Application default credentials when available, anonymous otherwise.

    Looked up once, lazily (so opening a store never touches the network); tokens are refreshed
    under a lock when they expire.
    """

    _SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"

    def __init__(self, anonymous: bool = False):
        self._anonymous = anonymous
        self._credentials: Any = None
        self._resolved = anonymous
        self._lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header to send (empty for anonymous access)."""
        if self._anonymous:
            return {}
        with self._lock:
            if not self._resolved:
                self._credentials = _default_credentials(self._SCOPE)
                self._resolved = True
            creds = self._credentials
            if creds is None:
                return {}
            if not creds.valid:
                try:
                    import google.auth.transport.requests

                    creds.refresh(google.auth.transport.requests.Request())
                except Exception as exc:  # any refresh failure is an authentication failure
                    raise StatusError("UNAUTHENTICATED", f"Failed to refresh GCS credentials: {exc}") from None
            return {"Authorization": f"Bearer {creds.token}"}


def _default_credentials(scope: str) -> Any:
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:  # pragma: no cover - google-auth is a dependency of the driver
        return None
    try:
        creds, _project = google.auth.default(scopes=[scope])
    except google.auth.exceptions.DefaultCredentialsError:
        return None
    return creds


_shared_credentials: dict[bool, Credentials] = {}
_credentials_lock = threading.Lock()


def shared_credentials(anonymous: bool) -> Credentials:
    """One credentials object per process (per kind), as TensorStore shares its auth provider."""
    with _credentials_lock:
        creds = _shared_credentials.get(anonymous)
        if creds is None:
            creds = _shared_credentials[anonymous] = Credentials(anonymous)
        return creds


# ---------------------------------------------------------------------------------------------
# The client.


class HttpClient:
    """A pooled HTTP client; `max_connections` matches the request concurrency limit."""

    def __init__(self, max_connections: int, connect_timeout: float = 30.0, read_timeout: float = 120.0):
        self.max_connections = max(1, min(int(max_connections), 1024))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._pool = urllib3.PoolManager(
            num_pools=16, maxsize=self.max_connections, block=False, retries=False
        )

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> HttpResponse:
        """One exchange; transport failures raise urllib3 errors (the caller retries them)."""
        timeout = urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
        response = self._pool.urlopen(
            method,
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
            decode_content=True,
        )
        try:
            # urllib3 enforces Content-Length: a body cut short raises ProtocolError, which the
            # retry loop treats as a dropped connection rather than returning truncated bytes.
            data = response.read()
        finally:
            response.release_conn()
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        return HttpResponse(response.status, headers_out, data)

    def close(self) -> None:
        self._pool.clear()


def _transport_status(exc: Exception) -> StatusError:
    # NewConnectionError derives from ConnectTimeoutError, but a refused connection is no timeout.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return StatusError("UNAVAILABLE", f"HTTP request failed: {exc}")
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return StatusError("DEADLINE_EXCEEDED", f"HTTP request timed out: {exc}")
    return StatusError("UNAVAILABLE", f"HTTP request failed: {exc}")


_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, OSError)


def send(
    client: HttpClient,
    policy: RetryPolicy,
    credentials: Credentials,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    passthrough: Iterable[int] = (),
    cache_bust: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[HttpResponse, float]:
    """Issues a request with retries; returns the final response and when its attempt started.

    Responses with a status in `passthrough` (and 2xx) are returned for the caller to
    interpret; other failures raise.  Transient failures are retried per `policy`, then raise
    ``ABORTED: All N retry attempts failed: ...``.  With `cache_bust`, every attempt carries a
    fresh random ``tensorstore=`` query parameter, as TensorStore adds to defeat caches.
    """
    allowed = frozenset(passthrough)
    attempt = 0
    while True:
        request_headers = {"User-Agent": _USER_AGENT}
        request_headers.update(credentials.headers())
        if headers:
            request_headers.update(headers)
        attempt_url = url
        if cache_bust:
            attempt_url += ("&" if "?" in url else "?") + "tensorstore=" + secrets.token_hex(16)
        started = time.time()
        try:
            response = client.request(method, attempt_url, request_headers, body)
        except _TRANSPORT_ERRORS as exc:
            error = _transport_status(exc)
        else:
            if response.status in allowed:
                return response, started
            maybe_error = status_from_response(response)
            if maybe_error is None:
                return response, started
            error = maybe_error
        if error.code not in RETRIABLE_CODES:
            raise error
        delay = policy.delay(attempt)
        if delay is None:
            raise aborted(f"All {policy.max_retries} retry attempts failed: {error.message}")
        attempt += 1
        # The worker keeps its concurrency slot while it waits, as TensorStore's admission
        # queue keeps a retried request admitted.
        sleep(delay)
