"""The ``json`` driver: the JSON value at a JSON Pointer inside one kvstore value, as a rank-0
TensorStore of data type json.

The document is a shared cache entry (`cache.metadata`), fresh as ``recheck_cached_data``
asks; a write is a read-modify-write of the whole document through that entry (conditional on
the generation read, retried on conflict), or a staged update inside a transaction.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np

from ... import dtypes
from ... import future as futures
from ...errors import StatusError, failed_precondition, invalid_argument, not_found
from ...future import Future
from ...index import IndexDomain
from ...json_util import MISSING, ObjectReader, dumps, expect_string
from ..base import DriverSpec, add_resource_members, recheck_json, register_driver
from ..driver import Driver
from .pointer import ABSENT, get_pointer, parse_pointer, set_pointer

__all__ = ["JsonDriverSpec", "JsonDriver"]

_JSON = dtypes.dtype("json")


def _pointer(j: Any) -> str:
    text = expect_string(j)
    parse_pointer(text)
    return text


def _parse_document(data: bytes) -> tuple:
    """The stored bytes as a 1-tuple holding the document (a stored ``null`` is not absent)."""
    try:
        return (json.loads(data.decode("utf-8")),)
    except (UnicodeDecodeError, ValueError):
        raise invalid_argument("Invalid JSON") from None


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _encode(document: tuple) -> bytes:
    return dumps(_finite(document[0])).encode("utf-8")


@register_driver
class JsonDriverSpec(DriverSpec):
    id = "json"
    url_scheme = "json"
    recheck_cached_data_default = "open"

    def __init__(self) -> None:
        super().__init__()
        self.json_pointer = ""

    def parse_driver_members(self, r: ObjectReader) -> None:
        self.json_pointer = r.get("json_pointer", _pointer, "")
        # The data type and rank are fixed, but checked against the spec's only when opening
        # (as TensorStore reports a conflict), so they are written out rather than stored.
        if self.transform is None and self.schema.rank in (None, 0):
            from ...index import IndexTransform

            self.transform = IndexTransform(input_rank=0)

    def validate_options(self) -> None:
        constraints = self.schema.copy()
        constraints._set_dtype(_JSON)
        constraints._set_rank(0, "rank")

    def to_json(self, include_defaults: bool = False) -> dict:
        j = super().to_json(include_defaults)
        j.setdefault("dtype", "json")
        if include_defaults:
            schema = dict(j.get("schema", {}))
            schema.setdefault("dtype", "json")
            schema.setdefault("rank", 0)
            j["schema"] = {k: schema[k] for k in sorted(schema)}
        return {k: j[k] for k in sorted(j)}

    def effective_dtype(self):
        return self.schema.dtype or _JSON

    def effective_rank(self) -> int | None:
        return 0 if self.schema.rank is None else self.schema.rank

    def driver_members_json(self) -> dict:
        return {"json_pointer": self.json_pointer} if self.json_pointer else {}

    @classmethod
    def spec_json_from_url(cls, kvstore: dict, path: str) -> dict:
        """A ``json:<pointer>`` URL component: the pointer follows the scheme."""
        j: dict = {"driver": cls.id, "kvstore": kvstore}
        if path:
            j["json_pointer"] = path
        return j

    def url_component(self) -> str:
        return f"json:{self.json_pointer}"

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        out.setdefault("context", {})
        out.setdefault("cache_pool", "cache_pool")
        out.setdefault("data_copy_concurrency", "data_copy_concurrency")
        out.setdefault("json_pointer", "")
        out.setdefault("recheck_cached_data", "open")
        out["schema"] = schema_json
        if self.kvstore is not None:
            out["kvstore"] = self.kvstore.to_json(include_defaults=True)

    def effective_domain(self):
        return IndexDomain(shape=[])

    def effective_schema(self):
        schema = super().effective_schema()
        if schema.dtype is None:
            schema.update(dtype=_JSON)
        schema.update(domain=IndexDomain(shape=[]))
        return schema

    def open(self, context: Any, transaction: Any = None) -> Future:
        from ...cache.metadata import metadata_entry
        from ...kvstore.driver import open_kvstore_driver

        try:
            if self.kvstore is None:
                raise invalid_argument('"kvstore" must be specified')
            kv, path = open_kvstore_driver(self.kvstore, context)
            pool = context.get_resource("cache_pool", self.resources.get("cache_pool"))
            copy = context.get_resource("data_copy_concurrency", self.resources.get("data_copy_concurrency"))
            entry = metadata_entry(pool, kv, path.encode(), _parse_document, kind="json")
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        return futures.ready(JsonDriver(self, kv, path, entry, pool, copy, context, time.time()))


class JsonDriver(Driver):
    """One JSON value (at `spec.json_pointer`) of the document stored under `path` in `kv`."""

    def __init__(self, spec: JsonDriverSpec, kv: Any, path: str, entry: Any, pool: Any, data_copy: Any, context: Any, open_time: float):
        self.spec = spec
        self.kv = kv
        self.path = path
        self.entry = entry
        self.cache_pool = pool
        self.data_copy = data_copy
        self.context = context
        self.pointer = spec.json_pointer
        option = spec.recheck_cached_data
        self._open_time = open_time
        self._recheck = "open" if option is None else option

    @property
    def domain(self) -> IndexDomain:
        return IndexDomain(shape=[])

    @property
    def dtype(self) -> Any:
        return _JSON

    def _staleness(self) -> float:
        from ..chunk_cache import staleness_bound

        return staleness_bound(self._recheck, self._open_time)()

    def _key(self) -> bytes:
        return self.path.encode()

    # -- I/O -----------------------------------------------------------------------------------

    def read(self, transform: Any, transaction: Any = None, out: np.ndarray | None = None, batch: Any = None) -> Future:
        describe = self.kv.describe_key(self._key())

        def select(document: Any) -> np.ndarray:
            if document is ABSENT:
                raise not_found(f"Error reading {describe}")
            try:
                value = get_pointer(document, self.pointer)
            except StatusError as exc:
                raise exc.with_prefix(f"Error reading {describe}") from None
            element = np.empty((), dtype=object)
            element[()] = value
            target = out if out is not None else np.empty(tuple(transform.input_shape), dtype=object)
            np.copyto(target, element)
            return target

        if transaction is not None:
            def got(result: Any) -> Any:
                if result.state != "value":
                    return select(ABSENT)
                try:
                    return select(_parse_document(result.value)[0])
                except StatusError as exc:
                    if exc.message == "Invalid JSON":
                        raise failed_precondition(f"Error reading {describe}: Invalid JSON") from None
                    raise

            return futures.chain(transaction.read(self.kv, self._key()), got)

        def got_entry(pair: tuple) -> Any:
            document, _ = pair
            return select(ABSENT if document is None else document[0])

        def parse_error(exc: BaseException) -> BaseException:
            if isinstance(exc, StatusError) and exc.message == "Invalid JSON":
                return failed_precondition(f"Error reading {describe}: Invalid JSON")
            return exc

        return futures.chain(futures.map_error(self.entry.get(self._staleness()), parse_error), got_entry)

    def write(self, transform: Any, array: np.ndarray, transaction: Any = None) -> Any:
        from ...cache.staging import UpdateMutation
        from ..chunked import WriteFutures

        if array.size == 0:
            done = futures.ready(None)
            return WriteFutures(done, done)
        value = array.reshape(-1)[-1]
        describe = self.kv.describe_key(self._key())
        pointer = self.pointer

        def updated(document: Any) -> Any:
            try:
                return set_pointer(document, pointer, value)
            except StatusError as exc:
                raise exc.with_prefix(f"Error writing {describe}") from None

        if transaction is not None:
            def update_bytes(stored: bytes | None) -> Any:
                document = ABSENT if stored is None else _parse_document(stored)[0]
                return _encode((updated(document),))

            try:
                transaction.stage(self.kv, self._key(), UpdateMutation(update_bytes))
            except ValueError as exc:
                return WriteFutures(futures.failed(exc), futures.failed(exc))
            done = futures.ready(None)
            return WriteFutures(done, done)

        def update(current: Any) -> Any:
            return (updated(ABSENT if current is None else current[0]),)

        commit = futures.chain(self.entry.update(update, _encode), lambda _: None)
        return WriteFutures(futures.ready(None), commit)

    # -- spec ----------------------------------------------------------------------------------

    def spec_json(self, builder: Any, minimal: bool) -> dict:
        j: dict[str, Any] = {"driver": "json", "dtype": "json"}
        j["kvstore"] = self.kv.spec_json(self.path, builder) if builder is not None else self.kv.spec_json(self.path)
        if self.pointer:
            j["json_pointer"] = self.pointer
        recheck = recheck_json(self.spec.recheck_cached_data, self.spec.recheck_cached_data_default)
        if recheck is not MISSING:
            j["recheck_cached_data"] = recheck
        if builder is not None:
            add_resource_members(j, builder, {"cache_pool": self.cache_pool, "data_copy_concurrency": self.data_copy})
        return j

    def context_resources(self) -> list:
        return [self.cache_pool, self.data_copy]

    @property
    def url_suffix(self) -> str:
        return f"json:{self.pointer}"
