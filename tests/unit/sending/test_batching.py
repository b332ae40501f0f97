"""`fyno_pandas.sending.batching._settle_batch`: rows take their item's status from a 202."""

from __future__ import annotations

import pandas as pd

from fyno_pandas.client.http import Outcome
from fyno_pandas.planning.build import build_plan
from fyno_pandas.sending.batching import _settle_batch
from fyno_pandas.sending.state import PushState


def settled(items: list[object]) -> tuple[PushState, list[list[int]]]:
    plan = build_plan(pd.DataFrame({"id": ["a", "b", "c", "d"], "x": [1, 2, 3, 4]}), "id")
    acks: list[list[int]] = []
    push = PushState(plan, None, lambda rows, rid: acks.append(list(rows)))
    answer = Outcome("sent", 202, "r1", 1, None, {"request_id": "r1", "batch": items}, 0, 0)
    _settle_batch(push, [0, 1, 2, 3], answer)
    return push, acks


def test_a_batch_whose_items_are_all_accepted_sends_and_acks_every_row() -> None:
    push, acks = settled([{"$set": "ok"} for _ in range(4)])
    assert push.status.tolist() == ["sent"] * 4
    assert push.request_id.tolist() == ["r1"] * 4
    assert push.error.tolist() == [None] * 4
    assert (push.sent, push.failed, acks) == (4, 0, [[0, 1, 2, 3]])


def test_a_refused_item_fails_its_row_alone() -> None:
    ok = {"$set": "ok"}
    push, acks = settled([ok, {"$set": "ok", "error": "not allowed"}, ok, ok])
    assert push.status.tolist() == ["sent", "failed", "sent", "sent"]
    assert push.error[1] == "not allowed"
    assert (push.sent, push.failed, acks) == (3, 1, [[0, 2, 3]])


def test_rows_without_an_item_in_the_answer_fail() -> None:
    push, acks = settled([{"$set": "ok"}] * 3)
    assert push.status.tolist() == ["sent"] * 3 + ["failed"]
    assert push.error[3] == "no status for this row in the batch answer"
    assert (push.sent, push.failed, acks) == (3, 1, [[0, 1, 2]])
