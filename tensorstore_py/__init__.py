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


def __getattr__(name: str):
    # The driver-level API loads on first use, so the lower layers import on their own.
    if name in ("Spec", "OpenMode", "TensorStore", "open"):
        import importlib

        _open_module = importlib.import_module(__name__ + ".open")
        importlib.import_module(__name__ + ".driver.zarr")  # registers the driver
        from .spec import OpenMode, Spec
        from .tensorstore import TensorStore

        globals().update(Spec=Spec, OpenMode=OpenMode, TensorStore=TensorStore, open=_open_module.open)
        return globals()[name]
    raise AttributeError(f"module 'tensorstore_py' has no attribute {name!r}")
