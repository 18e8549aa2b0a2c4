"""The `auto` driver: opens whatever array a kvstore location holds, by probing metadata keys.

Each format names the key that identifies it (`auto_detect_key`: zarr `.zarray`, n5
`attributes.json`, neuroglancer_precomputed `info`, ...) and may check the value
(`auto_detect_matches`).  All keys are read at once; the first format in priority order whose
key is present (and matches) is opened with the same kvstore, schema and options.
"""

from __future__ import annotations

from typing import Any

from .. import future as futures
from ..errors import StatusError, failed_precondition, invalid_argument
from ..future import Future
from ..json_util import ObjectReader, dumps
from ..kvstore.driver import ReadOptions, open_kvstore_driver
from .base import DriverSpec, auto_detect_formats, driver_for_id, register_driver

__all__ = ["AutoSpec"]


@register_driver
class AutoSpec(DriverSpec):
    id = "auto"
    context_resources = ()

    def parse_driver_members(self, r: ObjectReader) -> None:
        pass

    def validate_options(self) -> None:
        if self.open_mode.get("create") or self.open_mode.get("delete_existing"):
            raise invalid_argument("create mode not compatible with format auto-detection")

    def open(self, context, transaction: Any = None) -> Future:
        if self.kvstore is None:
            return futures.failed(invalid_argument('"kvstore" must be specified'))
        try:
            kv, path = open_kvstore_driver(self.kvstore, context)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        # Formats are named by driver id and key: only the one found is imported.
        candidates = auto_detect_formats()
        prefix = path if not path or path.endswith("/") else path + "/"
        probes = [kv.read((prefix + key).encode(), ReadOptions()) for _, key in candidates]
        # A path naming one value may be an archive holding the array (as TensorStore detects).
        archive = _zip_signature(kv, path) if path and not path.endswith("/") else futures.ready(False)

        def choose(results: list) -> Any:
            *results, is_zip = results
            for (name, _), result in zip(candidates, results):
                if result.state == "value":
                    cls = driver_for_id(name)
                    if cls.auto_detect_matches(result.value):
                        return self._open_as(cls, context, transaction)
            if is_zip:
                return self._open_in_zip(context, transaction)
            probed = ", ".join(dumps(prefix + key) for _, key in candidates)
            raise failed_precondition(f"Failed to detect format for {dumps(path)} (probed {probed})")

        return futures.chain(futures.gather([*probes, archive]), choose)

    def _open_in_zip(self, context, transaction: Any = None) -> Future:
        from ..kvstore import KvStore
        from ..kvstore.driver import ParsedSpec, get_driver_spec_class

        base = self.kvstore.spec(retain_context=True) if isinstance(self.kvstore, KvStore) else self.kvstore
        inner = AutoSpec()
        inner.schema = self.schema
        inner.context_spec = self.context_spec
        inner.transform = self.transform
        inner.open_mode = dict(self.open_mode)
        inner.recheck_cached_data = self.recheck_cached_data
        inner.recheck_cached_metadata = self.recheck_cached_metadata
        zip_spec = get_driver_spec_class("zip")({})
        inner.kvstore = KvStore.Spec._wrap(ParsedSpec(zip_spec, "", None, {}, base._parsed.copy()))
        return inner.open(context, transaction)

    def _open_as(self, cls: type[DriverSpec], context, transaction: Any = None) -> Future:
        spec = cls()
        spec.schema = self.schema
        spec.context_spec = self.context_spec
        spec.transform = self.transform
        spec.open_mode = dict(self.open_mode)
        spec.recheck_cached_data = self.recheck_cached_data
        spec.recheck_cached_metadata = self.recheck_cached_metadata
        spec.kvstore = spec.normalize_kvstore(self.kvstore)

        def annotate(exc: BaseException) -> BaseException:
            if isinstance(exc, StatusError):
                return exc.with_prefix(f"Error opening {dumps(cls.id)} driver")
            return exc

        opened = spec.open(context) if transaction is None else spec.open(context, transaction)
        return futures.map_error(opened, annotate)


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive


def _zip_signature(kv: Any, path: str) -> Future:
    """Future of whether the value at `path` starts like a zip archive."""
    try:
        head = kv.read(path.encode(), ReadOptions(byte_range=(0, 4)))
    except (StatusError, ValueError, OSError):
        return futures.ready(False)

    def check(result: Any) -> bool:
        return result.state == "value" and result.value in _ZIP_SIGNATURES

    return futures.recover(futures.chain(head, check), lambda exc: False)
