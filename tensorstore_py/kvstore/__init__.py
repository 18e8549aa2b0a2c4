"""Key-value stores: ``ts.KvStore``, its spec, generations, key ranges and the drivers.

The drivers (`memory`, `file`, `gcs`, `http`, `s3`, the `zip` and `ocdbt` adapters) register
themselves when their module is imported, which is on first use: `tensorstore_py.catalog`
names them all; see `driver.py` for the interface they implement.
"""

from .kvstore import KvStore

__all__ = ["KvStore"]
