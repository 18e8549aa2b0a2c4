"""`TensorStore.storage_statistics` against tensorstore 0.1.86 on the same stored arrays.

Each format is written by one library; both then answer every query combination for views of
every kind (full, partial, single chunk, empty region, strided, index arrays, transposed,
translated, rank-0, empty domain); then random arrays, writes and views (hypothesis).  zarr
(either separator) and n5 are compared on the very same files; both of our strategies
(probing each cell's key, listing the prefix) run on every case.  tensorstore 0.1.86 joins the
kvstore path twice when it lists an unsharded precomputed scale (wrong answers or "Invalid
key" unless the path is empty), so precomputed is compared with the reference's answers on a
path-less memory store holding the same writes; for sharded precomputed the reference raises
NotImplementedError, and so do we.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import counting_kvstore  # noqa: F401  (registers the test_counting_* drivers)
import tensorstore_py as ts
from tensorstore_py.driver import storage_statistics as stats_module

ref = pytest.importorskip("tensorstore")

SHAPE = (30, 40, 25)
CHUNK = (10, 10, 10)
# Stored cells afterwards: (0,0,0), (1,2,0), (1,3,0), (2,3,2).
WRITES = [np.s_[0:10, 0:10, 0:10], np.s_[12:15, 25:31, 3:4], np.s_[29, 39, 24]]


def _sharding() -> dict:
    return {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity",
        "minishard_bits": 1, "shard_bits": 2, "minishard_index_encoding": "raw", "data_encoding": "gzip",
    }  # fmt: skip


def _create_kwargs(fmt: str, m) -> dict:
    if fmt.startswith("precomputed"):
        scale = {"encoding": "raw", "chunk_size": list(CHUNK), "size": list(SHAPE), "resolution": [1, 1, 1],
                 "voxel_offset": [3, -2, 5] if fmt == "precomputed" else [0, 0, 0]}  # fmt: skip
        if fmt == "precomputed_sharded":
            scale["sharding"] = _sharding()
        return {"scale_metadata": scale, "multiscale_metadata": {"num_channels": 1, "data_type": "uint16", "type": "image"}}
    extra: dict = {}
    if fmt == "zarr_slash":
        extra["metadata"] = {"dimension_separator": "/"}
    return extra


FORMATS = ["zarr", "zarr_slash", "n5", "precomputed", "precomputed_sharded"]


def _open(m, fmt: str, kvstore: dict, create: bool):
    driver = {"zarr": "zarr", "zarr_slash": "zarr", "n5": "n5"}.get(fmt, "neuroglancer_precomputed")
    spec = {"driver": driver, "kvstore": kvstore}
    kwargs: dict = {}
    if create:
        spec.update(_create_kwargs(fmt, m))
        if not fmt.startswith("precomputed"):
            kwargs = dict(dtype=m.uint16, shape=SHAPE, chunk_layout=m.ChunkLayout(read_chunk_shape=CHUNK))
        kwargs["create"] = True
    store = m.open(spec, **kwargs).result()
    if fmt.startswith("precomputed"):
        # Spatial dims from 0, the channel dimension dropped: every view below then applies.
        store = store[m.d[0, 1, 2].translate_to[0]][..., 0]
    return store


def _written(m, fmt: str, kvstore: dict):
    store = _open(m, fmt, kvstore, create=True)
    for i, region in enumerate(WRITES):
        store[region].write(np.uint16(7 + i)).result()
    return store


VIEWS = {
    "full": lambda s, m: s,
    "first_chunk": lambda s, m: s[0:10, 0:10, 0:10],
    "first_chunk_and_a_bit": lambda s, m: s[0:11, 0:10, 0:10],
    "unwritten_region": lambda s, m: s[20:30, 0:10, 10:20],
    "strided_partial": lambda s, m: s[0:30:12, 25:40:10, 0:1],
    "strided_exact": lambda s, m: s[12:13, 25:36:10, 3],
    "strided_skipping_gaps": lambda s, m: s[5:30:24, 5:40:30, 5:25:15],
    "oindex": lambda s, m: s.oindex[[0, 14], [5, 33], [0, 2]],
    "vindex_all_stored": lambda s, m: s.vindex[[5, 13, 29], [5, 26, 39], [5, 3, 24]],
    "vindex_partial": lambda s, m: s.vindex[[5, 25], [5, 5], [5, 5]],
    "vindex_none": lambda s, m: s.vindex[[15, 25], [5, 5], [5, 15]],
    "transposed": lambda s, m: s.T[0:10, 0:10, 0:10],
    "translated": lambda s, m: s[m.d[0].translate_by[100]][100:110, 0:10, 0:10],
    "newaxis": lambda s, m: s[m.newaxis, 0:5, 0:5, 0:5],
    "single_element": lambda s, m: s[29, 39, 24],
    "single_unstored_element": lambda s, m: s[29, 0, 24],
    "reversed": lambda s, m: s[::-1, ::-1, 0:10],
    "empty_domain": lambda s, m: s[5:5],
    "labelled_dim_slice": lambda s, m: s[m.d[1][30:40]],
}

QUERIES = [(True, False), (False, True), (True, True), (False, False)]


def _answers(m, store) -> dict:
    out = {}
    for name, view in VIEWS.items():
        v = view(store, m)
        for q in QUERIES:
            r = v.storage_statistics(query_not_stored=q[0], query_fully_stored=q[1]).result(timeout=30)
            out[name, q] = (r.not_stored, r.fully_stored)
    return out


@pytest.mark.parametrize("writer", ["reference", "ours"])
@pytest.mark.parametrize("fmt", ["zarr", "zarr_slash", "n5", "precomputed"])
def test_matches_tensorstore(tmp_path, monkeypatch, fmt, writer):
    files = {"driver": "file", "path": str(tmp_path / "arr") + "/"}
    _written(ref if writer == "reference" else ts, fmt, files)
    if fmt.startswith("precomputed"):
        reference = _written(ref, fmt, {"driver": "memory"})
    else:
        reference = _open(ref, fmt, files, create=False)
    expected = _answers(ref, reference)
    # The reference itself finds what was written where it should be.
    assert expected["full", (True, True)] == (False, False)
    assert expected["first_chunk", (True, True)] == (False, True)
    ours = _open(ts, fmt, files, create=False)
    for limit in (0, 10**9):  # list the key prefix / probe every cell's key
        monkeypatch.setattr(stats_module, "PROBE_LIMIT", limit)
        assert _answers(ts, ours) == expected, f"PROBE_LIMIT={limit}"


def test_sharded_precomputed_is_not_supported(tmp_path):
    for m in (ts, ref):
        store = _written(m, "precomputed_sharded", {"driver": "file", "path": str(tmp_path / m.__name__) + "/"})
        for q in QUERIES:
            with pytest.raises(NotImplementedError, match="^$"):
                store.storage_statistics(query_not_stored=q[0], query_fully_stored=q[1]).result()


@pytest.mark.parametrize("lib", ["ours", "reference"])
def test_empty_array_and_rank0(lib):
    m = ts if lib == "ours" else ref
    s = m.open({"driver": "zarr", "kvstore": "memory://"}, dtype=m.uint8, shape=[], create=True).result()
    both = dict(query_not_stored=True, query_fully_stored=True)
    before = s.storage_statistics(**both).result()
    s[...] = 3
    after = s.storage_statistics(**both).result()
    assert (before.not_stored, before.fully_stored, after.not_stored, after.fully_stored) == (True, False, False, True)


def test_past_a_resizable_bound_counts_as_not_stored(tmp_path):
    """TensorStore answers for positions beyond an implicit upper bound instead of failing."""
    results = []
    for m in (ts, ref):
        s = m.open({"driver": "zarr", "kvstore": "memory://"}, dtype=m.uint8, shape=[20, 20],
                   chunk_layout=m.ChunkLayout(read_chunk_shape=[10, 10]), create=True).result()  # fmt: skip
        s[0:10, 0:10] = 1
        view = s[m.d[0].translate_by[100]][100:130]
        r = view.storage_statistics(query_not_stored=True, query_fully_stored=True).result()
        results.append((r.not_stored, r.fully_stored))
    assert results[0] == results[1] == (False, False)


def test_chunks_of_other_arrays_under_the_prefix_are_ignored(tmp_path, monkeypatch):
    """Listing "a/" must not count "a/b/0.0" (a nested array) nor "ab/0.0" (a sibling)."""
    base = str(tmp_path) + "/"
    kw = dict(dtype=ts.uint8, shape=[20, 20], chunk_layout=ts.ChunkLayout(read_chunk_shape=[10, 10]), create=True)
    a = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": base + "a/"}}, **kw).result()
    nested = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": base + "a/b/"}}, **kw).result()
    sibling = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": base + "ab/"}}, **kw).result()
    nested[...] = 1
    sibling[...] = 1
    a[0:10, 0:10] = 1
    for limit in (0, 10**9):
        monkeypatch.setattr(stats_module, "PROBE_LIMIT", limit)
        r = a.storage_statistics(query_not_stored=True, query_fully_stored=True).result()
        part = a[10:, :].storage_statistics(query_not_stored=True).result()
        assert (r.not_stored, r.fully_stored, part.not_stored) == (False, False, True)


def test_requests_made(tmp_path, monkeypatch):
    monkeypatch.setattr(stats_module, "PROBE_LIMIT", 16)
    store = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "test_counting_file", "path": str(tmp_path) + "/"}},
        dtype=ts.uint8, shape=[100, 100], chunk_layout=ts.ChunkLayout(read_chunk_shape=[10, 10]), create=True,
    ).result()  # fmt: skip
    store[0:20, 0:20] = 1
    counter = store.kvstore.driver
    counter.reset()
    # Nothing asked: nothing read.
    assert store.storage_statistics().result() == ts.TensorStore.StorageStatistics()
    assert counter.reads == [] and counter.lists == []
    # A few cells: each cell's key probed with a zero-byte read.
    r = store[0:20, 5:25].storage_statistics(query_fully_stored=True).result()
    assert r == ts.TensorStore.StorageStatistics(fully_stored=False)
    assert len(counter.reads) == 6 and {o.byte_range for _, o in counter.reads} == {(0, 0)}
    assert counter.lists == []
    # More cells than PROBE_LIMIT: one listing of the array's key prefix.
    counter.reset()
    r = store.storage_statistics(query_not_stored=True, query_fully_stored=True).result()
    assert r == ts.TensorStore.StorageStatistics(not_stored=False, fully_stored=False)
    assert counter.reads == [] and len(counter.lists) == 1


# ---------------------------------------------------------------------------------------------
# The StorageStatistics value type, as TensorStore's.


@pytest.mark.parametrize("m", [ts, ref], ids=["ours", "reference"])
def test_value_type(m):
    S = m.TensorStore.StorageStatistics
    assert repr(S()) == "TensorStore.StorageStatistics(not_stored=None, fully_stored=None)"
    x = S(not_stored=True, fully_stored=False)
    assert repr(x) == str(x) == "TensorStore.StorageStatistics(not_stored=True, fully_stored=False)"
    assert x == S(not_stored=True, fully_stored=False) and x != S(not_stored=True)
    assert pickle.loads(pickle.dumps(x)) == x
    x.fully_stored = None
    x.not_stored = np.bool_(False)
    assert (x.not_stored, x.fully_stored) == (False, None)
    assert type(x.not_stored) is bool
    with pytest.raises(TypeError):
        hash(x)
    with pytest.raises(TypeError):
        S(True)  # keyword-only
    with pytest.raises(TypeError):
        x == 3  # noqa: B015  (TensorStore refuses to compare with anything else)


def test_value_type_is_safe_to_share_between_threads():
    s = ts.TensorStore.StorageStatistics()
    stop = threading.Event()
    errors: list = []

    def read() -> None:
        try:
            while not stop.is_set():
                assert s.not_stored in (None, True) and repr(s).startswith("TensorStore.")
                _ = s == ts.TensorStore.StorageStatistics()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def write() -> None:
        while not stop.is_set():
            s.not_stored = True
            s.fully_stored = True
            s.not_stored = None
            s.fully_stored = None

    threads = [threading.Thread(target=f) for f in (read, write) * 3]
    for t in threads:
        t.start()
    stop.wait(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


# ---------------------------------------------------------------------------------------------
# Random arrays, writes and views against the reference.


@st.composite
def _case(draw):
    rank = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 12)) for _ in range(rank)]
    chunk = [draw(st.integers(1, 5)) for _ in range(rank)]

    def box():
        lo = [draw(st.integers(0, n - 1)) for n in shape]
        return tuple(slice(a, draw(st.integers(a + 1, n))) for a, n in zip(lo, shape))

    writes = draw(st.lists(st.builds(box), max_size=3))
    kind = draw(st.sampled_from(["slices", "oindex", "vindex"]))
    if kind == "slices":
        view = []
        for n in shape:
            a, b = sorted((draw(st.integers(0, n)), draw(st.integers(0, n))))
            view.append(slice(a, b, draw(st.integers(1, 4))) if draw(st.booleans()) else slice(b - 1 if b > a else None, a - 1 if a > 0 else None, -draw(st.integers(1, 3))))
        view = tuple(view)
    elif kind == "oindex":
        view = tuple(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4)) for n in shape)
    else:
        k = draw(st.integers(1, 4))
        view = tuple(draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)) for n in shape)
    return shape, chunk, writes, kind, view


def _random_answer(m, shape, chunk, writes, kind, view, limit=None):
    s = m.open({"driver": "zarr", "kvstore": "memory://"}, dtype=m.uint8, shape=shape, fill_value=0,
               chunk_layout=m.ChunkLayout(read_chunk_shape=chunk), create=True).result()  # fmt: skip
    for w in writes:
        s[w] = 1
    v = s[view] if kind == "slices" else getattr(s, kind)[view]
    r = v.storage_statistics(query_not_stored=True, query_fully_stored=True).result()
    return r.not_stored, r.fully_stored


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_case())
def test_random_views_match_tensorstore(monkeypatch, case):
    expected = _random_answer(ref, *case)
    for limit in (0, 10**9):
        monkeypatch.setattr(stats_module, "PROBE_LIMIT", limit)
        assert _random_answer(ts, *case) == expected
