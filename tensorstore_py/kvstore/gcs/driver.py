"""The ``gcs`` kvstore driver: keys are objects of a Google Cloud Storage bucket.

It speaks the GCS JSON API the way TensorStore's driver does, so either library reads what the
other wrote and both agree on generations:

- read: ``GET .../o/<name>?alt=media`` with a ``Range`` header for byte ranges and
  ``ifGenerationNotMatch`` / ``ifGenerationMatch``; the generation comes from the
  ``x-goog-generation`` header.  A zero-length range asks for the metadata (``alt=json``)
  instead.  404 is a missing key, 304 and 412 an unsatisfied condition.
- write: ``POST /upload/.../o?uploadType=media&name=<name>`` with ``ifGenerationMatch``
  (``0``: only if absent); 412 means the condition failed and the write was skipped.
- delete: ``DELETE .../o/<name>``; delete_range lists the range and deletes each object.
- list: ``GET .../o?startOffset=&endOffset=`` following ``nextPageToken``.

A generation is TensorStore's encoding of the object's generation number
(`generation.from_uint64`).  Every request runs on the ``gcs_request_concurrency`` pool, so at
most ``limit`` are in flight, through that resource's one HTTP client.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from ...context import ContextSpecBuilder, Resource
from ...errors import StatusError, invalid_argument
from ...future import Future, chain, gather, ready, submit
from ...json_util import MISSING, ObjectReader, dumps, member_error
from .. import generation as gen
from ..driver import (
    KvStoreDriver, KvStoreDriverSpec, ReadOptions, WriteOptions, percent_decode_path,
    percent_encode_path, register_kvstore_driver,
)  # fmt: skip
from ..generation import ReadResult, TimestampedStorageGeneration
from ..key_range import KeyRange, contains
from .. import http_transport
from . import http
from .resources import client_for, parse_rate_limiter, retry_policy, user_project_of

__all__ = [
    "GcsDriverSpec", "GcsDriver", "is_valid_bucket_name", "is_valid_object_name",
    "is_valid_generation", "generation_number",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Names and generations.


def _is_lower_or_digit(ch: str) -> bool:
    return "a" <= ch <= "z" or "0" <= ch <= "9"


def is_valid_bucket_name(bucket: str) -> bool:
    """GCS bucket naming rules, as far as TensorStore checks them."""
    if not 3 <= len(bucket) <= 222:
        return False
    if not (_is_lower_or_digit(bucket[0]) and _is_lower_or_digit(bucket[-1])):
        return False
    for part in bucket.split("."):
        if not part or len(part) > 63 or part[0] == "-" or part[-1] == "-":
            return False
        if any(not (_is_lower_or_digit(ch) or ch in "-_") for ch in part):
            return False
    return True


def is_valid_object_name(name: bytes) -> bool:
    """GCS object naming rules: 1..1024 bytes of UTF-8 without control characters, not '.' or
    '..', and not under ``.well-known/acme-challenge``."""
    if not 0 < len(name) <= 1024 or name in (b".", b".."):
        return False
    if name.startswith(b".well-known/acme-challenge"):
        return False
    if any(b < 0x20 or b == 0x7F for b in name):
        return False
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def generation_number(g: bytes) -> int | None:
    """The GCS generation number a TensorStore generation stands for (0 for `NO_VALUE`)."""
    if g == gen.NO_VALUE:
        return 0
    if len(g) == 9 and g[0] == 0:
        return struct.unpack("<Q", g[1:])[0]
    return None


def is_valid_generation(g: bytes | None) -> bool:
    """Unknown, `NO_VALUE`, or a positive object generation number."""
    if not g:
        return True
    if g == gen.NO_VALUE:
        return True
    number = generation_number(g)
    return number is not None and number > 0


def _check_generations(*generations: bytes | None) -> None:
    for g in generations:
        if is_valid_generation(g):
            continue
        if g is not None and generation_number(g) == 0:
            # What a read reports when the server sent no x-goog-generation header (as
            # TensorStore does); TensorStore then only says "Malformed StorageGeneration".
            raise invalid_argument(
                "Cannot use GCS object generation 0 as a condition: the server sent no usable "
                "generation (no x-goog-generation header) when the value was read"
            )
        raise invalid_argument("Malformed StorageGeneration")


def _object_name(key: bytes) -> str:
    if not is_valid_object_name(key):
        raise invalid_argument("Invalid GCS object name")
    return key.decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Spec.


def _parse_bucket(j: Any) -> str:
    if not isinstance(j, str):
        raise invalid_argument(f"Expected string, but received: {dumps(j)}")
    if not is_valid_bucket_name(j):
        raise invalid_argument(f"Invalid GCS bucket name: {dumps(j)}")
    return j


class GcsDriverSpec(KvStoreDriverSpec):
    """``{"driver": "gcs", "bucket": ..., "path": ...}`` plus its context resources."""

    id = "gcs"
    url_scheme = "gs"
    resource_members = {
        "data_copy_concurrency": "data_copy_concurrency",
        "gcs_request_concurrency": "gcs_request_concurrency",
        "gcs_request_retries": "gcs_request_retries",
        "gcs_user_project": "gcs_user_project",
    }

    @classmethod
    def parse_options(cls, reader: ObjectReader) -> dict:
        if not reader.has("bucket"):
            raise member_error("bucket", invalid_argument("Expected string, but member is missing"))
        options: dict[str, Any] = {"bucket": reader.get("bucket", _parse_bucket)}
        limiter = reader.get("experimental_gcs_rate_limiter", parse_rate_limiter, None)
        if limiter is not None:
            options["experimental_gcs_rate_limiter"] = limiter
        return options

    def options_json(self, include_defaults: bool = False) -> dict:
        return dict(self.options)

    @property
    def bucket(self) -> str:
        return self.options["bucket"]

    def normalize_path(self, path: str) -> str:
        if path and not is_valid_object_name(path.encode("utf-8", "surrogatepass")):
            raise invalid_argument(f"Invalid GCS path: {dumps(path)}")
        return path

    @classmethod
    def from_url(cls, url: str) -> dict:
        prefix = "gs://"
        if not url.startswith(prefix):
            raise invalid_argument(f"Scheme {dumps(prefix)} not present in url")
        rest = url[len(prefix) :]
        if "?" in rest:
            raise invalid_argument("Query string not supported")
        if "#" in rest:
            raise invalid_argument("Fragment identifier not supported")
        slash = rest.find("/")
        bucket = rest if slash < 0 else rest[:slash]
        if not is_valid_bucket_name(bucket):
            raise invalid_argument(f"Invalid GCS bucket name: {dumps(bucket)}")
        path = percent_decode_path(rest[slash + 1 :]) if slash >= 0 else ""
        j: dict[str, Any] = {"driver": "gcs", "bucket": bucket}
        if path:
            j["path"] = path
        return j

    def to_url(self, path: str) -> str:
        return f"gs://{self.bucket}/" + percent_encode_path(path)

    def open(self, resources: dict[str, Resource]) -> "GcsDriver":
        return GcsDriver(self, resources)


# ---------------------------------------------------------------------------------------------
# The driver.

# Resource members TensorStore 0.1.86 prints inline in a KvStore repr; see `GcsDriver.spec_json`.
_SETTINGS_MEMBERS = ("gcs_request_retries", "gcs_user_project")


class GcsDriver(KvStoreDriver):
    """Requests run on the ``gcs_request_concurrency`` pool through its shared HTTP client."""

    def __init__(self, spec: GcsDriverSpec, resources: dict[str, Resource]):
        super().__init__(spec, resources)
        self.concurrency = resources["gcs_request_concurrency"]
        self.policy = retry_policy(resources["gcs_request_retries"])
        self.user_project = user_project_of(resources["gcs_user_project"])
        base, emulated = http.endpoint()
        self.bucket = spec.bucket
        self.resource_root = f"{base}/storage/v1/b/{self.bucket}"
        self.upload_root = f"{base}/upload/storage/v1/b/{self.bucket}"
        self.credentials = http.shared_credentials(anonymous=emulated)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def executor(self) -> Any:
        return self.concurrency.executor

    @property
    def client(self) -> http.HttpClient:
        return client_for(self.concurrency)

    def _query(self, params: list[tuple[str, Any]]) -> str:
        if self.user_project is not None:
            params = params + [("userProject", self.user_project)]
        return "&".join(f"{k}={http.encode_component(str(v))}" for k, v in params)

    def _send(self, method: str, url: str, **kwargs: Any) -> tuple[http.HttpResponse, float]:
        limiters = http_transport.rate_limiters(self.driver_spec.options.get("experimental_gcs_rate_limiter"))
        return http.send(self.client, self.policy, self.credentials, method, url, limiters=limiters, **kwargs)

    def spec_json(self, path: str, builder: ContextSpecBuilder | None = MISSING) -> dict:
        """As `KvStoreDriver.spec_json`.

        The project's context layer lists ``gcs_request_retries`` and ``gcs_user_project`` under
        "context", as TensorStore's documentation (the seed page) shows for a TensorStore.
        TensorStore 0.1.86 prints them inline in a ``KvStore`` repr; a builder whose
        ``settings_inline`` attribute is true gets that layout.
        """
        if builder is MISSING or builder is None or not getattr(builder, "settings_inline", False):
            return super().spec_json(path, builder)
        return http_transport.spec_json_settings_inline(self, path, builder, _SETTINGS_MEMBERS)

    # -- read -------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future[ReadResult]:
        name = _object_name(key)
        _check_generations(options.if_equal, options.if_not_equal)
        return submit(self.executor, self._read_task, name, options)

    def _read_task(self, name: str, options: ReadOptions) -> ReadResult:
        byte_range = options.byte_range
        metadata_only = byte_range is not None and byte_range[1] is not None and byte_range[0] == byte_range[1]
        params: list[tuple[str, Any]] = [("alt", "json" if metadata_only else "media")]
        if options.if_not_equal:
            params.append(("ifGenerationNotMatch", generation_number(options.if_not_equal)))
        if options.if_equal:
            params.append(("ifGenerationMatch", generation_number(options.if_equal)))
        headers = {}
        range_header = None if metadata_only else http_transport.range_header(byte_range)
        if range_header:
            headers["Range"] = range_header
        url = f"{self.resource_root}/o/{http.encode_component(name)}?{self._query(params)}"
        response, started = self._send("GET", url, headers=headers, passthrough=(304, 404, 412), cache_bust=True)
        status = response.status
        if status in (204, 404):
            return ReadResult("missing", b"", TimestampedStorageGeneration(gen.NO_VALUE, started))
        if status == 412:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(gen.UNKNOWN, started))
        if status == 304:
            return ReadResult("unspecified", b"", TimestampedStorageGeneration(options.if_not_equal or b"", started))
        if metadata_only:
            number = _metadata_generation(response.body)
            value = b""
        else:
            value = http_transport.validate_byte_range(response, byte_range)
            number = _header_generation(response.headers)
        return ReadResult("value", value, TimestampedStorageGeneration(gen.from_uint64(number), started))

    # -- write / delete ---------------------------------------------------------------------

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future[TimestampedStorageGeneration]:
        name = _object_name(key)
        _check_generations(options.if_equal)
        if value is None:
            return submit(self.executor, self._delete_task, name, options.if_equal)
        return submit(self.executor, self._write_task, name, bytes(value), options.if_equal)

    def _write_task(self, name: str, value: bytes, if_equal: bytes | None) -> TimestampedStorageGeneration:
        params: list[tuple[str, Any]] = [("uploadType", "media"), ("name", name)]
        if if_equal:
            params.append(("ifGenerationMatch", generation_number(if_equal)))
        url = f"{self.upload_root}/o?{self._query(params)}"
        headers = {"Content-Type": "application/octet-stream"}
        # A media upload is atomic on GCS: the object appears only once the whole body arrived.
        response, started = self._send("POST", url, headers=headers, body=value, passthrough=(304, 404, 412))
        # 404 under a generation condition: the object the condition named is gone.
        if response.status in (304, 412) or (response.status == 404 and if_equal and if_equal != gen.NO_VALUE):
            return TimestampedStorageGeneration(gen.UNKNOWN, started)
        if response.status == 404:
            error = http.status_from_response(response)
            assert error is not None
            raise error
        return TimestampedStorageGeneration(gen.from_uint64(_metadata_generation(response.body)), started)

    def _delete_task(self, name: str, if_equal: bytes | None) -> TimestampedStorageGeneration:
        params: list[tuple[str, Any]] = []
        if if_equal:
            params.append(("ifGenerationMatch", generation_number(if_equal)))
        query = self._query(params)
        url = f"{self.resource_root}/o/{http.encode_component(name)}" + (f"?{query}" if query else "")
        response, started = self._send("DELETE", url, passthrough=(404, 412))
        if response.status == 412 or (response.status == 404 and if_equal and if_equal != gen.NO_VALUE):
            return TimestampedStorageGeneration(gen.UNKNOWN, started)
        return TimestampedStorageGeneration(gen.NO_VALUE, started)

    # -- ranges -----------------------------------------------------------------------------

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future[list[bytes]]:
        if key_range.empty:
            return ready([])
        return submit(self.executor, self._list_task, key_range, strip_prefix_length)

    def _list_task(self, key_range: KeyRange, strip: int) -> list[bytes]:
        base: list[tuple[str, Any]] = []
        # Object names are UTF-8.  A bound that is not is widened (the start to its longest
        # UTF-8 prefix, the end dropped) and the keys are filtered below.
        start = _utf8_prefix(key_range.inclusive_min)
        if start:
            base.append(("startOffset", start))
        if key_range.exclusive_max:
            try:
                base.append(("endOffset", key_range.exclusive_max.decode("utf-8")))
            except UnicodeDecodeError:
                pass
        keys: list[bytes] = []
        token = ""
        while True:
            params = base + ([("pageToken", token)] if token else [])
            query = self._query(params)
            url = f"{self.resource_root}/o" + (f"?{query}" if query else "")
            response, _started = self._send("GET", url)
            page = _parse_json(response.body, "list response")
            for item in page.get("items") or ():
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str):
                    raise StatusError("INTERNAL", f"Failed to parse response metadata: {dumps(item)}")
                full = name.encode("utf-8")
                # Servers that ignore startOffset/endOffset (some emulators) must not leak keys.
                if contains(key_range, full):
                    keys.append(full[strip:])
            token = page.get("nextPageToken") or ""
            if not token:
                return keys

    def delete_range(self, key_range: KeyRange) -> Future[None]:
        if key_range.empty:
            return ready(None)

        def delete_all(keys: list[bytes]) -> Future:
            deletes = [submit(self.executor, self._delete_task, k.decode("utf-8"), None) for k in keys]
            return chain(gather(deletes), lambda _results: None)

        return chain(self.list(key_range), delete_all)


# ---------------------------------------------------------------------------------------------
# Response helpers.


def _utf8_prefix(data: bytes) -> str:
    """The longest prefix of `data` that is valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].decode("utf-8")


def _parse_json(body: bytes, what: str) -> dict:
    try:
        j = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise StatusError("INTERNAL", f"Failed to parse {what}: {body[:256]!r}") from None
    if not isinstance(j, dict):
        raise StatusError("INTERNAL", f"Failed to parse {what}: {dumps(j)}")
    return j


def _metadata_generation(body: bytes) -> int:
    metadata = _parse_json(body, "object metadata")
    try:
        return int(metadata.get("generation", 0))
    except (TypeError, ValueError):
        raise StatusError("INTERNAL", f"Invalid object generation: {dumps(metadata.get('generation'))}") from None


def _header_generation(headers: dict[str, str]) -> int:
    # Without the header (some emulators omit it) TensorStore reports generation 0.
    text = headers.get("x-goog-generation")
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        raise StatusError("INTERNAL", f"Invalid x-goog-generation header: {dumps(text)}") from None


register_kvstore_driver("gcs", GcsDriverSpec, url_scheme="gs")
