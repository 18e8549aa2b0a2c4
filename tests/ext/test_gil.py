"""The bulk loops run without the GIL: another Python thread keeps running meanwhile."""

import threading
import time

import numpy as np
import pytest

from tensorstore_py._ext import compressed_segmentation as cs
from tensorstore_py._ext import copy as kc
from tensorstore_py._ext import grid


def _share_of_time_python_ran(call) -> float:
    """The share of ``call``'s run time (in a worker thread) during which the main thread
    kept executing Python code: iterations of a loop that follow each other within 1 ms.
    A call holding the GIL leaves the main thread only the interpreter's 5 ms switch slices
    between calls, a share near 0; a GIL-free call leaves it nearly all the time."""
    started = threading.Event()

    def worker():
        started.set()
        call()

    t = threading.Thread(target=worker)
    t.start()
    started.wait()
    begin = last = time.perf_counter()
    covered = 0.0
    while t.is_alive():
        now = time.perf_counter()
        if now - last < 1e-3:
            covered += now - last
        last = now
    t.join()
    return covered / max(last - begin, 1e-9)


def _big_calls():
    rng = np.random.default_rng(0)
    src = rng.random((2048, 2048)).T
    dst = np.empty(src.shape)
    big = src.astype(">f8")
    offsets = rng.integers(0, src.size, 4_000_000)
    gathered = np.empty(offsets.size)
    coords = rng.integers(0, 1000, (1_000_000, 3))
    vol = rng.integers(0, 50, (1, 128, 128, 128)).astype(np.uint64)
    blob = cs.encode(vol, (8, 8, 8))
    flat = np.ascontiguousarray(src)
    return {
        "strided_copy": lambda: [kc.strided_copy(dst, src) for _ in range(4)],
        "strided_copy_byteswap": lambda: [kc.strided_copy_byteswap(dst, big.view(np.float64))
                                          for _ in range(4)],
        "strided_fill": lambda: [kc.strided_fill(dst, np.array(1.0)) for _ in range(20)],
        "gather": lambda: [kc.gather(gathered, flat, offsets) for _ in range(3)],
        "group_points": lambda: grid.group_points(coords),
        "encode": lambda: cs.encode(vol, (8, 8, 8)),
        "decode": lambda: [cs.decode(blob, vol.shape, (8, 8, 8), np.uint64) for _ in range(5)],
    }


CALLS = _big_calls()


# Wall-clock measurements depend on machine load: run on demand (TSPY_SLOW=1), not in CI.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CALLS))
def test_gil_released(name):
    share = _share_of_time_python_ran(CALLS[name])
    # Lenient: other processes may take the CPU from the main thread now and then.
    assert share > 0.4, f"{name}: Python ran only {share:.0%} of the time"
