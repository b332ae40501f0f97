"""The ledger in a push: only changed values sent, types checked, resume after a kill, retries.

Every test pushes over loopback to the emulator and keeps its ledger in its own file.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.ledger import Scope

QUIET = {"preview": False, "progress": False}
PUSH_SCRIPT = """
import sys
import pandas as pd
import fyno_pandas
frame = pd.read_pickle(sys.argv[1])
fyno_pandas.push(frame, "user_id", ledger=sys.argv[2], concurrency=int(sys.argv[3]),
                 batch_size=None, preview=False, progress=False)
"""  # one request per row: the tests count requests per user


def users(n: int, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in ids],
            "plan": np.where(ids % 3 == 0, "premium", "free"),
            "ltv": ids * 1.5,
            "active": ids % 2 == 0,
        }
    )


def target(fyno: FynoEmulator) -> dict[str, str]:
    return {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}


def sets(fyno: FynoEmulator) -> list[dict]:
    # a request cut short by a killed client has no body
    return [r for r in fyno.requests if r["operation"] == "set" and r["body"] is not None]


def users_of(requests: list[dict]) -> set[str]:
    """The users whose values these requests carried (``set`` or ``batch``)."""
    bodies = [r["body"] for r in requests if r["body"] is not None]
    return {item["distinct_id"] for b in bodies for item in b.get("batch", [b])}


def child_env(fyno: FynoEmulator) -> dict[str, str]:
    return {
        **os.environ,
        "FYNO_ENDPOINT": fyno.endpoint,
        "FYNO_WSID": fyno.wsid,
        "FYNO_API_KEY": fyno.api_key,
    }


def expected_profiles(frame: pd.DataFrame) -> dict[str, dict]:
    records = frame.set_index("user_id").to_dict("index")
    return {
        uid: {k: v.item() if hasattr(v, "item") else v for k, v in r.items()}
        for uid, r in records.items()
    }


def test_a_second_identical_push_sends_nothing_and_reports_every_row_unchanged(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame, ledger = users(50), tmp_path / "ledger.sqlite"
    first = fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)
    emulator.reset()

    second = fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)

    assert emulator.requests == []
    assert (second["status"] == "unchanged").all()
    assert second["request_id"].tolist() == first["request_id"].tolist()
    assert second.attrs["fyno"]["unchanged"] == 50


def test_changing_one_cell_sends_one_request_with_only_that_property(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame, ledger = users(50), tmp_path / "ledger.sqlite"
    fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)
    emulator.reset()
    changed = frame.copy()
    changed.loc[7, "ltv"] = 999.0

    result = fyno_pandas.push(changed, "user_id", ledger=ledger, **target(emulator), **QUIET)

    bodies = [r["body"] for r in emulator.requests]
    assert bodies == [{"distinct_id": "u7", "$set": {"ltv": 999.0}}]
    assert result["status"].value_counts().to_dict() == {"unchanged": 49, "sent": 1}


def test_the_plan_preview_counts_what_fyno_already_holds(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame, ledger = users(10), tmp_path / "ledger.sqlite"
    fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)
    changed = frame.assign(plan="gold")

    plan = fyno_pandas.plan(changed, "user_id", ledger=ledger, **target(emulator))

    summary = plan.summary()
    assert (summary["rows_unchanged"], summary["values_unchanged"]) == (0, 20)
    assert summary["values"] == 10
    assert "0 rows, 20 values acknowledged earlier to this ledger" in repr(plan)


def test_after_a_push_outside_this_ledger_the_words_claim_only_what_it_was_told(
    emulator: FynoEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, ledger = users(2), tmp_path / "ledger.sqlite"
    fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)
    elsewhere = frame.assign(plan="enterprise").iloc[:1]  # another machine, another ledger
    fyno_pandas.push(
        elsewhere, "user_id", ledger=tmp_path / "theirs.sqlite", **target(emulator), **QUIET
    )
    assert emulator.profiles["u0"]["plan"] == "enterprise"

    plan = fyno_pandas.plan(frame, "user_id", ledger=ledger, **target(emulator))
    again = fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), preview=False)

    shown = repr(plan) + plan._repr_html_()
    assert "already" not in shown.lower()
    assert re.search(
        r"2 rows, 6 values acknowledged earlier to this ledger \(at \d{4}-\d\d-\d\d "
        r"\d\d:\d\d:\d\d UTC\); only_changed=False resends them",
        repr(plan),
    )
    assert "acknowledged earlier to this ledger" in plan._repr_html_()
    assert again["status"].tolist() == ["unchanged", "unchanged"]
    assert capsys.readouterr().err.splitlines()[-1] == (
        "✓ Fyno push: 2 unchanged (acknowledged earlier to this ledger; "
        "only_changed=False resends them)"
    )
    fyno_pandas.push(
        frame, "user_id", ledger=ledger, only_changed=False, **target(emulator), **QUIET
    )
    assert emulator.profiles["u0"]["plan"] == "premium"


def test_only_changed_false_and_no_ledger_resend_everything(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame, ledger = users(20), tmp_path / "ledger.sqlite"
    fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)
    emulator.reset()

    again = fyno_pandas.push(
        frame, "user_id", ledger=ledger, only_changed=False, **target(emulator), **QUIET
    )
    unrecorded = fyno_pandas.push(frame, "user_id", ledger=False, **target(emulator), **QUIET)

    assert (again["status"] == "sent").all()
    assert (unrecorded["status"] == "sent").all()
    full_rows = Counter(
        r["body"]["distinct_id"] for r in sets(emulator) if len(r["body"]["$set"]) == 3
    )
    assert sorted(full_rows) == sorted(frame["user_id"])
    assert min(full_rows.values()) == 2  # the row that fixed the types first is sent 3 times


def test_a_property_the_ledger_saw_fixed_as_number_flags_text_before_sending(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    fyno_pandas.push(users(5), "user_id", ledger=ledger, **target(emulator), **QUIET)
    emulator.reset()
    texts = pd.DataFrame({"user_id": ["u100", "u101"], "ltv": ["high", "low"]})

    plan = fyno_pandas.plan(texts, "user_id", ledger=ledger, **target(emulator))
    result = fyno_pandas.push(texts, "user_id", ledger=ledger, **target(emulator), **QUIET)

    scope = Scope(emulator.endpoint, emulator.wsid, "live")
    assert fyno_pandas.Ledger(ledger).property_types(scope)["ltv"] == "number"
    issues = plan.issues
    assert set(issues.loc[issues["column"] == "ltv", "rule"]) == {"type_mismatch"}
    assert emulator.requests == []
    assert result["status"].tolist() == ["skipped", "skipped"]
    assert result["dropped"].tolist() == [["ltv"], ["ltv"]]


def test_a_schema_wins_over_the_ledger(emulator: FynoEmulator, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    fyno_pandas.push(users(5), "user_id", ledger=ledger, **target(emulator), **QUIET)
    texts = pd.DataFrame({"user_id": ["u100"], "ltv": ["high"]})

    plan = fyno_pandas.plan(
        texts, "user_id", ledger=ledger, schema={"ltv": "string"}, **target(emulator)
    )

    assert plan.fyno_types["ltv"] == "string"
    assert plan.issues.empty


def test_planning_never_creates_the_ledger(emulator: FynoEmulator, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"

    fyno_pandas.plan(users(3), "user_id", ledger=ledger, **target(emulator))

    assert not ledger.exists()


def test_the_api_key_never_reaches_the_ledger_file(emulator: FynoEmulator, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    fyno_pandas.push(users(5), "user_id", ledger=ledger, **target(emulator), **QUIET)

    for path in tmp_path.iterdir():
        assert emulator.api_key.encode() not in path.read_bytes(), path.name


def test_retry_failed_resends_only_the_failed_rows(emulator: FynoEmulator, tmp_path: Path) -> None:
    frame, ledger = users(40), tmp_path / "ledger.sqlite"
    emulator.configure(error_rate=0.5, error_statuses=(503,))
    first = fyno_pandas.push(
        frame, "user_id", ledger=ledger, max_retries=0, **target(emulator), **QUIET
    )
    failed = first.index[first["status"] == "failed"]
    assert len(failed) > 0
    emulator.configure(error_rate=0.0)
    emulator.reset()

    merged = fyno_pandas.retry_failed(
        frame, first, "user_id", ledger=ledger, **target(emulator), progress=False
    )

    assert sorted(r["body"]["distinct_id"] for r in sets(emulator)) == sorted(
        frame.loc[failed, "user_id"]
    )
    assert (merged["status"] == "sent").all()
    assert merged.loc[~merged.index.isin(failed), "request_id"].equals(
        first.loc[~first.index.isin(failed), "request_id"]
    )
    assert merged.attrs["fyno"]["retried"] == len(failed)
    assert merged.attrs["fyno"]["sent"] == 40


def test_retry_failed_refuses_a_result_of_another_frame(tmp_path: Path) -> None:
    frame = users(3)
    result = pd.DataFrame({"status": ["failed"]})

    with pytest.raises(fyno_pandas.FynoInputError, match="distinct_id"):
        frame.fyno.retry_failed(result, "user_id")
    other = pd.DataFrame({"distinct_id": ["someone"], "status": ["failed"]})
    with pytest.raises(fyno_pandas.FynoInputError, match="'someone'"):
        frame.fyno.retry_failed(other, "user_id", ops={})


def test_a_push_killed_mid_way_resumes_without_resending_what_was_stored(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame, ledger, concurrency = users(3000), tmp_path / "ledger.sqlite", 4
    frame.to_pickle(tmp_path / "frame.pkl")
    emulator.configure(latency=0.002)
    args = [sys.executable, "-c", PUSH_SCRIPT, str(tmp_path / "frame.pkl"), str(ledger)]
    child = subprocess.Popen([*args, str(concurrency)], env=child_env(emulator))
    deadline = time.monotonic() + 60
    while len(emulator.requests) < 500 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = len(emulator.requests)
    assert 500 <= len(sets(emulator)) < 3000, "the push should have been killed mid-way"
    emulator.configure(latency=0.0)

    # resumed with the defaults: in batches
    result = fyno_pandas.push(frame, "user_id", ledger=ledger, **target(emulator), **QUIET)

    assert emulator.profiles == expected_profiles(frame)
    killed_run, resumed_run = emulator.requests[:before], emulator.requests[before:]
    sent_twice = users_of(killed_run) & users_of(resumed_run)
    assert len(sent_twice) <= concurrency
    assert set(result["status"]) == {"sent", "unchanged"}
    assert (result["status"] == "sent").sum() == len(users_of(resumed_run))


def test_two_processes_pushing_at_once_leave_a_readable_ledger(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    frames = [users(1500), users(1500, start=1500)]
    children = []
    for k, frame in enumerate(frames):
        frame.to_pickle(tmp_path / f"frame{k}.pkl")
        args = [sys.executable, "-c", PUSH_SCRIPT, str(tmp_path / f"frame{k}.pkl"), str(ledger)]
        children.append(subprocess.Popen([*args, "8"], env=child_env(emulator)))
    assert [child.wait(timeout=120) for child in children] == [0, 0]

    with sqlite3.connect(ledger) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    book = fyno_pandas.Ledger(ledger)
    pushes = book.pushes()
    assert len(pushes) == 2
    assert pushes["ended_at"].notna().all()
    assert [counts["sent"] for counts in pushes["counts"]] == [1500, 1500]
    assert pushes["acks"].tolist() == [1500, 1500]
    both = pd.concat(frames)
    acked = book.acknowledged_hashes(Scope(emulator.endpoint, emulator.wsid, "live"))
    assert acked["distinct_id"].nunique() == 3000
    book.close()
    assert emulator.profiles == expected_profiles(both)
