"""Progress display for long operations: a bar redrawn in place on a terminal, plain periodic
lines elsewhere (a pipe, a log file), both fed by `tensorstore_py.statistics` reports."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, TextIO

from ..statistics import IoStatistics

__all__ = ["ProgressDisplay", "human_bytes", "human_duration"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressDisplay:
    """Turns `IoStatistics` reports into progress output on `stream`.

    `done_of(stats)` says how many of `total` units (`unit`: "elements", "chunks" ...) are done
    (by default: elements written); `itemsize` converts units to bytes for the rate.  On a terminal (``tty``) the
    bar is redrawn at most every `min_interval` seconds; otherwise one line is printed per
    `line_interval` seconds, and one at the end.
    """

    def __init__(
        self,
        total: int,
        label: str = "copy",
        itemsize: int = 1,
        stream: TextIO | None = None,
        tty: bool | None = None,
        done_of: Callable[[IoStatistics], float] | None = None,
        line_interval: float = 2.0,
        min_interval: float = 0.1,
        width: int = 30,
        unit: str = "elements",
    ):
        self.total = max(0, int(total))
        self.label = label
        self.itemsize = itemsize
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.done_of = done_of or (lambda s: s.elements_written)
        self.line_interval = line_interval
        self.min_interval = min_interval
        self.width = width
        self.unit = unit
        self._last = float("-inf")
        self._lock = threading.Lock()

    def line(self, stats: IoStatistics) -> str:
        done = min(self.total, int(self.done_of(stats))) if self.total else int(self.done_of(stats))
        frac = done / self.total if self.total else 1.0
        elapsed = stats.elapsed_seconds
        rate = done * self.itemsize / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) * self.itemsize / rate if rate > 0 and done < self.total else 0.0
        parts = [
            f"{self.label}: {frac * 100:5.1f}%",
            f"{done}/{self.total} {self.unit}",
            human_bytes(done * self.itemsize),
            f"{human_bytes(rate)}/s",
            f"elapsed {human_duration(elapsed)}",
        ]
        if not stats.finished:
            parts.append(f"ETA {human_duration(eta)}" if rate > 0 else "ETA --:--")
        if self.tty:
            filled = int(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            return f"{parts[0]} |{bar}| " + " ".join(parts[1:])
        return " ".join(parts)

    def __call__(self, stats: IoStatistics) -> None:
        now = time.monotonic()
        with self._lock:
            interval = self.min_interval if self.tty else self.line_interval
            if not stats.finished and (now - self._last < interval or self.done_of(stats) >= self.total > 0):
                return  # too soon, or complete: the final report follows
            self._last = now
            text = self.line(stats)
            if self.tty:
                self.stream.write("\r\x1b[K" + text + ("\n" if stats.finished else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def report_interval(self) -> float:
        """How often the recorder should call us."""
        return self.min_interval if self.tty else min(self.line_interval, 0.5)

