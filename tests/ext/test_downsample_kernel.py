"""The downsample kernel against a plain numpy reference, its argument checks, and the GIL."""

from __future__ import annotations

import itertools
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import downsample as K

METHODS = {"mean": K.MEAN, "median": K.MEDIAN, "mode": K.MODE, "min": K.MIN, "max": K.MAX}


def _round_half_even_div(total: int, n: int) -> int:
    q, r = divmod(total, n)  # floor division, 0 <= r < n
    if 2 * r > n or (2 * r == n and q % 2):
        q += 1
    return q


def _reference(src: np.ndarray, offsets, factors, method: str) -> np.ndarray:
    shape = tuple((o + n + f - 1) // f for n, o, f in zip(src.shape, offsets, factors))
    out = np.empty(shape, dtype=src.dtype)
    for index in itertools.product(*[range(n) for n in shape]):
        block = src[tuple(slice(max(k * f - o, 0), (k + 1) * f - o) for k, f, o in zip(index, factors, offsets))]
        vals = block.reshape(-1)
        if method == "mean":
            if src.dtype.kind == "f":
                acc = src.dtype.type(0)
                for v in vals:
                    acc = src.dtype.type(acc + v)
                out[index] = acc / src.dtype.type(len(vals))
            else:
                out[index] = _round_half_even_div(sum(int(v) for v in vals), len(vals))
        elif method == "median":
            out[index] = np.sort(vals, kind="stable")[(len(vals) - 1) // 2]
        elif method == "mode":
            uniq, counts = np.unique(vals, return_counts=True)
            out[index] = uniq[np.argmax(counts)]  # the smallest of the most frequent
        elif method == "min":
            out[index] = vals.min()
        else:
            out[index] = vals.max()
    return out


DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64, np.float32, np.float64]


@st.composite
def cases(draw):
    rank = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    factors = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    offsets = [draw(st.integers(0, f - 1)) for f in factors]
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    n = int(np.prod(shape))
    if dtype.kind == "b":
        data = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    elif dtype.kind == "f":
        data = np.array(draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n)), dtype=dtype) / 4
    else:
        info = np.iinfo(dtype)
        data = np.array(draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)), dtype=dtype)
    return data.reshape(shape), offsets, factors, draw(st.sampled_from(sorted(METHODS)))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_matches_reference(case):
    src, offsets, factors, method = case
    expected = _reference(src, offsets, factors, method)
    out = np.empty(expected.shape, dtype=src.dtype)
    K.reduce(src, out, offsets, factors, METHODS[method])
    np.testing.assert_array_equal(out, expected)


def test_integer_mean_is_exact_and_rounds_half_to_even():
    big = np.array([2**63 - 1, 2**63 - 2, -(2**63), -(2**63)], dtype=np.int64)
    out = np.empty(2, dtype=np.int64)
    K.reduce(big, out, [0], [2], K.MEAN)
    assert out.tolist() == [2**63 - 2, -(2**63)]  # (2**64 - 3) / 2 rounds to the even neighbour
    u = np.array([2**64 - 1, 2**64 - 1, 1, 2], dtype=np.uint64)
    out = np.empty(2, dtype=np.uint64)
    K.reduce(u, out, [0], [2], K.MEAN)
    assert out.tolist() == [2**64 - 1, 2]


def test_float_special_values():
    nan = np.nan
    src = np.array([nan, 2, 3, nan, nan, nan], dtype=np.float32)
    lo, hi = np.empty(3, np.float32), np.empty(3, np.float32)
    K.reduce(src, lo, [0], [2], K.MIN)
    K.reduce(src, hi, [0], [2], K.MAX)
    # NaN never wins a comparison: it is skipped, and an all-NaN block keeps the start value.
    assert lo.tolist() == [2, 3, np.inf] and hi.tolist() == [2, 3, -np.inf]


@pytest.mark.parametrize("bad", [
    dict(out_shape=(3,), msg="wrong shape"),
    dict(offsets=[2], msg="invalid factor or offset"),
    dict(factors=[0], msg="invalid factor or offset"),
    dict(method=9, msg="unknown method"),
    dict(dtype=np.complex64, msg="unsupported dtype"),
    dict(noncontig=True, msg="C-contiguous"),
])
def test_argument_checks(bad):
    dtype = bad.get("dtype", np.int32)
    src = np.arange(8).astype(dtype)
    if bad.get("noncontig"):
        src = src[::2]
    out = np.empty(bad.get("out_shape", (4,) if not bad.get("noncontig") else (2,)), dtype=dtype)
    with pytest.raises((ValueError, TypeError), match=bad["msg"]):
        K.reduce(src, out, bad.get("offsets", [0]), bad.get("factors", [2]), bad.get("method", K.MEAN))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_gil_released(method):
    """Another Python thread runs while the kernel reduces a large box.

    With a switch interval far longer than the call, a thread holding the GIL is never made
    to give it up: the main thread could only run after the call returned.  (Independent of
    how loaded the machine is, unlike a wall-clock share.)
    """
    src = np.random.default_rng(0).integers(0, 1000, (32, 512, 512), dtype=np.uint16)
    out = np.empty((16, 256, 256), dtype=np.uint16)
    started = threading.Event()
    finished = []

    def worker():
        started.set()
        # Several calls: the one-pass mean reduces this box in a few milliseconds.
        for _ in range(20):
            K.reduce(src, out, [0, 0, 0], [2, 2, 2], METHODS[method])
        finished.append(True)

    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        t = threading.Thread(target=worker)
        t.start()
        started.wait()
        spins_while_running = 0
        # Bounded, so that the worker gets the GIL back soon after its call returns.
        while not finished and spins_while_running < 20_000:
            spins_while_running += 1
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert spins_while_running > 1000


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.int64, np.bool_])
@pytest.mark.parametrize("method", ["median", "mode"])
def test_blocks_of_eight(dtype, method):
    """2x2x2 integer blocks take the sorting-network path; the values are the reference's."""
    rng = np.random.default_rng(7)
    src = rng.integers(0, 4 if dtype is not np.bool_ else 2, size=(6, 7, 9)).astype(dtype)
    offsets = [1, 0, 1]
    expected = _reference(src, offsets, [2, 2, 2], method)
    out = np.empty(expected.shape, dtype=src.dtype)
    K.reduce(src, out, offsets, [2, 2, 2], METHODS[method])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64, np.bool_])
@pytest.mark.parametrize("factors", [[2], [1, 2], [2, 2], [2, 1, 2], [2, 2, 2], [1, 2, 2, 2], [2, 2, 2, 2],
                                     [2, 1], [2, 2, 1], [1, 2, 1, 1], [2, 2, 2, 1], [2, 1, 2, 1]])
def test_mean_of_twos_and_ones(dtype, factors):
    """Means whose factors are 2s and 1s take the fused one-pass path (trailing 1s: the pairs
    are that many elements apart): every offset, odd and even extents (blocks cut at both ends),
    and the extreme values of the type (sums near the accumulator's range, halves of both
    signs)."""
    rng = np.random.default_rng(11)
    for shape in itertools.product(*[[1, 2, 5] if f == 2 else [1, 3] for f in factors]):
        if dtype is np.bool_:
            src = rng.integers(0, 2, size=shape).astype(bool)
        else:
            info = np.iinfo(dtype)
            src = rng.choice(np.array([info.min, info.min + 1, -1 if info.min else 1, 0, 1, info.max - 1, info.max], dtype=dtype), size=shape)
        for offsets in itertools.product(*[range(f) for f in factors]):
            expected = _reference(src, list(offsets), factors, "mean")
            out = np.empty(expected.shape, dtype=src.dtype)
            K.reduce(src, out, list(offsets), factors, K.MEAN)
            np.testing.assert_array_equal(out, expected, err_msg=f"{shape} {offsets}")


def test_mean_of_twos_large_box():
    """A box of many rows (each row longer than a vector register) against the reference."""
    rng = np.random.default_rng(5)
    src = rng.integers(-32768, 32768, size=(5, 6, 67), dtype=np.int16)
    for offsets in ([0, 0, 0], [1, 1, 1], [0, 1, 0]):
        expected = _reference(src, offsets, [2, 2, 2], "mean")
        out = np.empty(expected.shape, dtype=src.dtype)
        K.reduce(src, out, offsets, [2, 2, 2], K.MEAN)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.int64, np.float32])
def test_strided_out(method, dtype):
    """`out` may be a strided view (a tile's region of a larger result): the fused mean path
    writes it in place, the others through a C-contiguous copy; the elements around it stay."""
    rng = np.random.default_rng(3)
    src = rng.integers(-100, 100, size=(5, 6, 9)).astype(dtype)
    offsets = [1, 0, 1]
    expected = _reference(src, offsets, [2, 2, 2], method)
    whole = np.full((5, 6, 9), 77, dtype=dtype)
    region = whole[1:4, 2:5, 3:8]
    assert not region.flags.c_contiguous
    K.reduce(src, region, offsets, [2, 2, 2], METHODS[method])
    np.testing.assert_array_equal(region, expected)
    outside = np.ones(whole.shape, dtype=bool)
    outside[1:4, 2:5, 3:8] = False
    assert (whole[outside] == 77).all()
    # A last dimension that is not contiguous either.
    columns = np.full((3, 3, 10), 77, dtype=dtype)[:, :, ::2]
    K.reduce(src, columns, offsets, [2, 2, 2], METHODS[method])
    np.testing.assert_array_equal(columns, expected)
    # A trailing dimension of factor 1 (channels): the region of a larger result, and a view
    # whose channels are not contiguous.
    channels = src.reshape(5, 6, 3, 3)
    expected = _reference(channels, [1, 0, 1, 0], [2, 2, 2, 1], method)
    for whole, index in ((np.full((4, 5, 3, 3), 77, dtype=dtype), np.s_[1:4, 2:5, 0:2, :]),
                         (np.full((3, 3, 2, 5), 77, dtype=dtype), np.s_[:, :, :, 1:4])):
        region = whole[index]
        K.reduce(np.ascontiguousarray(channels), region, [1, 0, 1, 0], [2, 2, 2, 1], METHODS[method])
        np.testing.assert_array_equal(region, expected)
        outside = np.ones(whole.shape, dtype=bool)
        outside[index] = False
        assert (whole[outside] == 77).all()


def _first_strictly_better(src: np.ndarray, offsets, factors, method: str) -> np.ndarray:
    """Min / max as TensorStore takes them: from +inf / -inf (the type's max / min), each element
    of the block in C order replaces the running value only when strictly better."""
    shape = tuple((o + n + f - 1) // f for n, o, f in zip(src.shape, offsets, factors))
    out = np.empty(shape, dtype=src.dtype)
    if src.dtype.kind == "f":
        start = src.dtype.type(np.inf if method == "min" else -np.inf)
    else:
        info = np.iinfo(src.dtype)
        start = src.dtype.type(info.max if method == "min" else info.min)
    for index in itertools.product(*[range(n) for n in shape]):
        block = src[tuple(slice(max(k * f - o, 0), (k + 1) * f - o) for k, f, o in zip(index, factors, offsets))]
        acc = start
        for v in block.reshape(-1):
            if (v < acc) if method == "min" else (v > acc):
                acc = v
        out[index] = acc
    return out


@pytest.mark.parametrize("method", ["min", "max"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint64, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("factors", [[2], [2, 2], [1, 2], [2, 2, 2], [2, 2, 1], [2, 2, 2, 1], [2, 1, 2, 2]])
def test_min_max_of_twos_and_ones(method, dtype, factors):
    """Min and max with factors of 2s and 1s take the fused path: every offset, odd and even
    extents, the extremes of the type; for floats NaN (never wins; an all-NaN block keeps the
    start value) and zeros of both signs (the first in C order stays), bit for bit."""
    rng = np.random.default_rng(13)
    if np.dtype(dtype).kind == "f":
        pool = np.array([np.nan, -0.0, 0.0, 1.5, -2.0, np.inf, -np.inf], dtype=dtype)
    else:
        info = np.iinfo(dtype)
        pool = np.array([info.min, info.min + 1, 0, 1, info.max - 1, info.max], dtype=dtype)
    for shape in itertools.product(*[[1, 2, 5] if f == 2 else [1, 3] for f in factors]):
        src = rng.choice(pool, size=shape)
        for offsets in itertools.product(*[range(f) for f in factors]):
            expected = _first_strictly_better(src, list(offsets), factors, method)
            out = np.empty(expected.shape, dtype=src.dtype)
            K.reduce(src, out, list(offsets), factors, METHODS[method])
            assert out.tobytes() == expected.tobytes(), f"{shape} {offsets}\n{src}\n{out}\n{expected}"
