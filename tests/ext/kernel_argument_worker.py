"""Calls every Cython kernel with degenerate and random arguments (run as a child process by
test_kernel_arguments.py, so a crash shows up as the child's exit status).  Each call must
return or raise ValueError / TypeError / IndexError / OverflowError; prints the call count."""

from __future__ import annotations

import sys

import numpy as np

from tensorstore_py._ext import compressed_segmentation as cseg
from tensorstore_py._ext import copy as kcopy
from tensorstore_py._ext import crc32c, grid
from tensorstore_py._ext import zlib_codec

ALLOWED = (ValueError, TypeError, IndexError, OverflowError)


def calls(rng: np.random.Generator):
    wide = int(rng.integers(1, 3)) * 10_000_000  # rank far past anything valid
    empty_wide = np.empty((0, wide), np.int64)
    yield grid.group_points, (empty_wide,)
    yield grid.group_points, (np.empty((5, 0), np.int64),)
    yield grid.group_points, (np.empty((0, 0), np.int64),)
    yield grid.group_points, (rng.integers(-2**63, 2**63 - 1, (int(rng.integers(0, 50)), int(rng.integers(0, 70))), dtype=np.int64),)
    yield grid.group_points, (np.zeros((3,), np.int64),)
    yield grid.group_points, (np.zeros((3, 2), np.float64),)
    yield grid.partition_dim, tuple(int(v) for v in rng.integers(-2**63, 2**63 - 1, 5))
    yield grid.partition_dim, (0, 0, 10, 4, 0)
    yield grid.partition_dim, (0, 1, -1, 4, 0)
    yield grid.partition_dim, (0, 1, 10, 0, 0)
    yield grid.partition_dim, (2**62, 2**62, 2**62, 1, -2**62)
    rank = int(rng.integers(0, 80))
    yield grid.partition_box, ([0] * rank, [1] * rank, [1] * rank, [1] * rank, [0] * rank)
    yield grid.partition_box, ([0] * 70, [1] * 70, [2] * 70, [1] * 70, [0] * 70)
    yield grid.partition_box, ([0] * rank, [1] * rank, [2] * max(rank - 1, 0), [1] * rank, [0] * rank)
    yield grid.partition_box, ([0] * 3, [1] * 3, [2**40] * 3, [1] * 3, [0] * 3)
    # copies
    a = np.zeros((0, wide // 10_000), np.uint8)
    yield kcopy.strided_copy, (a, a.copy())
    yield kcopy.strided_copy, (np.zeros((2, 3), np.int32), np.zeros((3, 2), np.int32))
    yield kcopy.strided_copy, (np.zeros((2, 3), np.int32), np.zeros((2, 3), np.int64))
    yield kcopy.strided_copy, (np.zeros((1,) * 40, np.int8), np.zeros((1,) * 40, np.int8))
    yield kcopy.strided_copy, (np.zeros(4, object), np.zeros(4, object))
    ro = np.zeros(4, np.int8)
    ro.flags.writeable = False
    yield kcopy.strided_copy, (ro, np.zeros(4, np.int8))
    yield kcopy.strided_fill, (np.zeros((3, 3), np.int16), np.zeros(2, np.int16))
    yield kcopy.strided_fill, (np.zeros((3, 3), np.int16), np.zeros((), np.int8))
    yield kcopy.strided_copy_byteswap, (np.zeros(3, "V3"), np.zeros(3, "V3"))
    yield kcopy.strided_copy_byteswap, (np.zeros(3, np.int32), np.zeros(3, np.int32), 3)
    n = int(rng.integers(0, 20))
    offsets = rng.integers(-5, 25, n)
    yield kcopy.gather, (np.zeros(n, np.int32), np.zeros(20, np.int32), offsets)
    yield kcopy.scatter, (np.zeros(20, np.int32), offsets, np.zeros(n, np.int32))
    yield kcopy.gather, (np.zeros(n + 1, np.int32), np.zeros(20, np.int32), offsets)
    yield kcopy.gather, (np.zeros(2, np.int32), np.zeros(0, np.int32), np.zeros(2, np.int64))
    yield kcopy.gather, (np.zeros(2, np.int32), np.zeros(20, np.int32), np.array([2**64 - 1, 0], np.uint64))
    # codecs
    blob = rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
    shape = tuple(int(v) for v in rng.integers(0, 9, 4))
    yield cseg.decode, (blob, shape, (2, 2, 2), np.uint32)
    yield cseg.decode, (blob, (1, 2**31, 2**31, 2**31), (1, 1, 1), np.uint64)
    yield cseg.decode, (blob, (0, 0, 0, 0), (0, 1, 1), np.uint32)
    yield cseg.decode, (blob, (1, 4, 4, 4), (2, 2, 2), np.uint32, np.zeros((1, 4, 4), np.uint32))
    yield cseg.decode, (blob, (-1, 4, 4, 4), (2, 2, 2), np.uint32)
    yield cseg.encode, (np.zeros(shape, np.uint32), (2, 2, 2))
    yield cseg.encode, (np.zeros((1, 2, 2), np.uint32), (2, 2, 2))
    yield cseg.encode, (np.zeros((1, 2, 2, 2), np.uint32), (0, 2, 2))
    yield zlib_codec.decompress, (blob,)
    yield zlib_codec.decompress, (blob, 1, False, 0, 10)
    yield zlib_codec.decompress_into, (blob, bytearray(int(rng.integers(0, 64))))
    yield zlib_codec.decompress_into, (b"", bytearray(0))
    yield zlib_codec.decompress, (blob, 99)
    yield crc32c.value, (blob,)
    yield crc32c.extend, (-1, blob)
    yield crc32c.extend, (2**40, blob)
    yield crc32c.value, ("text",)


def main(seed: int, rounds: int) -> None:
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(rounds):
        for fn, args in calls(rng):
            try:
                fn(*args)
            except ALLOWED:
                pass
            except Exception as exc:  # noqa: BLE001 - reported as the failure it is
                print(f"{fn.__module__}.{fn.__name__}{tuple(type(a).__name__ for a in args)} raised "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)
                sys.exit(3)
            count += 1
    print(count)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
