"""The ``gcs`` kvstore driver (Google Cloud Storage over its JSON API).

Importing this package registers the driver (``{"driver": "gcs", "bucket": ...}``, URLs
``gs://bucket/path``) and its context resources ``gcs_request_concurrency``,
``gcs_request_retries`` and ``gcs_user_project``.  The endpoint is
``TENSORSTORE_GCS_HTTP_URL`` or ``STORAGE_EMULATOR_HOST`` when set (anonymous access), else
``https://storage.googleapis.com`` with application default credentials when present.
"""

from . import resources as _resources  # noqa: F401  (registers the context resources)
from .driver import GcsDriver, GcsDriverSpec

__all__ = ["GcsDriver", "GcsDriverSpec"]
