"""The ``s3`` kvstore driver (Amazon S3 and S3-compatible servers).

Importing this package registers the driver (``{"driver": "s3", "bucket": ...}``, URLs
``s3://bucket/path``) and the ``aws_credentials`` context resource; ``s3_request_concurrency``
and ``s3_request_retries`` are the context layer's.  Signing needs botocore (the ``s3`` extra).
"""

from . import credentials as _credentials  # noqa: F401  (registers aws_credentials)
from .driver import S3Driver, S3DriverSpec

__all__ = ["S3Driver", "S3DriverSpec"]
