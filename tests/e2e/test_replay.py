"""`retry_failed` replays what the push did, from the result alone, however it travelled.

A result written to CSV or Parquet and read back has no ``attrs`` and perhaps another index:
its rows are matched by ``distinct_id``, its push's operations come from the ledger's record
of its ``push_id`` (or ``ops=``), and a row in doubt's ``applied`` cell says which of its adds
and appends landed, so a retry sends the rest of the row and nothing twice. Against the
emulator, ``concurrency=1`` and types named: request k is the k-th request sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoInputError

QUIET = {"preview": False, "progress": False, "concurrency": 1}
ADD = {"ops": {"logins": "add"}, "schema": {"logins": "number"}}
STEPS = {
    "ops": {"logins": "add", "badges": "append"},
    "schema": {"logins": "number", "badges": "list"},
    "batch_size": None,
}


def csv_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.csv"
    result.to_csv(path, index=False)  # as a script would: no index
    return pd.read_csv(path, dtype={"distinct_id": str}, keep_default_na=False, na_values=[""])


def parquet_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.parquet"
    result.to_parquet(path)
    # pandas reads back the dtype it wrote for an Arrow list only with the pyarrow backend
    # (pandas-dev/pandas#57411)
    return pd.read_parquet(path, dtype_backend="pyarrow")


def as_is(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    return result


TRIPS = [as_is, csv_back, parquet_back]


@pytest.fixture
def to(destination: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    return {**destination, "ledger": tmp_path / "ledger.sqlite", **QUIET}


def users_with_totals(emulator: FynoEmulator, to: dict[str, Any]) -> pd.DataFrame:
    """Six users holding logins=100, and a frame that adds 5 to each."""
    ids = [f"u{i}" for i in range(6)]
    fyno_pandas.push(pd.DataFrame({"uid": ids, "logins": [100] * 6}), "uid", **to)
    return pd.DataFrame({"uid": ids, "logins": [5] * 6}, index=[f"row{i}" for i in range(6)])


@pytest.mark.parametrize("trip", TRIPS, ids=lambda f: f.__name__)
def test_a_result_read_back_retries_its_adds_as_adds(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path, trip: Callable
) -> None:
    frame = users_with_totals(emulator, to)
    emulator.configure(error_requests=[2, 4], error_statuses=[400])  # refused: not stored
    first = fyno_pandas.push(frame, "uid", **to, **ADD)
    assert first["status"].tolist().count("failed") == 2
    emulator.configure(error_requests=[])

    again = fyno_pandas.retry_failed(frame, trip(first, tmp_path), "uid", **to)

    assert (again["status"] == "sent").all()
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {
        f"u{i}": 105 for i in range(6)
    }


@pytest.mark.parametrize("trip", TRIPS, ids=lambda f: f.__name__)
def test_the_same_result_retried_twice_adds_once(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path, trip: Callable
) -> None:
    frame = users_with_totals(emulator, to)
    emulator.configure(error_requests=[2, 4], error_statuses=[400])
    stale = trip(fyno_pandas.push(frame, "uid", **to, **ADD), tmp_path)
    emulator.configure(error_requests=[])
    once = fyno_pandas.retry_failed(frame, stale, "uid", **to)
    sent = len(emulator.requests)

    twice = fyno_pandas.retry_failed(frame, stale, "uid", **to)

    assert len(emulator.requests) == sent
    retried = twice["status"] != "sent"
    assert twice.loc[retried, "status"].eq("unchanged").sum() == 2
    assert twice.loc[retried, "request_id"].tolist() == once.loc[retried, "request_id"].tolist()
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {
        f"u{i}": 105 for i in range(6)
    }


def test_without_ledger_or_summary_a_retry_asks_for_ops(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path
) -> None:
    frame = users_with_totals(emulator, to)
    emulator.configure(error_requests=[2], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **{**to, "ledger": False}, **ADD)
    emulator.configure(error_requests=[])
    back = csv_back(first, tmp_path)
    sent = len(emulator.requests)

    with pytest.raises(FynoInputError, match="ops="):
        fyno_pandas.retry_failed(frame, back, "uid", **{**to, "ledger": False})
    assert len(emulator.requests) == sent

    again = fyno_pandas.retry_failed(frame, back, "uid", **{**to, "ledger": False}, **ADD)
    assert (again["status"] == "sent").all()
    assert all(p["logins"] == 105 for p in emulator.profiles.values())


def test_a_result_of_a_refused_key_read_back_is_retried(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(31)], "plan": ["pro"] * 31})
    with pytest.raises(fyno_pandas.FynoAuthError) as info:
        fyno_pandas.push(frame, "uid", **{**to, "api_key": "wrong-key"}, schema={"plan": "string"})
    back = csv_back(info.value.result, tmp_path)
    assert back["request_id"].isna().all()  # read back as floats

    again = fyno_pandas.retry_failed(frame, back, "uid", **to, ops={})

    assert (again["status"] == "sent").all()
    assert again["request_id"].notna().all()
    assert len(emulator.profiles) == 31


@pytest.mark.parametrize("trip", TRIPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("ledger", [True, False], ids=["ledger", "no ledger"])
def test_assume_stored_sends_the_steps_after_the_one_in_doubt(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path, trip: Callable, ledger: bool
) -> None:
    options = {**to, **STEPS, **({} if ledger else {"ledger": False})}
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": [["x", "y", "z"]]})
    emulator.configure(drop_after_requests=[2])  # the append of x lands; its answer is lost
    first = fyno_pandas.push(frame, "uid", **options)
    assert first["status"].tolist() == ["in_doubt"]
    assert "not sent: append badges, append badges" in first.loc[0, "error"]
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x"]}
    emulator.configure(drop_after_requests=[])
    back = trip(first, tmp_path)

    kept = fyno_pandas.retry_failed(frame, back, "uid", **options)
    assert kept["status"].tolist() == ["in_doubt"]
    again = fyno_pandas.retry_failed(frame, back, "uid", **options, in_doubt="assume_stored")

    assert again["status"].tolist() == ["sent"]
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x", "y", "z"]}


@pytest.mark.parametrize("trip", TRIPS, ids=lambda f: f.__name__)
def test_resend_sends_what_was_not_acknowledged_and_nothing_else(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path, trip: Callable
) -> None:
    options = {**to, **STEPS}
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": [["x", "y"]]})
    emulator.configure(error_requests=[2], error_statuses=[502])  # not applied; in doubt
    first = fyno_pandas.push(frame, "uid", **options)
    assert first["status"].tolist() == ["in_doubt"]
    emulator.configure(error_requests=[])

    again = fyno_pandas.retry_failed(
        frame, trip(first, tmp_path), "uid", **options, in_doubt="resend"
    )

    assert again["status"].tolist() == ["sent"]
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x", "y"]}


def test_assume_stored_with_nothing_left_marks_the_row_sent(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7]})
    emulator.configure(drop_after_requests=[1])
    first = fyno_pandas.push(frame, "uid", **to, **ADD)
    assert first["status"].tolist() == ["in_doubt", "sent"]
    emulator.configure(drop_after_requests=[])

    again = fyno_pandas.retry_failed(
        frame, csv_back(first, tmp_path), "uid", **to, in_doubt="assume_stored"
    )

    assert again["status"].tolist() == ["sent", "sent"]
    assert "assumed stored" in again.loc[0, "error"]
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 5, "b": 7}
    assert len(emulator.requests) == 2


def test_a_rerun_with_assume_stored_sends_the_rest_of_the_row_from_the_ledger(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    options = {**to, **STEPS}
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x", "y"], ["z"]]})
    emulator.configure(drop_after_requests=[1])  # a's add lands; its answer is lost
    first = fyno_pandas.push(frame, "uid", **options)
    assert first["status"].tolist() == ["in_doubt", "sent"]
    assert "not sent: append badges, append badges" in first.loc[0, "error"]
    emulator.configure(drop_after_requests=[])
    sent = len(emulator.requests)

    again = fyno_pandas.push(frame, "uid", **options, in_doubt="assume_stored")

    assert again["status"].tolist() == ["sent", "unchanged"]
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x", "y"]}
    assert [r["operation"] for r in emulator.requests[sent:]] == ["list-append"] * 2


def test_a_row_held_by_a_resume_carries_what_landed_to_its_retry(
    emulator: FynoEmulator, to: dict[str, Any], tmp_path: Path
) -> None:
    options = {**to, **STEPS}
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": [["x", "y"]]})
    emulator.configure(drop_after_requests=[2])  # the append of x lands; its answer is lost
    fyno_pandas.push(frame, "uid", **options)
    emulator.configure(drop_after_requests=[])
    held = fyno_pandas.push(frame, "uid", **options)  # resumes: the row stays in doubt
    assert held["status"].tolist() == ["in_doubt"]
    assert json.loads(held.loc[0, "applied"]) == {"logins": [1, 0], "badges": [0, 1]}

    again = fyno_pandas.retry_failed(
        frame, csv_back(held, tmp_path), "uid", **options, in_doubt="assume_stored"
    )

    assert again["status"].tolist() == ["sent"]
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x", "y"]}
