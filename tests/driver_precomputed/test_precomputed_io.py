"""Reading and writing precomputed volumes, both ways against tensorstore 0.1.86.

Every encoding, sharded and unsharded, several hash / bit settings, a voxel offset and
partial edge chunks; data either library writes must read back identically in the other,
and uncompressed shard files must be byte-identical.
"""

import filecmp
import json
import os

import numpy as np
import pytest

import tensorstore_py as ts
import tensorstore_py.driver.neuroglancer_precomputed  # noqa: F401

ref = pytest.importorskip("tensorstore")
pytest.importorskip("PIL")

SHAPE = (37, 29, 23)
OFFSET = [3, -2, 5]


def _sharding(preshift, hash_name, minishard, shard, index_encoding="raw", data_encoding="raw"):
    return {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift, "hash": hash_name,
        "minishard_bits": minishard, "shard_bits": shard, "minishard_index_encoding": index_encoding,
        "data_encoding": data_encoding,
    }  # fmt: skip


CASES = {
    "raw_uint16_2ch": ({"encoding": "raw", "chunk_size": [8, 8, 8]}, "uint16", 2),
    "raw_float32": ({"encoding": "raw", "chunk_size": [8, 16, 5]}, "float32", 1),
    "raw_int8": ({"encoding": "raw", "chunk_size": [37, 29, 23]}, "int8", 1),
    "cseg_uint64": ({"encoding": "compressed_segmentation", "chunk_size": [8, 8, 8],
                     "compressed_segmentation_block_size": [4, 4, 2]}, "uint64", 1),
    "cseg_uint32_2ch": ({"encoding": "compressed_segmentation", "chunk_size": [16, 8, 8],
                         "compressed_segmentation_block_size": [8, 8, 8]}, "uint32", 2),
    "jpeg_1ch": ({"encoding": "jpeg", "chunk_size": [16, 16, 8]}, "uint8", 1),
    "jpeg_3ch": ({"encoding": "jpeg", "jpeg_quality": 95, "chunk_size": [16, 16, 8]}, "uint8", 3),
    "png_uint8_2ch": ({"encoding": "png", "chunk_size": [16, 16, 8]}, "uint8", 2),
    "png_uint8_4ch": ({"encoding": "png", "png_level": 1, "chunk_size": [16, 16, 8]}, "uint8", 4),
    "png_uint16": ({"encoding": "png", "chunk_size": [16, 16, 8]}, "uint16", 1),
    "png_uint16_3ch": ({"encoding": "png", "chunk_size": [16, 16, 8]}, "uint16", 3),
    "sharded_identity": ({"encoding": "raw", "chunk_size": [8, 8, 8], "sharding": _sharding(2, "identity", 2, 3)}, "uint8", 1),
    "sharded_identity_gzip": ({"encoding": "raw", "chunk_size": [8, 8, 8],
                               "sharding": _sharding(0, "identity", 4, 2, "gzip", "gzip")}, "uint16", 1),
    "sharded_murmur_cseg": ({"encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 8],
                             "chunk_size": [8, 8, 8], "sharding": _sharding(1, "murmurhash3_x86_128", 3, 2, "gzip", "gzip")},
                            "uint64", 1),
    "sharded_murmur_one_shard": ({"encoding": "raw", "chunk_size": [8, 8, 8],
                                  "sharding": _sharding(0, "murmurhash3_x86_128", 0, 0, "gzip", "raw")}, "int16", 1),
    "sharded_png": ({"encoding": "png", "chunk_size": [16, 16, 8], "sharding": _sharding(1, "identity", 1, 2)}, "uint8", 1),
    "sharded_jpeg": ({"encoding": "jpeg", "chunk_size": [16, 16, 8], "sharding": _sharding(1, "identity", 1, 2)}, "uint8", 1),
}  # fmt: skip


def _spec(path, scale=None, dtype=None, nc=None):
    j = {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path}}
    if scale is not None:
        j["scale_metadata"] = dict(scale, size=list(SHAPE), resolution=[4, 4, 40], voxel_offset=OFFSET)
        j["multiscale_metadata"] = {"num_channels": nc, "data_type": dtype, "type": "image"}
    return j


def _data(encoding, dtype, nc, seed=0):
    rng = np.random.default_rng(seed)
    if encoding == "jpeg":
        # Smooth data keeps lossy jpeg within a small tolerance.
        x = np.arange(SHAPE[0], dtype=np.int64)[:, None, None, None]
        z = np.arange(SHAPE[2], dtype=np.int64)[None, None, :, None]
        return np.broadcast_to((x * 3 + z * 2) % 256, SHAPE + (nc,)).astype(np.uint8)
    return rng.integers(0, 50, size=SHAPE + (nc,)).astype(dtype)


def _close(encoding, a, b):
    if encoding == "jpeg":
        return np.abs(a.astype(int) - b.astype(int)).max() <= 10
    return np.array_equal(a, b)


@pytest.mark.parametrize("writer", ["ours", "reference"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cross_library_round_trip(tmp_path, name, writer):
    scale, dtype, nc = CASES[name]
    encoding = scale["encoding"]
    path = str(tmp_path / "vol") + "/"
    w, r = (ts, ref) if writer == "ours" else (ref, ts)
    store = w.open(_spec(path, scale, dtype, nc), create=True).result()
    data = _data(encoding, dtype, nc)
    store[...] = data
    # A partial write across chunk (and edge) boundaries: read-modify-write of stored chunks.
    patch = data[2:17, 5:11, 2:10] if encoding == "jpeg" else (data[2:17, 5:11, 2:10] + 1).astype(dtype)
    store[5:20, 3:9, 7:15, :] = patch
    expected = data.copy()
    expected[2:17, 5:11, 2:10] = patch
    reader = r.open(_spec(path)).result()
    got = reader.read().result()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert _close(encoding, got, expected)
    # Strided and offset reads through either library agree.
    ours_view = ts.open(_spec(path)).result()[4:39:3, -2:20, 6:28:5, ::-1].read().result()
    ref_view = ref.open(_spec(path)).result()[4:39:3, -2:20, 6:28:5, ::-1].read().result()
    assert _close(encoding, ours_view, ref_view)


def test_unwritten_chunks_read_as_zero_and_zero_chunks_are_deleted(tmp_path):
    path = str(tmp_path / "vol") + "/"
    scale, dtype, nc = CASES["raw_uint16_2ch"]
    store = ts.open(_spec(path, scale, dtype, nc), create=True).result()
    assert not store[3:40, -2:27, 5:28].read().result().any()
    store[3:11, -2:6, 5:13, :] = 7
    names = sorted(os.listdir(path + "4_4_40"))
    assert names == ["3-11_-2-6_5-13"]
    assert names == sorted(os.listdir(path + "4_4_40"))
    store[3:11, -2:6, 5:13, :] = 0
    assert os.listdir(path + "4_4_40") == []
    theirs = ref.open(_spec(path)).result()
    theirs[3:11, -2:6, 5:13, :] = 0
    assert os.listdir(path + "4_4_40") == []


@pytest.mark.parametrize("name", ["raw_uint16_2ch", "cseg_uint64", "sharded_identity", "sharded_murmur_cseg", "sharded_murmur_one_shard"])
def test_files_byte_identical_with_reference(tmp_path, name):
    scale, dtype, nc = CASES[name]
    if scale.get("sharding", {}).get("data_encoding") == "gzip" or scale.get("sharding", {}).get("minishard_index_encoding") == "gzip":
        scale = dict(scale, sharding=dict(scale["sharding"], data_encoding="raw", minishard_index_encoding="raw"))
    data = _data(scale["encoding"], dtype, nc, seed=3)
    data[:8, :8, :8] = 0
    dirs = []
    for lib, tag in ((ts, "ours"), (ref, "theirs")):
        path = str(tmp_path / tag) + "/"
        lib.open(_spec(path, scale, dtype, nc), create=True).result()[...] = data
        dirs.append(path)
    assert json.loads(open(dirs[0] + "info").read()) == json.loads(open(dirs[1] + "info").read())
    a, b = dirs[0] + "4_4_40", dirs[1] + "4_4_40"
    assert sorted(os.listdir(a)) == sorted(os.listdir(b))
    match, mismatch, errors = filecmp.cmpfiles(a, b, os.listdir(a), shallow=False)
    assert not mismatch and not errors and match


def test_several_scales_in_one_info(tmp_path):
    path = str(tmp_path / "vol") + "/"
    rng = np.random.default_rng(5)
    base = {"multiscale_metadata": {"num_channels": 1, "data_type": "uint32", "type": "segmentation"}}
    scales = [
        {"resolution": [4, 4, 4], "size": [40, 30, 20], "chunk_size": [16, 16, 16], "encoding": "compressed_segmentation"},
        {"resolution": [8, 8, 8], "size": [20, 15, 10], "chunk_size": [8, 8, 8], "encoding": "raw",
         "sharding": _sharding(1, "identity", 1, 2)},
        {"resolution": [16, 16, 16], "size": [10, 8, 5], "voxel_offset": [1, 1, 1], "chunk_size": [4, 4, 4], "encoding": "raw"},
    ]  # fmt: skip
    written = []
    for i, sm in enumerate(scales):
        lib = ts if i % 2 == 0 else ref
        store = lib.open({**_spec(path), **base, "scale_metadata": sm}, create=True).result()
        data = rng.integers(0, 1000, size=tuple(sm["size"]) + (1,)).astype(np.uint32)
        store[...] = data
        written.append(data)
    info = json.loads(open(path + "info").read())
    assert [s["key"] for s in info["scales"]] == ["4_4_4", "8_8_8", "16_16_16"]
    for i, data in enumerate(written):
        for lib in (ts, ref):
            store = lib.open({**_spec(path), "scale_index": i}).result()
            np.testing.assert_array_equal(store.read().result(), data)
        by_res = ts.open(_spec(path), dimension_units=[f"{4 << i}nm", None, None, None]).result()
        assert by_res.spec().to_json()["scale_index"] == i


def test_concurrent_writes_to_one_shard_lose_nothing(tmp_path):
    path = str(tmp_path / "vol") + "/"
    scale = {"encoding": "raw", "chunk_size": [4, 4, 4], "sharding": _sharding(0, "identity", 2, 0)}
    store = ts.open({**_spec(path), "scale_metadata": dict(scale, size=[16, 16, 16], resolution=[1, 1, 1]),
                     "multiscale_metadata": {"num_channels": 1, "data_type": "uint8"}}, create=True).result()  # fmt: skip
    futures = [store[x : x + 2, :, :, :].write(np.full((2, 16, 16, 1), x + 1, np.uint8)) for x in range(0, 16, 2)]
    for f in futures:
        f.result()
    expected = np.repeat(np.arange(1, 17, 2, dtype=np.uint8), 2)[:, None, None, None] * np.ones((1, 16, 16, 1), np.uint8)
    np.testing.assert_array_equal(ref.open(_spec(path)).result().read().result(), expected)
    assert os.listdir(path + "1_1_1") == ["0.shard"]


def test_corrupt_chunk_reports_what_the_reference_reports(tmp_path):
    path = str(tmp_path / "vol") + "/"
    scale, dtype, nc = CASES["raw_uint16_2ch"]
    store = ts.open(_spec(path, scale, dtype, nc), create=True).result()
    store[3:11, -2:6, 5:13, :] = 1
    with open(path + "4_4_40/3-11_-2-6_5-13", "wb") as f:
        f.write(b"short")
    with pytest.raises(ValueError) as exc:
        store.read().result()
    assert str(exc.value) == (
        f'FAILED_PRECONDITION: Error reading local file "{path}4_4_40/3-11_-2-6_5-13": '
        "Expected chunk length to be 2048, but received 5 bytes"
    )


def test_corrupt_shard_reports_data_loss(tmp_path):
    path = str(tmp_path / "vol") + "/"
    scale, dtype, nc = CASES["sharded_identity"]
    store = ts.open(_spec(path, scale, dtype, nc), create=True).result()
    store[...] = 1
    shard = path + "4_4_40/" + sorted(os.listdir(path + "4_4_40"))[0]
    with open(shard, "r+b") as f:
        f.write(b"\xff" * 24)
    with pytest.raises(ValueError, match="DATA_LOSS"):
        store.read().result()
