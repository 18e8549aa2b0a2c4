"""The ``http`` kvstore driver: read-only access to any HTTP(S) server.

``{"driver": "http", "base_url": "https://host/prefix", "path": "...", "headers": [...]}`` and
URLs ``http://host/path`` / ``https://host/path``.  A key is a URL path below `base_url`.

As TensorStore's driver does:

- the path part of `base_url` moves into ``path`` when the spec is parsed (only a leading part
  holding an encoded ``/`` stays in `base_url`); a query string stays in `base_url` and is
  appended to every request;
- a read is ``GET`` (``HEAD`` for a zero-length byte range) with ``Range``, ``Cache-Control``
  from the staleness bound, and ``If-Match`` / ``If-None-Match`` from the generation
  conditions; 404 is a missing key, 304 / 412 an unsatisfied condition;
- the generation is the value's strong ``ETag``; list, write and delete are refused.

Beyond TensorStore: a server that sends no ETag but a ``Last-Modified`` date gets a generation
built from that date, and conditions on it are sent as ``If-Unmodified-Since`` /
``If-Modified-Since`` (TensorStore gives such values an invalid generation and sends no
condition).
"""

from __future__ import annotations

import email.utils
import http as _stdlib_http
import re
import time
from typing import Any

from ..context import ContextSpecBuilder, Resource
from ..errors import StatusError, invalid_argument
from ..future import Future, failed, submit
from ..json_util import MISSING, ObjectReader, dumps, member_error
from . import generation as gen
from . import http_transport
from .driver import (
    KvStoreDriver, KvStoreDriverSpec, ReadOptions, WriteOptions, percent_decode_path, percent_encode_path,
    register_kvstore_driver,
)  # fmt: skip
from .generation import ReadResult, TimestampedStorageGeneration
from .key_range import KeyRange

__all__ = ["HttpDriverSpec", "HttpDriver", "parse_generic_uri", "etag_generation", "last_modified_generation"]

# ---------------------------------------------------------------------------------------------
# URLs.


class ParsedUri:
    """``scheme://authority/path?query#fragment`` split as TensorStore's generic URI parser does."""

    __slots__ = ("scheme", "authority", "path", "query", "fragment")

    def __init__(self, scheme: str, authority: str, path: str, query: str, fragment: str):
        self.scheme = scheme
        self.authority = authority
        self.path = path  # still percent-encoded
        self.query = query
        self.fragment = fragment


def parse_generic_uri(url: str) -> ParsedUri:
    colon = url.find(":")
    scheme, rest = (url[:colon], url[colon + 1 :]) if colon >= 0 else ("", url)
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    if rest.startswith("//"):
        rest = rest[2:]
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    else:
        authority, path = "", rest
    return ParsedUri(scheme, authority, path, query, fragment)


def _validate_http_url(parsed: ParsedUri) -> None:
    if parsed.scheme not in ("http", "https"):
        raise invalid_argument(f'Expected scheme of "http" or "https" but received: {dumps(parsed.scheme)}')
    if parsed.fragment:
        raise invalid_argument("Fragment identifier not supported")


def _decode_path(encoded: str) -> str:
    try:
        return percent_decode_path(encoded)
    except StatusError as exc:
        # TensorStore counts the position of a bad escape from the end of the text.
        match = re.match(r"Invalid percent-encoding at position (\d+): ", exc.message)
        if match:
            position = int(match.group(1)) - len(encoded.encode("utf-8"))
            raise invalid_argument(f"Invalid percent-encoding at position {position}: {dumps(encoded)}") from None
        raise


def _split_http_url(parsed: ParsedUri) -> tuple[str, str]:
    """``(base_url, decoded path)``: a leading part of the path holding an encoded ``/`` stays
    in the base URL, since decoding it would change which resource is meant."""
    segments = parsed.path.split("/")
    keep = 0
    for i, segment in enumerate(segments):
        if "%2f" in segment.lower():
            keep = i + 1
    kept = "/".join(segments[:keep])
    rest = parsed.path[len(kept) :]
    base = f"{parsed.scheme}://{parsed.authority}{kept}" + (f"?{parsed.query}" if parsed.query else "")
    return base, _decode_path(rest)


def _append_component(path: str, component: str) -> str:
    if path and not path.endswith("/"):
        path += "/"
    return path + component


# ---------------------------------------------------------------------------------------------
# Spec.

# A header is ``name: value`` with a token for a name (RFC 9110).
_HEADER_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*$")


def _parse_base_url(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    _validate_http_url(parse_generic_uri(j))
    return j


def _parse_headers(j: Any) -> list[str]:
    if not isinstance(j, list):
        raise invalid_argument(f"Expected array, but received: {dumps(j)}")
    out = []
    for i, item in enumerate(j):
        try:
            if not isinstance(item, str):
                raise invalid_argument(f"Expected string, but received: {dumps(item)}")
            if not _HEADER_RE.match(item):
                raise invalid_argument(f"Invalid HTTP header: {dumps(item)}")
        except ValueError as exc:
            raise invalid_argument(f"Error parsing value at position {i}: {exc}") from None
        out.append(item)
    return out


class HttpDriverSpec(KvStoreDriverSpec):
    """``{"driver": "http", "base_url": ..., "headers": [...]}`` plus its context resources."""

    id = "http"
    url_scheme = "http"
    resource_members = {
        "data_copy_concurrency": "data_copy_concurrency",
        "http_request_concurrency": "http_request_concurrency",
        "http_request_retries": "http_request_retries",
    }

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        if not reader.has("base_url"):
            raise member_error("base_url", invalid_argument("Expected string, but member is missing"))
        options: dict[str, Any] = {"base_url": reader.get("base_url", _parse_base_url)}
        headers = reader.get("headers", _parse_headers, [])
        if headers:
            options["headers"] = headers
        return options

    def options_json(self, include_defaults: bool = False) -> dict:
        out = dict(self.options)
        if include_defaults and "headers" not in out:
            out["headers"] = []
        return out

    def normalize_path(self, path: str) -> str:
        """Moves the path of ``base_url`` into `path` (TensorStore's NormalizeSpec)."""
        original = self.options["base_url"]
        base, own = _split_http_url(parse_generic_uri(original))
        if not path:
            path = own
        elif not path.startswith("/"):
            path = _append_component(own, path)
        elif own not in ("", "/"):
            raise invalid_argument(
                f"Cannot specify absolute path {dumps(path)} in conjunction with base URL {dumps(original)} "
                f"which already includes the path component {dumps(own)}"
            )
        self.options["base_url"] = base
        return path

    @classmethod
    def from_url(cls, url: str) -> dict:
        parsed = parse_generic_uri(url)
        _validate_http_url(parsed)
        base, path = _split_http_url(parsed)
        j: dict[str, Any] = {"driver": "http", "base_url": base}
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str | bytes) -> str:
        """The URL of `path` (a key may be bytes that are not UTF-8: they are percent-encoded)."""
        parsed = parse_generic_uri(self.options["base_url"])
        slash = "/" if isinstance(path, str) else b"/"
        joiner = "/" if path and not path.startswith(slash) else ""
        query = f"?{parsed.query}" if parsed.query else ""
        return f"{parsed.scheme}://{parsed.authority}{parsed.path}{joiner}{percent_encode_path(path)}{query}"

    def open(self, resources: dict[str, Resource]) -> "HttpDriver":
        return HttpDriver(self, resources)


# ---------------------------------------------------------------------------------------------
# Generations.

# ETags never hold control characters, so this prefix cannot collide with an ETag generation.
_LAST_MODIFIED_TAG = b"\x01Last-Modified:"


def etag_generation(etag: str | None) -> bytes | None:
    """TensorStore's generation for a strong ETag (``"abc"`` -> ``b"\\x00abc"``); None for a
    weak, empty or missing one."""
    if etag is None or len(etag) <= 2 or etag[0] != '"' or etag[-1] != '"':
        return None
    return gen.from_string(etag[1:-1].encode("latin-1", "replace"))


def last_modified_generation(value: str | None) -> bytes | None:
    """A generation standing for a ``Last-Modified`` date (None when absent or unparsable)."""
    if value is None or email.utils.parsedate_tz(value) is None:
        return None
    return gen.from_string(_LAST_MODIFIED_TAG + value.encode("latin-1", "replace"))


def _condition_headers(options: ReadOptions) -> dict[str, str]:
    """If-Match / If-None-Match (ETag generations) or If-Unmodified-Since / If-Modified-Since
    (Last-Modified generations); conditions on anything else are not sent, as in TensorStore."""
    headers: dict[str, str] = {}
    for g, etag_header, date_header in (
        (options.if_equal, "If-Match", "If-Unmodified-Since"),
        (options.if_not_equal, "If-None-Match", "If-Modified-Since"),
    ):
        if not g or not gen.is_clean_value(g) or len(g) < 2:
            continue
        text = g[1:]
        if text.startswith(_LAST_MODIFIED_TAG):
            headers[date_header] = text[len(_LAST_MODIFIED_TAG) :].decode("latin-1")
        else:
            headers[etag_header] = '"' + text.decode("latin-1") + '"'
    return headers


# ---------------------------------------------------------------------------------------------
# Errors.


# Where TensorStore's wording differs from Python's table.
_REASONS = {416: "Range Not Satisfiable"}


def _reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    if status >= 400:
        try:
            return _stdlib_http.HTTPStatus(status).phrase
        except ValueError:
            pass
    return "Unknown"


def status_from_response(response: http_transport.HttpResponse) -> StatusError | None:
    """``Forbidden [HTTP code 403] [http_response_body='...']``, as TensorStore's http driver
    reports a failed request (no body payload for an empty body)."""
    code = http_transport.status_code_for(response.status)
    if code == "OK":
        return None
    message = f"{_reason(response.status)} [HTTP code {response.status}]"
    if response.body:
        message += f" [http_response_body='{http_transport.c_escape(response.body[:256])}']"
    return StatusError(code, message)


# ---------------------------------------------------------------------------------------------
# The driver.

_SETTINGS_MEMBERS = ("http_request_retries",)


class HttpDriver(KvStoreDriver):
    """Reads run on the ``http_request_concurrency`` pool through its shared HTTP client."""

    def __init__(self, spec: HttpDriverSpec, resources: dict[str, Resource]):
        super().__init__(spec, resources)
        self.concurrency = resources["http_request_concurrency"]
        self.policy = http_transport.retry_policy(resources["http_request_retries"])
        self.extra_headers: dict[str, str] = {}
        for header in spec.options.get("headers", ()):
            name, _, value = header.partition(":")
            self.extra_headers[name] = value.strip()

    @property
    def client(self) -> http_transport.HttpClient:
        return http_transport.client_for(self.concurrency)

    def spec_json(self, path: str, builder: ContextSpecBuilder | None = MISSING) -> dict:
        if builder is MISSING or builder is None or not getattr(builder, "settings_inline", False):
            return super().spec_json(path, builder)
        return http_transport.spec_json_settings_inline(self, path, builder, _SETTINGS_MEMBERS)

    def describe_key(self, key: bytes) -> str:
        return self.url(key.decode("utf-8", "replace"))

    # -- read -------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future[ReadResult]:
        url = self.driver_spec.to_url(bytes(key))
        return submit(self.concurrency.executor, self._read_task, url, options)

    def _read_task(self, url: str, options: ReadOptions) -> ReadResult:
        byte_range = options.byte_range
        head = byte_range is not None and byte_range[1] is not None and byte_range[0] == byte_range[1]
        headers = dict(self.extra_headers)
        headers["Accept-Encoding"] = "gzip, deflate"
        range_value = None if head else http_transport.range_header(byte_range)
        if range_value:
            headers["Range"] = range_value
        headers["Cache-Control"] = _cache_control(options.staleness_bound)
        headers.update(_condition_headers(options))
        response, started = http_transport.send(
            self.client, self.policy, http_transport.ANONYMOUS, "HEAD" if head else "GET", url,
            headers=headers, passthrough=(304, 404, 412), error_from=status_from_response,
        )  # fmt: skip
        started = _response_time(response, started, options.staleness_bound)
        status = response.status
        if status in (204, 404):
            return ReadResult("missing", b"", TimestampedStorageGeneration(gen.NO_VALUE, started))
        if status == 412:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(gen.UNKNOWN, started))
        if status == 304:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(options.if_not_equal or b"", started))
        value = b"" if head else http_transport.validate_byte_range(response, byte_range)
        generation = etag_generation(response.headers.get("etag"))
        if generation is None:
            generation = last_modified_generation(response.headers.get("last-modified")) or gen.INVALID
        return ReadResult("value", value, TimestampedStorageGeneration(generation, started))

    # -- refused operations -----------------------------------------------------------------

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future[TimestampedStorageGeneration]:
        return failed(NotImplementedError("KeyValueStore does not support writing"))

    def delete_range(self, key_range: KeyRange) -> Future[None]:
        return failed(NotImplementedError("KeyValueStore does not support deleting by range"))

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future[list[bytes]]:
        return failed(NotImplementedError("KeyValueStore does not support listing"))


def _cache_control(staleness_bound: float | None) -> str:
    """``no-cache`` unless the caller accepts values as old as a past `staleness_bound`."""
    now = time.time()
    if staleness_bound is None or staleness_bound >= now:
        return "no-cache"
    return f"max-age={int(now - staleness_bound)}"


def _response_time(response: http_transport.HttpResponse, started: float, staleness_bound: float | None) -> float:
    """The time the value is known current at: the response's ``Date`` when that is earlier
    (a cached answer), as TensorStore does."""
    date = response.headers.get("date")
    if date is None:
        return started
    try:
        when = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        raise invalid_argument(f'Invalid "date" response header: {dumps(date)}') from None
    if when < started:
        if staleness_bound is not None and staleness_bound < started and when < staleness_bound:
            return staleness_bound
        return when
    return started


register_kvstore_driver("http", HttpDriverSpec, url_scheme="http")
register_kvstore_driver("http", HttpDriverSpec, url_scheme="https")
