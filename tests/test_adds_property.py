"""An add or an append never counts twice: examples the property test found.

Against the emulator, ``concurrency=1`` and types named: request k is the k-th request sent.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FAULT_DEFAULTS, FynoEmulator
from fyno_pandas.errors import FynoInputError, PushInterrupted
from fyno_pandas.replay import conform

OPS = {"logins": "add", "badges": "append"}
QUIET = {"preview": False, "progress": False, "concurrency": 1}


class CtrlC:
    """An ``on_ack`` hook pressing Ctrl-C after the ``after``-th acknowledged request, then
    holding the worker until the main thread took the KeyboardInterrupt (so the push stops
    right there, whatever the machine's load)."""

    def __init__(self, after: int | None) -> None:
        self.after, self.acks = after, 0
        self.delivered = threading.Event()

    def __call__(self, positions: Any, request_id: str | None) -> None:
        self.acks += 1
        if self.acks == self.after:
            signal.raise_signal(signal.SIGINT)
            assert self.delivered.wait(10), "the main thread never took the Ctrl-C"

    @contextmanager
    def armed(self) -> Iterator[None]:
        def handler(signum: int, frame: Any) -> None:
            self.delivered.set()
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def csv_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.csv"
    result.to_csv(path, index=False)
    return pd.read_csv(path, dtype={"distinct_id": str}, keep_default_na=False, na_values=[""])


def parquet_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.parquet"
    result.to_parquet(path)
    return pd.read_parquet(path)


def test_a_retry_from_a_file_records_its_acks_where_a_rerun_finds_them(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: the ledger records a retry read back from a file under the
    ops its record holds ({"badges": ..., "logins": ...}, sorted as JSON); a row's request
    key followed that order, so the retry's acks matched none of the push's rows, and running
    the push again resumed it and sent the retried row's add a second time."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x"], ["y"]]})
    options = {
        **destination,
        **QUIET,
        "ledger": tmp_path / "ledger.sqlite",
        "ops": OPS,
        "schema": {"logins": "number", "badges": "list"},
        "batch_size": None,
    }
    emulator.configure(error_requests=[3], error_statuses=[400])  # b's add: refused, not stored
    first = fyno_pandas.push(frame, "uid", **options)
    assert first["status"].tolist() == ["sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)
    retried = fyno_pandas.retry_failed(
        frame, csv_back(first, tmp_path), "uid", **{k: v for k, v in options.items() if k != "ops"}
    )
    assert retried["status"].tolist() == ["sent", "sent"]

    again = fyno_pandas.push(frame, "uid", **options)  # a finished push: adds everything again

    assert again.attrs["fyno"]["resumed"] is None
    assert again["status"].tolist() == ["sent", "sent"]
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 10, "b": 14}


def test_a_rerun_spelling_ops_in_another_order_resumes_the_push(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """The same adds are the same push however ``ops`` is ordered (``--op`` flags too)."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x"], ["y"]]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite", "batch_size": None}
    options["schema"] = {"logins": "number", "badges": "list"}
    emulator.configure(error_requests=[3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add", "badges": "append"})
    assert first["status"].tolist() == ["sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.push(frame, "uid", **options, ops={"badges": "append", "logins": "add"})

    assert again.attrs["fyno"]["resumed"] == first.attrs["fyno"]["push_id"]
    assert again["status"].tolist() == ["unchanged", "sent"]
    assert emulator.profiles == {
        "a": {"logins": 5, "badges": ["x"]},
        "b": {"logins": 7, "badges": ["y"]},
    }


def test_a_retry_of_a_csv_result_can_be_written_to_parquet(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a CSV holds the list columns as text, and the retried rows
    came back as lists in the same column, which Parquet refused (ArrowTypeError)."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7]})
    options = {**destination, **QUIET, "ledger": False, "schema": {"logins": "number"}}
    emulator.configure(error_requests=[2], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.retry_failed(
        frame, csv_back(first, tmp_path), "uid", **options, ops={"logins": "add"}
    )

    assert again["request_ids"].map(len).tolist() == [1, 1]
    assert again["dropped"].tolist() == [[], []]
    assert parquet_back(again, tmp_path)["status"].tolist() == ["sent", "sent"]


def test_a_list_column_that_is_not_a_list_is_refused_by_name() -> None:
    result = pd.DataFrame({"distinct_id": ["a"], "status": ["failed"], "request_ids": ["r-1"]})
    with pytest.raises(FynoInputError, match="'request_ids' holds 'r-1', not a list") as info:
        conform(result)
    assert info.value.column == "request_ids"


def test_assume_stored_on_a_row_a_resume_held_sends_the_rest_of_the_row(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a resume holds a row in doubt without saying its progress
    (its ``applied`` is empty; the ledger has it). ``assume_stored`` then took the whole row as
    stored: its append was never sent, yet the row showed ``sent``."""
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": [["x", "y"]]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite", "ops": OPS}
    options.update(schema={"logins": "number", "badges": "list"}, batch_size=None)
    emulator.configure(error_after_requests=[1])  # the add is applied and answered 502
    assert fyno_pandas.push(frame, "uid", **options)["status"].tolist() == ["in_doubt"]
    emulator.configure(**FAULT_DEFAULTS)
    held = fyno_pandas.push(frame, "uid", **options)
    assert held["status"].tolist() == ["in_doubt"]

    again = fyno_pandas.retry_failed(frame, held, "uid", **options, in_doubt="assume_stored")

    assert again["status"].tolist() == ["sent"]
    assert emulator.profiles == {"a": {"logins": 5, "badges": ["x", "y"]}}


def test_ctrl_c_in_a_retry_carries_the_whole_result(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    """Found by the property test: the Ctrl-C of a retry carried only the rows it resent
    (and on the frame's index), so the user lost the other rows' outcome."""
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "logins": [1, 2, 3]})
    options = {**destination, **QUIET, "ledger": False, "ops": {"logins": "add"}}
    options.update(schema={"logins": "number"}, batch_size=None)
    emulator.configure(error_requests=[2, 3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options)
    emulator.configure(**FAULT_DEFAULTS)
    stop = CtrlC(after=1)

    with stop.armed(), pytest.raises(PushInterrupted) as info:
        fyno_pandas.retry_failed(frame, first, "uid", **options, on_ack=stop)

    result = info.value.result
    assert result.index.tolist() == first.index.tolist()
    assert result["status"].tolist() == ["sent", "sent", "pending"]
    assert result.attrs["fyno"]["pending"] == 1
    assert "1 rows pending" in str(info.value)


def test_a_retry_of_a_retried_file_result_finds_the_push_in_the_ledger(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a retry of a result read from a file returns a summary
    without the push's ops; retrying that result again read the partial summary instead of the
    ledger's record, asked for ops= and, given them, recorded its acks under another
    fingerprint, so running the push again resumed it and added the row a second time."""
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "logins": [1, 2, 3]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite"}
    options.update(schema={"logins": "number"}, batch_size=None)
    emulator.configure(error_requests=[2, 3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})
    emulator.configure(error_requests=[2])  # the retry's c: refused again
    retried = fyno_pandas.retry_failed(frame, csv_back(first, tmp_path), "uid", **options)
    assert retried["status"].tolist() == ["sent", "sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.retry_failed(frame, retried, "uid", **options)
    assert again["status"].tolist() == ["sent"] * 3
    rerun = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})

    assert rerun.attrs["fyno"]["resumed"] is None  # finished: a new push adds everything again
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 2, "b": 4, "c": 6}
