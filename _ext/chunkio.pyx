# cython: language_level=3, boundscheck=False, wraparound=False
"""A stored chunk read from its file and decoded (a Blosc frame or a Zstandard frame) into the
caller's buffer, and copied into the caller's output, with the GIL released once; and a chunk
to be written gathered from the writer's source and encoded as a Blosc frame the same way
(`gather_encode`).

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

The encoder is c-blosc 1.x's reentrant ``blosc_compress_ctx`` from the python-blosc that encodes
every other Blosc chunk (its address found by `codecs.blosc_symbols`): called with the
arguments python-blosc gives it, it writes the same bytes.
"""

from cpython.buffer cimport (
    PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE, PyBuffer_IsContiguous, PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.object cimport PyObject
from libc.errno cimport EINTR, errno
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
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

cdef extern from "Python.h":
    # Owned references handled by hand: the frame is allocated at its largest size and shrunk
    # in place once encoded (as python-blosc does), which needs the object's address.
    PyObject *new_bytes "PyBytes_FromStringAndSize"(const char *, Py_ssize_t)
    char *bytes_data "PyBytes_AS_STRING"(PyObject *)
    int _PyBytes_Resize(PyObject **, Py_ssize_t)
    void Py_DECREF(PyObject *)

ctypedef int (*blosc1_compress_ctx_fn)(int, int, size_t, size_t, const void *, void *, size_t, const char *,
                                       size_t, int) noexcept nogil

ctypedef void (*copy_layout_fn)(int, const Py_ssize_t *, const Py_ssize_t *, const Py_ssize_t *,
                                char *, const char *, Py_ssize_t, Py_ssize_t) noexcept nogil

cdef tsx_create_dctx_fn _create_dctx = NULL
cdef tsx_free_ctx_fn _free_ctx = NULL
cdef tsx_decompress_ctx_fn _decompress_ctx = NULL
cdef copy_layout_fn _copy_layout = NULL
cdef blosc1_compress_ctx_fn _blosc1_compress = NULL
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


cdef struct Job:
    # One chunk: the file, the buffer it decodes into and, when `placing`, the copy of part of
    # that buffer (`src`, with `shape` and `src_strides`) to `dst` (with `dst_strides`).
    const char *path
    int codec
    void *out
    Py_ssize_t out_len
    bint placing
    int ndim
    const Py_ssize_t *shape
    const Py_ssize_t *dst_strides
    const Py_ssize_t *src_strides
    char *dst
    const char *src
    Py_ssize_t itemsize
    # The bytes the file must begin with (an n5 block header; the frame follows), and the
    # size of the units whose bytes the copy reverses (0: none).
    const uint8_t *header
    Py_ssize_t header_size
    int swap
    # The frame's bytes [offset, offset + length) of the file (length -1: all of it), and
    # when `check`, the file's identity it must still have (a shard whose index was read
    # at that generation: dev, ino, mtime in ns).
    Py_ssize_t offset
    Py_ssize_t length
    bint check
    uint64_t dev
    uint64_t ino
    uint64_t mtime_ns
    # What happened: code 0 and the stored size, or a negative code and errno.
    int code
    int err
    Py_ssize_t size
    int64_t read_ns
    int64_t decode_ns
    int64_t copy_ns


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


cdef void _run_job(Job *job) noexcept nogil:
    cdef int fd = -1, err = 0, code = 0, rc
    cdef struct_stat st
    cdef Py_ssize_t size = 0, done = 0, got
    cdef uint8_t *data = NULL
    cdef void *ctx = NULL
    cdef bint owned = False
    cdef tsx_thread_state *state = tsx_state()
    cdef const uint8_t *frame
    cdef Py_ssize_t frame_size
    cdef int64_t t0, t1, t2, t3
    t0 = tsx_now_ns()
    fd = c_open(job.path, O_RDONLY | O_CLOEXEC)
    if fd < 0:
        code, err = C_NOT_A_FILE, errno
    elif fstat(fd, &st) != 0 or not S_ISREG(st.st_mode):
        code, err = C_NOT_A_FILE, errno
    elif job.check and (<uint64_t>st.st_dev != job.dev or <uint64_t>st.st_ino != job.ino or
                        <uint64_t>st.st_mtim.tv_sec * 1000000000 + <uint64_t>st.st_mtim.tv_nsec != job.mtime_ns):
        code = C_REFUSED  # replaced since its index was read
    elif job.length >= 0 and job.offset + job.length > st.st_size:
        code = C_REFUSED
    else:
        size = st.st_size if job.length < 0 else job.length
        data = _kept_buffer(state, size)
        if data == NULL:
            data = <uint8_t *>malloc(size if size > 0 else 1)
            owned = data != NULL
        if data == NULL:
            code = C_UNREAD
        while code == 0 and done < size:
            got = pread(fd, data + done, size - done, job.offset + done)
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
    if code == 0 and job.header_size > 0:
        if size < job.header_size or memcmp(data, job.header, job.header_size) != 0:
            code = C_REFUSED
        else:
            frame, frame_size = data + job.header_size, size - job.header_size
    if code == 0 and job.codec == C_ZSTD:
        code = _zstd_decode(frame, frame_size, job.out, job.out_len)
    elif code == 0 and not _header_ok(frame, frame_size, job.out_len):
        code = C_REFUSED
    elif code == 0 and job.out_len > 0:
        ctx = _thread_dctx(state)
        if ctx == NULL:
            code = C_UNDECODED
        else:
            rc = _decompress_ctx(ctx, frame, <int32_t>frame_size, job.out, <int32_t>job.out_len)
            if state == NULL:
                _free_ctx(ctx)
            if rc != job.out_len:
                code = C_UNDECODED
    if owned:
        free(data)
    t2 = tsx_now_ns()
    if code == 0 and job.placing:
        _copy_layout(job.ndim, job.shape, job.dst_strides, job.src_strides, job.dst, job.src, job.itemsize,
                     job.swap)
    t3 = tsx_now_ns()
    job.code, job.err, job.size = code, err, size
    job.read_ns, job.decode_ns, job.copy_ns = t1 - t0, t2 - t1, t3 - t2


cdef class _Chunk:
    """The buffers of one chunk's job, held while it runs."""
    cdef bytes path, header
    cdef Py_buffer view, target, source
    cdef bint has_view, placing
    cdef Job job

    def __dealloc__(self):
        if self.placing:
            PyBuffer_Release(&self.source)
            PyBuffer_Release(&self.target)
        if self.has_view:
            PyBuffer_Release(&self.view)


cdef _Chunk _prepare(bytes path, int codec, out, place, part, bytes header=None, int swap=0,
                     Py_ssize_t offset=0, Py_ssize_t length=-1, tuple identity=None):
    if not bound(codec):
        raise RuntimeError(f"chunkio cannot decode codec {codec}: not bound")
    if swap != 0 and (place is None or swap not in (2, 4, 8, 16)):
        raise ValueError("swap must be 2, 4, 8 or 16 bytes, and needs place")
    cdef _Chunk c = _Chunk()
    c.path = path
    c.header = header
    PyObject_GetBuffer(out, &c.view, PyBUF_WRITABLE | PyBUF_ND | PyBUF_FORMAT)
    c.has_view = True
    if place is not None:
        PyObject_GetBuffer(place, &c.target, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT)
        try:
            PyObject_GetBuffer(out if part is None else part, &c.source, PyBUF_STRIDES | PyBUF_FORMAT)
        except BaseException:
            PyBuffer_Release(&c.target)
            raise
        c.placing = True
        if (c.target.ndim != c.source.ndim or c.target.itemsize != c.source.itemsize
                or any(c.target.shape[i] != c.source.shape[i] for i in range(c.source.ndim))
                or <char *>c.source.buf < <char *>c.view.buf
                or <char *>c.source.buf >= <char *>c.view.buf + max(c.view.len, 1)
                or (swap != 0 and c.source.itemsize % swap != 0)):
            raise ValueError("place must have the shape and item size of part, a view of out (whole units to swap)")
    c.job.path = c.path
    c.job.codec = codec
    c.job.out = c.view.buf
    c.job.out_len = c.view.len
    c.job.placing = c.placing
    c.job.swap = swap
    if offset < 0 or length < -1:
        raise ValueError("offset must be >= 0 and length >= -1")
    c.job.offset = offset
    c.job.length = length
    if identity is not None:
        c.job.check = True
        c.job.dev, c.job.ino, c.job.mtime_ns = identity
    if header is not None:
        c.job.header = <const uint8_t *>(<const char *>c.header)
        c.job.header_size = len(c.header)
    if c.placing:
        c.job.ndim = c.source.ndim
        c.job.shape = c.source.shape
        c.job.dst_strides = c.target.strides
        c.job.src_strides = c.source.strides
        c.job.dst = <char *>c.target.buf
        c.job.src = <const char *>c.source.buf
        c.job.itemsize = c.source.itemsize
    return c


cdef tuple _outcome(Job *job):
    if job.code != 0:
        return (job.code, job.err, 0, 0)
    return (job.size, job.read_ns, job.decode_ns, job.copy_ns)


def read_decode_into(bytes path, int codec, out, place=None, part=None, bytes header=None, int swap=0,
                     Py_ssize_t offset=0, Py_ssize_t length=-1, tuple identity=None) -> tuple:
    """Reads the file at `path` and decodes its `codec` (`BLOSC`, `ZSTD`) frame into `out` (a
    writable contiguous buffer of exactly the decoded size); with `place` (an array of any
    strides), then copies `part` (a view of `out`; all of it by default) into it in the same
    GIL-free step.  With `header`, the file must begin with exactly these bytes (an n5 block
    header), the frame follows them; `swap` (with `place`): the copy reverses the bytes of
    each `swap`-byte unit (big-endian elements to native).  With `length` (not -1), the frame
    is bytes [offset, offset + length) of the file (a sub-chunk inside a shard); with
    `identity` ``(dev, ino, mtime_ns)``, a file that no longer has it is refused.

    Returns ``(stored_bytes, read_ns, decode_ns, copy_ns)``, or ``(code, errno, 0, 0)`` with a
    negative code (`NOT_A_FILE`, `UNREAD`, `REFUSED`, `UNDECODED`) when it did not decode the
    chunk (`out` may then hold anything)."""
    cdef _Chunk c = _prepare(path, codec, out, place, part, header, swap, offset, length, identity)
    with nogil:
        _run_job(&c.job)
    return _outcome(&c.job)


# ---------------------------------------------------------------------------------------------
# Several chunks at once: the caller and GIL-free helper threads take them from one batch.

cdef extern from * nogil:
    """
    #include <pthread.h>
    #include <unistd.h>
    /* A batch of jobs the calling thread and the helpers take one by one (under `mu`). */
    typedef struct {
        void (*run)(void *jobs, int i);
        void *jobs;
        int n, next, done;
    } tsx_batch;
    static pthread_mutex_t tsx_mu = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t tsx_work = PTHREAD_COND_INITIALIZER;
    static pthread_cond_t tsx_finished = PTHREAD_COND_INITIALIZER;
    static tsx_batch *tsx_current = NULL;
    static pid_t tsx_helpers_pid = 0;
    static int tsx_helpers = 0;

    static void *tsx_helper(void *unused) {
        (void)unused;
        pthread_mutex_lock(&tsx_mu);
        for (;;) {
            tsx_batch *b = tsx_current;
            if (b == NULL || b->next >= b->n) {
                pthread_cond_wait(&tsx_work, &tsx_mu);
                continue;
            }
            int i = b->next++;
            pthread_mutex_unlock(&tsx_mu);
            b->run(b->jobs, i);
            pthread_mutex_lock(&tsx_mu);
            if (++b->done == b->n) pthread_cond_broadcast(&tsx_finished);
        }
        return NULL;
    }

    /* Starts up to `wanted` helpers in this process (after a fork: anew, as the child has
       none); how many there are.  Called with the GIL held. */
    static int tsx_start_helpers(int wanted) {
        pid_t pid = getpid();
        if (tsx_helpers_pid != pid) {
            pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
            pthread_cond_t c1 = PTHREAD_COND_INITIALIZER, c2 = PTHREAD_COND_INITIALIZER;
            tsx_mu = mu; tsx_work = c1; tsx_finished = c2;
            tsx_current = NULL;
            tsx_helpers = 0;
            tsx_helpers_pid = pid;
        }
        while (tsx_helpers < wanted) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 1024 * 1024);  /* (decoders need little) */
            int rc = pthread_create(&t, &attr, tsx_helper, NULL);
            pthread_attr_destroy(&attr);
            if (rc != 0) break;
            tsx_helpers++;
        }
        return tsx_helpers;
    }

    /* Runs jobs 0..n-1 of `jobs` on this thread and any helper free to take some; returns
       once all are done.  Another thread's batch in progress: this one runs here alone. */
    static void tsx_run_batch(void (*run)(void *, int), void *jobs, int n) {
        tsx_batch b = {run, jobs, n, 0, 0};
        int i, shared = 0;
        if (n > 1 && tsx_helpers > 0) {
            pthread_mutex_lock(&tsx_mu);
            if (tsx_current == NULL) {
                tsx_current = &b;
                shared = 1;
                /* (one job for the caller, the others for as many helpers) */
                if (n > 2 && tsx_helpers > 1) pthread_cond_broadcast(&tsx_work);
                else pthread_cond_signal(&tsx_work);
            }
            pthread_mutex_unlock(&tsx_mu);
        }
        if (!shared) {
            for (i = 0; i < n; i++) run(jobs, i);
            return;
        }
        pthread_mutex_lock(&tsx_mu);
        while (b.next < n) {
            i = b.next++;
            pthread_mutex_unlock(&tsx_mu);
            run(jobs, i);
            pthread_mutex_lock(&tsx_mu);
            b.done++;
        }
        while (b.done < n) pthread_cond_wait(&tsx_finished, &tsx_mu);
        tsx_current = NULL;
        pthread_mutex_unlock(&tsx_mu);
    }
    """
    int tsx_start_helpers(int wanted)
    void tsx_run_batch(void (*run)(void *, int) noexcept nogil, void *jobs, int n)


cdef void _run_job_at(void *jobs, int i) noexcept nogil:
    _run_job((<Job **>jobs)[i])


def start_helpers(int wanted) -> int:
    """Starts up to `wanted` helper threads for `read_decode_many` in this process (once; a
    forked child starts its own); returns how many there are."""
    return tsx_start_helpers(wanted)


def read_decode_many(list chunks) -> list:
    """`read_decode_into` of each of `chunks` (tuples of its arguments: ``(path, codec, out,
    place, part[, header, swap, offset, length, identity])``), the calling thread and the
    helper threads (`start_helpers`) taking them one after another, without the GIL; the
    outcomes in order.  The outputs must not overlap."""
    cdef Py_ssize_t n = len(chunks), i
    prepared = [_prepare(c[0], c[1], c[2], c[3], c[4], c[5] if len(c) > 5 else None, c[6] if len(c) > 6 else 0,
                         c[7] if len(c) > 7 else 0, c[8] if len(c) > 8 else -1, c[9] if len(c) > 9 else None)
                for c in chunks]
    cdef Job **jobs = <Job **>malloc(max(n, 1) * sizeof(Job *))
    if jobs == NULL:
        raise MemoryError()
    for i in range(n):
        jobs[i] = &(<_Chunk>prepared[i]).job
    with nogil:
        tsx_run_batch(_run_job_at, jobs, <int>n)
    outcomes = [_outcome(jobs[i]) for i in range(n)]
    free(jobs)
    return outcomes


cdef enum:
    # c-blosc 1.x's BLOSC_MAX_OVERHEAD: what python-blosc allows a frame beyond the data.
    MAX_OVERHEAD = 16
    MAX_RANK = 32


def bind_encoder(size_t compress_ctx, size_t copy_layout) -> None:
    """The addresses of c-blosc 1.x's blosc_compress_ctx and of `copy`'s strided copy kernel."""
    global _blosc1_compress, _copy_layout
    _blosc1_compress = <blosc1_compress_ctx_fn>compress_ctx
    _copy_layout = <copy_layout_fn>copy_layout


def encoder_bound() -> bool:
    return _blosc1_compress != NULL and _copy_layout != NULL


def gather_encode(source, int clevel, int shuffle, int typesize, bytes cname, size_t blocksize,
                  fill=None) -> tuple:
    """The Blosc1 frame of `source` (an array of any strides, its elements in C order), as
    python-blosc's ``compress(source, typesize, clevel, shuffle, cname)`` with c-blosc's forced
    block size `blocksize` writes it; gathered and encoded without the GIL.

    With `fill` (a contiguous buffer of the chunk's bytes), a source equal to it byte for
    byte is not encoded.  Returns ``(frame, copy_ns, encode_ns)``; ``(None, copy_ns, 0)`` for
    a source equal to `fill`; ``(code, 0, 0)`` with c-blosc's negative code if it failed."""
    cdef Py_buffer src, filled
    cdef bint have_fill = fill is not None
    cdef Py_ssize_t nbytes, i
    cdef Py_ssize_t strides[MAX_RANK]
    cdef char *gathered = NULL
    cdef const char *data
    cdef const char *p_cname = cname
    cdef PyObject *frame = NULL
    cdef char *out
    cdef int cbytes = 0, same = 0, contiguous
    cdef int64_t t0, t1, t2
    if not encoder_bound():
        raise RuntimeError("chunkio cannot encode: not bound")
    PyObject_GetBuffer(source, &src, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        if src.ndim > MAX_RANK:
            raise ValueError(f"rank {src.ndim} exceeds {MAX_RANK}")
        nbytes = src.len
        if have_fill:
            PyObject_GetBuffer(fill, &filled, PyBUF_ND)
            if filled.len != nbytes:
                PyBuffer_Release(&filled)
                raise ValueError("fill must have the size of source")
        try:
            contiguous = PyBuffer_IsContiguous(&src, b'C')
            frame = new_bytes(NULL, nbytes + MAX_OVERHEAD)
            if frame == NULL:
                raise MemoryError()
            out = bytes_data(frame)
            with nogil:
                t0 = tsx_now_ns()
                if contiguous:
                    data = <const char *>src.buf
                else:
                    gathered = <char *>malloc(nbytes if nbytes > 0 else 1)
                    if gathered != NULL:
                        if src.ndim > 0:
                            strides[src.ndim - 1] = src.itemsize
                            for i in range(src.ndim - 2, -1, -1):
                                strides[i] = strides[i + 1] * src.shape[i + 1]
                        _copy_layout(src.ndim, src.shape, strides, src.strides, gathered,
                                     <const char *>src.buf, src.itemsize, 0)
                    data = gathered
                t1 = tsx_now_ns()
                if data != NULL:
                    same = have_fill and memcmp(data, filled.buf, nbytes) == 0
                    if not same:
                        cbytes = _blosc1_compress(clevel, shuffle, typesize, nbytes, data, out,
                                                  nbytes + MAX_OVERHEAD, p_cname, blocksize, 1)
                free(gathered)
                t2 = tsx_now_ns()
        finally:
            if have_fill:
                PyBuffer_Release(&filled)
    finally:
        PyBuffer_Release(&src)
    if data == NULL or same or cbytes <= 0:
        Py_DECREF(frame)
        if data == NULL:
            raise MemoryError()
        if same:
            return (None, t1 - t0, 0)
        return (cbytes if cbytes < 0 else -1, 0, 0)
    if _PyBytes_Resize(&frame, cbytes) != 0:
        raise MemoryError()  # (the frame was freed)
    result = <object>frame
    Py_DECREF(frame)
    return (result, t1 - t0, t2 - t1)
