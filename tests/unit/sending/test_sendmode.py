"""Fast by default: the rule that picks the request mode, the adaptive number in flight, and the
pushes that follow them against the emulator (per row when tiny, batches when latency is high,
explicit options win, a remembered rate from the first request, 429s apart from the retries)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.client.concurrency import ConcurrencyLimit
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.ledger import Ledger, Scope
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.pipeline.workflow import push
from fyno_pandas.sending.mode import BATCH_MAX, CEILING, DOUBT_MAX, PER_ROW_MAX, START, choose

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, seed=0)


def users(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "plan": rng.choice(["free", "pro"], n),
            "ltv": rng.integers(0, 1000, n).astype(float),
        }
    )


def send(df: pd.DataFrame, fyno: FynoEmulator, **kw) -> pd.DataFrame:
    where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
    options = {"preview": False, "progress": False, "retry_policy": FAST, **kw}
    return push(df, "user_id", **where, schema={"plan": "string", "ltv": "number"}, **options)


# -- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "adds", "batch_size"),
    [
        (1, False, None),
        (PER_ROW_MAX, False, None),
        (PER_ROW_MAX + 1, False, 4),  # ceil(51 / 16): the push fills 16 requests in one round
        (5_000, False, 313),
        (1_000_000, False, BATCH_MAX),
        (5_000, True, DOUBT_MAX),  # a lost answer puts at most 20 rows' adds in doubt
        (PER_ROW_MAX, True, None),
    ],
)
def test_the_auto_rule(rows: int, adds: bool, batch_size: int | None) -> None:
    mode = choose(rows, adds, "auto", "auto")
    assert (mode.batch_size, mode.concurrency, mode.ceiling, mode.adaptive) == (
        batch_size,
        START,
        CEILING,
        True,
    )
    assert mode.auto == ("concurrency", "batch_size")


def test_explicit_values_win() -> None:
    mode = choose(5_000, False, 8, None)
    assert (mode.mode, mode.concurrency, mode.ceiling, mode.adaptive, mode.auto) == (
        "per_row",
        8,
        8,
        False,
        (),
    )
    assert choose(10, False, "auto", 7).batch_size == 7
    assert choose(5_000, False, 4, "auto").batch_size == 500  # ceil(5000 / 4) capped
    assert "batches of 313 rows" in choose(5_000, False, "auto", "auto").describe()


# -- the slots ------------------------------------------------------------------------------


def test_a_fixed_limit_holds_and_a_sleeper_lends_its_slot() -> None:
    slots = ConcurrencyLimit(1)
    assert slots.enter()
    entered = threading.Event()

    def other() -> None:
        slots.enter()
        entered.set()
        slots.leave()

    thread = threading.Thread(target=other)
    thread.start()
    assert not entered.wait(0.2)  # the one slot is held
    slots.sleep(0.5)  # waiting out a 429: the other worker goes meanwhile
    assert entered.is_set()
    slots.leave()
    thread.join()


def test_no_slot_is_taken_once_the_push_is_stopped() -> None:
    slots, stop = ConcurrencyLimit(4), threading.Event()
    assert slots.enter(stop)
    stop.set()  # Ctrl-C, a 401 or a crashed worker: no unit starts after it
    assert slots.enter(stop) is False
    slots.leave()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_adaptive_limit_grows_while_round_trips_hold_and_shrinks_when_they_queue() -> None:
    clock = Clock()
    slots = ConcurrencyLimit(16, 64, adaptive=True, clock=clock)

    def answers(seconds: float, capacity: float) -> None:
        """A server whose round trip is 0.2 s up to ``capacity`` requests in flight, and
        grows in proportion beyond (they queue)."""
        end = clock.now + seconds
        while clock.now < end:
            rtt = 0.2 * max(1.0, slots.limit / capacity)
            clock.now += rtt / slots.limit
            slots.observe(rtt)

    answers(10, capacity=1_000)  # a distant server: the round trip does not depend on the load
    assert slots.limit == 64 == slots.peak
    answers(10, capacity=16)  # now requests queue beyond 16 in flight
    assert 16 <= slots.limit <= 1.5 * 16 * 1.25  # near the tolerance, not at the ceiling
    fixed = ConcurrencyLimit(8)
    for _ in range(1_000):
        fixed.observe(0.2)
    assert fixed.limit == 8


# -- pushes ---------------------------------------------------------------------------------


def test_a_tiny_frame_goes_one_request_per_row(emulator: FynoEmulator) -> None:
    result = send(users(PER_ROW_MAX), emulator)
    summary = result.attrs["fyno"]
    assert (summary["mode"], summary["batch_size"]) == ("per_row", None)
    assert {r["operation"] for r in emulator.requests} == {"set"}
    assert result["request_id"].nunique() == PER_ROW_MAX


def test_defaults_send_batches_when_latency_is_high(emulator: FynoEmulator) -> None:
    emulator.configure(latency=0.2)
    df = users(1_000)
    result = send(df, emulator)
    summary = result.attrs["fyno"]
    assert (summary["mode"], summary["batch_size"], summary["auto"]) == (
        "batch",
        63,
        ["concurrency", "batch_size"],
    )
    assert (result["status"] == "sent").all()
    # 16 requests of 63 rows, one round trip for all: per row it would take 63 of them
    assert summary["requests"] == 16
    assert {r["operation"] for r in emulator.requests} == {"batch"}
    assert emulator.profiles["u7"] == {"plan": df.loc[7, "plan"], "ltv": df.loc[7, "ltv"]}


def test_explicit_options_win_over_the_rule(emulator: FynoEmulator) -> None:
    result = send(users(200), emulator, concurrency=3, batch_size=None)
    summary = result.attrs["fyno"]
    assert (summary["mode"], summary["concurrency"], summary["concurrency_peak"]) == (
        "per_row",
        3,
        3,
    )
    assert summary["auto"] == []
    assert len(emulator.requests) == 200
    assert send(users(10), emulator, batch_size=5).attrs["fyno"]["requests"] == 2


def test_a_remembered_rate_is_used_from_the_first_request(emulator: FynoEmulator, tmp_path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    book = Ledger(ledger)
    book.remember_rate(Scope(emulator.endpoint, emulator.wsid, "live"), 40.0)
    started = time.monotonic()
    result = send(users(40), emulator, ledger=ledger)
    elapsed = time.monotonic() - started
    # 40 requests from 40/s, each success raising the rate by ln 2 (doubling a second at
    # that pace): 0.73 s at least; unpaced they take a few milliseconds
    assert elapsed >= 0.6
    assert result.attrs["fyno"]["throttled"] == 0
    assert result.attrs["fyno"]["learnt_rps"] is None  # a start, not a measured limit


def test_a_remembered_rate_rises_without_429s_and_is_forgotten(emulator: FynoEmulator, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    scope = Scope(emulator.endpoint, emulator.wsid, "live")
    Ledger(ledger).remember_rate(scope, 50.0)  # a limit that is gone
    started = time.monotonic()
    result = send(users(400), emulator, ledger=ledger, batch_size=None)
    elapsed = time.monotonic() - started
    assert (result["status"] == "sent").all()
    assert elapsed < 0.5 * 400 / 50  # at a kept 50/s: 8 s
    # accepted faster than it, with no 429: the next push starts unpaced
    assert Ledger(ledger).learnt_rate(scope) is None


def test_a_learnt_limit_is_kept_for_the_next_push(emulator: FynoEmulator, tmp_path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    emulator.configure(rate_limit=200, rate_burst=5)
    first = send(users(600), emulator, ledger=ledger, batch_size=None)
    assert (first["status"] == "sent").all()
    learnt = Ledger(ledger).learnt_rate(Scope(emulator.endpoint, emulator.wsid, "live"))
    assert learnt is not None
    assert 0 < learnt <= 220  # at most the limit and its burst; how close depends on load
    assert first.attrs["fyno"]["learnt_rps"] == pytest.approx(learnt, rel=0.01)


def test_429s_never_consume_the_retry_budget(emulator: FynoEmulator) -> None:
    emulator.configure(throttle_rate=0.05)  # sporadic: each waits out its own Retry-After
    policy = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, retry_after_cap=0.01, seed=0)
    result = send(users(300), emulator, batch_size=None, max_retries=0, retry_policy=policy)
    summary = result.attrs["fyno"]
    assert (result["status"] == "sent").all()
    assert summary["throttled"] > 0
    assert summary["retries"] == 0


def test_sporadic_429s_in_batch_mode_are_not_learnt_as_a_limit(tmp_path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    # a few dozen answers a second, 5% of them 429 at random (Retry-After: 1), no limit; the
    # seed draws 429s that the old rule (3 and 10% of a second's answers) read as a limit
    with FynoEmulator(seed=2, latency=0.2, throttle_rate=0.05) as fyno:
        result = send(users(6_000), fyno, ledger=ledger, batch_size=10)
        scope = Scope(fyno.endpoint, fyno.wsid, "live")
    summary = result.attrs["fyno"]
    assert (result["status"] == "sent").all()
    assert summary["throttled"] > 0
    assert summary["learnt_rps"] is None
    assert Ledger(ledger).learnt_rate(scope) is None
    assert summary["elapsed_s"] < 15  # 5 s without 429s; 20 s when read as a limit
