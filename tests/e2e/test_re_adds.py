"""Adds made again are said: a push whose add requests mostly equal an earlier push's.

Resuming covers only an identical push; these are the others: `push_frames` run again, and
a push of the same adds plus a late row after an unfinished push. A daily push of new
increments (other values) is not a repeat and says nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

ADD = {"ops": {"logins": "add"}, "schema": {"logins": "number"}, "progress": False}
FRAME = pd.DataFrame({"uid": [f"u{i}" for i in range(6)], "logins": [1, 2, 3, 4, 5, 6]})


@pytest.fixture
def to(destination: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    return {**destination, "ledger": tmp_path / "ledger.sqlite", **ADD}


def test_push_frames_run_again_says_it_adds_again(
    to: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    first = fyno_pandas.push_frames([FRAME.iloc[:3], FRAME.iloc[3:]], "uid", **to)
    assert first.attrs["fyno"]["re_adds"] == []
    capsys.readouterr()
    caplog.set_level(logging.WARNING, "fyno_pandas")

    again = fyno_pandas.push_frames([FRAME.iloc[:3], FRAME.iloc[3:]], "uid", **to)

    push_id = first.attrs["fyno"]["push_id"]
    assert again.attrs["fyno"]["re_adds"] == [push_id]
    said = [r.getMessage() for r in caplog.records if "add exactly what" in r.getMessage()]
    assert len(said) == 1  # once, though both chunks repeat it
    assert said[0].startswith(f"3 of 3 rows add exactly what push {push_id} (started ")
    assert "sending adds them again, so each counts twice" in said[0]
    assert "a push in chunks is never resumed by a rerun" in said[0]
    assert f"add exactly what push {push_id}" in capsys.readouterr().err


def test_a_push_in_chunks_is_finished_by_retry_failed_which_adds_each_row_once(
    emulator: FynoEmulator, to: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    emulator.configure(error_requests=[2, 6], error_statuses=[400])
    first = fyno_pandas.push_frames(
        [FRAME.iloc[:3], FRAME.iloc[3:]], "uid", **to, concurrency=1, batch_size=None
    )
    assert first["status"].value_counts()["failed"] == 2
    emulator.configure(error_requests=[])

    for _ in range(2):  # the same result retried twice: the second finds nothing left
        fyno_pandas.retry_failed(FRAME, first, "uid", **to)

    # the failed adds were not stored: making them again is no repeat, and is not called one
    assert not [r for r in caplog.records if "add exactly what" in r.getMessage()]
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == dict(
        zip(FRAME["uid"], FRAME["logins"], strict=True)
    )


def test_the_same_adds_plus_a_late_row_after_an_unfinished_push_are_named(
    emulator: FynoEmulator, to: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(drop_after_requests=[3])  # u2's answer is lost: the push is unfinished
    first = fyno_pandas.push(FRAME, "uid", concurrency=1, preview=False, **to)
    assert "in_doubt" in first["status"].tolist()
    emulator.configure(drop_after_requests=[])
    late = pd.concat([FRAME, pd.DataFrame({"uid": ["u9"], "logins": [9]})], ignore_index=True)

    dry = fyno_pandas.push(late, "uid", dry_run=True, **to)

    note = dry.attrs["fyno"]["resume"]
    assert note.startswith(f"6 of 7 rows add exactly what push {first.attrs['fyno']['push_id']}")
    assert dry.attrs["fyno"]["re_adds"] == first.attrs["fyno"]["push_id"]
    assert "add exactly what push" in capsys.readouterr().err  # in the preview


def test_new_increments_the_next_day_say_nothing(
    to: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    fyno_pandas.push(FRAME, "uid", preview=False, **to)
    caplog.set_level(logging.WARNING, "fyno_pandas")

    tomorrow = FRAME.assign(logins=FRAME["logins"] + 10)
    result = fyno_pandas.push(tomorrow, "uid", preview=False, **to)

    assert result.attrs["fyno"]["re_adds"] is None
    assert result.attrs["fyno"]["resume"] is None
    assert not [r for r in caplog.records if "add exactly what" in r.getMessage()]
