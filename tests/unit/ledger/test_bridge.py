"""`AckRecorder`: the acks of a plan, recorded from a table of the rows it sends."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.ledger import Ledger
from fyno_pandas.ledger.bridge import AckRecorder
from fyno_pandas.ledger.scope import Scope
from fyno_pandas.planning.build import build_plan

CONFIG = FynoConfig.resolve(wsid="WS", api_key="k", endpoint="https://example.invalid/v1")


@pytest.mark.parametrize("batch", [False, True])
def test_acks_of_a_plan_with_rows_not_sent_record_and_name_plan_rows(
    batch: bool, tmp_path: Path
) -> None:
    df = pd.DataFrame({"id": [None, "a", "b", None, "c"], "x": [1, 2, 3, 4, 5], "y": list("pqrst")})
    plan = build_plan(df, "id", config=CONFIG)
    scope = Scope.of(CONFIG)
    with Ledger(tmp_path / "l.sqlite") as book:
        push_id = book.begin_push(scope)
        book.claim_types(scope, push_id, {"x": "string"})  # another push fixed x as text
        book.confirm_types(scope, push_id, {"x": "string"})
        record = AckRecorder(plan, book, scope, push_id, book.ack_writer(scope, push_id))
        for positions in [[1, 2, 4]] if batch else [[1], [2], [4]]:
            record(positions, "r1")
        held = book.acknowledged_hashes(scope)
    assert sorted(record.not_stored) == [(1, "x"), (2, "x"), (4, "x")]
    assert sorted(held["distinct_id"].astype(str).unique()) == ["a", "b", "c"]


def test_the_ack_table_is_built_one_property_at_a_time(tmp_path: Path) -> None:
    """Building the table of a plan's acks holds its matrices (10 bytes a row and property)
    and one property's hashes at a time (20 bytes in all), not every property's hashes three
    times over: the hashes, their stack, the stack zeroed where unset (29 bytes)."""
    rows, properties = 20_000, 8
    df = pd.DataFrame({f"p{k}": range(k, rows + k) for k in range(properties)})
    df["id"] = [f"u{i}" for i in range(rows)]
    plan = build_plan(df, "id", config=CONFIG)
    scope = Scope.of(CONFIG)
    with Ledger(tmp_path / "l.sqlite") as book:
        push_id = book.begin_push(scope)
        writer = book.ack_writer(scope, push_id)
        tracemalloc.start()
        try:
            AckRecorder(plan, book, scope, push_id, writer)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak / (rows * properties) < 24
