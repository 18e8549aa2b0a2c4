"""What every view answers besides reads and writes (storage statistics, resize, resolve,
url, kvstore, schema parts, minimal specs), for array, cast and stack views, compared with
tensorstore 0.1.86."""

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _outcome(fn):
    try:
        value = fn()
    except (ValueError, TypeError, NotImplementedError, AttributeError) as exc:
        return ("ValueError" if isinstance(exc, ValueError) else type(exc).__name__, str(exc))
    return ("ok", repr(value))


def _views(lib):
    a = lib.array(np.arange(4, dtype=np.int32))
    z = lib.open({"driver": "zarr", "kvstore": "memory://"}, dtype=lib.int32, shape=[4], create=True).result()
    return [a, lib.cast(a, lib.int64), lib.overlay([a]), lib.cast(z, lib.int64), lib.concat([z, a], axis=0)]


@pytest.mark.parametrize("index", range(5))
def test_view_properties_like_the_reference(index):
    results = []
    for lib in (ts, ref):
        v = _views(lib)[index]
        results.append([
            _outcome(lambda: v.storage_statistics(query_not_stored=True, query_fully_stored=True).result()),
            _outcome(lambda: v.resolve().result().domain),
            _outcome(lambda: v.resize(exclusive_max=[8]).result()),
            _outcome(lambda: v.url),
            _outcome(lambda: v.kvstore),
            _outcome(lambda: v.fill_value),
            _outcome(lambda: v.dimension_units),
            _outcome(lambda: v.codec),
            _outcome(lambda: v.chunk_layout),
            _outcome(lambda: v.spec(minimal_spec=True).to_json()),
        ])
    assert results[0] == results[1]
