"""The cheap open path: a local file's metadata read in the caller's thread, parsed metadata
shared between opens of the same bytes.  Each behaviour is checked against what TensorStore
0.1.86 does for the same sequence of opens and external changes."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

import tensorstore_py as ts
from tensorstore_py import metrics
from tensorstore_py.kvstore import file as file_kvstore

ref = pytest.importorskip("tensorstore")

FORMATS = {"zarr": ".zarray", "zarr3": "zarr.json", "n5": "attributes.json"}


def _spec(driver: str, path: str) -> dict:
    return {"driver": driver, "kvstore": {"driver": "file", "path": path}}


def _create(lib, driver: str, path: str, shape=(4, 6)) -> None:
    store = lib.open(
        _spec(driver, path), create=True, dtype=lib.int16, shape=list(shape),
        chunk_layout=lib.ChunkLayout(chunk_shape=[2, 3]),
    ).result()
    store.write(np.arange(np.prod(shape), dtype=np.int16).reshape(shape)).result()


def _rewrite_shape(driver: str, path: str, shape: list[int]) -> None:
    """Changes the stored shape behind the library's back, as another program would."""
    key = os.path.join(path, FORMATS[driver])
    with open(key) as f:
        j = json.load(f)
    j["dimensions" if driver == "n5" else "shape"] = shape
    with open(key, "w") as f:
        json.dump(j, f)


@pytest.mark.parametrize("driver", sorted(FORMATS))
def test_open_is_done_at_once_and_counts_the_read(tmp_path, driver):
    path = str(tmp_path / "a")
    _create(ts, driver, path)
    reads = metrics.kvstore_metrics("file").read
    before = reads.value()
    fut = ts.open(_spec(driver, path))
    # No pool hand-off for a local file: the Future is complete when `open` returns.
    assert fut.done()
    assert reads.value() == before + 1
    theirs = ref.open(_spec(driver, path)).result()
    assert fut.result().domain.exclusive_max == theirs.domain.exclusive_max
    assert fut.result().read().result().tolist() == np.arange(24, dtype=np.int16).reshape(4, 6).tolist()


@pytest.mark.parametrize("driver", sorted(FORMATS))
def test_new_open_sees_metadata_changed_outside(tmp_path, driver):
    results = {}
    for name, lib in (("ts_py", ts), ("ts", ref)):
        path = str(tmp_path / name)
        _create(lib, driver, path)
        first = lib.open(_spec(driver, path)).result()
        _rewrite_shape(driver, path, [8, 6])
        second = lib.open(_spec(driver, path)).result()
        results[name] = (first.shape, second.shape, first.domain.exclusive_max)
    assert results["ts_py"] == results["ts"]
    assert results["ts_py"][1] == (8, 6)


@pytest.mark.parametrize("driver", sorted(FORMATS))
def test_bad_stored_metadata_is_not_remembered(tmp_path, driver):
    path = str(tmp_path / "a")
    _create(ts, driver, path)
    key = os.path.join(path, FORMATS[driver])
    with open(key, "rb") as f:
        good = f.read()
    with open(key, "wb") as f:
        f.write(b"{not json")
    for _ in range(2):  # the error is reported each time, never served from a memo
        with pytest.raises(ValueError, match="FAILED_PRECONDITION|INVALID_ARGUMENT"):
            ts.open(_spec(driver, path)).result()
    with open(key, "wb") as f:
        f.write(good)
    assert ts.open(_spec(driver, path)).result().shape == (4, 6)


def test_opens_of_the_same_bytes_share_parsed_metadata(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, "zarr", path)
    a = ts.open(_spec("zarr", path)).result()
    b = ts.open(_spec("zarr", path)).result()
    # Two default contexts: separate stores, one parsed (never modified) metadata.
    assert a._driver is not b._driver
    assert a._driver.metadata is b._driver.metadata
    resized = a.resize(exclusive_max=[5, 6]).result()
    assert resized._driver.metadata is not a._driver.metadata
    assert resized.shape == (5, 6) and a._driver.metadata.shape == [4, 6]
    assert ts.open(_spec("zarr", path)).result().shape == (5, 6)
    assert ref.open(_spec("zarr", path)).result().shape == (5, 6)


def test_missing_array_is_not_found_at_once(tmp_path):
    fut = ts.open(_spec("zarr", str(tmp_path / "none")))
    assert fut.done()
    with pytest.raises(ValueError) as ours:
        fut.result()
    with pytest.raises(ValueError) as theirs:
        ref.open(_spec("zarr", str(tmp_path / "none"))).result()
    assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0] == "NOT_FOUND"


def test_a_store_without_read_now_is_read_through_read(tmp_path):
    """A store that cannot read in the caller's thread (a server; here a test double) is read
    through its `read` Future."""
    from tensorstore_py.cache.metadata import MetadataEntry
    from tensorstore_py.context import Context
    from tensorstore_py.kvstore.driver import open_kvstore_driver

    path = str(tmp_path / "a")
    _create(ts, "zarr", path)
    calls = []

    class Recording(file_kvstore.FileDriver):
        read_now = None

        def read(self, key, options):
            calls.append(key)
            return super().read(key, options)

    kv, prefix = open_kvstore_driver({"driver": "file", "path": path + "/"}, Context())
    kv.__class__ = Recording
    key = (prefix + ".zarray").encode()
    entry = MetadataEntry(kv, key, json.loads)
    value, _generation = entry.get(float("-inf")).result()
    assert calls == [key] and value["shape"] == [4, 6]


def test_open_from_many_threads(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, "zarr3", path)
    shapes, errors = [], []

    def work():
        try:
            for _ in range(20):
                shapes.append(ts.open(_spec("zarr3", path)).result().shape)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert shapes == [(4, 6)] * 80
