"""``experimental_s3_rate_limiter`` (and gcs's, through the same HTTP layer) spaces requests."""

from __future__ import annotations

import time

import pytest

import tensorstore_py as ts
from tensorstore_py.kvstore.http_transport import RateLimiter, RateLimiters, rate_limiters
from s3_testing import s3_spec


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_spaces_slots_at_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(4.0, None, clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    clock.now += 10  # idle time is not banked: the next request goes at once, the one after waits
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.25)


def test_limiter_rate_doubles_every_doubling_time():
    clock = FakeClock()
    limiter = RateLimiter(2.0, 10.0, clock)
    assert limiter.rate_at(clock.now) == pytest.approx(2.0)
    assert limiter.rate_at(clock.now + 10) == pytest.approx(4.0)
    assert limiter.rate_at(clock.now + 30) == pytest.approx(16.0)


def test_read_and_write_limits_are_separate_and_shared_per_spec():
    both = RateLimiters({"read_rate": 5.0, "write_rate": 1.0, "doubling_time": "1s"})
    assert both.for_method("GET").rate == 5.0 and both.for_method("HEAD") is both.read
    assert both.for_method("PUT").rate == 1.0 and both.for_method("DELETE") is both.write
    assert RateLimiters({"read_rate": 5.0}).for_method("PUT") is None
    spec = {"read_rate": 7.0}
    assert rate_limiters(dict(spec)) is rate_limiters(dict(spec))
    assert rate_limiters(None) is None and rate_limiters({}) is None


def test_s3_reads_are_spaced_by_the_read_rate(moto, prefix):
    spec = s3_spec(moto.url, prefix, experimental_s3_rate_limiter={"read_rate": 20.0, "write_rate": 1000.0})
    kv = ts.KvStore.open(spec).result()
    for i in range(3):
        kv[f"k{i}"] = b"x"
    t0 = time.monotonic()
    for i in range(10):
        assert kv[f"k{i % 3}"] == b"x"
    elapsed = time.monotonic() - t0
    # 10 reads at 20 per second: at least 9 intervals of 50 ms (the first goes at once).
    assert elapsed >= 0.9 * 9 / 20
    assert kv.spec().to_json()["experimental_s3_rate_limiter"] == {"read_rate": 20.0, "write_rate": 1000.0}
