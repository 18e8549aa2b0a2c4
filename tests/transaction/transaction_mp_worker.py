"""Worker for the multi-process read-modify-write tests (run in spawned processes)."""

from __future__ import annotations

import importlib
import time

import numpy as np

PROCESSES = 4
OPS = 25
SIZE = PROCESSES * OPS  # every process owns OPS elements
CHUNK = 10  # each chunk holds elements of every process


def owned(proc: int, op: int) -> int:
    """The element process `proc` writes at step `op`: interleaved, so every chunk is shared."""
    return op * PROCESSES + proc


def value(proc: int, op: int) -> int:
    return (proc + 1) * 1000 + op


def warm_up(pause: float) -> int:
    """Imports both libraries (the slow part of a fresh process), then holds the worker for
    `pause` seconds so each warm-up task lands on a different worker."""
    importlib.import_module("tensorstore")
    importlib.import_module("tensorstore_py")
    time.sleep(pause)
    return 0


def run(module: str, path: str, proc: int, per_txn: int, start_at: float) -> None:
    """OPS single-element writes; with per_txn > 0, grouped into transactions of per_txn writes,
    each transaction also rewriting its elements once (a second staged write to the same chunk).
    All processes start at `start_at`, so their read-modify-writes of shared chunks overlap."""
    ts = importlib.import_module(module)
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}).result(timeout=60)
    time.sleep(max(0.0, start_at - time.time()))
    if per_txn == 0:
        for op in range(OPS):
            store[owned(proc, op)].write(np.int32(value(proc, op))).result(timeout=60)
        return
    for first in range(0, OPS, per_txn):
        txn = ts.Transaction()
        bound = store.with_transaction(txn)
        ops = range(first, min(first + per_txn, OPS))
        for op in ops:
            bound[owned(proc, op)] = np.int32(-1)
        for op in ops:
            bound[owned(proc, op)] = np.int32(value(proc, op))
        txn.commit_async().result(timeout=60)
