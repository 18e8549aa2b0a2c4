# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, annotation_typing=False
"""Chunk-grid partitioning for the chunked engine, run with the GIL released.

* ``partition_dim``: a strided range of indices split into maximal runs that each lie in one
  cell of a regular grid; O(number of runs).
* ``partition_box``: the Cartesian product of ``partition_dim`` over the dimensions of a box.
* ``group_points``: points (chunk coordinates of index-array positions) grouped by chunk with a
  stable LSD radix sort, O(n * passes) where a pass sorts 11 bits of one coordinate's range.

Indices follow TensorStore's finite range: every index, origin and difference stays within
``[-(2**62 - 1), 2**62 - 1]``, which keeps all intermediate arithmetic inside int64.
"""

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
cimport numpy as cnp
import numpy as np

cnp.import_array()

__all__ = ["partition_dim", "partition_box", "group_points", "group_cells", "MAX_INDEX"]

# TensorStore's largest finite index magnitude (kMaxFiniteIndex + 1 = kInfIndex).
MAX_INDEX = (1 << 62) - 1

cdef enum:
    _RADIX_BITS = 11
    _RADIX = 1 << 11


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept nogil:
    """Floor of a / b for b > 0."""
    cdef int64_t q = a // b
    if (a % b) != 0 and a < 0:
        q -= 1
    return q


cdef Py_ssize_t _partition(int64_t start, int64_t step, int64_t count, int64_t cs,
                           int64_t origin, int64_t* k_out, int64_t* begin_out,
                           int64_t* count_out, int64_t* off_out) noexcept nogil:
    """Writes the runs of one dimension; returns how many."""
    cdef int64_t p = 0, i, rel, k, off, n, left
    cdef Py_ssize_t r = 0
    cdef int64_t astep = step if step > 0 else -step
    while p < count:
        i = start + p * step
        rel = i - origin
        k = _floordiv(rel, cs)
        off = rel - k * cs
        # Positions left in this cell in the direction of travel, counting i itself.
        left = (cs - 1 - off) if step > 0 else off
        n = left // astep + 1
        if n > count - p:
            n = count - p
        k_out[r] = k
        begin_out[r] = p
        count_out[r] = n
        off_out[r] = off
        r += 1
        p += n
    return r


# Runs of one dimension listed at most (4 int64 arrays of this length are 32 GiB).
MAX_RUNS = 1 << 30


cdef tuple _check_dim(object start, object step, object count, object chunk_size,
                      object grid_origin, str where):
    """Validates one dimension with Python integers; returns the run-count bound."""
    names = ("start", "step", "count", "chunk_size", "grid_origin")
    for name, v in zip(names, (start, step, count, chunk_size, grid_origin)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{where}{name} must be an integer, not {type(v).__name__}")
    start, step, count = int(start), int(step), int(count)
    chunk_size, grid_origin = int(chunk_size), int(grid_origin)
    if step == 0:
        raise ValueError(f"{where}step must be nonzero")
    if count < 0:
        raise ValueError(f"{where}count must be non-negative, got {count}")
    if not 0 < chunk_size <= MAX_INDEX:
        raise ValueError(f"{where}chunk_size must be in [1, {MAX_INDEX}], got {chunk_size}")
    if abs(grid_origin) > MAX_INDEX:
        raise ValueError(f"{where}grid_origin {grid_origin} is outside "
                         f"[-{MAX_INDEX}, {MAX_INDEX}]")
    if count == 0:
        return (start, 1, 0, chunk_size, grid_origin, 0)
    if count == 1:
        step = 1
    last = start + (count - 1) * step
    for name, v in (("start", start), ("last index", last)):
        if abs(v) > MAX_INDEX:
            raise ValueError(f"{where}{name} {v} is outside [-{MAX_INDEX}, {MAX_INDEX}]")
    first_cell = (start - grid_origin) // chunk_size
    last_cell = (last - grid_origin) // chunk_size
    bound = min(count, abs(last_cell - first_cell) + 1)
    if bound > MAX_RUNS:
        # Four int64 arrays of `bound` runs are allocated up front: refuse sizes no machine has.
        raise ValueError(f"{where}{bound} grid cells is too many to list (at most {MAX_RUNS})")
    return (start, step, count, chunk_size, grid_origin, bound)


cdef tuple _partition_checked(tuple args):
    cdef int64_t start = args[0], step = args[1], count = args[2]
    cdef int64_t cs = args[3], origin = args[4]
    cdef Py_ssize_t bound = args[5], r
    k = np.empty(bound, np.int64)
    b = np.empty(bound, np.int64)
    n = np.empty(bound, np.int64)
    o = np.empty(bound, np.int64)
    cdef int64_t* kp = <int64_t*>cnp.PyArray_DATA(k)
    cdef int64_t* bp = <int64_t*>cnp.PyArray_DATA(b)
    cdef int64_t* np_ = <int64_t*>cnp.PyArray_DATA(n)
    cdef int64_t* op = <int64_t*>cnp.PyArray_DATA(o)
    with nogil:
        r = _partition(start, step, count, cs, origin, kp, bp, np_, op)
    if r != bound:
        # The bound counts cells between the first and last index; a step longer than a
        # cell skips some, leaving fewer runs.
        k, b, n, o = k[:r].copy(), b[:r].copy(), n[:r].copy(), o[:r].copy()
    return k, b, n, o


def partition_dim(start: int, step: int, count: int, chunk_size: int,
                  grid_origin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits the indices ``start + p * step`` (``p = 0 .. count-1``) by grid cell.

    The grid's cells are ``[grid_origin + k*chunk_size, grid_origin + (k+1)*chunk_size)``.
    Returns four int64 arrays with one entry per maximal run of consecutive positions ``p``
    lying in one cell, in order of ``p``: the cell index ``k``, the run's first position, its
    length, and the offset of its first index within the cell (``step`` may be negative, in
    which case the run moves downwards from that offset)."""
    return _partition_checked(_check_dim(start, step, count, chunk_size, grid_origin, ""))


cdef list _as_int_list(object v, str name):
    try:
        out = list(v)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integers, not {type(v).__name__}")
    return out


cdef void _product(Py_ssize_t rank, Py_ssize_t total, int64_t** src, const Py_ssize_t* runs,
                   int64_t* k_out, int64_t* b_out, int64_t* n_out,
                   int64_t* o_out) noexcept nogil:
    """Writes the C-order Cartesian product of the per-dimension run lists.  ``src`` holds,
    for each dimension d, four consecutive pointers (k, begin, count, offset)."""
    cdef Py_ssize_t idx[64]
    cdef Py_ssize_t row, d, j
    for d in range(rank):
        idx[d] = 0
    for row in range(total):
        for d in range(rank):
            j = idx[d]
            k_out[row * rank + d] = src[4 * d][j]
            b_out[row * rank + d] = src[4 * d + 1][j]
            n_out[row * rank + d] = src[4 * d + 2][j]
            o_out[row * rank + d] = src[4 * d + 3][j]
        d = rank - 1
        while d >= 0:
            idx[d] += 1
            if idx[d] < runs[d]:
                break
            idx[d] = 0
            d -= 1


def partition_box(starts, steps, counts, chunk_shape, grid_origin
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`partition_dim` over every dimension of a strided box, combined.

    Returns four int64 arrays of shape ``(n_chunks, rank)``: cell indices, first positions,
    run lengths and in-cell offsets, one row per (cell, sub-box) pair, rows in C order of the
    cell indices (a dimension with a negative step has its runs reversed so its cell indices
    still increase)."""
    s = _as_int_list(starts, "starts")
    st = _as_int_list(steps, "steps")
    c = _as_int_list(counts, "counts")
    cs = _as_int_list(chunk_shape, "chunk_shape")
    go = _as_int_list(grid_origin, "grid_origin")
    cdef Py_ssize_t rank = len(s)
    for name, v in (("steps", st), ("counts", c), ("chunk_shape", cs), ("grid_origin", go)):
        if len(v) != rank:
            raise ValueError(f"{name} has length {len(v)} but starts has length {rank}")
    if rank > 64:
        raise ValueError(f"rank {rank} exceeds the maximum rank 64")
    per_dim = []
    for d in range(rank):
        args = _check_dim(s[d], st[d], c[d], cs[d], go[d], f"dimension {d}: ")
        arrays = _partition_checked(args)
        if args[1] < 0:
            arrays = tuple(np.ascontiguousarray(a[::-1]) for a in arrays)
        per_dim.append(arrays)
    total = 1
    for arrays in per_dim:
        total *= len(arrays[0])
    if total * max(rank, 1) * 32 > (1 << 46):
        raise ValueError(f"partition_box: {total} chunk pieces is too many to list")
    outs = [np.empty((total, rank), np.int64) for _ in range(4)]
    if total == 0 or rank == 0:
        return tuple(outs)
    cdef int64_t** src = <int64_t**>malloc(4 * rank * sizeof(int64_t*))
    cdef Py_ssize_t* runs = <Py_ssize_t*>malloc(rank * sizeof(Py_ssize_t))
    if src == NULL or runs == NULL:
        free(src)
        free(runs)
        raise MemoryError()
    cdef Py_ssize_t d2, q, tot = total
    for d2 in range(rank):
        runs[d2] = len(per_dim[d2][0])
        for q in range(4):
            src[4 * d2 + q] = <int64_t*>cnp.PyArray_DATA(per_dim[d2][q])
    cdef int64_t* ko = <int64_t*>cnp.PyArray_DATA(outs[0])
    cdef int64_t* bo = <int64_t*>cnp.PyArray_DATA(outs[1])
    cdef int64_t* no = <int64_t*>cnp.PyArray_DATA(outs[2])
    cdef int64_t* oo = <int64_t*>cnp.PyArray_DATA(outs[3])
    with nogil:
        _product(rank, tot, src, runs, ko, bo, no, oo)
    free(src)
    free(runs)
    return tuple(outs)


# ---------------------------------------------------------------------------------------------
# Grouping points by chunk.

cdef int _radix_sort(const int64_t* coords, Py_ssize_t n, Py_ssize_t rank,
                     int64_t* a, int64_t* b) noexcept nogil:
    """Stable sort of point indices by the rows of ``coords`` (lexicographic): LSD radix over
    each coordinate's range above its minimum, last coordinate first, low digits first.
    Passes ping-pong between ``a`` and ``b``; returns 0 if the result is in ``a``, 1 if in
    ``b``, -1 when out of memory."""
    cdef Py_ssize_t d, i, total, c
    cdef int64_t lo, hi, v
    cdef uint64_t span, digit
    cdef int shift, in_b = 0
    cdef int64_t* src = a
    cdef int64_t* dst = b
    cdef int64_t* t
    cdef Py_ssize_t* counts
    if n <= 0:
        return 0  # (callers never pass an empty set: coords[d] below reads row 0)
    counts = <Py_ssize_t*>malloc(_RADIX * sizeof(Py_ssize_t))
    if counts == NULL:
        return -1
    for i in range(n):
        a[i] = i
    d = rank - 1
    while d >= 0:
        lo = coords[d]
        hi = lo
        for i in range(n):
            v = coords[i * rank + d]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        span = <uint64_t>hi - <uint64_t>lo
        shift = 0
        while shift < 64 and (span >> shift) != 0:
            memset(counts, 0, _RADIX * sizeof(Py_ssize_t))
            for i in range(n):
                digit = ((<uint64_t>coords[src[i] * rank + d] - <uint64_t>lo) >> shift) & (_RADIX - 1)
                counts[digit] += 1
            total = 0
            for i in range(_RADIX):
                c = counts[i]
                counts[i] = total
                total += c
            for i in range(n):
                digit = ((<uint64_t>coords[src[i] * rank + d] - <uint64_t>lo) >> shift) & (_RADIX - 1)
                dst[counts[digit]] = src[i]
                counts[digit] += 1
            t = src
            src = dst
            dst = t
            in_b ^= 1
            shift += _RADIX_BITS
        d -= 1
    free(counts)
    return in_b


cdef Py_ssize_t _boundaries(const int64_t* coords, Py_ssize_t n, Py_ssize_t rank,
                            const int64_t* order, int64_t* starts) noexcept nogil:
    """Writes the start of each group of equal rows (plus n at the end); returns the count."""
    cdef Py_ssize_t i, d, m = 0
    cdef const int64_t* prev
    cdef const int64_t* cur
    for i in range(n):
        if i == 0:
            starts[m] = 0
            m += 1
            continue
        prev = coords + order[i - 1] * rank
        cur = coords + order[i] * rank
        for d in range(rank):
            if prev[d] != cur[d]:
                starts[m] = i
                m += 1
                break
    starts[m] = n
    return m


def group_points(chunk_coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups points by chunk.

    ``chunk_coords`` is an integer array of shape ``(n_points, rank)``.  Returns
    ``(unique_chunks, order, starts)``: the distinct rows in lexicographic (C) order, shape
    ``(m, rank)``; a permutation of the point indices such that the points of chunk ``g`` are
    ``order[starts[g]:starts[g+1]]`` in increasing index order (stable); and ``starts``
    (length ``m + 1``)."""
    a = np.asarray(chunk_coords)
    if a.ndim != 2:
        raise ValueError(f"chunk_coords must be 2-d (n_points, rank), got shape {a.shape}")
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise ValueError(f"chunk_coords must hold integers, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.itemsize == 8 and a.size and a.max() > np.iinfo(np.int64).max:
        raise ValueError("chunk_coords holds a value above the int64 range")
    a = np.ascontiguousarray(a, dtype=np.int64)
    cdef Py_ssize_t n = a.shape[0], rank = a.shape[1], m = 0
    if n == 0 or rank == 0:
        # Nothing to sort, and no row to read: the kernels below index row 0 unconditionally.
        if n == 0:
            return np.empty((0, rank), np.int64), np.empty(0, np.int64), np.zeros(1, np.int64)
        return np.empty((1, 0), np.int64), np.arange(n, dtype=np.int64), np.array([0, n], np.int64)
    cdef int where = 0
    order_a = np.empty(n, np.int64)
    order_b = np.empty(n, np.int64)
    starts = np.empty(n + 1, np.int64)
    cdef const int64_t* cp = <const int64_t*>cnp.PyArray_DATA(a)
    cdef int64_t* ap = <int64_t*>cnp.PyArray_DATA(order_a)
    cdef int64_t* bp = <int64_t*>cnp.PyArray_DATA(order_b)
    cdef int64_t* sp = <int64_t*>cnp.PyArray_DATA(starts)
    with nogil:
        where = _sort_into_groups(cp, n, rank, ap, bp, sp, &m)
    if where < 0:
        raise MemoryError()
    order = order_b if where else order_a
    starts = starts[:m + 1].copy()
    unique = a[order[starts[:m]]]
    return unique, order, starts


# ---------------------------------------------------------------------------------------------
# The chunks of a few points, in one pass.

cdef void _insertion_sort(const int64_t* coords, Py_ssize_t n, Py_ssize_t rank, int64_t* order) noexcept nogil:
    """Stable sort of point indices by the rows of ``coords``: a few points sort faster so
    than by the radix passes, each of which clears a 2048-entry count table."""
    cdef Py_ssize_t i, j, d
    cdef int64_t p
    cdef const int64_t* a
    cdef const int64_t* b
    cdef bint before
    for i in range(n):
        order[i] = i
    for i in range(1, n):
        p = order[i]
        j = i
        while j > 0:
            a = coords + order[j - 1] * rank
            b = coords + p * rank
            before = False
            for d in range(rank):
                if a[d] != b[d]:
                    before = b[d] < a[d]
                    break
            if not before:
                break
            order[j] = order[j - 1]
            j -= 1
        order[j] = p


cdef int _sort_into_groups(const int64_t* coords, Py_ssize_t n, Py_ssize_t rank, int64_t* a, int64_t* b,
                           int64_t* starts, Py_ssize_t* m) noexcept nogil:
    """Sorts point indices stably by the rows of ``coords`` (a few by insertion, more by radix
    passes) and writes the start of each group of equal rows to ``starts`` (``m[0]`` groups);
    returns 0 if the order is in ``a``, 1 if in ``b``, -1 when out of memory."""
    cdef int where = 0
    if n <= 32:
        _insertion_sort(coords, n, rank, a)
    else:
        where = _radix_sort(coords, n, rank, a, b)
    if where >= 0:
        m[0] = _boundaries(coords, n, rank, b if where else a, starts)
    return where


def group_cells(list coords, tuple chunk_shape, tuple array_shape) -> tuple:
    """Points grouped by the chunk holding them: `coords` holds, per dimension (at least one),
    a C-contiguous int64 array of the points' positions (all of one length n > 0).

    Returns ``(groups, None)``, ``groups`` a list (chunks in C order of their grid indices) of
    ``(cell, chunk_coords, positions)``: the chunk's grid indices, per dimension the in-chunk
    coordinates of its points, and their indices into `coords` (increasing).  When a position
    lies outside ``[0, array_shape[d])``, returns ``(None, (d, position))`` for the first such
    dimension d and the first such point of it."""
    cdef Py_ssize_t rank = len(coords), n, d, i, g, m, k, where = 0
    cdef int64_t v, size, bound
    cdef const int64_t* p
    if rank == 0 or len(chunk_shape) != rank or len(array_shape) != rank:
        raise ValueError("coords, chunk_shape and array_shape must have one entry per dimension, at least one")
    arrays = []
    for d in range(rank):
        a = coords[d]
        if not isinstance(a, np.ndarray) or a.dtype != np.int64 or a.ndim != 1 or not a.flags.c_contiguous:
            raise ValueError("each coordinate array must be a C-contiguous 1-d int64 array")
        arrays.append(a)
    n = arrays[0].shape[0]
    if n == 0 or any(a.shape[0] != n for a in arrays):
        raise ValueError("the coordinate arrays must be non-empty and of one length")
    for d in range(rank):
        p = <const int64_t*>cnp.PyArray_DATA(arrays[d])
        bound = array_shape[d]
        for i in range(n):
            if p[i] < 0 or p[i] >= bound:
                return None, (d, p[i])
    cells = np.empty((n, rank), np.int64)
    within = np.empty((rank, n), np.int64)
    order_a = np.empty(n, np.int64)
    order_b = np.empty(n, np.int64)
    starts = np.empty(n + 1, np.int64)
    cdef int64_t* cp = <int64_t*>cnp.PyArray_DATA(cells)
    cdef int64_t* wp = <int64_t*>cnp.PyArray_DATA(within)
    cdef int64_t* ap = <int64_t*>cnp.PyArray_DATA(order_a)
    cdef int64_t* bp = <int64_t*>cnp.PyArray_DATA(order_b)
    cdef int64_t* sp = <int64_t*>cnp.PyArray_DATA(starts)
    for d in range(rank):
        p = <const int64_t*>cnp.PyArray_DATA(arrays[d])
        size = chunk_shape[d]
        if size <= 0:
            raise ValueError("chunk sizes must be positive")
        for i in range(n):
            v = p[i]  # >= 0 (checked above): C division is floor division
            cp[i * rank + d] = v // size
            wp[d * n + i] = v - (v // size) * size
    with nogil:
        where = _sort_into_groups(cp, n, rank, ap, bp, sp, &m)
    if where < 0:
        raise MemoryError()
    order = order_b if where else order_a
    cdef int64_t* op = <int64_t*>cnp.PyArray_DATA(order)
    cdef int64_t* qp
    groups = []
    for g in range(m):
        k = sp[g + 1] - sp[g]
        first = op[sp[g]]
        cell = tuple([cp[first * rank + d] for d in range(rank)])
        in_chunk = []
        for d in range(rank):
            part = np.empty(k, np.int64)
            qp = <int64_t*>cnp.PyArray_DATA(part)
            for i in range(k):
                qp[i] = wp[d * n + op[sp[g] + i]]
            in_chunk.append(part)
        groups.append((cell, tuple(in_chunk), order[sp[g]:sp[g + 1]]))
    return groups, None
