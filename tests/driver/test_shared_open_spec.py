"""`ts.open` parses the same spec JSON once (open.py `_shared_spec`): each case checks that the
shared parse never makes an open behave otherwise than TensorStore 0.1.86 does."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")

open_module = __import__("tensorstore_py.open", fromlist=["_shared_spec"])


def _spec(path: str, **extra) -> dict:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": path}, **extra}


def _store_shape(path: str, shape: list) -> None:
    """Rewrites the stored metadata's shape behind the libraries' backs."""
    key = os.path.join(path, ".zarray")
    with open(key) as f:
        j = json.load(f)
    j["shape"] = shape
    with open(key, "w") as f:
        json.dump(j, f)


def _create(lib, path: str, shape=(4, 6)) -> None:
    store = lib.open(_spec(path), create=True, dtype=lib.int16, shape=list(shape),
                     chunk_layout=lib.ChunkLayout(chunk_shape=[2, 3])).result()
    store.write(np.arange(np.prod(shape), dtype=np.int16).reshape(shape)).result()


def _both(tmp_path, fn):
    """`fn(lib, path)` for tensorstore_py and tensorstore, each on an array of its own."""
    out = {}
    for name, lib in (("ours", ts), ("theirs", ref)):
        path = str(tmp_path / name)
        _create(lib, path)
        out[name] = fn(lib, path)
    return out["ours"], out["theirs"]


def _outcome(fn):
    try:
        return ("ok", fn())
    except ValueError as exc:
        return ("error", str(exc).split(":")[0])


def test_the_same_json_is_parsed_once(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    first = open_module._shared_spec(_spec(path))
    assert first is not None and open_module._shared_spec(_spec(path)) is first
    # Every open of it still reads the metadata: the stores are separate.
    a, b = ts.open(_spec(path)).result(), ts.open(_spec(path)).result()
    assert a._driver is not b._driver and a._driver.spec is b._driver.spec is first


def test_an_open_after_the_metadata_changed_sees_the_change(tmp_path):
    def fn(lib, path):
        before = lib.open(_spec(path)).result().shape
        _store_shape(path, [8, 6])
        after = lib.open(_spec(path)).result()
        return before, after.shape, after[6:, :].read().result().tolist()

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs
    assert ours[1] == (8, 6)


def test_options_are_applied_to_an_open_of_their_own(tmp_path):
    def fn(lib, path):
        plain = _outcome(lambda: lib.open(_spec(path)).result().dtype.name)
        wrong = _outcome(lambda: lib.open(_spec(path), dtype=lib.int32).result())
        shaped = _outcome(lambda: lib.open(_spec(path), shape=[4, 7]).result())
        read_only = lib.open(_spec(path), read=True).result()
        again = _outcome(lambda: lib.open(_spec(path)).result().dtype.name)
        return plain, wrong, shaped, (read_only.readable, read_only.writable), again

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs
    assert ours[0] == ours[-1] == ("ok", "int16") and ours[1][0] == "error"


def test_the_callers_json_may_change_after_an_open(tmp_path):
    def fn(lib, path):
        other = path + "_other"
        _create(lib, other, shape=(2, 3))
        j = _spec(path)
        first = lib.open(j).result().shape
        j["kvstore"]["path"] = other  # the shared parse must not hold the caller's dicts
        changed = lib.open(j).result().shape
        original = lib.open(_spec(path)).result().shape
        return first, changed, original

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs == ((4, 6), (2, 3), (4, 6))


@pytest.mark.parametrize("value", [True, 1, 1.0, False, 0, "open"])
def test_numbers_and_booleans_are_different_json(tmp_path, value):
    """``True``, ``1`` and ``1.0`` are equal in Python: opened one after the other, each keeps its
    own meaning (a boolean: always / never recheck; a number: a time)."""
    def fn(lib, path):
        kinds = []
        for v in (True, 1, 1.0, False, 0, value):
            store = lib.open(_spec(path, recheck_cached_metadata=v)).result()
            got = store.spec().to_json().get("recheck_cached_metadata", "open")
            kinds.append("bool" if isinstance(got, bool) else "str" if isinstance(got, str) else "number")
        return kinds

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs


def test_opens_do_not_share_a_context(tmp_path):
    """Each plain open has a new default context: a resize through one store is not seen by
    another opened before it (its metadata is as of its open), as in TensorStore."""
    def fn(lib, path):
        a = lib.open(_spec(path)).result()
        b = lib.open(_spec(path)).result()
        a.resize(exclusive_max=[2, 6]).result()
        c = lib.open(_spec(path)).result()
        return b.shape, c.shape, b[:2, :].read().result().tolist()

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs


def test_a_spec_context_is_made_for_each_open(tmp_path):
    """A context in the spec JSON: every open binds its own resources from it."""
    def fn(lib, path):
        j = _spec(path, context={"cache_pool": {"total_bytes_limit": 1 << 20}}, recheck_cached_data=False)
        a = lib.open(j).result()
        b = lib.open(copy.deepcopy(j)).result()
        first = a.read().result().tolist()
        # Changed behind the cache: `a` (recheck_cached_data false) may serve its cached
        # chunks, `b` has a cache of its own and has not read any yet.
        lib.open(_spec(path)).result().write(np.full((4, 6), 7, dtype=np.int16)).result()
        return first, b.read().result().tolist()

    ours, theirs = _both(tmp_path, fn)
    assert ours == theirs
    assert ours[1] == [[7] * 6] * 4


def test_json_that_is_not_plain_is_parsed_for_each_open(tmp_path):
    path = str(tmp_path / "a")
    _create(ts, path)
    spec = _spec(path)
    assert open_module._shared_spec({**spec, 1: 2}) is None  # a key that is no string
    assert open_module._shared_spec({**spec, "kvstore": ("file", path)}) is None  # a tuple
    for odd in ({**spec, 1: 2}, {**spec, "rank": 2.5}):
        ours = _outcome(lambda: ts.open(odd).result().shape)
        theirs = _outcome(lambda: ref.open(odd).result().shape)
        assert ours == theirs


def test_a_spec_that_fails_is_not_remembered(tmp_path):
    path = str(tmp_path / "a")
    bad = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}, "bogus": 1}
    for _ in range(2):
        with pytest.raises(ValueError) as ours:
            ts.open(bad).result()
        with pytest.raises(ValueError) as theirs:
            ref.open(bad).result()
        assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]
    assert open_module._frozen(bad, 0) not in open_module._shared_specs


def test_open_checks_every_option_parameter_for_a_value(monkeypatch):
    """`open` tells an open without options by looking at each option parameter: each one,
    given alone, must reach the options applied to the spec."""
    import inspect

    params = [p for p in inspect.signature(ts.open).parameters if p not in open_module._NOT_OPTIONS]
    assert len(params) == len(open_module._NO_OPTIONS)
    seen = []

    def recording(spec, options):
        seen.append(dict(options))
        raise ValueError("stop here")

    monkeypatch.setattr(open_module, "apply_options", recording)
    for name in params:
        marker = ts.Schema() if name == "schema" else object()  # (`open` checks a schema's type first)
        seen.clear()
        with pytest.raises(ValueError, match="stop here"):
            ts.open({"driver": "zarr", "kvstore": {"driver": "memory"}}, **{name: marker}).result()
        assert seen and seen[0].get(name) is marker, name


def test_an_open_in_a_shared_context_rechecks_metadata_cached_before_it():
    """recheck_cached_metadata defaults to "open": metadata cached in the context before an
    open is read again by it (a change on disk is seen), as in TensorStore."""
    import tempfile

    results = []
    for lib in (ts, ref):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a")
            _create(lib, path)
            ctx = lib.Context()
            first = lib.open(_spec(path), context=ctx).result()
            _store_shape(path, [6, 6])
            second = lib.open(_spec(path), context=ctx).result()
            pinned = lib.open(_spec(path, recheck_cached_metadata=False), context=ctx).result()
            results.append((first.shape, second.shape, pinned.shape))
    assert results[0] == results[1]
    assert results[0][1] == (6, 6)
