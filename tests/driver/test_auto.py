"""Format auto-detection: a bare kvstore (URL, JSON or KvStore) opens the array stored there,
as tensorstore 0.1.86's `auto` driver does."""

import numpy as np
import pytest

import tensorstore_py as ts

ref = pytest.importorskip("tensorstore")


def _create(lib, path: str):
    store = lib.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}, create=True,
                     dtype=lib.int16, shape=[3, 4]).result()
    store.write(np.arange(12, dtype=np.int16).reshape(3, 4)).result()


@pytest.mark.parametrize("writer", ["ours", "reference"])
def test_detects_zarr_by_url_json_and_kvstore(tmp_path, writer):
    path = str(tmp_path / "a.zarr") + "/"
    _create(ts if writer == "ours" else ref, path)
    for how in (f"file://{path}", {"driver": "file", "path": path}, ts.KvStore.open(f"file://{path}").result(),
                ts.KvStore.Spec(f"file://{path}")):
        store = ts.open(how).result()
        assert store.url == f"file://{path}|zarr2:"
        np.testing.assert_array_equal(store.read().result(), np.arange(12).reshape(3, 4))
    assert ts.open(f"file://{path}").result().spec().to_json() == ref.open(f"file://{path}").result().spec().to_json()


def test_spec_of_a_kvstore_url_is_auto():
    assert ts.Spec("memory://a/").to_json() == ref.Spec("memory://a/").to_json()
    assert ts.Spec({"driver": "memory", "path": "a/"}).to_json() == {"driver": "auto", "kvstore": {"driver": "memory", "path": "a/"}}


def test_nothing_detected_names_what_was_probed():
    with pytest.raises(ValueError) as exc:
        ts.open("memory://x/").result()
    message = str(exc.value)
    assert message.startswith('FAILED_PRECONDITION: Error opening "auto" driver: Failed to detect format for "x/"')
    assert '"x/.zarray"' in message


def test_create_is_rejected_like_the_reference():
    for lib in (ts, ref):
        with pytest.raises(ValueError, match="create mode not compatible with format auto-detection"):
            lib.open("memory://x/", create=True, dtype=lib.uint8, shape=[3]).result()


def test_constraints_apply_to_the_detected_array():
    for lib in (ts, ref):
        ctx = lib.Context()
        lib.open({"driver": "zarr", "kvstore": "memory://a/"}, create=True, dtype=lib.uint8, shape=[3], context=ctx).result()
        with pytest.raises(ValueError, match="dtype from metadata \\(uint8\\) does not match dtype in schema \\(float32\\)"):
            lib.open("memory://a/", context=ctx, dtype=lib.float32).result()
        assert lib.open("memory://a/", context=ctx, read=True).result().mode == "r"
