"""An ocdbt database on the GCS emulator: written by either library, read by both (the
manifest's conditional write goes through GCS generation preconditions)."""

from __future__ import annotations

import pytest
import tensorstore as ref

import tensorstore_py as ts
from gcs_testing import gcs_spec


@pytest.mark.parametrize("writer", ["mine", "theirs"])
def test_ocdbt_on_gcs(emulator, prefix, writer):
    lib = ts if writer == "mine" else ref
    spec = {"driver": "ocdbt", "base": gcs_spec(prefix), "config": {"max_inline_value_bytes": 8}}
    kv = lib.KvStore.open(spec).result()
    for i in range(5):
        kv[f"key{i}"] = b"value-%d" % i * (i + 1)
    with lib.Transaction(atomic=True) as txn:
        kv.with_transaction(txn)["key0"] = b"new"
        kv.with_transaction(txn)["key9"] = b"added"
    for reader in (ts, ref):
        other = reader.KvStore.open(spec).result()
        assert sorted(other.list().result()) == [b"key0", b"key1", b"key2", b"key3", b"key4", b"key9"]
        assert other["key3"] == b"value-3" * 4
        assert other["key0"] == b"new"
        old = reader.KvStore.open({**spec, "version": 2}).result()
        assert old["key0"] == b"value-0"
