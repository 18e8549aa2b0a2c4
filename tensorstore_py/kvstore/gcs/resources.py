"""Context resources of the ``gcs`` driver.

- ``gcs_request_concurrency`` (``{"limit": n | "shared"}``): a thread pool of ``limit`` workers
  that issue the HTTP requests, plus the one HTTP client (connection pool) they share.  The
  ``"shared"`` default is one process-wide pool of 32, as in TensorStore.
- ``gcs_request_retries`` (``max_retries`` 32, ``initial_delay`` 1s, ``max_delay`` 32s): the
  backoff policy for transient failures.  A plain setting: printed inline in specs.
- ``gcs_user_project`` (``{"project_id": ...}``): the project billed for requester-pays buckets,
  sent as ``userProject``.  Also a plain setting.
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any

from ...context import (
    ConcurrencyProvider, ConcurrencyResource, ResourceProvider, RetriesProvider, parse_duration,
    register_resource_provider,
)  # fmt: skip
from ...json_util import ObjectReader, expect_object, expect_string

__all__ = [
    "GcsConcurrencyResource", "RetryPolicy", "retry_policy", "user_project_of", "SHARED_LIMIT",
    "parse_rate_limiter",
]  # fmt: skip

#: the process-wide request limit behind ``{"limit": "shared"}``
SHARED_LIMIT = 32

_shared_clients: dict[int, Any] = {}
_shared_clients_lock = threading.Lock()


class GcsConcurrencyResource(ConcurrencyResource):
    """A request pool and the HTTP client its workers share.

    A shared resource uses the process-wide pool and client, so every store opened with the
    default context reuses the same connections.
    """

    def __init__(self, provider: ConcurrencyProvider, spec: Any, key: str | None):
        super().__init__(provider, spec, key)
        self._client: Any = None
        self._client_pid = 0
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The `HttpClient` of this resource (created on first use; a forked child gets its own)."""
        pid = os.getpid()
        if self._client is None or self._client_pid != pid:
            with self._client_lock:
                if self._client is None or self._client_pid != pid:
                    self._client = self._make_client(pid)
                    self._client_pid = pid
        return self._client

    def _make_client(self, pid: int) -> Any:
        from .http import HttpClient

        if not self.shared:
            return HttpClient(self.limit)
        with _shared_clients_lock:
            client = _shared_clients.get(pid)
            if client is None:
                client = _shared_clients[pid] = HttpClient(self.limit)
            return client


class GcsConcurrencyProvider(ConcurrencyProvider):
    resource_class = GcsConcurrencyResource


class GcsUserProjectProvider(ResourceProvider):
    """``{"project_id": "..."}``; an empty object bills the bucket's own project."""

    id = "gcs_user_project"
    config_only = True

    def parse(self, j: Any) -> Any:
        reader = ObjectReader(expect_object(j))
        project = reader.get("project_id", expect_string, None)
        reader.finish()
        return {} if project is None else {"project_id": project}

    def to_json(self, spec: Any, include_defaults: bool) -> Any:
        return dict(spec)


for _provider in (
    GcsConcurrencyProvider("gcs_request_concurrency", lambda: SHARED_LIMIT),
    RetriesProvider("gcs_request_retries", 32),
    GcsUserProjectProvider(),
):
    register_resource_provider(_provider)
del _provider


# ---------------------------------------------------------------------------------------------
# Reading the bound resources.


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
    """The `RetryPolicy` of a bound ``gcs_request_retries`` resource."""
    spec = resource.spec
    initial = parse_duration(spec["initial_delay"]) / 1e9 if "initial_delay" in spec else 1.0
    maximum = parse_duration(spec["max_delay"]) / 1e9 if "max_delay" in spec else 32.0
    return RetryPolicy(spec.get("max_retries", 32), initial, max(maximum, 0.0))


def user_project_of(resource: Any) -> str | None:
    """The ``project_id`` of a bound ``gcs_user_project`` resource, if any."""
    return resource.spec.get("project_id")


# ---------------------------------------------------------------------------------------------
# ``experimental_gcs_rate_limiter``: accepted and printed as TensorStore does; not enforced.

_RATE_MEMBERS = ("read_rate", "write_rate")


def _expect_float(j: Any) -> float:
    from ...errors import invalid_argument
    from ...json_util import dumps

    if isinstance(j, bool) or not isinstance(j, (int, float)):
        raise invalid_argument(f"Expected 64-bit floating-point number, but received: {dumps(j)}")
    return float(j)


def parse_rate_limiter(j: Any) -> dict:
    """Validates an ``experimental_gcs_rate_limiter`` object; returns it normalized."""
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

