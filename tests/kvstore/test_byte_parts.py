"""`ByteParts`: a value written part after part (zarr3 shards on the file store)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tensorstore_py.kvstore import file as file_store
from tensorstore_py.kvstore.byte_parts import ByteParts


def _parts() -> tuple[ByteParts, bytes]:
    rng = np.random.default_rng(3)
    pieces = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (5, 0, 70_000, 1, 300)]
    return ByteParts([memoryview(p) for p in pieces]), b"".join(pieces)


def test_length_join_and_equality():
    parts, joined = _parts()
    assert len(parts) == len(joined) and bytes(parts) == joined
    assert len(parts.parts) == 4  # the empty piece is dropped
    assert parts == joined and parts == bytearray(joined) and parts == ByteParts([joined])
    changed = bytearray(joined)
    changed[70_003] ^= 1
    assert parts != bytes(changed)
    assert parts != joined[:-1]
    assert (parts == 3) is False
    assert parts[3:70_010] == joined[3:70_010]


def test_parts_of_other_types_are_flattened():
    array = np.arange(6, dtype="<u2").reshape(2, 3)
    parts = ByteParts([array, b"xy"])
    assert bytes(parts) == array.tobytes() + b"xy"


@pytest.mark.parametrize("iov_max", [1024, 2])
def test_file_store_writes_parts(tmp_path, monkeypatch, iov_max):
    monkeypatch.setattr(file_store, "_IOV_MAX", iov_max)
    parts, joined = _parts()
    path = tmp_path / "value"
    path.write_bytes(b"z" * (len(joined) + 100))  # longer before: truncated
    fd = os.open(path, os.O_RDWR)
    try:
        file_store._write_all(fd, parts, str(path))
    finally:
        os.close(fd)
    assert path.read_bytes() == joined


def test_short_writes_resume(tmp_path, monkeypatch):
    parts, joined = _parts()
    real = os.pwritev

    def short(fd, buffers, offset):  # at most 7 bytes per call: partial parts must resume
        head = b"".join(bytes(b) for b in buffers)[:7]
        return real(fd, [head], offset)

    monkeypatch.setattr(os, "pwritev", short)
    path = tmp_path / "value"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        file_store._write_all(fd, ByteParts([joined[:20], joined[20:40], joined[40:60]]), str(path))
    finally:
        os.close(fd)
    assert path.read_bytes() == joined[:60]
