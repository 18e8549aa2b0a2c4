"""What the ``gcs`` driver adds to the shared HTTP layer (`..http_transport`): the endpoint,
object-name encoding, GCS's JSON error messages and Google credentials.

`send` is the shared layer's `send` with GCS's error messages
(``PERMISSION_DENIED: ... [http_response_code='403']``, ``ABORTED: All 32 retry attempts
failed: ...``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from typing import Any, Callable, Iterable

from ...errors import StatusError
from .. import http_transport
from ..http_transport import (
    HttpClient, HttpResponse, RetryPolicy, default_message, http_status_error, status_code_for,
)  # fmt: skip

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
# Status mapping.


def status_from_response(response: HttpResponse) -> StatusError | None:
    """The error a response stands for (None for success), with GCS's JSON error message."""
    code = status_code_for(response.status)
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
        message = default_message(response)
    return http_status_error(code, message, response)


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

    def authorize(self, method: str, url: str, headers: dict[str, str], body: Any) -> None:
        headers.update(self.headers())


def _default_credentials(scope: str) -> Any:
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        # Without google-auth, credentials can be neither found nor used: say so when some are
        # configured rather than silently going anonymous; else access is anonymous, as
        # TensorStore's is when it finds none.
        if _credentials_configured():
            raise StatusError(
                "FAILED_PRECONDITION",
                "GCS credentials are configured but google-auth is not installed: pip install 'tensorstore_py[gcs]'",
            ) from None
        return None
    try:
        creds, _project = google.auth.default(scopes=[scope])
    except google.auth.exceptions.DefaultCredentialsError:
        return None
    return creds


def _credentials_configured() -> bool:
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    config = os.environ.get("CLOUDSDK_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    return os.path.exists(os.path.join(config, "application_default_credentials.json"))


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
# Sending.


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
    limiters: Any = None,
) -> tuple[HttpResponse, float]:
    """`http_transport.send` with GCS's error messages (see there)."""
    return http_transport.send(
        client, policy, credentials, method, url, headers=headers, body=body, passthrough=passthrough,
        cache_bust=cache_bust, error_from=status_from_response, sleep=sleep, limiters=limiters,
    )  # fmt: skip
