"""The seed page's Google Cloud Storage examples, against a GCS server on loopback.

The seed opens the hemibrain segmentation (a sharded compressed_segmentation precomputed
volume) from a public bucket by JSON spec, by `gs://...|neuroglancer-precomputed:` URL, by a
bare `gs://` URL and by a gcs kvstore spec.  The same `info` is served by the emulator under the
same bucket and path; the reprs and URLs must be the seed's.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import tensorstore_py as ts
from gcs_emulator import Emulator

ref = pytest.importorskip("tensorstore")

BUCKET = "neuroglancer-janelia-flyem-hemibrain"
PATH = "v1.2/segmentation/"
SEED = os.path.join(os.path.dirname(__file__), "..", "seed", "000_88b9d1ef209e1fc1.txt")
INFO = {
    "@type": "neuroglancer_multiscale_volume",
    "data_type": "uint64",
    "num_channels": 1,
    "type": "segmentation",
    "scales": [
        {
            "chunk_sizes": [[64, 64, 64]],
            "compressed_segmentation_block_size": [8, 8, 8],
            "encoding": "compressed_segmentation",
            "key": "8.0x8.0x8.0",
            "resolution": [8, 8, 8],
            "sharding": {
                "@type": "neuroglancer_uint64_sharded_v1", "data_encoding": "gzip", "hash": "identity",
                "minishard_bits": 6, "minishard_index_encoding": "gzip", "preshift_bits": 9, "shard_bits": 15,
            },
            "size": [34432, 39552, 41408],
            "voxel_offset": [0, 0, 0],
        }
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def hemibrain_bucket():
    server = Emulator((BUCKET,)).start()
    saved = os.environ.get("TENSORSTORE_GCS_HTTP_URL")
    os.environ["TENSORSTORE_GCS_HTTP_URL"] = server.url
    kv = ts.KvStore.open({"driver": "gcs", "bucket": BUCKET, "path": PATH}).result()
    kv.write("info", json.dumps(INFO).encode()).result()
    yield server
    if saved is None:
        os.environ.pop("TENSORSTORE_GCS_HTTP_URL", None)
    else:
        os.environ["TENSORSTORE_GCS_HTTP_URL"] = saved
    server.stop()


def _seed_precomputed_repr() -> str:
    """The seed's `store` repr for the hemibrain volume, whitespace-normalised (the seed text
    lost its line breaks)."""
    with open(SEED, encoding="utf-8") as f:
        text = f.read()
    start = text.index("TensorStore({ 'context': { 'cache_pool': {}, 'data_copy_concurrency': {}, 'gcs_request_concurrency'")
    depth, i = 0, text.index("(", start)
    for i in range(i, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            break
    return " ".join(text[start : i + 1].split())


def _flat(s: str) -> str:
    return " ".join(s.split())


EXPECTED_URL = f"gs://{BUCKET}/{PATH}|neuroglancer-precomputed:"


def test_open_by_json_spec_prints_the_seed_repr(hemibrain_bucket):
    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "gcs", "bucket": BUCKET, "path": PATH}},
        read=True,
    ).result()
    # The layout algorithm is TensorStore's (tested elsewhere); the seed lost only its newlines.
    assert _flat(repr(store)) == _seed_precomputed_repr()
    assert re.search(r"\n  'context': \{\n    'cache_pool': \{\},", repr(store))


def test_open_by_url_and_by_auto_detection(hemibrain_bucket):
    by_url = ts.open(f"gs://{BUCKET}/{PATH}|neuroglancer-precomputed:", read=True).result()
    assert _flat(repr(by_url)) == _seed_precomputed_repr()
    auto = ts.open(f"gs://{BUCKET}/{PATH}", read=True).result()
    assert auto.url == EXPECTED_URL
    kv_spec = ts.open({"driver": "gcs", "bucket": BUCKET, "path": PATH}, read=True).result()
    assert kv_spec.url == EXPECTED_URL
    assert ref.open(f"gs://{BUCKET}/{PATH}", read=True).result().url == EXPECTED_URL


def test_read_a_missing_region_through_the_sharded_gcs_volume(hemibrain_bucket):
    store = ts.open(f"gs://{BUCKET}/{PATH}", read=True).result()
    block = store[1000:1010, 2000:2004, 3000:3002, 0].read().result()
    np.testing.assert_array_equal(block, np.zeros((10, 4, 2), np.uint64))
    theirs = ref.open(f"gs://{BUCKET}/{PATH}", read=True).result()[1000:1010, 2000:2004, 3000:3002, 0].read().result()
    np.testing.assert_array_equal(block, theirs)
