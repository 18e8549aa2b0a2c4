"""Process-wide counters under TensorStore's metric names, and the functions that report them.

Every count this package keeps about its own I/O lives here, in one registry: the kvstore
drivers' calls, bytes and latencies (counted for every `KvStoreDriver` subclass by the base
class), the chunk cache's hits, misses and evictions, the chunked engine's chunks, elements and
time spent decoding, encoding and copying, and retries.  Three things read it:

* ``ts.experimental_collect_matching_metrics`` / ``ts.experimental_collect_prometheus_format_metrics``
  give the counters in TensorStore's two formats (a list of dicts; Prometheus exposition lines);
* `tensorstore_py.statistics` takes snapshots of it: the I/O statistics and progress reports of
  an operation are differences between two snapshots.

Names follow TensorStore's (``/tensorstore/kvstore/file/read``, ``/tensorstore/cache/hit_count``
...) wherever TensorStore has the same counter; counts TensorStore does not keep are named
under ``/tensorstore_py/`` so that a ``/tensorstore/`` prefix selects only TensorStore's names.

Updates sit at per-chunk and per-request points, never per element, and take no lock: each is
one append to the metric's queue of pending updates, folded into its values (under its lock) by
whoever reads them, or by the update that finds the queue long.  A lock taken on every chunk
by every thread is a convoy under the GIL: a thread preempted while holding it makes every
other thread sleep on it, and each later hand-over costs a thread wake-up.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import threading
import time
from typing import Any, Callable, Iterator

__all__ = [
    "Counter", "Gauge", "Histogram", "counter", "gauge", "histogram", "snapshot",
    "kvstore_metrics", "collect_matching_metrics", "collect_prometheus_format_metrics",
    "update_verbose_logging", "timed",
]  # fmt: skip


class Metric:
    kind = ""

    def __init__(self, name: str, description: str, fields: tuple[str, ...] = (), units: str = ""):
        self.name = name
        self.description = description
        self.fields = fields
        self.units = units
        self._lock = threading.Lock()
        self._values: dict[tuple, Any] = {}
        #: (fields, amount) updates not yet in `_values`, in the order they were made
        self._pending: collections.deque = collections.deque()

    def _record(self, fields: tuple, amount: Any) -> None:
        """Queues an update (atomic under the GIL: no lock); folds the queue when it is long."""
        pending = self._pending
        pending.append((fields, amount))
        if len(pending) >= _FOLD_AT:
            self._fold_now()

    def _fold_now(self) -> None:
        if self._lock.acquire(False):  # else another thread is folding
            try:
                self._fold()
            finally:
                self._lock.release()

    def _fold(self) -> None:
        """Applies the queued updates in order (the caller holds `_lock`)."""
        pending, apply = self._pending, self._apply
        while True:
            try:
                fields, amount = pending.popleft()
            except IndexError:
                return
            apply(fields, amount)

    def _apply(self, fields: tuple, amount: Any) -> None:
        raise NotImplementedError

    def _rows(self) -> list[tuple[tuple, Any]]:
        with self._lock:
            self._fold()
            return sorted(self._values.items(), key=lambda item: item[0])

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._values.clear()


#: Queued updates of one metric that make the updater fold them (bounds the queue's memory).
_FOLD_AT = 4096


class Counter(Metric):
    """A count that only grows (per combination of field values)."""

    kind = "counter"

    def increment(self, amount: float = 1, *fields: str) -> None:
        pending = self._pending  # `_record`, inlined on this hot path
        pending.append((fields, amount))
        if len(pending) >= _FOLD_AT:
            self._fold_now()

    def _apply(self, fields: tuple, amount: float) -> None:
        self._values[fields] = self._values.get(fields, 0) + amount

    def _fold(self) -> None:
        # `Metric._fold` with `_apply` inlined: counters fold tens of updates per operation.
        pending, values = self._pending, self._values
        while True:
            try:
                fields, amount = pending.popleft()
            except IndexError:
                return
            values[fields] = values.get(fields, 0) + amount

    def increment_when_done(self, future: Any, amount: float, *fields: str) -> None:
        """Counts `amount` once `future` succeeds (progress of a write or read in flight)."""
        future.add_done_callback(lambda f: f.cancelled() or f.exception() is not None or self.increment(amount, *fields))

    def value(self, *fields: str) -> float:
        with self._lock:
            self._fold()
            return self._values.get(fields, 0)

    def _json(self, value: Any) -> dict:
        return {"value": value}

    def _zero(self) -> Any:
        return 0


class EventCounter(Counter):
    """A field-less counter for hot paths: `increment` is one lock-free `next()` on an
    `itertools.count` (atomic under the GIL), read back at collection time."""

    def __init__(self, name: str, description: str, fields: tuple[str, ...] = (), units: str = ""):
        super().__init__(name, description, (), units)
        self._count = itertools.count()

    def increment(self, amount: float = 1, *fields: str) -> None:  # noqa: ARG002 - always 1
        next(self._count)

    def value(self, *fields: str) -> float:
        return self._count.__reduce__()[1][0]  # type: ignore[index,no-any-return]

    def _rows(self) -> list[tuple[tuple, Any]]:
        n = self.value()
        return [((), n)] if n else []

    def reset(self) -> None:
        self._count = itertools.count()


class Gauge(Metric):
    """A value that goes up and down; its maximum is kept too."""

    kind = "gauge"

    def add(self, amount: float, *fields: str) -> None:
        self._record(fields, amount)

    def _apply(self, fields: tuple, amount: float) -> None:
        value, high = self._values.get(fields, (0, 0))
        value += amount
        self._values[fields] = (value, max(high, value))

    def _json(self, value: Any) -> dict:
        return {"max_value": value[1], "value": value[0]}

    def _zero(self) -> Any:
        return (0, 0)


class Histogram(Metric):
    """Samples in power-of-two buckets (TensorStore's default bucketer), with count, mean and
    the sum of squared deviations (kept by Welford's update)."""

    kind = "histogram"

    def observe(self, sample: float, *fields: str) -> None:
        pending = self._pending  # `_record`, inlined on this hot path
        pending.append((fields, sample))
        if len(pending) >= _FOLD_AT:
            self._fold_now()

    def _apply(self, fields: tuple, sample: float) -> None:
        bucket = _bucket(sample)
        state = self._values.get(fields)
        if state is None:
            state = self._values[fields] = [0, 0.0, 0.0, 0.0, {}]  # count, mean, ssd, sum, buckets
        state[0] += 1
        delta = sample - state[1]
        state[1] += delta / state[0]
        state[2] += delta * (sample - state[1])
        state[3] += sample
        state[4][bucket] = state[4].get(bucket, 0) + 1

    def _json(self, value: Any) -> dict:
        count, mean, ssd, _, buckets = value
        j: dict[str, Any] = {}
        if buckets:
            for b in range(max(buckets) + 1):
                j[_bucket_label(b)] = buckets.get(b, 0)
        j.update({"count": count, "mean": mean, "sum_of_squared_deviation": ssd})
        return j

    def _zero(self) -> Any:
        return [0, 0.0, 0.0, 0.0, {}]


def _bucket(sample: float) -> int:
    """Bucket 0 holds negative samples; bucket k >= 1 holds [2**(k-2), 2**(k-1)) (bucket 1: [0, 1))."""
    if sample < 0 or math.isnan(sample):
        return 0
    if sample < 1:
        return 1
    return min(int(sample).bit_length() + 1, 64)  # [2**(k-2), 2**(k-1)) has bit length k - 1


def _bucket_label(b: int) -> str:
    return "0" if b == 0 else str(1 << (b - 1))


_registry: dict[str, Metric] = {}
_registry_lock = threading.Lock()


def _get(cls: type, name: str, description: str, fields: tuple[str, ...], units: str) -> Any:
    with _registry_lock:
        metric = _registry.get(name)
        if metric is None:
            metric = _registry[name] = cls(name, description, fields, units)
        return metric


def counter(name: str, description: str, fields: tuple[str, ...] = (), units: str = "") -> Counter:
    """The counter registered as `name` (created on first use)."""
    return _get(Counter, name, description, fields, units)


def gauge(name: str, description: str, fields: tuple[str, ...] = ()) -> Gauge:
    return _get(Gauge, name, description, fields, "")


def histogram(name: str, description: str, units: str = "") -> Histogram:
    return _get(Histogram, name, description, (), units)


class timed:
    """``with timed(histogram_or_counter):`` adds the block's duration (seconds to a counter,
    milliseconds to a histogram)."""

    __slots__ = ("metric", "start")

    def __init__(self, metric: Metric):
        self.metric = metric

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        elapsed = time.perf_counter() - self.start
        if isinstance(self.metric, Histogram):
            self.metric.observe(elapsed * 1000.0)
        else:
            self.metric.increment(elapsed)  # type: ignore[attr-defined]


def timed_calls(fn: Callable, metric: Counter) -> Callable:
    """`fn` with the seconds spent in each call added to `metric`."""

    def run(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            metric.increment(time.perf_counter() - start)

    return run


# ---------------------------------------------------------------------------------------------
# The counters this package keeps (TensorStore's names where it has the same count).

READY_CALLBACKS: EventCounter = _get(EventCounter, "/tensorstore/futures/ready_callbacks", "Ready callbacks", (), "")
CACHE_HIT = counter("/tensorstore/cache/hit_count", "Number of cache hits.")
CACHE_MISS = counter("/tensorstore/cache/miss_count", "Number of cache misses.")
CACHE_EVICT = counter("/tensorstore/cache/evict_count", "Number of evictions from the cache.")
CHUNK_READS = counter("/tensorstore/cache/chunk_cache/reads", "Number of reads from ChunkCache.")
CHUNK_WRITES = counter("/tensorstore/cache/chunk_cache/writes", "Number of writes to ChunkCache.")
TRANSACTION_RETRIES = counter("/tensorstore/kvstore/transaction_retries", "Count of kvstore transaction retries")
HTTP_RETRIES = counter("/tensorstore_py/http/retries", "Retried HTTP requests (gcs, http, s3)")
ELEMENTS_READ = counter("/tensorstore_py/chunked/elements_read", "Array elements delivered by completed reads")
ELEMENTS_WRITTEN = counter("/tensorstore_py/chunked/elements_written", "Array elements staged by completed writes")
DECODE_SECONDS = counter("/tensorstore_py/chunked/decode_seconds", "Time spent decoding chunks", units="seconds")
ENCODE_SECONDS = counter("/tensorstore_py/chunked/encode_seconds", "Time spent encoding chunks", units="seconds")
COPY_SECONDS = counter("/tensorstore_py/chunked/copy_seconds",
                       "Time spent copying between chunks and user arrays", units="seconds")


class KvStoreMetrics:
    """The counters of one kvstore driver id, as TensorStore names them per driver."""

    __slots__ = ("read", "bytes_read", "read_latency", "write", "bytes_written", "write_latency",
                 "delete_range", "list")  # fmt: skip

    def __init__(self, driver: str):
        p = f"/tensorstore/kvstore/{driver}/"
        self.read = counter(p + "read", f"{driver} kvstore::Read calls")
        self.bytes_read = counter(p + "bytes_read", "bytes read", units="bytes")
        self.read_latency = histogram(p + "read_latency_ms", f"{driver} kvstore::Read latency (ms)", "milliseconds")
        self.write = counter(p + "write", f"{driver} kvstore::Write calls")
        self.bytes_written = counter(p + "bytes_written", "bytes written", units="bytes")
        self.write_latency = histogram(p + "write_latency_ms", f"{driver} kvstore::Write latency (ms)", "milliseconds")
        self.delete_range = counter(p + "delete_range", f"{driver} kvstore::DeleteRange calls")
        self.list = counter(p + "list", f"{driver} kvstore::List calls")


_kvstore_metrics: dict[str, KvStoreMetrics] = {}
#: driver ids of adapters (their bytes are also counted by the store beneath them)
ADAPTER_DRIVERS: set[str] = set()


def kvstore_metrics(driver: str) -> KvStoreMetrics:
    m = _kvstore_metrics.get(driver)
    if m is None:  # a race creates the same registered counters twice: harmless
        m = _kvstore_metrics.setdefault(driver, KvStoreMetrics(driver))
    return m


def instrument_kvstore_driver(cls: type) -> None:
    """Wraps the `read`/`write`/`delete_range`/`list` that `cls` defines so that each call is
    counted under its driver's id.  Only the most derived implementation counts, so a driver
    calling ``super().read`` is counted once."""
    for name in ("read", "read_now", "write", "write_now", "delete_range", "list"):
        fn = cls.__dict__.get(name)
        if fn is None or getattr(fn, "__isabstractmethod__", False) or getattr(fn, "_counted", False):
            continue
        wrapper = _WRAPPERS[name](fn)
        wrapper._counted = True  # type: ignore[attr-defined]
        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn  # type: ignore[attr-defined]
        setattr(cls, name, wrapper)


def _metrics_of(driver: Any) -> KvStoreMetrics | None:
    """The driver's counters; None for a wrapper that shares its base's spec (zarr3's shard
    store, test doubles): its calls reach the base, which counts them."""
    m = driver.__dict__.get("_metrics", False)
    if m is False:
        spec = driver.driver_spec
        base = driver.base
        if base is not None and getattr(base, "driver_spec", None) is spec:
            m = None
        else:
            if getattr(spec, "is_adapter", False):
                ADAPTER_DRIVERS.add(spec.id)
            m = kvstore_metrics(spec.id)
        driver.__dict__["_metrics"] = m
    return m


def _wrap_read(fn: Callable) -> Callable:
    def read(self: Any, key: bytes, options: Any) -> Any:
        m = _metrics_of(self)
        if m is None or type(self).read is not read:  # not counted here / a subclass's read counts it
            return fn(self, key, options)
        m.read.increment()
        start = time.perf_counter()
        fut = fn(self, key, options)

        def done(f: Any) -> None:
            m.read_latency.observe((time.perf_counter() - start) * 1000.0)
            if not f.cancelled() and f.exception() is None:
                result = f.result()
                if result.state == "value":
                    m.bytes_read.increment(len(result.value))

        fut.add_done_callback(done)
        return fut

    return read


def _wrap_read_now(fn: Callable) -> Callable:
    # On every chunk a local store reads: the driver's counters found in its __dict__, the
    # result's fields read directly.
    def read_now(self: Any, key: bytes, options: Any) -> Any:
        m = self.__dict__.get("_metrics", False)
        if m is False:
            m = _metrics_of(self)
        if m is None or type(self).read_now is not read_now:
            return fn(self, key, options)
        m.read.increment()
        start = time.perf_counter()
        try:
            result = fn(self, key, options)
        finally:
            m.read_latency.observe((time.perf_counter() - start) * 1000.0)
        if result._state == "value":
            m.bytes_read.increment(len(result._value))
        return result

    return read_now


def _wrap_write(fn: Callable) -> Callable:
    def write(self: Any, key: bytes, value: Any, options: Any) -> Any:
        m = _metrics_of(self)
        if m is None or type(self).write is not write:
            return fn(self, key, value, options)
        m.write.increment()
        start = time.perf_counter()
        fut = fn(self, key, value, options)
        size = 0 if value is None else len(value)

        def done(f: Any) -> None:
            m.write_latency.observe((time.perf_counter() - start) * 1000.0)
            if size and not f.cancelled() and f.exception() is None:
                m.bytes_written.increment(size)

        fut.add_done_callback(done)
        return fut

    return write


def _wrap_write_now(fn: Callable) -> Callable:
    def write_now(self: Any, key: bytes, value: Any, options: Any) -> Any:
        m = self.__dict__.get("_metrics", False)
        if m is False:
            m = _metrics_of(self)
        if m is None or type(self).write_now is not write_now:
            return fn(self, key, value, options)
        m.write.increment()
        start = time.perf_counter()
        try:
            stamp = fn(self, key, value, options)
        finally:
            m.write_latency.observe((time.perf_counter() - start) * 1000.0)
        if value:
            m.bytes_written.increment(len(value))
        return stamp

    return write_now


def _wrap_simple(name: str) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            m = _metrics_of(self)
            if m is not None and getattr(type(self), name) is call:
                getattr(m, name).increment()
            return fn(self, *args, **kwargs)

        return call

    return wrap


_WRAPPERS: dict[str, Callable[[Callable], Callable]] = {
    "read": _wrap_read, "read_now": _wrap_read_now, "write": _wrap_write, "write_now": _wrap_write_now,
    "delete_range": _wrap_simple("delete_range"), "list": _wrap_simple("list"),
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Snapshots and TensorStore's report formats.


def _metrics(prefix: str) -> Iterator[Metric]:
    with _registry_lock:
        chosen = [m for name, m in _registry.items() if name.startswith(prefix)]
    return iter(sorted(chosen, key=lambda m: m.name))


def snapshot(prefix: str = "") -> dict[str, dict[tuple, Any]]:
    """name -> {field values -> value} for every metric (histograms: (count, mean, ssd, sum))."""
    out: dict[str, dict[tuple, Any]] = {}
    for m in _metrics(prefix):
        rows = {}
        for fields, value in m._rows():
            rows[fields] = tuple(value[:4]) if isinstance(m, Histogram) else value
        out[m.name] = rows
    return out


def _is_zero(metric: Metric, value: Any) -> bool:
    if isinstance(metric, Histogram):
        return value[0] == 0
    if isinstance(metric, Gauge):
        return value == (0, 0)
    return value == 0


def collect_matching_metrics(metric_prefix: str = "", include_zero_metrics: bool = False) -> list[Any]:
    if not isinstance(metric_prefix, str) or not isinstance(include_zero_metrics, bool):
        raise TypeError(
            "experimental_collect_matching_metrics(): incompatible function arguments. The following argument "
            "types are supported:\n    1. (metric_prefix: str = '', include_zero_metrics: bool = False) -> list[Any]")
    out = []
    for m in _metrics(metric_prefix):
        rows = m._rows()
        if not rows and m.fields == ():
            rows = [((), m._zero())]  # type: ignore[attr-defined]
        values = []
        for fields, value in rows:
            if not include_zero_metrics and _is_zero(m, value):
                continue
            j = dict(zip(m.fields, fields))
            j.update(m._json(value))  # type: ignore[attr-defined]
            values.append(j)
        if values:
            out.append({"name": m.name, "values": values})
    return out


def _prometheus_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lstrip("/"))


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def collect_prometheus_format_metrics(metric_prefix: str = "") -> list[str]:
    if not isinstance(metric_prefix, str):
        raise TypeError(
            "experimental_collect_prometheus_format_metrics(): incompatible function arguments. The following "
            "argument types are supported:\n    1. (metric_prefix: str = '') -> list[str]")
    lines = []
    for m in _metrics(metric_prefix):
        name = _prometheus_name(m.name)
        lines.append(f"# HELP {name} {m.description}")
        if m.units:
            lines.append(f"# UNIT {name} {m.units}")
        rows = m._rows() or ([((), m._zero())] if not m.fields else [])  # type: ignore[attr-defined]
        if isinstance(m, Histogram):
            lines.append(f"# TYPE {name} histogram")
            for _, (count, mean, ssd, _sum, buckets) in rows:
                lines += [f"{name}_mean {_number(mean)}", f"{name}_count {count}",
                          f"{name}_variance {_number(ssd)}", f"{name}_sum {_number(_sum)}"]  # fmt: skip
                for b in range(max(buckets) + 1 if buckets else 0):
                    lines.append(f'{name}_bucket {{le="{_bucket_label(b)}"}} {buckets.get(b, 0)}')
                lines.append(f'{name}_bucket {{le="+Inf"}} {count}')
            continue
        for fields, value in rows:
            labels = ",".join(f'{f}="{v}"' for f, v in zip(m.fields, fields))
            labels = f" {{{labels}}}" if labels else ""
            if isinstance(m, Gauge):
                lines += [f"{name}{labels} {_number(value[0])}", f"{name}_max{labels} {_number(value[1])}"]
            else:
                lines.append(f"{name}{labels} {_number(value)}")
    return lines


# ---------------------------------------------------------------------------------------------
# Verbose logging.

_verbose_flags: dict[str, int] = {}


def update_verbose_logging(flags: str = "", overwrite: bool = False) -> None:
    """Sets the levels of this package's loggers from TensorStore-style flags
    (``"file=1,gcs"``; a bare name means level 1, ``all`` every logger of the package).
    A level above 0 turns the ``tensorstore_py.<name>`` logger to DEBUG."""
    if not isinstance(flags, str) or not isinstance(overwrite, bool):
        raise TypeError(
            "experimental_update_verbose_logging(): incompatible function arguments. The following argument "
            "types are supported:\n    1. (flags: str = '', overwrite: bool = False) -> None")
    if overwrite:
        for name in _verbose_flags:
            _logger(name).setLevel(logging.NOTSET)
        _verbose_flags.clear()
    for item in filter(None, (part.strip() for part in flags.split(","))):
        name, _, level = item.partition("=")
        try:
            value = int(level) if level else 1
        except ValueError:
            continue  # as TensorStore: an unparsable level is ignored
        _verbose_flags[name] = value
        _logger(name).setLevel(logging.DEBUG if value > 0 else logging.NOTSET)


def _logger(name: str) -> logging.Logger:
    return logging.getLogger("tensorstore_py" if name == "all" else f"tensorstore_py.{name}")
