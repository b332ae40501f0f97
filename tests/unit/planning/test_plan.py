"""`fyno_pandas.planning.plan.PushPlan.batch_items`: a batch's items built at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from fyno_pandas.planning.build import build_plan


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", 'b"\\', "c", "d"],
            "plan": ["pro", None, "free", None],
            "ltv": [1.5, 2.0, None, None],
            "tags": [["x"], None, [], None],
        }
    )


def test_batch_items_are_the_rows_batch_item_in_the_order_asked() -> None:
    for nulls in ("skip", "unset"):
        plan = build_plan(frame(), "user_id", nulls=nulls)
        rows = np.flatnonzero(plan.sendable)[::-1]
        assert plan.batch_items(rows) == [plan.batch_item(pos) for pos in rows.tolist()]
        items = [json.loads(item) for item in plan.batch_items(rows)]
        assert [item["distinct_id"] for item in items] == [["a", 'b"\\', "c", "d"][r] for r in rows]


def test_a_row_that_only_clears_sends_no_set() -> None:
    plan = build_plan(frame(), "user_id", nulls="unset")
    (item,) = plan.batch_items([3])
    assert json.loads(item) == {"distinct_id": "d", "action": {"$unset": ["plan", "ltv", "tags"]}}
