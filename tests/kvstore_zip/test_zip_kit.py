"""The zip kvstore (members of an archive on a memory or file base) passes the public kit."""

from __future__ import annotations

import shutil
import tempfile

import tensorstore_py as ts
from tensorstore_py.testing.kvstore import KvStoreTests


class TestZipOnMemoryKit(KvStoreTests):
    spec = {"driver": "zip", "base": "memory://archive.zip"}
    examples = 8


class TestZipDeflateOnFileKit(KvStoreTests):
    examples = 5

    def setup_method(self) -> None:
        self.root = tempfile.mkdtemp(prefix="tspy_zip_kit_")

    def teardown_method(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def open_kvstore(self) -> ts.KvStore:
        path = tempfile.mktemp(dir=self.root, suffix=".zip")
        spec = {"driver": "zip", "base": {"driver": "file", "path": path}, "compression": "deflate"}
        return ts.KvStore.open(spec, context=ts.Context()).result()
