"""The `neuroglancer_precomputed` driver: Neuroglancer's precomputed volumes, sharded or not."""

from .spec import PrecomputedSpec

__all__ = ["PrecomputedSpec"]
