"""Tools for users' own property-based tests (needs the ``testing`` extra: hypothesis).

- `tensorstore_py.testing.strategies`: hypothesis strategies for dtypes, index domains,
  index expressions and transforms, chunk layouts, codecs, fill values, Specs and opened
  stores with the NumPy arrays they hold.
- `tensorstore_py.testing.model`: what reading or writing through a view does, in NumPy.
- `tensorstore_py.testing.kvstore`: `KvStoreTests`, a conformance suite a kvstore driver's
  tests subclass, and `DriverTests`, the same for TensorStore drivers.

Example counts: the kits run a few examples per test by default (they open stores); load a
hypothesis profile with more (``settings.load_profile("tensorstore_py.thorough")``, or
``TSPY_EXAMPLES=10000`` in this project's own suite) and every kit test runs that many.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["examples", "kit_settings"]

settings.register_profile(
    "tensorstore_py.ci", max_examples=20, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile(
    "tensorstore_py.thorough", max_examples=10_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


def examples(default: int) -> int:
    """`default` examples, unless the active hypothesis profile asks for more than hypothesis'
    own default of 100 (a thorough profile), in which case the profile's count."""
    configured = settings.default.max_examples
    return configured if configured > 100 else default


def kit_settings(default: int) -> settings:
    """Settings of one kit test: `examples(default)` examples, no deadline (stores do I/O)."""
    return settings(
        settings.default, max_examples=examples(default), deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )  # fmt: skip
