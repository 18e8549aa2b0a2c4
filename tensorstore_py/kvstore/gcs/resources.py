"""Context resources of the ``gcs`` driver.

- ``gcs_request_concurrency`` (``{"limit": n | "shared"}``): a thread pool of ``limit`` workers
  that issue the HTTP requests, plus the one HTTP client (connection pool) they share
  (`client_for`, from the shared HTTP layer).  The ``"shared"`` default is one process-wide
  pool of 32, as in TensorStore.
- ``gcs_request_retries`` (``max_retries`` 32, ``initial_delay`` 1s, ``max_delay`` 32s): the
  backoff policy for transient failures (`retry_policy`).
- ``gcs_user_project`` (``{"project_id": ...}``): the project billed for requester-pays buckets,
  sent as ``userProject`` (`user_project_of`).

The context layer registers these providers; this module registers its own only where one is
missing, so the driver works whichever layer defines them.
"""

from __future__ import annotations

from typing import Any

from ...context import (
    ConcurrencyProvider, ResourceProvider, RetriesProvider, get_provider,
    register_resource_provider,
)  # fmt: skip
from ...json_util import ObjectReader, expect_object, expect_string
from ..http_transport import SHARED_LIMIT, RetryPolicy, client_for, parse_rate_limiter, retry_policy

__all__ = ["RetryPolicy", "client_for", "retry_policy", "user_project_of", "SHARED_LIMIT", "parse_rate_limiter"]

# The request pool and its client, and the retry policy, are the shared HTTP layer's.


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


def user_project_of(resource: Any) -> str | None:
    """The ``project_id`` of a bound ``gcs_user_project`` resource, if any."""
    return resource.spec.get("project_id")
