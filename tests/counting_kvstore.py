"""Test-only kvstore drivers that count the requests reaching a real memory or file driver.

``{"driver": "test_counting_memory"}`` and ``{"driver": "test_counting_file", "path": ...}``
accept the same members as ``memory`` / ``file``; every read, write and list is recorded on
the opened driver (``KvStore.driver``) and then served by the real driver underneath.
"""

from __future__ import annotations

import threading
from typing import Any

from tensorstore_py.kvstore.driver import KvStoreDriver, ReadOptions, WriteOptions, register_kvstore_driver
from tensorstore_py.kvstore.file import FileDriverSpec
from tensorstore_py.kvstore.key_range import KeyRange
from tensorstore_py.kvstore.memory import MemoryDriverSpec


class CountingDriver(KvStoreDriver):
    """Forwards to `base`, recording each request.  Reads take part in batches."""

    batch_reads = True

    def __init__(self, base: KvStoreDriver) -> None:
        self.driver_spec = base.driver_spec
        self.resources = base.resources
        self.base = base
        self.lock = threading.Lock()
        #: (key, ReadOptions) of every read request, in order
        self.reads: list[tuple[bytes, ReadOptions]] = []
        self.writes: list[bytes] = []
        self.lists: list[KeyRange] = []

    def reset(self) -> None:
        with self.lock:
            self.reads.clear()
            self.writes.clear()
            self.lists.clear()

    def read(self, key: bytes, options: ReadOptions) -> Any:
        with self.lock:
            self.reads.append((key, options))
        return self.base.read(key, options)

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Any:
        with self.lock:
            self.writes.append(key)
        return self.base.write(key, value, options)

    def delete_range(self, key_range: KeyRange) -> Any:
        return self.base.delete_range(key_range)

    def list(self, key_range: KeyRange, strip_prefix_length: int = 0) -> Any:
        with self.lock:
            self.lists.append(key_range)
        return self.base.list(key_range, strip_prefix_length)

    def describe_key(self, key: bytes) -> str:
        return self.base.describe_key(key)


class CountingMemorySpec(MemoryDriverSpec):
    id = "test_counting_memory"
    url_scheme = None

    def open(self, resources: dict) -> CountingDriver:
        return CountingDriver(super().open(resources))


class CountingFileSpec(FileDriverSpec):
    id = "test_counting_file"
    url_scheme = None

    def open(self, resources: dict) -> CountingDriver:
        return CountingDriver(super().open(resources))


register_kvstore_driver("test_counting_memory", CountingMemorySpec)
register_kvstore_driver("test_counting_file", CountingFileSpec)


class RivalDriver(CountingDriver):
    """A memory store with a rival writer: before each of the next `rivals` conditional writes
    (and atomic multi-key commits), the rival rewrites the value being replaced, unchanged, so
    the condition fails and the writer must merge again.  Data stay intact; only the
    generations move, exactly as when another process wins the race."""

    atomic_multi_key = True

    def __init__(self, base: KvStoreDriver) -> None:
        super().__init__(base)
        self.rivals = 0
        self.lost_races = 0

    def _race(self, key: bytes) -> None:
        with self.lock:
            if self.rivals <= 0:
                return
            self.rivals -= 1
            self.lost_races += 1
        current = self.base.read(key, ReadOptions()).result()
        if current.state == "value":
            self.base.write(key, current.value, WriteOptions()).result()

    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Any:
        if options.if_equal is not None:
            self._race(key)
        return super().write(key, value, options)

    def write_atomic(self, writes: list) -> Any:
        for key, _, if_equal in writes:
            if if_equal is not None:
                self._race(key)
        return self.base.write_atomic(writes)


class RivalMemorySpec(MemoryDriverSpec):
    id = "test_rival_memory"
    url_scheme = None

    def open(self, resources: dict) -> RivalDriver:
        return RivalDriver(super().open(resources))


register_kvstore_driver("test_rival_memory", RivalMemorySpec)
