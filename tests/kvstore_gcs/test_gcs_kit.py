"""The gcs kvstore, against the session's GCS emulator, passes the public kvstore kit."""

from __future__ import annotations

import uuid

import pytest

import tensorstore_py as ts
from gcs_testing import gcs_spec
from tensorstore_py.testing.kvstore import KvStoreTests


class TestGcsKit(KvStoreTests):
    examples = 6

    @pytest.fixture(autouse=True)
    def _server(self, emulator):
        """The emulator is a session fixture; each example gets a fresh prefix in its bucket."""

    def open_kvstore(self) -> ts.KvStore:
        return ts.KvStore.open(gcs_spec(f"kit{uuid.uuid4().hex[:12]}/"), context=ts.Context()).result()
