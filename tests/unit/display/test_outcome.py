"""A push's result at a glance: the summary line, where it is shown, and the rows to look at."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.display.outcome import problems, report, shown_by_caller, summary_line
from fyno_pandas.files.resultfile import write_result
from fyno_pandas.results.columns import result_frame


def a_result(statuses: list[str], dropped: list[list[str]] | None = None) -> pd.DataFrame:
    n = len(statuses)
    result = result_frame(
        {
            "distinct_id": [f"u{i}" for i in range(n)],
            "status": statuses,
            "request_id": [None] * n,
            "http_status": [pd.NA] * n,
            "attempts": [0] * n,
            "error": [None] * n,
            "dropped": dropped or [[]] * n,
            "request_ids": [[]] * n,
        },
        pd.RangeIndex(n),
    )
    result.attrs["fyno"] = {"elapsed_s": 2.0, "rows_per_s": 2.0}
    return result


def test_the_line_counts_rows_by_status_values_left_out_and_time() -> None:
    result = a_result(["sent", "failed", "sent", "sent"], [["ltv"], [], ["ltv", "age"], []])
    assert summary_line(result) == (
        "⚠ Fyno push: 3 sent, 1 failed; 3 values left out (the dropped column); "
        "in 2.00 s (2.0 rows/s)"
    )


def test_the_line_is_a_tick_only_when_nothing_failed_or_was_left_out() -> None:
    assert summary_line(a_result(["sent", "skipped"])).startswith("✓ Fyno push: 1 sent, 1 skipped")
    assert summary_line(a_result(["sent"], [["ltv"]])).startswith("⚠")
    for status in ("failed", "in_doubt", "pending"):
        assert summary_line(a_result(["sent", status])).startswith("⚠"), status


def test_unchanged_rows_are_what_this_ledger_was_told_not_what_fyno_holds() -> None:
    line = summary_line(a_result(["unchanged", "unchanged"]), resend="--all")
    assert line == (
        "✓ Fyno push: 2 unchanged (acknowledged earlier to this ledger; --all resends them)"
    )
    assert "already" not in line.lower()


def test_a_dry_run_says_no_time() -> None:
    assert summary_line(a_result(["skipped", "dry_run"])) == "✓ Fyno push: 1 skipped, 1 dry run"


def test_report_prints_to_stderr_with_progress_and_always_logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    result = a_result(["sent"])
    with caplog.at_level(logging.INFO, logger="fyno_pandas"):
        report(result, progress=True)
        assert capsys.readouterr() == ("", summary_line(result) + "\n")
        report(result, progress=False)
        assert capsys.readouterr() == ("", "")
        with shown_by_caller():
            report(result, progress=True)
        assert capsys.readouterr() == ("", "")
    assert [r.getMessage() for r in caplog.records] == [summary_line(result)] * 3


def test_problems_are_the_rows_not_stored_or_with_values_left_out() -> None:
    statuses = ["sent", "failed", "in_doubt", "pending", "skipped", "unchanged", "sent"]
    result = a_result(statuses, [[], [], [], [], [], [], ["ltv"]])
    assert problems(result).index.tolist() == [1, 2, 3, 6]
    assert list(problems(result).columns) == list(result.columns)


def test_problems_reads_a_result_back_from_a_file(tmp_path: Path) -> None:
    write_result(a_result(["sent", "sent", "failed"], [["ltv"], [], []]), tmp_path / "r.csv")
    read_back = pd.read_csv(tmp_path / "r.csv", index_col=0)
    assert problems(read_back).index.tolist() == [0, 2]


def test_problems_is_exported() -> None:
    assert fyno_pandas.problems is problems
    assert "problems" in fyno_pandas.__all__
