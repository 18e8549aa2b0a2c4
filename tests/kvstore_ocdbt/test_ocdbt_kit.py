"""The ocdbt kvstore passes the public kvstore kit, on a memory base and on a file base."""

from __future__ import annotations

import itertools

import pytest

import tensorstore_py as ts
from tensorstore_py.testing.kvstore import KvStoreTests


class TestOcdbtKit(KvStoreTests):
    spec = {"driver": "ocdbt", "base": "memory://"}
    atomic_transactions = True  # a transaction on one database commits as one version


class TestOcdbtOnFileKit(KvStoreTests):
    examples = 5
    atomic_transactions = True

    @pytest.fixture(autouse=True)
    def _root(self, tmp_path):
        self._dirs = (tmp_path / str(n) for n in itertools.count())

    def open_kvstore(self) -> ts.KvStore:
        # A new, empty database for every example.
        base = {"driver": "file", "path": str(next(self._dirs)) + "/"}
        return ts.KvStore.open({"driver": "ocdbt", "base": base}, context=ts.Context()).result()
