"""The `neuroglancer_precomputed` driver spec and its open / create logic.

The metadata is the volume's `info` file, shared by all scales, so creating a scale is a
read-modify-write of `info` (conditional on its generation) rather than a create-if-absent
write as for single-array formats.
"""

from __future__ import annotations

from typing import Any

from ... import future as futures
from ...context import Context
from ...errors import StatusError, failed_precondition, invalid_argument, not_found
from ...future import Future
from ...index import IndexDomain
from ...json_util import ObjectReader, expect_int
from ...json_util import loads as json_loads
from ...cache.rmw import UNCHANGED, read_modify_write
from ...kvstore.key_range import KeyRange, prefix_successor
from ..base import register_driver
from ..kvs_backed import KvsBackedDriverSpec, describe_key
from .metadata import MultiscaleConstraints, MultiscaleMetadata, OpenConstraints, ScaleConstraints, parse_info
from .schema_rules import LABELS, create_scale, open_scale, validate_schema

__all__ = ["PrecomputedSpec"]

_NEG_INF = -(2**62 - 1)
_POS_INF = 2**62


@register_driver
class PrecomputedSpec(KvsBackedDriverSpec):
    opens_without_modifying = False  # it opens its own way (see `open`)
    id = "neuroglancer_precomputed"
    url_scheme = "neuroglancer-precomputed"
    url_path_supported = False
    default_metadata_key = "info"
    #: Creating a scale extends a copy of the stored `info`; kept per open all the same, so a
    #: change to that rule cannot leak into other opens.
    parsed_metadata_is_shareable = False
    auto_detect_key = "info"
    auto_detect_priority = 40

    @classmethod
    def auto_detect_matches(cls, value: bytes) -> bool:
        """An `info` file is a precomputed volume's when it is an object listing scales."""
        try:
            j = json_loads(value)
        except ValueError:
            return False
        return isinstance(j, dict) and (j.get("@type") == "neuroglancer_multiscale_volume" or "scales" in j)

    def __init__(self) -> None:
        super().__init__()
        self.constraints = OpenConstraints()

    # -- JSON ------------------------------------------------------------------------------------

    def parse_driver_members(self, r: ObjectReader) -> None:
        c = self.constraints
        c.scale_index = r.get("scale_index", lambda v: expect_int(v, 0), None)
        c.multiscale = r.get("multiscale_metadata", MultiscaleConstraints.from_json, MultiscaleConstraints())
        c.scale = r.get("scale_metadata", ScaleConstraints.from_json, ScaleConstraints())
        if c.multiscale.data_type is not None:
            if self.schema.dtype is not None and self.schema.dtype.name != c.multiscale.data_type:
                raise invalid_argument(
                    f"Mismatch between data type in schema ({self.schema.dtype.name}) and metadata ({c.multiscale.data_type})"
                )
            self.schema.update(dtype=c.multiscale.data_type)
        if self.schema.rank is not None and self.schema.rank != 4:
            raise invalid_argument(f"Rank specified by schema ({self.schema.rank}) does not match rank specified by metadata (4)")

    def to_json(self, include_defaults: bool = False) -> dict:
        out = super().to_json(include_defaults)
        if "transform" not in out:
            # The format fixes rank and labels, so a spec always carries its (partial) domain.
            try:
                from ...index import IndexTransform

                out["transform"] = IndexTransform(domain=self.effective_domain()).to_json()
                out.pop("rank", None)
            except ValueError:
                pass
        return {k: out[k] for k in sorted(out)}

    def driver_members_json(self) -> dict:
        c = self.constraints
        out: dict[str, Any] = {}
        if c.scale_index is not None:
            out["scale_index"] = c.scale_index
        multiscale = c.multiscale.to_json()
        if multiscale:
            out["multiscale_metadata"] = multiscale
        scale = c.scale.to_json()
        if scale:
            out["scale_metadata"] = scale
        return out

    def effective_domain(self):
        domain = self._constraint_domain()
        if self.schema.domain is not None:
            from ...schema.schema import merge_index_domains

            domain = merge_index_domains(self.schema.domain, domain)
        return domain

    def _constraint_domain(self) -> IndexDomain:
        """What `multiscale_metadata` and `scale_metadata` alone say about the domain."""
        c = self.constraints
        lo = [_NEG_INF] * 3 + [0]
        hi = [_POS_INF] * 4
        il = [True, True, True, False]
        iu = [True] * 4
        if c.multiscale.num_channels is not None:
            hi[3], iu[3] = c.multiscale.num_channels, False
        if c.scale.size is not None:
            for i in range(3):
                lo[i] = c.scale.voxel_offset[i]
                hi[i] = lo[i] + c.scale.size[i]
                il[i] = iu[i] = False
        return IndexDomain(
            inclusive_min=lo, exclusive_max=hi, implicit_lower_bounds=il, implicit_upper_bounds=iu, labels=LABELS
        )

    def spec_domain_transform_bounds(self, domain: IndexDomain) -> IndexDomain:
        """The transform a domain option gives a spec: the format's own partial domain (the
        schema keeps the constraint), resolved against the volume when opened."""
        return self._constraint_domain()

    # -- metadata hooks (used by the generic parts) ---------------------------------------------------

    def parse_stored_metadata(self, data: bytes) -> MultiscaleMetadata:
        try:
            j = json_loads(data)
        except ValueError as exc:
            # TensorStore names no detail of a syntax error in `info` (but the nesting limit).
            raise (exc if "nested more than" in str(exc) else invalid_argument("Invalid JSON")) from None
        return parse_info(j)

    def encode_metadata(self, metadata: MultiscaleMetadata) -> bytes:
        return metadata.encode()

    def create_metadata(self) -> Any:
        return create_scale(None, self.constraints, self.schema)

    def validate_metadata(self, metadata: Any) -> None:
        pass

    def metadata_domain(self, metadata: Any):
        from .schema_rules import metadata_domain

        m, index = metadata
        return metadata_domain(m, m.scales[index])

    def make_driver(self, metadata: Any, kvstore_driver: Any, path: str, context: Context):
        from .driver import PrecomputedDriver

        m, index = metadata
        return PrecomputedDriver(self, m, index, kvstore_driver, path, context)

    # -- open -------------------------------------------------------------------------------------

    def _open_existing(self, m: MultiscaleMetadata) -> tuple[MultiscaleMetadata, int]:
        index = open_scale(m, self.constraints, self.schema)
        scale = m.scales[index]
        chunk_size = self.constraints.scale.chunk_size or scale.chunk_sizes[0]
        validate_schema(m, index, list(chunk_size), self.schema)
        return m, index

    def open(self, context: Context, transaction: Any = None) -> Future:
        """Future[PrecomputedDriver] for this spec bound to `context`.

        Chunk I/O of the opened volume goes through `transaction`; creating a scale does not
        (it is written at once).
        """
        try:
            mode, kv, path = self.open_storage(context)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)
        key = (path + "info").encode()

        def make(pair: tuple[MultiscaleMetadata, int]):
            # (ts.open resolves a spec transform's implicit bounds against the opened volume.)
            return self.make_driver(pair, kv, path, context)

        def writing(fn):
            try:
                return fn()
            except StatusError as exc:
                raise exc.with_prefix(f"Error writing {describe_key(kv, key)}") from None
            except (ValueError, TypeError) as exc:
                raise invalid_argument(f"Error writing {describe_key(kv, key)}: {exc}") from None

        if mode.get("assume_metadata") or mode.get("assume_cached_metadata"):
            try:
                return futures.ready(make(writing(lambda: create_scale(None, self.constraints, self.schema))))
            except (ValueError, TypeError) as exc:
                return futures.failed(exc)

        def parse(data: bytes) -> MultiscaleMetadata:
            try:
                return self.parse_stored_metadata(data)
            except (ValueError, TypeError) as exc:
                message = exc.message if isinstance(exc, StatusError) else str(exc)
                raise failed_precondition(f"Error reading {describe_key(kv, key)}: {message}") from None

        def attempt() -> Future:
            # Opening an existing scale or adding one to `info` is one read-modify-write.
            chosen: list = []

            def update(value: bytes | None, generation: bytes) -> Any:
                chosen.clear()
                existing = None
                if value is not None:
                    existing = parse(value)
                    if mode.get("open"):
                        try:
                            chosen.append(self._open_existing(existing))
                            return UNCHANGED
                        except StatusError as exc:
                            if not (mode.get("create") and exc.code == "NOT_FOUND"):
                                raise
                if not mode.get("create"):
                    raise not_found(f"Metadata at {describe_key(kv, key)} does not exist")
                created = writing(lambda: create_scale(existing, self.constraints, self.schema))
                chosen.append(created)
                return created[0].encode()

            done = read_modify_write(kv, key, update)
            return futures.chain(done, lambda _: make(chosen[0]))

        if mode.get("delete_existing"):
            prefix = path.encode()
            deleted = kv.delete_range(KeyRange(prefix, prefix_successor(prefix)) if prefix else KeyRange())
            return futures.chain(deleted, lambda _: attempt())
        return attempt()
