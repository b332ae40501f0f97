"""The ``only_changed`` read started before planning (`early_states`) and its fallbacks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.ledger import Ledger
from fyno_pandas.ledger.bridge import AckRecorder, early_states
from fyno_pandas.ledger.scope import Scope
from fyno_pandas.pipeline.workflow import push
from fyno_pandas.planning.build import build_plan

QUIET = {"preview": False, "progress": False}
CONFIG = FynoConfig.resolve(wsid="WS", api_key="k", endpoint="https://example.invalid/v1")


@pytest.mark.parametrize(
    "ids",
    [
        pd.Series(["u1", None, "u2"], dtype="string"),
        pd.Series(["u1", None, "u2"], dtype=object),
        pd.Series(["u1", None, "u2"], dtype="str"),
    ],
)
def test_text_ids_are_read_while_the_plan_is_built(ids: pd.Series, tmp_path: Path) -> None:
    frame = pd.DataFrame({"uid": ids})
    with Ledger(tmp_path / "l.sqlite") as book, early_states(book, CONFIG, frame, "uid") as early:
        assert early is not None
        assert early.result().users == []


@pytest.mark.parametrize(
    ("frame", "id_col"),
    [
        (pd.DataFrame({"uid": [1, 2]}), "uid"),  # the plan makes them text
        (pd.DataFrame({"uid": [b"u1", b"u2"]}), "uid"),
        (pd.DataFrame([["u1", "u2"]], columns=["uid", "uid"]), "uid"),
        (pd.DataFrame({"uid": ["u1"]}), "missing"),
        (pd.DataFrame({"uid": ["u1"]}), ["uid"]),
    ],
)
def test_other_ids_are_read_after_planning(
    frame: pd.DataFrame, id_col: object, tmp_path: Path
) -> None:
    with Ledger(tmp_path / "l.sqlite") as book, early_states(book, CONFIG, frame, id_col) as early:
        assert early is None


def test_an_id_sqlite_cannot_hold_is_read_again_from_the_plan(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    to = {**destination, "ledger": tmp_path / "l.sqlite", **QUIET}
    df = pd.DataFrame({"uid": ["u1", "u2"], "plan": ["pro", "free"]})
    push(df, "uid", **to)
    ids = pd.Series(["u1", "u\udc80", "u2"], dtype=object)
    again = pd.DataFrame({"uid": ids, "plan": ["pro", "x", "team"]})
    result = push(again, "uid", **to)
    assert result["status"].tolist() == ["unchanged", "skipped", "sent"]
    assert emulator.profiles["u2"] == {"plan": "team"}


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
