"""zarr v2 workloads side by side: tensorstore_py, tensorstore (C++) twice, zarr-python 2.

    .venv/bin/python bench/bench_zarr.py [--scale small|medium] [--repeat 5] [--copy-mib 256]
        [--only read,small_reads,...] [--lib tensorstore_py,...] [--json PATH]

A float32 array (16 MiB at --scale small, 64 x 64 x 32 chunks) on a file kvstore, written once
by tensorstore with blosc (and again uncompressed, as n5 and as neuroglancer precomputed), and
a --copy-mib source for the copy.  The workloads (keys for --only) are in WORKLOADS below.

Every measurement runs in a fresh worker process, so the peak memory is that run's own; within
each of --repeat rounds, every workload is measured once per library, the libraries in a
shuffled order.  Reported per workload and library: the median wall time, its min-max spread,
the median CPU time (process_time: all threads), the median peak resident memory during the
run (VmHWM, reset just before it), and the ratios of wall time and peak memory to tensorstore's.
"tensorstore (again)" is tensorstore measured a second time as if it were another library: its
ratio is the noise floor of the run.  A library that lacks a workload (zarr-python 2 has no
asyncio API and no precomputed driver) shows n/a and is left out of its geometric mean.
Every workload's values are compared across libraries (a digest of what was read, or of the
array read back after a write); a mismatch is reported and the exit status is 1.

For a profiler: --lib and --only select one library and workload, --data DIR keeps the
prepared arrays between runs, --in-process measures in this process (no worker), --loops N
repeats the measured body, and --yappi wall|cpu profiles just the measured body with yappi.
bench/README.md shows the commands.  This is a benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_store_copy  # noqa: E402
from _measure import geomeans, measure, median_of, print_table, ratios  # noqa: E402

SCALES = {
    # shape, chunks
    "tiny": ((64, 64, 32), (32, 32, 16)),
    "small": ((256, 256, 64), (64, 64, 32)),
    "medium": ((512, 512, 128), (64, 64, 64)),
}
GZIP = {"id": "gzip", "level": 5}
BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}
N5_BLOSC = {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}
TINY_REPEATS = 50  # tiny index reads are repeated so that one measurement is not all start-up

WORKLOADS = {
    "write": "write whole array",
    "read": "read whole array",
    "unaligned_read": "unaligned read",
    "rmw": "unaligned read-modify-write",
    "small_reads": "300 small reads",
    "opens": "200 opens",
    "gzip": "gzip round trip",
    "raw_read": "uncompressed read",
    "n5_read": "n5 read",
    "precomputed_read": "precomputed read",
    "copy": "zarr copy (dst.write(src))",
    "gather_reads": "100 gathered reads",
    "gather_writes": "100 gathered writes",
    "strided": f"{TINY_REPEATS} tiny strided reads",
    "vindex": f"{TINY_REPEATS} tiny vindex reads",
    "oindex": f"{TINY_REPEATS} tiny oindex reads",
}
# Workloads that write: each measurement gets a scratch path, a copy of the blosc array for these.
SCRATCH_FROM_BLOSC = {"rmw", "gather_writes"}
SCRATCH = SCRATCH_FROM_BLOSC | {"write", "gzip", "copy"}

LIBS = {
    # name: module (None: zarr-python)
    "tensorstore_py": "tensorstore_py",
    "tensorstore": "tensorstore",
    "tensorstore (again)": "tensorstore",
    "zarr-python": None,
}


# ---------------------------------------------------------------------------------------------
# The data and the selections every library is given.


def make_data(shape) -> np.ndarray:
    """Smooth-ish values plus noise: compressors have something realistic to do."""
    rng = np.random.default_rng(0)
    data = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) % 1000
    data += rng.random(shape, dtype=np.float32)
    return data


class Selections:
    """The boxes and index arrays of the workloads, the same for every library."""

    def __init__(self, shape, chunks):
        self.shape, self.chunks = tuple(shape), tuple(chunks)
        rng = np.random.default_rng(1)
        self.unaligned = tuple(slice(c // 2 + 1, s - c // 3) for s, c in zip(shape, chunks))
        self.rmw_region = tuple(slice(c // 2, c // 2 + c) for c in chunks)
        self.small_boxes = [self._box(p, 4) for p in rng.integers(0, np.array(shape) - 4, size=(300, 3))]
        self.gather_read_boxes = [self._box(p, 4) for p in rng.integers(0, np.array(shape) - 4, size=(100, 3))]
        # Writes that run concurrently must not overlap, or the result would depend on their order:
        # 4^3 boxes on a lattice of pitch 8.
        cells = [(a, b, c) for a in range(shape[0] // 8) for b in range(shape[1] // 8) for c in range(shape[2] // 8)]
        picked = rng.choice(len(cells), size=100, replace=False)
        self.gather_write_boxes = [self._box(np.array(cells[i]) * 8 + 2, 4) for i in picked]
        self.strided = np.s_[::7, 3:40:5, 1]
        s0, s1, s2 = shape
        self.vindex = ([3, s0 // 4 + 6, s0 // 2 + 2, 3 * s0 // 4 + 1], [5, 6, s1 // 2 + 7, 8], [1, 2, 3, s2 - 4])
        self.oindex = ([1, 5, 9], [2, chunks[1] - 4, chunks[1] + 6], [3])

    @staticmethod
    def _box(p, n: int) -> tuple:
        return tuple(slice(int(x), int(x) + n) for x in p)


def digest(values) -> str:
    """A short digest of what a workload read (one array or a list of them)."""
    h = hashlib.sha1()
    for a in values if isinstance(values, list) else [values]:
        a = np.ascontiguousarray(a, dtype=np.float32)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# One adapter per API: tensorstore_py and tensorstore share one.


class TensorStoreLike:
    gathers = True
    precomputed = True

    def __init__(self, module_name: str):
        self.ts = importlib.import_module(module_name)
        self.module_name = module_name

    def create(self, path: str, shape, chunks, compressor):
        return self.ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path},
                             "metadata": {"shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
                                          "compressor": compressor}},
                            create=True, delete_existing=True).result()

    def open(self, path: str):
        return self.ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}).result()

    def open_n5(self, path: str):
        return self.ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": path}}).result()

    def open_precomputed(self, path: str):
        return self.ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path}}).result()

    def read(self, store, index=Ellipsis):
        return store[index].read().result()

    def write(self, store, index, data) -> None:
        store[index].write(data).result()

    def vindex(self, store, index):
        return store.vindex[index].read().result()

    def oindex(self, store, index):
        return store.oindex[index].read().result()

    def gather_reads(self, store, boxes) -> Callable[[], list]:
        loop = asyncio.new_event_loop()

        async def reads():
            return await asyncio.gather(*(store[b].read() for b in boxes))

        return lambda: loop.run_until_complete(reads())

    def gather_writes(self, store, boxes, patches) -> Callable[[], object]:
        loop = asyncio.new_event_loop()

        async def writes():
            await asyncio.gather(*(store[b].write(p) for b, p in zip(boxes, patches)))

        return lambda: loop.run_until_complete(writes())

    def copy(self, src_path: str, dst_path: str, metadata: dict) -> Callable[[], object]:
        src, dst = bench_store_copy.open_pair(self.ts, src_path, dst_path, metadata)
        return lambda: dst.write(src).result()


class ZarrPython:
    gathers = False  # zarr-python 2 has no asyncio API
    precomputed = False

    def __init__(self):
        warnings.simplefilter("ignore", FutureWarning)  # N5Store's deprecation notice
        import numcodecs
        import zarr

        self.zarr, self.numcodecs = zarr, numcodecs

    def create(self, path, shape, chunks, compressor):
        codec = None if compressor is None else self.numcodecs.get_codec(dict(compressor))
        return self.zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f4", compressor=codec)

    def open(self, path):
        return self.zarr.open(path, mode="r+")

    def open_n5(self, path):
        # zarr-python's N5Store wants the array below an n5 container root (see prepare()).
        root, name = os.path.split(path.rstrip("/"))
        return self.zarr.open_array(self.zarr.N5Store(root), path=name, mode="r")

    def read(self, store, index=Ellipsis):
        return store[index]

    def write(self, store, index, data) -> None:
        store[index] = data

    def vindex(self, store, index):
        return store.vindex[index]

    def oindex(self, store, index):
        return store.oindex[index]

    def copy(self, src_path, dst_path, metadata):
        # No dst.write(src) in zarr-python 2: a slab of chunks at a time, as a user would.
        src = self.zarr.open(src_path, mode="r")
        dst = self.create(dst_path, metadata["shape"], metadata["chunks"], metadata["compressor"])
        step = metadata["chunks"][0]

        def copy():
            for z in range(0, src.shape[0], step):
                dst[z : z + step] = src[z : z + step]

        return copy


def adapter(lib: str):
    module = LIBS[lib]
    return ZarrPython() if module is None else TensorStoreLike(module)


def supports(lib: str, workload: str) -> bool:
    if LIBS[lib] is not None:
        return True
    return workload not in ("gather_reads", "gather_writes", "precomputed_read")


# ---------------------------------------------------------------------------------------------
# A worker: sets up one workload for one library and returns the body to measure.


def build(lib, workload: str, paths: dict, scratch: str, geometry: dict) -> tuple:
    """(body, check): `body` is what is measured; `check(result)` returns the digest of the values
    (what was read, or the array read back after a write), after the measurement."""
    shape, chunks = geometry["shape"], geometry["chunks"]
    sel = Selections(shape, chunks)

    def read_back(_result):
        return digest(lib.read(lib.open(scratch)))

    if workload == "write":
        data = make_data(shape)
        store = lib.create(scratch, shape, chunks, BLOSC)
        return (lambda: lib.write(store, Ellipsis, data)), read_back
    if workload in ("read", "unaligned_read", "small_reads", "opens", "strided", "vindex", "oindex"):
        store = lib.open(paths["blosc"])
        if workload == "read":
            return (lambda: lib.read(store)), digest
        if workload == "unaligned_read":
            return (lambda: lib.read(store, sel.unaligned)), digest
        if workload == "small_reads":
            return (lambda: [lib.read(store, b) for b in sel.small_boxes]), digest
        if workload == "opens":
            return (lambda: [lib.open(paths["blosc"]) for _ in range(200)]), None
        if workload == "strided":
            return (lambda: [lib.read(store, sel.strided) for _ in range(TINY_REPEATS)][-1]), digest
        if workload == "vindex":
            return (lambda: [lib.vindex(store, sel.vindex) for _ in range(TINY_REPEATS)][-1]), digest
        return (lambda: [lib.oindex(store, sel.oindex) for _ in range(TINY_REPEATS)][-1]), digest
    if workload == "rmw":
        store = lib.open(scratch)
        patch = np.ones(chunks, dtype=np.float32)
        return (lambda: lib.write(store, sel.rmw_region, patch)), read_back
    if workload == "gzip":
        data = make_data(shape)

        def round_trip():
            store = lib.create(scratch, shape, chunks, GZIP)
            lib.write(store, Ellipsis, data)
            return lib.read(store)

        return round_trip, digest
    if workload == "raw_read":
        store = lib.open(paths["raw"])
        return (lambda: lib.read(store)), digest
    if workload == "n5_read":
        store = lib.open_n5(paths["n5"])
        if isinstance(lib, ZarrPython):
            return (lambda: lib.read(store).T), digest  # zarr-python lists n5 dimensions reversed
        return (lambda: lib.read(store)), digest
    if workload == "precomputed_read":
        store = lib.open_precomputed(paths["precomputed"])
        return (lambda: lib.read(store)), digest
    if workload == "copy":
        z = geometry["copy_metadata"]["shape"][0] // 3
        return (lib.copy(paths["copy_src"], scratch, geometry["copy_metadata"]),
                lambda _: digest(lib.read(lib.open(scratch), np.s_[z : z + 8])))  # 8 planes: a cheap check
    if workload == "gather_reads":
        store = lib.open(paths["blosc"])
        return lib.gather_reads(store, sel.gather_read_boxes), digest
    if workload == "gather_writes":
        store = lib.open(scratch)
        patches = [np.full((4, 4, 4), i, dtype=np.float32) for i in range(len(sel.gather_write_boxes))]
        return lib.gather_writes(store, sel.gather_write_boxes, patches), read_back
    raise ValueError(f"unknown workload {workload!r}")


def run_in_process(lib_name: str, workload: str, paths: dict, scratch: str, geometry: dict, loops: int = 1,
                   yappi_clock: Optional[str] = None, py_spy: Optional[str] = None, py_spy_rate: int = 100) -> dict:
    """Measures one workload of one library in this process: `loops` runs of its body, under
    yappi or py-spy when asked (only the body: the set-up before it is not profiled)."""
    lib = adapter(lib_name)
    body, check = build(lib, workload, paths, scratch, geometry)
    result = [None]
    gc.collect()  # every measurement starts from a collected heap, whatever its set-up left

    def repeated():
        for _ in range(loops):
            result[0] = body()

    if yappi_clock:
        out = _under_yappi(repeated, yappi_clock, f"{lib_name} {workload}")
    elif py_spy:
        out = _under_py_spy(repeated, py_spy, py_spy_rate)
    else:
        out = measure(repeated)
    out["digest"] = check(result[0]) if check else None
    return out


def _under_yappi(fn: Callable[[], object], clock: str, title: str) -> dict:
    import yappi

    yappi.set_clock_type(clock)
    yappi.start(builtins=False, profile_threads=True)
    out = measure(fn)
    yappi.stop()
    print(f"--- yappi ({clock} clock), {title}: functions by total time (all threads)", file=sys.stderr)
    stats = yappi.get_func_stats()
    stats.sort("ttot", "desc")
    stats.print_all(out=sys.stderr, columns={0: ("name", 60), 1: ("ncall", 10), 2: ("tsub", 8), 3: ("ttot", 8),
                                              4: ("tavg", 8)})
    yappi.get_thread_stats().print_all(out=sys.stderr)
    yappi.clear_stats()
    return out


def _under_py_spy(fn: Callable[[], object], path: str, rate: int) -> dict:
    """py-spy attached to this process (native frames, one root frame per thread) for just `fn`;
    the output format follows the file name: .svg flame graph, .json speedscope, else raw
    collapsed stacks (what bench/stages.py reads)."""
    exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    fmt = "flamegraph" if path.endswith(".svg") else "speedscope" if path.endswith(".json") else "raw"
    proc = subprocess.Popen([exe, "record", "--pid", str(os.getpid()), "--native", "--threads", "-r", str(rate),
                             "-f", fmt, "-o", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # py-spy says when it samples
        lines.append(line)
        if "Sampling process" in line:
            break
    else:
        raise RuntimeError("py-spy did not start:\n" + "".join(lines))
    out = measure(fn)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=300)[0]
    print("".join(lines) + rest, file=sys.stderr, end="")
    return out


# ---------------------------------------------------------------------------------------------
# The driver.


def prepare(root: str, shape, chunks, copy_mib: int) -> dict:
    """The arrays the workloads share, written once by tensorstore; reused when `root` already
    holds the same ones (--data)."""
    marker = os.path.join(root, "prepared.json")
    wanted = {"shape": list(shape), "chunks": list(chunks), "copy_mib": copy_mib}
    paths = {name: os.path.join(root, name) for name in ("blosc", "raw", "precomputed", "copy_src")}
    paths["n5"] = os.path.join(root, "n5", "array")
    if os.path.exists(marker):
        with open(marker) as f:
            done = json.load(f)
        if done["wanted"] == wanted:
            return {"paths": paths, "copy_metadata": done["copy_metadata"]}
    import tensorstore as ts

    data = make_data(shape)
    for name, compressor in (("blosc", BLOSC), ("raw", None)):
        TensorStoreLike("tensorstore").create(paths[name], shape, chunks, compressor).write(data).result()
    ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": paths["n5"]},
             "metadata": {"dimensions": list(shape), "blockSize": list(chunks), "dataType": "float32",
                          "compression": N5_BLOSC}}, create=True, delete_existing=True).result().write(data).result()
    with open(os.path.join(root, "n5", "attributes.json"), "w") as f:
        json.dump({"n5": "2.5.0"}, f)  # the container root zarr-python's N5Store looks for
    shutil.rmtree(paths["precomputed"], ignore_errors=True)
    ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": paths["precomputed"] + "/"},
             "multiscale_metadata": {"type": "image", "data_type": "float32", "num_channels": 1},
             "scale_metadata": {"size": list(shape), "resolution": [8, 8, 8], "chunk_size": list(chunks),
                                "encoding": "raw"}},
            create=True).result().write(data[..., None]).result()
    copy_metadata = bench_store_copy.write_source(paths["copy_src"], copy_mib)
    with open(marker, "w") as f:
        json.dump({"wanted": wanted, "copy_metadata": copy_metadata}, f)
    return {"paths": paths, "copy_metadata": copy_metadata}


def scratch_root(root: str) -> str:
    # One per run: runs sharing a --data directory must not write into (or remove) each
    # other's destinations.
    return os.path.join(root, f"scratch-{os.getpid()}")


def fresh_scratch(workload: str, root: str, paths: dict) -> str:
    scratch = os.path.join(scratch_root(root), workload)
    shutil.rmtree(scratch, ignore_errors=True)
    if workload in SCRATCH_FROM_BLOSC:
        shutil.copytree(paths["blosc"], scratch)
    return scratch


class Worker:
    """A process per library that imports it once and forks a child per measurement: every
    measurement still runs in a process of its own (its own peak memory, nothing cached from the
    one before), without paying the library's import (seconds for tensorstore_py) each time.
    It is started single-threaded (OPENBLAS_NUM_THREADS=1) and runs nothing of the library
    before forking, so the children start clean.  --fresh-exec starts a new interpreter instead."""

    def __init__(self, lib: str, fresh_exec: bool = False):
        self.lib, self.fresh_exec = lib, fresh_exec
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self.proc = None
        if not fresh_exec:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--zygote", lib],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env)

    def run(self, job: dict) -> dict:
        if self.fresh_exec:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps({**job, "lib": self.lib})],
                                  capture_output=True, text=True, timeout=1800, env=self.env)
            if proc.returncode != 0:
                raise RuntimeError(f"{self.lib} {job['workload']} failed:\n{proc.stderr[-3000:]}")
            return json.loads(proc.stdout.strip().splitlines()[-1])
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        out = json.loads(line) if line else {"error": "the worker process ended"}
        if "error" in out:
            raise RuntimeError(f"{self.lib} {job['workload']} failed: {out['error']}")
        return out

    def close(self) -> None:
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


MADV_POPULATE_WRITE = 23  # Linux >= 5.14


def own_inherited_pages() -> None:
    """In a forked child: breaks copy-on-write on every page that the parent had present in a
    private writable mapping, so that the measurement does not pay a fault on the first write to
    each (the interpreter writes to much of its heap as it runs: reference counts, the adaptive
    bytecode's caches), as a fresh interpreter, whose pages are its own, does not."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    page = mmap.PAGESIZE
    with open("/proc/self/maps") as maps, open("/proc/self/pagemap", "rb") as pagemap:
        regions = []
        for line in maps:
            fields = line.split()
            if fields[1][:2] != "rw" or fields[1][3] != "p" or (len(fields) > 5 and fields[5] in ("[vvar]", "[vdso]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            regions.append((start, end))
        for start, end in regions:
            pagemap.seek(start // page * 8)
            present = (np.frombuffer(pagemap.read((end - start) // page * 8), dtype=np.uint64) >> 63).astype(np.int8)
            edges = np.flatnonzero(np.diff(np.concatenate(([0], present, [0]))))
            for first, stop in zip(edges[::2], edges[1::2]):  # runs of present pages
                libc.madvise(start + int(first) * page, int(stop - first) * page, MADV_POPULATE_WRITE)


def zygote(lib: str) -> None:
    """The loop of a Worker's process: one job per line in, one result per line out."""
    adapter(lib)  # the imports, and nothing else
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        print(f"warning: {lib} worker has {threads} threads before forking", file=sys.stderr)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                own_inherited_pages()
                out = run_in_process(lib, job["workload"], job["paths"], job["scratch"], job["geometry"], job["loops"])
            except BaseException as e:  # reported to the driver, which stops
                out, code = {"error": f"{type(e).__name__}: {e}"}, 1
                import traceback

                traceback.print_exc()
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0 and os.WIFSIGNALED(status):
            sys.stdout.write(json.dumps({"error": f"killed by signal {os.WTERMSIG(status)}"}) + "\n")
            sys.stdout.flush()


def names_for(copy_mib: int) -> dict:
    names = dict(WORKLOADS)
    names["copy"] = f"{copy_mib} MiB zarr copy"
    return names


def report(path: str, args, shape, chunks, geometry, libs, workloads, results, names, agree: dict) -> None:
    r = ratios(results, libs, workloads)
    r_cpu = ratios(results, libs, workloads, key="cpu")
    per_lib = {}
    for lib in libs:
        per_lib[lib] = {}
        for w in workloads:
            runs = results.get((lib, w))
            if not runs:
                continue
            walls = [x["wall"] for x in runs]
            per_lib[lib][names[w]] = {
                "median_s": median_of(runs, "wall"), "min_s": min(walls), "max_s": max(walls),
                "median_cpu_s": median_of(runs, "cpu"), "median_peak_mib": median_of(runs, "peak_mib"),
                "ratio": r.get((lib, w)), "cpu_ratio": r_cpu.get((lib, w)), "runs": runs,
            }
    meta = {
        "benchmark": "bench_zarr", "scale": args.scale, "shape": list(shape), "chunks": list(chunks),
        "copy_shape": geometry["copy_metadata"]["shape"], "copy_mib": args.copy_mib, "repeat": args.repeat,
        "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "libraries": libs,
        "workloads": {names[w]: w for w in workloads},
        # medians of wall time per library and workload name (what bench/plot.py draws)
        "seconds": {lib: {name: v["median_s"] for name, v in per_lib[lib].items()} for lib in libs},
        "results": per_lib,
        "geomean": geomeans(results, libs, workloads),
        "values_agree": {names[w]: ok for w, ok in agree.items()},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copy-mib", type=int, default=256, help="size of the copy workload's source")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads, comma-separated: " + ",".join(WORKLOADS))
    parser.add_argument("--lib", default=",".join(LIBS), help="libraries, comma-separated: " + ",".join(LIBS))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON (bench/plot.py reads it)")
    parser.add_argument("--data", metavar="DIR", help="keep the prepared arrays in DIR, and reuse them if there")
    parser.add_argument("--in-process", action="store_true", help="measure in this process, not a worker each")
    parser.add_argument("--loops", type=int, default=1, help="runs of the measured body per measurement")
    parser.add_argument("--yappi", choices=("wall", "cpu"), help="profile the measured body with yappi (in-process)")
    parser.add_argument("--py-spy", metavar="PATH", help="profile the measured body with py-spy --native (in-process): "
                        "PATH.svg flame graph, PATH.json speedscope, else raw stacks for bench/stages.py")
    parser.add_argument("--py-spy-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--fresh-exec", action="store_true",
                        help="a new interpreter per measurement, instead of a fork of one that imported the library")
    parser.add_argument("--worker", metavar="JOB", help=argparse.SUPPRESS)
    parser.add_argument("--zygote", metavar="LIB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.zygote:
        zygote(args.zygote)
        return 0
    if args.worker:
        job = json.loads(args.worker)
        out = run_in_process(job["lib"], job["workload"], job["paths"], job["scratch"], job["geometry"], job["loops"])
        print(json.dumps(out))
        return 0

    shape, chunks = SCALES[args.scale]
    workloads = [w for w in args.only.split(",") if w]
    libs = [lib for lib in args.lib.split(",") if lib]
    for w in workloads:
        if w not in WORKLOADS:
            parser.error(f"unknown workload {w!r}; known: {', '.join(WORKLOADS)}")
    for lib in libs:
        if lib not in LIBS:
            parser.error(f"unknown library {lib!r}; known: {', '.join(LIBS)}")
    in_process = args.in_process or bool(args.yappi) or bool(args.py_spy)
    root = args.data or tempfile.mkdtemp(prefix="tspy-bench-zarr-")
    os.makedirs(root, exist_ok=True)
    results: dict = {(lib, w): [] for lib in libs for w in workloads if supports(lib, w)}
    digests: dict = {w: {} for w in workloads}
    workers = {} if in_process else {lib: Worker(lib, args.fresh_exec) for lib in libs}
    try:
        prepared = prepare(root, shape, chunks, args.copy_mib)
        paths = prepared["paths"]
        geometry = {"shape": list(shape), "chunks": list(chunks), "copy_metadata": prepared["copy_metadata"]}
        for round_ in range(args.repeat):
            for w in workloads:
                order = [lib for lib in libs if supports(lib, w)]
                random.Random(round_ * 31 + sum(map(ord, w))).shuffle(order)
                for lib in order:
                    scratch = fresh_scratch(w, root, paths) if w in SCRATCH else ""
                    if in_process:
                        out = run_in_process(lib, w, paths, scratch, geometry, args.loops, args.yappi, args.py_spy,
                                             args.py_spy_rate)
                    else:
                        out = workers[lib].run({"workload": w, "paths": paths, "scratch": scratch,
                                                "geometry": geometry, "loops": args.loops})
                    results[(lib, w)].append(out)
                    if out.get("digest"):
                        digests[w].setdefault(out["digest"], set()).add(lib)
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(scratch_root(root), ignore_errors=True)
        if not args.data:
            shutil.rmtree(root, ignore_errors=True)

    names = names_for(args.copy_mib)
    mib = np.prod(shape) * 4 / 2**20
    print(f"zarr v2, float32 {shape} ({mib:.0f} MiB), chunks {chunks}, blosc lz4 unless named; copy: "
          f"{prepared['copy_metadata']['shape']} in 64^3 chunks; {args.repeat} interleaved rounds, "
          f"{'in this process' if in_process else 'one process per measurement'}"
          f"{f', {args.loops} loops each' if args.loops > 1 else ''}; load average {os.getloadavg()[0]:.1f}")
    print_table(results, libs, workloads, names, 30)
    agree = {}
    for w in workloads:
        agree[w] = len(digests[w]) <= 1
        if not agree[w]:
            groups = "; ".join(", ".join(sorted(ls)) for ls in digests[w].values())
            print(f"VALUES DIFFER in {names[w]}: {groups}")
    if args.json:
        report(args.json, args, shape, chunks, geometry, libs, workloads, results, names, agree)
    return 0 if all(agree.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
