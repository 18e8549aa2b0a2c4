"""The zip kvstore: archives written by Python's zipfile and by Info-ZIP's `zip`, read by this
project and by the reference, byte for byte; arrays inside archives; errors."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

import tensorstore as ref
import tensorstore_py as ts

MEMBERS = {
    "a.txt": b"hello zip",
    "dir/b.bin": bytes(range(256)) * 40,
    "dir/sub/c": b"",
    "zeros": b"\0" * 100_000,
    "uni/é ü.txt": "ünïcødé".encode(),
}


def write_zip(path, members=MEMBERS, compression=zipfile.ZIP_DEFLATED, force_zip64=False, comment=b""):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.comment = comment
        for name, data in members.items():
            if force_zip64:
                info = zipfile.ZipInfo(name)
                info.compress_type = compression
                with z.open(info, "w", force_zip64=True) as f:
                    f.write(data)
            else:
                z.writestr(name, data)
    return path


def read_all(module, url):
    kv = module.KvStore.open(url).result()
    keys = sorted(kv.list().result())
    return keys, {k: kv.read(k).result().value for k in keys}


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2], ids=["stored", "deflated", "bzip2"]
)
@pytest.mark.parametrize("force_zip64", [False, True], ids=["zip32", "zip64-members"])
def test_zipfile_archives_read_as_reference_reads_them(tmp_path, compression, force_zip64):
    path = write_zip(tmp_path / "a.zip", compression=compression, force_zip64=force_zip64, comment=b"a comment")
    url = f"file://{path}|zip:"
    mine = read_all(ts, url)
    assert mine == read_all(ref, url)
    assert mine[0] == sorted(k.encode() for k in MEMBERS)
    assert all(mine[1][k.encode()] == v for k, v in MEMBERS.items())


def test_more_than_65535_entries_use_the_zip64_end_record(tmp_path):
    members = {f"k{i:05d}": str(i).encode() for i in range(66000)}
    path = write_zip(tmp_path / "many.zip", members, compression=zipfile.ZIP_STORED)
    with open(path, "rb") as f:
        assert b"PK\x06\x06" in f.read()[-200:]  # zipfile did write a ZIP64 EOCD record
    kv = ts.KvStore.open(f"file://{path}|zip:").result()
    keys = kv.list().result()
    assert len(keys) == 66000
    for i in (0, 12345, 65535, 65999):
        assert kv.read(f"k{i:05d}").result().value == str(i).encode()
    theirs = ref.KvStore.open(f"file://{path}|zip:").result()
    assert sorted(keys) == sorted(theirs.list().result())


needs_zip_tool = pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP zip not installed")


@needs_zip_tool
@pytest.mark.parametrize("flags", [["-0"], ["-9"], ["-fz"], ["-0", "-fz"]], ids=["stored", "deflated", "zip64", "stored-zip64"])
def test_info_zip_archives(tmp_path, flags):
    src = tmp_path / "src"
    for name, data in MEMBERS.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    archive = tmp_path / "t.zip"
    subprocess.run(["zip", "-q", "-r", *flags, str(archive), "."], cwd=src, check=True)
    url = f"file://{archive}|zip:"
    mine = read_all(ts, url)
    assert mine == read_all(ref, url)
    # Info-ZIP adds directory entries ("dir/"); like TensorStore, they are not keys.
    assert mine[0] == sorted(k.encode() for k in MEMBERS)
    assert all(mine[1][k.encode()] == v for k, v in MEMBERS.items())


@needs_zip_tool
def test_info_zip_streamed_member_with_data_descriptor(tmp_path):
    archive = tmp_path / "s.zip"
    data = b"streamed through a pipe " * 1000
    subprocess.run(["zip", "-q", str(archive), "-"], input=data, check=True)
    url = f"file://{archive}|zip:"
    assert read_all(ts, url) == read_all(ref, url) == ([b"-"], {b"-": data})


def test_reads_with_byte_ranges_conditions_and_paths(tmp_path):
    path = write_zip(tmp_path / "a.zip")
    for module in (ts, ref):
        kv = module.KvStore.open(f"file://{path}|zip:").result()
        r = kv.read("dir/b.bin", byte_range=slice(10, 20)).result()
        assert r.value == MEMBERS["dir/b.bin"][10:20]
        generation = r.stamp.generation
        assert kv.read("dir/b.bin", if_not_equal=generation).result().state == "unspecified"
        missing = kv.read("nope").result()
        assert missing.state == "missing" and missing.stamp.generation == generation
        assert kv.read("dir/").result().state == "missing"
        sub = kv / "dir/"
        assert sorted(sub.list().result()) == [b"b.bin", b"sub/c"]
        assert sub.read("sub/c").result().value == b""
        in_range = kv.list(module.KvStore.KeyRange("a", "e")).result()
        assert sorted(in_range) == [b"a.txt", b"dir/b.bin", b"dir/sub/c"]
        assert sorted(kv.list(strip_prefix_length=2).result()) == sorted(k[2:] for k in kv.list().result())


def test_archive_in_memory_replaced_under_an_open_store():
    ctx = ts.Context()
    base = ts.KvStore.open("memory://", context=ctx).result()
    kv = ts.KvStore.open({"driver": "zip", "base": "memory://x.zip"}, context=ctx).result()
    assert kv.list().result() == []  # no archive yet: empty, as TensorStore
    assert kv.read("a").result().state == "missing"
    buf = io.BytesIO()
    write_zip(buf, {"a": b"1"})
    base["x.zip"] = buf.getvalue()
    assert kv.read("a").result().value == b"1"
    buf = io.BytesIO()
    write_zip(buf, {"a": b"22", "b": b"3"})
    base["x.zip"] = buf.getvalue()
    assert kv.read("a").result().value == b"22"  # the cached directory was noticed stale
    assert kv.list().result() == [b"a", b"b"]
    del base["x.zip"]
    assert kv.read("b").result().state == "missing"


def test_zip_inside_zip(tmp_path):
    inner = io.BytesIO()
    write_zip(inner, {"deep/key": b"found me"}, compression=zipfile.ZIP_STORED)
    outer = write_zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()}, compression=zipfile.ZIP_STORED)
    url = f"file://{outer}|zip:inner.zip|zip:deep/"
    for module in (ts, ref):
        kv = module.KvStore.open(url).result()
        assert kv.read("key").result().value == b"found me"
        assert kv.url == url
        assert kv.base.url == f"file://{outer}|zip:inner.zip"


def test_errors_as_reference_reports_them():
    def outcome(module, data):
        ctx = module.Context()
        module.KvStore.open("memory://", context=ctx).result()["z"] = data
        kv = module.KvStore.open("memory://z|zip:", context=ctx).result()
        try:
            return sorted(kv.list().result())
        except ValueError as exc:
            return str(exc)

    good = io.BytesIO()
    write_zip(good, {"a": b"x" * 100})
    good = good.getvalue()
    bad_offset = bytearray(good)
    at = good.index(b"PK\x01\x02")
    bad_offset[at + 42 : at + 46] = (10**6).to_bytes(4, "little")
    for data in (b"garbage", b"", good[:-5], good[:20], bytes(bad_offset)):
        assert outcome(ts, data) == outcome(ref, data)


# -- arrays inside archives ------------------------------------------------------------------


def zip_directory(directory, archive, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(archive, "w", compression=compression) as z:
        for root, _dirs, files in os.walk(directory):
            for name in sorted(files):
                full = os.path.join(root, name)
                z.write(full, os.path.relpath(full, directory))
    return archive


@pytest.mark.parametrize(
    "driver,scheme",
    [("zarr", "zarr2"), ("n5", "n5"), ("neuroglancer_precomputed", "neuroglancer-precomputed")],
)
def test_arrays_inside_a_zip_open_like_any_other(tmp_path, driver, scheme):
    data = np.arange(30 * 20, dtype=np.uint16).reshape(30, 20)
    src = tmp_path / "src" / "arr"
    spec = {"driver": driver, "kvstore": {"driver": "file", "path": str(src) + "/"}}
    kwargs = dict(create=True, dtype=ref.uint16)
    if driver == "neuroglancer_precomputed":
        data = data.reshape(30, 20, 1, 1)
        spec["scale_metadata"] = {"chunk_size": [8, 8, 1], "size": [30, 20, 1]}
        spec["multiscale_metadata"] = {"num_channels": 1, "type": "image"}
    else:
        kwargs["shape"] = data.shape
        kwargs["chunk_layout"] = ref.ChunkLayout(chunk_shape=[8, 8])
    written = ref.open(spec, **kwargs).result()
    written.write(data).result()
    archive = zip_directory(tmp_path / "src", tmp_path / "arrays.zip")
    url = f"file://{archive}|zip:arr/|{scheme}:"
    mine = ts.open(url).result()
    theirs = ref.open(url).result()
    np.testing.assert_array_equal(mine.read().result(), theirs.read().result())
    np.testing.assert_array_equal(mine.read().result(), data)
    assert mine.url == theirs.url == url
    assert mine.kvstore.url == theirs.kvstore.url == f"file://{archive}|zip:arr/"
    assert mine.spec().to_json()["kvstore"] == theirs.spec().to_json()["kvstore"]
    # Auto-detection over the adapter finds the same array.
    auto = ts.open(f"file://{archive}|zip:arr/").result()
    np.testing.assert_array_equal(auto.read().result(), data)
    assert auto.url == url


def test_sharded_precomputed_inside_a_zip(tmp_path):
    data = np.arange(16 * 16 * 4, dtype=np.uint8).reshape(16, 16, 4, 1)
    src = tmp_path / "src" / "vol"
    sharding = {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity",
        "minishard_bits": 1, "shard_bits": 1, "minishard_index_encoding": "gzip",
    }  # fmt: skip
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(src) + "/"},
        "scale_metadata": {"chunk_size": [4, 4, 2], "size": [16, 16, 4], "sharding": sharding},
        "multiscale_metadata": {"num_channels": 1, "type": "image"},
    }
    written = ref.open(spec, create=True, dtype=ref.uint8).result()
    written.write(data).result()
    archive = zip_directory(tmp_path / "src", tmp_path / "vol.zip", zipfile.ZIP_STORED)
    url = f"file://{archive}|zip:vol/"
    np.testing.assert_array_equal(ts.open(url).result().read().result(), data)


def test_reads_fetch_byte_ranges_not_the_archive(tmp_path):
    members = {f"m{i}": os.urandom(50_000) for i in range(40)}  # ~2 MB, stored
    buf = io.BytesIO()
    write_zip(buf, members, compression=zipfile.ZIP_STORED)
    archive = buf.getvalue()
    ctx = ts.Context()
    ts.KvStore.open("memory://", context=ctx).result()["big.zip"] = archive
    kv = ts.KvStore.open("memory://big.zip|zip:", context=ctx).result()
    base_driver = kv.base.driver
    requested = []
    original = base_driver.read

    def recording_read(key, options):
        requested.append(options.byte_range)
        return original(key, options)

    base_driver.read = recording_read
    assert kv.read("m7").result().value == members["m7"]
    assert kv.read("m30").result().value == members["m30"]
    assert None not in requested  # never the whole archive
    fetched = sum((hi if hi is not None else 0) - lo for lo, hi in requested if lo >= 0)
    fetched += sum(-lo for lo, hi in requested if lo < 0)
    assert fetched < 2 * 50_000 + 70_000  # two members, their headers and one tail
    requested.clear()
    assert kv.read("absent").result().state == "missing"
    assert len(requested) == 1  # one conditional tail read revalidates the directory


def test_local_extra_field_longer_than_central_one(tmp_path):
    # zipfile's force_zip64 puts a ZIP64 extra field in the local header only.
    buf = io.BytesIO()
    write_zip(buf, {"x": b"payload" * 10}, compression=zipfile.ZIP_STORED, force_zip64=True)
    data = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("x")
    local_extra = int.from_bytes(data[28:30], "little")
    assert local_extra > len(info.extra)
    ctx = ts.Context()
    ts.KvStore.open("memory://", context=ctx).result()["z"] = data
    assert ts.KvStore.open("memory://z|zip:", context=ctx).result().read("x").result().value == b"payload" * 10


def test_auto_detection_of_an_archive_value(tmp_path):
    # tensorstore opens a zip file named by a plain kvstore URL too (its spec of the result
    # cannot be printed there; here it is the zip pipeline).
    data = np.arange(12, dtype=np.int32).reshape(3, 4)
    written = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "src") + "/"}},
        create=True, dtype=ts.int32, shape=data.shape,
    ).result()  # fmt: skip
    written.write(data).result()
    archive = zip_directory(tmp_path / "src", tmp_path / "z.zip")
    theirs = ref.open(f"file://{archive}").result()
    mine = ts.open(f"file://{archive}").result()
    np.testing.assert_array_equal(mine.read().result(), theirs.read().result())
    assert mine.url == f"file://{archive}|zip:|zarr2:"
    assert mine.spec().to_json()["kvstore"] == {"base": {"driver": "file", "path": str(archive)}, "driver": "zip"}
    # Not an archive, nor an array: detection fails as before.
    (tmp_path / "plain").write_bytes(b"PK")
    with pytest.raises(ValueError, match="Failed to detect format"):
        ts.open(f"file://{tmp_path}/plain").result()


def test_directory_is_read_once_for_many_reads():
    members = {f"m{i}": bytes([i]) * 1000 for i in range(50)}
    buf = io.BytesIO()
    write_zip(buf, members)
    ctx = ts.Context()
    ts.KvStore.open("memory://", context=ctx).result()["z.zip"] = buf.getvalue()
    kv = ts.KvStore.open("memory://z.zip|zip:", context=ctx).result()
    tails = []
    original = kv.base.driver.read

    def recording_read(key, options):
        if options.byte_range is not None and options.byte_range[0] < 0:
            tails.append(options.byte_range)
        return original(key, options)

    kv.base.driver.read = recording_read
    futures = [kv.read(name) for name in members]
    assert [f.result().value for f in futures] == list(members.values())
    assert len(tails) == 1


def test_pickled_store_reopens_the_archive(tmp_path):
    import pickle

    path = write_zip(tmp_path / "a.zip")
    kv = ts.KvStore.open(f"file://{path}|zip:dir/").result()
    again = pickle.loads(pickle.dumps(kv))
    assert again.url == kv.url == f"file://{path}|zip:dir/"
    assert again.read("b.bin").result().value == MEMBERS["dir/b.bin"]
    spec = pickle.loads(pickle.dumps(kv.spec()))
    assert spec == kv.spec() and spec.base.path == str(path)


def test_missing_array_errors_name_member_and_archive_as_reference(tmp_path):
    path = write_zip(tmp_path / "a.zip")
    for url in (f"file://{path}|zip:nope/|zarr2:", f"file://{path}|zip:|n5:", f"file://{tmp_path}/none.zip|zip:|zarr2:"):
        errors = []
        for module in (ts, ref):
            with pytest.raises(ValueError) as info:
                module.open(url).result()
            errors.append(str(info.value).split(" [tensorstore_spec")[0])
        assert errors[0] == errors[1]


def test_same_inner_path_in_two_archives_never_shares_cached_chunks(tmp_path):
    context = ts.Context({"cache_pool": {"total_bytes_limit": 10_000_000}})
    urls = []
    for i in range(2):
        src = tmp_path / f"src{i}"
        store = ts.open(
            {"driver": "zarr", "kvstore": {"driver": "file", "path": str(src / "arr") + "/"}},
            create=True, dtype=ts.uint8, shape=[4],
        ).result()  # fmt: skip
        store.write(np.full(4, i + 1, dtype=np.uint8)).result()
        urls.append(f"file://{zip_directory(src, tmp_path / f'a{i}.zip')}|zip:arr/|zarr2:")
    first, second = (ts.open(u, context=context).result() for u in urls)
    assert first.kvstore.driver.cache_identity != second.kvstore.driver.cache_identity
    np.testing.assert_array_equal(first.read().result(), [1, 1, 1, 1])
    np.testing.assert_array_equal(second.read().result(), [2, 2, 2, 2])
