"""The ``file`` driver: each key is a file below the store's path.

Compatible with TensorStore's file driver on disk and under concurrency:

- A value file is never modified in place.  A write fills ``<key>.__lock``, fsyncs it, renames
  it over ``<key>`` and fsyncs the directory, so readers see the old or the new value, never
  a mix.
- Writes and deletes hold an exclusive lock on ``<key>.__lock`` (an open-file-description
  ``fcntl`` lock, the kind TensorStore takes on Linux, so the two libraries exclude each other).
  A lock counts only while the locked file still has the lock path: after acquiring it, the
  path is re-opened and compared by inode, and on mismatch the lock is retried on the new file.
  The ``if_equal`` condition is checked while the lock is held, so read-modify-write cycles
  of several processes never lose an update.
- The generation of a value is device id, inode and modification time (ns), 64-bit
  little-endian each, after TensorStore's tag byte.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import time
import uuid
from typing import Any, Callable

from ..context import Resource
from ..errors import StatusError, deadline_exceeded, failed_precondition, invalid_argument
from ..future import Future, submit
from ..json_util import dumps
from . import generation as gen
from .byte_parts import ByteParts
from .driver import (
    KvStoreDriver, KvStoreDriverSpec, ReadOptions, WriteOptions, apply_read, condition_matches,
    percent_encode_path, register_kvstore_driver, resolve_byte_range, split_url,
)  # fmt: skip
from .generation import ReadResult, TimestampedStorageGeneration
from .key_range import KeyRange, contains, contains_prefix, intersects_prefix, longest_prefix

try:  # the locked write and the value read as a few system calls, each one GIL release
    from .._ext import fileio as _fileio
except ImportError:  # pragma: no cover - a source tree without its extensions built
    _fileio = None

__all__ = ["FileDriverSpec", "FileDriver", "LOCK_SUFFIX", "file_generation", "status_from_os_error"]

LOCK_SUFFIX = ".__lock"

_ERRNO_CODES = {
    errno.ENOENT: "NOT_FOUND",
    errno.EEXIST: "ALREADY_EXISTS",
    errno.EACCES: "PERMISSION_DENIED",
    errno.EPERM: "PERMISSION_DENIED",
    errno.EROFS: "PERMISSION_DENIED",
    errno.ENOTDIR: "FAILED_PRECONDITION",
    errno.EISDIR: "FAILED_PRECONDITION",
    errno.ENOTEMPTY: "FAILED_PRECONDITION",
    errno.ELOOP: "FAILED_PRECONDITION",
    errno.EBUSY: "FAILED_PRECONDITION",
    errno.ENOSPC: "RESOURCE_EXHAUSTED",
    errno.EDQUOT: "RESOURCE_EXHAUSTED",
    errno.EMFILE: "RESOURCE_EXHAUSTED",
    errno.ENFILE: "RESOURCE_EXHAUSTED",
    errno.EFBIG: "OUT_OF_RANGE",
    errno.ENAMETOOLONG: "INVALID_ARGUMENT",
    errno.EINVAL: "INVALID_ARGUMENT",
    errno.EAGAIN: "UNAVAILABLE",
    errno.EINTR: "UNAVAILABLE",
    errno.EIO: "DATA_LOSS",
}


def quote(path: str) -> str:
    """A path quoted as TensorStore's messages do (C escapes for unprintable bytes)."""
    out = []
    for b in os.fsencode(path):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}.get(b, f"\\x{b:02x}"))
    return '"' + "".join(out) + '"'


def status_from_os_error(exc: OSError, what: str) -> StatusError:
    """An OSError as a TensorStore status: code from errno, message naming the operation."""
    code = _ERRNO_CODES.get(exc.errno or 0, "UNKNOWN")
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return StatusError(code, f"{what}: {reason} [os_error_code='{exc.errno}']")


_U64 = 0xFFFFFFFFFFFFFFFF
_GENERATION_VALUES = struct.Struct("<3Q")
_IOV_MAX = 1024  # buffers per pwritev call (Linux's UIO_MAXIOV)
_HAVE_PWRITEV = hasattr(os, "pwritev")


def file_generation(st: os.stat_result) -> bytes:
    """`gen.from_values(dev, ino, mtime_ns)`, packed in one call (every read makes one)."""
    return b"\x00" + _GENERATION_VALUES.pack(st.st_dev & _U64, st.st_ino & _U64, st.st_mtime_ns & _U64)


#: keys found valid -> their path (the same metadata and chunk keys are read again and again)
_valid_paths: dict[bytes, str] = {}
_VALID_PATHS = 4096


def _valid_key_path(path: str) -> bool:
    """A usable file path: no NUL, no trailing '/', no '.', '..' or empty components (other
    than the root's), and no component ending in the lock suffix."""
    if not path or "\0" in path or path.endswith("/"):
        return False
    parts = path.split("/")
    if parts[0] == "":
        parts = parts[1:]  # absolute path
    for part in parts:
        if part in ("", ".", "..") or part.endswith(LOCK_SUFFIX):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Spec.


class FileDriverSpec(KvStoreDriverSpec):
    id = "file"
    url_scheme = "file"
    resource_members = {
        "file_io_concurrency": "file_io_concurrency",
        "file_io_locking": "file_io_locking",
        "file_io_mode": "file_io_mode",
        "file_io_retries": "file_io_retries",
        "file_io_sync": "file_io_sync",
    }

    @classmethod
    def from_url(cls, url: str) -> dict:
        raw, _decoded = split_url(url, "file")
        slash = raw.find("/")
        authority = raw if slash < 0 else raw[:slash]
        if authority:
            raise invalid_argument(f"file: URIs do not support authority: {dumps(authority)}")
        from .driver import percent_decode_path

        path = percent_decode_path(raw)
        if not path.startswith("/"):
            raise invalid_argument(f"file: URIs do not support relative paths: {dumps(path)}")
        return {"driver": "file", "path": path}

    def to_url(self, path: str) -> str:
        if not path.startswith("/"):
            raise invalid_argument(f"file: URIs do not support relative paths: {dumps(path)}")
        return "file://" + percent_encode_path(path, "@")

    def open(self, resources: dict[str, Resource]) -> "FileDriver":
        return FileDriver(self, resources)


# ---------------------------------------------------------------------------------------------
# Locking.


_FLOCK_FORMAT = "hhqqi4x"  # struct flock on 64-bit Linux: type, whence, start, len, pid


def _ofd_lock(fd: int, exclusive: bool = True) -> None:
    lock_type = fcntl.F_WRLCK if exclusive else fcntl.F_UNLCK
    request = struct.pack(_FLOCK_FORMAT, lock_type, os.SEEK_SET, 0, 0, 0)
    if hasattr(fcntl, "F_OFD_SETLKW"):
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, request)
    else:  # pragma: no cover - non-Linux fallback: BSD/macOS flock is the same lock family
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN)


class _LockedFile:
    """An open, exclusively held ``<key>.__lock`` file (see the module docstring)."""

    def __init__(self, lock_path: str, fd: int):
        self.lock_path = lock_path
        self.fd = fd

    @classmethod
    def acquire_os(cls, lock_path: str) -> "_LockedFile":
        fd = _open_lock(lock_path)
        while True:
            try:
                _ofd_lock(fd)
                current = _open_lock(lock_path)
            except BaseException:
                os.close(fd)
                raise
            mine, theirs = os.fstat(fd), os.fstat(current)
            if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
                os.close(current)
                return cls(lock_path, fd)
            # The previous holder renamed or removed the file we locked: lock the new one.
            os.close(fd)
            fd = current

    @classmethod
    def acquire_exclusive(cls, lock_path: str, timeout_s: float) -> "_LockedFile":
        """``lockfile`` mode: whoever creates the file (O_EXCL) holds the lock."""
        deadline = time.monotonic() + timeout_s
        delay_ms, n = 0, 0
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
                return cls(lock_path, fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise status_from_os_error(exc, f"Failed to open lock file: {quote(lock_path)}") from None
            if time.monotonic() >= deadline:
                raise deadline_exceeded(f"Failed to open lock file: {quote(lock_path)}")
            delay_ms = min(1000, delay_ms + n * n + 1)
            n += 1
            time.sleep(delay_ms / 1000)

    @classmethod
    def unique(cls, lock_path: str) -> "_LockedFile":
        """``none`` mode: a private temporary file, no exclusion."""
        base = lock_path[: -len(LOCK_SUFFIX)]
        path = f"{base}_{uuid.uuid4().hex[:16]}{LOCK_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise status_from_os_error(exc, f"Failed to open lock file: {quote(path)}") from None
        return cls(path, fd)

    def delete(self) -> None:
        """Removes the lock file (while still holding it) and releases the lock."""
        try:
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _open_lock(lock_path: str) -> int:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise status_from_os_error(exc, f"Failed to open lock file: {quote(lock_path)}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise failed_precondition(f"Not a regular file: {quote(lock_path)}")
    return fd


# ---------------------------------------------------------------------------------------------
# The driver.


class FileDriver(KvStoreDriver):
    """Blocking file operations run on the context's ``file_io_concurrency`` pool."""

    # A read of a few chunks from the page cache takes less time than handing it to a pool
    # thread and waking the caller again (and the GIL changing hands on the way): measured
    # with 4 chunks of 512 KiB (bench_zarr's tiny strided and vindex reads), a pool thread
    # helping the caller cost more CPU than it saved wall time on two loaded cores.
    inline_read_chunks = 4
    writes_parts = True  # a `ByteParts` value is written part after part (see `_write_locked`)

    def __init__(self, spec: FileDriverSpec, resources: dict[str, Resource]):
        super().__init__(spec, resources)
        self._io = resources["file_io_concurrency"]
        self.sync: bool = resources["file_io_sync"].spec
        locking = resources["file_io_locking"].spec
        self.locking_mode: str = locking.get("mode", "os")
        timeout = locking.get("acquire_timeout")
        self.lock_timeout_s = 60.0 if timeout is None else _duration_seconds(timeout)

    def describe_key(self, key: bytes) -> str:
        """How TensorStore names a key of this driver in messages."""
        return f"local file {quote(os.fsdecode(key))}"

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _path_of(key: bytes) -> str:
        path = _valid_paths.get(key) if type(key) is bytes else None
        if path is not None:
            return path
        path = os.fsdecode(key)
        if not _valid_key_path(path):
            raise invalid_argument(f"Invalid key: {quote(path)}")
        if type(key) is bytes:
            if len(_valid_paths) >= _VALID_PATHS:
                _valid_paths.clear()
            _valid_paths[key] = path
        return path

    @property
    def executor(self) -> Any:
        """The context's file I/O pool (looked up per call so forked children get their own)."""
        return self._io.executor  # type: ignore[attr-defined]

    def _run(self, fn: Callable[..., Any], *args: Any) -> Future:
        return submit(self.executor, fn, *args)

    # -- read -------------------------------------------------------------------------------

    def read(self, key: bytes, options: ReadOptions) -> Future[ReadResult]:
        path = self._path_of(key)
        return self._run(self._read_task, path, options)

    def read_now(self, key: bytes, options: ReadOptions) -> ReadResult:
        return self._read_task(self._path_of(key), options)

    @property
    def read_now_executor(self) -> Any:
        return self._io.executor  # type: ignore[attr-defined]

    def _read_task(self, path: str, options: ReadOptions) -> ReadResult:
        now = time.time()
        byte_range = options.byte_range
        condition = _fileio_condition(options) if _fileio is not None else None
        if condition is not None and (byte_range is None or byte_range[1] is None or byte_range[1] >= 0):
            lo, hi = (0, -1) if byte_range is None else (byte_range[0], -1 if byte_range[1] is None else byte_range[1])
            step, data, values, err = _fileio.read(os.fsencode(path), lo, hi, *condition)
            if step == _fileio.CONDITION:
                return ReadResult._make("unspecified", b"", TimestampedStorageGeneration._make(_values_generation(values), now))
            if step == _fileio.RANGE:
                resolve_byte_range(byte_range, err)  # raises OUT_OF_RANGE, worded as TensorStore
            if step:
                raise _step_error(step, err, path)
            if data is None:
                return apply_read(None, gen.NO_VALUE, options, now)
            return ReadResult._make("value", data, TimestampedStorageGeneration._make(_values_generation(values), now))
        fd = _open_value(path)
        if fd is None:
            return apply_read(None, gen.NO_VALUE, options, now)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                return apply_read(None, gen.NO_VALUE, options, now)
            if not stat.S_ISREG(st.st_mode):
                raise failed_precondition(f"Not a regular file: {quote(path)}")
            generation = file_generation(st)
            if options.if_equal or options.if_not_equal:
                probe = apply_read(b"", generation, ReadOptions(options.if_equal, options.if_not_equal), now)
                if probe.state == "unspecified":
                    return probe
            start, stop = resolve_byte_range(options.byte_range, st.st_size)
            data = _pread_all(fd, start, stop - start, path)
            return ReadResult("value", data, TimestampedStorageGeneration(generation, now))
        finally:
            os.close(fd)

    # -- write / delete ---------------------------------------------------------------------

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future[TimestampedStorageGeneration]:
        path = self._path_of(key)
        if value is None:
            return self._run(self._delete_task, path, options)
        return self._run(self._write_task, path, _written_form(value), options)

    def write_now(self, key: bytes, value: bytes | None, options: WriteOptions) -> TimestampedStorageGeneration:
        path = self._path_of(key)
        if value is None:
            return self._delete_task(path, options)
        return self._write_task(path, _written_form(value), options)

    def _acquire(self, path: str) -> _LockedFile:
        lock_path = path + LOCK_SUFFIX
        if self.locking_mode == "lockfile":
            return _LockedFile.acquire_exclusive(lock_path, self.lock_timeout_s)
        if self.locking_mode in ("none", "non_atomic"):
            return _LockedFile.unique(lock_path)
        try:
            return _LockedFile.acquire_os(lock_path)
        except OSError as exc:
            raise status_from_os_error(exc, f"Failed to acquire lock on file: {quote(lock_path)}") from None

    def _write_task(self, path: str, value: bytes, options: WriteOptions) -> TimestampedStorageGeneration:
        if self.locking_mode == "os" and _fileio is not None and _fileio.OFD_LOCKS:
            return _write_locked(path, value, options, self.sync)
        now = time.time()
        dir_fd = _open_parent_directory(path)
        try:
            if self.locking_mode == "non_atomic" and not options.if_equal:
                return TimestampedStorageGeneration(self._write_in_place(path, value), now)
            lock = self._acquire(path)
            renamed = False
            try:
                if options.if_equal and not condition_matches(_current_generation(path), options.if_equal):
                    return TimestampedStorageGeneration(gen.UNKNOWN, now)
                _write_all(lock.fd, value, lock.lock_path)
                if self.sync:
                    os.fsync(lock.fd)
                st = os.fstat(lock.fd)
                try:
                    os.rename(lock.lock_path, path)
                except OSError as exc:
                    raise status_from_os_error(
                        exc, f"Failed to rename fd: {lock.fd} {quote(lock.lock_path)} to: {quote(path)}"
                    ) from None
                renamed = True
                if self.sync:
                    os.fsync(dir_fd)
                return TimestampedStorageGeneration(file_generation(st), now)
            finally:
                if renamed:
                    lock.close()
                else:
                    lock.delete()
        finally:
            os.close(dir_fd)

    def _write_in_place(self, path: str, value: bytes) -> bytes:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise status_from_os_error(exc, f"Failed to open file: {quote(path)}") from None
        try:
            _write_all(fd, value, path)
            if self.sync:
                os.fsync(fd)
            return file_generation(os.fstat(fd))
        finally:
            os.close(fd)

    def _delete_task(self, path: str, options: WriteOptions) -> TimestampedStorageGeneration:
        now = time.time()
        dir_fd = _open_parent_directory(path)
        try:
            lock = self._acquire(path) if self.locking_mode in ("os", "lockfile") else None
            try:
                if options.if_equal and not condition_matches(_current_generation(path), options.if_equal):
                    return TimestampedStorageGeneration(gen.UNKNOWN, now)
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise status_from_os_error(exc, f"Failed to delete file: {quote(path)}") from None
            finally:
                if lock is not None:
                    lock.delete()
            if self.sync:
                os.fsync(dir_fd)
            return TimestampedStorageGeneration(gen.NO_VALUE, now)
        finally:
            os.close(dir_fd)

    # -- ranges -----------------------------------------------------------------------------

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Future[list[bytes]]:
        self._check_range(key_range)
        return self._run(self._list_task, key_range, strip_prefix_length)

    def _list_task(self, key_range: KeyRange, strip: int) -> list[bytes]:
        keys: list[bytes] = []

        def on_file(full: bytes, entry_path: str) -> None:
            if not full.endswith(LOCK_SUFFIX.encode()):
                keys.append(full[strip:])

        _walk(key_range, on_file, None)
        keys.sort()
        return keys

    def delete_range(self, key_range: KeyRange) -> Future[None]:
        if key_range.empty:
            from ..future import ready

            return ready(None)
        self._check_range(key_range)
        return self._run(self._delete_range_task, key_range)

    def _delete_range_task(self, key_range: KeyRange) -> None:
        def on_file(full: bytes, entry_path: str) -> None:
            try:
                os.unlink(entry_path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise status_from_os_error(exc, f"Failed to remove file: {quote(entry_path)}") from None

        def on_dir(entry_path: str) -> None:
            try:
                os.rmdir(entry_path)
            except (FileNotFoundError, OSError) as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    raise status_from_os_error(exc, f"Failed to remove directory: {quote(entry_path)}") from None

        _walk(key_range, on_file, on_dir)

    def _check_range(self, key_range: KeyRange) -> None:
        prefix = longest_prefix(key_range)
        slash = prefix.rfind(b"/")
        if slash > 0:
            directory = os.fsdecode(prefix[:slash])
            if not _valid_key_path(directory):
                raise invalid_argument(f"Invalid key: {quote(directory)}")


def _duration_seconds(text: str) -> float:
    from ..context import parse_duration

    return parse_duration(text) / 1e9


# ---------------------------------------------------------------------------------------------
# Filesystem helpers (run on executor threads).


def _write_locked(path: str, value: "bytes | ByteParts", options: WriteOptions, sync: bool) -> TimestampedStorageGeneration:
    """A write in ``os`` locking mode through `_fileio`: an unconditional one in one call (lock,
    fill, sync, rename, sync the directory); one with ``if_equal`` in two, to compare the
    value's generation while holding the lock."""
    now = time.time()
    lock_path = path + LOCK_SUFFIX
    encoded, encoded_lock = os.fsencode(path), os.fsencode(lock_path)
    directory = os.fsencode(os.path.dirname(path) or ".")
    data = value.parts if isinstance(value, ByteParts) else value
    if not options.if_equal:
        # Unconditional: lock and store in one call, so the GIL is given up once per write.
        step, err, values = _fileio.write(encoded, encoded_lock, directory, data, sync)
        if step == _fileio.OPEN_DIRECTORY:
            os.close(_open_parent_directory(path))  # missing ancestors are made here
            step, err, values = _fileio.write(encoded, encoded_lock, directory, data, sync)
        if step:
            raise _step_error(step, err, path, values)
        return TimestampedStorageGeneration(_values_generation(values), now)
    step, dir_fd, fd, current = _fileio.lock(encoded, encoded_lock, directory, True)
    if step == _fileio.OPEN_DIRECTORY:
        # Missing ancestors are made here, with the messages of a directory that cannot be.
        os.close(_open_parent_directory(path))
        step, dir_fd, fd, current = _fileio.lock(encoded, encoded_lock, directory, True)
    if step:
        raise _step_error(step, dir_fd, path)
    if current == "other":
        _fileio.release(dir_fd, fd, encoded_lock)
        raise failed_precondition(f"Not a regular file: {quote(path)}")
    generation = gen.NO_VALUE if current is None or current == "dir" else _values_generation(current)
    if not condition_matches(generation, options.if_equal):
        _fileio.release(dir_fd, fd, encoded_lock)
        return TimestampedStorageGeneration(gen.UNKNOWN, now)
    step, err, values = _fileio.store(dir_fd, fd, encoded_lock, encoded, data, sync)
    if step:
        raise _step_error(step, err, path, fd)
    return TimestampedStorageGeneration(_values_generation(values), now)


def _fileio_condition(options: ReadOptions) -> tuple | None:
    """`_fileio.read`'s (condition, dev, ino, mtime_ns) for a read's options; None where the
    read's condition is not one it can test (both set, or a generation not of a file)."""
    if_equal, if_not_equal = options.if_equal, options.if_not_equal
    if not if_equal and not if_not_equal:
        return (0, 0, 0, 0)
    if if_equal and if_not_equal:
        return None
    identity = generation_identity(if_equal or if_not_equal)
    return None if identity is None else (1 if if_equal else 2, *identity)


def generation_identity(generation: bytes) -> tuple[int, int, int] | None:
    """The (dev, ino, mtime_ns) of a file that `file_generation` gave `generation`; None for
    a generation of anything else."""
    if len(generation) != 1 + _GENERATION_VALUES.size or generation[0] != 0:
        return None
    return _GENERATION_VALUES.unpack_from(generation, 1)


def _values_generation(values: tuple) -> bytes:
    """`file_generation` of `_fileio`'s (dev, ino, mtime_ns, size)."""
    return b"\x00" + _GENERATION_VALUES.pack(values[0], values[1], values[2])


def _step_error(step: int, err: int, path: str, fd: int = -1) -> StatusError:
    """The error of a failed `_fileio` step, worded as the Python steps word it."""
    lock_path = path + LOCK_SUFFIX
    if step == _fileio.LOCK_NOT_REGULAR:
        return failed_precondition(f"Not a regular file: {quote(lock_path)}")
    if step == _fileio.VALUE_NOT_REGULAR:
        return failed_precondition(f"Not a regular file: {quote(path)}")
    if step == _fileio.LENGTH_CHANGED:
        from ..errors import unavailable

        return unavailable(f"Length changed while reading: {quote(path)}")
    what = {
        _fileio.OPEN_DIRECTORY: f"Failed to open directory: {quote(os.path.dirname(path) or '.')}",
        _fileio.OPEN_LOCK: f"Failed to open lock file: {quote(lock_path)}",
        _fileio.ACQUIRE_LOCK: f"Failed to acquire lock on file: {quote(lock_path)}",
        _fileio.WRITE: f"Failed writing: {quote(lock_path)}",
        _fileio.SYNC: f"Failed to sync: {quote(lock_path)}",
        _fileio.RENAME: f"Failed to rename fd: {fd} {quote(lock_path)} to: {quote(path)}",
        _fileio.SYNC_DIRECTORY: f"Failed to sync directory: {quote(os.path.dirname(path) or '.')}",
        _fileio.OPEN_VALUE: f"Error opening file: {quote(path)}",
        _fileio.STAT_VALUE: f"Error opening file: {quote(path)}",
        _fileio.READ: f"Error reading file: {quote(path)}",
    }.get(step, f"Error accessing file: {quote(path)}")
    return status_from_os_error(OSError(err, os.strerror(err)), what)


def _open_value(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:
        raise status_from_os_error(exc, f"Error opening file: {quote(path)}") from None


def _current_generation(path: str) -> bytes:
    fd = _open_value(path)
    if fd is None:
        return gen.NO_VALUE
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return gen.NO_VALUE
        if not stat.S_ISREG(st.st_mode):
            raise failed_precondition(f"Not a regular file: {quote(path)}")
        return file_generation(st)
    finally:
        os.close(fd)


def _pread_all(fd: int, offset: int, size: int, path: str) -> bytes:
    chunks, done = [], 0
    while done < size:
        chunk = os.pread(fd, size - done, offset + done)
        if not chunk:
            from ..errors import unavailable

            raise unavailable(f"Length changed while reading: {quote(path)}")
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _written_form(value: Any) -> "bytes | ByteParts":
    """A write's value as `_write_all` takes it: bytes, or the parts of a `ByteParts`."""
    return value if type(value) is bytes or isinstance(value, ByteParts) else bytes(value)


def _write_all(fd: int, value: "bytes | ByteParts", path: str) -> None:
    if os.fstat(fd).st_size > len(value):
        os.ftruncate(fd, 0)
    try:
        if isinstance(value, ByteParts):
            _pwritev_all(fd, value.parts)
            return
        view = memoryview(value)
        offset = 0
        while offset < len(view):
            offset += os.pwrite(fd, view[offset:], offset)
    except OSError as exc:
        raise status_from_os_error(exc, f"Failed writing: {quote(path)}") from None


def _pwritev_all(fd: int, parts: list[memoryview]) -> None:
    """Writes `parts` one after the other from offset 0, resuming after short writes."""
    offset = 0
    pending = list(parts)
    while pending:
        batch = pending[:_IOV_MAX]
        done = os.pwritev(fd, batch, offset) if _HAVE_PWRITEV else os.pwrite(fd, batch[0], offset)
        if done <= 0:
            raise OSError(errno.EIO, "pwritev wrote nothing")
        offset += done
        # Drop what was written; a part written in part stays as its remainder.
        i = 0
        while i < len(batch) and done >= batch[i].nbytes:
            done -= batch[i].nbytes
            i += 1
        pending = pending[i:]
        if done:
            pending[0] = pending[0][done:]


def _open_parent_directory(path: str) -> int:
    """Creates missing ancestors of `path`; returns an open descriptor of its directory."""
    parent = os.path.dirname(path) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except FileExistsError:
        raise failed_precondition(
            f"Failed to open directory: {quote(parent)}: Not a directory [os_error_code='{errno.ENOTDIR}']"
        ) from None
    except OSError as exc:
        raise status_from_os_error(exc, f"Failed to make directory: {quote(parent)}") from None
    try:
        return os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise status_from_os_error(exc, f"Failed to open directory: {quote(parent)}") from None


def _walk(
    key_range: KeyRange,
    on_file: Callable[[bytes, str], None],
    on_dir: Callable[[str], None] | None,
) -> None:
    """Visits files whose path lies in `key_range` (depth first), then, for `on_dir`, each
    directory whose whole subtree lies in the range, after its contents."""
    prefix = longest_prefix(key_range)
    slash = prefix.rfind(b"/")
    root = prefix[: slash + 1] if slash >= 0 else b""
    # Directory entries are matched as bytes so undecodable names survive the round trip.
    _walk_dir(root, key_range, contains_prefix(key_range, root) if root else False, on_file, on_dir)


def _walk_dir(
    dir_key: bytes,
    key_range: KeyRange,
    fully_contained: bool,
    on_file: Callable[[bytes, str], None],
    on_dir: Callable[[str], None] | None,
) -> None:
    dir_path = os.fsdecode(dir_key) if dir_key else "."
    try:
        entries = list(os.scandir(dir_path))
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise status_from_os_error(exc, f"Failed to open directory: {quote(dir_path)}") from None
    for entry in entries:
        name = os.fsencode(entry.name)
        full = dir_key + name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            sub = full + b"/"
            if fully_contained or intersects_prefix(key_range, sub):
                inner = fully_contained or contains_prefix(key_range, sub)
                _walk_dir(sub, key_range, inner, on_file, on_dir)
                if inner and on_dir is not None:
                    on_dir(os.fsdecode(full))
        elif fully_contained or contains(key_range, full):
            on_file(full, os.fsdecode(full))


register_kvstore_driver("file", FileDriverSpec, url_scheme="file")

