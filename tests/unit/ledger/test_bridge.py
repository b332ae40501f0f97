"""`AckRecorder`: the acks of a plan, recorded from a table of the rows it sends; the
``only_changed`` check: the ledger read while the frame is planned."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.config import FynoConfig
from fyno_pandas.ledger import Ledger, store, values
from fyno_pandas.ledger.bridge import AckRecorder
from fyno_pandas.ledger.scope import Scope
from fyno_pandas.pipeline import workflow
from fyno_pandas.planning.build import build_plan
from fyno_pandas.planning.plan import PushPlan

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


def acknowledged(book: Ledger, frame: pd.DataFrame) -> None:
    """Record every value of ``frame`` (id, x) as acknowledged at ``CONFIG``'s destination."""
    plan = build_plan(frame, "id", config=CONFIG)
    scope = Scope.of(CONFIG)
    push_id = book.begin_push(scope)
    is_set = np.ones(len(frame), dtype=bool)
    column = ("x", plan.value_hashes("x"), is_set, ~is_set, "number")
    book.record_batch(scope, push_id, list(plan.distinct_ids), [column], "r1")


def plan_again(frame: pd.DataFrame, ledger: Path) -> fyno_pandas.PushPlan:
    """``frame`` with ``x`` changed in its row 7, planned against ``ledger``."""
    changed = frame.assign(x=frame["x"].where(frame.index != 7, -1))
    return fyno_pandas.plan(
        changed, "id", wsid=CONFIG.wsid, endpoint=CONFIG.endpoint, ledger=ledger
    )


def test_the_ledger_is_read_while_the_frame_is_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite reads without the GIL: a daily sync's acknowledged states are read while its frame
    is planned, not after, so the read adds no time of its own."""
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(50)], "x": range(50)})
    with Ledger(tmp_path / "l.sqlite") as book:
        acknowledged(book, frame)
    reading, read = threading.Event(), values.read_states

    def read_states(*args: Any, **kwargs: Any) -> Any:
        reading.set()
        return read(*args, **kwargs)

    def build_plan_once_reading(*args: Any, **kwargs: Any) -> Any:
        assert reading.wait(5), "the ledger was not read while the frame was planned"
        return build_plan(*args, **kwargs)

    monkeypatch.setattr(values, "read_states", read_states)
    monkeypatch.setattr(store, "read_states", read_states)
    monkeypatch.setattr(workflow, "build_plan", build_plan_once_reading)

    plan = plan_again(frame, tmp_path / "l.sqlite")

    assert plan.summary()["rows_unchanged"] == 49
    assert len(plan) == 1


def test_a_destination_of_many_more_users_is_read_by_the_plans_ids(tmp_path: Path) -> None:
    """Too many users to read ahead: the check reads the plan's own, and finds them."""
    everyone = pd.DataFrame({"id": [f"u{i:04d}" for i in range(1000)], "x": range(1000)})
    with Ledger(tmp_path / "l.sqlite") as book:
        acknowledged(book, everyone)

    plan = plan_again(everyone.iloc[100:150].reset_index(drop=True), tmp_path / "l.sqlite")

    assert plan.summary()["rows_unchanged"] == 49
    assert plan.distinct_ids[plan.sendable].tolist() == ["u0107"]


def test_a_late_count_of_too_many_users_still_reads_the_plans_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count read ahead may answer "too many to read them all" only once the plan is
    hashed: the plan's own users are then read, not none."""
    everyone = pd.DataFrame({"id": [f"u{i:04d}" for i in range(1000)], "x": range(1000)})
    with Ledger(tmp_path / "l.sqlite") as book:
        acknowledged(book, everyone)
    hashing, count, hashes = threading.Event(), store.read_scope_states, PushPlan.value_hashes

    def value_hashes(self: PushPlan, prop: str) -> Any:
        hashing.set()
        return hashes(self, prop)

    def count_once_hashing(*args: Any) -> Any:
        assert hashing.wait(5), "the plan was not hashed while the ledger was read"
        return count(*args)

    monkeypatch.setattr(PushPlan, "value_hashes", value_hashes)
    monkeypatch.setattr(store, "read_scope_states", count_once_hashing)

    plan = plan_again(everyone.iloc[100:150].reset_index(drop=True), tmp_path / "l.sqlite")

    assert plan.summary()["rows_unchanged"] == 49
    assert plan.distinct_ids[plan.sendable].tolist() == ["u0107"]
