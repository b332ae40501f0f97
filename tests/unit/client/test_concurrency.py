"""`fyno_pandas.client.concurrency.ConcurrencyLimit.keep`: when a worker may hold its slot on."""

from __future__ import annotations

import threading

from fyno_pandas.client.concurrency import ConcurrencyLimit


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
