"""Constants and spec helpers shared by the gcs tests (a uniquely named module, so test files
never pick up another directory's ``conftest``)."""

from __future__ import annotations

BUCKET = "ts-bucket"
#: fast retries, so fault tests take milliseconds
FAST_RETRIES = {"max_retries": 3, "initial_delay": "1ms", "max_delay": "4ms"}


def gcs_spec(path: str = "", bucket: str = BUCKET, **members) -> dict:
    """A gcs kvstore spec on the test bucket."""
    spec = {"driver": "gcs", "bucket": bucket, "path": path}
    spec.update(members)
    return spec
