"""Child process for the multi-process ocdbt tests (run as a script).

``writer <lib> <dir> <name> <count>``: writes ``<name>/<i>`` one by one and increments the
shared counter key by conditional read-modify-writes (tensorstore_py) or plain writes.
``array <lib> <dir> <parity>``: writes every other row (rows of one parity) of the shared zarr
array one row at a time, so both processes read-modify-write the same chunks.
``atomic <dir>``: commits, forever, transactions that set every key ``k00..k49`` to one new
value each round, printing the round after each commit (the parent kills it at random).
"""

from __future__ import annotations

import sys


def _lib(name: str):
    if name == "theirs":
        import tensorstore

        return tensorstore
    import tensorstore_py

    return tensorstore_py


def writer(lib_name: str, directory: str, name: str, count: int) -> None:
    ts = _lib(lib_name)
    kv = ts.KvStore.open({"driver": "ocdbt", "base": f"file://{directory}"}).result()
    for i in range(count):
        kv[f"{name}/{i:03d}"] = f"{name}-{i}"
        if lib_name == "theirs":
            continue
        while True:  # increment the shared counter, conditionally on what was read
            res = kv.read("counter").result()
            current = int(res.value) if res.state == "value" else 0
            stamp = kv.write("counter", str(current + 1), if_equal=res.stamp.generation).result()
            if stamp.generation:
                break
    print("done", flush=True)


def array(lib_name: str, directory: str, parity: int) -> None:
    ts = _lib(lib_name)
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "ocdbt", "base": f"file://{directory}"}}).result()
    for row in range(parity, store.shape[0], 2):
        store[row] = row + 1
    print("done", flush=True)


def atomic(directory: str) -> None:
    ts = _lib("mine")
    kv = ts.KvStore.open({"driver": "ocdbt", "base": f"file://{directory}",
                          "config": {"max_inline_value_bytes": 64}}).result()
    round_ = 0
    print("ready", flush=True)
    while True:
        round_ += 1
        with ts.Transaction(atomic=True) as txn:
            for k in range(50):
                kv.with_transaction(txn)[f"k{k:02d}"] = f"round{round_}-".encode() * 40
        print(round_, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif sys.argv[1] == "array":
        array(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        atomic(sys.argv[2])
