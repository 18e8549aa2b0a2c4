"""``dst.write(src)`` between arrays on local stores with the same chunk grid copies each
interior chunk straight from the source's stored chunk to the destination's (`copy._ChunkToChunk`):
decoded into the block, encoded and written whole, with no view planning or staging.  Checked
against numpy and against what tensorstore stores for the same copy (values, and which chunks
exist), with the blocks that must go the general way: edge chunks, views off the grid, other
layouts, missing chunks that must not be filled."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorstore as ref

import tensorstore_py as ts
from tensorstore_py import copy as copy_module
from tensorstore_py import statistics

TIMEOUT = 60


@pytest.fixture
def direct_copies(monkeypatch):
    """Every block becomes one destination chunk (whatever its size), and the blocks the
    chunk-to-chunk path took are counted."""
    monkeypatch.setattr(copy_module, "WHOLE_CHUNK_BYTES", 0)
    taken = []
    original = copy_module._ChunkToChunk.copy

    def spy(self, box, block):
        written = original(self, box, block)
        if written is not None:
            taken.append(box)
        return written

    monkeypatch.setattr(copy_module._ChunkToChunk, "copy", spy)
    return taken


def _spec(path, metadata=None):
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}
    if metadata is not None:
        spec["metadata"] = metadata
    return spec


def _metadata(shape, chunks, dtype="<u2", fill_value=0, compressor=None, order="C"):
    return {"shape": list(shape), "chunks": list(chunks), "dtype": dtype, "fill_value": fill_value,
            "order": order,
            "compressor": compressor or {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}}


def _stored(path) -> set[str]:
    return {name for name in os.listdir(path) if not name.startswith(".")}


def _copy_both(tmp_path, src_meta, dst_meta, data, view=lambda s: s, dst_view=lambda d: d):
    """The copy by tensorstore_py (into `ours`) and by tensorstore (into `theirs`) of a source
    written by tensorstore; returns (ours, theirs) opened with tensorstore."""
    src = ref.open(_spec(tmp_path / "src", src_meta), create=True).result()
    if data is not None:
        src.write(data).result()
    for name, lib in (("ours", ts), ("theirs", ref)):
        source = view(lib.open(_spec(tmp_path / "src")).result())
        dest = lib.open(_spec(tmp_path / name, dst_meta), create=True).result()
        dst_view(dest).write(source).result(timeout=TIMEOUT)
    return (ref.open(_spec(tmp_path / "ours")).result(), ref.open(_spec(tmp_path / "theirs")).result())


def test_interior_chunks_go_chunk_to_chunk_and_edges_the_general_way(tmp_path, direct_copies):
    shape, chunks = (40, 36, 20), (8, 8, 8)
    data = (np.arange(np.prod(shape)) % 5000).astype(np.uint16).reshape(shape)
    ours, theirs = _copy_both(tmp_path, _metadata(shape, chunks), _metadata(shape, chunks), data)
    np.testing.assert_array_equal(ours.read().result(), data)
    assert _stored(tmp_path / "ours") == _stored(tmp_path / "theirs")
    # 5 x 4 x 2 interior chunks (the last chunk of dims 1 and 2 is cut by the shape).
    assert len(direct_copies) == 5 * 4 * 2


def test_missing_and_fill_chunks_are_stored_as_tensorstore_stores_them(tmp_path, direct_copies):
    shape, chunks = (32, 32), (8, 8)
    src = ref.open(_spec(tmp_path / "src", _metadata(shape, chunks, fill_value=7)), create=True).result()
    src[0:8, 0:8].write(np.full((8, 8), 7, np.uint16)).result()  # equal to the fill: not stored
    src[8:16, 0:8].write(np.arange(64, dtype=np.uint16).reshape(8, 8)).result()
    src[16:24, 8:16].write(np.full((8, 8), 3, np.uint16)).result()
    # The destination's fill value is another: a missing source chunk is stored as 7s there,
    # and a chunk of 3s is not stored at all.
    for dst_fill in (7, 3):
        dst_meta = _metadata(shape, chunks, fill_value=dst_fill)
        for name, lib in (("ours", ts), ("theirs", ref)):
            source = lib.open(_spec(tmp_path / "src")).result()
            dest = lib.open(_spec(tmp_path / f"{name}{dst_fill}", dst_meta), create=True).result()
            dest.write(source).result(timeout=TIMEOUT)
        assert _stored(tmp_path / f"ours{dst_fill}") == _stored(tmp_path / f"theirs{dst_fill}")
        np.testing.assert_array_equal(ref.open(_spec(tmp_path / f"ours{dst_fill}")).result().read().result(),
                                      src.read().result())
    assert _stored(tmp_path / "ours7") == {"1.0", "2.1"}
    assert len(_stored(tmp_path / "ours3")) == 15
    assert len(direct_copies) == 2 * 16


def test_views_on_the_grid_go_chunk_to_chunk_and_views_off_it_do_not(tmp_path, direct_copies):
    shape, chunks = (48, 48), (8, 8)
    data = np.random.default_rng(0).integers(0, 60000, shape, dtype=np.uint16)
    src_meta, dst_meta = _metadata(shape, chunks), _metadata((32, 32), chunks)
    # A translated source window aligned to both grids: every block is one chunk of each.
    ours, theirs = _copy_both(tmp_path, src_meta, dst_meta, data,
                              view=lambda s: s[8:40, 16:48].translate_to[0, 0])
    np.testing.assert_array_equal(ours.read().result(), data[8:40, 16:48])
    assert _stored(tmp_path / "ours") == _stored(tmp_path / "theirs")
    assert len(direct_copies) == 16
    direct_copies.clear()
    # Shifted by 3: no source chunk lines up with a destination chunk.
    ours, _ = _copy_both(tmp_path / "off", src_meta, dst_meta, data,
                         view=lambda s: s[3:35, 5:37].translate_to[0, 0])
    np.testing.assert_array_equal(ours.read().result(), data[3:35, 5:37])
    assert direct_copies == []
    # Transposed: the grids line up but the elements do not.
    ours, _ = _copy_both(tmp_path / "t", src_meta, dst_meta, data, view=lambda s: s[8:40, 8:40].T)
    np.testing.assert_array_equal(ours.read().result(), data[8:40, 8:40].T)
    assert direct_copies == []


def test_other_codecs_and_layouts(tmp_path, direct_copies):
    shape, chunks = (24, 16, 16), (8, 8, 8)
    data = np.random.default_rng(1).standard_normal(shape).astype("<f8")
    src_meta = _metadata(shape, chunks, dtype="<f8")
    # Re-encoded with another compressor, chunk to chunk.
    gzip = _metadata(shape, chunks, dtype="<f8", compressor={"id": "zlib", "level": 3})
    ours, theirs = _copy_both(tmp_path / "gzip", src_meta, gzip, data)
    np.testing.assert_array_equal(ours.read().result(), data)
    assert len(direct_copies) == 3 * 2 * 2
    direct_copies.clear()
    # A Fortran-ordered destination keeps another layout: the general path converts.
    fortran = _metadata(shape, chunks, dtype="<f8", order="F")
    ours, _ = _copy_both(tmp_path / "f", src_meta, fortran, data)
    np.testing.assert_array_equal(ours.read().result(), data)
    assert direct_copies == []
    # A Fortran-ordered source decodes into the block all the same.
    ours, _ = _copy_both(tmp_path / "fsrc", fortran, src_meta, data)
    np.testing.assert_array_equal(ours.read().result(), data)
    assert len(direct_copies) == 12


def test_missing_chunk_with_fill_missing_data_reads_off(tmp_path, direct_copies):
    shape, chunks = (16, 16), (8, 8)
    src = ts.open(_spec(tmp_path / "src", _metadata(shape, chunks)), create=True).result()
    src[0:8, 0:8].write(np.ones((8, 8), np.uint16)).result()
    strict = ts.open({**_spec(tmp_path / "src"), "fill_missing_data_reads": False}).result()
    with pytest.raises(ValueError) as expected:
        strict.read().result()
    dst = ts.open(_spec(tmp_path / "dst", _metadata(shape, chunks)), create=True).result()
    with pytest.raises(ValueError) as got:
        dst.write(strict).result(timeout=TIMEOUT)
    assert type(got.value) is type(expected.value)
    assert "is missing" in str(got.value)


def test_memory_stores_and_statistics(direct_copies):
    ctx = ts.Context()
    meta = {"shape": [32, 24], "chunks": [8, 8], "dtype": "<i4"}
    data = np.arange(32 * 24, dtype=np.int32).reshape(32, 24) + 1
    src = ts.open({"driver": "zarr", "kvstore": {"driver": "memory", "path": "s/"}, "metadata": meta},
                  create=True, context=ctx).result()
    src.write(data).result()
    dst = ts.open({"driver": "zarr", "kvstore": {"driver": "memory", "path": "d/"}, "metadata": meta},
                  create=True, context=ctx).result()
    with statistics.record() as rec:
        dst.write(src).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(dst.read().result(), data)
    assert len(direct_copies) == 12
    assert rec.statistics.chunks_read == 12
    assert rec.statistics.chunks_written == 12
    assert rec.statistics.elements_written == data.size
