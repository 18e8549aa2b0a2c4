"""zarr v3 arrays exchanged with zarr-python 3 in both directions, unsharded and sharded.

zarr-python 3 cannot share the test environment (zarr 2.18 lives there), so it runs in its own
environment (`.venv-zarr3`, made by `./dev.sh install`) through `zarr_python_helper.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tensorstore_py as ts
from zarr3_helpers import random_array

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZARR3_PYTHON = os.environ.get("TSPY_ZARR3_PYTHON", os.path.join(_ROOT, ".venv-zarr3", "bin", "python"))
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zarr_python_helper.py")

pytestmark = pytest.mark.skipif(
    not os.path.exists(ZARR3_PYTHON),
    reason=f"zarr-python 3 environment missing ({ZARR3_PYTHON}); `./dev.sh install` creates it",
)


def _run(*args: str) -> None:
    proc = subprocess.run([ZARR3_PYTHON, HELPER, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


CASES = {
    "plain": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor=None),
    "zstd": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor="zstd"),
    "zstd checksum": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor="zstd", checksum=True),
    "gzip big endian": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor="gzip", endian="big"),
    "blosc": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor="blosc"),
    "transpose": dict(shape=[9, 7, 5], chunks=[4, 3, 5], shards=None, compressor=None, transpose=[2, 0, 1]),
    "sharded": dict(shape=[9, 7, 5], chunks=[2, 3, 5], shards=[4, 6, 5], compressor=None),
    "sharded zstd": dict(shape=[9, 7, 5], chunks=[2, 3, 5], shards=[4, 6, 5], compressor="zstd"),
    "sharded edge": dict(shape=[5, 7, 3], chunks=[2, 2, 3], shards=[4, 4, 3], compressor="zstd"),
}
DTYPES = ["uint16", "int8", "float32", "float64", "complex64", "bool", "int64"]


def _params(name: str, dtype: str) -> dict:
    fill = [0, 0] if dtype.startswith("complex") else (False if dtype == "bool" else 0)
    params = dict(CASES[name], dtype=dtype, fill_value=fill)
    if dtype == "int8" and params.get("endian") == "big":
        params.pop("endian")
    return params


def _our_spec(path, params) -> dict:
    codecs = []
    if params.get("transpose") is not None:
        codecs.append({"name": "transpose", "configuration": {"order": params["transpose"]}})
    inner = [{"name": "bytes", "configuration": {"endian": params.get("endian", "little")}}]
    if params["compressor"] == "zstd":
        inner.append({"name": "zstd", "configuration": {"level": 3, "checksum": bool(params.get("checksum"))}})
    elif params["compressor"] == "gzip":
        inner.append({"name": "gzip", "configuration": {"level": 5}})
    elif params["compressor"] == "blosc":
        inner.append({"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}})
    if params["shards"] is not None:
        codecs.append({"name": "sharding_indexed", "configuration": {"chunk_shape": params["chunks"], "codecs": inner}})
        grid = params["shards"]
    else:
        codecs += inner
        grid = params["chunks"]
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path) + "/"}, "metadata": {
        "shape": params["shape"], "data_type": params["dtype"], "fill_value": params["fill_value"],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}}, "codecs": codecs}}


# Every codec case with one type, every type with one sharded case: one zarr-python process each way.
PAIRS = [(name, "uint16") for name in sorted(CASES)] + [("sharded zstd", d) for d in DTYPES if d != "uint16"]
IDS = [f"{n}-{d}" for n, d in PAIRS]


@pytest.fixture(scope="module")
def written_by_zarr_python(tmp_path_factory):
    root = tmp_path_factory.mktemp("zp")
    jobs, out = [], {}
    for i, (name, dtype) in enumerate(PAIRS):
        params = _params(name, dtype)
        data = random_array(dtype, params["shape"], seed=i)
        np.save(root / f"in{i}.npy", data)
        jobs.append(["write", str(root / f"a{i}"), str(root / f"in{i}.npy"), json.dumps(params)])
        out[(name, dtype)] = (root / f"a{i}", data)
    (root / "jobs.json").write_text(json.dumps(jobs))
    _run("jobs", str(root / "jobs.json"))
    return out


@pytest.fixture(scope="module")
def read_by_zarr_python(tmp_path_factory):
    root = tmp_path_factory.mktemp("ours")
    jobs, expected = [], {}
    for i, (name, dtype) in enumerate(PAIRS):
        params = _params(name, dtype)
        data = random_array(dtype, params["shape"], seed=100 + i)
        store = ts.open(_our_spec(root / f"a{i}", params), create=True).result()
        region = tuple(slice(1, s) for s in params["shape"])  # leaves chunks and sub-chunks unwritten
        store[region] = data[region]
        want = np.zeros_like(data)
        want[region] = data[region]
        jobs.append(["read", str(root / f"a{i}"), str(root / f"out{i}.npy")])
        expected[(name, dtype)] = (root / f"out{i}.npy", want)
    (root / "jobs.json").write_text(json.dumps(jobs))
    _run("jobs", str(root / "jobs.json"))
    return expected


@pytest.mark.parametrize("case", PAIRS, ids=IDS)
def test_zarr_python_writes_we_read(written_by_zarr_python, case):
    path, data = written_by_zarr_python[case]
    got = ts.open({"driver": "zarr3", "kvstore": f"file://{path}/"}).result().read().result()
    np.testing.assert_array_equal(got, data)


@pytest.mark.parametrize("case", PAIRS, ids=IDS)
def test_we_write_zarr_python_reads(read_by_zarr_python, case):
    out, want = read_by_zarr_python[case]
    np.testing.assert_array_equal(np.load(out), want)


def test_partial_writes_by_zarr_python_leave_missing_sub_chunks(tmp_path):
    params = dict(_params("sharded", "uint16"), regions=[[[0, 2], [0, 3], [0, 5]], [[8, 9], [6, 7], [4, 5]]])
    data = random_array("uint16", params["shape"], seed=5)
    np.save(tmp_path / "in.npy", data)
    _run("write-regions", str(tmp_path / "a"), str(tmp_path / "in.npy"), json.dumps(params))
    expected = np.zeros_like(data)
    expected[0:2, 0:3, 0:5] = data[0:2, 0:3, 0:5]
    expected[8:9, 6:7, 4:5] = data[8:9, 6:7, 4:5]
    got = ts.open({"driver": "zarr3", "kvstore": f"file://{tmp_path}/a/"}).result().read().result()
    np.testing.assert_array_equal(got, expected)
