# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, annotation_typing=False
"""Bulk copies between numpy arrays, run with the GIL released.

* ``strided_copy(dst, src)``: element-wise copy between arrays of equal shape and itemsize with
  arbitrary strides (negative, and zero for ``src``).
* ``strided_fill(dst, value)``: set every element of ``dst`` to a 0-d array's value.
* ``strided_copy_byteswap(dst, src)``: the same copy with each element's bytes reversed
  (per half for complex types), for decoding big-endian chunks in one pass.
* ``gather(dst, src, src_offsets)`` / ``scatter(dst, dst_offsets, src)``: index-array copies
  over the flat element view of a C-contiguous array, every offset bounds-checked.

Arguments are validated while holding the GIL; the loops that touch bytes run without it, so
the chunked engine can call these from many pool threads at once.

How a strided copy is planned: dimensions of extent 1 are dropped; a dimension the destination
walks backwards is flipped (both base pointers move to its last element) so the destination
always moves forwards; dimensions are ordered by decreasing destination stride, so the
innermost loop writes the destination with its smallest stride; neighbouring dimensions that
are contiguous in both arrays are merged.  An innermost run contiguous in both arrays becomes
one ``memcpy``.  When the source's fastest dimension is another one and the innermost source
stride spans at least a cache line (a transpose), the two dimensions are copied in square
tiles so that both arrays are read and written a cache line at a time.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
cimport numpy as cnp
import numpy as np

cnp.import_array()

__all__ = ["strided_copy", "strided_fill", "strided_copy_byteswap", "gather", "scatter",
           "MAX_RANK"]

cdef extern from "tsx_copy_kernels.h":
    uint16_t tsx_bswap16(uint16_t v) nogil
    uint32_t tsx_bswap32(uint32_t v) nogil
    uint64_t tsx_bswap64(uint64_t v) nogil
    void tsx_swap16_contig(char* d, const char* s, Py_ssize_t n, int rev) nogil
    void tsx_fill16(char* d, const char* s, Py_ssize_t n) nogil
    void tsx_fill32(char* d, const char* s, Py_ssize_t n) nogil
    void tsx_fill64(char* d, const char* s, Py_ssize_t n) nogil
    void tsx_fill128(char* d, const char* s, Py_ssize_t n) nogil
    void tsx_swap32_contig(char* d, const char* s, Py_ssize_t n, int rev) nogil
    void tsx_swap64_contig(char* d, const char* s, Py_ssize_t n, int rev) nogil
    ctypedef struct tsx_u128:
        uint64_t lo
        uint64_t hi

MAX_RANK = 32

cdef enum:
    # Room for MAX_RANK dimensions plus the extra one a byte-swapping copy of complex
    # elements adds (each element seen as two halves).
    _MAXD = 34
    # Edge of a square tile in elements: 16 x 16 elements of up to 16 bytes stay inside L1
    # (measured: 16 beat 8, 32 and 64 on 4096^2 transposes of 1- to 8-byte elements).
    _TILE = 16
    # A source stride at least this long (bytes) means each read touches a new cache line.
    _CACHE_LINE = 64

ctypedef fused elem_t:
    uint8_t
    uint16_t
    uint32_t
    uint64_t
    tsx_u128


cdef struct Plan:
    int nd
    Py_ssize_t shape[_MAXD]
    Py_ssize_t ds[_MAXD]
    Py_ssize_t ss[_MAXD]


# ---------------------------------------------------------------------------------------------
# Element kernels.  Loads and stores go through fixed-size memcpy: numpy arrays need not be
# aligned, and the compiler turns a constant-size memcpy into a single move.

cdef inline elem_t _swapped(elem_t v) noexcept nogil:
    cdef tsx_u128 r
    if elem_t is uint16_t:
        return tsx_bswap16(v)
    elif elem_t is uint32_t:
        return tsx_bswap32(v)
    elif elem_t is uint64_t:
        return tsx_bswap64(v)
    elif elem_t is tsx_u128:
        r.lo = tsx_bswap64(v.hi)
        r.hi = tsx_bswap64(v.lo)
        return r
    else:
        return v


cdef void _run(elem_t* tag, char* d, const char* s, Py_ssize_t n, Py_ssize_t ds,
               Py_ssize_t ss, bint swap) noexcept nogil:
    """One innermost run of ``n`` elements.  The common stride combinations get loops with
    compile-time strides, which the compiler vectorises (byte swaps become shuffles)."""
    cdef elem_t v
    cdef Py_ssize_t i
    cdef Py_ssize_t E = sizeof(elem_t)
    if ss == 0:
        # A fill (or a broadcast source): load once, store n times.
        memcpy(&v, s, sizeof(elem_t))
        if swap:
            v = _swapped(v)
        if ds == E:
            for i in range(n):
                memcpy(d + i * E, &v, sizeof(elem_t))
        else:
            # Unrolled: a strided store loop is bound by the loop overhead, not by memory.
            i = 0
            while i + 4 <= n:
                memcpy(d, &v, sizeof(elem_t))
                memcpy(d + ds, &v, sizeof(elem_t))
                memcpy(d + 2 * ds, &v, sizeof(elem_t))
                memcpy(d + 3 * ds, &v, sizeof(elem_t))
                d += 4 * ds
                i += 4
            while i < n:
                memcpy(d, &v, sizeof(elem_t))
                d += ds
                i += 1
    elif swap:
        if (ds == E and (ss == E or ss == -E)
                and (elem_t is uint16_t or elem_t is uint32_t or elem_t is uint64_t)):
            if elem_t is uint16_t:
                tsx_swap16_contig(d, s, n, ss < 0)
            elif elem_t is uint32_t:
                tsx_swap32_contig(d, s, n, ss < 0)
            else:
                tsx_swap64_contig(d, s, n, ss < 0)
        elif ds == E and ss == E:
            for i in range(n):
                memcpy(&v, s + i * E, sizeof(elem_t))
                v = _swapped(v)
                memcpy(d + i * E, &v, sizeof(elem_t))
        elif ds == E and ss == -E:
            for i in range(n):
                memcpy(&v, s - i * E, sizeof(elem_t))
                v = _swapped(v)
                memcpy(d + i * E, &v, sizeof(elem_t))
        else:
            for i in range(n):
                memcpy(&v, s + i * ss, sizeof(elem_t))
                v = _swapped(v)
                memcpy(d + i * ds, &v, sizeof(elem_t))
    elif ds == E:
        if ss == -E:
            for i in range(n):
                memcpy(d + i * E, s - i * E, sizeof(elem_t))
        elif ss == E:
            memcpy(d, s, n * E)
        else:
            for i in range(n):
                memcpy(d + i * E, s + i * ss, sizeof(elem_t))
    elif ss == E:
        for i in range(n):
            memcpy(d + i * ds, s + i * E, sizeof(elem_t))
    else:
        for i in range(n):
            memcpy(d + i * ds, s + i * ss, sizeof(elem_t))


cdef void _tile(elem_t* tag, char* d, const char* s,
                Py_ssize_t na, Py_ssize_t da, Py_ssize_t sa,
                Py_ssize_t nb, Py_ssize_t db, Py_ssize_t sb, bint swap) noexcept nogil:
    """Copies an ``na x nb`` plane in square tiles; ``b`` is the destination's fast dimension
    and ``a`` the source's."""
    cdef Py_ssize_t a0, b0, a, a1, b1
    cdef Py_ssize_t t = _TILE
    a0 = 0
    while a0 < na:
        a1 = min(a0 + t, na)
        b0 = 0
        while b0 < nb:
            b1 = min(b0 + t, nb)
            for a in range(a0, a1):
                _run(tag, d + a * da + b0 * db, s + a * sa + b0 * sb, b1 - b0, db, sb, swap)
            b0 = b1
        a0 = a1


cdef void _run_generic(char* d, const char* s, Py_ssize_t n, Py_ssize_t ds, Py_ssize_t ss,
                       Py_ssize_t isz) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        memcpy(d, s, isz)
        d += ds
        s += ss


cdef void _run_any(char* d, const char* s, Py_ssize_t n, Py_ssize_t ds, Py_ssize_t ss,
                   Py_ssize_t isz, bint swap) noexcept nogil:
    """Dispatches an innermost run on the element size."""
    if not swap and ds == isz and ss == isz:
        memcpy(d, s, n * isz)
        return
    if ss == 0 and ds == isz and n > 16 and isz > 1:
        # A contiguous fill: vector stores of the (swapped) value.
        _run_any(d, s, 1, ds, ss, isz, swap)
        if isz == 2:
            tsx_fill16(d + 2, d, n - 1)
        elif isz == 4:
            tsx_fill32(d + 4, d, n - 1)
        elif isz == 8:
            tsx_fill64(d + 8, d, n - 1)
        elif isz == 16:
            tsx_fill128(d + 16, d, n - 1)
        else:
            _run_generic(d + isz, d, n - 1, isz, 0, isz)
        return
    if isz == 1:
        if ss == 0 and ds == 1:
            memset(d, (<const unsigned char*>s)[0], n)
        else:
            _run(<uint8_t*>NULL, d, s, n, ds, ss, False)
    elif isz == 2:
        _run(<uint16_t*>NULL, d, s, n, ds, ss, swap)
    elif isz == 4:
        _run(<uint32_t*>NULL, d, s, n, ds, ss, swap)
    elif isz == 8:
        _run(<uint64_t*>NULL, d, s, n, ds, ss, swap)
    elif isz == 16:
        _run(<tsx_u128*>NULL, d, s, n, ds, ss, swap)
    else:
        # Byte-swapping copies are always split into units of 1, 2, 4, 8 or 16 bytes first.
        _run_generic(d, s, n, ds, ss, isz)


cdef void _tile_any(char* d, const char* s, Py_ssize_t na, Py_ssize_t da, Py_ssize_t sa,
                    Py_ssize_t nb, Py_ssize_t db, Py_ssize_t sb, Py_ssize_t isz,
                    bint swap) noexcept nogil:
    cdef Py_ssize_t a
    if isz == 1:
        _tile(<uint8_t*>NULL, d, s, na, da, sa, nb, db, sb, False)
    elif isz == 2:
        _tile(<uint16_t*>NULL, d, s, na, da, sa, nb, db, sb, swap)
    elif isz == 4:
        _tile(<uint32_t*>NULL, d, s, na, da, sa, nb, db, sb, swap)
    elif isz == 8:
        _tile(<uint64_t*>NULL, d, s, na, da, sa, nb, db, sb, swap)
    elif isz == 16:
        _tile(<tsx_u128*>NULL, d, s, na, da, sa, nb, db, sb, swap)
    else:
        for a in range(na):
            _run_generic(d + a * da, s + a * sa, nb, db, sb, isz)


# ---------------------------------------------------------------------------------------------
# Planning and execution.

cdef bint _plan(Plan* p, int nd, const Py_ssize_t* shape, const Py_ssize_t* dstr,
                const Py_ssize_t* sstr, Py_ssize_t isz, char** dp, const char** sp) noexcept nogil:
    """Normalises the iteration (see the module docstring).  Returns False when there is
    nothing to copy (some extent is 0)."""
    cdef int i, j, k
    cdef Py_ssize_t n, t
    k = 0
    for i in range(nd):
        n = shape[i]
        if n == 0:
            return False
        if n == 1:
            continue
        p.shape[k] = n
        p.ds[k] = dstr[i]
        p.ss[k] = sstr[i]
        if p.ds[k] < 0:
            dp[0] += (n - 1) * p.ds[k]
            sp[0] += (n - 1) * p.ss[k]
            p.ds[k] = -p.ds[k]
            p.ss[k] = -p.ss[k]
        k += 1
    if k == 0:
        # A single element: a run of one.
        p.nd = 1
        p.shape[0] = 1
        p.ds[0] = isz
        p.ss[0] = isz
        return True
    # Insertion sort by decreasing destination stride, then decreasing |source stride|.
    for i in range(1, k):
        j = i
        while j > 0 and _outer_first(p, j, j - 1):
            _swap_dims(p, j, j - 1)
            j -= 1
    # Merge dimension i into i+1 when i+1 steps exactly over it in both arrays.
    j = 0
    for i in range(1, k):
        if (p.ds[j] == p.ds[i] * p.shape[i] and p.ss[j] == p.ss[i] * p.shape[i]):
            p.shape[j] *= p.shape[i]
            p.ds[j] = p.ds[i]
            p.ss[j] = p.ss[i]
        else:
            j += 1
            p.shape[j] = p.shape[i]
            p.ds[j] = p.ds[i]
            p.ss[j] = p.ss[i]
    p.nd = j + 1
    return True


cdef inline Py_ssize_t _abs(Py_ssize_t x) noexcept nogil:
    return -x if x < 0 else x


cdef inline bint _outer_first(Plan* p, int a, int b) noexcept nogil:
    """Whether dimension a should be iterated outside dimension b."""
    if p.ds[a] != p.ds[b]:
        return p.ds[a] > p.ds[b]
    return _abs(p.ss[a]) > _abs(p.ss[b])


cdef inline void _swap_dims(Plan* p, int a, int b) noexcept nogil:
    cdef Py_ssize_t t
    t = p.shape[a]; p.shape[a] = p.shape[b]; p.shape[b] = t
    t = p.ds[a]; p.ds[a] = p.ds[b]; p.ds[b] = t
    t = p.ss[a]; p.ss[a] = p.ss[b]; p.ss[b] = t


cdef void _execute(Plan* p, char* d, const char* s, Py_ssize_t isz, bint swap) noexcept nogil:
    cdef int last = p.nd - 1
    cdef int j, k, nouter
    cdef bint tiled = False
    cdef Py_ssize_t idx[_MAXD]
    cdef Py_ssize_t best
    # A transpose: the source's smallest stride is on an outer dimension and the innermost
    # source stride jumps a cache line or more per element.
    if last >= 1 and _abs(p.ss[last]) >= _CACHE_LINE and p.shape[last] >= 4:
        j = -1
        best = _abs(p.ss[last])
        for k in range(last):
            if _abs(p.ss[k]) < best and p.shape[k] >= 4:
                best = _abs(p.ss[k])
                j = k
        if j >= 0:
            if j != last - 1:
                _swap_dims(p, j, last - 1)
            tiled = True
    nouter = p.nd - (2 if tiled else 1)
    for k in range(nouter):
        idx[k] = 0
    while True:
        if tiled:
            _tile_any(d, s, p.shape[last - 1], p.ds[last - 1], p.ss[last - 1],
                      p.shape[last], p.ds[last], p.ss[last], isz, swap)
        else:
            _run_any(d, s, p.shape[last], p.ds[last], p.ss[last], isz, swap)
        k = nouter - 1
        while k >= 0:
            idx[k] += 1
            d += p.ds[k]
            s += p.ss[k]
            if idx[k] < p.shape[k]:
                break
            d -= p.ds[k] * p.shape[k]
            s -= p.ss[k] * p.shape[k]
            idx[k] = 0
            k -= 1
        if k < 0:
            return


cdef void _copy_layout(int nd, const Py_ssize_t* shape, const Py_ssize_t* dstr,
                       const Py_ssize_t* sstr, char* d, const char* s, Py_ssize_t isz,
                       Py_ssize_t unit) noexcept nogil:
    """Copies with ``unit`` = 0 for a plain copy, else byte-reversal of each ``unit`` bytes."""
    cdef Plan plan
    cdef Py_ssize_t shp[_MAXD]
    cdef Py_ssize_t dst_s[_MAXD]
    cdef Py_ssize_t src_s[_MAXD]
    cdef int i
    cdef bint swap = unit > 1
    if swap and unit != isz:
        # Each element is isz/unit consecutive units: one more, innermost, dimension.
        for i in range(nd):
            shp[i] = shape[i]
            dst_s[i] = dstr[i]
            src_s[i] = sstr[i]
        shp[nd] = isz // unit
        dst_s[nd] = unit
        src_s[nd] = unit
        nd += 1
        shape = shp
        dstr = dst_s
        sstr = src_s
        isz = unit
    if not _plan(&plan, nd, shape, dstr, sstr, isz, &d, &s):
        return
    _execute(&plan, d, s, isz, swap)


# ---------------------------------------------------------------------------------------------
# Python entry points: validation with the GIL held, then the loops without it.  Validation
# works on plain Python objects (the typed ndarray's shape/strides are C pointers).

cdef extern from "numpy/arrayobject.h":
    int NPY_ITEM_REFCOUNT
    uint64_t _descr_flags "PyDataType_FLAGS"(cnp.PyArray_Descr* d)


cdef object _check_array(object a, str what):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} must be a numpy.ndarray, not {type(a).__name__}")
    if a.dtype.hasobject:
        raise ValueError(f"{what} has dtype {a.dtype}, which holds Python objects; "
                         f"only fixed-size plain-data dtypes can be copied")
    return a


cdef object _check_dst(object a, str what):
    _check_array(a, what)
    if not a.flags.writeable:
        raise ValueError(f"{what} is read-only")
    return a


cdef int _check_same(object dst, object src, str src_name) except -1:
    if dst.ndim > MAX_RANK:
        raise ValueError(f"rank {dst.ndim} exceeds the maximum rank {MAX_RANK}")
    if dst.shape != src.shape:
        raise ValueError(f"shape mismatch: dst has shape {dst.shape}, "
                         f"{src_name} has shape {src.shape}")
    if dst.itemsize != src.itemsize:
        raise ValueError(f"itemsize mismatch: dst has {dst.dtype} ({dst.itemsize} bytes), "
                         f"{src_name} has {src.dtype} ({src.itemsize} bytes)")
    return 0


cdef inline bint _plain(cnp.ndarray a) noexcept:
    return (_descr_flags(cnp.PyArray_DESCR(a)) & NPY_ITEM_REFCOUNT) == 0


cdef int _validate_pair(object dst, object src) except -1:
    """Argument checks for dst/src copies: a C-level fast path for the common valid case,
    and the descriptive Python checks when anything is off."""
    cdef cnp.ndarray d, s
    cdef int i, nd
    if isinstance(dst, cnp.ndarray) and isinstance(src, cnp.ndarray):
        d = <cnp.ndarray>dst
        s = <cnp.ndarray>src
        nd = cnp.PyArray_NDIM(d)
        if (nd <= MAX_RANK and nd == cnp.PyArray_NDIM(s) and cnp.PyArray_ISWRITEABLE(d)
                and cnp.PyArray_ITEMSIZE(d) == cnp.PyArray_ITEMSIZE(s)
                and _plain(d) and _plain(s)):
            for i in range(nd):
                if cnp.PyArray_DIMS(d)[i] != cnp.PyArray_DIMS(s)[i]:
                    break
            else:
                return 0
    _check_dst(dst, "dst")
    _check_array(src, "src")
    _check_same(dst, src, "src")
    return 0


cdef void _extent(cnp.ndarray a, Py_ssize_t* lo, Py_ssize_t* hi) noexcept:
    """The byte range [lo, hi) an array's elements occupy (empty when it has no elements)."""
    cdef int i
    cdef Py_ssize_t base = <Py_ssize_t>cnp.PyArray_DATA(a), n, st
    lo[0] = base
    hi[0] = base + cnp.PyArray_ITEMSIZE(a)
    for i in range(cnp.PyArray_NDIM(a)):
        n = cnp.PyArray_DIMS(a)[i]
        if n == 0:
            hi[0] = lo[0]
            return
        st = cnp.PyArray_STRIDES(a)[i]
        if st < 0:
            lo[0] += (n - 1) * st
        else:
            hi[0] += (n - 1) * st


cdef object _unaliased(cnp.ndarray dst, cnp.ndarray src):
    """``src``, or a private copy of it when it overlaps ``dst`` in a way an element-by-element
    pass could corrupt.  Identical layouts are safe: each element is read before it is
    written."""
    cdef Py_ssize_t dlo, dhi, slo, shi
    cdef int i
    _extent(dst, &dlo, &dhi)
    _extent(src, &slo, &shi)
    if dlo >= shi or slo >= dhi or dlo == dhi or slo == shi:
        return src
    if cnp.PyArray_DATA(dst) == cnp.PyArray_DATA(src):
        for i in range(cnp.PyArray_NDIM(dst)):
            if cnp.PyArray_STRIDES(dst)[i] != cnp.PyArray_STRIDES(src)[i]:
                break
        else:
            return src
    return src.copy()


cdef int _run_copy(cnp.ndarray dst, cnp.ndarray src, Py_ssize_t unit) except -1:
    cdef int nd = cnp.PyArray_NDIM(dst)
    cdef const Py_ssize_t* shape = <const Py_ssize_t*>cnp.PyArray_DIMS(dst)
    cdef const Py_ssize_t* dstr = <const Py_ssize_t*>cnp.PyArray_STRIDES(dst)
    cdef const Py_ssize_t* sstr = <const Py_ssize_t*>cnp.PyArray_STRIDES(src)
    cdef char* d = <char*>cnp.PyArray_DATA(dst)
    cdef const char* s = <const char*>cnp.PyArray_DATA(src)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(dst)
    cdef Py_ssize_t i, total = 1
    if isz == 0:
        return 0
    for i in range(nd):
        total *= shape[i]
    if total * isz < 4096:
        # Releasing and re-taking the GIL costs more than a small copy.
        _copy_layout(nd, shape, dstr, sstr, d, s, isz, unit)
    else:
        with nogil:
            _copy_layout(nd, shape, dstr, sstr, d, s, isz, unit)
    return 0


def copy_layout_address() -> int:
    """The address of the GIL-free copy kernel (``_copy_layout``), for a kernel of another
    module that copies inside its own GIL-free step (`chunkio`)."""
    return <size_t>&_copy_layout


def strided_copy(dst: np.ndarray, src: np.ndarray) -> None:
    """Copies ``src`` into ``dst`` element by element, as raw bytes.

    Both arrays must have the same shape and itemsize (the dtypes may differ, e.g. a signed
    and an unsigned view); strides are arbitrary.  Overlapping arrays are handled by copying
    through a temporary.  Raises ``ValueError`` for mismatched or read-only arguments and
    ``TypeError`` for arguments that are not arrays."""
    _validate_pair(dst, src)
    _run_copy(dst, _unaliased(dst, src), 0)


def strided_fill(dst: np.ndarray, value: np.ndarray) -> None:
    """Sets every element of ``dst`` to ``value``, a 0-d array with ``dst``'s itemsize."""
    _check_dst(dst, "dst")
    _check_array(value, "value")
    if value.ndim != 0:
        raise ValueError(f"value must be a 0-d array, but has shape {value.shape}")
    if dst.ndim > MAX_RANK:
        raise ValueError(f"rank {dst.ndim} exceeds the maximum rank {MAX_RANK}")
    if dst.itemsize != value.itemsize:
        raise ValueError(f"itemsize mismatch: dst has {dst.dtype} ({dst.itemsize} bytes), "
                         f"value has {value.dtype} ({value.itemsize} bytes)")
    # The value's bytes are copied first: it may live inside dst.
    cdef bytes vb = value.tobytes()
    cdef const char* vp = vb
    cdef cnp.ndarray d = dst
    cdef int nd = cnp.PyArray_NDIM(d)
    cdef Py_ssize_t zeros[_MAXD]
    cdef const Py_ssize_t* shape = <const Py_ssize_t*>cnp.PyArray_DIMS(d)
    cdef const Py_ssize_t* dstr = <const Py_ssize_t*>cnp.PyArray_STRIDES(d)
    cdef char* dp = <char*>cnp.PyArray_DATA(d)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(d)
    memset(zeros, 0, sizeof(zeros))
    if isz == 0:
        return
    with nogil:
        _copy_layout(nd, shape, dstr, zeros, dp, vp, isz, 0)


cdef Py_ssize_t _swap_unit(object dst, object src, object unit) except -1:
    cdef Py_ssize_t isz = dst.itemsize
    cdef Py_ssize_t u
    cdef str kind
    if unit is not None:
        u = unit
        if u not in (1, 2, 4, 8, 16) or u > isz or isz % u != 0:
            raise ValueError(f"unit must be 1, 2, 4, 8 or 16 and divide the itemsize {isz}, "
                             f"got {unit}")
        return u
    kind = dst.dtype.kind if dst.dtype.kind != "V" else src.dtype.kind
    if kind == "c":
        return isz // 2
    if kind == "U":
        return 4
    if kind in "Sb" or isz == 1:
        return 1
    if isz in (2, 4, 8, 16):
        return isz
    raise ValueError(f"cannot byte-swap elements of dtype {dst.dtype} ({isz} bytes) "
                     f"without an explicit unit")


def strided_copy_byteswap(dst: np.ndarray, src: np.ndarray, unit: int | None = None) -> None:
    """Copies ``src`` into ``dst`` reversing the byte order of each element.

    The swapped unit is the whole element for 2/4/8/16-byte scalars, each half for complex
    types, each 4-byte code point for ``U`` strings; 1-byte elements and ``S`` strings are
    copied unchanged.  ``unit`` overrides that choice.  Same argument rules as
    `strided_copy`."""
    _validate_pair(dst, src)
    cdef Py_ssize_t u = _swap_unit(dst, src, unit)
    _run_copy(dst, _unaliased(dst, src), u if u > 1 else 0)


# ---------------------------------------------------------------------------------------------
# Gather / scatter.

cdef object _offsets(object offsets, str what):
    a = np.asarray(offsets)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise ValueError(f"{what} must hold integers, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{what} must be 1-d, got shape {a.shape}")
    if a.dtype.kind == "u" and a.itemsize == 8 and a.size and a.max() > np.iinfo(np.int64).max:
        raise IndexError(f"{what} holds an offset above the int64 range")
    return np.ascontiguousarray(a, dtype=np.int64)


cdef Py_ssize_t _first_bad(const int64_t* off, Py_ssize_t n, int64_t limit) noexcept nogil:
    """Index of the first offset outside [0, limit), or -1 (one vectorisable pass)."""
    cdef Py_ssize_t i
    cdef uint64_t worst = 0
    cdef uint64_t lim = <uint64_t>limit
    for i in range(n):
        # Negative offsets are huge as unsigned values: one comparison covers both ends.
        worst |= <uint64_t>(<uint64_t>off[i] >= lim)
    if worst == 0:
        return -1
    for i in range(n):
        if <uint64_t>off[i] >= lim:
            return i
    return -1


cdef void _gather(char* d, const char* s, const int64_t* off, Py_ssize_t n,
                  Py_ssize_t isz) noexcept nogil:
    cdef Py_ssize_t i
    if isz == 1:
        for i in range(n):
            d[i] = s[off[i]]
    elif isz == 2:
        for i in range(n):
            memcpy(d + 2 * i, s + 2 * off[i], 2)
    elif isz == 4:
        for i in range(n):
            memcpy(d + 4 * i, s + 4 * off[i], 4)
    elif isz == 8:
        for i in range(n):
            memcpy(d + 8 * i, s + 8 * off[i], 8)
    elif isz == 16:
        for i in range(n):
            memcpy(d + 16 * i, s + 16 * off[i], 16)
    else:
        for i in range(n):
            memcpy(d + isz * i, s + isz * off[i], isz)


cdef void _scatter(char* d, const char* s, const int64_t* off, Py_ssize_t n,
                   Py_ssize_t isz) noexcept nogil:
    cdef Py_ssize_t i
    if isz == 1:
        for i in range(n):
            d[off[i]] = s[i]
    elif isz == 2:
        for i in range(n):
            memcpy(d + 2 * off[i], s + 2 * i, 2)
    elif isz == 4:
        for i in range(n):
            memcpy(d + 4 * off[i], s + 4 * i, 4)
    elif isz == 8:
        for i in range(n):
            memcpy(d + 8 * off[i], s + 8 * i, 8)
    elif isz == 16:
        for i in range(n):
            memcpy(d + 16 * off[i], s + 16 * i, 16)
    else:
        for i in range(n):
            memcpy(d + isz * off[i], s + isz * i, isz)


cdef int _check_offsets(cnp.ndarray off, Py_ssize_t size, str what, str target) except -1:
    cdef Py_ssize_t bad
    cdef const int64_t* p = <const int64_t*>cnp.PyArray_DATA(off)
    cdef Py_ssize_t n = cnp.PyArray_DIMS(off)[0]
    with nogil:
        bad = _first_bad(p, n, size)
    if bad >= 0:
        raise IndexError(f"{what}[{bad}] = {p[bad]} is out of bounds for {target} with "
                         f"{size} elements")
    return 0


cdef int _run_indexed(cnp.ndarray dst, cnp.ndarray src, cnp.ndarray off,
                      bint is_gather) except -1:
    cdef char* dp = <char*>cnp.PyArray_DATA(dst)
    cdef const char* sp = <const char*>cnp.PyArray_DATA(src)
    cdef const int64_t* op = <const int64_t*>cnp.PyArray_DATA(off)
    cdef Py_ssize_t n = cnp.PyArray_DIMS(off)[0]
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(dst)
    if isz == 0:
        return 0
    with nogil:
        if is_gather:
            _gather(dp, sp, op, n, isz)
        else:
            _scatter(dp, sp, op, n, isz)
    return 0


def gather(dst: np.ndarray, src: np.ndarray, src_offsets: np.ndarray) -> None:
    """``dst[i] = src.flat[src_offsets[i]]`` for every i.

    ``dst`` is 1-d, C-contiguous and writable with ``len(src_offsets)`` elements; ``src`` is
    C-contiguous of any rank with the same itemsize.  Every offset is checked against
    ``src.size`` before anything is written (``IndexError`` naming the first bad one)."""
    _check_dst(dst, "dst")
    _check_array(src, "src")
    off = _offsets(src_offsets, "src_offsets")
    if dst.ndim != 1 or not dst.flags.c_contiguous:
        raise ValueError(f"dst must be a 1-d contiguous array, got shape {dst.shape} "
                         f"with strides {dst.strides}")
    if not src.flags.c_contiguous:
        raise ValueError("src must be C-contiguous")
    if dst.itemsize != src.itemsize:
        raise ValueError(f"itemsize mismatch: dst has {dst.dtype}, src has {src.dtype}")
    if dst.shape[0] != off.shape[0]:
        raise ValueError(f"dst has {dst.shape[0]} elements but src_offsets has "
                         f"{off.shape[0]}")
    _check_offsets(off, src.size, "src_offsets", "src")
    src = _unaliased(dst, src)
    _run_indexed(dst, src, off, True)


def scatter(dst: np.ndarray, dst_offsets: np.ndarray, src: np.ndarray) -> None:
    """``dst.flat[dst_offsets[i]] = src[i]`` for every i (the last write wins on repeats).

    ``dst`` is C-contiguous and writable, of any rank; ``src`` is 1-d, C-contiguous, with
    ``len(dst_offsets)`` elements of the same itemsize.  Every offset is checked against
    ``dst.size`` before anything is written."""
    _check_dst(dst, "dst")
    _check_array(src, "src")
    off = _offsets(dst_offsets, "dst_offsets")
    if not dst.flags.c_contiguous:
        raise ValueError("dst must be C-contiguous")
    if src.ndim != 1 or not src.flags.c_contiguous:
        raise ValueError(f"src must be a 1-d contiguous array, got shape {src.shape} "
                         f"with strides {src.strides}")
    if dst.itemsize != src.itemsize:
        raise ValueError(f"itemsize mismatch: dst has {dst.dtype}, src has {src.dtype}")
    if src.shape[0] != off.shape[0]:
        raise ValueError(f"src has {src.shape[0]} elements but dst_offsets has "
                         f"{off.shape[0]}")
    _check_offsets(off, dst.size, "dst_offsets", "dst")
    src = _unaliased(dst, src)
    _run_indexed(dst, src, off, False)
