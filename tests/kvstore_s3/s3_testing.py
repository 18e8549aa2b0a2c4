"""The S3 test server (moto's threaded server on loopback) and spec helpers shared by the s3
tests and the benchmark (a uniquely named module, so no other directory's helper shadows it)."""

from __future__ import annotations

import os

BUCKET = "ts-bucket"
#: fast retries, so fault tests take milliseconds
FAST_RETRIES = {"max_retries": 3, "initial_delay": "1ms", "max_delay": "4ms"}
#: credentials moto accepts (it does not check signatures)
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing-token"}


def s3_error_body(code: int) -> tuple[str, bytes]:
    """An S3 XML error document, for the fault proxy's injected answers."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>Injected%d</Code>'
        "<Message>injected %d</Message><RequestId>req</RequestId></Error>" % (code, code)
    )
    return "application/xml", body.encode()


class MotoS3:
    """``MotoS3().start()``: moto's S3 on a free loopback port; ``url``, ``client`` (boto3),
    ``stop()``.  Sets the AWS environment variables both libraries read (restored by stop)."""

    def __init__(self, buckets=(BUCKET,)):
        from moto.server import ThreadedMotoServer

        self._saved = {k: os.environ.get(k) for k in AWS_ENV}
        os.environ.update(AWS_ENV)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.buckets = buckets

    def start(self) -> "MotoS3":
        self._server.start()
        import boto3

        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")
        for bucket in self.buckets:
            self.client.create_bucket(Bucket=bucket)
        return self

    @property
    def port(self) -> int:
        return self._server.get_host_and_port()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def objects(self, bucket: str = BUCKET, prefix: str = "") -> dict[str, bytes]:
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                out[item["Key"]] = self.client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return out

    def stop(self) -> None:
        self._server.stop()
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def s3_spec(endpoint: str, path: str = "", bucket: str = BUCKET, **members) -> dict:
    spec = {"driver": "s3", "bucket": bucket, "endpoint": endpoint, "path": path}
    spec.update(members)
    return spec
