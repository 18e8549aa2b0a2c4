"""tensorstore_py: the TensorStore Python API (``import tensorstore as ts``) in Python + Cython.

Use it as ``import tensorstore_py as ts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .dtypes import ALL_DTYPES as _ALL_DTYPES
from .dtypes import DTypeLike as DTypeLike
from .dtypes import dtype as dtype
from .future import Future as Future
from .future import FutureLike as FutureLike
from .future import Promise as Promise

# Each layer exports its public names through its package __all__.
from .index import *  # noqa: F401,F403
from .schema import *  # noqa: F401,F403
from .context import *  # noqa: F401,F403
from .kvstore import *  # noqa: F401,F403

globals().update(_ALL_DTYPES)
del _ALL_DTYPES
if TYPE_CHECKING:  # the dtype objects added just above, named for type checkers
    bool: dtype
    int8: dtype
    uint8: dtype
    int16: dtype
    uint16: dtype
    int32: dtype
    uint32: dtype
    int64: dtype
    uint64: dtype
    float16: dtype
    float32: dtype
    float64: dtype
    complex64: dtype
    complex128: dtype
    int2: dtype
    int4: dtype
    bfloat16: dtype
    float4_e2m1fn: dtype
    float8_e3m4: dtype
    float8_e4m3b11fnuz: dtype
    float8_e4m3fn: dtype
    float8_e4m3fnuz: dtype
    float8_e5m2: dtype
    float8_e5m2fnuz: dtype
    float8_e8m0fnu: dtype
    char: dtype
    byte: dtype
    string: dtype
    ustring: dtype
    json: dtype

newaxis = None
inf = (1 << 62) - 1


from .spec import OpenMode as OpenMode
from .spec import Spec as Spec
from .tensorstore import TensorStore as TensorStore
from .driver.chunked import WriteFutures as WriteFutures
from .batch import *  # noqa: F401,F403
from .cache.transaction import Transaction as Transaction
from .open import open as open
from . import catalog as _catalog  # noqa: F401  (names every driver; their modules load on first use)
from .driver.array import array as array
import typing as _typing  # noqa: E402

DownsampleMethod = _typing.Literal["stride", "median", "mode", "mean", "min", "max"]

from . import metrics as _metrics

experimental_collect_matching_metrics = _metrics.collect_matching_metrics
experimental_collect_prometheus_format_metrics = _metrics.collect_prometheus_format_metrics
experimental_update_verbose_logging = _metrics.update_verbose_logging

# Public names whose modules are imported on first access (PEP 562), as the drivers are.
_LAZY_ATTRIBUTES = {
    "ocdbt": ("tensorstore_py.ocdbt", None),
    "cast": ("tensorstore_py.driver.cast", "cast"),
    "concat": ("tensorstore_py.driver.stack", "concat"),
    "overlay": ("tensorstore_py.driver.stack", "overlay"),
    "stack": ("tensorstore_py.driver.stack", "stack"),
    "downsample": ("tensorstore_py.driver.downsample", "downsample"),
    "virtual_chunked": ("tensorstore_py.driver.virtual_chunked", "virtual_chunked"),
    "VirtualChunkedReadParameters": ("tensorstore_py.driver.virtual_chunked", "VirtualChunkedReadParameters"),
    "VirtualChunkedWriteParameters": ("tensorstore_py.driver.virtual_chunked", "VirtualChunkedWriteParameters"),
}


if not TYPE_CHECKING:  # hidden from type checkers, which would take any name for an attribute

    def __getattr__(name: str) -> _typing.Any:
        where = _LAZY_ATTRIBUTES.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        module = importlib.import_module(where[0])
        value = module if where[1] is None else getattr(module, where[1])
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_ATTRIBUTES})


if TYPE_CHECKING:  # the lazy attributes above, for type checkers
    from . import ocdbt as ocdbt
    from .driver.cast import cast as cast
    from .driver.downsample import downsample as downsample
    from .driver.stack import concat as concat, overlay as overlay, stack as stack
    from .driver.virtual_chunked import (
        VirtualChunkedReadParameters as VirtualChunkedReadParameters,
        VirtualChunkedWriteParameters as VirtualChunkedWriteParameters,
        virtual_chunked as virtual_chunked,
    )
