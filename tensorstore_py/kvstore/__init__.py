"""Key-value stores: ``ts.KvStore``, its spec, generations, key ranges and the drivers.

Drivers register themselves on import (`memory`, `file`, `gcs`, `http`, `s3`); see `driver.py` for the interface
the chunked engine and later drivers (gcs, http ...) build on.
"""

from . import file as _file  # noqa: F401  (registers the "file" driver)
from . import gcs as _gcs  # noqa: F401  (registers the "gcs" driver)
from . import http as _http  # noqa: F401  (registers the "http" driver)
from . import memory as _memory  # noqa: F401  (registers the "memory" driver)
from . import s3 as _s3  # noqa: F401  (registers the "s3" driver)
from . import zip as _zip  # noqa: F401  (registers the "zip" adapter)
from . import ocdbt as _ocdbt  # noqa: F401  (registers the "ocdbt" adapter)
from .kvstore import KvStore

__all__ = ["KvStore"]
