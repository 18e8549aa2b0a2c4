"""Context resources of the ``gcs`` driver.

- ``gcs_request_concurrency`` (``{"limit": n | "shared"}``): a thread pool of ``limit`` workers
  that issue the HTTP requests, plus the one HTTP client (connection pool) they share
  (`client_for`).  The ``"shared"`` default is one process-wide pool of 32, as in TensorStore.
- ``gcs_request_retries`` (``max_retries`` 32, ``initial_delay`` 1s, ``max_delay`` 32s): the
  backoff policy for transient failures (`retry_policy`).
- ``gcs_user_project`` (``{"project_id": ...}``): the project billed for requester-pays buckets,
  sent as ``userProject`` (`user_project_of`).

The context layer registers these providers; this module registers its own only where one is
missing, so the driver works whichever layer defines them.
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any

from ...context import (
    ConcurrencyProvider, ResourceProvider, RetriesProvider, get_provider, parse_duration,
    register_resource_provider,
)  # fmt: skip
from ...json_util import ObjectReader, expect_object, expect_string

__all__ = ["RetryPolicy", "client_for", "retry_policy", "user_project_of", "SHARED_LIMIT", "parse_rate_limiter"]

#: the process-wide request limit behind ``{"limit": "shared"}``
SHARED_LIMIT = 32

_clients: dict[Any, Any] = {}
_clients_lock = threading.Lock()


def client_for(resource: Any) -> Any:
    """The `HttpClient` of a bound ``gcs_request_concurrency`` resource.

    One client per resource (a shared resource: one per process), sized to the resource's
    limit and created on first use; a forked child gets its own.
    """
    pid = os.getpid()
    client = getattr(resource, "_gcs_http_client", None)
    if client is not None and client[0] == pid:
        return client[1]
    from .http import HttpClient

    with _clients_lock:
        client = getattr(resource, "_gcs_http_client", None)
        if client is not None and client[0] == pid:
            return client[1]
        shared = "limit" not in resource.spec
        limit = resource.spec.get("limit", SHARED_LIMIT)
        if shared:
            made = _clients.get((resource.provider.id, pid))
            if made is None:
                made = _clients[(resource.provider.id, pid)] = HttpClient(limit)
        else:
            made = HttpClient(limit)
        resource._gcs_http_client = (pid, made)
        return made


class _UserProjectProvider(ResourceProvider):
    """``{"project_id": "..."}``; an empty object bills the bucket's own project."""

    id = "gcs_user_project"

    def parse(self, j: Any) -> Any:
        reader = ObjectReader(expect_object(j))
        project = reader.get("project_id", expect_string, None)
        reader.finish()
        return {} if project is None else {"project_id": project}


def _register_missing() -> None:
    fallbacks = {
        "gcs_request_concurrency": lambda: ConcurrencyProvider("gcs_request_concurrency", lambda: SHARED_LIMIT),
        "gcs_request_retries": lambda: RetriesProvider("gcs_request_retries", 32),
        "gcs_user_project": _UserProjectProvider,
    }
    for provider_id, make in fallbacks.items():
        try:
            get_provider(provider_id)
        except ValueError:
            register_resource_provider(make())


_register_missing()


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

