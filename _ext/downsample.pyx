# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, annotation_typing=False
"""Block reductions of the downsample driver, run with the GIL released.

``reduce(src, out, offsets, factors, method)``: `src` is a C-contiguous box of the base array;
along dimension d its first element sits at position ``offsets[d]`` (0 <= offset < factor) of
its block, blocks being ``factors[d]`` wide.  `out` (any strides of whole elements) receives one
value per block the box touches: ``out.shape[d] == ceil((offsets[d] + src.shape[d]) /
factors[d])``.  A block cut by the edge of the box reduces only the elements it holds.

Methods (as TensorStore computes them):

* ``MEAN``: integers sum exactly (in 32, 64 or 128 bits: wide enough for the block) and round
  half to even (floor-based for negative sums); float32 and the half-precision types (given
  here as float32) accumulate in float32, float64 in float64.
* ``MIN`` / ``MAX``: start from +inf / -inf (type max / min for integers) and keep the first
  of equal elements, so NaN never wins unless nothing else is there.
* ``MEDIAN``: the lower median, ``std::nth_element`` on the block's elements in C order
  (integer blocks of 8 elements: a sorting network, which gives the same value).
* ``MODE``: the most frequent value after ``std::sort`` (the smallest of equally frequent ones).

Integer means, minima and maxima whose factors are 2s and 1s (at most four 2s: the usual
pyramid steps) take one fused pass (``tsx_rows2`` in tsx_downsample.h): each output row straight from its 1, 2, 4 or 8 source rows, written in place (the dimensions
from the last 2 on contiguous in `out`).  The rest is processed one output hyperplane (fixed
index along dimension 0) at a time, so the accumulators stay small and in cache whatever the
size of the box; a strided `out` is then written through a C-contiguous copy.
"""

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset
from libcpp.algorithm cimport nth_element, sort
cimport numpy as cnp
import numpy as np

cnp.import_array()

__all__ = ["reduce", "MEAN", "MIN", "MAX", "MEDIAN", "MODE"]

cdef extern from "tsx_downsample.h":
    void tsx_sum_row[T, A](const T* b, A* acc, int64_t n, int64_t f, int64_t o) nogil
    void tsx_min_row[T](const T* b, T* acc, int64_t n, int64_t f, int64_t o) nogil
    void tsx_max_row[T](const T* b, T* acc, int64_t n, int64_t f, int64_t o) nogil
    void tsx_sort8[T](T* s) nogil
    void tsx_gather_row[T](const T* b, T* buf, int64_t* fill, int64_t bmax, int64_t n, int64_t f, int64_t o) nogil
    bint tsx_mean2[T](const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape, const int64_t* out_stride, const int64_t* off, const int64_t* fac) nogil
    bint tsx_min2[T](const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape, const int64_t* out_stride, const int64_t* off, const int64_t* fac) nogil
    bint tsx_max2[T](const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape, const int64_t* out_stride, const int64_t* off, const int64_t* fac) nogil

cdef extern from *:
    int __builtin_ctzll(unsigned long long x) nogil

cdef extern from *:
    """
    typedef __int128 tsx_i128;
    typedef unsigned __int128 tsx_u128w;
    """
    ctypedef long long tsx_i128
    ctypedef unsigned long long tsx_u128w

MEAN, MIN, MAX, MEDIAN, MODE = 1, 4, 5, 2, 3

ctypedef fused elem_t:
    uint8_t
    int8_t
    uint16_t
    int16_t
    uint32_t
    int32_t
    uint64_t
    int64_t
    float
    double

cdef enum:
    _MAXD = 34


cdef struct Plan:
    int rank                     # >= 2 (a leading unit dimension is added for rank 1)
    int64_t src_shape[_MAXD]
    int64_t out_shape[_MAXD]
    int64_t out_stride[_MAXD]    # in elements
    bint out_contiguous          # C order: else only the fused paths can write it
    int64_t off[_MAXD]
    int64_t fac[_MAXD]
    int64_t plane                # elements of one output hyperplane (dims 1..rank-1)
    int64_t src_plane            # elements of one source hyperplane


cdef inline int64_t _block_size(int64_t k, int64_t f, int64_t o, int64_t n) noexcept nogil:
    cdef int64_t lo = k * f - o
    cdef int64_t hi = lo + f
    if lo < 0:
        lo = 0
    if hi > n:
        hi = n
    return hi - lo


cdef void _counts(Plan* p, int64_t* counts) noexcept nogil:
    """Elements of the source in each block of one output hyperplane (dimension 0 excluded)."""
    cdef int64_t idx[_MAXD]
    cdef int64_t i, c
    cdef int d
    for d in range(p.rank):
        idx[d] = 0
    for i in range(p.plane):
        c = 1
        for d in range(1, p.rank):
            c *= _block_size(idx[d], p.fac[d], p.off[d], p.src_shape[d])
        counts[i] = c
        d = p.rank - 1
        while d >= 1:
            idx[d] += 1
            if idx[d] < p.out_shape[d]:
                break
            idx[d] = 0
            d -= 1


cdef void _map_rows(Plan* p, int64_t* row_out) noexcept nogil:
    """For each source row (all dims but 0 and the last fixed), its output row's first index."""
    cdef int64_t idx[_MAXD]
    cdef int64_t rows = p.src_plane // p.src_shape[p.rank - 1] if p.src_shape[p.rank - 1] else 0
    cdef int64_t r, base, stride
    cdef int d
    for d in range(p.rank):
        idx[d] = 0
    for r in range(rows):
        base = 0
        stride = p.out_shape[p.rank - 1]
        for d in range(p.rank - 2, 0, -1):
            base += ((idx[d] + p.off[d]) // p.fac[d]) * stride
            stride *= p.out_shape[d]
        row_out[r] = base
        d = p.rank - 2
        while d >= 1:
            idx[d] += 1
            if idx[d] < p.src_shape[d]:
                break
            idx[d] = 0
            d -= 1


cdef inline int64_t _round_div_signed(tsx_i128 s, int64_t n) noexcept nogil:
    cdef tsx_i128 q = s / n
    cdef tsx_i128 r = s % n
    if r < 0:
        q -= 1
        r += n
    if 2 * r > n or (2 * r == n and (q & 1)):
        q += 1
    return <int64_t>q


cdef inline int64_t _round_div_small(int64_t s, int64_t n) noexcept nogil:
    cdef int64_t q, r
    if (n & (n - 1)) == 0:
        # Whole blocks of power-of-two factors: a shift instead of a division (floor for
        # negative sums too, the shift being arithmetic).
        q = s >> __builtin_ctzll(<unsigned long long>n)
        r = s & (n - 1)
    else:
        q = s // n if s >= 0 else -((-s + n - 1) // n)
        r = s - q * n
    if 2 * r > n or (2 * r == n and (q & 1)):
        q += 1
    return q


cdef inline uint64_t _round_div_unsigned(tsx_u128w s, int64_t n) noexcept nogil:
    cdef tsx_u128w q = s / <tsx_u128w>n
    cdef tsx_u128w r = s % <tsx_u128w>n
    if 2 * r > <tsx_u128w>n or (2 * r == <tsx_u128w>n and (q & 1)):
        q += 1
    return <uint64_t>q


cdef int _run(elem_t* src, elem_t* out, Plan* p, int method) noexcept nogil:
    """0 on success, -1 when out of memory, 1 when `out` must be C-contiguous for `method`."""
    cdef int64_t P = p.plane
    cdef int64_t last = p.src_shape[p.rank - 1]
    cdef int64_t flast = p.fac[p.rank - 1]
    cdef int64_t olast = p.off[p.rank - 1]
    cdef int64_t rows = p.src_plane // last if last else 0
    cdef int64_t f0 = p.fac[0]
    cdef int64_t* counts = <int64_t*>malloc(max(P, 1) * sizeof(int64_t))
    cdef int64_t* row_out = <int64_t*>malloc(max(rows, 1) * sizeof(int64_t))
    cdef int64_t* fill = NULL
    cdef int32_t* acc_i = NULL      # 8/16-bit sums of blocks small enough not to overflow
    cdef uint32_t* acc_u = NULL
    cdef int64_t block_volume = 1
    cdef tsx_i128* acc_w = NULL
    cdef tsx_u128w* acc_uw = NULL
    cdef elem_t* acc_e = NULL
    cdef elem_t* buf = NULL
    cdef int64_t bmax = 1
    cdef int64_t k0, i0, i0_lo, i0_hi, r, j, pos, cnt, n0, run, best_run, d
    cdef elem_t best
    cdef elem_t* s
    cdef elem_t* b
    # Factors of 2 and 1 (the last one other than 1 a 2, at most four 2s): one fused pass.
    if elem_t is float or elem_t is double:
        pass
    elif method == 1:
        if tsx_mean2(src, out, p.rank, p.src_shape, p.out_shape, p.out_stride, p.off, p.fac):
            free(counts); free(row_out)
            return 0
    if method == 4 and tsx_min2(src, out, p.rank, p.src_shape, p.out_shape, p.out_stride, p.off, p.fac):
        free(counts); free(row_out)
        return 0
    if method == 5 and tsx_max2(src, out, p.rank, p.src_shape, p.out_shape, p.out_stride, p.off, p.fac):
        free(counts); free(row_out)
        return 0
    if not p.out_contiguous:
        free(counts); free(row_out)
        return 1
    if counts == NULL or row_out == NULL:
        free(counts); free(row_out)
        return -1
    _counts(p, counts)
    _map_rows(p, row_out)
    if method == 2 or method == 3:
        for d in range(p.rank):
            bmax *= p.fac[d] if p.fac[d] < p.src_shape[d] else p.src_shape[d]
        buf = <elem_t*>malloc(max(P * bmax, 1) * sizeof(elem_t))
        fill = <int64_t*>malloc(max(P, 1) * sizeof(int64_t))
        if buf == NULL or fill == NULL:
            free(counts); free(row_out); free(buf); free(fill)
            return -1
    elif method == 1:
        if elem_t is float or elem_t is double:
            acc_e = <elem_t*>malloc(max(P, 1) * sizeof(elem_t))
        else:
            for d in range(p.rank):
                block_volume *= p.fac[d]
            if (elem_t is int8_t or elem_t is int16_t) and block_volume <= 65535:
                acc_i = <int32_t*>malloc(max(P, 1) * sizeof(int32_t))
            elif (elem_t is uint8_t or elem_t is uint16_t) and block_volume <= 65536:
                acc_u = <uint32_t*>malloc(max(P, 1) * sizeof(uint32_t))
            elif elem_t is int64_t or elem_t is int32_t or elem_t is int8_t or elem_t is int16_t:
                acc_w = <tsx_i128*>malloc(max(P, 1) * sizeof(tsx_i128))
            else:
                acc_uw = <tsx_u128w*>malloc(max(P, 1) * sizeof(tsx_u128w))
        if acc_e == NULL and acc_w == NULL and acc_uw == NULL and acc_i == NULL and acc_u == NULL:
            free(counts); free(row_out)
            return -1
    else:
        acc_e = <elem_t*>malloc(max(P, 1) * sizeof(elem_t))
        if acc_e == NULL:
            free(counts); free(row_out)
            return -1

    for k0 in range(p.out_shape[0]):
        # reset the hyperplane's accumulators
        if method == 2 or method == 3:
            memset(fill, 0, P * sizeof(int64_t))
        elif method == 1:
            if acc_e != NULL:
                memset(acc_e, 0, P * sizeof(elem_t))
            elif acc_w != NULL:
                memset(acc_w, 0, P * sizeof(tsx_i128))
            elif acc_uw != NULL:
                memset(acc_uw, 0, P * sizeof(tsx_u128w))
            elif acc_i != NULL:
                memset(acc_i, 0, P * sizeof(int32_t))
            else:
                memset(acc_u, 0, P * sizeof(uint32_t))
        else:
            for j in range(P):
                if elem_t is float or elem_t is double:
                    acc_e[j] = (1.0 / 0.0) if method == 4 else (-1.0 / 0.0)
                elif elem_t is uint8_t:
                    acc_e[j] = 0xFF if method == 4 else 0
                elif elem_t is uint16_t:
                    acc_e[j] = 0xFFFF if method == 4 else 0
                elif elem_t is uint32_t:
                    acc_e[j] = 0xFFFFFFFFU if method == 4 else 0
                elif elem_t is uint64_t:
                    acc_e[j] = 0xFFFFFFFFFFFFFFFFULL if method == 4 else 0
                elif elem_t is int8_t:
                    acc_e[j] = 127 if method == 4 else -128
                elif elem_t is int16_t:
                    acc_e[j] = 32767 if method == 4 else -32768
                elif elem_t is int32_t:
                    acc_e[j] = 2147483647 if method == 4 else -2147483648
                else:
                    acc_e[j] = 9223372036854775807LL if method == 4 else (-9223372036854775807LL - 1)
        i0_lo = k0 * f0 - p.off[0]
        i0_hi = i0_lo + f0
        if i0_lo < 0:
            i0_lo = 0
        if i0_hi > p.src_shape[0]:
            i0_hi = p.src_shape[0]
        n0 = i0_hi - i0_lo
        for i0 in range(i0_lo, i0_hi):
            s = src + i0 * p.src_plane
            for r in range(rows):
                b = s + r * last
                pos = row_out[r]
                if method == 1:
                    if elem_t is float or elem_t is double:
                        tsx_sum_row(b, acc_e + pos, last, flast, olast)
                    elif acc_i != NULL:
                        tsx_sum_row(b, acc_i + pos, last, flast, olast)
                    elif acc_u != NULL:
                        tsx_sum_row(b, acc_u + pos, last, flast, olast)
                    elif acc_w != NULL:
                        tsx_sum_row(b, acc_w + pos, last, flast, olast)
                    else:
                        tsx_sum_row(b, acc_uw + pos, last, flast, olast)
                elif method == 4:
                    tsx_min_row(b, acc_e + pos, last, flast, olast)
                elif method == 5:
                    tsx_max_row(b, acc_e + pos, last, flast, olast)
                else:
                    tsx_gather_row(b, buf + pos * bmax, fill + pos, bmax, last, flast, olast)
        # finalize the hyperplane
        b = out + k0 * P
        for j in range(P):
            cnt = counts[j] * n0
            if method == 1:
                if elem_t is float or elem_t is double:
                    b[j] = acc_e[j] / <elem_t>cnt
                elif acc_i != NULL:
                    b[j] = <elem_t>_round_div_small(acc_i[j], cnt)
                elif acc_u != NULL:
                    b[j] = <elem_t>_round_div_small(acc_u[j], cnt)
                elif acc_w != NULL:
                    b[j] = <elem_t>_round_div_signed(acc_w[j], cnt)
                else:
                    b[j] = <elem_t>_round_div_unsigned(acc_uw[j], cnt)
            elif method == 4 or method == 5:
                b[j] = acc_e[j]
            elif method == 2:
                s = buf + j * bmax
                if cnt == 8 and not (elem_t is float or elem_t is double):
                    tsx_sort8(s)
                else:
                    nth_element(s, s + (cnt - 1) // 2, s + cnt)
                b[j] = s[(cnt - 1) // 2]
            else:
                s = buf + j * bmax
                if cnt == 8 and not (elem_t is float or elem_t is double):
                    tsx_sort8(s)
                else:
                    sort(s, s + cnt)
                best = s[0]
                best_run = 1
                run = 1
                for i0 in range(1, cnt):
                    if s[i0] == s[i0 - 1]:
                        run += 1
                    else:
                        run = 1
                    if run > best_run:
                        best_run = run
                        best = s[i0]
                b[j] = best
    free(counts); free(row_out); free(fill); free(buf)
    free(acc_i); free(acc_u); free(acc_w); free(acc_uw); free(acc_e)
    return 0


cdef int _dispatch(cnp.ndarray src, cnp.ndarray out, Plan* p, int method) except -2:
    """0 when done; 1 when `out` is not C-contiguous and only a C-contiguous one will do."""
    cdef void* s = cnp.PyArray_DATA(src)
    cdef void* o = cnp.PyArray_DATA(out)
    cdef int rc = 0
    cdef char code = ord(src.dtype.kind)
    cdef int size = src.dtype.itemsize
    with nogil:
        if code == 98 or code == 117:
            if size == 1:
                rc = _run(<uint8_t*>s, <uint8_t*>o, p, method)
            elif size == 2:
                rc = _run(<uint16_t*>s, <uint16_t*>o, p, method)
            elif size == 4:
                rc = _run(<uint32_t*>s, <uint32_t*>o, p, method)
            else:
                rc = _run(<uint64_t*>s, <uint64_t*>o, p, method)
        elif code == 105:
            if size == 1:
                rc = _run(<int8_t*>s, <int8_t*>o, p, method)
            elif size == 2:
                rc = _run(<int16_t*>s, <int16_t*>o, p, method)
            elif size == 4:
                rc = _run(<int32_t*>s, <int32_t*>o, p, method)
            else:
                rc = _run(<int64_t*>s, <int64_t*>o, p, method)
        elif size == 4:
            rc = _run(<float*>s, <float*>o, p, method)
        else:
            rc = _run(<double*>s, <double*>o, p, method)
    if rc < 0:
        raise MemoryError("downsample: out of memory")
    return rc


def reduce(src, out, offsets, factors, int method):
    """Reduces each block of `src` into `out` (see the module docstring); returns `out`."""
    cdef Plan p
    cdef int d, r
    cdef int64_t total
    if not isinstance(src, np.ndarray) or not isinstance(out, np.ndarray):
        raise TypeError("src and out must be numpy arrays")
    if src.dtype != out.dtype:
        raise TypeError("src and out must have the same dtype")
    if src.dtype.kind not in "buif" or src.dtype.itemsize not in (1, 2, 4, 8) or (src.dtype.kind == "f" and src.dtype.itemsize < 4):
        raise TypeError(f"unsupported dtype {src.dtype}")
    if not src.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("src must be C-contiguous and out writable")
    itemsize = out.dtype.itemsize
    if any(s % itemsize for s in out.strides):
        raise ValueError("out's strides must be whole elements")
    if method not in (1, 2, 3, 4, 5):
        raise ValueError(f"unknown method {method}")
    r = src.ndim
    if len(offsets) != r or len(factors) != r or out.ndim != r:
        raise ValueError("rank mismatch")
    if r + 2 > _MAXD:
        raise ValueError("rank too large")
    shift = 2 - r if r < 2 else 0
    p.rank = r + shift
    p.out_contiguous = out.flags.c_contiguous
    for d in range(shift):
        p.src_shape[d] = 1
        p.out_shape[d] = 1
        p.out_stride[d] = 0
        p.off[d] = 0
        p.fac[d] = 1
    for d in range(r):
        f = int(factors[d])
        o = int(offsets[d])
        n = int(src.shape[d])
        if f < 1 or o < 0 or o >= f:
            raise ValueError("invalid factor or offset")
        if out.shape[d] != ((o + n + f - 1) // f if n else 0):
            raise ValueError(f"out has the wrong shape along dimension {d}")
        p.src_shape[d + shift] = n
        p.out_shape[d + shift] = out.shape[d]
        p.out_stride[d + shift] = out.strides[d] // itemsize
        p.off[d + shift] = o
        p.fac[d + shift] = f
    total = 1
    for d in range(1, p.rank):
        total *= p.out_shape[d]
    p.plane = total
    total = 1
    for d in range(1, p.rank):
        total *= p.src_shape[d]
    p.src_plane = total
    if src.size == 0:
        return out
    if _dispatch(src, out, &p, method) == 1:
        # Only the fused paths (tsx_rows2) write a strided `out`: the others reduce into a
        # C-contiguous array, copied into `out`.
        dense = np.empty(out.shape, dtype=out.dtype)
        reduce(src, dense, offsets, factors, method)
        out[...] = dense
    return out
