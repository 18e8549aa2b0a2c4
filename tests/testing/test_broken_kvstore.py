"""The kvstore kit catches a kvstore that ignores ``if_equal``: a user's driver, registered
the way any kvstore driver is, that otherwise behaves as the memory kvstore."""

from __future__ import annotations

import hypothesis
import pytest

from tensorstore_py.future import Future
from tensorstore_py.kvstore.driver import WriteOptions, register_kvstore_driver
from tensorstore_py.kvstore.memory import MemoryDriver, MemoryDriverSpec
from tensorstore_py.testing.kvstore import KvStoreTests


class _IgnoresIfEqual(MemoryDriver):
    def write(self, key: bytes, value: bytes | None, options: WriteOptions) -> Future:
        return super().write(key, value, WriteOptions())  # the bug: the condition is dropped


class _IgnoresIfEqualSpec(MemoryDriverSpec):
    id = "tspy_test_ignores_if_equal"
    url_scheme = None

    def open(self, resources):
        return _IgnoresIfEqual(self, resources)


register_kvstore_driver(_IgnoresIfEqualSpec.id, _IgnoresIfEqualSpec)


class _BrokenKit(KvStoreTests):
    """Not collected (no Test prefix): each test below runs one of its methods."""

    spec = {"driver": _IgnoresIfEqualSpec.id}


@pytest.mark.parametrize(
    "method",
    ["test_conditional_writes", "test_operations_match_a_model", "test_concurrent_conditional_increments"],
)
def test_kit_fails_a_kvstore_that_ignores_if_equal(method):
    # Lost increments depend on how the threads interleave: when hypothesis's replay of the
    # failing example happens to lose none, it reports the failure as flaky, still a failure.
    with pytest.raises((AssertionError, hypothesis.errors.FlakyFailure)) as info:
        getattr(_BrokenKit(), method)()
    if isinstance(info.value, hypothesis.errors.FlakyFailure):
        assert all(isinstance(e, AssertionError) for e in info.value.exceptions), info.value.exceptions


@pytest.mark.parametrize("method", ["test_write_then_read", "test_byte_ranges", "test_list_ranges", "test_delete_range"])
def test_unconditional_behaviour_of_the_broken_kvstore_still_passes(method):
    # The kit pins the failure on conditions, not on everything.
    getattr(_BrokenKit(), method)()


def test_the_shrunk_counterexample_is_minimal(capsys):
    with pytest.raises(AssertionError) as info:
        _BrokenKit().test_conditional_writes()
    # Hypothesis reports the shrunk example in the error's notes: the shortest key and values.
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "key=b'a'" in notes, notes
    assert "v1=b''" in notes and "v2=b''" in notes and "v3=b''" in notes, notes
