"""`sending.session.PushSession`: several plans sent as one push, and their summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import fyno_pandas
from fyno_pandas.client.config import FynoConfig
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.ledger import Ledger
from fyno_pandas.ledger.scope import Scope
from fyno_pandas.results.columns import empty_result
from fyno_pandas.sending.session import PushSession


def test_plans_sent_in_one_session_are_one_push(emulator: FynoEmulator, tmp_path: Path) -> None:
    config = FynoConfig(emulator.wsid, emulator.api_key, endpoint=emulator.endpoint)
    first = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2]})
    second = pd.DataFrame({"uid": ["c", None], "n": [3, 4]})
    with PushSession(config, progress=False, ledger=tmp_path / "l.sqlite") as session:
        results = [
            session.send(fyno_pandas.plan(df, "uid", ledger=False, schema={"n": "number"}))
            for df in (first, second)
        ]
        summary = session.summary()
    assert isinstance(session.push_id, int)
    assert [r["push_id"].tolist() for r in results] == [[session.push_id] * 2] * 2
    assert {k: summary[k] for k in ("rows", "sent", "skipped", "requests")} == {
        "rows": 4,
        "sent": 3,
        "skipped": 1,
        "requests": 3,
    }
    assert summary["destination"] == config.label


def test_without_a_ledger_there_is_no_push_id(emulator: FynoEmulator) -> None:
    config = FynoConfig(emulator.wsid, emulator.api_key, endpoint=emulator.endpoint)
    with PushSession(config, progress=False, ledger=False) as session:
        result = session.send(fyno_pandas.plan(pd.DataFrame({"uid": ["a"], "n": [1]}), "uid"))
    assert session.push_id is None
    assert result["push_id"].isna().all()
    assert session.summary()["sent"] == 1


def test_values_the_ledger_saw_typed_otherwise_are_dropped_in_the_result_s_own_dtype(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    config = FynoConfig(emulator.wsid, emulator.api_key, endpoint=emulator.endpoint)
    path = tmp_path / "l.sqlite"
    with Ledger(path) as book:  # another push fixed n as text at this destination
        scope = Scope.of(config)
        other = book.begin_push(scope)
        book.claim_types(scope, other, {"n": "string"})
        book.confirm_types(scope, other, {"n": "string"})
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2]})
    with PushSession(config, progress=False, ledger=path) as session:
        result = session.send(fyno_pandas.plan(df, "uid", ledger=False, schema={"n": "number"}))
    assert result["dropped"].tolist() == [["n"], ["n"]]
    assert result.dtypes.to_dict() == empty_result().dtypes.to_dict()
