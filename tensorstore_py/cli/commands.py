"""The commands of ``tensorstore-py``: info, ls, copy and bench (see `tensorstore_py.cli`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

import numpy as np

from . import CliError
from .progress import ProgressDisplay, human_bytes

#: keys that hold metadata rather than chunks, in the formats the package reads
METADATA_KEYS = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json", "attributes.json", "info"}


def _ts() -> Any:
    import tensorstore_py

    return tensorstore_py


def _failure(exc: BaseException, doing: str) -> CliError:
    """A CliError for an exception of the library: invalid input exits 2, the rest 1."""
    code = getattr(exc, "code", None)
    if isinstance(exc, json.JSONDecodeError):
        return CliError(f"{doing}: invalid JSON: {exc}", 2)
    status = 2 if code == "INVALID_ARGUMENT" or (code is None and isinstance(exc, (ValueError, TypeError))) else 1
    return CliError(f"{doing}: {exc}", status)


def parse_spec(text: str) -> Any:
    """A JSON spec, ``@file.json``, a URL pipeline, or a local path (-> ``file://`` URL)."""
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                return json.load(f)
        except OSError as exc:
            raise CliError(f"cannot read spec file {text[1:]!r}: {exc.strerror}", 2) from None
        except json.JSONDecodeError as exc:
            raise CliError(f"{text[1:]}: invalid JSON: {exc}", 2) from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CliError(f"invalid JSON spec: {exc}", 2) from None
    head, bar, rest = text.partition("|")
    if bar and "://" not in head and ":" not in head.split("/")[0]:
        return parse_spec(head) + bar + rest  # a local path at the start of a pipeline
    if "://" in text or "|" in text or (":" in text.split("/")[0] and not os.path.exists(text)):
        return text
    return "file://" + os.path.abspath(text).rstrip("/") + "/"


def _open(spec: Any, doing: str, **kwargs: Any) -> Any:
    ts = _ts()
    try:
        return ts.open(spec, **kwargs).result()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - every library error becomes one line
        raise _failure(exc, doing) from None


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


# ---------------------------------------------------------------------------------------------
# Sizes of stored values.


def _sizes(kvstore: Any, keys: list[bytes], read_remote: bool = False) -> list[int | None]:
    """Byte sizes of `keys` in `kvstore` (None: unknown, or vanished meanwhile).  Local files
    are stat'ed and memory values read; other stores only with `read_remote`, since the
    kvstore API gives no sizes without reading the values."""
    spec = kvstore.spec().to_json()
    if spec.get("driver") not in ("file", "memory") and not read_remote:
        return [None] * len(keys)
    if spec.get("driver") == "file":
        root = kvstore.path
        out: list[int | None] = []
        for key in keys:
            try:
                out.append(os.stat(root + key.decode("utf-8", "surrogateescape")).st_size)
            except OSError:
                out.append(None)
        return out
    reads = [kvstore.read(key) for key in keys]  # all in flight at once
    sizes: list[int | None] = []
    for r in reads:
        got = r.result()
        sizes.append(len(got.value) if got.state == "value" else None)
    return sizes


def _list(kvstore: Any) -> list[bytes]:
    return sorted(kvstore.list().result())


# ---------------------------------------------------------------------------------------------
# info


def describe(store: Any, read_remote: bool = False) -> dict[str, Any]:
    """What `info` prints, as JSON (sizes of remote values only with `read_remote`)."""
    spec = store.spec().to_json()
    layout = store.chunk_layout
    info: dict[str, Any] = {
        "driver": spec.get("driver"),
        "url": _url(store),
        "dtype": store.dtype.name,
        "shape": list(store.shape),
        "domain": str(store.domain),
        "chunk_layout": layout.to_json(),
        "codec": store.codec.to_json() if store.codec is not None else None,
        "fill_value": None if store.fill_value is None else np.asarray(store.fill_value).tolist(),
        "dimension_units": _units(store.dimension_units),
    }
    try:
        kvstore = store.kvstore
    except (AttributeError, ValueError):
        kvstore = None
    if kvstore is not None:
        keys = _list(kvstore)
        sizes = _sizes(kvstore, keys, read_remote)
        chunks = [s for k, s in zip(keys, sizes) if k.decode("utf-8", "replace").rsplit("/", 1)[-1] not in METADATA_KEYS]
        known = all(s is not None for s in sizes)
        info["storage"] = {
            "chunks_stored": len(chunks),
            "chunk_bytes": sum(s or 0 for s in chunks) if known else None,
            "total_bytes": sum(s or 0 for s in sizes) if known else None,
            "keys": len(keys),
        }
    return info


def _units(units: Any) -> list | None:
    if not units or all(u is None for u in units):
        return None
    return [None if u is None else str(u) for u in units]


def _url(store: Any) -> str | None:
    try:
        return store.url
    except (ValueError, AttributeError):
        return None


def cmd_info(args: argparse.Namespace) -> int:
    store = _open(parse_spec(args.spec), f"cannot open {args.spec}", read=True)
    try:
        info = describe(store, args.sizes)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, f"cannot describe {args.spec}") from None
    if args.json:
        _print_json(info)
        return 0
    rows = [
        ("driver", info["driver"]), ("url", info["url"]), ("dtype", info["dtype"]),
        ("domain", info["domain"]),
        ("read chunk", (info["chunk_layout"].get("read_chunk") or {}).get("shape")),
        ("write chunk", (info["chunk_layout"].get("write_chunk") or {}).get("shape")),
        ("codec", json.dumps(info["codec"])), ("fill value", info["fill_value"]),
        ("units", info["dimension_units"]),
    ]  # fmt: skip
    storage = info.get("storage")
    if storage is not None:
        if storage["total_bytes"] is None:
            rows.append(("stored", f"{storage['chunks_stored']} chunks ({storage['keys']} keys; --sizes for bytes)"))
        else:
            rows.append(("stored", f"{storage['chunks_stored']} chunks, {human_bytes(storage['chunk_bytes'])} "
                                   f"({storage['total_bytes']} bytes in {storage['keys']} keys)"))
    for name, value in rows:
        print(f"{name + ':':<13}{value}")
    return 0


# ---------------------------------------------------------------------------------------------
# ls


def cmd_ls(args: argparse.Namespace) -> int:
    ts = _ts()
    url = parse_spec(args.url)
    try:
        kvstore = ts.KvStore.open(url).result()
        keys = _list(kvstore)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, f"cannot list {args.url}") from None
    entries: list[dict[str, Any]] = []
    if args.recursive:
        for key, size in zip(keys, _sizes(kvstore, keys, args.sizes)):
            entries.append({"key": key.decode("utf-8", "replace"), "size": size})
    else:
        # One level: keys without a further "/" as they are; the rest grouped by directory.
        dirs: dict[str, list[bytes]] = {}
        files = []
        for key in keys:
            head, sep, _ = key.partition(b"/")
            if sep:
                dirs.setdefault(head.decode("utf-8", "replace") + "/", []).append(key)
            else:
                files.append(key)
        sizes = dict(zip(keys, _sizes(kvstore, keys, args.sizes)))
        for key in files:
            entries.append({"key": key.decode("utf-8", "replace"), "size": sizes[key]})
        for name, members in dirs.items():
            known = all(sizes[k] is not None for k in members)
            entries.append({"key": name, "size": sum(sizes[k] or 0 for k in members) if known else None,
                            "keys": len(members)})
        entries.sort(key=lambda e: e["key"])
    if args.json:
        _print_json(entries)
        return 0
    for e in entries:
        extra = f"  ({e['keys']} keys)" if "keys" in e else ""
        size = "-" if e["size"] is None else str(e["size"])
        print(f"{size:>12}  {e['key']}{extra}")
    return 0


# ---------------------------------------------------------------------------------------------
# copy


def _destination_spec(text: str, src_driver: str) -> Any:
    """The destination spec: as given when it names a TensorStore driver, else the source's
    driver over the given kvstore (a path or a kvstore URL)."""
    from ..kvstore.driver import url_scheme_kind

    spec = parse_spec(text)
    if isinstance(spec, dict):
        if "driver" not in spec or spec["driver"] in ("file", "memory", "gcs", "s3", "http"):
            return {"driver": src_driver, "kvstore": spec.get("kvstore", spec)}
        return spec
    last = spec.rsplit("|", 1)[-1]
    scheme = last.split(":", 1)[0]
    if url_scheme_kind(scheme) == "tensorstore":
        return spec
    return {"driver": src_driver, "kvstore": spec}


def _schema_options(src: Any, args: argparse.Namespace, same_driver: bool) -> dict[str, Any]:
    ts = _ts()
    opts: dict[str, Any] = {"dtype": src.dtype, "shape": list(src.shape)}
    try:
        if args.chunk_layout:
            opts["chunk_layout"] = ts.ChunkLayout(json.loads(args.chunk_layout))
        else:
            read_chunk = src.chunk_layout.read_chunk.shape
            if read_chunk is not None:
                opts["chunk_layout"] = ts.ChunkLayout(chunk_shape_soft_constraint=list(read_chunk))
        if args.codec:
            opts["codec"] = ts.CodecSpec(json.loads(args.codec))
        elif same_driver and src.codec is not None:
            opts["codec"] = src.codec
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, "invalid --chunk-layout or --codec") from None
    if src.fill_value is not None:
        opts["fill_value"] = src.fill_value
    units = src.dimension_units
    if units and any(u is not None for u in units):
        opts["dimension_units"] = units
    return opts


def _delete_all(kvstore: Any) -> None:
    kvstore.delete_range(_ts().KvStore.KeyRange()).result()


def cmd_copy(args: argparse.Namespace, stream: Any = None) -> int:
    ts = _ts()
    from .. import statistics

    # The source gets thread pools of its own: stopping them stops the copy (see _stop).
    src_context = ts.Context({"data_copy_concurrency": {"limit": max(2, os.cpu_count() or 2)}})
    src = _open(parse_spec(args.src), f"cannot open source {args.src}", read=True, context=src_context)
    if any(o != 0 for o in src.domain.origin):
        src = src[ts.d[:].translate_to[0]]
    src_driver = src.spec().to_json().get("driver", "zarr")
    dst_spec = _destination_spec(args.dst, src_driver)
    dst_driver = dst_spec.get("driver") if isinstance(dst_spec, dict) else None
    opts = _schema_options(src, args, same_driver=dst_driver == src_driver)

    # The destination is opened with assumed metadata: chunks are written first and the
    # metadata last, so a copy that dies part-way leaves no array that opens as complete.
    dst = _open(dst_spec, f"cannot create destination {args.dst}", open=True, assume_metadata=True, **opts)
    try:
        kvstore = dst.kvstore
        existing = _list(kvstore)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, f"cannot access destination {args.dst}") from None
    if existing:
        if not args.overwrite:
            raise CliError(f"destination {args.dst} is not empty ({len(existing)} keys); "
                           "pass --overwrite to replace it", 1)
        try:
            _delete_all(kvstore)
        except Exception as exc:  # noqa: BLE001
            raise _failure(exc, f"cannot clear destination {args.dst}") from None

    total = int(np.prod(src.shape, dtype=np.int64))
    display: Callable | None = None
    interval = float(os.environ.get("TSPY_PROGRESS_INTERVAL", "2.0"))
    if args.progress is not False:
        display = ProgressDisplay(total, "copy", src.dtype.numpy_dtype.itemsize, stream=stream, line_interval=interval)
    recorder = statistics.record(progress=display, interval=min(interval, 0.5) if display else 0.5)
    completed = False
    try:
        dst.write(src).result()
        final = dst.spec().to_json()
        for mode in ("assume_metadata", "open", "create"):
            final.pop(mode, None)
        ts.open(final, create=True).result()
        completed = True
    except KeyboardInterrupt:
        recorder.stop()
        _stop(src_context)
        _cleanup(kvstore)
        raise
    except Exception as exc:  # noqa: BLE001
        recorder.stop()
        _stop(src_context)
        _cleanup(kvstore)
        raise _failure(exc, f"copy to {args.dst} failed (nothing left behind)") from None
    finally:
        stats = recorder.stop()
    if completed and args.stats:
        _print_json(stats.to_json())
    return 0


def _stop(src_context: Any) -> None:
    """Stops a copy in flight: the source's pool refuses new work, so no further block is read
    (the copy fails at its next source read) and nothing more is written."""
    pool = src_context.get_resource("data_copy_concurrency").executor
    pool.shutdown(wait=False, cancel_futures=True)


def _writes_in_flight() -> int:
    """Chunk writes staged or sent but not finished, in this process (the CLI does one copy):
    every staged chunk ends in at least one kvstore write."""
    from .. import metrics

    started = finished = 0
    for m in list(metrics._kvstore_metrics.values()):
        started += int(m.write.value())
        finished += sum(row[1][0] for row in m.write_latency._rows())
    return max(started - finished, int(metrics.CHUNK_WRITES.value()) - finished)


def _cleanup(kvstore: Any, settle_seconds: float = 0.3, timeout: float = 30.0) -> None:
    """Deletes what a failed copy wrote, once the writes already under way have landed (no
    write in flight, none started, for `settle_seconds`)."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if _writes_in_flight() == 0:
            quiet_since = quiet_since or now
            if now - quiet_since >= settle_seconds:
                break
        else:
            quiet_since = None
        time.sleep(0.02)
    try:
        _delete_all(kvstore)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


# ---------------------------------------------------------------------------------------------
# bench


def cmd_bench(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    ts = _ts()
    if args.size_mib <= 0:
        raise CliError("--size-mib must be positive", 2)
    side = 256
    depth = max(1, (args.size_mib << 20) // (side * side * 2))
    shape = [depth, side, side]
    base = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="tspy-bench-")
    path = os.path.join(base, f"bench.{args.format}")
    driver = {"zarr": "zarr", "zarr3": "zarr3", "n5": "n5"}[args.format]
    try:
        rng = np.random.default_rng(0)
        data = rng.integers(0, 1 << 12, size=shape, dtype=np.uint16)  # 12-bit: compressible
        store = _open({"driver": driver, "kvstore": {"driver": "file", "path": path}},
                      f"cannot create {path}", create=True, delete_existing=True, dtype=ts.uint16, shape=shape,
                      chunk_layout=ts.ChunkLayout(chunk_shape=[min(64, depth), 64, 64]))
        t0 = time.perf_counter()
        store.write(data).result()
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = store.read().result()
        read_s = time.perf_counter() - t0
        if not np.array_equal(back, data):
            raise CliError("bench: data read back differs from data written", 1)
        stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    mib = data.nbytes / 2**20
    result = {"format": args.format, "shape": shape, "dtype": "uint16", "mib": round(mib, 2),
              "stored_mib": round(stored / 2**20, 2), "write_seconds": round(write_s, 4),
              "read_seconds": round(read_s, 4), "write_mib_per_s": round(mib / write_s, 1),
              "read_mib_per_s": round(mib / read_s, 1)}  # fmt: skip
    if args.json:
        _print_json(result)
    else:
        print(f"{args.format} {shape} uint16, {mib:.0f} MiB ({result['stored_mib']} MiB stored):")
        print(f"  write {write_s:.3f} s  {result['write_mib_per_s']} MiB/s")
        print(f"  read  {read_s:.3f} s  {result['read_mib_per_s']} MiB/s")
    return 0
