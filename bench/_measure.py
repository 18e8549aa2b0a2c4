"""What the side-by-side benchmarks share: a worker's measurement of one run, and the table of
medians the driver prints (one process per measurement, rounds interleaved)."""

from __future__ import annotations

import json
import math
import resource
import statistics
import time
from typing import Callable, Optional

BASE = "tensorstore"


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


def reset_peak_rss() -> None:
    """Lowers VmHWM to the current resident set (Linux >= 4.0), so the peak measured after a run
    is the run's own and not that of the set-up before it (making test data, imports)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure(fn: Callable[[], object]) -> dict:
    """Runs `fn`; its wall and CPU seconds (all threads) and the peak resident memory during it."""
    reset_peak_rss()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "peak_mib": peak_rss_kib() / 1024}


def timed(fn: Callable[[], object]) -> None:
    """Runs `fn` and prints its wall and CPU seconds and the peak memory as one JSON line."""
    print(json.dumps(measure(fn)))


def median_of(runs: list, key: str) -> float:
    return statistics.median(r[key] for r in runs)


def ratios(results: dict, libs: list, workloads: list, base: str = BASE) -> dict:
    """{(lib, workload): median wall / base's median wall} for every pair measured."""
    out = {}
    for w in workloads:
        if not results.get((base, w)):
            continue
        ref = median_of(results[(base, w)], "wall")
        for lib in libs:
            if results.get((lib, w)):
                out[(lib, w)] = median_of(results[(lib, w)], "wall") / ref
    return out


def geomeans(results: dict, libs: list, workloads: list, base: str = BASE) -> dict:
    """Per library: the geometric mean of its wall-time ratios to `base`, and how many workloads
    it is taken over (a library that cannot run a workload is left out of that one)."""
    r = ratios(results, libs, workloads, base)
    out = {}
    for lib in libs:
        values = [r[(lib, w)] for w in workloads if (lib, w) in r]
        if values:
            out[lib] = {"geomean": math.exp(sum(math.log(v) for v in values) / len(values)), "workloads": len(values)}
    return out


def print_table(results: dict, libs: list, workloads: list, names: dict, width: int = 24,
                base: str = BASE) -> None:
    """Medians (wall, min-max, CPU, peak memory) per workload and library, the ratio of each
    library's median wall time and median peak memory to `base`'s, and the geometric mean of the
    wall ratios.  A (library, workload) pair without results is a workload that library lacks."""
    print(f"{'workload':{width}} {'library':20} {'median s':>9} {'spread s':>15} {'cpu s':>7} {'peak MiB':>9}"
          f" {'/ts':>6} {'mem/ts':>7}")
    for w in workloads:
        base_runs: Optional[list] = results.get((base, w))
        for lib in libs:
            rs = results.get((lib, w))
            if not rs:
                print(f"{names[w]:{width}} {lib:20} {'n/a':>9}")
                continue
            walls = [r["wall"] for r in rs]
            med = statistics.median(walls)
            cpu = median_of(rs, "cpu")
            peak = median_of(rs, "peak_mib")
            ratio = mem = ""
            if base_runs:
                ratio = f"{med / median_of(base_runs, 'wall'):6.2f}"
                mem = f"{peak / max(1e-9, median_of(base_runs, 'peak_mib')):7.2f}"
            print(f"{names[w]:{width}} {lib:20} {med:9.3f} {min(walls):7.3f}-{max(walls):7.3f} {cpu:7.2f} {peak:9.0f}"
                  f" {ratio:>6} {mem:>7}")
    for lib, g in geomeans(results, libs, workloads, base).items():
        if lib != base:
            print(f"geometric mean of {lib}/{base} wall ratios: {g['geomean']:.2f} (over {g['workloads']} workloads)")
