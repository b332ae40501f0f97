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


def test_a_batch_across_two_blocks_of_the_table_names_its_own_rows(tmp_path: Path) -> None:
    rows = AckRecorder._BLOCK + 10
    df = pd.DataFrame({"id": [f"u{i}" for i in range(rows)], "x": range(rows)})
    plan = build_plan(df, "id", config=CONFIG)
    scope = Scope.of(CONFIG)
    across = list(range(AckRecorder._BLOCK - 2, AckRecorder._BLOCK + 2))
    with Ledger(tmp_path / "l.sqlite") as book:
        push_id = book.begin_push(scope)
        book.claim_types(scope, push_id, {"x": "string"})  # another push fixed x as text
        book.confirm_types(scope, push_id, {"x": "string"})
        record = AckRecorder(plan, book, scope, push_id, book.ack_writer(scope, push_id))
        record(across, "r1")
        record([rows - 1], "r2")
    assert sorted(record.not_stored) == [(pos, "x") for pos in [*across, rows - 1]]


def test_recording_every_row_holds_a_few_blocks_of_the_table(tmp_path: Path) -> None:
    """The acks' table (10 bytes a row and property) is built a block of rows at a time as
    they are acknowledged, and a few blocks are held: not a table of every row."""
    rows, properties, batch = 100_000, 3, 5_000
    df = pd.DataFrame({f"p{k}": range(k, rows + k) for k in range(properties)})
    df["id"] = [f"u{i}" for i in range(rows)]
    plan = build_plan(df, "id", config=CONFIG)
    scope = Scope.of(CONFIG)
    with Ledger(tmp_path / "l.sqlite") as book:
        push_id = book.begin_push(scope)
        writer = book.ack_writer(scope, push_id)
        tracemalloc.start()
        try:
            record = AckRecorder(plan, book, scope, push_id, writer)
            for start in range(0, rows, batch):
                record(list(range(start, start + batch)), f"r{start}")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        held = book.acknowledged_hashes(scope)
    assert held["distinct_id"].nunique() == rows
    assert peak / (rows * properties) < 25
