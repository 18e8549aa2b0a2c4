# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, annotation_typing=False
"""Neuroglancer's compressed_segmentation encoding of uint32/uint64 label volumes.

Layout (all words little-endian uint32; offsets are in words):

* one word per channel: where the channel's data starts, from the start of the buffer;
* per channel, relative to the channel's start: a 2-word header per block of the block grid
  (blocks in C order over (z, y, x)): word 0 = lookup-table offset (24 bits) | encoded bits
  << 24, word 1 = offset of the packed indices; then, block after block, the block's packed
  indices (``ceil(bits * block volume / 32)`` words, the whole block even at the volume's
  edge, where the padding indices are 0) followed by its lookup table (the block's distinct
  values in increasing order, 1 or 2 words each, low word first), unless an identical table
  was already written earlier in the channel, whose offset is then reused.

The encoded bits are 0 for a block with one value, else the smallest of 1, 2, 4, 8, 16, 32
with ``2**bits >= table length``.  This is the order and deduplication TensorStore's encoder
uses, so the bytes are identical.  The decoder checks every offset, length and index against
the buffer and raises ``ValueError`` (a ``DATA_LOSS`` status) on corrupt data.
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memcpy, memset, memcmp
from cpython.bytes cimport PyBytes_FromStringAndSize
cimport numpy as cnp
import numpy as np

from tensorstore_py.errors import data_loss

cnp.import_array()

__all__ = ["encode", "decode"]

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    static inline uint32_t tsx_le32(uint32_t v) { return __builtin_bswap32(v); }
    #else
    static inline uint32_t tsx_le32(uint32_t v) { return v; }
    #endif
    """
    uint32_t tsx_le32(uint32_t v) nogil

ctypedef fused label_t:
    uint32_t
    uint64_t

cdef enum:
    _MAX_OFFSET = 1 << 24

# Error codes of the nogil encoder/decoder, turned into exceptions with the GIL.
cdef enum:
    E_OK = 0
    E_NOMEM
    E_TOO_LARGE
    E_LENGTH
    E_CHANNEL_HEADER
    E_CHANNEL_OFFSET
    E_BLOCK_HEADERS
    E_BITS
    E_OFFSETS
    E_VALUES
    E_EMPTY_TABLE
    E_INDEX


cdef struct Err:
    int code
    Py_ssize_t channel
    Py_ssize_t block[3]
    uint64_t a
    uint64_t b


cdef struct Buf:
    uint32_t* w
    size_t size
    size_t cap


cdef uint32_t* _extend(Buf* o, size_t n) noexcept nogil:
    """Appends n zeroed words; returns a pointer to them or NULL when out of memory."""
    cdef size_t need = o.size + n, cap
    cdef uint32_t* p
    if need > o.cap:
        cap = o.cap * 2 if o.cap else 1024
        while cap < need:
            cap *= 2
        p = <uint32_t*>realloc(o.w, cap * sizeof(uint32_t))
        if p == NULL:
            return NULL
        o.w = p
        o.cap = cap
    p = o.w + o.size
    memset(p, 0, n * sizeof(uint32_t))
    o.size = need
    return p


cdef int _cmp32(const void* a, const void* b) noexcept nogil:
    cdef uint32_t x = (<const uint32_t*>a)[0], y = (<const uint32_t*>b)[0]
    return (x > y) - (x < y)


cdef int _cmp64(const void* a, const void* b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t*>a)[0], y = (<const uint64_t*>b)[0]
    return (x > y) - (x < y)


cdef inline uint64_t _hash_words(const uint32_t* w, size_t n) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL
    cdef size_t i
    for i in range(n):
        h = (h ^ w[i]) * 1099511628211ULL
    return h | 1  # 0 marks an empty slot


cdef struct Cache:
    # Open addressing over (hash, table offset, table words); size is a power of two.
    uint64_t* hashes
    uint32_t* offsets
    uint32_t* lengths
    size_t mask


cdef int _cache_init(Cache* c, size_t nblocks) noexcept nogil:
    cdef size_t size = 16
    while size < 2 * nblocks:
        size *= 2
    c.mask = size - 1
    c.hashes = <uint64_t*>malloc(size * sizeof(uint64_t))
    c.offsets = <uint32_t*>malloc(size * sizeof(uint32_t))
    c.lengths = <uint32_t*>malloc(size * sizeof(uint32_t))
    if c.hashes == NULL or c.offsets == NULL or c.lengths == NULL:
        return -1
    memset(c.hashes, 0, size * sizeof(uint64_t))
    return 0


cdef void _cache_free(Cache* c) noexcept nogil:
    free(c.hashes)
    free(c.offsets)
    free(c.lengths)


cdef struct Scratch:
    # Per-block working space, allocated once per encode: the block's values in C order,
    # its distinct values, and an open-addressing map value -> table index + 1 (0 = free).
    void* vals
    void* table
    void* keys
    uint32_t* slot_index
    size_t* used_slots
    size_t mask


cdef inline size_t _slot_of(uint64_t v, size_t mask) noexcept nogil:
    cdef uint64_t x = v * 0x9E3779B97F4A7C15ULL
    return <size_t>(x ^ (x >> 32)) & mask


cdef int _encode_block(label_t* tag, const char* src, const Py_ssize_t* ext,
                       const Py_ssize_t* strides, const Py_ssize_t* bshape, size_t bvol,
                       Scratch* sc, Buf* out, size_t base, Cache* cache,
                       size_t header_word, Err* err) noexcept nogil:
    """Encodes one block (``ext`` = its extent inside the volume, z/y/x) and writes its
    header at ``out.w[header_word]``."""
    cdef label_t* vals = <label_t*>sc.vals
    cdef label_t* table = <label_t*>sc.table
    cdef label_t* keys = <label_t*>sc.keys
    cdef uint32_t* slot_index = sc.slot_index
    cdef size_t mask = sc.mask
    cdef Py_ssize_t z, y, x, k = 0, m = 0
    cdef label_t v, prev
    cdef size_t i, bits, enc_words, enc_off, tab_off, wpl = sizeof(label_t) // 4
    cdef uint32_t idx = 0
    cdef uint32_t* p
    cdef size_t pos, slot
    cdef uint64_t h
    cdef bint found
    cdef const char* pz
    cdef const char* py
    # Pass 1: gather the block and collect its distinct values (runs of one value skip the
    # map).
    memcpy(&prev, src, sizeof(label_t))
    prev = prev + 1
    for z in range(ext[0]):
        pz = src + z * strides[0]
        for y in range(ext[1]):
            py = pz + y * strides[1]
            for x in range(ext[2]):
                memcpy(&v, py + x * strides[2], sizeof(label_t))
                vals[k] = v
                k += 1
                if v == prev:
                    continue
                prev = v
                slot = _slot_of(v, mask)
                while slot_index[slot] != 0 and keys[slot] != v:
                    slot = (slot + 1) & mask
                if slot_index[slot] == 0:
                    keys[slot] = v
                    slot_index[slot] = 1
                    sc.used_slots[m] = slot
                    table[m] = v
                    m += 1
    if m > 1:
        qsort(table, m, sizeof(label_t), _cmp32 if label_t is uint32_t else _cmp64)
    for i in range(<size_t>m):
        slot = _slot_of(table[i], mask)
        while keys[slot] != table[i]:
            slot = (slot + 1) & mask
        slot_index[slot] = <uint32_t>(i + 1)
    bits = 0
    if m > 1:
        bits = 1
        while (<size_t>1 << bits) < <size_t>m:
            bits *= 2
    enc_words = (bits * bvol + 31) // 32
    enc_off = out.size - base
    if _extend(out, enc_words) == NULL:
        err.code = E_NOMEM
        return -1
    if bits:
        # Pass 2: pack each voxel's table index at its position in the full block.
        p = out.w + base + enc_off
        k = 0
        prev = vals[0] + 1
        for z in range(ext[0]):
            for y in range(ext[1]):
                pos = <size_t>(bshape[2] * (y + bshape[1] * z))
                for x in range(ext[2]):
                    v = vals[k]
                    k += 1
                    if v != prev:
                        slot = _slot_of(v, mask)
                        while keys[slot] != v:
                            slot = (slot + 1) & mask
                        idx = slot_index[slot] - 1
                        prev = v
                    p[(pos * bits) >> 5] |= idx << ((pos * bits) & 31)
                    pos += 1
    for i in range(<size_t>m):
        slot_index[sc.used_slots[i]] = 0
    # The table goes right after the indices; dropped again if the channel already has it.
    tab_off = out.size - base
    p = _extend(out, m * wpl)
    if p == NULL:
        err.code = E_NOMEM
        return -1
    for i in range(<size_t>m):
        if label_t is uint32_t:
            p[i] = table[i]
        else:
            p[2 * i] = <uint32_t>table[i]
            p[2 * i + 1] = <uint32_t>(table[i] >> 32)
    h = _hash_words(p, m * wpl)
    slot = h & cache.mask
    found = False
    while cache.hashes[slot] != 0:
        if (cache.hashes[slot] == h and cache.lengths[slot] == m * wpl
                and memcmp(out.w + base + cache.offsets[slot], p,
                           m * wpl * sizeof(uint32_t)) == 0):
            out.size -= m * wpl
            tab_off = cache.offsets[slot]
            found = True
            break
        slot = (slot + 1) & cache.mask
    if not found:
        cache.hashes[slot] = h
        cache.offsets[slot] = <uint32_t>tab_off
        cache.lengths[slot] = <uint32_t>(m * wpl)
    if tab_off >= _MAX_OFFSET or enc_off >= _MAX_OFFSET:
        # The header keeps 24 bits for either offset; readers would misplace the block.
        err.code = E_TOO_LARGE
        return -1
    out.w[header_word] = <uint32_t>(tab_off | (bits << 24))
    out.w[header_word + 1] = <uint32_t>enc_off
    return 0


cdef int _scratch_init(Scratch* sc, size_t bvol, size_t label_size) noexcept nogil:
    cdef size_t size = 16
    while size < 2 * bvol:
        size *= 2
    sc.mask = size - 1
    sc.vals = malloc(bvol * label_size)
    sc.table = malloc(bvol * label_size)
    sc.keys = malloc(size * label_size)
    sc.slot_index = <uint32_t*>malloc(size * sizeof(uint32_t))
    sc.used_slots = <size_t*>malloc(bvol * sizeof(size_t))
    if (sc.vals == NULL or sc.table == NULL or sc.keys == NULL or sc.slot_index == NULL
            or sc.used_slots == NULL):
        return -1
    memset(sc.slot_index, 0, size * sizeof(uint32_t))
    return 0


cdef void _scratch_free(Scratch* sc) noexcept nogil:
    free(sc.vals)
    free(sc.table)
    free(sc.keys)
    free(sc.slot_index)
    free(sc.used_slots)


cdef int _encode(label_t* tag, const char* src, const Py_ssize_t* shape,
                 const Py_ssize_t* strides, const Py_ssize_t* bshape, Buf* out,
                 Err* err) noexcept nogil:
    """Encodes all channels; ``shape``/``strides`` are (c, z, y, x), ``bshape`` (z, y, x)."""
    cdef Py_ssize_t grid[3]
    cdef Py_ssize_t ext[3]
    cdef Py_ssize_t c, gz, gy, gx, i
    cdef size_t nblocks = 1, bvol = 1, base, bi
    cdef const char* bsrc
    cdef Cache cache
    cdef Scratch sc
    cdef int rc = 0
    for i in range(3):
        grid[i] = (shape[i + 1] + bshape[i] - 1) // bshape[i]
        nblocks *= grid[i]
        bvol *= bshape[i]
    if _extend(out, shape[0]) == NULL:
        err.code = E_NOMEM
        return -1
    if shape[0] == 0 or nblocks == 0:
        # Only channel offsets (each channel's empty header table starts at the end).
        for c in range(shape[0]):
            out.w[c] = <uint32_t>shape[0]
        return 0
    if _scratch_init(&sc, bvol, sizeof(label_t)) < 0:
        _scratch_free(&sc)
        err.code = E_NOMEM
        return -1
    for c in range(shape[0]):
        base = out.size
        out.w[c] = <uint32_t>base
        if _cache_init(&cache, nblocks) < 0 or _extend(out, 2 * nblocks) == NULL:
            _cache_free(&cache)
            rc = -1
            err.code = E_NOMEM
            break
        bi = 0
        for gz in range(grid[0]):
            ext[0] = min(bshape[0], shape[1] - gz * bshape[0])
            for gy in range(grid[1]):
                ext[1] = min(bshape[1], shape[2] - gy * bshape[1])
                for gx in range(grid[2]):
                    ext[2] = min(bshape[2], shape[3] - gx * bshape[2])
                    bsrc = (src + c * strides[0] + gz * bshape[0] * strides[1]
                            + gy * bshape[1] * strides[2] + gx * bshape[2] * strides[3])
                    rc = _encode_block(tag, bsrc, ext, strides + 1, bshape, bvol, &sc,
                                       out, base, &cache, base + 2 * bi, err)
                    if rc < 0:
                        err.channel = c
                        err.block[0] = gz
                        err.block[1] = gy
                        err.block[2] = gx
                        break
                    bi += 1
                if rc < 0:
                    break
            if rc < 0:
                break
        _cache_free(&cache)
        if rc < 0:
            break
    _scratch_free(&sc)
    return rc


# ---------------------------------------------------------------------------------------------
# Decoding.

cdef inline uint32_t _load32(const unsigned char* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return tsx_le32(v)


cdef inline label_t _load_label(label_t* tag, const unsigned char* p) noexcept nogil:
    if label_t is uint32_t:
        return _load32(p)
    else:
        return <uint64_t>_load32(p) | (<uint64_t>_load32(p + 4) << 32)


cdef int _decode_channel(label_t* tag, const unsigned char* data, size_t nbytes,
                         const Py_ssize_t* bshape, size_t bvol, const Py_ssize_t* shape,
                         const Py_ssize_t* strides, char* dst, Err* err) noexcept nogil:
    """Decodes one channel from ``data`` (the buffer from the channel's start) into ``dst``
    (``shape``/``strides`` z, y, x)."""
    cdef size_t nwords = nbytes // 4, nblocks = 2, bits, enc_off, tab_off, table_size
    cdef size_t enc_words, pos, bi = 0
    cdef Py_ssize_t grid[3]
    cdef Py_ssize_t ext[3]
    cdef Py_ssize_t i, gz, gy, gx, z, y, x
    cdef uint64_t hdr
    cdef uint32_t mask, idx
    cdef label_t label
    cdef const unsigned char* enc
    cdef const unsigned char* tab
    cdef char* bdst
    cdef char* row
    for i in range(3):
        grid[i] = (shape[i] + bshape[i] - 1) // bshape[i]
        nblocks *= <size_t>grid[i]
    if nwords < nblocks:
        err.code = E_BLOCK_HEADERS
        err.a = nblocks // 2
        err.b = nwords
        return -1
    for gz in range(grid[0]):
        ext[0] = min(bshape[0], shape[0] - gz * bshape[0])
        for gy in range(grid[1]):
            ext[1] = min(bshape[1], shape[1] - gy * bshape[1])
            for gx in range(grid[2]):
                ext[2] = min(bshape[2], shape[2] - gx * bshape[2])
                err.block[0] = gz
                err.block[1] = gy
                err.block[2] = gx
                hdr = <uint64_t>_load32(data + 8 * bi) | (<uint64_t>_load32(data + 8 * bi + 4) << 32)
                bi += 1
                tab_off = hdr & 0xffffff
                bits = (hdr >> 24) & 0xff
                # Readers keep 24 bits of the indices offset too.
                enc_off = (hdr >> 32) & 0xffffff
                if bits > 32 or (bits & (bits - 1)) != 0:
                    err.code = E_BITS
                    err.a = bits
                    return -1
                if enc_off > nwords or tab_off > nwords:
                    err.code = E_OFFSETS
                    err.a = enc_off if enc_off > nwords else tab_off
                    err.b = nwords
                    return -1
                enc_words = (bits * bvol + 31) // 32
                if enc_words > nwords - enc_off:
                    err.code = E_VALUES
                    err.a = enc_words
                    err.b = nwords - enc_off
                    return -1
                table_size = (nbytes - tab_off * 4) // sizeof(label_t)
                enc = data + enc_off * 4
                tab = data + tab_off * 4
                bdst = (dst + gz * bshape[0] * strides[0] + gy * bshape[1] * strides[1]
                        + gx * bshape[2] * strides[2])
                if bits == 0:
                    if table_size == 0:
                        err.code = E_EMPTY_TABLE
                        return -1
                    label = _load_label(tag, tab)
                    for z in range(ext[0]):
                        for y in range(ext[1]):
                            row = bdst + z * strides[0] + y * strides[1]
                            for x in range(ext[2]):
                                memcpy(row + x * strides[2], &label, sizeof(label_t))
                    continue
                mask = <uint32_t>((<uint64_t>1 << bits) - 1)
                for z in range(ext[0]):
                    for y in range(ext[1]):
                        row = bdst + z * strides[0] + y * strides[1]
                        pos = <size_t>(bshape[2] * (y + bshape[1] * z))
                        for x in range(ext[2]):
                            idx = (_load32(enc + ((pos * bits) >> 5) * 4)
                                   >> ((pos * bits) & 31)) & mask
                            if idx >= table_size:
                                err.code = E_INDEX
                                err.a = idx
                                err.b = table_size
                                return -1
                            label = _load_label(tag, tab + idx * sizeof(label_t))
                            memcpy(row + x * strides[2], &label, sizeof(label_t))
                            pos += 1
    return 0


cdef int _decode(label_t* tag, const unsigned char* data, size_t nbytes,
                 const Py_ssize_t* bshape, const Py_ssize_t* shape,
                 const Py_ssize_t* strides, char* dst, Err* err) noexcept nogil:
    cdef size_t nwords = nbytes // 4, off, bvol = 1
    cdef Py_ssize_t c, i
    for i in range(3):
        bvol *= <size_t>bshape[i]
    if nbytes % 4 != 0:
        err.code = E_LENGTH
        err.a = nbytes
        return -1
    if nwords < <size_t>shape[0]:
        err.code = E_CHANNEL_HEADER
        err.a = shape[0]
        err.b = nwords
        return -1
    for c in range(shape[0]):
        err.channel = c
        off = _load32(data + 4 * c)
        if off > nwords:
            err.code = E_CHANNEL_OFFSET
            err.a = off
            err.b = nwords
            return -1
        if _decode_channel(tag, data + 4 * off, nbytes - 4 * off, bshape, bvol, shape + 1,
                           strides + 1, dst + c * strides[0], err) < 0:
            return -1
    return 0


# ---------------------------------------------------------------------------------------------
# Python entry points.

cdef tuple _ints(object v, Py_ssize_t n, str name, Py_ssize_t low):
    try:
        vals = tuple(v)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of {n} integers, not {type(v).__name__}")
    if len(vals) != n:
        raise ValueError(f"{name} must have {n} elements, got {len(vals)}")
    for i, x in enumerate(vals):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"{name}[{i}] must be an integer, not {type(x).__name__}")
        if x < low:
            raise ValueError(f"{name}[{i}] must be >= {low}, got {x}")
    return tuple(int(x) for x in vals)


cdef tuple _block_zyx(object block_size):
    bx, by, bz = _ints(block_size, 3, "block_size", 1)
    # Bounded so index arithmetic (32 * volume) and the scratch space stay reasonable.
    if bx * by * bz > (1 << 30):
        raise ValueError(f"block_size {(bx, by, bz)} has a volume above 2**30")
    return (bz, by, bx)


cdef object _num_blocks(tuple shape_zyx, tuple bshape_zyx):
    n = 1
    for extent, b in zip(shape_zyx, bshape_zyx):
        n *= -(-extent // b)
    return n


cdef object _label_dtype(object dtype, str name):
    dt = np.dtype(dtype)
    if dt.kind != "u" or dt.itemsize not in (4, 8):
        raise ValueError(f"{name} must be uint32 or uint64, got {dt}")
    return dt.newbyteorder("=")


cdef object _error(Err* e, object nbytes):
    where = f"channel {e.channel}"
    blk = f"{where}, block (z, y, x) = ({e.block[0]}, {e.block[1]}, {e.block[2]})"
    if e.code == E_NOMEM:
        return MemoryError("compressed_segmentation: out of memory")
    if e.code == E_TOO_LARGE:
        return ValueError(f"compressed_segmentation: {blk}: encoded channel exceeds the "
                          f"format's 2**24-word offset limit; use a smaller chunk")
    if e.code == E_LENGTH:
        msg = f"data length {e.a} is not a multiple of 4"
    elif e.code == E_CHANNEL_HEADER:
        msg = f"data has {e.b} words, too few for {e.a} channel offsets"
    elif e.code == E_CHANNEL_OFFSET:
        msg = f"{where}: offset {e.a} is past the end of the data ({e.b} words)"
    elif e.code == E_BLOCK_HEADERS:
        msg = f"{where}: {e.b} words left, too few for {e.a} block headers"
    elif e.code == E_BITS:
        msg = f"{blk}: encoded bits {e.a} is not one of 0, 1, 2, 4, 8, 16, 32"
    elif e.code == E_OFFSETS:
        msg = f"{blk}: offset {e.a} is past the end of the channel ({e.b} words)"
    elif e.code == E_VALUES:
        msg = f"{blk}: {e.a} words of encoded values, but only {e.b} words left"
    elif e.code == E_EMPTY_TABLE:
        msg = f"{blk}: lookup table is empty"
    else:
        msg = f"{blk}: index {e.a} is past the end of the lookup table ({e.b} entries)"
    return data_loss(f"Corrupt compressed_segmentation data: {msg}")


def encode(volume: np.ndarray, block_size) -> bytes:
    """Encodes a ``(c, z, y, x)`` uint32 or uint64 array (any strides) with blocks of
    ``block_size = (bx, by, bz)`` voxels; returns the bytes TensorStore would write."""
    if not isinstance(volume, np.ndarray):
        raise TypeError(f"volume must be a numpy.ndarray, not {type(volume).__name__}")
    if volume.ndim != 4:
        raise ValueError(f"volume must have rank 4 (c, z, y, x), got shape {volume.shape}")
    dt = _label_dtype(volume.dtype, "volume dtype")
    if volume.dtype != dt:
        volume = volume.astype(dt)
    bshape_t = _block_zyx(block_size)
    for i, n in enumerate(volume.shape):
        if n >= (1 << 32):
            raise ValueError(f"volume dimension {i} has extent {n}, above 2**32")
    if volume.shape[0] and 2 * _num_blocks(volume.shape[1:], bshape_t) >= _MAX_OFFSET:
        raise ValueError(f"compressed_segmentation: a {volume.shape[1:]} volume has too many "
                         f"{bshape_t} blocks for the format's 2**24-word offsets")
    cdef Py_ssize_t bshape[3]
    cdef Py_ssize_t shape[4]
    cdef Py_ssize_t strides[4]
    cdef Py_ssize_t i2
    for i2 in range(3):
        bshape[i2] = bshape_t[i2]
    for i2 in range(4):
        shape[i2] = volume.shape[i2]
        strides[i2] = volume.strides[i2]
    cdef cnp.ndarray arr = volume
    cdef const char* src = <const char*>cnp.PyArray_DATA(arr)
    cdef Buf out
    cdef Err err
    cdef int rc
    cdef bint wide = dt.itemsize == 8
    out.w = <uint32_t*>malloc(1024 * sizeof(uint32_t))
    out.size = 0
    out.cap = 1024
    if out.w == NULL:
        raise MemoryError()
    err.code = E_OK
    with nogil:
        if wide:
            rc = _encode(<uint64_t*>NULL, src, shape, strides, bshape, &out, &err)
        else:
            rc = _encode(<uint32_t*>NULL, src, shape, strides, bshape, &out, &err)
        if rc == 0:
            for i2 in range(<Py_ssize_t>out.size):
                out.w[i2] = tsx_le32(out.w[i2])
    try:
        if rc < 0:
            raise _error(&err, None)
        return PyBytes_FromStringAndSize(<const char*>out.w, out.size * 4)
    finally:
        free(out.w)


def decode(data, shape, block_size, dtype, out: np.ndarray | None = None) -> np.ndarray:
    """Decodes compressed_segmentation ``data`` (bytes-like) holding a ``shape = (c, z, y,
    x)`` volume of ``dtype`` (uint32 or uint64) with blocks of ``block_size = (bx, by, bz)``.

    Returns a new C-order array, or fills and returns ``out`` (any strides) when given.
    Raises ``ValueError`` (``DATA_LOSS``) naming the channel and block when the data is
    corrupt; never reads outside ``data``."""
    dt = _label_dtype(dtype, "dtype")
    shape_t = _ints(shape, 4, "shape", 0)
    bshape_t = _block_zyx(block_size)
    for i, n in enumerate(shape_t):
        if n >= (1 << 32):
            raise ValueError(f"shape[{i}] = {n} is above 2**32")
    if _num_blocks(shape_t[1:], bshape_t) > (1 << 40):
        # More block headers than any buffer could hold; also keeps the size arithmetic safe.
        raise data_loss(f"Corrupt compressed_segmentation data: {len(memoryview(data))} bytes "
                        f"cannot hold the block headers of a {shape_t} volume")
    if out is None:
        out = np.empty(shape_t, dt)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
        if out.shape != shape_t:
            raise ValueError(f"out has shape {out.shape}, expected {shape_t}")
        if out.dtype != dt:
            raise ValueError(f"out has dtype {out.dtype}, expected {dt}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
    cdef const unsigned char[::1] buf = memoryview(data).cast("B")
    cdef unsigned char empty = 0
    cdef const unsigned char* p = &empty
    if buf.shape[0]:
        p = &buf[0]
    cdef size_t nbytes = buf.shape[0]
    cdef Py_ssize_t bshape[3]
    cdef Py_ssize_t shp[4]
    cdef Py_ssize_t strides[4]
    cdef Py_ssize_t i2
    for i2 in range(3):
        bshape[i2] = bshape_t[i2]
    for i2 in range(4):
        shp[i2] = shape_t[i2]
        strides[i2] = out.strides[i2]
    cdef cnp.ndarray arr = out
    cdef char* dst = <char*>cnp.PyArray_DATA(arr)
    cdef Err err
    cdef int rc
    cdef bint wide = dt.itemsize == 8
    err.code = E_OK
    err.channel = 0
    err.block[0] = err.block[1] = err.block[2] = 0
    with nogil:
        if wide:
            rc = _decode(<uint64_t*>NULL, p, nbytes, bshape, shp, strides, dst, &err)
        else:
            rc = _decode(<uint32_t*>NULL, p, nbytes, bshape, shp, strides, dst, &err)
    if rc < 0:
        raise _error(&err, nbytes)
    return out
