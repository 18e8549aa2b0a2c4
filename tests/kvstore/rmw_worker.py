"""Worker for the multi-process tests: increments a counter with conditional writes."""

from __future__ import annotations


def increment(args: tuple) -> int:
    """Adds `count` to the integer under `key` (read, then write if unchanged); returns retries."""
    library, path, key, count = args
    if library == "reference":
        import tensorstore as lib
    else:
        import tensorstore_py as lib
    kv = lib.KvStore.open({"driver": "file", "path": path}).result()
    retries = 0
    for _ in range(count):
        while True:
            r = kv.read(key).result()
            current = int(r.value) if r.state == "value" else 0
            stamp = kv.write(key, str(current + 1).encode(), if_equal=r.stamp.generation).result()
            if stamp.generation:
                break
            retries += 1
    return retries


def write_chunks(args: tuple) -> None:
    """Writes keys ``<prefix><i>`` for i in `indices` (unconditional, distinct keys)."""
    path, prefix, indices = args
    import tensorstore_py as lib

    kv = lib.KvStore.open({"driver": "file", "path": path}).result()
    for i in indices:
        kv.write(f"{prefix}{i}", str(i).encode()).result()
