"""`tensorstore-py copy` of a 256 MiB zarr array vs a hand-written tensorstore (C++) copy loop.

    .venv/bin/python bench/bench_cli_copy.py [--repeat 5] [--mib 256] [--json PATH]

Each run is a fresh process, timed from start to exit (interpreter start and imports included
for both): A is ``tensorstore-py copy SRC DST`` with its progress bar on (on a pseudo-terminal),
B is a short script that opens both arrays with tensorstore and copies them a slab of chunks
at a time with a few slabs in flight, B' is B again (the tensorstore-vs-itself noise floor).
Runs are interleaved A, B, B' and repeated; medians, min-max spread and CPU seconds (user +
system of the child) are reported.  A benchmark, not a test: nothing asserts on time.

Both packages are timed as installed: tensorstore's bytecode was compiled by pip, and this
script compiles tensorstore_py's before the runs (as pip does for a wheel).  Without that, an
editable install under PYTHONDONTWRITEBYTECODE=1 compiles every module from source in every
run (about 0.15 s of `import tensorstore_py` alone).  --no-compile measures that case.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import pty
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HAND_LOOP = r"""
import sys, tensorstore as ts
src = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": sys.argv[1]}}, read=True).result()
dst = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": sys.argv[2]}}, create=True,
              dtype=src.dtype, shape=src.shape, chunk_layout=src.chunk_layout, codec=src.codec).result()
step = src.chunk_layout.write_chunk.shape[0]
pending = []
for i in range(0, src.shape[0], step):
    pending.append(dst[i:i + step].write(src[i:i + step]))
    if len(pending) >= 4:
        pending.pop(0).result()
for p in pending:
    p.result()
"""


def make_source(path: str, mib: int) -> tuple[list[int], list[int]]:
    import tensorstore as ts

    side = 512
    depth = max(64, (mib << 20) // (side * side * 2))
    shape, chunks = [depth, side, side], [64, 64, 64]
    src = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}, create=True,
                  dtype=ts.uint16, shape=shape, chunk_layout=ts.ChunkLayout(chunk_shape=chunks)).result()
    rng = np.random.default_rng(0)
    for z in range(0, depth, 64):
        slab = (np.arange(64 * side * side, dtype=np.uint32).reshape(64, side, side) % 4096).astype(np.uint16)
        slab += rng.integers(0, 16, size=slab.shape, dtype=np.uint16)
        src[z:z + 64].write(slab[: min(64, depth - z)]).result()
    return shape, chunks


def timed(cmd: list[str], tty: bool) -> tuple[float, float, str]:
    """(wall seconds, child CPU seconds, stderr tail) of running `cmd` to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if tty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(cmd, stderr=slave, stdout=subprocess.DEVNULL)
        os.close(slave)
        out = bytearray()

        def drain() -> None:
            while True:
                try:
                    got = os.read(master, 65536)
                except OSError:
                    return
                if not got:
                    return
                out.extend(got)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        rc = proc.wait()
        reader.join(5)
        os.close(master)
        err = out.decode(errors="replace")
    else:
        done = subprocess.run(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        rc, err = done.returncode, done.stderr
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc != 0:
        raise SystemExit(f"{cmd} failed ({rc}):\n{err[-2000:]}")
    return wall, cpu, err[-200:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--no-compile", action="store_true",
                        help="leave tensorstore_py's bytecode as it is (none, under PYTHONDONTWRITEBYTECODE)")
    args = parser.parse_args(argv)
    if not args.no_compile:
        package = importlib.util.find_spec("tensorstore_py")
        assert package is not None and package.submodule_search_locations
        for location in package.submodule_search_locations:
            compileall.compile_dir(location, quiet=1)
    root = tempfile.mkdtemp(prefix="tspy-bench-copy-")
    script = os.path.join(os.path.dirname(sys.executable), "tensorstore-py")
    runs: dict[str, list[tuple[float, float]]] = {"tensorstore-py copy": [], "tensorstore loop": [],
                                                  "tensorstore loop (again)": []}
    try:
        src = os.path.join(root, "src.zarr")
        shape, chunks = make_source(src, args.mib)
        mib = int(np.prod(shape)) * 2 / 2**20
        for i in range(args.repeat):
            for name in runs:
                dst = os.path.join(root, f"dst-{i}-{len(runs[name])}-{name.split()[0]}.zarr")
                if name == "tensorstore-py copy":
                    cmd = [script, "copy", src, dst, "--progress"]
                    wall, cpu, tail = timed(cmd, tty=True)
                    assert "100.0%" in tail, tail
                else:
                    wall, cpu, _ = timed([sys.executable, "-c", HAND_LOOP, src, dst], tty=False)
                runs[name].append((wall, cpu))
                shutil.rmtree(dst, ignore_errors=True)
                print(f"  run {i + 1} {name:26} {wall:7.2f} s wall {cpu:7.2f} s cpu", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {}
    print(f"\ncopy of zarr uint16 {shape} ({mib:.0f} MiB), chunks {chunks}, {args.repeat} interleaved runs, "
          f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), tensorstore_py bytecode "
          f"{'as found' if args.no_compile else 'compiled'}")
    for name, vals in runs.items():
        walls, cpus = [v[0] for v in vals], [v[1] for v in vals]
        summary[name] = {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                         "median_cpu_s": statistics.median(cpus), "runs": vals}
        print(f"{name:26} median {summary[name]['median_s']:7.2f} s  spread {min(walls):.2f}-{max(walls):.2f} s"
              f"  cpu {summary[name]['median_cpu_s']:.2f} s")
    ratio = summary["tensorstore-py copy"]["median_s"] / summary["tensorstore loop"]["median_s"]
    noise = summary["tensorstore loop (again)"]["median_s"] / summary["tensorstore loop"]["median_s"]
    print(f"tensorstore-py copy / tensorstore loop: {ratio:.2f}x (noise floor, loop vs itself: {noise:.2f}x)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"benchmark": "bench_cli_copy", "shape": shape, "chunks": chunks, "mib": mib,
                       "bytecode": "as found" if args.no_compile else "compiled",
                       "cpus": os.cpu_count(), "results": summary, "ratio": ratio, "noise": noise}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
