"""The Cython CRC-32C kernel against google-crc32c: both paths (CPU instruction and tables),
every length and alignment around the three-stream stripes, continuation, buffer kinds, and the
GIL released on big buffers."""

from __future__ import annotations

import os
import threading
import time

import google_crc32c
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py._ext import crc32c as kernel
from tensorstore_py.codecs import Crc32cCodec
from tensorstore_py.codecs.crc32c import crc32c

PATHS = [True, False]  # hardware (when the CPU has it), tables
# The hardware path works in stripes of 3 x 4096 bytes: lengths on both sides of multiples.
STRIPE = 3 * 4096
LENGTHS = sorted({0, 1, 7, 8, 9, 63, 64, 4095, 4096, 4097}
                 | {k * STRIPE + d for k in (1, 2, 5) for d in (-9, -1, 0, 1, 8, 13)})


def test_check_value():
    # The standard check value of CRC-32C: the CRC of the ASCII digits 1..9.
    assert kernel.value(b"123456789") == 0xE3069283
    assert kernel.value(b"123456789", hardware=False) == 0xE3069283
    assert crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("hardware", PATHS)
@pytest.mark.parametrize("length", LENGTHS)
def test_lengths_and_alignments_match_google(length, hardware):
    blob = os.urandom(length + 8)
    for offset in (0, 1, 3, 8):
        data = memoryview(blob)[offset : offset + length]
        assert kernel.value(data, hardware=hardware) == google_crc32c.value(bytes(data))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40000), cut=st.integers(0, 40000), hardware=st.booleans())
def test_random_data_and_continuation(data, cut, hardware):
    expected = google_crc32c.value(data)
    assert kernel.value(data, hardware=hardware) == expected
    cut = min(cut, len(data))
    head = kernel.value(data[:cut], hardware=hardware)
    assert kernel.extend(head, data[cut:], hardware=hardware) == expected


def test_buffer_kinds():
    values = np.arange(5000, dtype=np.uint16)
    expected = google_crc32c.value(values.tobytes())
    for buf in (values, values.tobytes(), bytearray(values.tobytes()), memoryview(values)):
        assert kernel.value(buf) == expected
        assert crc32c(buf) == expected
    with pytest.raises((ValueError, BufferError)):
        kernel.value(values[::2])
    with pytest.raises(TypeError):
        kernel.value("not bytes")


def test_codec_appends_the_kernel_digest():
    body = os.urandom(70000)
    stored = bytes(Crc32cCodec().encode(body))
    assert stored[:-4] == body
    assert int.from_bytes(stored[-4:], "little") == google_crc32c.value(body)
    assert bytes(Crc32cCodec().decode(stored)) == body


def _progress_rate(call) -> float:
    """Iterations per second a counting Python thread makes while `call` runs here: a call
    that holds the GIL leaves it only the interpreter's switch slices."""
    stop = threading.Event()
    count = 0

    def counter():
        nonlocal count
        while not stop.is_set():
            count += 1

    t = threading.Thread(target=counter)
    t.start()
    time.sleep(0.02)
    before, begin = count, time.perf_counter()
    call()
    after, elapsed = count, time.perf_counter() - begin
    stop.set()
    t.join()
    return (after - before) / elapsed


# Wall-clock measurements depend on machine load: run on demand (TSPY_SLOW=1), as test_gil.py.
@pytest.mark.slow
@pytest.mark.parametrize("hardware", PATHS)
def test_gil_released_on_big_buffers(hardware):
    big = os.urandom(64 << 20)
    holding = _progress_rate(lambda: sum(big[: 8 << 20]))  # a C loop that keeps the GIL
    free = _progress_rate(lambda: [kernel.value(big, hardware=hardware)
                                   for _ in range(8 if hardware else 1)])
    assert free > 1.5 * holding, f"counter ran {free:.0f}/s beside the kernel, {holding:.0f}/s beside sum()"
