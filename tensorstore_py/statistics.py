"""What an operation cost, and how far along it is: I/O statistics and progress reports.

Both are read from the process-wide counters of `tensorstore_py.metrics` (TensorStore's metric
names): a `Recorder` takes a snapshot when it starts, and its `statistics` are the difference
between the counters now and then.  So they cover everything the process did while the
recorder ran; run one operation at a time (as the command-line tool does) and they are that
operation's costs exactly.

    >>> from tensorstore_py import statistics
    >>> with statistics.record() as rec:                      # doctest: +SKIP
    ...     store.write(data).result()
    >>> rec.statistics.chunks_written, rec.statistics.bytes_written   # doctest: +SKIP

Progress: ``record(progress=callback, interval=0.5)`` calls ``callback(stats)`` from a
background thread every `interval` seconds while the block runs, and once more at its end with
``stats.finished`` true.  `track(future, ...)` does the same for an operation's Future,
stopping when it completes.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Callable

from . import metrics

__all__ = ["IoStatistics", "Recorder", "record", "track"]


@dataclasses.dataclass
class IoStatistics:
    """Counts between two moments.  Bytes and requests are those of the storage drivers
    (adapters such as zip read through another store, whose bytes are the ones counted);
    `by_driver` gives each driver's own counts, adapters included.  Seconds of I/O are summed
    over requests (concurrent requests overlap, so this may exceed `elapsed_seconds`)."""

    elapsed_seconds: float = 0.0
    chunks_read: int = 0
    chunks_written: int = 0
    elements_read: int = 0
    elements_written: int = 0
    kvstore_reads: int = 0
    kvstore_writes: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_evictions: int = 0
    retries: int = 0
    io_seconds: float = 0.0
    decode_seconds: float = 0.0
    encode_seconds: float = 0.0
    copy_seconds: float = 0.0
    by_driver: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    #: set on the final progress report of a recorder
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_Snapshot = dict[str, dict[tuple, Any]]


def _value(snap: _Snapshot, name: str) -> float:
    rows = snap.get(name, {})
    return sum(v for v in rows.values()) if rows else 0


def _hist(snap: _Snapshot, name: str) -> tuple[int, float]:
    """(count, sum) of a histogram."""
    rows = snap.get(name, {})
    count = sum(r[0] for r in rows.values())
    total = sum(r[3] for r in rows.values())
    return count, total


def difference(after: _Snapshot, before: _Snapshot, elapsed: float = 0.0) -> IoStatistics:
    """The `IoStatistics` of what happened between two `metrics.snapshot()`s."""

    def d(name: str) -> float:
        return _value(after, name) - _value(before, name)

    stats = IoStatistics(elapsed_seconds=elapsed)
    stats.chunks_read = int(d(metrics.CHUNK_READS.name))
    stats.chunks_written = int(d(metrics.CHUNK_WRITES.name))
    stats.elements_read = int(d(metrics.ELEMENTS_READ.name))
    stats.elements_written = int(d(metrics.ELEMENTS_WRITTEN.name))
    stats.cache_hits = int(d(metrics.CACHE_HIT.name))
    stats.cache_misses = int(d(metrics.CACHE_MISS.name))
    stats.cache_evictions = int(d(metrics.CACHE_EVICT.name))
    stats.retries = int(d(metrics.TRANSACTION_RETRIES.name) + d(metrics.HTTP_RETRIES.name))
    stats.decode_seconds = d(metrics.DECODE_SECONDS.name)
    stats.encode_seconds = d(metrics.ENCODE_SECONDS.name)
    stats.copy_seconds = d(metrics.COPY_SECONDS.name)
    prefix = "/tensorstore/kvstore/"
    drivers = {name[len(prefix):].split("/")[0] for name in after if name.startswith(prefix) and name.count("/") == 4}
    for driver in sorted(drivers):
        p = f"{prefix}{driver}/"
        rc, rsum = _hist(after, p + "read_latency_ms")
        rc0, rsum0 = _hist(before, p + "read_latency_ms")
        wc, wsum = _hist(after, p + "write_latency_ms")
        wc0, wsum0 = _hist(before, p + "write_latency_ms")
        row = {
            "reads": d(p + "read"), "writes": d(p + "write"),
            "bytes_read": d(p + "bytes_read"), "bytes_written": d(p + "bytes_written"),
            "lists": d(p + "list"), "delete_ranges": d(p + "delete_range"),
            "io_seconds": ((rsum - rsum0) + (wsum - wsum0)) / 1000.0,
        }  # fmt: skip
        if not any(row.values()):
            continue
        stats.by_driver[driver] = row
        if driver in metrics.ADAPTER_DRIVERS:
            continue
        stats.kvstore_reads += int(row["reads"])
        stats.kvstore_writes += int(row["writes"])
        stats.bytes_read += int(row["bytes_read"])
        stats.bytes_written += int(row["bytes_written"])
        stats.io_seconds += row["io_seconds"]
    return stats


class Recorder:
    """Counts from its start; optionally reports progress from a background thread."""

    def __init__(self, progress: Callable[[IoStatistics], Any] | None = None, interval: float = 0.5):
        self.progress = progress
        self.interval = interval
        self._start = metrics.snapshot()
        self._t0 = time.perf_counter()
        self._final: IoStatistics | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if progress is not None:
            self._thread = threading.Thread(target=self._report, name="tensorstore_py-progress", daemon=True)
            self._thread.start()

    @property
    def statistics(self) -> IoStatistics:
        """The counts so far (final once the recorder is stopped)."""
        if self._final is not None:
            return self._final
        return difference(metrics.snapshot(), self._start, time.perf_counter() - self._t0)

    def _report(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.progress(self.statistics)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a failing observer must not kill the operation
                pass

    def stop(self) -> IoStatistics:
        if self._final is None:
            final = self.statistics
            final.finished = True
            self._final = final
            self._stop.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join()
            if self.progress is not None:
                self.progress(final)
        return self._final

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def record(progress: Callable[[IoStatistics], Any] | None = None, interval: float = 0.5) -> Recorder:
    """A `Recorder` started now: ``with record() as rec: ...``; then ``rec.statistics``."""
    return Recorder(progress, interval)


def track(future: Any, progress: Callable[[IoStatistics], Any] | None = None, interval: float = 0.5) -> Recorder:
    """A `Recorder` that stops when `future` (any operation's Future, e.g. a write's
    ``commit``) completes, successfully or not."""
    rec = Recorder(progress, interval)
    future.add_done_callback(lambda _: rec.stop())
    return rec
