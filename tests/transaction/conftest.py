"""Shared fixtures for the transaction / cache tests (issue 9).

Every test runs against the module under test, parametrised over the reference `tensorstore`
0.1.86 and `tensorstore_py`: the reference runs prove the expected values are TensorStore's.
Until `tensorstore_py` has `Transaction` (issue 9), its runs of the tests that need the new
cache are expected to fail and are marked `xfail` through `PENDING`; they turn into ordinary
tests by themselves once `tensorstore_py.Transaction` exists.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

# The multi-process worker (beside this file) must be importable in spawned children, which
# inherit sys.path; pytest's importlib mode does not put this folder there.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import tensorstore_py

#: True until the writeback cache and transactions of issue 9 are in tensorstore_py.
ISSUE9_PENDING = not hasattr(tensorstore_py, "Transaction")

PENDING = pytest.mark.xfail(ISSUE9_PENDING, reason="issue 9 (writeback cache, transactions) not landed", strict=False)

#: Both modules; the tensorstore_py run is xfail while issue 9 is pending.
MODULES = ["tensorstore", pytest.param("tensorstore_py", marks=PENDING)]

#: Both modules, for behaviour tensorstore_py must already have (no xfail).
MODULES_NOW = ["tensorstore", "tensorstore_py"]

#: How long any single Future may take in these tests before we call it a hang.
TIMEOUT = 20


@pytest.fixture(params=MODULES)
def ts(request):
    """The module under test (reference or tensorstore_py)."""
    return importlib.import_module(request.param)


@pytest.fixture(params=["memory", "file"])
def kvstore_spec(request, tmp_path):
    """A kvstore spec of each driver; memory specs need one shared Context to be the same store."""
    if request.param == "memory":
        return {"driver": "memory", "path": "arr/"}
    return {"driver": "file", "path": str(tmp_path / "arr") + "/"}


def create_zarr(ts, ctx, kvs, *, shape=(10,), chunks=(4,), dtype="int64", fill_value=0, data=None, **kw):
    """A zarr v2 array in `ctx` on `kvs`, optionally filled with `data`."""
    store = ts.open(
        {"driver": "zarr", "kvstore": kvs},
        context=ctx,
        create=True,
        delete_existing=True,
        dtype=dtype,
        shape=list(shape),
        chunk_layout=ts.ChunkLayout(chunk_shape=list(chunks)),
        fill_value=fill_value,
        **kw,
    ).result(timeout=TIMEOUT)
    if data is not None:
        store.write(data).result(timeout=TIMEOUT)
    return store


def error_text(fn):
    """`(builtin type, str(exc))` of what `fn()` raises, or None if it returns.

    The type is the nearest built-in class (tensorstore_py raises ValueError subclasses that
    carry the status code; callers catch them as ValueError)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type is part of what is compared
        builtin = next(c for c in type(exc).__mro__ if c.__module__ == "builtins")
        return builtin, str(exc)
    return None


def state(txn):
    """The observable state of a transaction."""
    return {"open": txn.open, "commit_started": txn.commit_started, "aborted": txn.aborted}


@pytest.fixture(params=MODULES_NOW)
def ts_now(request):
    """The module under test, for behaviour tensorstore_py already has (never xfail)."""
    return importlib.import_module(request.param)


def assert_raises_prefix(fn, prefix, kind=ValueError):
    """`fn()` raises `kind` whose text starts with `prefix` (TensorStore appends payloads such as
    `[domain=...] [transform=...]` in an order that varies between runs)."""
    err = error_text(fn)
    assert err is not None, f"expected {kind.__name__} starting {prefix!r}; nothing was raised"
    assert err[0] is kind and err[1].startswith(prefix), err


def require_driver(ts, driver):
    """Skip when the module under test has no `driver` yet (zarr3 lands separately)."""
    try:
        ts.Spec({"driver": driver, "kvstore": "memory://"})
    except Exception as exc:  # noqa: BLE001 - any refusal means the driver is not there
        if "is not a registered TensorStore driver" in str(exc):
            pytest.skip(f"{ts.__name__} has no {driver!r} driver yet")
        raise
