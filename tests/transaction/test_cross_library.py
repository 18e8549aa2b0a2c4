"""The two libraries on one zarr array on disk: a transaction in one and a plain writer in the
other give the merged result TensorStore gives with itself, and each reads what the other
committed."""

from __future__ import annotations

import numpy as np
import pytest

import tensorstore as reference
import tensorstore_py

from .conftest import PENDING, TIMEOUT, create_zarr

PAIRS = [
    pytest.param(reference, reference, id="ref-txn/ref-outside"),
    pytest.param(tensorstore_py, reference, id="py-txn/ref-outside", marks=PENDING),
    pytest.param(reference, tensorstore_py, id="ref-txn/py-outside"),
]


@pytest.mark.parametrize("txn_lib, outside_lib", PAIRS)
def test_transaction_against_other_library_writer(tmp_path, txn_lib, outside_lib):
    kvs = {"driver": "file", "path": str(tmp_path / "a") + "/"}
    spec = {"driver": "zarr", "kvstore": kvs}
    create_zarr(reference, reference.Context(), kvs, data=np.arange(10))
    mine = txn_lib.open(spec, context=txn_lib.Context()).result(timeout=TIMEOUT)
    theirs = outside_lib.open(spec, context=outside_lib.Context()).result(timeout=TIMEOUT)
    txn = txn_lib.Transaction()
    bound = mine.with_transaction(txn)
    bound[1:3] = [100, 200]
    bound[4:8] = -1
    theirs[0] = 1000
    theirs[2] = 2000
    theirs[5] = 5000
    theirs[9] = 9000
    assert theirs.read().result(timeout=TIMEOUT).tolist() == [1000, 1, 2000, 3, 4, 5000, 6, 7, 8, 9000]
    txn.commit_sync()
    merged = [1000, 100, 200, 3, -1, -1, -1, -1, 8, 9000]
    for lib in (reference, tensorstore_py):
        fresh = lib.open(spec, context=lib.Context()).result(timeout=TIMEOUT)
        assert fresh.read().result(timeout=TIMEOUT).tolist() == merged, lib.__name__
