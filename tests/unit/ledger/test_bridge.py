"""The ``only_changed`` read started before planning (`early_states`) and its fallbacks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.ledger import Ledger
from fyno_pandas.ledger.bridge import early_states
from fyno_pandas.pipeline.workflow import push

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
