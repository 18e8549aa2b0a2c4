"""Large read results are allocated without numpy's transparent huge page hint where that hint
makes the kernel compact memory on first touch (driver/chunk_memory.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tensorstore_py.driver import chunk_memory


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds `address`."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split(" ", 1)[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


def test_empty_output_has_shape_and_dtype():
    out = chunk_memory.empty_output((3, 5), np.dtype("<u2"))
    assert out.shape == (3, 5) and out.dtype == np.dtype("<u2") and out.flags.writeable
    out[...] = 7
    assert int(out.sum()) == 7 * 15


@pytest.mark.skipif(chunk_memory._MADVISE is None, reason="THP hints do not stall on this machine")
def test_large_output_is_not_hinted_for_huge_pages():
    out = chunk_memory.empty_output((16 << 20,), np.uint8)  # numpy hints buffers >= 4 MiB
    middle = out.__array_interface__["data"][0] + out.nbytes // 2
    flags = _vm_flags(middle)
    assert "nh" in flags and "hg" not in flags
    hinting = getattr(np._core.multiarray, "_get_madvise_hugepage", lambda: False)()
    plain = np.empty(16 << 20, np.uint8)
    assert not hinting or "hg" in _vm_flags(plain.__array_interface__["data"][0] + plain.nbytes // 2)


def test_chunk_buffers_keep_a_bounded_number_of_bytes():
    from tensorstore_py.driver.chunk_memory import ChunkBuffers

    # (Never touched: numpy's empty arrays of this size take no memory until written.)
    big = ChunkBuffers(lambda: np.empty(65 << 20, np.uint8))
    first = big.take()
    del first
    assert big.take().nbytes == 65 << 20 and big._pool == []  # larger than what a pool keeps
    small = ChunkBuffers(lambda: np.empty(8 << 20, np.uint8))
    held = [small.take() for _ in range(10)]
    assert len(small._pool) == 8  # 64 MiB of them
    del held
    got = small.take()
    assert got is small._pool[0]  # released: taken again
    tiny = ChunkBuffers(lambda: np.empty(64 << 10, np.uint8))
    assert tiny.take() is not tiny.take() and tiny._pool == []  # below 128 KiB: not pooled
