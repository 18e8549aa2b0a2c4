"""`ts.Batch` on the gcs driver, against the emulator: one HTTP request per key and batch.

(Here rather than in tests/batch/ because the emulator and proxy fixtures live here.)
"""

from __future__ import annotations

import tensorstore as ref
import tensorstore_py as ts
from gcs_testing import gcs_spec


def test_ranges_of_one_object_share_one_request(proxy, prefix):
    mine = ts.KvStore.open(gcs_spec(prefix)).result()
    theirs = ref.KvStore.open(gcs_spec(prefix)).result()
    mine["obj"] = bytes(range(256)) * 4
    mine["other"] = b"second object"
    ranges = [slice(10, 20), slice(15, 40), slice(1000, 1024), slice(10, 20), slice(500, 500)]
    proxy.reset()
    batch = ts.Batch()
    futs = [mine.read("obj", batch=batch, byte_range=r) for r in ranges]
    other = mine.read("other", batch=batch)
    assert proxy.requests == []  # nothing is sent before submit
    batch.submit()
    got = [f.result(timeout=30) for f in futs]
    assert other.result(timeout=30).value == b"second object"
    assert len(proxy.requests) == 2  # one GET per object
    expected = [theirs.read("obj", byte_range=r).result() for r in ranges]
    assert [(g.state, g.value, g.stamp.generation) for g in got] == [
        (e.state, e.value, e.stamp.generation) for e in expected
    ]
