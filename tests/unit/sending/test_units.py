"""`sending.units`: the one unit of sending, per row and in batches, against the emulator."""

from __future__ import annotations

import pandas as pd

import fyno_pandas
from fyno_pandas.client.http import FynoClient, Outcome
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.planning.plan import PushPlan
from fyno_pandas.sending.mode import choose
from fyno_pandas.sending.state import PushState
from fyno_pandas.sending.units import Request, answers, batch_unit, row_unit


def make_plan(df: pd.DataFrame, **options: object) -> PushPlan:
    """``df``'s plan, keyed by ``uid``, without a ledger."""
    return fyno_pandas.plan(df, "uid", ledger=False, **options)  # type: ignore[arg-type]


def _push(client: FynoClient, df: pd.DataFrame, batch_size: int | None, **options: object):
    plan = make_plan(df, **options)
    acked: list[tuple[list[int], str | None]] = []
    mode = choose(len(plan), False, 1, batch_size)
    push = PushState(plan, client, lambda rows, rid: acked.append((list(rows), rid)), mode=mode)
    return push, acked


def test_a_row_sends_its_steps_in_order(client: FynoClient, emulator: FynoEmulator) -> None:
    df = pd.DataFrame({"uid": ["a"], "n": [1], "gone": [None]})
    push, acked = _push(client, df, None, nulls="unset", schema={"n": "number"})
    row_unit(push, 0)
    assert [r["operation"] for r in emulator.requests] == ["set", "unset"]
    assert push.status_of(0) == "sent"
    assert acked == [([0], push.request_id[0])]


def test_a_batch_is_split_on_a_413_and_each_part_acknowledged(
    client: FynoClient, emulator: FynoEmulator
) -> None:
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(4)], "s": ["x" * 200] * 4})
    emulator.configure(max_body_bytes=600)
    push, acked = _push(client, df, 4, schema={"s": "string"})
    batch_unit(push, [0, 1, 2, 3])
    assert [r["status"] for r in emulator.requests] == [413, 202, 202]
    assert push.counts()["sent"] == 4
    assert [rows for rows, _ in acked] == [[0, 1], [2, 3]]
    assert push.requests == 3


def test_a_refused_item_fails_its_row_and_an_add_in_a_lost_batch_is_in_doubt(
    client: FynoClient,
) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "logins": [1, None], "note": ["x", "y"]})
    push, _ = _push(client, df, 2, ops={"logins": "add"})
    request = Request("batch", b"{}", [0, 1], [[("logins",)], [()]])
    refused = Outcome("sent", 202, "r", 1, None, json={"batch": [{"$add": "ok"}, {"x": "no"}]})
    assert [o.status for o in answers(push, request, refused)] == ["sent", "failed"]
    lost = Outcome("in_doubt", None, None, 1, "timeout")
    assert [o.status for o in answers(push, request, lost)] == ["in_doubt", "failed"]
    assert push.applied == {0}
