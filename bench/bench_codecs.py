"""Chunk codec speed: the libraries we could use side by side, and our codecs against numcodecs.

Usage: ``.venv/bin/python bench/bench_codecs.py [--mib 0.5] [--repeat 7] [--section NAME ...]``

Every figure is MB/s of uncompressed data from CPU time (time.process_time, so other processes
on the machine matter less than with wall time), the median of `--repeat` rounds in which the
contenders alternate (interleaved, so drift hits them alike); ``[lo-hi]`` is the spread.

Sections (all by default):

* ``deflate``: zlib/gzip at the levels zarr and n5 users write (zarr gzip 5, zlib 1..9, n5's
  default -1 = 6) with the system zlib (what the Cython kernel decodes with), zlib-ng, ISA-L
  (python-isal; its levels are 0..3, so a zlib level is shown at the ISA-L level it would map
  to) and libdeflate (what ours encodes with), on three kinds of chunk.  Compression ratio
  beside each: a faster library that writes bigger chunks changes what users store.
* ``blosc``: decoding Blosc1 frames with python-blosc (c-blosc 1.x), python-blosc2's
  Blosc1-frame decoder (c-blosc2) and numcodecs.
* ``zstd``: one reused context per thread (what ours does) against a new context per call.
* ``codecs``: our codecs (encode, decode, decode into a buffer) against numcodecs.
* ``threads``: decoding many chunks on a thread pool against one thread (GIL released?).

Libraries missing from the environment are left out of a table with a note (``pip install
'.[bench]'`` installs them all).
"""

from __future__ import annotations

import argparse
import importlib
import lzma
import statistics
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from tensorstore_py import codecs

Fn = Callable[[], Any]


# ---------------------------------------------------------------------------------------------
# Data and measurement.


def make_chunks(mib: float) -> dict[str, bytes]:
    """Three kinds of chunk: nearly incompressible floats (bench/bench_zarr.py's data), smooth
    integers with noise (a typical image), and runs of labels (a segmentation)."""
    n = int(mib * (1 << 20))
    rng = np.random.default_rng(0)
    floats = (np.arange(n // 4, dtype=np.float32) % 1000
              + rng.random(n // 4, dtype=np.float32)).astype(np.float32)
    smooth = np.cumsum(rng.integers(-3, 4, n // 4)).astype(np.int32) + rng.integers(0, 8, n // 4,
                                                                                    dtype=np.int32)
    labels = np.repeat(rng.integers(0, 1000, n // 8 // 40 + 1).astype(np.uint64), 40)[: n // 8]
    return {"float32 (bench_zarr)": floats.tobytes(), "int32 smooth": smooth.astype(np.int32).tobytes(),
            "uint64 labels": labels.tobytes()}


def interleaved(fns: dict[str, Fn], repeat: int, min_seconds: float = 0.02) -> dict[str, list[float]]:
    """CPU seconds per call of each function: `repeat` rounds, each function once per round
    (looping until `min_seconds` so short calls are measurable)."""
    loops = {}
    for name, fn in fns.items():
        fn()  # warm up: allocations, per-thread contexts, lazy imports
        n = 1
        while True:
            start = time.process_time()
            for _ in range(n):
                fn()
            if time.process_time() - start >= min_seconds:
                break
            n *= 2
        loops[name] = n
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.process_time()
            for _ in range(loops[name]):
                fn()
            times[name].append((time.process_time() - start) / loops[name])
    return times


def mbs(nbytes: int, seconds: list[float]) -> str:
    """Median MB/s with the spread of the rounds."""
    rates = [nbytes / 1e6 / max(s, 1e-12) for s in seconds]
    return f"{statistics.median(rates):7.0f} [{min(rates):.0f}-{max(rates):.0f}]"


def optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"  ({module} is not installed: left out)")
        return None


# ---------------------------------------------------------------------------------------------
# deflate: which library.


def _isal_level(level: int) -> int:
    """ISA-L has levels 0..3: the zlib level spread over them (-1 is zlib's 6), the mapping a
    switch to ISA-L would have to choose."""
    level = 6 if level < 0 else level
    return 0 if level == 0 else 1 if level <= 2 else 2 if level <= 5 else 3


def deflate_libraries(chunks: dict[str, bytes], repeat: int) -> None:
    print("\n== deflate: compress and decompress MB/s (CPU time), compression ratio")
    from tensorstore_py._ext import zlib_codec as kernel

    zng = optional("zlib_ng.zlib_ng")
    isal = optional("isal.isal_zlib")
    libdeflate = optional("deflate")

    def contenders(level: int) -> dict[str, tuple[Fn, Callable[[bytes], Any], Callable[[bytes, bytearray], Any]]]:
        lv = 6 if level < 0 else level
        # (compress, decompress into a buffer) per library; the zlib wrapper throughout.
        c: dict[str, Any] = {
            "zlib (system)": (lambda d: zlib.compress(d, lv),
                              lambda e, out: kernel.decompress_into(e, out)),
        }
        if zng is not None:
            c["zlib-ng"] = (lambda d: zng.compress(d, lv),
                            lambda e, out: _copy_into(out, zng.decompress(e, 15, len(out))))
        if isal is not None:
            il = _isal_level(level)
            c[f"isal (level {il})"] = (lambda d: isal.compress(d, il),
                                       lambda e, out: _copy_into(out, isal.decompress(e, 15, len(out))))
        if libdeflate is not None:
            ours = codecs.zarr_compressor_from_json({"id": "zlib", "level": lv})
            c["libdeflate (ours)"] = (lambda d: ours.encode(d),
                                      lambda e, out: ours.decode(e, out=out))
        return c

    cases = [("zarr gzip 5", 5), ("zlib 1", 1), ("zlib 3", 3), ("zlib 6 = n5 gzip default", -1),
             ("zlib 9", 9)]
    for kind, data in chunks.items():
        print(f"\n-- {kind}, {len(data) / (1 << 20):.2f} MiB chunk; median [min-max] of {repeat}")
        print(f"{'level':26s} {'library':18s} {'compress MB/s':>22s} {'decompress MB/s':>22s} "
              f"{'ratio':>7s}")
        for label, level in cases:
            libs = contenders(level)
            encoded = {name: bytes(comp(data)) for name, (comp, _) in libs.items()}
            for name, enc in encoded.items():
                assert zlib.decompress(enc) == data, name
            out = bytearray(len(data))
            comp_t = interleaved({n: (lambda c=c: c(data)) for n, (c, _) in libs.items()}, repeat)
            # Each decoder reads the system zlib's stream: what other writers put in a store.
            reference = encoded["zlib (system)"]
            dec_t = interleaved({n: (lambda d=d: d(reference, out)) for n, (_, d) in libs.items()},
                                repeat)
            for name in libs:
                print(f"{label:26s} {name:18s} {mbs(len(data), comp_t[name]):>22s} "
                      f"{mbs(len(data), dec_t[name]):>22s} {len(data) / len(encoded[name]):7.2f}")


def _copy_into(out: bytearray, decoded: bytes) -> None:
    if len(decoded) != len(out):
        raise ValueError("size mismatch")
    out[:] = decoded


# ---------------------------------------------------------------------------------------------
# blosc: which decoder of Blosc1 frames.


def blosc_decoders(chunks: dict[str, bytes], repeat: int) -> None:
    print("\n== blosc: decoding Blosc1 frames (written by python-blosc) into a buffer, MB/s "
          "(CPU time); 'ours' is our codec (header checks, then c-blosc2 for zstd/zlib frames, "
          "c-blosc 1.x for the others)")
    import blosc

    blosc2 = optional("blosc2")
    numcodecs_blosc = optional("numcodecs.blosc")
    if blosc2 is not None:
        blosc2.set_releasegil(True)
    names = ["python-blosc", "blosc2.decompress2", "numcodecs", "ours"]
    print(f"{'chunk':22s} {'frame':20s} " + " ".join(f"{n:>22s}" for n in names))
    for kind, data in chunks.items():
        typesize = 8 if "uint64" in kind else 4
        for cname, shuffle in [("lz4", 1), ("lz4", 0), ("blosclz", 2), ("zstd", 1), ("zlib", 1)]:
            ours = codecs.zarr_compressor_from_json(
                {"id": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle})
            frame = ours.encode(data, typesize)
            out = np.empty(len(data), np.uint8)
            address = out.ctypes.data
            fns: dict[str, Fn] = {
                "python-blosc": lambda: blosc.blosc_extension.decompress_ptr(frame, address)}
            if blosc2 is not None:
                fns["blosc2.decompress2"] = lambda: blosc2.decompress2(frame, dst=out, nthreads=1)
            if numcodecs_blosc is not None:
                fns["numcodecs"] = lambda: numcodecs_blosc.decompress(frame, out)
            fns["ours"] = lambda: ours.decode(frame, out=out)
            t = interleaved(fns, repeat)
            row = " ".join(f"{mbs(len(data), t[n]) if n in t else '-':>22s}" for n in names)
            print(f"{kind:22s} {cname + ' shuffle ' + str(shuffle):20s} {row}")


# ---------------------------------------------------------------------------------------------
# zstd: reused contexts.


def zstd_contexts(chunks: dict[str, bytes], repeat: int) -> None:
    print("\n== zstd: a reused context per thread (ours) against a new context per call, MB/s "
          "(CPU time)")
    import zstandard

    print(f"{'chunk':22s} {'bytes':>7s} {'level':>5s} {'op':8s} {'ours (reused)':>22s} "
          f"{'new context':>22s}")
    # Small chunks too: there the setting up of a context weighs most.
    cases = [(kind, d) for kind, full in chunks.items() for d in (full, full[:16384])]
    for kind, data in cases:
        for level in (1, 3, 9):
            ours = codecs.zarr_compressor_from_json({"id": "zstd", "level": level})
            enc = ours.encode(data)
            ops = {
                "encode": {"ours": lambda: ours.encode(data),
                           "new": lambda: zstandard.ZstdCompressor(level=level).compress(data)},
                "decode": {"ours": lambda: ours.decode(enc, expected_size=len(data)),
                           "new": lambda: zstandard.ZstdDecompressor().decompress(enc)},
            }
            for op, fns in ops.items():
                t = interleaved(fns, repeat)
                print(f"{kind:22s} {len(data):7d} {level:5d} {op:8s} {mbs(len(data), t['ours']):>22s} "
                      f"{mbs(len(data), t['new']):>22s}")


# ---------------------------------------------------------------------------------------------
# Our codecs against numcodecs.

NUMCODECS_CASES: list[tuple[dict, str]] = [
    ({"id": "blosc"}, "numcodecs.Blosc('lz4', 5, -1, 0)"),
    ({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 1}, "numcodecs.Blosc('zstd', 3, 1, 0)"),
    ({"id": "blosc", "cname": "zlib", "clevel": 5, "shuffle": 2}, "numcodecs.Blosc('zlib', 5, 2, 0)"),
    ({"id": "zlib", "level": 1}, "numcodecs.Zlib(1)"),
    ({"id": "zlib", "level": 6}, "numcodecs.Zlib(6)"),
    ({"id": "gzip", "level": 5}, "numcodecs.GZip(5)"),
    ({"id": "bz2", "level": 1}, "numcodecs.BZ2(1)"),
    ({"id": "zstd", "level": 1}, "numcodecs.Zstd(1)"),
    ({"id": "zstd", "level": 9}, "numcodecs.Zstd(9)"),
    # n5-only codec: JSON with "type" instead of "id".
    ({"type": "xz", "preset": 1}, "numcodecs.LZMA(format=lzma.FORMAT_XZ, preset=1)"),
]


def label(j: dict) -> str:
    kind = j.get("id") or j["type"]
    params = ",".join(f"{k}={v}" for k, v in j.items() if k not in ("id", "type"))
    return f"{kind}({params})" if params else kind


def parse(j: dict) -> codecs.Codec:
    return codecs.zarr_compressor_from_json(j) if "id" in j else codecs.n5_compression_from_json(j)


def against_numcodecs(chunk: np.ndarray, repeat: int) -> None:
    numcodecs = optional("numcodecs")
    if numcodecs is None:
        return
    mb = chunk.nbytes
    print(f"\n== codecs: ours against numcodecs on {chunk.nbytes / (1 << 20):.2f} MiB of int32, "
          f"MB/s (CPU time), median [min-max] of {repeat}")
    print(f"{'codec':38s} {'op':12s} {'ours':>22s} {'numcodecs':>22s} {'ratio':>6s}")
    for j, make in NUMCODECS_CASES:
        ours, nc = parse(j), eval(make, {"numcodecs": numcodecs, "lzma": lzma})
        enc_ours, enc_nc = ours.encode(chunk, 4), nc.encode(chunk)
        out_ours, out_nc = np.empty_like(chunk), np.empty_like(chunk)
        ops = [
            ("encode", lambda: ours.encode(chunk, 4), lambda: nc.encode(chunk)),
            ("decode", lambda: ours.decode(enc_ours, expected_size=chunk.nbytes),
             lambda: nc.decode(enc_nc)),
            ("decode->out", lambda: ours.decode(enc_ours, out=out_ours),
             lambda: nc.decode(enc_nc, out=out_nc)),
        ]
        for op, f_ours, f_nc in ops:
            t = interleaved({"ours": f_ours, "nc": f_nc}, repeat)
            speedup = statistics.median(t["nc"]) / statistics.median(t["ours"])
            print(f"{label(j):38s} {op:12s} {mbs(mb, t['ours']):>22s} {mbs(mb, t['nc']):>22s} "
                  f"{speedup:6.2f}")
        print(f"{'':38s} {'comp. ratio':12s} {chunk.nbytes / len(enc_ours):>22.2f} "
              f"{chunk.nbytes / len(enc_nc):>22.2f}")


def threaded(chunk: np.ndarray, threads: int, count: int) -> None:
    """Wall time here on purpose: the question is whether threads overlap."""
    mb = chunk.nbytes * count / 1e6
    print(f"\n== threads: decode of {count} chunks on {threads} threads vs 1 thread (wall MB/s; "
          f"scaling > 1 means the GIL is released; other load on the machine lowers it)")
    print(f"{'codec':38s} {'1 thread':>10s} {f'{threads} threads':>10s} {'scaling':>8s}")
    for j, _ in NUMCODECS_CASES:
        ours = parse(j)
        enc = ours.encode(chunk, 4)
        outs = [np.empty_like(chunk) for _ in range(count)]

        def one(i: int) -> None:
            ours.decode(enc, out=outs[i])

        def best(fn: Fn) -> float:
            fn()
            return min(_wall(fn) for _ in range(3))

        t1 = best(lambda: [one(i) for i in range(count)])
        with ThreadPoolExecutor(threads) as pool:
            tn = best(lambda: list(pool.map(one, range(count))))
        print(f"{label(j):38s} {mb / t1:10.0f} {mb / tn:10.0f} {t1 / tn:8.2f}")


def _wall(fn: Fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


SECTIONS = ["deflate", "blosc", "zstd", "codecs", "threads"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=0.5,
                        help="chunk size in MiB (bench_zarr's chunks are 0.5)")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (>= 5)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=16, help="chunks in the threaded test")
    parser.add_argument("--section", choices=SECTIONS, action="append",
                        help="run only these sections (repeatable)")
    args = parser.parse_args()
    sections = args.section or SECTIONS
    chunks = make_chunks(args.mib)
    smooth = np.frombuffer(chunks["int32 smooth"], np.int32)
    if "deflate" in sections:
        deflate_libraries(chunks, args.repeat)
    if "blosc" in sections:
        blosc_decoders(chunks, args.repeat)
    if "zstd" in sections:
        zstd_contexts(chunks, args.repeat)
    if "codecs" in sections:
        against_numcodecs(smooth, args.repeat)
    if "threads" in sections:
        threaded(smooth, args.threads, args.chunks)


if __name__ == "__main__":
    main()
