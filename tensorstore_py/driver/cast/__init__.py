"""The ``cast`` driver, ``ts.cast`` and ``TensorStore.astype``."""

from __future__ import annotations

from typing import Any

from ... import dtypes
from .driver import CastDriver, CastDriverSpec, cast_spec, cast_store

__all__ = ["cast", "CastDriver", "CastDriverSpec"]


def cast(base: Any, dtype: dtypes.DTypeLike) -> Any:
    """A view of `base` (a TensorStore or a Spec) with its data type converted to `dtype`.

    Reading converts base -> `dtype`, writing `dtype` -> base; a direction TensorStore does
    not convert leaves the view read-only or write-only, and neither is an error.
    """
    from ...spec import Spec

    if isinstance(base, Spec):
        return cast_spec(base, dtype)
    return cast_store(base, dtype)
