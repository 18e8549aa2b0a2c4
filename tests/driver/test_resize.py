"""TensorStore.resize: the same domains, stored metadata, deleted chunks and errors as
tensorstore 0.1.86, for zarr and n5."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _files(path: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)


def _scenario(lib, driver: str, path: str) -> list[str]:
    """Runs a fixed sequence of resizes; returns what each step printed or raised."""
    out: list[str] = []

    def step(fn):
        try:
            out.append(repr(fn()))
        except (ValueError, TypeError) as exc:
            out.append("error: " + str(exc).replace(path, "<path>"))

    spec = {"driver": driver, "kvstore": {"driver": "file", "path": path + "/"}}
    s = lib.open(spec, create=True, dtype=lib.int32, shape=[6, 6], chunk_layout=lib.ChunkLayout(chunk_shape=[4, 4])).result()
    s.write(np.arange(36, dtype=np.int32).reshape(6, 6) + 1).result()
    r = s.resize(exclusive_max=[3, 6]).result()
    step(lambda: (r.domain, _files(path)))
    r2 = r.resize(exclusive_max=[6, 6]).result()
    step(lambda: (r2.read().result().tolist(), s.domain))  # boundary chunks keep their data
    step(lambda: s.resize(inclusive_min=[1, 0]).result())
    step(lambda: r2[1:3].resize(exclusive_max=[2, 6]).result())
    step(lambda: r2.resize(exclusive_max=[None, 9]).result().domain)
    step(lambda: r2.resize(exclusive_max=[8, 8], expand_only=True).result().domain)
    step(lambda: r2.resize(exclusive_max=[2, 2], expand_only=True).result().domain)
    step(lambda: r2.resize(exclusive_max=[10, 10], shrink_only=True).result().domain)
    step(lambda: (r2.resize(exclusive_max=[1, 1], resize_metadata_only=True).result().domain, _files(path)))
    step(lambda: r2[:, 2:].resize(exclusive_max=[None, 3]).result().domain)
    step(lambda: r2[:, 2:].resize(exclusive_max=[None, 3], resize_tied_bounds=True).result().domain)
    step(lambda: r2[lib.d[0].translate_by[10]].resize(exclusive_max=[12, None]).result().domain)
    step(lambda: lib.open(spec).result().domain)
    return out


@pytest.mark.parametrize("driver", ["zarr", "n5"])
def test_resize_sequence_matches_the_reference(tmp_path, driver):
    ours = _scenario(ts, driver, str(tmp_path / "ours"))
    theirs = _scenario(ref, driver, str(tmp_path / "theirs"))
    assert ours == theirs


def test_resized_stores_interoperate(tmp_path):
    path = str(tmp_path / "a")
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
    s = ts.open(spec, create=True, dtype=ts.uint8, shape=[4, 4]).result()
    grown = s.resize(exclusive_max=[10, 4]).result()
    grown[8:10] = 7
    np.testing.assert_array_equal(ref.open(spec).result()[8:10].read().result(), np.full((2, 4), 7))
