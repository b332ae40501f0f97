"""The shared token bucket: the max_rps cap, the pause on 429, decrease and recovery."""

from __future__ import annotations

import math
import threading

import pytest

from fyno_pandas.ratelimit import RateLimiter


class Clock:
    """A fake monotonic clock; `Waits` advances it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Waits(threading.Event):
    """A stop event whose waits advance the fake clock and are recorded."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.clock.now += timeout or 0.0
        return self.is_set()


def test_unlimited_until_a_429() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    stop = Waits(clock)
    assert all(limiter.acquire(stop) for _ in range(1000))
    assert stop.waits == []
    assert limiter.rate == math.inf


def test_max_rps_paces_requests() -> None:
    clock = Clock()
    limiter = RateLimiter(max_rps=100, clock=clock)
    stop = Waits(clock)
    start = clock.now
    for _ in range(500):
        assert limiter.acquire(stop)
    # 500 requests at 100/s take about 5 s of (fake) time, less the initial burst
    assert 4.9 <= clock.now - start <= 5.01


def test_429_pauses_everyone_for_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.on_throttle(2.0, sent_at=clock.now)
    stop = Waits(clock)
    assert limiter.acquire(stop)
    assert sum(stop.waits) >= 2.0


def test_stop_cuts_a_wait_short() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.on_throttle(30.0, sent_at=clock.now)
    stop = Waits(clock)
    stop.set()
    assert limiter.acquire(stop) is False


def test_decrease_to_the_accepted_rate_then_recover() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, decrease=0.9, recover_s=2.0)
    for _ in range(200):  # the server accepts 200/s
        clock.now += 0.005
        limiter.on_success()
    limiter.on_throttle(None, sent_at=clock.now)
    # throttled at a steady rate: the ceiling is just under the measured 200/s, the rate x0.9
    assert limiter.rate == pytest.approx(0.9 * 0.98 * 200, rel=0.02)
    # a 429 answering a request sent before the decrease does not cut again
    limiter.on_throttle(None, sent_at=clock.now - 0.01)
    assert limiter.rate == pytest.approx(0.9 * 0.98 * 200, rel=0.02)
    assert (limiter.throttled, limiter.decreases) == (2, 1)
    stop = Waits(clock)
    for _ in range(500):  # about 2.7 s of successes: back to the ceiling, then slowly on
        limiter.acquire(stop)
        limiter.on_success()
    assert 0.97 * 200 <= limiter.rate <= 200


def test_a_429_too_soon_to_measure_cuts_then_climbs_fast() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(5):  # 5 successes in 10 ms: 500/s, but too little to trust
        clock.now += 0.002
        limiter.on_success()
    limiter.on_throttle(1.0, sent_at=clock.now)
    assert limiter.rate == pytest.approx(500 / 8, rel=0.05)
    stop = Waits(clock)
    start = clock.now
    for _ in range(600):
        limiter.acquire(stop)
        limiter.on_success()
    # slow start: the rate doubles about every second of sending (after the 1 s pause)
    assert limiter.rate > 2 * 500 / 8
    assert clock.now - start < 4.0


def test_max_rps_is_never_exceeded_by_recovery() -> None:
    clock = Clock()
    limiter = RateLimiter(max_rps=50, clock=clock)
    for _ in range(1000):
        clock.now += 0.02
        limiter.on_success()
    assert limiter.rate == 50


def test_threads_share_one_bucket() -> None:
    limiter = RateLimiter(max_rps=1e6)
    got = []

    def worker() -> None:
        for _ in range(500):
            got.append(limiter.acquire())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(True) == 4000


@pytest.mark.parametrize("bad", [0, -1, "10"])
def test_rejects_bad_max_rps(bad: object) -> None:
    with pytest.raises(ValueError, match="max_rps"):
        RateLimiter(max_rps=bad)  # type: ignore[arg-type]
