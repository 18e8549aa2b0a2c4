"""The spec of an open ocdbt kvstore shows the database's whole config (uuid, compression ...)
once the handle has written its manifest, as TensorStore's does; checked against tensorstore."""

from __future__ import annotations

import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _specs(lib, name):
    def spec(kv, **options):
        j = (kv.spec(**options) if options else kv.spec()).to_json()
        if "uuid" in j.get("config", {}):
            j["config"]["uuid"] = "UUID"  # (each library made its own database)
        return j

    base = f"memory://{name}/"
    out = []
    kv = lib.KvStore.open({"driver": "ocdbt", "base": base + "db1/"}).result()
    out.append(spec(kv))  # nothing read yet: the spec as given
    kv["a"] = b"x"
    out.append(spec(kv))
    again = lib.KvStore.open({"driver": "ocdbt", "base": base + "db1/"}).result()
    out.append(spec(again))
    again.read("a").result()
    out.append(spec(again))
    constrained = lib.KvStore.open({"driver": "ocdbt", "base": base + "db1/", "config": {"max_inline_value_bytes": 50}})
    out.append(spec(constrained.result()))
    kv = lib.KvStore.open({"driver": "ocdbt", "base": base + "db2/",
                           "config": {"max_inline_value_bytes": 50, "compression": None}}).result()
    kv["b"] = b"y"
    out.append(spec(kv))
    out.append(spec(kv, retain_context=True))
    store = lib.open({"driver": "zarr", "kvstore": {"driver": "ocdbt", "base": base + "db3/"}}, create=True,
                     dtype=lib.float32, shape=[4, 5]).result()
    j = store.spec().to_json()["kvstore"]
    j["config"]["uuid"] = "UUID"
    out.append(j)
    return out


def test_spec_config_as_tensorstore_prints_it():
    ours, theirs = _specs(ts, "ours"), _specs(ref, "theirs")
    assert [repr(o).replace("ours", "LIB") for o in ours] == [repr(t).replace("theirs", "LIB") for t in theirs]
