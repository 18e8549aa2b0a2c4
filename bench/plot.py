"""The performance page's figure, from the recorded benchmark results in bench/published/.

    .venv/bin/python bench/plot.py [--out docs/img/performance.png] [--zarr-json PATH]

Left: bench_zarr.py's workloads (median seconds with the min-max spread, log scale) for
tensorstore_py, tensorstore and zarr-python (a workload zarr-python lacks has no bar).
Right: bench_cli_copy.py's copy of a 256 MiB zarr array (median wall and CPU seconds, with the
min-max spread of wall time).  Re-record with
``bench/bench_zarr.py --repeat 5 --json bench/published/bench_zarr_small.json`` and
``bench/bench_cli_copy.py --json bench/published/bench_cli_copy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLISHED = os.path.join(HERE, "published")


def load(name: str) -> dict:
    with open(os.path.join(PUBLISHED, name), encoding="utf-8") as f:
        return json.load(f)


def plot(out: str, zarr_json: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if zarr_json:
        with open(zarr_json, encoding="utf-8") as f:
            zarr_results = json.load(f)
    else:
        zarr_results = load("bench_zarr_small.json")
    copy_results = load("bench_cli_copy.json")
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [3.4, 1.2]})

    # bench_zarr.py's results: medians with their min-max spread ("results"), or, in files
    # recorded before it measured that way, best-of-N seconds only.
    libs = [lib for lib in ("tensorstore_py", "tensorstore", "zarr-python") if lib in zarr_results["seconds"]]
    workloads = list(zarr_results["seconds"]["tensorstore_py"])
    spread = zarr_results.get("results")
    x = np.arange(len(workloads))
    width = 0.8 / len(libs)
    for i, lib in enumerate(libs):
        values = [zarr_results["seconds"][lib].get(w, np.nan) for w in workloads]  # n/a: no bar
        yerr = None
        if spread:
            lo = [values[k] - spread[lib][w]["min_s"] if w in spread[lib] else 0 for k, w in enumerate(workloads)]
            hi = [spread[lib][w]["max_s"] - values[k] if w in spread[lib] else 0 for k, w in enumerate(workloads)]
            yerr = [lo, hi]
        left.bar(x + (i - (len(libs) - 1) / 2) * width, values, width, yerr=yerr, capsize=1.5, label=lib)
    left.set_yscale("log")
    how = "median of %d, min-max" if spread else "best of %d"
    left.set_ylabel(f"seconds ({how % zarr_results['repeat']}, lower is better)")
    left.set_xticks(x, workloads, rotation=35, ha="right", fontsize=7)
    title = "zarr v2, float32 %s, chunks %s" % (tuple(zarr_results["shape"]), tuple(zarr_results["chunks"]))
    if "geomean" in zarr_results:
        g = zarr_results["geomean"]
        title += "; geomean vs tensorstore %.2fx (itself again: %.2fx)" % (
            g["tensorstore_py"]["geomean"], g.get("tensorstore (again)", {}).get("geomean", float("nan")))
    left.set_title(title, fontsize=9)
    left.legend(fontsize=8)

    names = list(copy_results["results"])
    res = copy_results["results"]
    med = [res[n]["median_s"] for n in names]
    lo = [res[n]["median_s"] - res[n]["min_s"] for n in names]
    hi = [res[n]["max_s"] - res[n]["median_s"] for n in names]
    cpu = [res[n]["median_cpu_s"] for n in names]
    xs = np.arange(len(names))
    right.bar(xs - 0.2, med, 0.4, yerr=[lo, hi], capsize=3, label="wall (median, min-max)")
    right.bar(xs + 0.2, cpu, 0.4, label="CPU (median)")
    right.set_xticks(xs, [n.replace(" ", "\n", 1) for n in names], fontsize=8)
    right.set_ylabel("seconds")
    right.set_title("copy of %.0f MiB zarr: %.2fx (noise %.2fx)" % (copy_results["mib"], copy_results["ratio"],
                                                                    copy_results["noise"]), fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "img", "performance.png"))
    parser.add_argument("--zarr-json", help="bench_zarr.py results to draw instead of the published ones")
    args = parser.parse_args(argv)
    plot(args.out, args.zarr_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
