# cython: language_level=3
"""zlib / gzip / DEFLATE streaming decoder calling zlib directly, with the GIL released.

Encoding is libdeflate's (tensorstore_py/codecs/deflate.py), and so is decoding when its one-shot
decoder can vouch for a stream; this kernel decodes the rest: streams of unknown size,
concatenated gzip members, and anything corrupt, truncated or followed by trailing bytes, which
it refuses with a precise `ZlibError`.

Every entry point takes contiguous byte buffers (anything exposing the buffer protocol as
unsigned bytes).  Decoding can write straight into a caller-supplied buffer and never writes past
its end.

Formats (the ``fmt`` argument): `FORMAT_ZLIB` (RFC 1950), `FORMAT_GZIP` (RFC 1952 header),
`FORMAT_RAW` (bare RFC 1951 DEFLATE, as zip members store it), and `FORMAT_AUTO`, which lets
zlib detect a zlib or gzip header.
"""

from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize

# Makes zlib declare next_in as pointer-to-const, matching our read-only input buffers.
cdef extern from *:
    """
    #define ZLIB_CONST
    """


cdef extern from "zlib.h" nogil:
    ctypedef unsigned char Bytef
    ctypedef unsigned int uInt
    ctypedef unsigned long uLong

    ctypedef struct z_stream:
        const Bytef* next_in
        uInt avail_in
        uLong total_in
        Bytef* next_out
        uInt avail_out
        uLong total_out
        const char* msg
        void* zalloc
        void* zfree
        void* opaque

    int Z_OK, Z_STREAM_END, Z_NEED_DICT, Z_ERRNO, Z_STREAM_ERROR, Z_DATA_ERROR
    int Z_MEM_ERROR, Z_BUF_ERROR, Z_VERSION_ERROR
    int Z_NO_FLUSH

    int inflateInit2(z_stream* strm, int windowBits)
    int inflate(z_stream* strm, int flush)
    int inflateEnd(z_stream* strm)
    int inflateReset(z_stream* strm)
    const char* zlibVersion()


FORMAT_ZLIB = 0
FORMAT_GZIP = 1
FORMAT_AUTO = 2
FORMAT_RAW = 3

# zlib counts bytes in 32-bit uInt; larger buffers are fed in slices of this size.
cdef size_t _SLICE = 1 << 30


def _set_slice_size(size_t n) -> int:
    """Test hook: sets the slice size (so the multi-slice paths run on small data); returns the
    previous one."""
    global _SLICE
    old = _SLICE
    _SLICE = n if n > 0 else 1
    return old

# Outcomes of the inflate loop (negative values are failures).
cdef enum:
    ST_DONE = 0
    ST_OUTPUT_FULL = 1
    ST_DATA_ERROR = -1
    ST_TRUNCATED = -2
    ST_TRAILING = -3
    ST_NEED_DICT = -4
    ST_MEM_ERROR = -5


class ZlibError(ValueError):
    """Raised for corrupt, truncated or wrongly sized zlib/gzip data."""


def zlib_version() -> str:
    """The version string of the zlib library this kernel is linked against."""
    return zlibVersion().decode()


cdef int _window_bits(int fmt) except -1:
    if fmt == 0:
        return 15
    if fmt == 1:
        return 16 + 15
    if fmt == 2:
        return 32 + 15
    if fmt == 3:
        return -15
    raise ValueError(f"unsupported zlib format: {fmt}")


cdef inline void _feed(z_stream* s, const unsigned char** src, size_t* remaining) noexcept nogil:
    # Hand zlib the next slice of input once it has consumed the previous one.
    cdef size_t n
    if s.avail_in == 0 and remaining[0] > 0:
        n = remaining[0] if remaining[0] < _SLICE else _SLICE
        s.next_in = src[0]
        s.avail_in = <uInt>n
        src[0] += n
        remaining[0] -= n


cdef inline void _set_output(z_stream* s, unsigned char* dst, size_t cap) noexcept nogil:
    s.next_out = dst
    s.avail_out = <uInt>(cap if cap < _SLICE else _SLICE)


cdef int _inflate_loop(z_stream* s, const unsigned char** src, size_t* remaining,
                       unsigned char* dst, size_t cap, size_t* produced,
                       bint multi_member) noexcept nogil:
    """Inflates into dst[produced:cap] until the stream ends, output is full, or an error."""
    cdef int ret
    cdef size_t before
    cdef unsigned char second
    while True:
        if produced[0] >= cap:
            return ST_OUTPUT_FULL
        _feed(s, src, remaining)
        _set_output(s, dst + produced[0], cap - produced[0])
        before = s.avail_out
        ret = inflate(s, Z_NO_FLUSH)
        produced[0] += before - s.avail_out
        if ret == Z_STREAM_END:
            _feed(s, src, remaining)
            if s.avail_in == 0:
                return ST_DONE
            # Concatenated gzip members form one valid gzip file.  The next member's magic
            # bytes may straddle the current input slice and the rest of the input.
            if multi_member and s.avail_in + remaining[0] >= 2 and s.next_in[0] == 0x1f:
                second = s.next_in[1] if s.avail_in >= 2 else src[0][0]
                if second == 0x8b:
                    if inflateReset(s) != Z_OK:
                        return ST_DATA_ERROR
                    continue
            return ST_TRAILING
        if ret == Z_OK:
            continue
        if ret == Z_BUF_ERROR:
            # No progress was possible: either the output is full or the input ran out.
            if s.avail_out == 0:
                continue
            _feed(s, src, remaining)
            if s.avail_in == 0:
                return ST_TRUNCATED
            continue
        if ret == Z_NEED_DICT:
            return ST_NEED_DICT
        if ret == Z_MEM_ERROR:
            return ST_MEM_ERROR
        return ST_DATA_ERROR


cdef object _raise_status(int status, z_stream* s, size_t produced, size_t remaining_input):
    if status == ST_MEM_ERROR:
        raise MemoryError("zlib ran out of memory")
    if status == ST_TRUNCATED:
        raise ZlibError(f"Compressed stream is truncated after {produced} decoded bytes")
    if status == ST_TRAILING:
        raise ZlibError(f"End of data expected; remaining length: {s.avail_in + remaining_input}")
    if status == ST_NEED_DICT:
        raise ZlibError("inflate() failed: stream requires a preset dictionary")
    msg = s.msg.decode("utf-8", "replace") if s.msg != NULL else "invalid data"
    raise ZlibError(f"inflate() failed: {msg}")


cdef int _init_inflate(z_stream* s, int fmt) except -1:
    memset(s, 0, sizeof(z_stream))
    cdef int wbits = _window_bits(fmt)
    cdef int ret = inflateInit2(s, wbits)
    if ret == Z_MEM_ERROR:
        raise MemoryError("zlib ran out of memory")
    if ret != Z_OK:
        raise ZlibError(f"inflateInit2() failed with code {ret}")
    return 0


def decompress_into(const unsigned char[::1] data not None, unsigned char[::1] out not None,
                    int fmt=FORMAT_ZLIB, bint multi_member=False, bint exact=True) -> int:
    """Decodes the whole stream `data` into `out` and returns the number of bytes written.

    Raises `ZlibError` if the stream is corrupt or truncated, has trailing bytes, or decodes to
    more than ``len(out)`` bytes (or, when `exact`, to fewer).
    """
    cdef z_stream s
    cdef const unsigned char* src = &data[0] if data.shape[0] > 0 else NULL
    cdef size_t remaining = data.shape[0]
    cdef size_t cap = out.shape[0]
    cdef unsigned char* dst = &out[0] if cap > 0 else NULL
    cdef unsigned char spare[1]
    cdef size_t produced = 0, extra = 0
    cdef int status
    _init_inflate(&s, fmt)
    try:
        with nogil:
            status = _inflate_loop(&s, &src, &remaining, dst, cap, &produced, multi_member)
            if status == ST_OUTPUT_FULL:
                # The buffer is full; the stream may still end without another byte.
                status = _inflate_loop(&s, &src, &remaining, spare, 1, &extra, multi_member)
        if extra:
            raise ZlibError(f"Decoded data exceeds the expected {cap} bytes")
        if status != ST_DONE:
            _raise_status(status, &s, produced, remaining)
        if exact and produced != cap:
            raise ZlibError(f"Decoded {produced} bytes, but expected {cap}")
        return produced
    finally:
        inflateEnd(&s)


def decompress(const unsigned char[::1] data not None, int fmt=FORMAT_ZLIB,
               bint multi_member=False, Py_ssize_t size_hint=0,
               Py_ssize_t max_size=-1) -> bytes:
    """Decodes the whole stream `data` into new bytes, growing the output as needed.

    `size_hint` sizes the first allocation; a non-negative `max_size` bounds the decoded size
    (exceeding it raises `ZlibError`, which guards against decompression bombs).
    """
    cdef z_stream s
    cdef const unsigned char* src = &data[0] if data.shape[0] > 0 else NULL
    cdef size_t remaining = data.shape[0]
    cdef size_t limit = <size_t>max_size if max_size >= 0 else <size_t>-1
    cdef size_t cap = <size_t>size_hint if size_hint > 0 else 4 * remaining + 64
    cdef size_t produced = 0, new_cap
    cdef unsigned char* buf = NULL
    cdef unsigned char* grown
    cdef int status
    if cap > limit:
        cap = limit
    _init_inflate(&s, fmt)
    try:
        buf = <unsigned char*>malloc(cap if cap > 0 else 1)
        if buf == NULL:
            raise MemoryError()
        while True:
            with nogil:
                status = _inflate_loop(&s, &src, &remaining, buf, cap, &produced, multi_member)
            if status != ST_OUTPUT_FULL:
                break
            if cap >= limit:
                # One more byte would exceed the limit: probe with a 1-byte tail.
                new_cap = cap + 1
            else:
                new_cap = cap * 2 if cap > 0 else 64
                if new_cap > limit:
                    new_cap = limit
            grown = <unsigned char*>realloc(buf, new_cap)
            if grown == NULL:
                raise MemoryError()
            buf = grown
            if cap >= limit:
                with nogil:
                    status = _inflate_loop(&s, &src, &remaining, buf, new_cap, &produced,
                                           multi_member)
                if produced > limit:
                    raise ZlibError(f"Decoded data exceeds the limit of {limit} bytes")
                break
            cap = new_cap
        if status != ST_DONE:
            _raise_status(status, &s, produced, remaining)
        return PyBytes_FromStringAndSize(<char*>buf, produced)
    finally:
        free(buf)
        inflateEnd(&s)

