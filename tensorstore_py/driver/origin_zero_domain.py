"""The domain of a spec for formats whose arrays start at 0 with resizable upper bounds.

n5 and zarr3 metadata give a shape (``dimensions`` / ``shape``) and optional labels (``axes``
/ ``dimension_names``); the spec's domain is that merged with the schema's, origin 0, upper
bounds implicit.  A format's spec mixes this in and says where its shape and labels are.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import StatusError, failed_precondition
from ..index import IndexDomain, IndexTransform
from ..json_util import INDEX_MAX
from ..schema.schema import merge_index_domains

__all__ = ["OriginZeroDomain"]


class OriginZeroDomain:
    """Mixin for a `KvsBackedDriverSpec` with ``metadata``, ``schema`` and ``_initial_domain``."""

    _initial_domain: Optional[IndexDomain] = None

    def domain_shape_and_labels(self, rank: int) -> tuple[Optional[list], Optional[list]]:
        """The metadata's shape and labels (None where it has none)."""
        raise NotImplementedError

    def domain_mismatch(self, exc: StatusError) -> BaseException:
        """The error for metadata that contradicts the schema's domain."""
        return exc.with_prefix("Mismatch between metadata and schema")

    def check_rank_and_domain(self, metadata: Any) -> None:
        """Stored metadata against the schema's rank and domain (as TensorStore words it)."""
        schema = self.schema  # type: ignore[attr-defined]
        if schema.rank is not None and schema.rank != metadata.rank:
            raise failed_precondition(
                f"Rank specified by schema ({schema.rank}) does not match rank specified by metadata ({metadata.rank})"
            )
        if schema.domain is not None:
            try:
                merge_index_domains(schema.domain, self.metadata_domain(metadata))  # type: ignore[attr-defined]
            except StatusError as exc:
                raise self.domain_mismatch(exc) from None

    def to_json(self, include_defaults: bool = False) -> dict:
        out = super().to_json(include_defaults)  # type: ignore[misc]
        if self.transform is None:  # type: ignore[attr-defined]
            domain = self.effective_domain()
            if domain is not None:
                out["transform"] = IndexTransform(domain=domain).to_json()
                out.pop("rank", None)
        return {k: out[k] for k in sorted(out)}

    def _rank(self) -> Optional[int]:
        ranks = [r for r in (self.metadata.rank, self.schema.rank) if r is not None]  # type: ignore[attr-defined]
        return max(ranks) if ranks else None

    def effective_domain(self) -> Optional[IndexDomain]:
        """The spec's domain: as fixed when it was parsed, else metadata merged with the schema."""
        if self._initial_domain is not None:
            return self._initial_domain
        return self._merged_domain()

    def _merged_domain(self) -> Optional[IndexDomain]:
        """Domain from the metadata merged with the schema's: origin 0, resizable upper bounds."""
        schema_domain = self.schema.domain  # type: ignore[attr-defined]
        rank = self._rank()
        shape, labels = self.domain_shape_and_labels(rank) if rank is not None else (None, None)
        if shape is None and labels is None and schema_domain is None:
            return IndexDomain(rank=0) if self.schema.rank == 0 else None  # type: ignore[attr-defined]
        assert rank is not None
        labels = labels if labels is not None else [""] * rank
        bounds: dict[str, Any] = {"exclusive_max": list(shape)} if shape is not None else {}
        domain = IndexDomain(inclusive_min=[0] * rank, implicit_upper_bounds=[True] * rank, labels=labels, **bounds)
        if schema_domain is not None:
            try:
                domain = merge_index_domains(schema_domain, domain)
            except StatusError as exc:
                raise self.domain_mismatch(exc) from None
        return IndexDomain(
            inclusive_min=list(domain.inclusive_min),
            inclusive_max=list(domain.inclusive_max),
            implicit_lower_bounds=[False] * rank,
            implicit_upper_bounds=[True] * rank,
            labels=list(domain.labels),
        )

    def spec_domain_transform_bounds(self, domain: IndexDomain) -> IndexDomain:
        """The transform a domain constraint gives the spec: merged with the metadata, resizable."""
        effective = self.effective_domain()
        if effective is not None and any(hi > INDEX_MAX for hi in effective.inclusive_max):
            # TensorStore resolves a parse-time transform's open bounds when opening; resolve
            # them against the new constraint now so the opened store gets finite bounds.
            effective = self._merged_domain()
        return effective if effective is not None else domain
