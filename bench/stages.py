"""Where the time goes, by stage, from a py-spy profile in raw (collapsed-stack) form.

    .venv/bin/python bench/bench_zarr.py --data /tmp/bz --repeat 1 --loops 20 \\
        --only small_reads --lib tensorstore_py --py-spy prof.txt
    .venv/bin/python bench/stages.py prof.txt [--rate 100] [--top 8]

(bench_zarr.py's --py-spy attaches `py-spy record --native --threads -f raw` to itself for just
the measured body; a profile of a whole command, `py-spy record --native --threads -f raw -o
prof.txt -- COMMAND`, reads the same way, imports and set-up included.)

Each sample (one stack of one thread) is given one stage: a thread blocked on a lock, queue or
condition is "wait"; a stack under an import is "import"; otherwise the innermost frame that
belongs to a known part decides (so a memcpy under blosc is decode, under the copy kernel copy):

  fsync     blocked in fsync (the file kvstore makes each write durable: wall time, not CPU)
  kvstore   tensorstore_py/kvstore, and the file system calls (pread, open, fstat, ...)
  decode    codecs: tensorstore_py/codecs, blosc, zlib/deflate, zstd, numcodecs (encode too)
  copy      the Cython copy kernels (copy.pyx) and numpy's array assignment
  plan      index transforms, the chunk grid (grid.pyx), partitioning a request into chunks
  futures   tensorstore_py/future.py, concurrent.futures' Future, asyncio
  hops      hand-offs between threads: executor queues (submit, worker loop), waking a thread
            (sem_post, pthread_cond_signal: also the GIL passing between threads)
  gc        the cyclic garbage collector (allocation churn of the frames above)
  glue      the rest of tensorstore_py (driver, tensorstore.py, context, batch, metrics, ...)
  other     everything else (the benchmark harness, numpy outside assignment, Python itself)

Samples of a thread are that thread's wall time (rate = samples per second); the table gives
them per thread group (MainThread, each executor pool), busy and waiting, and the modules that
make up "glue".  With several threads busy at once, the busy samples of all threads add up to
more than the wall time: compare within a thread, or the busy total with the CPU time.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

# tensorstore (C++) waiting on a Future, for a profile of it
CXX_WAITS = re.compile(r"InterruptibleWaitImpl|FutexWaiter::WaitUntil|absl::Mutex::Await|CondVar::WaitCommon")
WAIT_FRAMES = re.compile(
    r"^(PyThread_acquire_lock_timed|lock_PyThread_acquire_lock|acquire_timed|pthread_cond_(timed)?wait|"
    r"sem_(timed|clock)?wait|epoll_wait|select|poll|__futex_abstimed_wait|futex_wait|do_futex_wait|nanosleep|clock_nanosleep) \((libc|libpthread|libpython)")
NATIVE = r"\((libc|libpthread|libpython)[^)]*\)$"  # C frames of the system and the interpreter, not Python ones
# Checked from the innermost frame outwards: the first that matches names the stage.
RULES = [
    ("decode", re.compile(r"blosc|numcodecs|zlib|deflate|inflate|libz\.|zstd|lz4|LZ4|snappy|tensorstore_py/codecs/|"
                          r"compressed_segmentation|crc32c")),
    ("fsync", re.compile(r"^(fsync|fdatasync|os_fsync|os_fdatasync) " + NATIVE)),
    ("kvstore", re.compile(r"tensorstore_py/kvstore/|^(pread64|pwrite64|read|write|open64|openat64|__open|fstat|"
                           r"fstatat64|statx|rename|unlink|close|fsync|os_\w+_impl|os_stat|os_open|os_read|"
                           r"os_pread|os_write|os_replace|os_fstat|posix_do_stat) " + NATIVE)),
    ("copy", re.compile(r"copy\.pyx|tensorstore_py/_ext/copy|PyArray_AssignArray|raw_array_assign|PyArray_CopyInto|"
                        r"array_assign_subscript|array_assign_boolean|mapiter_|PyArray_MoveInto|_strided_to_strided|"
                        r"_aligned_contig|_contig_to_contig|_aligned_strided")),
    ("plan", re.compile(r"tensorstore_py/index/|grid\.pyx|tensorstore_py/_ext/grid|tensorstore_py/driver/partition\.py")),
    ("futures", re.compile(r"tensorstore_py/future\.py|concurrent/futures/_base\.py|asyncio/")),
    ("hops", re.compile(r"concurrent/futures/thread\.py|_queuemodule|queue\.py|threading\.py|"
                            r"^(sem_post|pthread_cond_(signal|broadcast)|PyThread_release_lock) " + NATIVE)),
    ("gc", re.compile(r"^(gc_collect\w*|_PyObject_GC_\w+|collect_with_callback) " + NATIVE)),
    ("glue", re.compile(r"tensorstore_py/")),
]
STAGES = ["fsync", "kvstore", "decode", "copy", "plan", "futures", "hops", "gc", "glue", "other", "import", "wait"]
MODULE = re.compile(r"\((tensorstore_py/[\w/]+\.py)")


def thread_group(frame: str) -> str:
    """'thread (123): tensorstore_py-file_io_concurrency_2' -> 'tensorstore_py-file_io_concurrency'."""
    name = frame.split(":", 1)[1].strip() if ":" in frame else "unnamed thread"
    return re.sub(r"[_-]?\d+$", "", name) or name


def classify(frames: list[str]) -> tuple[str, str]:
    """(stage, the tensorstore_py module the sample is in, for the glue breakdown)."""
    inner = frames[-6:]
    if any(WAIT_FRAMES.match(f) or CXX_WAITS.search(f) for f in inner):
        return "wait", ""
    if any("<frozen importlib" in f for f in frames):
        return "import", ""
    module = ""
    for f in reversed(frames):
        m = MODULE.search(f)
        if m and not module:
            module = m.group(1)
    for f in reversed(frames):
        for stage, pattern in RULES:
            if pattern.search(f):
                return stage, module
    return "other", module


def load(path: str) -> list[tuple[list[str], int]]:
    samples = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            stack, _, count = line.rpartition(" ")
            samples.append((stack.split(";"), int(count)))
    return samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="py-spy record -f raw output (with --threads for per-thread rows)")
    parser.add_argument("--rate", type=float, default=100.0, help="the -r given to py-spy (samples per second)")
    parser.add_argument("--top", type=int, default=8, help="glue modules to list")
    args = parser.parse_args(argv)

    by_group: dict = collections.defaultdict(collections.Counter)
    glue_modules: collections.Counter = collections.Counter()
    for frames, count in load(args.profile):
        group = thread_group(frames[0]) if frames[0].startswith("thread (") else "all threads"
        stage, module = classify(frames)
        by_group[group][stage] += count
        if stage == "glue":
            glue_modules[module] += count

    width = max(len(g) for g in by_group) if by_group else 10
    print(f"{'thread':{width}} " + " ".join(f"{s:>8}" for s in STAGES) + f" {'busy s':>8}")
    total = collections.Counter()
    for group, counts in sorted(by_group.items(), key=lambda kv: -sum(kv[1].values())):
        busy = sum(v for s, v in counts.items() if s != "wait")
        n = sum(counts.values())
        print(f"{group:{width}} " + " ".join(f"{100 * counts[s] / n:7.1f}%" for s in STAGES) + f" {busy / args.rate:8.2f}")
        total.update(counts)
    busy_total = sum(v for s, v in total.items() if s not in ("wait",))
    if busy_total:
        print(f"\nbusy samples of all threads, by stage ({busy_total / args.rate:.2f} s at {args.rate:g}/s):")
        for s in STAGES:
            if s != "wait" and total[s]:
                print(f"  {s:9} {100 * total[s] / busy_total:5.1f}%  {total[s] / args.rate:7.2f} s")
    if glue_modules:
        print("glue, by innermost tensorstore_py module:")
        glue = sum(glue_modules.values())
        for module, n in glue_modules.most_common(args.top):
            print(f"  {module:50} {100 * n / glue:5.1f}% of glue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
