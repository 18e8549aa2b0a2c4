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
from .base import DriverSpec, registered_drivers, register_driver

__all__ = ["AutoSpec"]


def _candidates() -> list[type[DriverSpec]]:
    found = [cls for cls in registered_drivers() if getattr(cls, "auto_detect_key", None)]
    return sorted(found, key=lambda cls: cls.auto_detect_priority)


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
        candidates = _candidates()
        prefix = path if not path or path.endswith("/") else path + "/"
        probes = [kv.read((prefix + cls.auto_detect_key).encode(), ReadOptions()) for cls in candidates]

        def choose(results: list) -> Any:
            for cls, result in zip(candidates, results):
                if result.state == "value" and cls.auto_detect_matches(result.value):
                    return self._open_as(cls, context, transaction)
            probed = ", ".join(dumps(prefix + cls.auto_detect_key) for cls in candidates)
            raise failed_precondition(f"Failed to detect format for {dumps(path)} (probed {probed})")

        return futures.chain(futures.gather(probes), choose)

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
