"""The strided copy / fill / byte-swap and gather / scatter kernels against numpy."""

import threading

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import copy as kc

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# One dtype per fast path plus odd sizes that take the generic memcpy path.
DTYPES = [np.uint8, np.int16, np.float32, np.int64, np.complex128, ml_dtypes.bfloat16,
          np.dtype("S3"), np.dtype("V12"), np.bool_]


def _random_base(rng, shape, dtype):
    """An array of random bytes (so every bit pattern, NaNs included, gets copied)."""
    dtype = np.dtype(dtype)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


@st.composite
def layouts(draw, max_rank=4, max_extent=6):
    """A target shape of rank 0..max_rank (extents 0 included)."""
    rank = draw(st.integers(0, max_rank))
    return tuple(draw(st.lists(st.integers(0, max_extent), min_size=rank, max_size=rank)))


@st.composite
def strided_views(draw, shape, dtype, rng_seed):
    """A view of ``shape`` into a larger random base array, with random steps (negative
    too), a random start and a random axis permutation.  Returns (base, view)."""
    rank = len(shape)
    perm = draw(st.permutations(range(rank)))
    steps = [draw(st.sampled_from([-3, -2, -1, 1, 1, 2, 3])) for _ in range(rank)]
    pads = [draw(st.integers(0, 2)) for _ in range(rank)]
    # The base's axis perm[i] becomes the view's axis i.
    base_shape = [0] * rank
    slices = [None] * rank
    for i in range(rank):
        n, step, pad = shape[i], steps[i], pads[i]
        extent = (n - 1) * abs(step) + 1 + pad if n else pad
        base_shape[perm[i]] = extent
        if n == 0:
            slices[perm[i]] = slice(0, 0)
        elif step > 0:
            slices[perm[i]] = slice(pad, pad + (n - 1) * step + 1, step)
        else:
            top = extent - 1 - pad
            last = top + (n - 1) * step
            slices[perm[i]] = slice(top, last - 1 if last >= 1 else None, step)
    base = _random_base(np.random.default_rng(rng_seed), base_shape, dtype)
    view = base[tuple(slices) + (Ellipsis,)].transpose(perm)
    assert view.shape == tuple(shape), (view.shape, shape)
    return base, view


def _same_view(copy_of_base, base, view):
    """The view of ``copy_of_base`` laid out as ``view`` is in ``base``."""
    if view.size == 0:
        return copy_of_base[:0].reshape(view.shape) if copy_of_base.size else np.empty(
            view.shape, view.dtype)
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return np.ndarray(view.shape, view.dtype, copy_of_base, offset, view.strides)


def _bytes_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@SETTINGS
@given(data=st.data(), shape=layouts(), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**32 - 1), broadcast=st.booleans())
def test_strided_copy_matches_numpy(data, shape, dtype, seed, broadcast):
    dbase, dst = data.draw(strided_views(shape, dtype, seed))
    _, src = data.draw(strided_views(shape, dtype, seed + 1))
    if broadcast and shape:
        # Zero strides in the source on a random subset of dimensions.
        keep = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        small = src[tuple(slice(None) if k else slice(0, 1) for k in keep)]
        src = np.broadcast_to(small, shape)
    expected_base = dbase.copy()
    _same_view(expected_base, dbase, dst)[...] = src
    kc.strided_copy(dst, src)
    assert _bytes_equal(dbase, expected_base)
    assert _bytes_equal(dst, src)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=st.lists(st.integers(4, 40), min_size=2, max_size=3).map(tuple),
       dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.complex128,
                              np.dtype("S3")]),
       seed=st.integers(0, 2**32 - 1), swap=st.booleans())
def test_large_random_layouts(data, shape, dtype, seed, swap):
    """Extents large enough for the tiled transpose path (source strides >= a cache line)."""
    dbase, dst = data.draw(strided_views(shape, dtype, seed))
    _, src = data.draw(strided_views(shape, dtype, seed + 1))
    expected_base = dbase.copy()
    native = np.dtype(dtype)
    if swap and native.kind in "iufc":
        _same_view(expected_base, dbase, dst)[...] = src.view(native.newbyteorder(">"))
        kc.strided_copy_byteswap(dst, src)
    else:
        _same_view(expected_base, dbase, dst)[...] = src
        kc.strided_copy(dst, src)
    assert _bytes_equal(dbase, expected_base)


@SETTINGS
@given(data=st.data(), shape=layouts(), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**32 - 1))
def test_strided_fill_matches_numpy(data, shape, dtype, seed):
    dbase, dst = data.draw(strided_views(shape, dtype, seed))
    value = _random_base(np.random.default_rng(seed + 7), (), dtype)
    expected = dbase.copy()
    _same_view(expected, dbase, dst)[...] = value
    kc.strided_fill(dst, value)
    assert _bytes_equal(dbase, expected)


SWAP_DTYPES = [np.uint16, np.int32, np.float32, np.float64, np.int64, np.complex64,
               np.complex128, np.float16, np.uint8]


@SETTINGS
@given(data=st.data(), shape=layouts(), dtype=st.sampled_from(SWAP_DTYPES),
       seed=st.integers(0, 2**32 - 1))
def test_byteswap_copy_matches_numpy(data, shape, dtype, seed):
    native = np.dtype(dtype)
    _, dst = data.draw(strided_views(shape, native, seed))
    _, src = data.draw(strided_views(shape, native, seed + 1))
    big = src.view(native.newbyteorder(">"))
    expected = big.astype(native)
    kc.strided_copy_byteswap(dst, src)
    assert _bytes_equal(dst, expected)


def test_byteswap_units():
    a = np.arange(6, dtype=">u4").reshape(2, 3)
    out = np.empty((2, 3), np.uint32)
    kc.strided_copy_byteswap(out, a.view(np.uint32))
    np.testing.assert_array_equal(out, np.arange(6).reshape(2, 3))
    # Explicit unit: swap 8-byte elements as two 4-byte halves.
    x = np.array([0x0102030405060708], np.uint64)
    y = np.empty_like(x)
    kc.strided_copy_byteswap(y, x, unit=4)
    assert y[0] == 0x0403020108070605
    kc.strided_copy_byteswap(y, x)
    assert y[0] == 0x0807060504030201
    # Unicode strings swap per code point; byte strings are copied as they are.
    u = np.array(["ab", "cd"], ">U2")
    v = np.empty(2, "<U2")
    kc.strided_copy_byteswap(v, u.view("<U2"))
    assert v.tolist() == ["ab", "cd"]
    s = np.array([b"ab"], "S2")
    t = np.empty(1, "S2")
    kc.strided_copy_byteswap(t, s)
    assert t[0] == b"ab"
    with pytest.raises(ValueError, match="unit"):
        kc.strided_copy_byteswap(y, x, unit=3)
    with pytest.raises(ValueError, match="byte-swap"):
        kc.strided_copy_byteswap(np.empty(2, "V6"), np.zeros(2, "V6"))


def test_in_place_byteswap_and_overlap():
    buf = np.arange(12, dtype=">i4")
    native = buf.view(np.int32)
    kc.strided_copy_byteswap(native, native)
    np.testing.assert_array_equal(native, np.arange(12))
    a = np.arange(20, dtype=np.int64)
    b = a.copy()
    b[1:] = b[:-1].copy()
    kc.strided_copy(a[1:], a[:-1])
    np.testing.assert_array_equal(a, b)
    a = np.arange(20, dtype=np.int64)
    kc.strided_copy(a[::-1], a)
    np.testing.assert_array_equal(a, np.arange(20)[::-1])


def test_large_transposes_and_contiguous():
    rng = np.random.default_rng(3)
    for src in [rng.random((300, 200)).astype(np.float32).T,
                rng.random((40, 50, 60)).transpose(2, 0, 1),
                rng.integers(0, 255, (130, 70), dtype=np.uint8).T[::-1],
                (rng.random((64, 80)) + 1j).T,
                rng.random((500, 400))]:
        dst = np.empty(src.shape, src.dtype)
        kc.strided_copy(dst, src)
        np.testing.assert_array_equal(dst, src)
        dst_t = np.empty(src.shape[::-1], src.dtype).T
        kc.strided_copy(dst_t, src)
        np.testing.assert_array_equal(dst_t, src)


def test_rank_32_and_limits():
    shape = (1, 2) * 16
    src = np.arange(2**16, dtype=np.int16).reshape(shape)
    dst = np.empty(shape[::-1], np.int16).T
    kc.strided_copy(dst, src)
    np.testing.assert_array_equal(dst, src)
    big = np.zeros((1,) * 33, np.int8)
    with pytest.raises(ValueError, match="maximum rank"):
        kc.strided_copy(big, big.copy())
    with pytest.raises(ValueError, match="maximum rank"):
        kc.strided_fill(big, np.array(1, np.int8))


def test_copy_argument_errors():
    a = np.zeros((2, 3), np.int32)
    with pytest.raises(ValueError, match="shape mismatch"):
        kc.strided_copy(a, np.zeros((3, 2), np.int32))
    with pytest.raises(ValueError, match="itemsize mismatch"):
        kc.strided_copy(a, np.zeros((2, 3), np.int64))
    ro = np.zeros((2, 3), np.int32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kc.strided_copy(ro, a)
    with pytest.raises(ValueError, match="Python objects"):
        kc.strided_copy(np.empty(2, object), np.empty(2, object))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        kc.strided_copy(a, [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="0-d"):
        kc.strided_fill(a, np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="itemsize mismatch"):
        kc.strided_fill(a, np.array(1, np.int8))
    # Same itemsize, different dtypes: a raw copy.
    kc.strided_copy(a, np.full((2, 3), -1, np.float32))
    assert (a.view(np.float32) == -1).all()


def test_fill_from_inside_destination():
    a = np.arange(10, dtype=np.int32)
    kc.strided_fill(a, a[3:4].reshape(()))
    assert (a == 3).all()


# ---------------------------------------------------------------------------------------------
# gather / scatter

@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=4),
       dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.int64, np.complex128, "S5"]),
       n=st.integers(0, 50), seed=st.integers(0, 2**32 - 1))
def test_gather_scatter_match_numpy(shape, dtype, n, seed):
    rng = np.random.default_rng(seed)
    src = _random_base(rng, tuple(shape), dtype)
    size = src.size
    offsets = rng.integers(0, size, n)
    dst = np.empty(n, src.dtype)
    kc.gather(dst, src, offsets)
    assert _bytes_equal(dst, src.reshape(-1)[offsets])
    # Scatter distinct offsets (numpy leaves the winner among repeats unspecified).
    uniq = rng.permutation(size)[: min(n, size)]
    values = _random_base(rng, (len(uniq),), dtype)
    target = _random_base(rng, tuple(shape), dtype)
    expected = target.copy()
    expected.reshape(-1)[uniq] = values
    kc.scatter(target, uniq.astype(np.int32), values)
    assert _bytes_equal(target, expected)


def test_scatter_repeats_last_wins():
    dst = np.zeros(4, np.int32)
    kc.scatter(dst, np.array([1, 1, 2, 1]), np.array([5, 6, 7, 8], np.int32))
    np.testing.assert_array_equal(dst, [0, 8, 7, 0])


@pytest.mark.parametrize("bad", [-1, 12, 2**40, -(2**63)])
def test_gather_scatter_bounds(bad):
    src = np.arange(12, dtype=np.int32).reshape(3, 4)
    dst = np.full(3, -5, np.int32)
    with pytest.raises(IndexError, match=r"src_offsets\[1\] = "):
        kc.gather(dst, src, np.array([0, bad, 2]))
    assert (dst == -5).all()  # nothing written
    target = np.zeros((3, 4), np.int32)
    with pytest.raises(IndexError, match=r"dst_offsets\[2\] = "):
        kc.scatter(target, np.array([0, 1, bad]), np.ones(3, np.int32))
    assert (target == 0).all()
    with pytest.raises(IndexError, match="int64 range"):
        kc.gather(dst, src, np.array([0, 2**64 - 1, 2], np.uint64))


def test_gather_scatter_argument_errors():
    src = np.arange(12, dtype=np.int32).reshape(3, 4)
    with pytest.raises(ValueError, match="integers"):
        kc.gather(np.empty(2, np.int32), src, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="1-d"):
        kc.gather(np.empty(2, np.int32), src, np.zeros((2, 1), np.int64))
    with pytest.raises(ValueError, match="1-d contiguous"):
        kc.gather(np.empty((2, 2), np.int32)[:, 0], src, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        kc.gather(np.empty(2, np.int32), src.T, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="itemsize"):
        kc.gather(np.empty(2, np.int64), src, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="elements"):
        kc.gather(np.empty(3, np.int32), src, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        kc.scatter(src.T, np.zeros(2, np.int64), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="elements"):
        kc.scatter(src, np.zeros(2, np.int64), np.zeros(3, np.int32))


def test_gather_from_overlapping_destination():
    buf = np.arange(10, dtype=np.int64)
    kc.gather(buf[:5], buf, np.array([9, 8, 7, 6, 5]))
    np.testing.assert_array_equal(buf, [9, 8, 7, 6, 5, 5, 6, 7, 8, 9])


def test_many_threads_at_once():
    """Each thread copies its own arrays; the GIL is released in the loops."""
    rng = np.random.default_rng(5)
    srcs = [rng.random((120, 130)).T for _ in range(8)]
    dsts = [np.empty(s.shape, s.dtype) for s in srcs]
    offs = [rng.integers(0, s.size, 5000) for s in srcs]
    gathered = [np.empty(5000) for _ in srcs]
    errors = []

    def work(i):
        try:
            for _ in range(20):
                kc.strided_copy(dsts[i], srcs[i])
                kc.gather(gathered[i], np.ascontiguousarray(srcs[i]), offs[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s, d, o, g in zip(srcs, dsts, offs, gathered):
        np.testing.assert_array_equal(d, s)
        np.testing.assert_array_equal(g, np.ascontiguousarray(s).reshape(-1)[o])
