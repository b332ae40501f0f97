"""`client.concurrency.ConcurrencyLimit`: slots held, kept from one unit to the next, lent while
asleep, adapted to round trips."""

from __future__ import annotations

import threading

from fyno_pandas.client.concurrency import ConcurrencyLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_full_limit_lets_no_one_in_until_a_slot_is_left() -> None:
    slots, stop = ConcurrencyLimit(2), threading.Event()
    assert slots.enter()
    assert slots.enter()
    stop.set()
    assert not slots.enter(stop)
    slots.leave()
    assert slots.enter()


def test_a_sleeper_lends_its_slot_and_takes_it_back() -> None:
    slots = ConcurrencyLimit(1)
    asleep, order = threading.Event(), []

    def sleeper() -> None:
        slots.enter()
        asleep.set()
        slots.sleep(0.3)
        order.append("sleeper back")
        slots.leave()

    thread = threading.Thread(target=sleeper)
    thread.start()
    asleep.wait(5)
    assert slots.enter()
    order.append("other in")
    slots.leave()
    thread.join(5)
    assert order == ["other in", "sleeper back"]


def test_adaptive_grows_while_round_trips_hold_and_shrinks_when_they_climb() -> None:
    clock = Clock()
    slots = ConcurrencyLimit(8, 32, adaptive=True, clock=clock)
    for _ in range(2000):
        slots.observe(0.010)
        clock.now += 0.001
    assert slots.limit == 32
    assert slots.peak == 32
    for _ in range(2000):
        slots.observe(0.100)
        clock.now += 0.001
    assert 1 <= slots.limit < 32


def test_fixed_ignores_round_trips() -> None:
    slots = ConcurrencyLimit(4)
    for rtt in (0.01, 1.0, 10.0) * 20:
        slots.observe(rtt)
    assert (slots.limit, slots.threads, repr(slots)) == (4, 8, "ConcurrencyLimit(4, fixed)")


def test_a_worker_keeps_its_slot_while_nothing_asks_for_it() -> None:
    slots = ConcurrencyLimit(2)
    assert slots.enter()
    assert slots.keep()
    assert slots.keep(threading.Event())
    slots.leave()


def test_a_stopped_push_keeps_no_slot() -> None:
    slots, stop = ConcurrencyLimit(2), threading.Event()
    assert slots.enter(stop)
    stop.set()
    assert not slots.keep(stop)
    slots.leave()


def test_a_sleeper_coming_back_takes_a_kept_slot() -> None:
    slots = ConcurrencyLimit(1)
    assert slots.enter()
    back = threading.Event()

    def sleeper() -> None:
        slots._reenter()  # a request that waited out a 429 takes its slot back
        back.set()
        slots.leave()

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    try:
        while not slots._returning:
            threading.Event().wait(0.001)
        assert not slots.keep()  # the worker gives its slot to the sleeper
    finally:
        slots.leave()
    assert back.wait(1)
    thread.join()


def test_a_shrunk_limit_takes_back_the_slots_above_it() -> None:
    slots = ConcurrencyLimit(2)
    assert slots.enter()
    assert slots.enter()
    slots._limit = 1.0  # what `observe` does when round trips queue
    assert not slots.keep()
    slots.leave()
    assert slots.keep()
    slots.leave()
