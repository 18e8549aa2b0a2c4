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


def _status_kib(field: str) -> int | None:
    """A size (KiB) from /proc/self/status, or None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    peak = _status_kib("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if peak is None else peak


def current_rss_kib() -> int:
    """This process's resident set now (VmRSS; 0 where /proc is missing)."""
    return _status_kib("VmRSS") or 0


def reset_peak_rss() -> None:
    """Lowers VmHWM to the current resident set (Linux >= 4.0), so the peak measured after a run
    is the run's own and not that of the set-up before it (making test data, imports)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure(fn: Callable[[], object]) -> dict:
    """Runs `fn`; its wall and CPU seconds (all threads), the peak resident memory during it and
    the resident memory before it, and the minor page faults it took (a sign of memory first
    touched, or copied on write)."""
    rss_before = current_rss_kib()
    reset_peak_rss()
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    return {"wall": wall, "cpu": cpu, "peak_mib": peak_rss_kib() / 1024, "rss_before_mib": rss_before / 1024,
            "minor_faults": faults}


def timed(fn: Callable[[], object]) -> None:
    """Runs `fn` and prints its wall and CPU seconds and the peak memory as one JSON line."""
    print(json.dumps(measure(fn)))


def median_of(runs: list, key: str) -> float:
    return statistics.median(r[key] for r in runs)


def ratios(results: dict, libs: list, workloads: list, base: str = BASE, key: str = "wall") -> dict:
    """{(lib, workload): median `key` (wall, cpu) / base's median} for every pair measured."""
    out = {}
    for w in workloads:
        if not results.get((base, w)):
            continue
        ref = max(1e-9, median_of(results[(base, w)], key))
        for lib in libs:
            if results.get((lib, w)):
                out[(lib, w)] = median_of(results[(lib, w)], key) / ref
    return out


def geomeans(results: dict, libs: list, workloads: list, base: str = BASE) -> dict:
    """Per library: the geometric means of its wall-time and CPU-time ratios to `base`, and how
    many workloads they are taken over (a library that lacks a workload is left out of it)."""
    wall = ratios(results, libs, workloads, base)
    cpu = ratios(results, libs, workloads, base, "cpu")
    out = {}
    for lib in libs:
        ws = [w for w in workloads if (lib, w) in wall]
        if ws:
            out[lib] = {"geomean": math.exp(sum(math.log(wall[(lib, w)]) for w in ws) / len(ws)),
                        "geomean_cpu": math.exp(sum(math.log(max(1e-9, cpu[(lib, w)])) for w in ws) / len(ws)),
                        "workloads": len(ws)}
    return out


def print_table(results: dict, libs: list, workloads: list, names: dict, width: int = 24,
                base: str = BASE) -> None:
    """Medians (wall, min-max, CPU, peak memory) per workload and library, the ratios of each
    library's median wall time, CPU time and peak memory to `base`'s, and the geometric means of
    the wall and CPU ratios.  A (library, workload) pair without results is a workload that
    library lacks."""
    print(f"{'workload':{width}} {'library':20} {'median s':>9} {'spread s':>15} {'cpu s':>7} {'peak MiB':>9}"
          f" {'/ts':>6} {'cpu/ts':>7} {'mem/ts':>7}")
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
            ratio = cpu_ratio = mem = ""
            if base_runs:
                ratio = f"{med / median_of(base_runs, 'wall'):6.2f}"
                cpu_ratio = f"{cpu / max(1e-9, median_of(base_runs, 'cpu')):7.2f}"
                mem = f"{peak / max(1e-9, median_of(base_runs, 'peak_mib')):7.2f}"
            print(f"{names[w]:{width}} {lib:20} {med:9.3f} {min(walls):7.3f}-{max(walls):7.3f} {cpu:7.3f} {peak:9.0f}"
                  f" {ratio:>6} {cpu_ratio:>7} {mem:>7}")
    for lib, g in geomeans(results, libs, workloads, base).items():
        if lib != base:
            print(f"geometric mean of {lib}/{base}: wall {g['geomean']:.2f}, cpu {g['geomean_cpu']:.2f} "
                  f"(over {g['workloads']} workloads)")
