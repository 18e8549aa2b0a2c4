"""A cancelled write that is already under way lands whole, as TensorStore's does: never some
chunks of it (issue 16, defect 7).  Which exception `result()` raises after `cancel()` is the
Future's business (tests/test_future.py).

Writes of one chunk land in the order they were issued, so a second write touching every chunk,
once done, shows what the cancelled one left behind."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import numpy as np
import pytest

import counting_kvstore  # noqa: F401  (registers test_rival_memory)
import tensorstore_py as ts


def _after_a_later_write(store, chunk: int) -> np.ndarray:
    """The array after a later write of one element per chunk (9) has landed."""
    store[::chunk, ::chunk].write(9).result(timeout=120)
    return store.read().result()


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01])
def test_cancelled_file_write_lands_whole(tmp_path, delay):
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path)}}, create=True,
                    dtype=ts.int32, shape=[512, 512], chunk_layout=ts.ChunkLayout(chunk_shape=[32, 32])).result()
    store[:, :1] = 5  # every chunk of the first column needs a read-modify-write
    write = store.write(np.ones((512, 512), np.int32))
    time.sleep(delay)
    write.cancel()
    final = _after_a_later_write(store, 32)
    written = final != 9
    assert set(np.unique(final[written])) == {1}, "a cancelled write was applied in part"


def test_cancelled_write_that_keeps_losing_races_still_lands_whole():
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "test_rival_memory"}}, create=True,
                    dtype=ts.int32, shape=[64, 64], chunk_layout=ts.ChunkLayout(chunk_shape=[8, 8])).result()
    store.write(np.full((64, 64), 3, np.int32)).result()
    rival = store.kvstore.driver
    rival.rivals = 2000
    write = store[1:63, 1:63].write(np.ones((62, 62), np.int32))  # partial chunks: merges, races
    write.cancel()
    with pytest.raises((asyncio.CancelledError, concurrent.futures.CancelledError, ValueError)):
        write.result(timeout=60)
    final = _after_a_later_write(store, 8)
    expected = np.full((64, 64), 3, np.int32)
    expected[1:63, 1:63] = 1
    expected[::8, ::8] = 9
    np.testing.assert_array_equal(final, expected)
    assert rival.lost_races > 0
