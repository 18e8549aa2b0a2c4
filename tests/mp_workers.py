"""Functions run in worker processes by tests/test_multiprocess.py (importable by name, as
spawned children need)."""

from __future__ import annotations

import os

import numpy as np

_dataset = None


def write_block(store, start: int, stop: int) -> int:
    """Writes rows [start, stop) of a 2-d store with their row numbers; returns the pid."""
    rows = np.arange(start, stop, dtype=store.dtype.numpy_dtype)[:, None]
    store[start:stop] = np.broadcast_to(rows, (stop - start, store.shape[1]))
    return os.getpid()


def block_sum(store, start: int, stop: int) -> float:
    return float(store[start:stop].read().result().sum())


class StoreDataset:
    """What a PyTorch map-style Dataset over a TensorStore looks like: one sample per row."""

    def __init__(self, store):
        self.store = store

    def __len__(self) -> int:
        return self.store.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.store[i].read().result()


def init_worker(dataset) -> None:
    """A DataLoader worker's start: the dataset (and its store) arrives pickled, once."""
    global _dataset
    _dataset = dataset


def load_sample(i: int) -> tuple[int, int, float, int]:
    """(pid, index, sum of the sample, id of the worker's store driver)."""
    sample = _dataset[i]
    return os.getpid(), i, float(sample.sum()), id(_dataset.store._driver)
