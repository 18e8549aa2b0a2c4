"""Bad input and open modes: tensorstore_py raises what tensorstore 0.1.86 raises, with the same
message, and never leaves stored data damaged."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")

MEM = {"driver": "zarr", "kvstore": {"driver": "memory"}}


def _outcome(lib, fn):
    try:
        fn(lib)
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        # What callers catch: tensorstore_py's status errors subclass ValueError.
        kind = next(t.__name__ for t in (IndexError, TypeError, KeyError, ValueError, Exception) if isinstance(exc, t))
        return kind, str(exc)
    return None


def _payloads_as_set(outcome):
    # TensorStore's status payloads ("[transform='...'] [domain='...']") come in no fixed order.
    if outcome is None:
        return None
    kind, message = outcome
    head, *payloads = message.split(" [")
    return kind, head, frozenset(payloads)


def _same(fn):
    theirs = _outcome(ref, fn)
    ours = _outcome(ts, fn)
    assert theirs is not None, "the reference accepted this input"
    assert _payloads_as_set(ours) == _payloads_as_set(theirs)


SPEC_CASES = {
    "unknown member": {**MEM, "foo": 1},
    "metadata not object": {**MEM, "metadata": 5},
    "shape not array": {**MEM, "metadata": {"shape": 5}},
    "negative shape": {**MEM, "metadata": {"shape": [-1]}},
    "zero chunk": {**MEM, "metadata": {"chunks": [0]}},
    "bad dtype": {**MEM, "metadata": {"dtype": "<i5"}},
    "unicode dtype": {**MEM, "metadata": {"dtype": "<U3"}},
    "bad order": {**MEM, "metadata": {"order": "X"}},
    "filters": {**MEM, "metadata": {"filters": [{"id": "delta"}]}},
    "fill not float": {**MEM, "metadata": {"dtype": "<f4", "fill_value": "abc"}},
    "fill out of range": {**MEM, "metadata": {"dtype": "<i4", "fill_value": 3.5}},
    "bad compressor id": {**MEM, "metadata": {"compressor": {"id": "lzma9"}}},
    "bad clevel": {**MEM, "metadata": {"compressor": {"id": "blosc", "clevel": 11}}},
    "extra metadata member": {**MEM, "metadata": {"foo": 1}},
    "bad separator": {**MEM, "metadata": {"dimension_separator": "-"}},
    "dtype not string": {**MEM, "dtype": 5},
    "unknown dtype": {**MEM, "dtype": "int33"},
    "chunks rank mismatch": {**MEM, "metadata": {"shape": [1, 2], "chunks": [1]}},
    "missing driver": {"kvstore": {"driver": "memory"}},
    "unknown driver": {"driver": "zarr9", "kvstore": {"driver": "memory"}},
    "bad kvstore": {"driver": "zarr", "kvstore": 5},
    "bad transform": {**MEM, "transform": {"input_rank": -1}},
}


@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_malformed_specs(name):
    _same(lambda lib: lib.Spec(SPEC_CASES[name]))


OPEN_CASES = {
    "open missing": (MEM, dict(open=True)),
    "create without dtype": (MEM, dict(create=True, shape=[5])),
    "create without shape": (MEM, dict(create=True, dtype="uint8")),
    "delete_existing without create": (MEM, dict(open=True, delete_existing=True)),
    "bad inner order": (MEM, dict(create=True, dtype="uint8", shape=[5, 5, 5], chunk_layout={"inner_order": [1, 0, 2]})),
    "units unsupported": (MEM, dict(create=True, dtype="uint8", shape=[5, 5], dimension_units=["4nm", None])),
    "nonzero origin": (MEM, dict(create=True, dtype="uint8", domain={"inclusive_min": [1], "exclusive_max": [5]})),
}


def _open_kwargs(lib, kwargs: dict) -> dict:
    kw = dict(kwargs)
    if "chunk_layout" in kw:
        kw["chunk_layout"] = lib.ChunkLayout(**kw["chunk_layout"])
    if "domain" in kw:
        kw["domain"] = lib.IndexDomain(**kw["domain"])
    if "dtype" in kw:
        kw["dtype"] = getattr(lib, kw["dtype"])
    return kw


@pytest.mark.parametrize("name", sorted(OPEN_CASES))
def test_open_errors(name):
    spec, kwargs = OPEN_CASES[name]
    _same(lambda lib: lib.open(spec, **_open_kwargs(lib, kwargs)).result())


def _existing(lib, ctx):
    return lib.open(MEM, create=True, dtype=lib.int32, shape=[10, 20], context=ctx).result()


EXISTING_CASES = {
    "create existing": dict(create=True, dtype="int32", shape=[10, 20]),
    "dtype mismatch": dict(open=True, dtype="float32"),
    "shape mismatch": dict(open=True, shape=[5, 5]),
    "metadata mismatch": dict(open=True),
}


@pytest.mark.parametrize("name", sorted(EXISTING_CASES))
def test_errors_against_existing_array(name):
    def fn(lib):
        ctx = lib.Context()
        _existing(lib, ctx)
        spec = MEM if name != "metadata mismatch" else {**MEM, "metadata": {"chunks": [5, 5]}}
        lib.open(spec, context=ctx, **_open_kwargs(lib, EXISTING_CASES[name])).result()

    _same(fn)


def test_open_or_create_and_delete_existing():
    for lib in (ts, ref):
        ctx = lib.Context()
        a = lib.open(MEM, create=True, open=True, dtype=lib.int32, shape=[4], context=ctx).result()
        a.write([1, 2, 3, 4]).result()
        b = lib.open(MEM, create=True, open=True, dtype=lib.int32, shape=[4], context=ctx).result()
        np.testing.assert_array_equal(b.read().result(), [1, 2, 3, 4])
        c = lib.open(MEM, create=True, delete_existing=True, dtype=lib.int32, shape=[4], context=ctx).result()
        np.testing.assert_array_equal(c.read().result(), [0, 0, 0, 0])
        assert lib.open(MEM, context=ctx).result().kvstore.list().result() == [b".zarray"]


def test_read_only_and_write_only_modes():
    ctx = ts.Context()
    ts.open(MEM, create=True, dtype=ts.int32, shape=[4], context=ctx).result()
    r = ts.open(MEM, read=True, context=ctx).result()
    assert (r.readable, r.writable, r.mode) == (True, False, "r")
    with pytest.raises(ValueError):
        r.write([1, 2, 3, 4]).result()
    w = ts.open(MEM, write=True, context=ctx).result()
    assert (w.readable, w.writable, w.mode) == (False, True, "w")
    with pytest.raises(ValueError):
        w.read().result()


def test_open_mode_object():
    ctx = ts.Context()
    s = ts.open(MEM, open_mode=ts.OpenMode(create=True), dtype=ts.int32, shape=[3], context=ctx).result()
    assert s.shape == (3,)
    assert repr(ts.OpenMode(open=True, create=True)) == repr(ref.OpenMode(open=True, create=True))


def test_write_shape_mismatch_and_dtype_errors():
    _same(lambda lib: lib.open(MEM, create=True, dtype=lib.int32, shape=[10, 20]).result()[1:3].write(np.zeros((3,), np.int32)).result())
    _same(lambda lib: lib.open(MEM, create=True, dtype=lib.int32, shape=[10, 20]).result().write(np.zeros((3, 3), np.int32)).result())
    _same(lambda lib: lib.open(MEM, create=True, dtype=lib.int32, shape=[10, 20]).result().write(np.zeros((10, 20))).result())


def test_out_of_range_reads():
    _same(lambda lib: lib.open(MEM, create=True, dtype=lib.int32, shape=[10, 20]).result()[1:30].read().result())


def test_corrupt_chunk_is_an_error_and_leaves_data(tmp_path):
    path = str(tmp_path / "a")
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
    s = ts.open(spec, create=True, dtype=ts.int32, shape=[4], chunk_layout=ts.ChunkLayout(chunk_shape=[2])).result()
    s.write([1, 2, 3, 4]).result()
    with open(os.path.join(path, "0"), "wb") as f:
        f.write(b"\x02\x01\x21\x04garbage-not-blosc")
    # As the reference: FAILED_PRECONDITION: Error reading local file ".../0": <codec message>
    prefix = f'FAILED_PRECONDITION: Error reading local file "{os.path.join(path, "0")}": '
    with pytest.raises(ValueError) as exc:
        s.read().result()
    assert str(exc.value).startswith(prefix)
    with pytest.raises(ValueError) as exc:
        s[1].write(7).result()  # a partial write must decode the old chunk first
    assert str(exc.value).startswith(prefix)
    with open(os.path.join(path, "0"), "rb") as f:
        assert f.read() == b"\x02\x01\x21\x04garbage-not-blosc"
    np.testing.assert_array_equal(s[2:].read().result(), [3, 4])


def test_corrupt_metadata_is_reported(tmp_path):
    path = str(tmp_path / "m")
    os.makedirs(path)
    for content in (b"{not json", json.dumps({"zarr_format": 2, "shape": [1]}).encode()):
        with open(os.path.join(path, ".zarray"), "wb") as f:
            f.write(content)
        spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
        with pytest.raises(ValueError) as ours:
            ts.open(spec).result()
        with pytest.raises(ValueError) as theirs:
            ref.open(spec).result()
        assert str(ours.value).startswith("FAILED_PRECONDITION: Error opening \"zarr\" driver: Error reading local file")
        assert str(theirs.value).startswith("FAILED_PRECONDITION: Error opening \"zarr\" driver: Error reading local file")


SPEC_PROPERTY_CASES = [
    {"driver": "zarr", "kvstore": "memory://"},
    {"driver": "zarr", "kvstore": "memory://", "metadata": {"shape": [5, 6], "chunks": [2, 3], "dtype": "<i4",
                                                             "order": "F", "compressor": None, "fill_value": 7}},
    {"driver": "zarr", "kvstore": "memory://", "metadata": {"dtype": [["a", "<i4"], ["b", "<f4", [2]]]}, "field": "b"},
    {"driver": "zarr", "kvstore": "memory://", "rank": 3},
    {"driver": "zarr", "kvstore": "memory://", "metadata": {"shape": [5, 6]}},
    {"driver": "zarr", "kvstore": "memory://", "metadata": {"shape": [5, 6], "dtype": ">f8", "compressor": {"id": "zlib"}}},
    {"driver": "zarr", "kvstore": "memory://", "create": True, "dtype": "uint16"},
]


@pytest.mark.parametrize("index", range(len(SPEC_PROPERTY_CASES)))
def test_spec_reports_what_the_reference_reports(index):
    j = SPEC_PROPERTY_CASES[index]
    ours, theirs = ts.Spec(j), ref.Spec(j)
    for attr in ("schema", "dtype", "rank", "domain", "open_mode", "url"):
        a = _outcome(ours, lambda spec: repr(getattr(spec, attr)))
        b = _outcome(theirs, lambda spec: repr(getattr(spec, attr)))
        assert a == b, attr
        if a is None:
            assert repr(getattr(ours, attr)) == repr(getattr(theirs, attr)), attr
    assert repr(ours) == repr(theirs)
