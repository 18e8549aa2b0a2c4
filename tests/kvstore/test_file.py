"""The file driver: on-disk compatibility, locking and errors, with the reference."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

import tensorstore as ref
import tensorstore_py as ts
from tensorstore_py.kvstore.file import LOCK_SUFFIX, _LockedFile

from . import rmw_worker
from .conftest import outcome


def _open_both(path):
    spec = {"driver": "file", "path": str(path) + "/"}
    return ts.KvStore.open(spec).result(), ref.KvStore.open(spec).result()


def test_same_files_same_generations(tmp_path):
    mine, theirs = _open_both(tmp_path)
    theirs.write("x/a", b"from reference").result()
    g = mine.write("b", b"from tensorstore_py").result().generation
    for key in ("x/a", "b"):
        a, b = mine.read(key).result(), theirs.read(key).result()
        assert (a.state, a.value, a.stamp.generation) == (b.state, b.value, b.stamp.generation)
    assert theirs.read("b").result().stamp.generation == g
    st = os.stat(tmp_path / "b")
    assert g == b"\x00" + b"".join(v.to_bytes(8, "little") for v in (st.st_dev, st.st_ino, st.st_mtime_ns))
    # Conditional writes accept the other library's generations.
    assert mine.write("x/a", b"2", if_equal=theirs.read("x/a").result().stamp.generation).result().generation
    assert theirs.write("b", b"3", if_equal=mine.read("b").result().stamp.generation).result().generation
    assert sorted(mine.list().result()) == sorted(theirs.list().result()) == [b"b", b"x/a"]
    assert not [n for n in os.listdir(tmp_path) if n.endswith(LOCK_SUFFIX)]


KEYS = ["", "a/", "x/../y", "./y", "y/.", "y//z", "y\x00z", "y.__lock", "d.__lock/e", "ok", "é/ü"]


@pytest.mark.parametrize("key", KEYS)
def test_key_validation_matches_reference(tmp_path, key):
    mine, theirs = _open_both(tmp_path)
    for op in (lambda kv: kv.write(key, b"v").result().generation != b"",
               lambda kv: kv.read(key).result().value):
        assert outcome(lambda: op(mine)) == outcome(lambda: op(theirs))


def _code(result):
    return result if result[0] == "ok" else (result[0], result[1], result[2].split(":")[0])


def test_conflicting_paths_match_reference(tmp_path):
    mine, theirs = _open_both(tmp_path)
    for kv in (mine, theirs):
        kv.write("a/b/c", b"1").result()
    ops = [
        lambda kv: kv.read("a").result().state,  # a directory reads as missing
        lambda kv: kv.write("a", b"z").result(),  # cannot replace a directory
        lambda kv: kv.write("a/b/c/d", b"z").result(),  # parent is a file
        lambda kv: kv.read("a/b/c/d").result().state,
    ]
    for op in ops:
        a, b = outcome(lambda: op(mine)), outcome(lambda: op(theirs))
        assert _code(a) == _code(b)
    msg = outcome(lambda: mine.write("a/b/c/d", b"z").result())[2]
    assert msg == f"FAILED_PRECONDITION: Failed to open directory: \"{tmp_path}/a/b/c\": Not a directory [os_error_code='20']"


def test_delete_range_removes_files_then_empty_directories(tmp_path):
    mine, theirs = _open_both(tmp_path)
    for kv in (mine, theirs):
        for k in ("a/b/c", "a/d", "b", "c/e"):
            kv.write(k, b"v").result()
    (tmp_path / "keep").mkdir()
    mine.delete_range(ts.KvStore.KeyRange("a", "b")).result()
    assert sorted(os.listdir(tmp_path)) == ["b", "c", "keep"]
    theirs.delete_range(ref.KvStore.KeyRange("b", "c/f")).result()
    assert sorted(mine.list().result()) == sorted(theirs.list().result()) == []
    mine.delete_range(ts.KvStore.KeyRange()).result()
    assert os.listdir(tmp_path) == []


def test_list_edge_cases(tmp_path):
    nowhere = ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/missing/"}).result()
    assert nowhere.list().result() == [] and nowhere.read("x").result().state == "missing"
    mine, theirs = _open_both(tmp_path)
    for kv in (mine, theirs):
        kv.write("k2", b"1").result()
        kv.write("sub/k", b"2").result()
    (tmp_path / ("stale" + LOCK_SUFFIX)).write_bytes(b"")  # a leftover lock file is not a key
    prefix = ts.KvStore.open({"driver": "file", "path": str(tmp_path)}).result()
    prefix_ref = ref.KvStore.open({"driver": "file", "path": str(tmp_path)}).result()
    assert sorted(prefix.list().result()) == sorted(prefix_ref.list().result())
    by_key = ts.KvStore.open({"driver": "file", "path": str(tmp_path / "k")}).result()
    assert by_key.list().result() == [b"2"]


def test_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kv = ts.KvStore.open({"driver": "file", "path": "rel/dir/"}).result()
    kv["x/y"] = b"1"
    assert (tmp_path / "rel/dir/x/y").read_bytes() == b"1"
    assert kv.list().result() == [b"x/y"]
    with pytest.raises(ValueError, match="relative paths"):
        kv.url


@pytest.mark.parametrize("mode", ["os", "lockfile", "none", "non_atomic"])
def test_locking_modes(tmp_path, mode):
    kv = ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/", "file_io_locking": {"mode": mode}}).result()
    g = kv.write("k", b"1").result().generation
    assert kv.write("k", b"2", if_equal=g).result().generation
    assert kv.write("k", b"3", if_equal=g).result().generation == b""
    assert kv["k"] == b"2"
    del kv["k"]
    assert kv.list().result() == [] and os.listdir(tmp_path) == []


def test_reference_waits_for_our_lock(tmp_path):
    """Our lock on ``<key>.__lock`` excludes TensorStore's writers, so the two can share files."""
    _mine, theirs = _open_both(tmp_path)
    lock = _LockedFile.acquire_os(str(tmp_path / ("k" + LOCK_SUFFIX)))
    done = threading.Event()

    def write():
        theirs.write("k", b"theirs").result()
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert not done.wait(0.5)
    lock.delete()
    assert done.wait(10)
    t.join()
    assert (tmp_path / "k").read_bytes() == b"theirs"


def test_we_wait_for_each_other(tmp_path):
    mine, _theirs = _open_both(tmp_path)
    lock = _LockedFile.acquire_os(str(tmp_path / ("k" + LOCK_SUFFIX)))
    fut = mine.write("k", b"mine")
    time.sleep(0.3)
    assert not fut.done()
    lock.delete()
    assert fut.result(timeout=10).generation


def test_processes_lose_no_increment(tmp_path):
    """Four processes (three of ours, one TensorStore) race read-modify-write on one key."""
    path = str(tmp_path) + "/"
    count = 25
    jobs = [("mine", path, "counter", count)] * 3 + [("reference", path, "counter", count)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(jobs)) as pool:
        retries = pool.map(rmw_worker.increment, jobs)
    kv = ts.KvStore.open({"driver": "file", "path": path}).result()
    assert int(kv["counter"]) == count * len(jobs)
    assert min(retries) >= 0
    assert kv.list().result() == [b"counter"]


def test_processes_writing_different_keys(tmp_path):
    path = str(tmp_path) + "/"
    ctx = multiprocessing.get_context("spawn")
    jobs = [(path, "c/", range(i, 40, 2)) for i in range(2)]
    with ctx.Pool(2) as pool:
        pool.map(rmw_worker.write_chunks, jobs)
    kv = ts.KvStore.open({"driver": "file", "path": path}).result()
    assert sorted(kv.list().result()) == sorted(f"c/{i}".encode() for i in range(40))
    assert all(kv[f"c/{i}"] == str(i).encode() for i in range(40))


def test_forked_child_gets_working_pool(tmp_path):
    """A store opened before fork() keeps working in the child (fresh I/O threads there)."""
    kv = ts.KvStore.open({"driver": "file", "path": str(tmp_path) + "/"}).result()
    kv["before"] = b"1"
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_child_write, args=(kv,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert kv["from_child"] == b"1"


def _child_write(kv):
    kv["from_child"] = kv["before"]
