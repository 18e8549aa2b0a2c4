"""The HTTP layer shared by the ``gcs``, ``http`` and ``s3`` kvstore drivers.

- `HttpClient`: one urllib3 connection pool per request-concurrency context resource
  (`client_for`), sized to the resource's limit, so connections are reused and never outnumber
  the workers that use them.  Request bodies are sent from the caller's buffer; response bodies
  are read to their announced length (a body cut short is a dropped connection, never a short
  value).
- `RetryPolicy` (`retry_policy` reads one from a ``*_request_retries`` resource): exponential
  backoff with jitter, as TensorStore's drivers compute it.
- `send`: one logical request with retries of transient failures (408/409/429/5xx, dropped
  connections, timeouts); other outcomes are either a response the caller asked to see (e.g.
  404, 412) or a `StatusError` whose code follows TensorStore's mapping of HTTP statuses
  (`status_code_for`) and whose message each service formats (`ErrorFormatter`).
- Byte ranges: `range_header` for requests, `validate_byte_range` for what came back.

Every call here blocks its (pool) thread: drivers run them on their concurrency resource's
executor and never wait on another future there.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from typing import Any, Callable, Iterable, Protocol

from .. import metrics
from ..context import parse_duration
from ..errors import StatusError, aborted, failed_precondition, out_of_range
from ..json_util import dumps

# urllib3 is imported by the first client made (`_urllib3`): a program that never talks HTTP
# does not pay for its import (a few hundredths of a second, a third of the objects this
# package's import makes).
_urllib3_module: Any = None


def _urllib3() -> Any:
    global _urllib3_module
    if _urllib3_module is None:
        import urllib3
        import urllib3.exceptions

        _urllib3_module = urllib3
    return _urllib3_module


__all__ = [
    "HttpClient", "HttpResponse", "RetryPolicy", "Authorizer", "ErrorFormatter", "send",
    "client_for", "retry_policy", "status_code_for", "c_escape", "http_status_error",
    "range_header", "validate_byte_range", "format_byte_range", "RETRIABLE_CODES", "SHARED_LIMIT",
    "parse_rate_limiter", "spec_json_settings_inline",
]  # fmt: skip

#: the process-wide request limit behind ``{"limit": "shared"}``
SHARED_LIMIT = 32
#: status codes TensorStore's HTTP drivers retry
RETRIABLE_CODES = frozenset({"DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"})

_USER_AGENT = "tensorstore_py"


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


def status_code_for(status: int) -> str:
    """TensorStore's status code for an HTTP status (``"OK"`` for success)."""
    return _HTTP_CODES.get(status, "OK" if 200 <= status < 300 else "UNKNOWN")


def c_escape(data: bytes) -> str:
    """C-style escaping of a byte string, as TensorStore prints response bodies in payloads."""
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


def http_status_error(code: str, message: str, response: HttpResponse, extra: str = "") -> StatusError:
    """An error for `response` with TensorStore's ``[http_response_code=...]`` payloads."""
    body = c_escape(response.body[:256])
    return StatusError(
        code, f"{message} [http_response_code='{response.status}']{extra} [http_response_body='{body}']"
    )


def default_message(response: HttpResponse) -> str:
    """``HTTP response code: N with body: ...`` (the body clipped at 256 bytes)."""
    clipped = response.body[:256]
    joiner = " with body (clipped): " if len(response.body) > 256 else " with body: "
    return f"HTTP response code: {response.status}{joiner}{clipped.decode('utf-8', 'replace')}"


class ErrorFormatter(Protocol):
    def __call__(self, response: HttpResponse) -> StatusError | None: ...


def generic_error(response: HttpResponse) -> StatusError | None:
    """The error a response stands for (None for success), with a service-neutral message."""
    code = status_code_for(response.status)
    if code == "OK":
        return None
    return http_status_error(code, default_message(response), response)


# ---------------------------------------------------------------------------------------------
# Retry policy.


class RetryPolicy:
    """Exponential backoff: attempt ``n`` (0-based) waits ``initial * 2**n`` plus a jitter of up
    to ``min(1s, initial)``, capped at ``max_delay``; ``max_retries`` retries follow the first
    attempt."""

    __slots__ = ("max_retries", "initial_delay", "max_delay")

    def __init__(self, max_retries: int = 32, initial_delay: float = 1.0, max_delay: float = 32.0):
        self.max_retries = max_retries
        self.initial_delay = initial_delay
        self.max_delay = max_delay

    def delay(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry number `attempt` + 1, or None when the budget is spent."""
        if attempt >= self.max_retries:
            return None
        delay = self.initial_delay * (1 << min(attempt, 63))
        jitter = min(1.0, self.initial_delay)
        if jitter >= 1e-6:
            delay += (rng or random).uniform(0.0, jitter)
        return min(delay, self.max_delay)

    def __repr__(self) -> str:
        return f"RetryPolicy({self.max_retries}, {self.initial_delay}, {self.max_delay})"


def retry_policy(resource: Any) -> RetryPolicy:
    """The `RetryPolicy` of a bound ``*_request_retries`` resource."""
    spec = resource.spec
    initial = parse_duration(spec["initial_delay"]) / 1e9 if "initial_delay" in spec else 1.0
    maximum = parse_duration(spec["max_delay"]) / 1e9 if "max_delay" in spec else 32.0
    return RetryPolicy(spec.get("max_retries", 32), initial, max(maximum, 0.0))


# ---------------------------------------------------------------------------------------------
# The client.


class HttpClient:
    """A pooled HTTP client; `max_connections` matches the request concurrency limit."""

    def __init__(self, max_connections: int, connect_timeout: float = 30.0, read_timeout: float = 120.0):
        self.max_connections = max(1, min(int(max_connections), 1024))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._urllib3 = urllib3 = _urllib3()
        self._pool = urllib3.PoolManager(num_pools=16, maxsize=self.max_connections, block=False, retries=False)

    def request(self, method: str, url: str, headers: dict[str, str], body: Any) -> HttpResponse:
        """One exchange; transport failures raise urllib3 errors (the caller retries them).

        `body` may be any bytes-like object; it is sent without a copy.
        """
        timeout = self._urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
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
            # A body of known length is read in one piece into one buffer.
            data = b"" if method == "HEAD" else response.read()
        finally:
            response.release_conn()
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        return HttpResponse(response.status, headers_out, data)

    def close(self) -> None:
        self._pool.clear()


_clients: dict[Any, HttpClient] = {}
_clients_lock = threading.Lock()


def client_for(resource: Any) -> HttpClient:
    """The `HttpClient` of a bound request-concurrency resource (``gcs_request_concurrency``,
    ``http_request_concurrency``, ``s3_request_concurrency``).

    One client per resource (a shared resource: one per process and provider), sized to the
    resource's limit and created on first use; a forked child gets its own.
    """
    pid = os.getpid()
    client = getattr(resource, "_http_client", None)
    if client is not None and client[0] == pid:
        return client[1]
    with _clients_lock:
        client = getattr(resource, "_http_client", None)
        if client is not None and client[0] == pid:
            return client[1]
        limit = resource.spec.get("limit", SHARED_LIMIT)
        if "limit" not in resource.spec:
            made = _clients.get((resource.provider.id, pid))
            if made is None:
                made = _clients[(resource.provider.id, pid)] = HttpClient(limit)
        else:
            made = HttpClient(limit)
        resource._http_client = (pid, made)
        return made


# ---------------------------------------------------------------------------------------------
# Sending with retries.


class Authorizer(Protocol):
    """Adds credentials to one attempt (called again for every retry: signatures are dated)."""

    def authorize(self, method: str, url: str, headers: dict[str, str], body: Any) -> None: ...


class Anonymous:
    """No credentials."""

    def authorize(self, method: str, url: str, headers: dict[str, str], body: Any) -> None:
        return None


ANONYMOUS = Anonymous()


def _transport_status(exc: Exception) -> StatusError:
    # NewConnectionError derives from ConnectTimeoutError, but a refused connection is no timeout.
    exceptions = _urllib3().exceptions
    if isinstance(exc, exceptions.NewConnectionError):
        return StatusError("UNAVAILABLE", f"HTTP request failed: {exc}")
    if isinstance(exc, exceptions.TimeoutError):
        return StatusError("DEADLINE_EXCEEDED", f"HTTP request timed out: {exc}")
    return StatusError("UNAVAILABLE", f"HTTP request failed: {exc}")


def _transport_errors() -> tuple:
    """What a client's exchange raises when the transport fails (urllib3's errors exist once a
    client, and so urllib3, does)."""
    return (_urllib3().exceptions.HTTPError, ConnectionError, OSError)


def send(
    client: HttpClient,
    policy: RetryPolicy,
    authorizer: Authorizer,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    passthrough: Iterable[int] = (),
    cache_bust: bool = False,
    error_from: ErrorFormatter = generic_error,
    sleep: Callable[[float], None] = time.sleep,
    limiters: "RateLimiters | None" = None,
) -> tuple[HttpResponse, float]:
    """Issues a request with retries; returns the final response and when its attempt started.

    Responses with a status in `passthrough` (and 2xx) are returned for the caller to
    interpret; other failures raise the error `error_from` makes of them.  Transient failures
    are retried per `policy`, then raise ``ABORTED: All N retry attempts failed: ...``.  With
    `cache_bust`, every attempt
    carries a fresh random ``tensorstore=`` query parameter, as TensorStore adds to defeat caches.
    """
    allowed = frozenset(passthrough)
    limiter = limiters.for_method(method) if limiters is not None else None
    attempt = 0
    while True:
        if limiter is not None:
            wait = limiter.reserve()
            if wait > 0:
                sleep(wait)
        request_headers = {"User-Agent": _USER_AGENT}
        if headers:
            request_headers.update(headers)
        attempt_url = url
        if cache_bust:
            attempt_url += ("&" if "?" in url else "?") + "tensorstore=" + secrets.token_hex(16)
        started = time.time()
        authorizer.authorize(method, attempt_url, request_headers, body)
        try:
            response = client.request(method, attempt_url, request_headers, body)
        except _transport_errors() as exc:
            error = _transport_status(exc)
        else:
            if response.status in allowed:
                return response, started
            maybe_error = error_from(response)
            if maybe_error is None:
                return response, started
            error = maybe_error
        if error.code not in RETRIABLE_CODES:
            raise error
        delay = policy.delay(attempt)
        if delay is None:
            raise aborted(f"All {policy.max_retries} retry attempts failed: {error.message}")
        attempt += 1
        metrics.HTTP_RETRIES.increment()
        # The worker keeps its concurrency slot while it waits, as TensorStore's admission
        # queue keeps a retried request admitted.
        sleep(delay)


# ---------------------------------------------------------------------------------------------
# Byte ranges.


def format_byte_range(byte_range: tuple[int, int | None]) -> str:
    lo, hi = byte_range
    return f"[{lo}, {'?' if hi is None else hi})"


def range_header(byte_range: tuple[int, int | None] | None) -> str | None:
    """The ``Range`` header value for ``(inclusive_min, exclusive_max | None)``, or None when
    the whole value is wanted."""
    if byte_range is None:
        return None
    lo, hi = byte_range
    if hi is None:
        if lo == 0:
            return None
        return f"bytes={lo}-" if lo > 0 else f"bytes={lo}"
    return f"bytes={lo}-{hi - 1}"


def parse_content_range(value: str | None) -> tuple[int, int, int]:
    """``bytes A-B/T`` -> ``(A, B + 1, T)``, with T = -1 for ``*``."""
    try:
        if value is None or not value.startswith("bytes "):
            raise ValueError
        span, total = value[6:].split("/")
        first, last = span.split("-")
        start, stop = int(first), int(last) + 1
        size = -1 if total == "*" else int(total)
        if start < 0 or stop <= start or (size >= 0 and stop > size):
            raise ValueError
        return start, stop, size
    except ValueError:
        shown = "" if value is None else value
        raise failed_precondition(f"Unexpected Content-Range header received: {dumps(shown)}") from None


def validate_byte_range(response: HttpResponse, byte_range: tuple[int, int | None] | None) -> bytes:
    """The requested bytes of a response, checked against what the server says it sent.

    A server that ignores ``Range`` (status 200 with the whole value) is an error, as in
    TensorStore.
    """
    from .driver import resolve_byte_range

    body = response.body
    request = byte_range if byte_range is not None else (0, None)
    if response.status != 206:
        start, stop = resolve_byte_range(request, len(body))
        if stop - start != len(body):
            raise failed_precondition(f"Requested byte range {format_byte_range(request)} was ignored by server")
        return body
    start, stop, total = parse_content_range(response.headers.get("content-range"))
    lo, hi = request
    wanted = (hi - lo) if hi is not None else (-lo if lo < 0 else -1)
    if (
        (lo >= 0 and lo != start)
        or (hi is not None and hi != stop)
        or (wanted >= 0 and wanted != len(body))
        or (total != -1 and hi is None and stop != total)
        or stop - start != len(body)
    ):
        raise out_of_range(
            f"Requested byte range {format_byte_range(request)} was not satisfied by response with byte range "
            f"[{start}, {stop}) and total size {total}"
        )
    return body


# ---------------------------------------------------------------------------------------------
# Spec output shared by the network drivers.


def spec_json_settings_inline(driver: Any, path: str, builder: Any, settings_members: tuple[str, ...]) -> dict:
    """A network driver's spec JSON as TensorStore 0.1.86 prints it in a ``KvStore`` repr.

    There the request settings (retries, billing project, AWS credentials) are written inline,
    while pools (request and copy concurrency) go under ``"context"``; the project's context
    layer otherwise lists them all under ``"context"``, as TensorStore does for a TensorStore.
    """
    from ..json_util import MISSING

    j: dict[str, Any] = {"driver": driver.driver_spec.id}
    j.update(driver.driver_spec.options_json())
    if path:
        j["path"] = path
    for member, resource in driver.resources.items():
        if member in settings_members:
            value = resource.to_json()
            j[member] = [value] if builder.retain else value
            continue
        value = builder.member_json(resource)
        if value is not MISSING:
            j[member] = value
    return dict(sorted(j.items()))


# ---------------------------------------------------------------------------------------------
# ``experimental_gcs_rate_limiter`` / ``experimental_s3_rate_limiter``: requests per second for
# reads and for writes, each rate doubling every ``doubling_time`` (cloud stores ask clients to
# ramp up gradually).  Every attempt, retries included, takes a slot.


class RateLimiter:
    """Spaces requests at ``1 / rate`` seconds, the rate doubling every `doubling_time` s."""

    def __init__(self, rate: float, doubling_time: float | None, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.doubling_time = doubling_time if doubling_time and doubling_time > 0 else None
        self._clock = clock
        self._start = clock()
        self._next = self._start
        self._lock = threading.Lock()

    def rate_at(self, t: float) -> float:
        if self.doubling_time is None:
            return self.rate
        return self.rate * 2.0 ** ((t - self._start) / self.doubling_time)

    def reserve(self) -> float:
        """Takes the next slot; returns how long to wait for it (seconds)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate_at(slot)
            return slot - now


class RateLimiters:
    """The read and write limiters of one rate limiter spec (either may be None)."""

    def __init__(self, spec: dict | None):
        spec = spec or {}
        doubling = spec.get("doubling_time")
        seconds = parse_duration(doubling) / 1e9 if doubling is not None else None
        self.read = RateLimiter(spec["read_rate"], seconds) if spec.get("read_rate") else None
        self.write = RateLimiter(spec["write_rate"], seconds) if spec.get("write_rate") else None

    def for_method(self, method: str) -> RateLimiter | None:
        return self.read if method in ("GET", "HEAD") else self.write


_limiters: dict[str, RateLimiters] = {}
_limiters_lock = threading.Lock()


def _new_locks_after_fork() -> None:
    # A lock held by a parent thread at the fork would stay held in the child (clients are
    # already made per process, see `client_for`).
    global _clients_lock, _limiters_lock
    _clients_lock = threading.Lock()
    _limiters_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def rate_limiters(spec: dict | None) -> RateLimiters | None:
    """The limiters shared by every driver with the same rate limiter spec (None: no limit)."""
    if not spec:
        return None
    key = dumps(spec)
    with _limiters_lock:
        made = _limiters.get(key)
        if made is None:
            made = _limiters[key] = RateLimiters(spec)
        return made


_RATE_MEMBERS = ("read_rate", "write_rate")


def _expect_float(j: Any) -> float:
    from ..errors import invalid_argument

    if isinstance(j, bool) or not isinstance(j, (int, float)):
        raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")
    return float(j)


def parse_rate_limiter(j: Any) -> dict:
    """Validates a rate limiter object (``read_rate``, ``write_rate``, ``doubling_time``);
    returns it normalized."""
    from ..json_util import ObjectReader, expect_object

    reader = ObjectReader(expect_object(j))
    out: dict[str, Any] = {}
    for name in _RATE_MEMBERS:
        value = reader.get(name, _expect_float, None)
        if value is not None:
            out[name] = value
    doubling = reader.get("doubling_time", lambda v: (parse_duration(v), v)[1], None)
    if doubling is not None:
        out["doubling_time"] = doubling
    reader.finish()
    return dict(sorted(out.items()))
