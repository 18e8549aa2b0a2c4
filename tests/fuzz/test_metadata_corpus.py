"""The bad-metadata corpus, generated here: valid `.zarray`, `zarr.json`, `attributes.json` and
`info` documents with one member deleted, replaced by a value of another type or an extreme
number, or joined by an unknown member, plus invalid and truncated JSON.  Each document is
opened by tensorstore_py and by tensorstore 0.1.86 from the same directory: both must open it
or both refuse it, tensorstore_py with a ValueError (and, where opened, read and write work).
A hypothesis test then mutates the documents' bytes freely: only ValueErrors, never a crash,
a hang or another exception type.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorstore
from hypothesis import given
from hypothesis import strategies as st

import tensorstore_py
from fuzz_helpers import READ_TIMEOUT, budget, mutations

VALID = {
    ("zarr", ".zarray"): {"zarr_format": 2, "shape": [10, 12], "chunks": [4, 5], "dtype": "<u2", "compressor": None,
                          "fill_value": 3, "order": "C", "filters": None, "dimension_separator": "."},
    ("zarr3", "zarr.json"): {"zarr_format": 3, "node_type": "array", "shape": [10, 12], "data_type": "uint16",
                             "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 5]}},
                             "chunk_key_encoding": {"name": "default"}, "fill_value": 3,
                             "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]},
    ("n5", "attributes.json"): {"dimensions": [10, 12], "blockSize": [4, 5], "dataType": "uint16",
                                "compression": {"type": "raw"}},
    ("neuroglancer_precomputed", "info"): {
        "@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint16", "num_channels": 1,
        "scales": [{"key": "s0", "size": [10, 12, 1], "voxel_offset": [0, 0, 0], "chunk_sizes": [[4, 5, 1]],
                    "resolution": [1, 1, 1], "encoding": "raw"}]},
}

_ODD_VALUES = [None, True, -1, 0, 2**31, 2**40, 2**63, -(2**63) - 1, 1.5, float("1e308"), "", "x" * 40, [], [-1],
               [0, 0], [2**62, 2**62], [1, 2, 3], {}, {"a": 1}]


def _corpus() -> list[tuple[str, str, str, bytes]]:
    """(case id, driver, file name, document bytes)."""
    out = []
    for (driver, name), doc in VALID.items():
        def add(label, j):
            out.append((f"{driver}:{label}", driver, name, json.dumps(j).encode()))

        add("valid", doc)
        add("extra-member", {**doc, "unknown_member": {"x": 1}})
        for member in doc:
            add(f"without-{member}", {k: v for k, v in doc.items() if k != member})
            for i, value in enumerate(_ODD_VALUES):
                add(f"{member}={i}", {**doc, member: value})
        if driver == "neuroglancer_precomputed":
            for member in doc["scales"][0]:
                for i, value in enumerate(_ODD_VALUES):
                    scale = {**doc["scales"][0], member: value}
                    add(f"scales.{member}={i}", {**doc, "scales": [scale]})
        text = json.dumps(doc).encode()
        for cut in (0, 1, len(text) // 2, len(text) - 1):
            out.append((f"{driver}:truncated-{cut}", driver, name, text[:cut]))
        out.append((f"{driver}:not-json", driver, name, b"\x89PNG\r\n garbage"))
        out.append((f"{driver}:nan", driver, name, text.replace(b"3", b"NaN", 1)))
        out.append((f"{driver}:deep", driver, name, b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"))
    return out


CORPUS = _corpus()


def _open(lib, driver: str, path: str):
    """("ok", store) or ("error", message)."""
    try:
        return "ok", lib.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}).result()
    except ValueError as exc:
        return "error", str(exc)


def test_the_corpus_is_large():
    assert len(CORPUS) > 400


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_metadata_is_refused_as_tensorstore_refuses_it(tmp_path, case):
    _, driver, name, data = case
    path = str(tmp_path)
    target = os.path.join(path, name)
    with open(target, "wb") as f:
        f.write(data)
    theirs, their_store = _open(tensorstore, driver, path)
    ours, store = _open(tensorstore_py, driver, path)
    assert ours == theirs, f"tensorstore: {theirs}, tensorstore_py: {ours} ({store if ours == 'error' else ''})"
    if ours == "ok" and all(store.shape):
        # One element written and read back by each library in turn: both succeed or both refuse.
        first = tuple(int(o) for o in store.domain.origin)
        outcomes = []
        for handle in (their_store, store):
            try:
                handle[first].write(1).result(timeout=READ_TIMEOUT)
                outcomes.append(int(handle[first].read().result(timeout=READ_TIMEOUT)))
            except ValueError:
                outcomes.append("error")
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("key", sorted(VALID), ids=[k[0] for k in sorted(VALID)])
def test_mutated_metadata_bytes_give_value_errors(tmp_path, key):
    driver, name = key
    original = json.dumps(VALID[key]).encode()
    path = str(tmp_path)

    @budget(40)
    @given(data=mutations(original))
    def run(data):
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
        try:
            store = tensorstore_py.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}).result(
                timeout=READ_TIMEOUT)
        except ValueError:
            return
        try:
            store.read().result(timeout=READ_TIMEOUT)
        except ValueError:
            pass

    run()


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30))
@budget(60)
def test_random_json_as_metadata_members_gives_value_errors(value):
    for (driver, _), doc in VALID.items():
        for member in list(doc)[:6]:
            j = {**doc, member: value}
            spec = {"driver": driver, "kvstore": {"driver": "memory"}, "metadata": j}
            if driver == "neuroglancer_precomputed":
                spec = {"driver": driver, "kvstore": {"driver": "memory"}, "multiscale_metadata":
                        {k: j[k] for k in ("type", "data_type", "num_channels") if k in j}}
            try:
                tensorstore_py.open(spec, create=True).result(timeout=READ_TIMEOUT)
            except (ValueError, TypeError):
                pass
