"""Conformance tests for kvstore drivers: subclass `KvStoreTests` in a test module.

::

    from tensorstore_py.testing.kvstore import KvStoreTests

    class TestMyStore(KvStoreTests):
        spec = {"driver": "my_driver", "bucket": "b"}   # an empty store, opened per example

Each test method draws keys and values with hypothesis and checks the store as a user of
`ts.KvStore` sees it: missing keys, reads and byte ranges, storage generations and the
``if_equal`` / ``if_not_equal`` conditions, a random sequence of operations against a dict
model, ``list`` and ``delete_range``, concurrent conditional read-modify-writes, and
transactions.  A store that cannot do something says so with a class attribute
(``writable``, ``supports_list`` ...) and the tests of it are skipped.  Override
`open_kvstore` when a fresh store needs more than a new context (a new prefix on a server),
and `keys` / `values` when the driver accepts only some keys.

`DriverTests` (in `tensorstore_py.testing.driver`) does the same for TensorStore drivers.
"""

from __future__ import annotations

import threading
import time
import unittest
from typing import Any, Callable

from hypothesis import given, strategies as st

import tensorstore_py as ts

from ..kvstore.generation import NO_VALUE
from . import kit_settings

__all__ = ["KvStoreTests"]

KeyRange = ts.KvStore.KeyRange


def _prefix_range(prefix: bytes) -> ts.KvStore.KeyRange:
    """The keys starting with `prefix`."""
    stem = prefix.rstrip(b"\xff")
    if not stem:
        return KeyRange(prefix, b"")
    return KeyRange(prefix, stem[:-1] + bytes([stem[-1] + 1]))


class KvStoreTests:
    """The kvstore conformance suite; pytest collects the ``test_*`` methods of a subclass."""

    #: Spec (JSON or URL) of an empty store; `open_kvstore` opens it in a new `ts.Context`.
    spec: Any = None
    #: False for read-only stores: write tests are skipped; `initial_contents` is checked.
    writable: bool = True
    supports_list: bool = True
    supports_delete_range: bool = True
    supports_transactions: bool = True
    #: Whether a transaction writing several keys commits them all or none.
    atomic_transactions: bool = False
    #: Examples per test under the default profile (a thorough profile raises them all).
    examples: int = 15
    #: Threads and increments per thread of the concurrency test.
    threads: int = 4
    increments: int = 4

    # -- hooks -----------------------------------------------------------------------------------

    def open_kvstore(self) -> ts.KvStore:
        """A store holding exactly `initial_contents()` (by default: an empty one)."""
        if self.spec is None:
            raise NotImplementedError("set `spec` or override `open_kvstore()`")
        return ts.KvStore.open(self.spec, context=ts.Context()).result()

    def initial_contents(self) -> dict[bytes, bytes]:
        """What a store from `open_kvstore` holds (read-only stores are tested against it)."""
        return {}

    def keys(self) -> st.SearchStrategy[bytes]:
        """Keys the driver accepts.  The default never makes one key a directory of another
        (``a`` and ``a/b``), which a file system cannot hold."""
        name = st.text("abc", min_size=1, max_size=3)
        return st.one_of(name, name.map(lambda n: "d/" + n)).map(str.encode)

    def values(self) -> st.SearchStrategy[bytes]:
        return st.binary(max_size=40)

    # -- helpers ---------------------------------------------------------------------------------

    def _run(self, body: Callable[..., None], *strategies: st.SearchStrategy, examples: int | None = None) -> None:
        """Runs `body(*drawn)` as a hypothesis test with the kit's settings."""
        test = kit_settings(examples or self.examples)(given(*strategies)(body))
        test()

    def _require(self, flag: str) -> None:
        if not getattr(self, flag):
            raise unittest.SkipTest(f"{type(self).__name__}.{flag} is False")

    def _fresh(self) -> ts.KvStore:
        return self.open_kvstore()

    @staticmethod
    def _write(kv: ts.KvStore, key: bytes, value: bytes | None, if_equal: bytes | None = None) -> bytes:
        """The generation a write returns (b'' when its condition failed)."""
        return kv.write(key, value, if_equal=if_equal).result().generation

    @staticmethod
    def _check_reads(kv: ts.KvStore, model: dict[bytes, bytes], probes: list[bytes]) -> None:
        for key in sorted(set(probes) | set(model)):
            r = kv.read(key).result()
            if key in model:
                assert r.state == "value", f"{key!r}: {r.state}, expected a value"
                assert r.value == model[key], f"{key!r}: read {r.value!r}, expected {model[key]!r}"
            else:
                assert r.state == "missing", f"{key!r}: {r.state} ({r.value!r}), expected missing"
                assert r.value == b""

    def _check_list(self, kv: ts.KvStore, model: dict[bytes, bytes]) -> None:
        if self.supports_list:
            listed = kv.list().result()
            assert sorted(listed) == sorted(model), f"list(): {sorted(listed)}, expected {sorted(model)}"

    # -- reads -----------------------------------------------------------------------------------

    def test_missing_keys_read_missing(self) -> None:
        contents = self.initial_contents()

        def body(key: bytes) -> None:
            if key in contents:
                return
            kv = self._fresh()
            r = kv.read(key).result()
            assert (r.state, r.value) == ("missing", b""), r
            assert key not in kv

        self._run(body, self.keys())

    def test_initial_contents_read_back(self) -> None:
        contents = self.initial_contents()
        if not contents:
            raise unittest.SkipTest("no initial contents")
        kv = self._fresh()
        self._check_reads(kv, contents, [])
        for key, value in contents.items():
            r = kv.read(key).result()
            assert kv.read(key, if_not_equal=r.stamp.generation).result().state == "unspecified"
            n = len(value)
            for lo, hi in ((0, n), (0, n // 2), (n // 3, n), (n, n)):
                assert kv.read(key, byte_range=slice(lo, hi)).result().value == value[lo:hi]
        self._check_list(kv, contents)

    def test_write_then_read(self) -> None:
        self._require("writable")

        def body(key: bytes, value: bytes) -> None:
            kv = self._fresh()
            generation = self._write(kv, key, value)
            assert generation, "an unconditional write returned no generation"
            r = kv.read(key).result()
            assert (r.state, r.value) == ("value", value), r
            assert r.stamp.generation == generation, (r.stamp.generation, generation)
            assert kv[key] == value

        self._run(body, self.keys(), self.values())

    def test_byte_ranges(self) -> None:
        self._require("writable")

        def body(key: bytes, value: bytes, a: int, b: int, suffix: int) -> None:
            kv = self._fresh()
            self._write(kv, key, value)
            n = len(value)
            lo, hi = sorted((min(a, n), min(b, n)))
            assert kv.read(key, byte_range=slice(lo, hi)).result().value == value[lo:hi], (lo, hi)
            try:
                assert kv.read(key, byte_range=slice(lo, None)).result().value == value[lo:], lo
            except ValueError as exc:
                # [n, end) of n > 0 bytes: HTTP servers answer 416, and TensorStore passes it on.
                if not (lo == n > 0 and "OUT_OF_RANGE" in str(exc)):
                    raise
            k = min(suffix, n)
            if k:
                assert kv.read(key, byte_range=slice(-k, None)).result().value == value[-k:], -k
            try:
                got = kv.read(key, byte_range=slice(0, n + 1 + a)).result()
            except ValueError as exc:
                assert "OUT_OF_RANGE" in str(exc), exc
            else:
                raise AssertionError(f"reading bytes [0, {n + 1 + a}) of {n} gave {got!r}, expected OUT_OF_RANGE")

        self._run(body, self.keys(), self.values(), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))

    # -- generations and conditions --------------------------------------------------------------

    def test_if_not_equal(self) -> None:
        self._require("writable")

        def body(key: bytes, value: bytes) -> None:
            kv = self._fresh()
            missing = kv.read(key).result().stamp.generation
            generation = self._write(kv, key, value)
            assert kv.read(key, if_not_equal=generation).result().state == "unspecified"
            r = kv.read(key, if_not_equal=missing).result()
            assert (r.state, r.value) == ("value", value), r

        self._run(body, self.keys(), self.values())

    def test_conditional_writes(self) -> None:
        self._require("writable")

        def body(key: bytes, v1: bytes, v2: bytes, v3: bytes) -> None:
            if v2 == v1:
                v2 = v1 + b"!"
            kv = self._fresh()
            absent = kv.read(key).result().stamp.generation
            g1 = self._write(kv, key, v1, if_equal=absent)
            assert g1, "writing an absent key conditioned on its absence failed"
            assert self._write(kv, key, v2, if_equal=absent) == b"", "a write conditioned on absence replaced a value"
            assert kv[key] == v1
            g2 = self._write(kv, key, v2, if_equal=g1)
            assert g2 and g2 != g1, "a write conditioned on the current generation failed"
            if v3 != v2:
                assert self._write(kv, key, v3, if_equal=g1) == b"", "a write with a stale generation succeeded"
                assert kv[key] == v2
                assert self._write(kv, key, None, if_equal=g1) == b"", "a delete with a stale generation succeeded"
                assert kv[key] == v2
            assert self._write(kv, key, None, if_equal=g2) != b"", "a delete conditioned on the current generation failed"
            assert kv.read(key).result().state == "missing"

        self._run(body, self.keys(), self.values(), self.values(), self.values())

    def test_operations_match_a_model(self) -> None:
        """A random sequence of writes, conditional writes and deletes, read back after each."""
        self._require("writable")
        op = st.tuples(st.sampled_from(["write", "delete", "if_current", "if_stale", "if_absent"]), self.keys(),
                       self.values())  # fmt: skip

        def body(ops: list) -> None:
            kv = self._fresh()
            model: dict[bytes, bytes] = {}
            seen: dict[bytes, set] = {}  # generations each key has had
            absent: bytes | None = None  # the generation of a missing key, once seen
            for kind, key, value in ops:
                actual = kv.read(key).result().stamp.generation
                if key not in model and absent is None:
                    absent = actual
                if kind == "write":
                    got = self._write(kv, key, value)
                    model[key] = value
                elif kind == "delete":
                    got = self._write(kv, key, None)
                    model.pop(key, None)
                else:
                    if kind == "if_current":
                        cond, ok = actual, True
                    elif kind == "if_absent":
                        if absent is None:
                            continue
                        cond, ok = absent, key not in model
                    else:
                        older = seen.get(key, set()) - {actual}
                        if key not in model:
                            # "absent" is a condition an absent key meets, whatever generation
                            # a read of it reports (an archive member: the archive's)
                            older -= {absent, NO_VALUE}
                        older = sorted(older)
                        if not older:
                            continue
                        cond, ok = older[0], False
                    got = self._write(kv, key, value, if_equal=cond)
                    assert bool(got) == ok, f"{kind} write of {key!r}: generation {got!r}, expected success={ok}"
                    if ok:
                        model[key] = value
                seen.setdefault(key, set()).update({actual, got} - {b""})
                self._check_reads(kv, model, [key])
            self._check_list(kv, model)

        self._run(body, st.lists(op, max_size=12))

    # -- list and delete_range -------------------------------------------------------------------

    def test_list_ranges(self) -> None:
        self._require("writable")
        self._require("supports_list")

        def body(contents: dict, a: bytes, b: bytes, strip: int) -> None:
            kv = self._fresh()
            for key, value in contents.items():
                self._write(kv, key, value)
            lo, hi = sorted((a, b))
            expected = sorted(k for k in contents if lo <= k < hi)
            got = sorted(kv.list(KeyRange(lo, hi)).result())
            assert got == expected, f"list([{lo!r}, {hi!r})): {got}, expected {expected}"
            prefix = a[:1]
            expected = sorted(k[strip:] for k in contents if k.startswith(prefix))
            got = sorted(kv.list(_prefix_range(prefix), strip_prefix_length=strip).result())
            assert got == expected, f"list(prefix {prefix!r}, strip {strip}): {got}, expected {expected}"

        self._run(body, st.dictionaries(self.keys(), self.values(), max_size=6), self.keys(), self.keys(),
                  st.integers(0, 2))  # fmt: skip

    def test_delete_range(self) -> None:
        self._require("writable")
        self._require("supports_delete_range")

        def body(contents: dict, a: bytes, b: bytes, open_end: bool) -> None:
            kv = self._fresh()
            for key, value in contents.items():
                self._write(kv, key, value)
            lo, hi = sorted((a, b))
            hi = b"" if open_end else hi
            kv.delete_range(KeyRange(lo, hi)).result()
            left = {k: v for k, v in contents.items() if not (lo <= k and (not hi or k < hi))}
            self._check_reads(kv, left, list(contents))
            self._check_list(kv, left)

        self._run(body, st.dictionaries(self.keys(), self.values(), max_size=6), self.keys(), self.keys(),
                  st.booleans())  # fmt: skip

    # -- concurrency -----------------------------------------------------------------------------

    def test_concurrent_conditional_increments(self) -> None:
        """Threads increment one counter by conditional read-modify-write: none is lost."""
        self._require("writable")

        def body(key: bytes) -> None:
            kv = self._fresh()
            errors: list[BaseException] = []

            def worker() -> None:
                try:
                    for _ in range(self.increments):
                        while True:
                            r = kv.read(key).result()
                            count = int(r.value or b"0")
                            time.sleep(0.0002)  # let the other threads interleave here
                            if self._write(kv, key, str(count + 1).encode(), if_equal=r.stamp.generation):
                                break
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=worker) for _ in range(self.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert int(kv[key]) == self.threads * self.increments, f"{int(kv[key])} increments survived"

        self._run(body, self.keys(), examples=max(2, self.examples // 5))

    def test_concurrent_writes_to_distinct_keys(self) -> None:
        self._require("writable")

        def body(contents: dict) -> None:
            kv = self._fresh()
            futures = [kv.write(k, v) for k, v in contents.items()]
            for f in futures:
                assert f.result().generation
            self._check_reads(kv, contents, [])
            self._check_list(kv, contents)

        self._run(body, st.dictionaries(self.keys(), self.values(), max_size=8))

    # -- transactions ----------------------------------------------------------------------------

    def test_transaction_isolation_commit_and_abort(self) -> None:
        self._require("writable")
        self._require("supports_transactions")

        def body(before: dict, staged: dict, commit: bool) -> None:
            kv = self._fresh()
            for key, value in before.items():
                self._write(kv, key, value)
            txn = ts.Transaction(atomic=self.atomic_transactions and len(staged) > 1)
            tkv = kv.with_transaction(txn)
            inside = dict(before)
            for key, value in staged.items():
                tkv.write(key, value).result()
                if value is None:
                    inside.pop(key, None)
                else:
                    inside[key] = value
            self._check_reads(tkv, inside, list(staged))
            self._check_reads(kv, before, list(staged))
            if commit:
                txn.commit_sync()
                self._check_reads(kv, inside, list(staged))
                self._check_list(kv, inside)
            else:
                txn.abort()
                self._check_reads(kv, before, list(staged))

        self._run(body, st.dictionaries(self.keys(), self.values(), max_size=3),
                  st.dictionaries(self.keys(), st.one_of(st.none(), self.values()), min_size=1, max_size=3),
                  st.booleans())  # fmt: skip
