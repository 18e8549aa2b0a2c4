"""tensorstore_py: the TensorStore Python API (``import tensorstore as ts``) in Python + Cython.

Use it as ``import tensorstore_py as ts``.
"""

from __future__ import annotations

from .dtypes import ALL_DTYPES as _ALL_DTYPES
from .dtypes import DTypeLike, dtype
from .future import Future, FutureLike, Promise

# Each layer exports its public names through its package __all__.
from .index import *  # noqa: F401,F403
from .schema import *  # noqa: F401,F403
from .context import *  # noqa: F401,F403
from .kvstore import *  # noqa: F401,F403

globals().update(_ALL_DTYPES)
del _ALL_DTYPES

newaxis = None
inf = (1 << 62) - 1


from .spec import OpenMode, Spec
from .tensorstore import TensorStore
from .driver.chunked import WriteFutures
from .batch import *  # noqa: F401,F403
from .cache.transaction import Transaction
from .open import open
from .driver import auto as _auto_driver  # noqa: F401  (registers the drivers)
from .driver import zarr as _zarr_driver  # noqa: F401
from .driver import n5 as _n5_driver  # noqa: F401
from .driver import zarr3 as _zarr3_driver  # noqa: F401
from .driver import neuroglancer_precomputed as _precomputed_driver  # noqa: F401

from .metrics import collect_matching_metrics as experimental_collect_matching_metrics
from .metrics import collect_prometheus_format_metrics as experimental_collect_prometheus_format_metrics
from .metrics import update_verbose_logging as experimental_update_verbose_logging
