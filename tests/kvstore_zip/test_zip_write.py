"""Writing into zip archives, as tensorstore 0.1.86 does: every write rewrites the archive
(members not written are copied as they are); archives either library writes read the same
in the other and in Python's zipfile."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import tensorstore as ref
import tensorstore_py as ts


def _script(module, url):
    kv = module.KvStore.open(url).result()
    kv.write("a/x", b"first").result()
    kv.write("a/y", b"y" * 1000).result()
    kv.write("b", b"").result()
    kv.write("a/x", b"second").result()  # replaces in place
    kv.write("b", None).result()
    futures = [kv.write(f"many/{i:03d}", bytes([i]) * i) for i in range(50)]  # batched rewrites
    for f in futures:
        f.result()
    kv.delete_range(module.KvStore.KeyRange("many/010", "many/040")).result()
    keys = sorted(kv.list().result())
    return keys, {k: kv.read(k).result().value for k in keys}


@pytest.mark.parametrize("compression", ["store", "deflate", "zstd", "xz"])
def test_write_sequence_matches_reference_and_cross_reads(tmp_path, compression):
    urls = {}
    for name, module in (("mine", ts), ("theirs", ref)):
        path = tmp_path / f"{name}.zip"
        urls[name] = {"driver": "zip", "base": {"driver": "file", "path": str(path)}, "compression": compression}
    mine, theirs = _script(ts, urls["mine"]), _script(ref, urls["theirs"])
    assert mine == theirs
    assert len(mine[0]) == 2 + 20
    # Each library reads the archive the other wrote.
    for module, url in ((ref, urls["mine"]), (ts, urls["theirs"])):
        kv = module.KvStore.open(url).result()
        assert {k: kv.read(k).result().value for k in kv.list().result()} == mine[1]
    if compression in ("store", "deflate"):
        with zipfile.ZipFile(tmp_path / "mine.zip") as z:
            assert z.testzip() is None
            assert {n.encode(): z.read(n) for n in z.namelist()} == mine[1]


def test_members_not_written_are_copied_untouched(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bz", b"bzip2 member " * 50, compress_type=zipfile.ZIP_BZIP2)
        z.writestr("dir/", b"")
    kv = ts.KvStore.open(f"file://{path}|zip:").result()
    kv.write("new", b"n").result()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bz")
        assert info.compress_type == zipfile.ZIP_BZIP2 and z.read("bz") == b"bzip2 member " * 50
        assert z.read("new") == b"n"
    assert sorted(ref.KvStore.open(f"file://{path}|zip:").result().list().result()) == [b"bz", b"new"]


def _conditional_scenario(module):
    out = []
    kv = module.KvStore.open("memory://a.zip|zip:", context=module.Context()).result()
    absent = kv.read("k").result().stamp.generation  # no archive yet
    out.append(absent)
    first = kv.write("k", b"1", if_equal=absent).result()
    out.append(first.generation != b"")
    current = kv.read("k").result().stamp.generation
    out.append(current == first.generation == kv.read("missing").result().stamp.generation)
    out.append(kv.write("k2", b"2", if_equal=current).result().generation != b"")
    out.append(kv.write("k2", b"3", if_equal=current).result().generation != b"")  # stale
    out.append(kv.write("k3", b"3", if_equal=absent).result().generation != b"")  # member absent
    out.append(kv.write("k", b"5", if_equal=absent).result().generation != b"")  # member present
    out.append(sorted((k, kv.read(k).result().value) for k in kv.list().result()))
    return out


def test_conditional_writes_as_reference():
    # A member's generation is its archive's; "absent" (no value) holds per member.
    assert _conditional_scenario(ts) == _conditional_scenario(ref)


def test_zip64_records_written_for_more_than_65535_members():
    from tensorstore_py.kvstore.zip.writer import ArchiveForm, new_member

    members = {f"{i:05d}".encode(): new_member(f"{i:05d}".encode(), b"v", "store") for i in range(65600)}
    data = ArchiveForm.encode(members)
    assert b"PK\x06\x06" in data[-200:]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(z.namelist()) == 65600 and z.read("65599") == b"v"
    assert ArchiveForm.decode(data) == members
    for module in (ts, ref):
        ctx = module.Context()
        module.KvStore.open("memory://", context=ctx).result()["big.zip"] = data
        kv = module.KvStore.open("memory://big.zip|zip:", context=ctx).result()
        assert len(kv.list().result()) == 65600
        assert kv.read("12345").result().value == b"v"


@pytest.mark.slow
def test_more_than_65535_members_written_as_zip64(tmp_path):
    path = tmp_path / "big.zip"
    kv = ts.KvStore.open(f"file://{path}|zip:").result()
    txn = ts.Transaction()
    kt = kv.with_transaction(txn)
    for i in range(65600):
        kt.write(f"{i:05d}", b"v").result()
    txn.commit_async().result()
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(z.namelist()) == 65600 and z.read("65599") == b"v"
    theirs = ref.KvStore.open(f"file://{path}|zip:").result()
    assert len(theirs.list().result()) == 65600
    assert theirs.read("12345").result().value == b"v"


def test_transaction_commits_into_the_archive():
    for module in (ts, ref):
        ctx = module.Context()
        kv = module.KvStore.open("memory://t.zip|zip:", context=ctx).result()
        kv.write("outside", b"o").result()
        txn = module.Transaction()
        kt = kv.with_transaction(txn)
        kt.write("inside", b"i").result()
        assert kv.read("inside").result().state == "missing"
        txn.commit_async().result()
        assert sorted(kv.list().result()) == [b"inside", b"outside"]


@pytest.mark.parametrize("driver,scheme", [("zarr", "zarr2"), ("n5", "n5")])
def test_arrays_created_and_partially_written_inside_an_archive(tmp_path, driver, scheme):
    data = np.arange(20 * 30, dtype=np.int16).reshape(20, 30)
    results = []
    for module, name in ((ts, "mine"), (ref, "theirs")):
        url = f"file://{tmp_path}/{name}.zip|zip:arr/|{scheme}:"
        store = module.open(
            url, create=True, dtype=module.int16, shape=data.shape,
            chunk_layout=module.ChunkLayout(chunk_shape=[8, 8]),
        ).result()  # fmt: skip
        store.write(data).result()
        store[3:7, 5:25].write(-1).result()  # partial chunks: conditional read-modify-writes
        results.append(module.open(url).result().read().result())
    expected = data.copy()
    expected[3:7, 5:25] = -1
    np.testing.assert_array_equal(results[0], expected)
    np.testing.assert_array_equal(results[1], expected)
    np.testing.assert_array_equal(
        ref.open(f"file://{tmp_path}/mine.zip|zip:arr/|{scheme}:").result().read().result(), expected
    )
    np.testing.assert_array_equal(
        ts.open(f"file://{tmp_path}/theirs.zip|zip:arr/|{scheme}:").result().read().result(), expected
    )


def _atomic_scenario(module):
    out = []
    ctx = module.Context()
    kv = module.KvStore.open("memory://t.zip|zip:", context=ctx).result()
    kv.write("pre", b"p").result()
    txn = module.Transaction(atomic=True)
    kt = kv.with_transaction(txn)
    kt["a"] = b"1"
    kt["b"] = b"2"
    kt["pre"] = None
    out.append(kv.read("a").result().state)  # nothing visible before the commit
    txn.commit_sync()
    out.append(sorted((k, kv.read(k).result().value) for k in kv.list().result()))
    # A conflicting write between read and commit: a repeatable-read atomic commit fails whole.
    txn = module.Transaction(atomic=True, repeatable_read=True)
    kt = kv.with_transaction(txn)
    out.append(kt.read("a").result().value)
    kt["c"] = b"3"
    kv.write("a", b"changed").result()
    try:
        txn.commit_sync()
        out.append("committed")
    except ValueError as exc:
        out.append(("failed", str(exc).split(":")[0]))
    out.append(sorted((k, kv.read(k).result().value) for k in kv.list().result()))
    return out


def test_atomic_transactions_over_members_of_one_archive():
    assert _atomic_scenario(ts) == _atomic_scenario(ref)
