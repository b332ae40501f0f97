"""The shared token bucket: the max_rps cap, the pause on 429, decrease and recovery."""

from __future__ import annotations

import math
import random
import threading

import pytest

from fyno_pandas.client.ratelimit import RateLimiter


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


def test_a_limit_pauses_everyone_for_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    # nothing accepted and three 429s in a second: a limit (the first two alone are not)
    assert [limiter.on_throttle(2.0, sent_at=clock.now) for _ in range(3)] == [False, False, True]
    stop = Waits(clock)
    assert limiter.acquire(stop)
    assert sum(stop.waits) >= 2.0


def test_a_sporadic_429_is_waited_out_by_its_request_alone() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for k in range(200):  # the server accepts 100/s and answers 429 to 1 request in 20
        clock.now += 0.01
        limiter.on_success()
        if k % 20 == 19:
            assert limiter.on_throttle(1.0, sent_at=clock.now) is False
    assert limiter.throttled == 10
    assert (limiter.rate, limiter.decreases, limiter.learnt) == (math.inf, 0, None)
    stop = Waits(clock)
    assert limiter.acquire(stop)
    assert stop.waits == []  # nobody else waits


def test_stop_cuts_a_wait_short() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(3):
        limiter.on_throttle(30.0, sent_at=clock.now)
    stop = Waits(clock)
    stop.set()
    assert limiter.acquire(stop) is False


def throttle_until_a_limit(limiter: RateLimiter, clock: Clock) -> int:
    """429s (Retry-After: 1, which pauses nobody) at the current instant until one shows a
    limit; how many it took."""
    decreases = limiter.decreases
    for count in range(1, 1_000):
        assert limiter.on_throttle(1.0, sent_at=clock.now) is False
        if limiter.decreases > decreases:
            return count
    raise AssertionError("no limit shown")


def test_decrease_to_the_accepted_rate_then_recover() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, decrease=0.9, recover_s=2.0)
    for _ in range(200):  # the server accepts 200/s
        clock.now += 0.005
        limiter.on_success()
    # 429s beyond chance at a tenth of the last second's answers: 39 of 239 (23 of 223, a
    # tenth, are what 429s at random to 1 request in 10 give about every other time)
    assert throttle_until_a_limit(limiter, clock) == 39
    # throttled at a steady rate: the ceiling is just under the measured 200/s, the rate x0.9
    assert limiter.rate == pytest.approx(0.9 * 0.98 * 200, rel=0.02)
    assert limiter.learnt == pytest.approx(0.98 * 200, rel=0.02)
    # a 429 answering a request sent before the decrease does not cut again
    limiter.on_throttle(None, sent_at=clock.now - 0.01)
    assert limiter.rate == pytest.approx(0.9 * 0.98 * 200, rel=0.02)
    assert (limiter.throttled, limiter.decreases) == (40, 1)
    stop = Waits(clock)
    for _ in range(500):  # about 2.7 s of successes: back to the ceiling, then slowly on
        limiter.acquire(stop)
        limiter.on_success()
    assert 0.97 * 200 <= limiter.rate <= 200


def test_a_limit_shown_too_soon_to_measure_cuts_then_climbs_fast() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(5):  # 5 successes in 10 ms: 500/s, but too little to trust
        clock.now += 0.002
        limiter.on_success()
    assert throttle_until_a_limit(limiter, clock) == 5  # 5 of 10: chance once in 600
    assert limiter.rate == pytest.approx(500 / 8, rel=0.05)
    assert limiter.learnt is None  # nothing measured: nothing to remember
    stop = Waits(clock)
    start = clock.now
    for _ in range(600):
        limiter.acquire(stop)
        limiter.on_success()
    # slow start: the rate doubles about every second of sending
    assert limiter.rate > 2 * 500 / 8
    assert clock.now - start < 4.0


def test_a_remembered_rate_is_used_from_the_first_request() -> None:
    clock = Clock()
    limiter = RateLimiter(start_rps=100, clock=clock)
    assert (limiter.rate, limiter.learnt) == (100, None)  # a start: nothing measured yet
    stop = Waits(clock)
    start = clock.now
    for _ in range(300):
        assert limiter.acquire(stop)
    # 300 requests at 100/s: about 3 s from the first one, no burst above the rate
    assert 2.9 <= clock.now - start <= 3.01
    # below an explicit cap it is used as it is, above it the cap wins
    assert RateLimiter(max_rps=50, start_rps=100, clock=clock).rate == 50


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


# -- sporadic 429s and remembered rates ------------------------------------------------------


def answer_at_pace(limiter: RateLimiter, clock: Clock, seconds: float, rps: float, share: float):
    """Requests sent as the limiter allows, at most ``rps`` a second (what the workers manage),
    each answered at once: 429 (Retry-After: 1) with probability ``share``, at random."""
    draw = random.Random(0)
    stop = Waits(clock)
    end = clock.now + seconds
    while clock.now < end:
        assert limiter.acquire(stop)
        clock.now += 1 / rps
        if draw.random() < share:
            limiter.on_throttle(1.0, sent_at=clock.now)
        else:
            limiter.on_success()


def test_sporadic_429s_among_few_answers_a_second_are_not_a_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    # batch mode: a few dozen answers a second, 5% of them 429 at random
    answer_at_pace(limiter, clock, seconds=300, rps=30, share=0.05)
    assert limiter.throttled > 200
    assert (limiter.rate, limiter.decreases, limiter.learnt) == (math.inf, 0, None)


def test_sporadic_429s_after_a_measured_limit_do_not_cut_it_again_and_again() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(200):  # the server accepts 200/s ...
        clock.now += 0.005
        limiter.on_success()
    throttle_until_a_limit(limiter, clock)  # ... and says so
    ceiling = limiter.learnt
    # then it answers 5% of requests 429 at random, whatever the rate
    answer_at_pace(limiter, clock, seconds=120, rps=1_000, share=0.05)
    assert limiter.decreases == 1  # the limit's own
    assert limiter.rate >= 0.95 * ceiling


def test_a_remembered_rate_is_a_start_that_rises_while_no_429_comes() -> None:
    clock = Clock()
    limiter = RateLimiter(start_rps=30, clock=clock)
    answer_at_pace(limiter, clock, seconds=4, rps=10_000, share=0)
    assert limiter.rate > 8 * 30  # doubles about every second
    assert limiter.learnt is None  # nothing measured in this push
    assert limiter.outgrew_start  # and the server accepted more: the remembered rate is stale


def test_a_limit_just_above_the_remembered_rate_confirms_it() -> None:
    clock = Clock()
    limiter = RateLimiter(start_rps=100, clock=clock)
    answer_at_pace(limiter, clock, seconds=0.2, rps=10_000, share=0)
    throttle_until_a_limit(limiter, clock)  # too soon to measure: the remembered rate holds
    assert limiter.learnt == 100
    assert limiter.rate == pytest.approx(95)
    assert not limiter.outgrew_start
