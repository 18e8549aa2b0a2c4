"""The `downsample` driver: a virtual, read-only, downsampled view of another TensorStore.

``ts.downsample(base, downsample_factors, method)`` takes an open `TensorStore` (any driver,
any view) or a `Spec`; the JSON form is ``{"driver": "downsample", "base": ...,
"downsample_factors": [...], "downsample_method": ...}``.
"""

from __future__ import annotations

from typing import Any, Iterable

from ... import future as futures
from ...errors import invalid_argument
from ...future import Future
from ...index import IndexTransform
from ...json_util import ObjectReader, expect_array, expect_int
from ..base import DriverSpec, register_driver
from . import reduce as R
from .driver import DownsampleDriver

__all__ = ["DownsampleSpec", "DownsampleDriver", "downsample"]


def _parse_base(j: Any) -> Any:
    from ...spec import Spec

    if isinstance(j, Spec):
        return j.copy()
    if not isinstance(j, (dict, str)):
        raise invalid_argument(f"Expected object, but received: {j!r}")
    return Spec(j)


def _parse_factors(j: Any) -> list[int]:
    from ...errors import annotate

    items = expect_array(j)
    out = []
    for i, x in enumerate(items):
        try:
            out.append(expect_int(x, 1, (1 << 63) - 1))
        except ValueError as exc:
            raise annotate(exc, f"Error parsing value at position {i}") from None
    return out


def _rank_mismatch(rank: int, existing: int) -> ValueError:
    return invalid_argument(f"Rank specified by rank ({rank}) does not match existing rank specified by schema ({existing})")


@register_driver
class DownsampleSpec(DriverSpec):
    """``{"driver": "downsample", "base": <TensorStore spec>, "downsample_factors", "downsample_method"}``."""

    id = "downsample"
    context_resources = ()

    def __init__(self) -> None:
        super().__init__()
        self.base: Any = None  # tensorstore_py.Spec
        self.factors: list[int] = []
        self.method: str = "stride"

    def parse_driver_members(self, r: ObjectReader) -> None:
        from ...errors import annotate

        def member(name: str, parse: Any, expected: str) -> Any:
            if not r.has(name):
                raise invalid_argument(f'Error parsing object member "{name}": Expected {expected}, but member is missing')
            return r.get(name, parse)

        def parse_base(j: Any) -> Any:
            # The element type is stated once, at the top (as TensorStore writes it): the base
            # gets it back.
            if isinstance(j, dict) and "dtype" not in j and self.schema.dtype is not None:
                j = {**j, "dtype": self.schema.dtype.name}
            return _parse_base(j)

        self.base = member("base", parse_base, "object")
        self.factors = member("downsample_factors", _parse_factors, "array")
        try:
            self._merge_rank(len(self.factors))
        except ValueError as exc:
            raise annotate(exc, 'Error parsing object member "downsample_factors"') from None
        method = member("downsample_method", R.parse_method, "one of " + ", ".join(f'"{m}"' for m in R.METHODS))
        try:
            dtype = self.effective_dtype()
            if dtype is not None:
                R.check_dtype(method, dtype)
        except ValueError as exc:
            raise annotate(exc, 'Error parsing object member "downsample_method"') from None
        self.method = method

    def _merge_rank(self, rank: int) -> None:
        existing = self.base.rank if self.base is not None else None
        if existing is None:
            existing = self.schema.rank
        elif self.schema.rank is not None and self.schema.rank != existing:
            raise _rank_mismatch(self.schema.rank, existing)
        if existing is not None and existing != rank:
            raise _rank_mismatch(rank, existing)

    def driver_members_json(self) -> dict:
        base = self.base.to_json()
        base.pop("dtype", None)
        if "transform" not in base:
            base.pop("rank", None)
        return {"base": base, "downsample_factors": list(self.factors), "downsample_method": self.method}

    def to_json(self, include_defaults: bool = False) -> dict:
        out = super().to_json(include_defaults)
        dtype = self.effective_dtype()
        if dtype is not None:
            out["dtype"] = dtype.name
        if self.transform is None and "rank" not in out and self.factors:
            out["rank"] = len(self.factors)
        if include_defaults:
            out["base"] = self.base.to_json(include_defaults=True)
        return {k: out[k] for k in sorted(out)}

    def _add_defaults(self, out: dict, schema_json: dict) -> None:
        # A virtual driver: none of the open-mode, cache or kvstore members.
        out.setdefault("context", {})
        out["schema"] = schema_json

    # -- what the spec says ---------------------------------------------------------------------

    def effective_dtype(self):
        if self.schema.dtype is not None:
            return self.schema.dtype
        return None if self.base is None else self.base.dtype

    def effective_rank(self) -> int | None:
        if self.rank is not None:
            return self.rank
        return len(self.factors) if self.base is not None else None

    def effective_domain(self):
        if self.base is None:
            return self.schema.domain
        domain = self.base.domain
        if domain is None:
            return self.schema.domain
        return R.downsample_domain(domain, self.factors, self.method)

    def effective_schema(self):
        schema = super().effective_schema()
        base = self.base.schema if self.base is not None else None
        extra: dict[str, Any] = {}
        dtype = self.effective_dtype()
        if dtype is not None and schema.dtype is None:
            extra["dtype"] = dtype
        domain = self.effective_domain()
        if domain is not None and schema.domain is None:
            extra["domain"] = domain
        rank = self.effective_rank()
        if rank is not None and schema.rank is None and domain is None:
            extra["rank"] = rank
        if base is not None and base.codec is not None:
            extra["codec"] = base.codec
        if base is not None and base.chunk_layout is not None and rank is not None:
            from ...schema.transform import transform_chunk_layout
            from ...index import OutputIndexMap

            strided = IndexTransform(input_rank=rank, output=[OutputIndexMap(input_dimension=d, stride=f) for d, f in enumerate(self.factors)])
            try:
                extra["chunk_layout"] = transform_chunk_layout(base.chunk_layout, strided)
            except ValueError:
                pass
        if extra:
            schema.update(**extra)
        return schema

    def base_spec_view(self) -> Any:
        """The base's driver spec over the positions this spec's view reduces (``Spec.base``)."""
        from ...index.compose import compose
        from .propagate import upsample_transform

        transform = self.transform
        base = self.base.copy()
        base_domain = base.domain
        if transform is None or base_domain is None:
            return base._driver_spec
        base_hi = [h + 1 for h in base_domain.inclusive_max]
        up = upsample_transform(transform, self.factors, list(base_domain.origin), base_hi)
        base_t = base.transform if base.transform is not None else IndexTransform(domain=base_domain)
        spec = base._driver_spec.copy()
        spec.transform = compose(base_t, up)
        return spec

    # -- open -----------------------------------------------------------------------------------

    def open(self, context: Any, transaction: Any = None) -> Future:
        from ...open import open as open_store

        try:
            R.check_dtype(self.method, self.base.dtype) if self.base.dtype is not None else None
            opened = open_store(self.base, context=context, transaction=transaction, read=True)
        except (ValueError, TypeError) as exc:
            return futures.failed(exc)

        def make(store: Any) -> DownsampleDriver:
            return _driver_for(store, self.factors, self.method, self.schema.dtype)

        return futures.chain(opened, make)


def _driver_for(store: Any, factors: list[int], method: str, dtype_constraint: Any = None) -> DownsampleDriver:
    rank = store.rank
    if len(factors) != rank:
        raise invalid_argument(f"Number of downsample factors ({len(factors)}) does not match TensorStore rank ({rank})")
    if any(f < 1 for f in factors):
        raise invalid_argument(f"Downsample factors {{{', '.join(map(str, factors))}}} are not all positive")
    R.check_dtype(method, store.dtype)
    if dtype_constraint is not None and dtype_constraint != store.dtype:
        raise invalid_argument(f"dtype ({store.dtype.name}) does not match dtype in schema ({dtype_constraint.name})")
    driver = store._driver
    context = getattr(driver, "context", None)
    if context is None:
        from ...context import Context

        context = Context()
    return DownsampleDriver(driver, store._transform, factors, method, context)


def downsample(base: Any, downsample_factors: Iterable[int], method: str) -> Any:
    """A virtual downsampled view of `base` (a `TensorStore`, giving a read-only `TensorStore`,
    or a `Spec`, giving a `Spec`): each element is the reduction by `method` of a block of
    ``downsample_factors`` base elements, blocks aligned to index 0."""
    from ...spec import Spec
    from ...tensorstore import TensorStore

    factors = [int(f) for f in downsample_factors]
    if isinstance(base, TensorStore):
        R.parse_method(method)
        if base.transaction is not None:
            base.transaction.check_open()
        driver = _driver_for(base, factors, method)
        return TensorStore(driver, IndexTransform(domain=driver.domain), True, False, base.transaction)
    if isinstance(base, Spec):
        R.parse_method(method)
        spec = DownsampleSpec()
        spec.base = base.copy()
        spec.factors = factors
        spec.method = method
        spec._merge_rank(len(factors))
        if spec.base.dtype is not None:
            R.check_dtype(method, spec.base.dtype)
        domain = base.domain
        if domain is not None:
            if spec.base.transform is None:
                base_spec = spec.base._driver_spec.copy()
                base_spec.transform = IndexTransform(domain=domain)
                spec.base = Spec._from_driver_spec(base_spec)
            spec.transform = IndexTransform(domain=R.downsample_domain(domain, factors, method))
        return Spec._from_driver_spec(spec)
    raise TypeError("downsample(): incompatible function arguments: base must be a TensorStore or Spec")
