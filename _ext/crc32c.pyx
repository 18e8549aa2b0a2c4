# cython: language_level=3, boundscheck=False, wraparound=False
"""CRC-32C (Castagnoli) with the GIL released: the SSE4.2 crc32 instruction (three interleaved
streams) where the CPU has it, slicing-by-8 tables otherwise (see tsx_crc32c.h).

``value(data)`` is the CRC of a bytes-like object (C-contiguous, any format);
``extend(crc, data)`` continues a CRC over more bytes.  ``hardware=False`` forces the table
path, so both can be tested on one machine.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint32_t

cdef extern from "tsx_crc32c.h" nogil:
    int tsx_crc32c_setup()
    uint32_t tsx_crc32c_extend(uint32_t value, const unsigned char* p, size_t n, int hw)

cdef int _HW = tsx_crc32c_setup()

#: Whether the CPU instruction path is in use.
HARDWARE = bool(_HW)

# Below this many bytes, releasing and re-taking the GIL costs more than the CRC itself.
cdef size_t _NOGIL_MIN = 16384


cdef uint32_t _run(uint32_t crc, data, bint hardware) except? 0xFFFFFFFF:
    # A simple (contiguous, format-less) buffer request: no memoryview object per call, and
    # exporters refuse it for non-contiguous data.
    cdef Py_buffer buf
    PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
    cdef const unsigned char* p = <const unsigned char*>buf.buf
    cdef size_t n = <size_t>buf.len
    cdef int hw = _HW and hardware
    try:
        if n < _NOGIL_MIN:
            return tsx_crc32c_extend(crc, p, n, hw)
        with nogil:
            crc = tsx_crc32c_extend(crc, p, n, hw)
        return crc
    finally:
        PyBuffer_Release(&buf)


def value(data, hardware: bool = True) -> int:
    """The CRC-32C of `data` (any C-contiguous buffer)."""
    return _run(0, data, hardware)


def extend(crc: int, data, hardware: bool = True) -> int:
    """The CRC-32C of the bytes whose CRC is `crc` followed by `data`."""
    return _run(<uint32_t>crc, data, hardware)
