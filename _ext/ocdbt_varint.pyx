# cython: language_level=3
"""LEB128 varint columns of OCDBT nodes: decoding with every byte bounds-checked, and encoding.

OCDBT stores each field of a node's entries as a column of varints; these loops run per entry
and dominate decoding and encoding of large leaves in pure Python.
"""

from libc.stdint cimport uint64_t


class VarintError(ValueError):
    """Malformed or out-of-bounds varint data (the caller names what was being decoded)."""


def read_varints(const unsigned char[::1] data, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t count, object limit):
    """``(values, new_pos)``: `count` varints from ``data[pos:end]``, each at most `limit`."""
    cdef uint64_t value, lim
    cdef unsigned int shift
    cdef unsigned char b
    cdef Py_ssize_t i
    if end > data.shape[0] or pos < 0 or pos > end or count < 0:
        raise VarintError("invalid bounds")
    if count > end - pos:
        raise VarintError(f"{count} varints cannot fit in the {end - pos} bytes left at byte {pos}")
    lim = <uint64_t>limit
    out = [None] * count
    for i in range(count):
        value = 0
        shift = 0
        while True:
            if pos >= end:
                raise VarintError(f"Truncated varint at byte {pos}")
            b = data[pos]
            pos += 1
            if shift == 63 and b > 1:
                raise VarintError(f"Varint overflows 64 bits at byte {pos}")
            value |= (<uint64_t>(b & 0x7F)) << shift
            if b < 0x80:
                break
            shift += 7
        if value > lim:
            raise VarintError(f"Value {value} at byte {pos} exceeds the limit of {lim}")
        out[i] = value
    return out, pos


def write_varints(bytearray out, values):
    """Appends each of `values` (non-negative, below 2**64) to `out` as a varint."""
    cdef unsigned char buf[10]
    cdef int n
    cdef uint64_t v
    for item in values:
        v = <uint64_t>item
        n = 0
        while v >= 0x80:
            buf[n] = <unsigned char>((v & 0x7F) | 0x80)
            v >>= 7
            n += 1
        buf[n] = <unsigned char>v
        n += 1
        out += (<char*>buf)[:n]
