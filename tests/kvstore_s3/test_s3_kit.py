"""The s3 kvstore, against the session's moto server, passes the public kvstore kit."""

from __future__ import annotations

import unittest
import uuid

import pytest

import tensorstore_py as ts
from s3_testing import s3_spec
from tensorstore_py.testing.kvstore import KvStoreTests


class TestS3Kit(KvStoreTests):
    examples = 6

    @pytest.fixture(autouse=True)
    def _server(self, moto):
        self.endpoint = moto.url

    def test_concurrent_conditional_increments(self) -> None:
        # moto's threaded server checks If-Match and then stores the object without a lock
        # (moto/s3/responses.py), so two concurrent conditional PUTs can both succeed there:
        # an increment was lost once in 200 examples.  S3 itself is atomic; the sequential
        # condition tests still run.
        raise unittest.SkipTest("moto's conditional PUT is not atomic")

    def open_kvstore(self) -> ts.KvStore:
        return ts.KvStore.open(s3_spec(self.endpoint, f"kit{uuid.uuid4().hex[:12]}/"), context=ts.Context()).result()
