# cython: language_level=3, boundscheck=False, wraparound=False
"""A stored chunk read from its file and decoded (a Blosc frame or a Zstandard frame) into the
caller's buffer, and copied into the caller's output, with the GIL released once.

Threads reading chunks each gave the GIL up three times per chunk (the file read, the decode,
the copy into the output) and ran Python between; on two cores the hand-overs made two threads
cost 30% more CPU than one and finish barely sooner.  Here the three are one step.  The
decoders are c-blosc2's and zstd's, from the ``libblosc2`` that python-blosc2 ships (it
decodes the Blosc1 frames every zarr v2 writer stores, and exports the zstd it is built
with); their functions are looked up by address once (`bind`).  A frame's header is checked
as the Python codecs check it (``codecs.blosc.parse_header``; one zstd frame declaring the
expected size) before a byte reaches the decoder; anything this step does not take (a missing
file, a header it refuses, a compressor c-blosc2 lacks, a failed decode) returns a code and the
caller reads the chunk the ordinary way, which reports what is wrong in its own words.
"""

from cpython.buffer cimport (
    PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer,
)
from libc.errno cimport EINTR, errno
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset
from posix.fcntl cimport O_CLOEXEC, O_RDONLY, open as c_open
from posix.stat cimport S_ISREG, fstat, struct_stat
from posix.unistd cimport close, pread

cdef extern from * nogil:
    """
    #include <time.h>
    /* c-blosc2's blosc2_dparams (nthreads, schunk, postfilter, postparams), zero-padded: it is
       passed by value in memory, so a library with a longer struct reads zeros (its defaults)
       where this one ends. */
    typedef struct {
        int16_t nthreads;
        void *schunk;
        void *postfilter;
        void *postparams;
        char reserved[128];
    } tsx_blosc2_dparams;
    typedef void *(*tsx_create_dctx_fn)(tsx_blosc2_dparams);
    typedef void (*tsx_free_ctx_fn)(void *);
    typedef int (*tsx_decompress_ctx_fn)(void *, const void *, int32_t, void *, int32_t);
    static inline int64_t tsx_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }

    /* Each thread's buffer for stored chunks and its c-blosc2 decompression context, kept
       from chunk to chunk: a buffer malloc'd and freed per chunk is new memory (page faults)
       on every chunk of a new process's first reads, and a context made per chunk makes its
       own temporary blocks each time.  Freed when the thread exits. */
    #include <pthread.h>
    #include <stdlib.h>
    typedef struct {
        uint8_t *data;
        size_t capacity;
        void *dctx;
        tsx_free_ctx_fn free_dctx;
    } tsx_thread_state;
    static pthread_key_t tsx_state_key;
    static pthread_once_t tsx_state_once = PTHREAD_ONCE_INIT;
    static int tsx_state_ok = 0;
    static void tsx_state_free(void *p) {
        tsx_thread_state *state = (tsx_thread_state *)p;
        free(state->data);
        if (state->dctx != NULL) state->free_dctx(state->dctx);
        free(state);
    }
    static void tsx_state_make_key(void) {
        tsx_state_ok = pthread_key_create(&tsx_state_key, tsx_state_free) == 0;
    }
    static tsx_thread_state *tsx_state(void) {
        tsx_thread_state *state;
        pthread_once(&tsx_state_once, tsx_state_make_key);
        if (!tsx_state_ok) return NULL;
        state = (tsx_thread_state *)pthread_getspecific(tsx_state_key);
        if (state == NULL) {
            state = (tsx_thread_state *)calloc(1, sizeof(tsx_thread_state));
            if (state != NULL && pthread_setspecific(tsx_state_key, state) != 0) {
                free(state);
                state = NULL;
            }
        }
        return state;
    }
    """
    ctypedef struct tsx_blosc2_dparams:
        int16_t nthreads
        void *schunk
        void *postfilter
        void *postparams
    ctypedef void *(*tsx_create_dctx_fn)(tsx_blosc2_dparams)
    ctypedef void (*tsx_free_ctx_fn)(void *)
    ctypedef int (*tsx_decompress_ctx_fn)(void *, const void *, int32_t, void *, int32_t)
    int64_t tsx_now_ns()
    ctypedef struct tsx_thread_state:
        uint8_t *data
        size_t capacity
        void *dctx
        tsx_free_ctx_fn free_dctx
    tsx_thread_state *tsx_state()

ctypedef void *(*zstd_create_fn)() noexcept nogil
ctypedef size_t (*zstd_free_fn)(void *) noexcept nogil
ctypedef size_t (*zstd_decompress_fn)(void *, void *, size_t, const void *, size_t) noexcept nogil
ctypedef unsigned long long (*zstd_content_size_fn)(const void *, size_t) noexcept nogil
ctypedef size_t (*zstd_frame_size_fn)(const void *, size_t) noexcept nogil
ctypedef unsigned (*zstd_is_error_fn)(size_t) noexcept nogil

ctypedef void (*copy_layout_fn)(int, const Py_ssize_t *, const Py_ssize_t *, const Py_ssize_t *,
                                char *, const char *, Py_ssize_t, Py_ssize_t) noexcept nogil

cdef tsx_create_dctx_fn _create_dctx = NULL
cdef tsx_free_ctx_fn _free_ctx = NULL
cdef tsx_decompress_ctx_fn _decompress_ctx = NULL
cdef copy_layout_fn _copy_layout = NULL
cdef zstd_create_fn _zstd_create = NULL
cdef zstd_free_fn _zstd_free = NULL
cdef zstd_decompress_fn _zstd_decompress = NULL
cdef zstd_content_size_fn _zstd_content_size = NULL
cdef zstd_frame_size_fn _zstd_frame_size = NULL
cdef zstd_is_error_fn _zstd_is_error = NULL

cdef enum Codec:
    C_BLOSC = 0
    C_ZSTD = 1

#: The codecs `read_decode_into` decodes.
BLOSC, ZSTD = C_BLOSC, C_ZSTD

cdef enum:
    # Stored chunks up to this size are read into the thread's kept buffer (larger ones into
    # one of their own, freed at once).
    KEPT_BUFFER_MAX = 4 << 20
    HEADER_SIZE = 16
    FLAG_MEMCPYED = 0x02
    # c-blosc 1.x refuses buffers above 2**31 - 1 - 16 bytes.
    MAX_BUFFER_SIZE = 2147483631

cdef enum Outcome:
    # What `read_blosc_into` returns when it did not decode the chunk.
    C_NOT_A_FILE = -1  # missing, a directory, or not openable
    C_UNREAD = -2      # the read failed or came up short
    C_REFUSED = -3     # the frame's header is not one this step decodes
    C_UNDECODED = -4   # the decoder failed

NOT_A_FILE, UNREAD, REFUSED, UNDECODED = C_NOT_A_FILE, C_UNREAD, C_REFUSED, C_UNDECODED


def bind(size_t create_dctx, size_t free_ctx, size_t decompress_ctx, size_t copy_layout) -> None:
    """The addresses of c-blosc2's blosc2_create_dctx, blosc2_free_ctx and
    blosc2_decompress_ctx (after blosc2_init), and of `copy`'s strided copy kernel."""
    global _create_dctx, _free_ctx, _decompress_ctx, _copy_layout
    _create_dctx = <tsx_create_dctx_fn>create_dctx
    _free_ctx = <tsx_free_ctx_fn>free_ctx
    _decompress_ctx = <tsx_decompress_ctx_fn>decompress_ctx
    _copy_layout = <copy_layout_fn>copy_layout


def bind_zstd(size_t create, size_t free_ctx, size_t decompress, size_t content_size, size_t frame_size,
              size_t is_error) -> None:
    """The addresses of ZSTD_createDCtx, ZSTD_freeDCtx, ZSTD_decompressDCtx,
    ZSTD_getFrameContentSize, ZSTD_findFrameCompressedSize and ZSTD_isError."""
    global _zstd_create, _zstd_free, _zstd_decompress, _zstd_content_size, _zstd_frame_size, _zstd_is_error
    _zstd_create = <zstd_create_fn>create
    _zstd_free = <zstd_free_fn>free_ctx
    _zstd_decompress = <zstd_decompress_fn>decompress
    _zstd_content_size = <zstd_content_size_fn>content_size
    _zstd_frame_size = <zstd_frame_size_fn>frame_size
    _zstd_is_error = <zstd_is_error_fn>is_error


def bound(int codec) -> bool:
    """Whether `codec` (`BLOSC`, `ZSTD`) can be decoded here."""
    return (_decompress_ctx != NULL) if codec == C_BLOSC else (_zstd_decompress != NULL and codec == C_ZSTD)


cdef int _zstd_decode(const uint8_t *src, Py_ssize_t size, void *dst, Py_ssize_t expected) noexcept nogil:
    """0, or the outcome that refuses or fails the frame: it must be exactly one frame that
    declares `expected` decoded bytes (as ``codecs.simple.ZstdCodec`` decodes straight into
    a buffer)."""
    cdef size_t framed = _zstd_frame_size(src, size)
    cdef size_t rc
    cdef void *ctx
    if _zstd_is_error(framed) or <Py_ssize_t>framed != size:
        return C_REFUSED
    if _zstd_content_size(src, size) != <unsigned long long>expected:
        return C_REFUSED
    ctx = _zstd_create()
    if ctx == NULL:
        return C_UNDECODED
    rc = _zstd_decompress(ctx, dst, expected, src, size)
    _zstd_free(ctx)
    if _zstd_is_error(rc) or <Py_ssize_t>rc != expected:
        return C_UNDECODED
    return 0


cdef inline uint32_t _u32(const uint8_t *p) noexcept nogil:
    return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef int _header_ok(const uint8_t *src, Py_ssize_t size, Py_ssize_t expected) noexcept nogil:
    """`parse_header`'s checks, and the decoded size the caller expects; c-blosc2 decodes
    blosclz (0), lz4 (1), zlib (3) and zstd (4) frames."""
    cdef uint32_t nbytes, blocksize, cbytes, nblocks, i, start
    cdef uint8_t flags, typesize, code
    if size < HEADER_SIZE or (src[0] != 1 and src[0] != 2):
        return 0
    flags, typesize = src[2], src[3]
    nbytes, blocksize, cbytes = _u32(src + 4), _u32(src + 8), _u32(src + 12)
    if cbytes != size or nbytes > MAX_BUFFER_SIZE or nbytes != expected:
        return 0
    if flags & FLAG_MEMCPYED:
        return cbytes == <int64_t>nbytes + HEADER_SIZE
    code = flags >> 5
    if code != 0 and code != 1 and code != 3 and code != 4:
        return 0
    if nbytes == 0:
        return 1
    if blocksize == 0 or typesize == 0:
        return 0
    nblocks = (nbytes + blocksize - 1) // blocksize
    if HEADER_SIZE + 4 * <int64_t>nblocks > cbytes:
        return 0
    for i in range(nblocks):
        start = _u32(src + HEADER_SIZE + 4 * i)
        if start < HEADER_SIZE + 4 * nblocks or start >= cbytes:
            return 0
    return 1


cdef uint8_t *_kept_buffer(tsx_thread_state *state, Py_ssize_t size) noexcept nogil:
    """The thread's kept buffer, grown to `size` bytes; NULL when there is no thread state or
    `size` is above `KEPT_BUFFER_MAX` (or the memory is not there): the caller mallocs."""
    cdef uint8_t *grown
    cdef size_t want
    if state == NULL or size > KEPT_BUFFER_MAX:
        return NULL
    if <size_t>size > state.capacity or state.data == NULL:
        want = <size_t>size + <size_t>size // 4  # (room for the next chunks, often a little larger)
        if want > KEPT_BUFFER_MAX:
            want = <size_t>size
        if want < 65536:
            want = 65536
        grown = <uint8_t *>malloc(want)
        if grown == NULL:
            return NULL
        free(state.data)
        state.data, state.capacity = grown, want
    return state.data


cdef void *_thread_dctx(tsx_thread_state *state) noexcept nogil:
    """The thread's c-blosc2 decompression context (made on its first use); without a thread
    state, a new one the caller frees."""
    cdef tsx_blosc2_dparams params
    memset(&params, 0, sizeof(params))
    params.nthreads = 1
    if state == NULL:
        return _create_dctx(params)
    if state.dctx == NULL:
        state.dctx = _create_dctx(params)
        state.free_dctx = _free_ctx
    return state.dctx


def read_decode_into(bytes path, int codec, out, place=None, part=None, bytes header=None, int swap=0) -> tuple:
    """Reads the file at `path` and decodes its `codec` (`BLOSC`, `ZSTD`) frame into `out` (a
    writable contiguous buffer of exactly the decoded size); with `place` (an array of any
    strides), then copies `part` (a view of `out`; all of it by default) into it in the same
    GIL-free step.  With `header`, the file must begin with exactly these bytes (an n5 block
    header), the frame follows them; `swap` (with `place`): the copy reverses the bytes of
    each `swap`-byte unit (big-endian elements to native).

    Returns ``(stored_bytes, read_ns, decode_ns, copy_ns)``, or ``(code, errno, 0, 0)`` with a
    negative code (`NOT_A_FILE`, `UNREAD`, `REFUSED`, `UNDECODED`) when it did not decode the
    chunk (`out` may then hold anything)."""
    cdef Py_buffer view
    cdef const char *p_path = path
    cdef int fd = -1, err = 0, code = 0, rc
    cdef struct_stat st
    cdef Py_ssize_t size = 0, done = 0, got
    cdef uint8_t *data = NULL
    cdef void *ctx = NULL
    cdef int64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0
    cdef Py_buffer target, source
    cdef bint placing = place is not None
    cdef bint owned = False
    cdef tsx_thread_state *state = NULL
    cdef const uint8_t *p_header = NULL
    cdef Py_ssize_t header_size = 0
    cdef const uint8_t *frame
    cdef Py_ssize_t frame_size
    if not bound(codec):
        raise RuntimeError(f"chunkio cannot decode codec {codec}: not bound")
    if swap != 0 and (not placing or swap not in (2, 4, 8, 16)):
        raise ValueError("swap must be 2, 4, 8 or 16 bytes, and needs place")
    if header is not None:
        p_header, header_size = <const uint8_t *>(<const char *>header), len(header)
    PyObject_GetBuffer(out, &view, PyBUF_WRITABLE | PyBUF_ND | PyBUF_FORMAT)
    if placing:
        try:
            PyObject_GetBuffer(place, &target, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT)
        except BaseException:
            PyBuffer_Release(&view)
            raise
        try:
            PyObject_GetBuffer(out if part is None else part, &source, PyBUF_STRIDES | PyBUF_FORMAT)
        except BaseException:
            PyBuffer_Release(&target)
            PyBuffer_Release(&view)
            raise
        if (target.ndim != source.ndim or target.itemsize != source.itemsize
                or any(target.shape[i] != source.shape[i] for i in range(source.ndim))
                or <char *>source.buf < <char *>view.buf
                or <char *>source.buf >= <char *>view.buf + max(view.len, 1)
                or (swap != 0 and source.itemsize % swap != 0)):
            PyBuffer_Release(&source)
            PyBuffer_Release(&target)
            PyBuffer_Release(&view)
            raise ValueError("place must have the shape and item size of part, a view of out (whole units to swap)")
    try:
        with nogil:
            state = tsx_state()
            t0 = tsx_now_ns()
            fd = c_open(p_path, O_RDONLY | O_CLOEXEC)
            if fd < 0:
                code, err = C_NOT_A_FILE, errno
            elif fstat(fd, &st) != 0 or not S_ISREG(st.st_mode):
                code, err = C_NOT_A_FILE, errno
            else:
                size = st.st_size
                data = _kept_buffer(state, size)
                if data == NULL:
                    data = <uint8_t *>malloc(size if size > 0 else 1)
                    owned = data != NULL
                if data == NULL:
                    code = C_UNREAD
                while code == 0 and done < size:
                    got = pread(fd, data + done, size - done, done)
                    if got < 0:
                        if errno == EINTR:
                            continue
                        code, err = C_UNREAD, errno
                    elif got == 0:
                        code = C_UNREAD  # the file shrank while being read
                    else:
                        done += got
            if fd >= 0:
                close(fd)
            t1 = tsx_now_ns()
            frame, frame_size = data, size
            if code == 0 and header_size > 0:
                if size < header_size or memcmp(data, p_header, header_size) != 0:
                    code = C_REFUSED
                else:
                    frame, frame_size = data + header_size, size - header_size
            if code == 0 and codec == C_ZSTD:
                code = _zstd_decode(frame, frame_size, view.buf, view.len)
            elif code == 0 and not _header_ok(frame, frame_size, view.len):
                code = C_REFUSED
            elif code == 0 and view.len > 0:
                ctx = _thread_dctx(state)
                if ctx == NULL:
                    code = C_UNDECODED
                else:
                    rc = _decompress_ctx(ctx, frame, <int32_t>frame_size, view.buf, <int32_t>view.len)
                    if state == NULL:
                        _free_ctx(ctx)
                    if rc != view.len:
                        code = C_UNDECODED
            if owned:
                free(data)
            t2 = tsx_now_ns()
            if code == 0 and placing:
                _copy_layout(source.ndim, source.shape, target.strides, source.strides,
                             <char *>target.buf, <const char *>source.buf, source.itemsize, swap)
            t3 = tsx_now_ns()
    finally:
        if placing:
            PyBuffer_Release(&source)
            PyBuffer_Release(&target)
        PyBuffer_Release(&view)
    if code != 0:
        return (code, err, 0, 0)
    return (size, t1 - t0, t2 - t1, t3 - t2)
