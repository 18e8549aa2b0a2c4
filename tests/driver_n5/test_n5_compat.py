"""n5 arrays written by one library and read by the other, tensorstore_py <-> tensorstore 0.1.86,
over every n5 compression and every numeric data type, with partial edge chunks and chunks
never written (which read as zero: n5 has no fill value)."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from n5_helpers import COMPRESSIONS, NUMERIC_DTYPES, random_data, ref

SHAPE = (7, 5)
BLOCK = (3, 2)  # a 3 x 3 grid with partial edge chunks
REGION = (slice(1, 6), slice(0, 3))  # leaves some chunks missing entirely


def _spec(path: str, dtype: str, compression: dict) -> dict:
    return {
        "driver": "n5",
        "kvstore": {"driver": "file", "path": path},
        "metadata": {"dimensions": list(SHAPE), "blockSize": list(BLOCK), "dataType": dtype, "compression": compression},
    }


def _expected(data: np.ndarray) -> np.ndarray:
    full = np.zeros(SHAPE, dtype=data.dtype)
    full[REGION] = data
    return full


def _files(root: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(out)


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_ours_written_reference_reads(tmp_path, dtype, compression):
    data = random_data(dtype, (5, 3))
    spec = _spec(str(tmp_path), dtype, COMPRESSIONS[compression])
    store = ts.open(spec, create=True).result()
    store[REGION] = data
    theirs = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    np.testing.assert_array_equal(theirs.read().result(), _expected(data))
    np.testing.assert_array_equal(theirs[2:6, 1:4].read().result(), _expected(data)[2:6, 1:4])
    assert theirs.dtype.name == dtype


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_reference_written_ours_reads(tmp_path, dtype, compression):
    data = random_data(dtype, (5, 3), seed=1)
    spec = _spec(str(tmp_path), dtype, COMPRESSIONS[compression])
    theirs = ref.open(spec, create=True).result()
    theirs[REGION] = data
    ours = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    np.testing.assert_array_equal(ours.read().result(), _expected(data))
    np.testing.assert_array_equal(ours[::2, ::-1].read().result(), _expected(data)[::2, ::-1])
    assert ours.dtype.name == dtype


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_same_files_and_bytes_as_reference(tmp_path, dtype):
    """Uncompressed, both libraries store byte-identical blocks under the same keys."""
    data = random_data(dtype, (5, 3), seed=2)
    paths = {}
    for name, lib in (("ours", ts), ("ref", ref)):
        path = str(tmp_path / name)
        store = lib.open(_spec(path, dtype, {"type": "raw"}), create=True).result()
        store[REGION] = data
        paths[name] = path
    assert _files(paths["ours"]) == _files(paths["ref"])
    # Key order follows the dimensions; row cell 2 was never written, so it is missing.
    assert "1/0" in _files(paths["ours"]) and "2/0" not in _files(paths["ours"])
    for rel in _files(paths["ours"]):
        with open(os.path.join(paths["ours"], rel), "rb") as a, open(os.path.join(paths["ref"], rel), "rb") as b:
            assert a.read() == b.read(), rel


def _block_files(tmp_path, compression: str) -> dict[str, bytes]:
    data = random_data("uint16", SHAPE, seed=3)
    blobs = {}
    for name, lib in (("ours", ts), ("ref", ref)):
        store = lib.open(_spec(str(tmp_path / name), "uint16", COMPRESSIONS[compression]), create=True).result()
        store.write(data).result()
        with open(tmp_path / name / "1" / "2", "rb") as f:
            blobs[name] = f.read()
    return blobs


@pytest.mark.parametrize("compression", ["blosc-lz4", "zstd"])
def test_compressed_blocks_match_reference_bytes(tmp_path, compression):
    blobs = _block_files(tmp_path, compression)
    assert blobs["ours"] == blobs["ref"]


@pytest.mark.parametrize("compression", ["gzip", "gzip-zlib-3"])
def test_gzip_blocks_match_reference_after_inflating(tmp_path, compression):
    """Our DEFLATE is libdeflate's, not zlib's: the compressed bytes differ from TensorStore's
    (both are valid streams, which each library reads from the other in the tests above), but
    the block header and the inflated payload are identical."""
    import zlib

    blobs = _block_files(tmp_path, compression)
    header = 4 + 4 * len(BLOCK)
    assert blobs["ours"][:header] == blobs["ref"][:header]
    ours, theirs = (zlib.decompress(blobs[k][header:], 47) for k in ("ours", "ref"))
    assert ours == theirs and len(ours) == 2 * BLOCK[0] * BLOCK[1]


def test_edge_blocks_written_full_size(tmp_path):
    """TensorStore writes edge blocks at full blockSize; so do we (header and length)."""
    store = ts.open(_spec(str(tmp_path), "int16", {"type": "raw"}), create=True).result()
    store.write(np.arange(35, dtype=np.int16).reshape(SHAPE) + 1).result()
    with open(tmp_path / "2" / "2", "rb") as f:
        blob = f.read()
    mode, ndim, d0, d1 = struct.unpack(">HHII", blob[:12])
    assert (mode, ndim, d0, d1) == (0, 2, 3, 2)
    assert len(blob) == 12 + 3 * 2 * 2
    # Fortran order, big endian: element (6, 4) first, then the padding (7, 4), (8, 4) as zero.
    values = np.frombuffer(blob[12:], dtype=">i2").reshape(BLOCK, order="F")
    assert values[0, 0] == 6 * 5 + 4 + 1 and values[1, 0] == 0 and values[2, 1] == 0


def _write_block(path, key: str, shape, payload: bytes, mode: int = 0, count: int | None = None) -> None:
    header = struct.pack(f">HH{len(shape)}I", mode, len(shape), *shape)
    if mode == 1:
        header += struct.pack(">I", count)
    target = os.path.join(path, *key.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(header + payload)


@pytest.mark.parametrize("lib", [ts, ref], ids=["ours", "ref"])
def test_truncated_edge_blocks_as_java_n5_writes_them(tmp_path, lib):
    """Java N5 stores edge blocks cut to the array bounds; both libraries read them."""
    ts.open(_spec(str(tmp_path), "uint32", {"type": "raw"}), create=True).result()
    edge = np.array([[1, 2], [3, 4]], dtype=np.uint32)[:1]  # cell (2, 2) holds 1 x 1 element
    _write_block(str(tmp_path), "2/2", (1, 1), edge[:1, :1].astype(">u4").tobytes(order="F"))
    block = np.arange(6, dtype=np.uint32).reshape(3, 2) + 10
    _write_block(str(tmp_path), "0/1", (3, 2), block.astype(">u4").tobytes(order="F"))
    cut = np.array([[7, 8]], dtype=np.uint32)  # cell (2, 0): 1 row of the 3 a full block has
    _write_block(str(tmp_path), "2/0", (1, 2), cut.astype(">u4").tobytes(order="F"))
    store = lib.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    out = store.read().result()
    expected = np.zeros(SHAPE, dtype=np.uint32)
    expected[0:3, 2:4] = block
    expected[6, 4] = 1
    expected[6, 0:2] = [7, 8]
    np.testing.assert_array_equal(out, expected)


def test_truncated_block_then_written_becomes_full(tmp_path):
    ts.open(_spec(str(tmp_path), "uint8", {"type": "raw"}), create=True).result()
    _write_block(str(tmp_path), "2/2", (1, 1), b"\x05")
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    store[6, 4] = 9
    theirs = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    assert theirs[6, 4].read().result() == 9
    with open(tmp_path / "2" / "2", "rb") as f:
        assert struct.unpack(">HHII", f.read(12)) == (0, 2, 3, 2)


def test_varlength_mode_blocks_are_read(tmp_path):
    """Mode 1 blocks (element count after the header) decode when the count fits the size.

    The reference rejects them ("varlength chunks not supported"); we read them, since
    numeric data in a varlength block is laid out exactly as in a default block."""
    ts.open(_spec(str(tmp_path), "int16", {"type": "raw"}), create=True).result()
    block = np.array([[1, -2], [3, -4], [5, -6]], dtype=np.int16)
    _write_block(str(tmp_path), "1/1", (3, 2), block.astype(">i2").tobytes(order="F"), mode=1, count=6)
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    np.testing.assert_array_equal(store[3:6, 2:4].read().result(), block)
    theirs = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    with pytest.raises(ValueError, match="varlength chunks not supported"):
        theirs[3:6, 2:4].read().result()


def test_missing_chunks_read_as_zero_and_zero_chunks_are_not_stored(tmp_path):
    store = ts.open(_spec(str(tmp_path), "float32", {"type": "raw"}), create=True).result()
    assert _files(str(tmp_path)) == ["attributes.json"]
    np.testing.assert_array_equal(store.read().result(), np.zeros(SHAPE, np.float32))
    store[0:3, 0:2] = 1.5
    assert "0/0" in _files(str(tmp_path))
    store[0:3, 0:2] = 0
    assert "0/0" not in _files(str(tmp_path))
    store[0, 0] = -0.0  # stored: TensorStore compares bytes, and so do we
    assert "0/0" in _files(str(tmp_path))
    theirs = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    assert np.signbit(theirs[0, 0].read().result())


def test_rank_zero_and_empty_arrays(tmp_path):
    for lib, name in ((ts, "ours"), (ref, "ref")):
        spec = {"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / name)},
                "metadata": {"dimensions": [], "blockSize": [], "dataType": "int32", "compression": {"type": "raw"}}}
        store = lib.open(spec, create=True).result()
        store.write(np.int32(-7)).result()
    with open(tmp_path / "ours" / "0", "rb") as a, open(tmp_path / "ref" / "0", "rb") as b:
        assert a.read() == b.read()
    assert ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / "ref")}}).result().read().result() == -7
    empty = ts.open({"driver": "n5", "kvstore": {"driver": "memory"}}, create=True, dtype=ts.uint8, shape=[0, 4]).result()
    assert empty.read().result().shape == (0, 4)


def test_extra_attributes_preserved(tmp_path):
    attrs = {"dimensions": [4], "blockSize": [2], "dataType": "uint8", "compression": {"type": "raw"},
             "n5": "4.0.0", "pixelResolution": {"unit": "um", "dimensions": [0.5]}, "downsamplingFactors": [1]}
    os.makedirs(tmp_path, exist_ok=True)
    with open(tmp_path / "attributes.json", "w") as f:
        json.dump(attrs, f)
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    theirs = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path)}}).result()
    assert store.spec().to_json() == theirs.spec().to_json()
    assert store.spec().to_json()["metadata"]["pixelResolution"] == {"dimensions": [0.5], "unit": "um"}
    # Created with extra attributes: written back, sorted, compact, as TensorStore writes them.
    for lib, name in ((ts, "a"), (ref, "b")):
        lib.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / name)},
                  "metadata": attrs}, create=True).result()
    with open(tmp_path / "a" / "attributes.json", "rb") as a, open(tmp_path / "b" / "attributes.json", "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("writer", ["ours", "ref"])
def test_auto_driver_detects_n5(tmp_path, writer):
    lib = ts if writer == "ours" else ref
    path = str(tmp_path) + "/"
    lib.open(_spec(path, "int16", {"type": "gzip"}), create=True).result().write(np.arange(35, dtype=np.int16).reshape(SHAPE)).result()
    store = ts.open(f"file://{path}").result()
    assert store.url == f"file://{path}|n5:"
    np.testing.assert_array_equal(store.read().result(), np.arange(35).reshape(SHAPE))
    assert store.spec().to_json() == ref.open(f"file://{path}").result().spec().to_json()


@st.composite
def _layouts(draw):
    rank = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 9)) for _ in range(rank)]
    block = [draw(st.integers(1, 5)) for _ in range(rank)]
    region = []
    for s in shape:
        lo = draw(st.integers(0, s - 1))
        region.append(slice(lo, draw(st.integers(lo + 1, s))))
    return shape, block, tuple(region)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=_layouts(), dtype=st.sampled_from(NUMERIC_DTYPES), compression=st.sampled_from(sorted(COMPRESSIONS)),
       ours_writes=st.booleans(), seed=st.integers(0, 2**16))
def test_random_layouts_round_trip_between_libraries(tmp_path_factory, layout, dtype, compression, ours_writes, seed):
    shape, block, region = layout
    path = str(tmp_path_factory.mktemp("n5"))
    spec = {"driver": "n5", "kvstore": {"driver": "file", "path": path},
            "metadata": {"dimensions": shape, "blockSize": block, "dataType": dtype, "compression": COMPRESSIONS[compression]}}
    writer, reader = (ts, ref) if ours_writes else (ref, ts)
    data = random_data(dtype, tuple(r.stop - r.start for r in region), seed=seed)
    writer.open(spec, create=True).result()[region].write(data).result()
    expected = np.zeros(shape, dtype=dtype)
    expected[region] = data
    got = reader.open({"driver": "n5", "kvstore": {"driver": "file", "path": path}}).result().read().result()
    np.testing.assert_array_equal(got, expected)


def test_fancy_indexing_reads_and_writes_match_reference(tmp_path):
    data = random_data("int32", SHAPE, seed=5)
    stores = {}
    for name, lib in (("ours", ts), ("ref", ref)):
        store = lib.open(_spec(str(tmp_path / name), "int32", COMPRESSIONS["blosc-lz4"]), create=True).result()
        store.write(data).result()
        store.vindex[[0, 6, 3], [4, 1, 2]].write([-1, -2, -3]).result()
        store.oindex[[1, 5], [0, 3]].write([[7, 8], [9, 10]]).result()
        stores[name] = store
    for name in ("ours", "ref"):
        # Each library reads what the other wrote.
        other = ref if name == "ours" else ts
        reopened = other.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / name)}}).result()
        np.testing.assert_array_equal(reopened.read().result(), stores["ref"].read().result())
    np.testing.assert_array_equal(stores["ours"].vindex[[6, 0], [0, 4]].read().result(),
                                  stores["ref"].vindex[[6, 0], [0, 4]].read().result())
    np.testing.assert_array_equal(stores["ours"][::-3, 1::2].read().result(), stores["ref"][::-3, 1::2].read().result())
