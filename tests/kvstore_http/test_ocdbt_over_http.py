"""An ocdbt database served read-only over HTTP (``https://host/db/|ocdbt:``), as TensorStore
reads published databases: every version, byte ranges of large values."""

from __future__ import annotations

import pytest
import tensorstore as ref

import tensorstore_py as ts


def test_ocdbt_over_http(server, root, tmp_path):
    import os

    db = os.path.join(root, "ocdbt_db")
    kv = ref.KvStore.open({"driver": "ocdbt", "base": f"file://{db}/", "config": {"max_inline_value_bytes": 8}}).result()
    kv["a"] = b"first"
    kv["b"] = bytes(range(256)) * 10
    kv["a"] = b"second"
    url = f"{server.url}/ocdbt_db/|ocdbt:"
    store = ts.KvStore.open(url).result()
    assert store.list().result() == [b"a", b"b"]
    assert store["a"] == b"second"
    assert store.read("b", byte_range=slice(256, 260)).result().value == bytes(range(4))
    assert ts.KvStore.open(f"{server.url}/ocdbt_db/|ocdbt:@v2/").result()["a"] == b"first"
    # The base refuses writes, and so does the database, with the same error as TensorStore's.
    for lib in (ts, ref):
        with pytest.raises(NotImplementedError):
            lib.KvStore.open(url).result()["c"] = b"x"
