"""Shared helpers for the codec tests: asking the reference TensorStore for normalised JSON and
moving raw chunk bytes between it and our codecs through a file kvstore."""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
import tensorstore as ref

ZARR_PREFIX = 'Error parsing object member "metadata": Error parsing object member "compressor": '
N5_PREFIX = 'Error parsing object member "metadata": Error parsing object member "compression": '


def ref_normalise(flavour: str, j: Any) -> tuple:
    """("ok", normalised json) or ("err", message relative to the codec member) per reference."""
    member, driver, prefix = (("compressor", "zarr", ZARR_PREFIX) if flavour == "zarr"
                              else ("compression", "n5", N5_PREFIX))
    try:
        store = ref.open({"driver": driver, "kvstore": "memory://", "metadata": {member: j}},
                         create=True, dtype=ref.int32, shape=[4]).result()
    except ValueError as exc:
        msg = str(exc)
        return ("err", msg[len(prefix):] if msg.startswith(prefix) else msg)
    return ("ok", store.spec().to_json()["metadata"][member])


def ours_normalise(flavour: str, j: Any) -> tuple:
    from tensorstore_py import codecs

    parse = codecs.zarr_compressor_from_json if flavour == "zarr" else codecs.n5_compression_from_json
    try:
        codec = parse(j)
    except ValueError as exc:
        return ("err", str(exc))
    return ("ok", None if codec is None else codec.to_json())


# ---------------------------------------------------------------------------------------------
# Raw chunk exchange.  Both drivers use one chunk covering the whole 1-D array, key "0".


def ref_write_zarr_chunk(path: str, compressor: Any, array: np.ndarray) -> bytes:
    """Writes `array` as a single-chunk zarr array with the reference; returns the chunk bytes."""
    store = ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path},
                      "metadata": {"compressor": compressor, "chunks": [array.size]}},
                     create=True, delete_existing=True, dtype=array.dtype.name,
                     shape=[array.size]).result()
    store.write(array).result()
    with open(os.path.join(path, "0"), "rb") as f:
        return f.read()


def ref_read_zarr_chunk(path: str, compressor: Any, dtype: np.dtype, size: int,
                        chunk: bytes) -> np.ndarray:
    """Creates a single-chunk zarr array, plants `chunk` as its only chunk, reads it back."""
    store = ref.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path},
                      "metadata": {"compressor": compressor, "chunks": [size]}},
                     create=True, delete_existing=True, dtype=np.dtype(dtype).name,
                     shape=[size]).result()
    with open(os.path.join(path, "0"), "wb") as f:
        f.write(chunk)
    return store.read().result()


def _n5_header(size: int) -> bytes:
    # Default block mode 0, one dimension, big-endian.
    return struct.pack(">HHI", 0, 1, size)


def ref_write_n5_block(path: str, compression: Any, array: np.ndarray) -> bytes:
    """Writes `array` as a single-block n5 dataset; returns the compressed part of the block."""
    store = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": path},
                      "metadata": {"compression": compression, "blockSize": [array.size]}},
                     create=True, delete_existing=True, dtype=array.dtype.name,
                     shape=[array.size]).result()
    store.write(array).result()
    with open(os.path.join(path, "0"), "rb") as f:
        block = f.read()
    header = _n5_header(array.size)
    assert block[:len(header)] == header
    return block[len(header):]


def ref_read_n5_block(path: str, compression: Any, dtype: np.dtype, size: int,
                      payload: bytes) -> np.ndarray:
    store = ref.open({"driver": "n5", "kvstore": {"driver": "file", "path": path},
                      "metadata": {"compression": compression, "blockSize": [size]}},
                     create=True, delete_existing=True, dtype=np.dtype(dtype).name,
                     shape=[size]).result()
    with open(os.path.join(path, "0"), "wb") as f:
        f.write(_n5_header(size) + payload)
    return store.read().result()


def sample_array(dtype: str, size: int, seed: int = 0) -> np.ndarray:
    """Compressible but not trivial data: a ramp plus noise."""
    rng = np.random.default_rng(seed)
    base = np.arange(size) % 251 + rng.integers(0, 4, size)
    return base.astype(dtype)


def longest_stall_during(fn) -> tuple[float, float]:
    """(longest pause of this thread's Python loop, total time) while `fn` runs on a thread.

    A call that holds the GIL stalls the loop for about its whole duration.
    """
    import threading
    import time

    done = threading.Event()
    worker = threading.Thread(target=lambda: (fn(), done.set()))
    start = last = time.perf_counter()
    longest = 0.0
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    worker.join()
    return longest, time.perf_counter() - start
