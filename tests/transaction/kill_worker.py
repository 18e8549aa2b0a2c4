"""Child of test_kill_during_writes.py: writes whole-array generations forever (value g in every
element of generation g) until it is killed with SIGKILL."""

import sys

import numpy as np

import tensorstore_py as ts

path, driver = sys.argv[1], sys.argv[2]
store = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}).result()
g = 1
while True:
    store.write(np.full(store.shape, g, store.dtype.numpy_dtype)).result()
    print(g, flush=True)
    g += 1
