"""The memory and file kvstores pass the public kvstore conformance kit."""

from __future__ import annotations

import shutil
import tempfile

import tensorstore_py as ts
from tensorstore_py.testing.kvstore import KvStoreTests


class TestMemoryKit(KvStoreTests):
    spec = "memory://"
    atomic_transactions = True


class TestMemoryUnderPathKit(KvStoreTests):
    spec = {"driver": "memory", "path": "some/prefix/"}
    atomic_transactions = True


class TestFileKit(KvStoreTests):
    examples = 8

    def setup_method(self) -> None:
        self.root = tempfile.mkdtemp(prefix="tspy_kit_")

    def teardown_method(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def open_kvstore(self) -> ts.KvStore:
        # A new directory per example (pytest's tmp_path is one per test, not per example).
        return ts.KvStore.open({"driver": "file", "path": tempfile.mkdtemp(dir=self.root) + "/"}).result()
