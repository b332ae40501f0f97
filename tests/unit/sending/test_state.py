"""`sending.state`: one status array every count is read from, and the rules of a row's end."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.concurrency import ConcurrencyLimit
from fyno_pandas.client.http import FynoClient, Outcome
from fyno_pandas.planning.plan import PushPlan
from fyno_pandas.planning.steps import Step
from fyno_pandas.sending.state import PushState, refresh_bar, run_units


def make_plan(df: pd.DataFrame, **options: object) -> PushPlan:
    """``df``'s plan, keyed by ``uid``, without a ledger."""
    return fyno_pandas.plan(df, "uid", ledger=False, **options)  # type: ignore[arg-type]


SENT = Outcome("sent", 202, "r1", 1, None)
REFUSED = Outcome("failed", 400, "r2", 1, "bad value")


def _state(on_ack: Any = None) -> PushState:
    df = pd.DataFrame({"uid": ["a", "b", None, "d"], "n": [1, 2, 3, 4]})
    return PushState(make_plan(df), None, on_ack)


def test_counts_are_read_from_the_status_array() -> None:
    push = _state()
    assert push.counts() == {
        "sent": 0,
        "failed": 0,
        "skipped": 1,
        "pending": 3,
        "dry_run": 0,
        "unchanged": 0,
        "in_doubt": 0,
    }
    push.settle([0, 1], [SENT])
    push.settle([3], [REFUSED])
    assert (push.counts()["sent"], push.counts()["failed"], push.counts()["pending"]) == (2, 1, 0)
    assert push.statuses().tolist() == ["sent", "sent", "skipped", "failed"]
    assert not any(hasattr(push, name) for name in ("sent", "failed", "in_doubt"))


def test_a_row_takes_the_worst_of_its_outcomes_and_every_request_id() -> None:
    push = _state()
    push.settle([0], [SENT, REFUSED])
    assert push.status_of(0) == "failed"
    assert (push.error[0], push.http_status[0], push.attempts[0]) == ("bad value", 400, 2)
    assert (push.request_id[0], push.request_ids[0]) == ("r1", ["r1", "r2"])


def test_a_row_whose_add_may_have_landed_is_held_in_doubt() -> None:
    df = pd.DataFrame({"uid": ["a"], "logins": [1], "note": ["x"]})
    acked: list[object] = []
    push = PushState(make_plan(df, ops={"logins": "add"}), None, lambda *ack: acked.append(ack))
    push.land(0, [(("logins",), "in_doubt")])
    push.stopped(0, [Step("set", ("note",), ('"x"',))])
    push.finish([([0], [REFUSED])], None)
    assert push.status_of(0) == "in_doubt"
    assert "may have been applied" in push.error[0]
    assert "not sent: set note" in push.error[0]
    assert push.applied_text()[0] == '{"logins": [0, 1]}'
    assert acked == []


def test_finish_acknowledges_the_sent_rows_under_the_batch_id() -> None:
    acked: list[object] = []
    push = _state(on_ack=lambda rows, rid: acked.append((list(rows), rid)))
    push.finish([([0, 1], [SENT]), ([3], [REFUSED])], "batch-1")
    assert acked == [([0, 1], "batch-1")]


def test_a_worker_that_raises_stops_every_worker(client: FynoClient) -> None:
    push = PushState(make_plan(pd.DataFrame({"uid": ["a"], "n": [1]})), client)
    ran: list[int] = []

    def unit(k: int) -> None:
        ran.append(k)
        if k == 0:
            raise RuntimeError("boom")

    assert run_units(push, 100_000, unit, None) is False
    assert isinstance(push.crash, RuntimeError)
    assert push.stop.is_set()
    assert len(ran) < 100_000


class CountingCondition(threading.Condition):
    """A condition that counts the threads it was asked to wake."""

    wakes = 0

    def notify(self, n: int = 1) -> None:
        self.wakes += n
        super().notify(n)


def test_a_worker_going_on_to_its_next_unit_wakes_no_spare_thread() -> None:
    """A worker holds its slot from unit to unit: the pool's spare threads (kept for requests
    waiting out a 429) are not woken at every unit to find the slot taken again."""
    slots = ConcurrencyLimit(2)
    slots._cond = CountingCondition(slots._cond._lock)  # type: ignore[attr-defined]
    push = SimpleNamespace(stop=threading.Event(), client=SimpleNamespace(slots=slots))
    ran: list[int] = []

    def unit(k: int) -> None:
        ran.append(k)
        threading.Event().wait(0.0005)  # a request: the GIL is free meanwhile

    assert not run_units(push, 300, unit, None)  # type: ignore[arg-type]
    assert sorted(ran) == list(range(300))
    assert slots._cond.wakes <= slots.threads  # each worker's last leave, not one per unit


def test_a_ctrl_c_landing_as_a_worker_starts_sends_nothing(monkeypatch: Any) -> None:
    """Ctrl-C can land in the calling thread right after a worker thread started: no unit may
    run then, neither before `run_units` returns nor after (a unit left running would record
    its row after the result was made: a stored row reported ``pending``)."""
    slots = ConcurrencyLimit(1)
    push = SimpleNamespace(stop=threading.Event(), client=SimpleNamespace(slots=slots))
    ran: list[int] = []
    start = threading.Thread.start

    def start_then_ctrl_c(thread: threading.Thread) -> None:
        start(thread)
        if thread.name.startswith("fyno"):
            raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", start_then_ctrl_c)
    assert run_units(push, 1, ran.append, None) is True  # type: ignore[arg-type]
    threading.Event().wait(0.2)
    assert ran == []


class Bar:
    """What `refresh_bar` uses of a tqdm bar."""

    n = 0

    def set_postfix(self, postfix: dict[str, Any], refresh: bool) -> None:
        self.postfix = postfix

    def update(self, k: int) -> None:
        self.n += k

    def refresh(self) -> None:
        pass


@pytest.mark.parametrize(("batch_size", "shown"), [(None, 3), (2, 2)])
def test_the_bar_never_shows_more_in_flight_than_units_left(
    client: FynoClient, batch_size: int | None, shown: int
) -> None:
    df = pd.DataFrame({"uid": ["a", "b", None, "d"], "n": [1, 2, 3, 4]})
    push = PushState(make_plan(df), client, mode=SimpleNamespace(batch_size=batch_size))
    assert client.slots.limit > 3
    bar = Bar()
    refresh_bar(bar, push)
    assert bar.postfix["in_flight"] == shown  # 3 rows left: 3 requests, or 2 batches of 2
    push.settle([0, 1, 3], [SENT])
    refresh_bar(bar, push)
    assert bar.postfix["in_flight"] == 0
    assert bar.n == 3
