"""What the side-by-side benchmarks share: a worker's measurement of one run, and the table of
medians the driver prints (one process per measurement, rounds interleaved)."""

from __future__ import annotations

import json
import resource
import statistics
import time
from typing import Callable


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(fn: Callable[[], object]) -> None:
    """Runs `fn` and prints its wall and CPU seconds and the peak memory as one JSON line."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mib": peak_rss_kib() / 1024}))


def print_table(results: dict, libs: list, workloads: list, names: dict, width: int = 24) -> None:
    """Medians (wall, min-max, CPU, peak memory) per workload and library, and the ratio of each
    library's median wall time to tensorstore's."""
    print(f"{'workload':{width}} {'library':16} {'median s':>9} {'spread s':>15} {'cpu s':>7} {'peak MiB':>9} {'/ts':>6}")
    for w in workloads:
        base = statistics.median(r["wall"] for r in results[("tensorstore", w)])
        for lib in libs:
            rs = results[(lib, w)]
            walls = [r["wall"] for r in rs]
            med = statistics.median(walls)
            cpu = statistics.median(r["cpu"] for r in rs)
            peak = statistics.median(r["peak_mib"] for r in rs)
            print(f"{names[w]:{width}} {lib:16} {med:9.3f} {min(walls):7.3f}-{max(walls):7.3f} {cpu:7.2f} {peak:9.0f} {med / base:6.2f}")
