"""The read-only http kvstore, against the session's static server, passes the public kit's
read tests (writes, list and delete_range are not part of it)."""

from __future__ import annotations

import os
import uuid

import pytest

import tensorstore_py as ts
from tensorstore_py.testing.kvstore import KvStoreTests

CONTENTS = {b"a": b"first value", b"bc": b"", b"d/e": bytes(range(256)) * 3, b"d/ff": b"x"}


class TestHttpKit(KvStoreTests):
    writable = False
    supports_list = False
    supports_delete_range = False
    supports_transactions = False

    @pytest.fixture(autouse=True)
    def _server(self, www):
        server, root = www
        self.prefix = f"kit{uuid.uuid4().hex[:12]}"
        for key, value in CONTENTS.items():
            path = os.path.join(root, self.prefix, key.decode())
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(value)
        self.base_url = f"{server.url}/{self.prefix}/"

    def initial_contents(self) -> dict[bytes, bytes]:
        return dict(CONTENTS)

    def open_kvstore(self) -> ts.KvStore:
        return ts.KvStore.open({"driver": "http", "base_url": self.base_url}, context=ts.Context()).result()
