"""The ``s3`` kvstore driver: keys are objects of an Amazon S3 (or S3-compatible) bucket.

It speaks the S3 REST API the way TensorStore's driver does, so either library reads what the
other wrote and both agree on generations (``b"\\x00" + ETag``, quotes included):

- endpoint and region: with ``endpoint``, requests go to ``{endpoint}/{bucket}`` (path style)
  and a missing ``aws_region`` comes from an unsigned ``HEAD`` of the bucket
  (``x-amz-bucket-region``, else ``us-east-1``); without, to
  ``https://{bucket}.s3.{region}.amazonaws.com`` with the region discovered from
  ``https://{bucket}.s3.amazonaws.com``.  Resolved once per driver, on first use.
- read: ``GET`` (``HEAD`` for a zero-length range) with ``Range`` and ``If-Match`` /
  ``If-None-Match``; 404 is a missing key, 304 / 412 an unsatisfied condition.
- write: ``PUT``.  A generation condition is checked by the server (``If-Match``,
  ``If-None-Match: *``) where it supports conditional writes, else by a ``HEAD`` peek first;
  ``use_conditional_write`` (or the endpoint: AWS yes, Ceph no) chooses, as in TensorStore.
- delete: a ``HEAD`` peek for a condition, then ``DELETE``; ``delete_range`` lists, then deletes.
- list: ``ListObjectsV2`` with the range's longest prefix, following continuation tokens.

Requests are signed with AWS Signature V4 (botocore) and run on the ``s3_request_concurrency``
pool through its one HTTP client, retried per ``s3_request_retries``.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Any

from ...context import ContextSpecBuilder, Resource
from ...errors import StatusError, invalid_argument
from ...future import Future, chain, gather, ready, submit
from ...json_util import MISSING, ObjectReader, dumps, expect_bool
from .. import generation as gen
from .. import http_transport
from ..driver import (
    KvStoreDriver, KvStoreDriverSpec, ReadOptions, WriteOptions, percent_decode_path, percent_encode_path,
    register_kvstore_driver,
)  # fmt: skip
from ..generation import ReadResult, TimestampedStorageGeneration
from ..key_range import KeyRange, contains
from .credentials import Signer

__all__ = [
    "S3DriverSpec", "S3Driver", "classify_bucket_name", "is_valid_bucket_name", "is_valid_object_name",
    "status_from_response", "is_aws_endpoint",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Names.

_BUCKET_CHARS = re.compile(r"^[A-Za-z0-9._-]+$")
_IP_LIKE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def classify_bucket_name(bucket: str) -> str:
    """``"standard"``, ``"old_us_east_1"`` (legacy names: upper case, ``_`` or over 63
    characters, only valid in us-east-1) or ``"invalid"``."""
    if not 3 <= len(bucket) <= 255 or not _BUCKET_CHARS.match(bucket):
        return "invalid"
    # Every dot-separated label starts and ends with a letter or digit.
    if not all(label and label[0].isalnum() and label[-1].isalnum() for label in bucket.split(".")):
        return "invalid"
    if _IP_LIKE.match(bucket) or bucket.startswith("xn--"):
        return "invalid"
    if bucket.endswith("-s3alias") or bucket.endswith("--ol-s3"):
        return "invalid"
    if len(bucket) > 63 or any(ch.isupper() or ch == "_" for ch in bucket):
        return "old_us_east_1"
    return "standard"


def is_valid_bucket_name(bucket: str) -> bool:
    return classify_bucket_name(bucket) != "invalid"


def is_valid_object_name(name: bytes) -> bool:
    """1 to 1024 bytes of UTF-8."""
    if not 0 < len(name) <= 1024:
        return False
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def is_valid_generation(g: bytes | None) -> bool:
    """Unknown, `NO_VALUE`, or an ETag generation."""
    return not g or g == gen.NO_VALUE or (len(g) > 1 and g[0] == 0)


def _encode_key(key: str) -> str:
    return urllib.parse.quote(key, safe="/~")


_AWS_ENDPOINT = re.compile(r"(^|[.])s3(-fips|-accesspoint|-accesspoint-fips)?[.](dualstack[.])?([^.]+[.])?amazonaws[.]com$")


def is_aws_endpoint(endpoint: str) -> bool:
    """Whether `endpoint` is Amazon's own S3 (which supports conditional writes)."""
    for prefix in ("https://", "http://"):
        if endpoint.startswith(prefix):
            endpoint = endpoint[len(prefix) :]
            break
    host = endpoint.split("/", 1)[0]
    return bool(host) and bool(_AWS_ENDPOINT.search(host))


# ---------------------------------------------------------------------------------------------
# Spec.


def _expect_string(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    return j


class S3DriverSpec(KvStoreDriverSpec):
    """``{"driver": "s3", "bucket": ..., "endpoint": ..., ...}`` plus its context resources."""

    id = "s3"
    url_scheme = "s3"
    resource_members = {
        "aws_credentials": "aws_credentials",
        "data_copy_concurrency": "data_copy_concurrency",
        "s3_request_concurrency": "s3_request_concurrency",
        "s3_request_retries": "s3_request_retries",
    }

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        options: dict[str, Any] = {}
        bucket = reader.get("bucket", _expect_string, "")
        requester_pays = reader.get("requester_pays", expect_bool, False)
        host_header = reader.get("host_header", _expect_string, None)
        endpoint = reader.get("endpoint", _expect_string, None)
        region = reader.get("aws_region", _expect_string, "")
        conditional = reader.get("use_conditional_write", expect_bool, None)
        limiter = reader.get("experimental_s3_rate_limiter", http_transport.parse_rate_limiter, None)
        if not bucket and endpoint is None:
            raise invalid_argument('"bucket" must be specified when "endpoint" is not set')
        if bucket and not is_valid_bucket_name(bucket):
            raise invalid_argument(f"Invalid S3 bucket name: {dumps(bucket)}")
        options["bucket"] = bucket
        if requester_pays:
            options["requester_pays"] = True
        for name, value in (("host_header", host_header), ("endpoint", endpoint), ("use_conditional_write", conditional)):
            if value is not None:
                options[name] = value
        if region:
            options["aws_region"] = region
        if limiter is not None:
            # Accepted and printed as TensorStore does; requests are not rate limited.
            options["experimental_s3_rate_limiter"] = limiter
        return options

    def options_json(self, include_defaults: bool = False) -> dict:
        out = dict(self.options)
        if not out.get("bucket"):
            out.pop("bucket", None)
        if include_defaults:
            out.setdefault("bucket", "")
            out.setdefault("requester_pays", False)
            out.setdefault("aws_region", "")
        return out

    @property
    def bucket(self) -> str:
        return self.options.get("bucket", "")

    @classmethod
    def from_url(cls, url: str) -> dict:
        prefix = "s3://"
        if not url.startswith(prefix):
            raise invalid_argument(f"Scheme {dumps(prefix)} not present in url")
        rest = url[len(prefix) :]
        if "#" in rest:
            raise invalid_argument("Fragment identifier not supported")
        if "?" in rest:
            raise invalid_argument("Query string not supported")
        bucket, _, path = rest.partition("/")
        if not is_valid_bucket_name(bucket):
            raise invalid_argument(f"Invalid S3 bucket name: {dumps(bucket)}")
        j: dict[str, Any] = {"driver": "s3", "bucket": bucket}
        path = percent_decode_path(path)
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str) -> str:
        if "endpoint" in self.options:
            # An s3:// URL cannot say where the server is.
            raise NotImplementedError("S3 URL syntax not supported with explicit endpoint")
        return f"s3://{self.bucket}/" + percent_encode_path(path)

    def open(self, resources: dict[str, Resource]) -> "S3Driver":
        return S3Driver(self, resources)


# ---------------------------------------------------------------------------------------------
# Errors.


def status_from_response(response: http_transport.HttpResponse) -> StatusError | None:
    """``NOT_FOUND: NoSuchBucket: The specified bucket does not exist [http_response_code='404']
    [x-amzn-requestid='...'] [http_response_body='...']``, from S3's XML error document."""
    code = http_transport.status_code_for(response.status)
    if code == "OK":
        return None
    message = None
    if response.body:
        try:
            root = ET.fromstring(response.body)
            error_code = root.findtext("Code")
            error_message = root.findtext("Message")
            if error_code or error_message:
                message = ": ".join(part for part in (error_code, error_message) if part)
        except ET.ParseError:
            pass
    if message is None:
        message = http_transport.default_message(response) if response.body else "Unknown"
    request_id = response.headers.get("x-amzn-requestid") or response.headers.get("x-amz-request-id")
    extra = f" [x-amzn-requestid='{request_id}']" if request_id else ""
    return http_transport.http_status_error(code, message, response, extra)


def _etag_generation(response: http_transport.HttpResponse, what: str) -> bytes:
    etag = response.headers.get("etag")
    if not etag:
        raise StatusError(
            "DATA_LOSS",
            f"The S3 server sent no ETag header with {what}: without it there is no usable generation "
            "(tensorstore_py needs one for conditional writes and cache revalidation)",
        )
    return gen.from_string(etag.encode("latin-1"))


# ---------------------------------------------------------------------------------------------
# Endpoint and region.


class _Endpoint:
    """Where requests go: ``base`` (``{endpoint}/{bucket}`` or a virtual host), the signing
    region and whether the server checks write conditions itself (None: also peek)."""

    __slots__ = ("base", "region", "conditional_writes")

    def __init__(self, base: str, region: str, conditional_writes: bool | None):
        self.base = base
        self.region = region
        self.conditional_writes = conditional_writes


def _validate_endpoint(endpoint: str) -> None:
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise invalid_argument(f"Endpoint {endpoint} has invalid scheme {scheme if sep else ''}. Should be http(s).")
    if "?" in rest:
        raise invalid_argument(f"Query in endpoint unsupported {endpoint}")
    if "#" in rest:
        raise invalid_argument(f"Fragment in endpoint unsupported {endpoint}")


def _conditional_heuristic(base: str, request_id: str | None) -> bool | None:
    if is_aws_endpoint(base):
        return True
    if request_id and request_id.endswith("-ceph3"):
        return False
    return None


# ---------------------------------------------------------------------------------------------
# The driver.

# Members TensorStore 0.1.86 prints inline in a KvStore repr.
_SETTINGS_MEMBERS = ("aws_credentials", "s3_request_retries")


class S3Driver(KvStoreDriver):
    """Requests run on the ``s3_request_concurrency`` pool through its shared HTTP client."""

    def __init__(self, spec: S3DriverSpec, resources: dict[str, Resource]):
        super().__init__(spec, resources)
        options = spec.options
        self.bucket = spec.bucket
        self.endpoint = options.get("endpoint")
        if self.endpoint is not None:
            _validate_endpoint(self.endpoint)
            self.endpoint = self.endpoint.rstrip("/")
        self.region = options.get("aws_region", "")
        if self.bucket and classify_bucket_name(self.bucket) == "old_us_east_1":
            if self.region and self.region != "us-east-1":
                raise invalid_argument(f'Bucket {dumps(self.bucket)} requires aws_region "us-east-1", not {dumps(self.region)}')
            self.region = "us-east-1"
        if options.get("host_header") and self.endpoint is None:
            raise invalid_argument('"host_header" cannot be set without also setting "endpoint"')
        self.host_header = options.get("host_header")
        self.requester_pays = options.get("requester_pays", False)
        self.use_conditional_write = options.get("use_conditional_write")
        if self.use_conditional_write is None:
            env = os.environ.get("TENSORSTORE_S3_USE_CONDITIONAL_WRITE", "").lower()
            self.use_conditional_write = {"1": True, "true": True, "0": False, "false": False}.get(env)
        self.concurrency = resources["s3_request_concurrency"]
        self.policy = http_transport.retry_policy(resources["s3_request_retries"])
        self.credentials = resources["aws_credentials"]
        self._endpoint_lock = threading.Lock()
        self._endpoint_future: Future | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def executor(self) -> Any:
        return self.concurrency.executor

    @property
    def client(self) -> http_transport.HttpClient:
        return http_transport.client_for(self.concurrency)

    def spec_json(self, path: str, builder: ContextSpecBuilder | None = MISSING) -> dict:
        if builder is MISSING or builder is None or not getattr(builder, "settings_inline", False):
            return super().spec_json(path, builder)
        return http_transport.spec_json_settings_inline(self, path, builder, _SETTINGS_MEMBERS)

    def describe_key(self, key: bytes) -> str:
        if "endpoint" in self.driver_spec.options:
            return super().describe_key(key)
        return self.url(key.decode("utf-8", "replace"))

    def _resolved(self) -> Future:
        """The `_Endpoint`, resolved once (a HEAD of the bucket when the region is unknown)."""
        with self._endpoint_lock:
            if self._endpoint_future is None or (
                self._endpoint_future.done() and self._endpoint_future.exception() is not None
            ):
                self._endpoint_future = self._resolve()
            return self._endpoint_future

    def _resolve(self) -> Future:
        if self.endpoint is not None:
            base = f"{self.endpoint}/{self.bucket}" if self.bucket else self.endpoint
            if self.region:
                return ready(_Endpoint(base, self.region, _conditional_heuristic(self.endpoint, None)))
            return submit(self.executor, self._discover, base, base, "us-east-1")
        if self.region:
            return ready(_Endpoint(self._aws_base(self.region), self.region, True))
        probe = (
            f"https://{self.bucket}.s3.amazonaws.com"
            if "." not in self.bucket
            else f"https://s3.us-east-1.amazonaws.com/{self.bucket}"
        )
        return submit(self.executor, self._discover, probe, None, None)

    def _aws_base(self, region: str) -> str:
        if "." not in self.bucket:
            return f"https://{self.bucket}.s3.{region}.amazonaws.com"
        return f"https://s3.{region}.amazonaws.com/{self.bucket}"

    def _discover(self, url: str, base: str | None, default_region: str | None) -> _Endpoint:
        headers = {"Host": self.host_header} if self.host_header else {}
        # Any answer will do (403 and 301 carry the region too): only transport failures retry.
        response, _started = http_transport.send(
            self.client, self.policy, http_transport.ANONYMOUS, "HEAD", url, headers=headers,
            passthrough=range(300, 600), error_from=status_from_response,
        )  # fmt: skip
        region = response.headers.get("x-amz-bucket-region") or default_region
        if not region:
            raise StatusError("FAILED_PRECONDITION", f"Failed to resolve aws_region for bucket {dumps(self.bucket)}")
        if base is None:
            base = self._aws_base(region)
        request_id = response.headers.get("x-amz-request-id")
        return _Endpoint(base, region, _conditional_heuristic(base, request_id))

    def _send(self, ep: _Endpoint, method: str, url: str, **kwargs: Any) -> tuple[http_transport.HttpResponse, float]:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.host_header:
            headers["Host"] = self.host_header
        if self.requester_pays:
            headers["x-amz-request-payer"] = "requester"
        signer = Signer(self.credentials, ep.region)
        limiters = http_transport.rate_limiters(self.driver_spec.options.get("experimental_s3_rate_limiter"))
        return http_transport.send(
            self.client, self.policy, signer, method, url, headers=headers, error_from=status_from_response,
            limiters=limiters, **kwargs
        )

    def _on_endpoint(self, task: Any, *args: Any) -> Future:
        """Runs `task(endpoint, *args)` on the request pool once the endpoint is known."""
        return chain(self._resolved(), lambda ep: submit(self.executor, task, ep, *args))

    # -- read -------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future[ReadResult]:
        if not is_valid_object_name(key):
            raise invalid_argument("Invalid S3 object name")
        if not (is_valid_generation(options.if_equal) and is_valid_generation(options.if_not_equal)):
            raise invalid_argument("Malformed StorageGeneration")
        return self._on_endpoint(self._read_task, key.decode("utf-8"), options)

    def _read_task(self, ep: _Endpoint, name: str, options: ReadOptions) -> ReadResult:
        byte_range = options.byte_range
        head = byte_range is not None and byte_range[1] is not None and byte_range[0] == byte_range[1]
        headers = _condition_headers(options.if_equal, options.if_not_equal)
        range_value = None if head else http_transport.range_header(byte_range)
        if range_value:
            headers["Range"] = range_value
        elif not head:
            headers["x-amz-checksum-mode"] = "ENABLED"
        url = f"{ep.base}/{_encode_key(name)}"
        response, started = self._send(ep, "HEAD" if head else "GET", url, headers=headers, passthrough=(304, 404, 412))
        status = response.status
        if status in (204, 404):
            return ReadResult("missing", b"", TimestampedStorageGeneration(gen.NO_VALUE, started))
        if status == 412:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(gen.UNKNOWN, started))
        if status == 304:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(options.if_not_equal or b"", started))
        value = b"" if head else http_transport.validate_byte_range(response, byte_range)
        generation = _etag_generation(response, f"the value of {dumps(name)}")
        return ReadResult("value", value, TimestampedStorageGeneration(generation, started))

    # -- write / delete ---------------------------------------------------------------------

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future[TimestampedStorageGeneration]:
        if not is_valid_object_name(key):
            raise invalid_argument("Invalid S3 object name")
        if not is_valid_generation(options.if_equal):
            raise invalid_argument("Malformed StorageGeneration")
        name = key.decode("utf-8")
        if value is None:
            return self._on_endpoint(self._delete_task, name, options.if_equal)
        return self._on_endpoint(self._write_task, name, value, options.if_equal)

    def _peek(self, ep: _Endpoint, url: str, if_equal: bytes) -> TimestampedStorageGeneration | None:
        """A HEAD checking `if_equal`: the stamp of a failed condition, or None to go on."""
        response, started = self._send(ep, "HEAD", url, headers=_condition_headers(if_equal, None), passthrough=(304, 404, 412))
        if response.status in (304, 412) or (response.status == 404 and if_equal != gen.NO_VALUE):
            return TimestampedStorageGeneration(gen.UNKNOWN, started)
        if response.status == 404:
            return TimestampedStorageGeneration(gen.NO_VALUE, started)
        return None

    def _write_task(self, ep: _Endpoint, name: str, value: bytes, if_equal: bytes | None) -> TimestampedStorageGeneration:
        url = f"{ep.base}/{_encode_key(name)}"
        headers = {"Content-Type": "application/octet-stream"}
        if if_equal:
            server_checks = self.use_conditional_write if self.use_conditional_write is not None else ep.conditional_writes
            if server_checks is not True:
                failed = self._peek(ep, url, if_equal)
                if failed is not None and failed.generation == gen.UNKNOWN:
                    return failed
            if server_checks is not False:
                headers.update({"If-None-Match": "*"} if if_equal == gen.NO_VALUE else _condition_headers(if_equal, None))
        # A PUT is atomic on S3: the object appears only once the whole body has arrived.
        response, started = self._send(ep, "PUT", url, headers=headers, body=value, passthrough=(404, 412))
        if response.status == 412 or (response.status == 404 and if_equal):
            return TimestampedStorageGeneration(gen.UNKNOWN, started)
        if response.status == 404:
            error = status_from_response(response)
            assert error is not None
            raise error
        return TimestampedStorageGeneration(_etag_generation(response, f"the write of {dumps(name)}"), started)

    def _delete_task(self, ep: _Endpoint, name: str, if_equal: bytes | None) -> TimestampedStorageGeneration:
        url = f"{ep.base}/{_encode_key(name)}"
        if if_equal:
            failed = self._peek(ep, url, if_equal)
            if failed is not None:
                return failed
        response, started = self._send(ep, "DELETE", url, passthrough=(404,))
        if response.status == 404 and if_equal and if_equal != gen.NO_VALUE:
            return TimestampedStorageGeneration(gen.UNKNOWN, started)
        return TimestampedStorageGeneration(gen.NO_VALUE, started)

    # -- ranges -----------------------------------------------------------------------------

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future[list[bytes]]:
        if key_range.empty:
            return ready([])
        return self._on_endpoint(self._list_task, key_range, strip_prefix_length)

    def _list_task(self, ep: _Endpoint, key_range: KeyRange, strip: int) -> list[bytes]:
        prefix = _utf8_prefix(_longest_prefix(key_range))
        keys: list[bytes] = []
        token = ""
        while True:
            params = [("list-type", "2")]
            if prefix:
                params.append(("prefix", prefix))
            if token:
                params.append(("continuation-token", token))
            query = "&".join(f"{k}={urllib.parse.quote(v, safe='~')}" for k, v in params)
            response, _started = self._send(ep, "GET", f"{ep.base}/?{query}")
            names, token = _parse_list_page(response.body)
            for name in names:
                full = name.encode("utf-8")
                if contains(key_range, full):
                    keys.append(full[strip:])
            if not token:
                return keys

    def delete_range(self, key_range: KeyRange) -> Future[None]:
        if key_range.empty:
            return ready(None)

        def delete_all(keys: list[bytes]) -> Future:
            deletes = [self.write(k, None, WriteOptions()) for k in keys]
            return chain(gather(deletes), lambda _results: None)

        return chain(self.list(key_range), delete_all)


# ---------------------------------------------------------------------------------------------
# Helpers.


def _condition_headers(if_equal: bytes | None, if_not_equal: bytes | None) -> dict[str, str]:
    """``If-Match`` / ``If-None-Match`` with the ETag a generation holds (``""`` for
    `NO_VALUE`, which no object has), as TensorStore sends them."""
    headers: dict[str, str] = {}
    for g, name in ((if_equal, "If-Match"), (if_not_equal, "If-None-Match")):
        if g:
            headers[name] = '""' if g == gen.NO_VALUE else g[1:].decode("latin-1")
    return headers


def _longest_prefix(key_range: KeyRange) -> bytes:
    """The longest prefix every key of the range shares (the keys are filtered afterwards)."""
    lo, hi = key_range.inclusive_min, key_range.exclusive_max
    if not hi:
        return b""
    n = 0
    while n < len(lo) and n < len(hi) and lo[n] == hi[n]:
        n += 1
    # [c + x..., c + (x+1)): every key continues c with byte x (a prefix range's shape).
    if len(hi) == n + 1 and len(lo) > n and hi[n] == lo[n] + 1:
        return lo[: n + 1]
    return lo[:n]


def _utf8_prefix(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].decode("utf-8")


_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _parse_list_page(body: bytes) -> tuple[list[str], str]:
    """Keys and the continuation token (empty when done) of a ListObjectsV2 page."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise StatusError("INTERNAL", f"Failed to parse S3 list response: {body[:256]!r}") from None
    ns = _S3_NS if root.tag.startswith(_S3_NS) else ""
    names = [el.text or "" for el in root.iter(f"{ns}Key")]
    truncated = (root.findtext(f"{ns}IsTruncated") or "").strip().lower() == "true"
    token = (root.findtext(f"{ns}NextContinuationToken") or "") if truncated else ""
    if truncated and not token:
        raise StatusError("INTERNAL", "S3 list response is truncated but has no continuation token")
    return names, token


register_kvstore_driver("s3", S3DriverSpec, url_scheme="s3")
