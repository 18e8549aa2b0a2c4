"""Per-chunk Future overhead: the lifecycle costs every chunk of a read or write pays.

    .venv/bin/python bench/bench_future.py [OTHER_FUTURE_PY ...]

Times, per Future, the patterns the engine uses once per chunk: a pending Future settled by
its producer and read by ``result()``; ``chain`` of an inline step; ``gather`` of many;
``recover``; a callback registered before completion.  With extra arguments (paths of other
``future.py`` files, e.g. an older revision saved with ``git show REV:tensorstore_py/future.py``),
each module is timed in turn, interleaved, so the comparison sees the same machine load.
Reports the median of the repeats (ns per Future), the spread (max-min over median) and the
process CPU time of the median run; a module compared with itself gives the noise floor.
"""

from __future__ import annotations

import importlib.util
import pathlib
import statistics
import sys
import time

N = 20000
REPEAT = 9


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lifecycle(m) -> None:
    for _ in range(N):
        f = m.Future()
        f.set_result(1)
        f.result()


def promise_pair(m) -> None:
    for _ in range(N):
        p, f = m.Promise.new()
        p.set_result(1)
        f.result()


def chain_inline(m) -> None:
    for _ in range(N):
        src = m.Future()
        out = m.chain(src, abs)
        src.set_result(-1)
        out.result()


def gather_many(m) -> None:
    srcs = [m.Future() for _ in range(N)]
    out = m.gather(srcs)
    for s in srcs:
        s.set_result(0)
    out.result()


def recover_ok(m) -> None:
    for _ in range(N):
        src = m.Future()
        out = m.recover(src, repr)
        src.set_result(0)
        out.result()


def callback_then_set(m) -> None:
    seen = []
    for _ in range(N):
        f = m.Future()
        f.add_done_callback(seen.append)
        f.set_result(0)


def ready_values(m) -> None:
    for _ in range(N):
        m.ready(0).result()


WORKLOADS = [lifecycle, promise_pair, chain_inline, gather_many, recover_ok, callback_then_set, ready_values]


def main() -> None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    import tensorstore_py.future as current

    modules = [(f"0:{current.__file__}", current)]
    modules += [(f"{i}:{p}", load(p, f"_bench_future_{i}")) for i, p in enumerate(sys.argv[1:], 1)]
    for label, _ in modules:
        print(label)
    for work in WORKLOADS:
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in modules}
        for _ in range(REPEAT):
            for label, m in modules:  # interleaved: each module sees the same load
                c0, t0 = time.process_time(), time.perf_counter()
                work(m)
                samples[label].append((time.perf_counter() - t0, time.process_time() - c0))
        for label, s in samples.items():
            walls = sorted(w for w, _ in s)
            med = statistics.median(walls)
            cpu = statistics.median(c for _, c in s)
            spread = (walls[-1] - walls[0]) / med
            print(f"{work.__name__:18s} {label.split(':')[0]}: {med / N * 1e9:8.0f} ns/op  "
                  f"spread {spread:5.0%}  cpu {cpu / N * 1e9:8.0f} ns/op")


if __name__ == "__main__":
    main()
