# cython: language_level=3, boundscheck=False, wraparound=False
"""The file kvstore's value reads and locked writes as a few system calls each, with the GIL
released once per step instead of once per call.

Every ``os.*`` call releases and re-takes the GIL; a locked write is about twenty of them.  On
a pool of threads copying chunks, each of those is a chance for the GIL to change hands, and the
hand-overs (a futex wake and a context switch each) came to cost more than the Python between
them.  The protocol is the file driver's (kvstore/file.py explains it); this module only runs
its steps.  Errors come back as ``(step, errno)`` so the driver words them as it always has.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdlib cimport free, malloc
from libc.errno cimport EINTR, EISDIR, ENOENT, ENOTDIR, errno
from libc.stdint cimport uint64_t
from libc.string cimport memset
from posix.fcntl cimport O_CLOEXEC, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, open as c_open
from posix.stat cimport S_ISDIR, S_ISREG, fstat, struct_stat
from posix.unistd cimport close, fsync, ftruncate, pread, pwrite, unlink

cdef extern from "stdio.h" nogil:
    int rename(const char *oldpath, const char *newpath)

cdef extern from "<fcntl.h>" nogil:
    """
    #ifndef F_OFD_SETLKW
    #define F_OFD_SETLKW F_SETLKW
    #define TSX_OFD_LOCKS 0
    #else
    #define TSX_OFD_LOCKS 1
    #endif
    typedef struct flock tsx_flock;
    """
    int F_OFD_SETLKW
    int TSX_OFD_LOCKS
    int F_WRLCK
    int SEEK_SET
    ctypedef struct tsx_flock:
        short l_type
        short l_whence
        long l_start
        long l_len
        int l_pid
    int fcntl(int fd, int cmd, ...)

#: Whether locks are open-file-description locks (Linux), as the Python driver takes them.
OFD_LOCKS = bool(TSX_OFD_LOCKS)

# Steps a call can fail at (the driver words each failure).
cdef enum Step:
    STEP_OPEN_DIRECTORY = 1
    STEP_OPEN_LOCK = 2
    STEP_LOCK_NOT_REGULAR = 3
    STEP_ACQUIRE_LOCK = 4
    STEP_WRITE = 5
    STEP_SYNC = 6
    STEP_RENAME = 7
    STEP_SYNC_DIRECTORY = 8
    STEP_OPEN_VALUE = 9
    STEP_VALUE_NOT_REGULAR = 10
    STEP_READ = 11
    STEP_STAT_VALUE = 12
    STEP_LENGTH_CHANGED = 13
    STEP_RANGE = 14
    STEP_CONDITION = 15

OPEN_DIRECTORY = STEP_OPEN_DIRECTORY
OPEN_LOCK = STEP_OPEN_LOCK
LOCK_NOT_REGULAR = STEP_LOCK_NOT_REGULAR
ACQUIRE_LOCK = STEP_ACQUIRE_LOCK
WRITE = STEP_WRITE
SYNC = STEP_SYNC
RENAME = STEP_RENAME
SYNC_DIRECTORY = STEP_SYNC_DIRECTORY
OPEN_VALUE = STEP_OPEN_VALUE
VALUE_NOT_REGULAR = STEP_VALUE_NOT_REGULAR
READ = STEP_READ
STAT_VALUE = STEP_STAT_VALUE
LENGTH_CHANGED = STEP_LENGTH_CHANGED
RANGE = STEP_RANGE
CONDITION = STEP_CONDITION


cdef inline tuple _stat_tuple(struct_stat *st):
    return (<uint64_t>st.st_dev, <uint64_t>st.st_ino,
            <uint64_t>st.st_mtim.tv_sec * 1000000000 + <uint64_t>st.st_mtim.tv_nsec, st.st_size)


cdef int _open_lock(const char *lock_path, int *err) noexcept nogil:
    """An open descriptor of the lock file (created if missing), -1 with `err` on failure, -2
    if it is not a regular file."""
    cdef int fd
    cdef struct_stat st
    while True:
        fd = c_open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        if fd >= 0 or errno != EINTR:
            break
    if fd < 0:
        err[0] = errno
        return -1
    if fstat(fd, &st) != 0 or not S_ISREG(st.st_mode):
        close(fd)
        return -2
    return fd


cdef int _lock(const char *p_path, const char *p_lock, const char *p_dir, bint stat_value,
               int *dir_fd_out, int *fd_out, int *err_out, struct_stat *value) noexcept nogil:
    """The work of `lock`: returns 0 (then `dir_fd_out`, `fd_out` are open and the value's
    state is returned through the sign: see `lock`) or a step, with `err_out`.  The value
    state (0 none, 1 regular file, 2 directory, 3 other) is stored in `err_out` on success."""
    cdef int dir_fd = -1, fd = -1, current = -1, err = 0, step = 0, rc
    cdef tsx_flock request
    cdef struct_stat mine, theirs
    cdef int value_state = 0
    dir_fd = c_open(p_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir_fd < 0:
        step, err = STEP_OPEN_DIRECTORY, errno
    else:
        fd = _open_lock(p_lock, &err)
        if fd < 0:
            step = STEP_OPEN_LOCK if fd == -1 else STEP_LOCK_NOT_REGULAR
        while step == 0:
            memset(&request, 0, sizeof(request))
            request.l_type = F_WRLCK
            request.l_whence = SEEK_SET
            rc = fcntl(fd, F_OFD_SETLKW, &request)
            if rc != 0:
                if errno == EINTR:
                    continue
                step, err = STEP_ACQUIRE_LOCK, errno
                break
            current = _open_lock(p_lock, &err)
            if current < 0:
                step = STEP_OPEN_LOCK if current == -1 else STEP_LOCK_NOT_REGULAR
                break
            fstat(fd, &mine)
            fstat(current, &theirs)
            if mine.st_dev == theirs.st_dev and mine.st_ino == theirs.st_ino:
                close(current)
                break
            # The previous holder renamed or removed the file we locked: lock the new one.
            close(fd)
            fd = current
        if step != 0:
            if fd >= 0:
                close(fd)
            close(dir_fd)
        elif stat_value:
            current = c_open(p_path, O_RDONLY | O_CLOEXEC)
            if current >= 0:
                if fstat(current, value) == 0:
                    value_state = 1 if S_ISREG(value.st_mode) else 2 if S_ISDIR(value.st_mode) else 3
                close(current)
            elif errno != ENOENT and errno != ENOTDIR and errno != EISDIR:
                step, err = STEP_OPEN_VALUE, errno
                unlink(p_lock)
                close(fd)
                close(dir_fd)
    if step != 0:
        err_out[0] = err
        return step
    dir_fd_out[0], fd_out[0], err_out[0] = dir_fd, fd, value_state
    return 0


def lock(bytes path, bytes lock_path, bytes directory, bint stat_value):
    """Opens `directory` and takes the exclusive lock on `lock_path` (re-taken on the new file
    if its holder renamed or removed the one locked); with `stat_value`, also stats `path`.

    Returns ``(0, dir_fd, lock_fd, value)`` where value is None (absent or not asked for),
    "dir", "other" or a (dev, ino, mtime_ns, size) tuple; or ``(step, errno, -1, None)``."""
    cdef const char *p_path = path
    cdef const char *p_lock = lock_path
    cdef const char *p_dir = directory
    cdef int dir_fd = -1, fd = -1, err = 0, step
    cdef struct_stat value
    with nogil:
        step = _lock(p_path, p_lock, p_dir, stat_value, &dir_fd, &fd, &err, &value)
    if step != 0:
        return (step, err, -1, None)
    if err == 1:
        return (0, dir_fd, fd, _stat_tuple(&value))
    if err == 2:
        return (0, dir_fd, fd, "dir")
    if err == 3:
        return (0, dir_fd, fd, "other")
    return (0, dir_fd, fd, None)


cdef int _store(int dir_fd, int fd, const char *p_lock, const char *p_path, Py_buffer *views,
                Py_ssize_t count, Py_ssize_t total, bint sync, int *err_out,
                struct_stat *st) noexcept nogil:
    """The work of `store` on buffers already held: 0, or the failed step with `err_out`."""
    cdef Py_ssize_t i, offset = 0, done, wrote
    cdef int step = 0, err = 0
    if fstat(fd, st) == 0 and st.st_size > total:
        ftruncate(fd, 0)
    for i in range(count):
        done = 0
        while done < views[i].len:
            wrote = pwrite(fd, <const char *>views[i].buf + done, views[i].len - done, offset)
            if wrote < 0:
                if errno == EINTR:
                    continue
                step, err = STEP_WRITE, errno
                break
            done += wrote
            offset += wrote
        if step != 0:
            break
    if step == 0 and sync and fsync(fd) != 0:
        step, err = STEP_SYNC, errno
    if step == 0:
        fstat(fd, st)
        if rename(p_lock, p_path) != 0:
            step, err = STEP_RENAME, errno
    if step == 0:
        close(fd)
        if sync and fsync(dir_fd) != 0:
            step, err = STEP_SYNC_DIRECTORY, errno
        close(dir_fd)
    else:
        _abandon(dir_fd, fd, p_lock)
    err_out[0] = err
    return step


cdef Py_buffer *_hold(object parts, Py_ssize_t *held, Py_ssize_t *total) except NULL:
    """Buffers of every part (`held` of them taken, even when this raises)."""
    cdef Py_ssize_t count = len(parts), i
    cdef Py_buffer *views = <Py_buffer *>malloc(max(count, 1) * sizeof(Py_buffer))
    if views == NULL:
        raise MemoryError()
    held[0] = 0
    total[0] = 0
    try:
        for i in range(count):
            PyObject_GetBuffer(parts[i], &views[i], PyBUF_SIMPLE)
            held[0] += 1
            total[0] += views[i].len
    except BaseException:
        _release(views, held[0])
        raise
    return views


cdef void _release(Py_buffer *views, Py_ssize_t held) noexcept:
    cdef Py_ssize_t i
    for i in range(held):
        PyBuffer_Release(&views[i])
    free(views)


def store(int dir_fd, int fd, bytes lock_path, bytes path, data, bint sync):
    """Fills the locked `lock_path` (open as `fd`) with `data` (a contiguous bytes-like object,
    or a list of them written one after the other), fsyncs it (with `sync`), renames it over
    `path` and fsyncs the directory; closes both descriptors, and removes the lock file if it
    was not renamed.

    Returns ``(0, 0, (dev, ino, mtime_ns, size))`` or ``(step, errno, None)``."""
    cdef const char *p_lock = lock_path
    cdef const char *p_path = path
    parts = data if isinstance(data, (list, tuple)) else (data,)
    cdef Py_ssize_t held = 0, total = 0, count = len(parts)
    cdef Py_buffer *views
    cdef int step = 0, err = 0
    cdef struct_stat st
    try:
        views = _hold(parts, &held, &total)
    except BaseException:
        _abandon(dir_fd, fd, p_lock)
        raise
    try:
        with nogil:
            step = _store(dir_fd, fd, p_lock, p_path, views, count, total, sync, &err, &st)
    finally:
        _release(views, held)
    if step != 0:
        return (step, err, None)
    return (0, 0, _stat_tuple(&st))


def write(bytes path, bytes lock_path, bytes directory, data, bint sync):
    """`lock` then `store` in one call (one release of the GIL): an unconditional write.

    Returns ``(0, 0, (dev, ino, mtime_ns, size))`` or ``(step, errno, lock_fd)`` (the lock
    file's descriptor number when the lock was taken, for the message; -1 before): nothing is
    left open or locked when it fails."""
    cdef const char *p_path = path
    cdef const char *p_lock = lock_path
    cdef const char *p_dir = directory
    parts = data if isinstance(data, (list, tuple)) else (data,)
    cdef Py_ssize_t held = 0, total = 0, count = len(parts)
    cdef Py_buffer *views = _hold(parts, &held, &total)
    cdef int dir_fd = -1, fd = -1, err = 0, step = 0
    cdef struct_stat st
    try:
        with nogil:
            step = _lock(p_path, p_lock, p_dir, False, &dir_fd, &fd, &err, &st)
            if step == 0:
                step = _store(dir_fd, fd, p_lock, p_path, views, count, total, sync, &err, &st)
    finally:
        _release(views, held)
    if step != 0:
        return (step, err, fd)
    return (0, 0, _stat_tuple(&st))


cdef void _abandon(int dir_fd, int fd, const char *lock_path) noexcept nogil:
    """A write given up while the lock is held: nobody else can have renamed the lock file."""
    unlink(lock_path)
    close(fd)
    close(dir_fd)


def release(int dir_fd, int fd, bytes lock_path):
    """Removes the lock file (still held) and closes both descriptors: a write that did not
    happen (its condition failed)."""
    cdef const char *p_lock = lock_path
    with nogil:
        _abandon(dir_fd, fd, p_lock)


def read(bytes path, long long lo=0, long long hi=-1, int condition=0, uint64_t dev=0, uint64_t ino=0,
         uint64_t mtime_ns=0):
    """Bytes [lo, hi) of the value file `path` (``hi`` -1: to its end; ``lo`` < 0 with ``hi``
    -1: the last ``-lo`` bytes): ``(0, data, (dev, ino, mtime_ns, size), 0)``; ``(0, None,
    None, 0)`` if it is absent or a directory; ``(RANGE, None, None, size)`` if the range does
    not fit the value; or ``(step, None, None, errno)``.

    `condition` 1 (if equal) or 2 (if not equal) compares the file with the generation
    (`dev`, `ino`, `mtime_ns`) first: ``(CONDITION, None, (dev, ino, mtime_ns, size), 0)``
    when it fails, without reading."""
    cdef const char *p_path = path
    cdef int fd, err = 0, step = 0, state = 0
    cdef struct_stat st
    cdef Py_ssize_t size, done = 0, got, start, stop
    cdef char *out
    with nogil:
        fd = c_open(p_path, O_RDONLY | O_CLOEXEC)
        if fd < 0:
            err = errno
            if err != ENOENT and err != ENOTDIR and err != EISDIR:
                step = STEP_OPEN_VALUE
        elif fstat(fd, &st) != 0:
            step, err = STEP_STAT_VALUE, errno
            close(fd)
        elif S_ISDIR(st.st_mode):
            state = 2
            close(fd)
        elif not S_ISREG(st.st_mode):
            step = STEP_VALUE_NOT_REGULAR
            close(fd)
    if step != 0:
        return (step, None, None, err)
    if fd < 0 or state == 2:
        return (0, None, None, 0)
    if condition:
        same = (<uint64_t>st.st_dev == dev and <uint64_t>st.st_ino == ino
                and <uint64_t>st.st_mtim.tv_sec * 1000000000 + <uint64_t>st.st_mtim.tv_nsec == mtime_ns)
        if same != (condition == 1):
            close(fd)
            return (STEP_CONDITION, None, _stat_tuple(&st), 0)
    # The rules of `kvstore.driver.resolve_byte_range`, which words the error.
    if lo < 0 and hi < 0:
        start, stop = st.st_size + lo, st.st_size
    else:
        start, stop = lo, (st.st_size if hi < 0 else hi)
    if start < 0 or start > stop or stop > st.st_size:
        close(fd)
        return (STEP_RANGE, None, None, st.st_size)
    size = stop - start
    data = PyBytes_FromStringAndSize(NULL, size)
    out = PyBytes_AS_STRING(data)
    with nogil:
        while done < size:
            got = pread(fd, out + done, size - done, start + done)
            if got < 0:
                if errno == EINTR:
                    continue
                step, err = STEP_READ, errno
                break
            if got == 0:
                step = STEP_LENGTH_CHANGED
                break
            done += got
        close(fd)
    if step != 0:
        return (step, None, None, err)
    return (0, data, _stat_tuple(&st), 0)
