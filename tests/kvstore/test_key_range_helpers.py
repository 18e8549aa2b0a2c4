"""Properties of the key-range helpers the drivers rely on (checked by brute force)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tensorstore_py.kvstore.key_range import (
    KeyRange, add_prefix, contains, contains_prefix, intersects_prefix, longest_prefix, prefix_successor,
)  # fmt: skip

ALPHABET = b"a/\xff"
ALL_KEYS = [bytes(p) for n in range(4) for p in itertools.product(ALPHABET, repeat=n)]
short = st.binary(max_size=3).map(lambda b: bytes(ALPHABET[x % 3] for x in b))


@settings(max_examples=150, deadline=None)
@given(short, short, short)
def test_helpers_agree_with_brute_force(lo, hi, prefix):
    r = KeyRange(lo, hi)
    members = [k for k in ALL_KEYS if contains(r, k)]
    p = longest_prefix(r)
    assert all(k.startswith(p) for k in members)
    with_prefix = [k for k in ALL_KEYS if k.startswith(prefix)]
    # Within the enumerated keys: every key with the prefix lies in r / some does.
    if contains_prefix(r, prefix):
        assert all(contains(r, k) for k in with_prefix)
    if not intersects_prefix(r, prefix):
        assert not any(contains(r, k) for k in with_prefix)
    succ = prefix_successor(prefix)
    assert all(not succ or k < succ for k in with_prefix)
    moved = add_prefix(b"p/", r)
    assert all(contains(moved, b"p/" + k) for k in members)
    assert not contains(moved, b"p0") and not contains(moved, b"o")


def test_prefix_successor():
    assert prefix_successor(b"ab") == b"ac"
    assert prefix_successor(b"a\xff\xff") == b"b"
    assert prefix_successor(b"\xff") == b""
    assert longest_prefix(KeyRange(b"a/", b"a0")) == b"a/"
    assert longest_prefix(KeyRange(b"a/b", b"")) == b""
