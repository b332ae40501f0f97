"""An add never counts twice by accident: in flight in the ledger, resume, in_doubt=.

Against the emulator; each test keeps its ledger in its own file. With ``concurrency=1`` and
``schema=`` naming the type (no seed request), request k is row k, so numbered faults hit the
same rows every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.cli import command as cli
from fyno_pandas.client import transport as transport
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.options.retry import RetryPolicy

QUIET = {"preview": False, "progress": False}
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.02, seed=0)
ADD = {"ops": {"logins": "add"}, "schema": {"logins": "number"}, "retry_policy": FAST}
SIX = pd.DataFrame({"uid": list("abcdef"), "logins": [1, 2, 4, 8, 16, 32]})
KILL_SCRIPT = """
import sys
import pandas as pd
import fyno_pandas
frame = pd.read_pickle(sys.argv[1])
fyno_pandas.push(frame, "uid", ledger=sys.argv[2], ops={"logins": "add"},
                 schema={"logins": "number"}, concurrency=1, preview=False, progress=False)
"""


@pytest.fixture
def to(emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """Where every push of a test goes: the emulator, one ledger file, quietly, adding."""
    return {**destination, "ledger": tmp_path / "ledger.sqlite", **ADD, **QUIET}


def totals(emulator: FynoEmulator) -> dict[str, float]:
    return {u: p["logins"] for u, p in emulator.profiles.items() if "logins" in p}


def adds_for(emulator: FynoEmulator, uid: str) -> int:
    return sum(
        1
        for r in emulator.requests
        if r["operation"] == "numerical-add" and (r["body"] or {}).get("distinct_id") == uid
    )


def test_dropped_answers_are_in_doubt_and_a_resume_resends_none_of_them(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(40)], "logins": np.arange(1, 41)})
    emulator.configure(drop_after_rate=0.4)
    first = fyno_pandas.push(frame, "uid", concurrency=4, **to)
    stored = totals(emulator)
    assert sum(stored.values()) <= frame["logins"].sum()
    by_user = first.set_index("distinct_id")["status"]
    assert set(by_user) <= {"sent", "in_doubt"}
    assert (by_user == "in_doubt").any()
    for uid, amount in zip(frame["uid"], frame["logins"], strict=True):
        if stored.get(uid) != amount:  # its add may be missing: never reported sent
            assert by_user[uid] == "in_doubt"
    requests = len(emulator.requests)

    emulator.configure(drop_after_rate=0.0)
    again = fyno_pandas.push(frame, "uid", concurrency=4, **to)

    assert len(emulator.requests) == requests  # every row was acknowledged or is in doubt
    assert totals(emulator) == stored
    assert again["status"].tolist() == [
        "in_doubt" if s == "in_doubt" else "unchanged" for s in first["status"]
    ]
    sent = first["status"] == "sent"
    assert again.loc[sent, "request_id"].tolist() == first.loc[sent, "request_id"].tolist()
    doubt = int((~sent).sum())
    note = again.attrs["fyno"]["resume"]
    assert note == (
        f"resuming push {first.attrs['fyno']['push_id']}: {40 - doubt} acknowledged, "
        f"{doubt} in doubt (not resent), 0 to send"
    )


def test_a_resume_sends_only_rows_neither_acknowledged_nor_in_doubt(
    emulator: FynoEmulator, to: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # b's answer is lost, c is refused for sure (400: nothing applied), the rest accepted
    emulator.configure(drop_after_requests=[2], error_requests=[3], error_statuses=[400])
    first = fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    assert first["status"].tolist() == ["sent", "in_doubt", "failed", "sent", "sent", "sent"]
    emulator.configure(drop_after_requests=[], error_requests=[])

    again = fyno_pandas.push(SIX, "uid", concurrency=1, **{**to, "preview": True})

    push_id = first.attrs["fyno"]["push_id"]
    expected = f"resuming push {push_id}: 4 acknowledged, 1 in doubt (not resent), 1 to send"
    assert expected in capsys.readouterr().err
    assert again["status"].tolist() == ["unchanged", "in_doubt", "sent"] + ["unchanged"] * 3
    assert "not resent" in again.loc[1, "error"]
    assert totals(emulator) == dict(zip(SIX["uid"], SIX["logins"], strict=True))
    # c's refused request was logged without a body: each user's add was applied once
    assert [adds_for(emulator, u) for u in SIX["uid"]] == [1] * 6
    assert sum(r["operation"] == "numerical-add" for r in emulator.requests) == 7


def test_a_5xx_after_the_write_is_in_doubt(emulator: FynoEmulator, to: dict[str, Any]) -> None:
    emulator.configure(error_after_requests=[2], error_statuses=[503])
    result = fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    assert result["status"].tolist() == ["sent", "in_doubt"] + ["sent"] * 4
    assert result.loc[1, "http_status"] == 503
    assert result.loc[1, "attempts"] == 1  # never resent
    assert totals(emulator)["b"] == 2  # the emulator applied it


def test_a_kill_after_the_add_was_applied_and_before_its_ack_was_recorded(
    emulator: FynoEmulator, tmp_path: Path, to: dict[str, Any]
) -> None:
    SIX.to_pickle(tmp_path / "frame.pkl")
    emulator.configure(stall_after_requests=[3], stall_seconds=30)
    env = {
        **os.environ,
        "FYNO_ENDPOINT": emulator.endpoint,
        "FYNO_WSID": emulator.wsid,
        "FYNO_API_KEY": emulator.api_key,
    }
    args = [sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "frame.pkl"), str(to["ledger"])]
    child = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 30
    stalled = lambda: [r for r in emulator.requests if r["fault"] == "stall_after"]  # noqa: E731
    while not stalled() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert stalled(), "the third add should have been applied and its answer held"
    emulator.configure(stall_after_requests=[])

    result = fyno_pandas.push(SIX, "uid", concurrency=1, **to)

    assert result["status"].tolist() == ["unchanged", "unchanged", "in_doubt"] + ["sent"] * 3
    assert totals(emulator) == dict(zip(SIX["uid"], SIX["logins"], strict=True))
    assert [adds_for(emulator, u) for u in SIX["uid"]] == [1] * 6  # nothing counted twice


def test_a_finished_push_run_again_adds_again_and_the_preview_says_so(
    emulator: FynoEmulator, to: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    first = fyno_pandas.push(SIX, "uid", **to)
    assert (first["status"] == "sent").all()
    assert first.attrs["fyno"]["resume"] is None

    again = fyno_pandas.push(SIX, "uid", **{**to, "preview": True})

    assert (again["status"] == "sent").all()
    note = again.attrs["fyno"]["resume"]
    assert note.startswith("the same adds were acknowledged at ")
    assert note.endswith(": sending adds them again")
    assert note in capsys.readouterr().err
    assert totals(emulator) == {u: 2 * n for u, n in zip(SIX["uid"], SIX["logins"], strict=True)}
    # and a third run resumes nothing either: the second push finished too
    third = fyno_pandas.push(SIX, "uid", **to)
    assert (third["status"] == "sent").all()


def test_resume_false_makes_a_new_push(emulator: FynoEmulator, to: dict[str, Any]) -> None:
    emulator.configure(drop_after_requests=[2])
    first = fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    assert first["status"].tolist()[1] == "in_doubt"
    emulator.configure(drop_after_requests=[])

    again = fyno_pandas.push(SIX, "uid", resume=False, **to)

    assert (again["status"] == "sent").all()
    assert "resume=False sends them all again" in again.attrs["fyno"]["resume"]
    assert again.attrs["fyno"]["push_id"] != first.attrs["fyno"]["push_id"]
    assert totals(emulator)["a"] == 2  # added again, as asked


def test_retry_failed_resends_in_doubt_rows_only_when_told(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    emulator.configure(drop_after_requests=[2])
    first = fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    emulator.configure(drop_after_requests=[])
    kept = fyno_pandas.retry_failed(SIX, first, "uid", **to)
    assert kept["status"].tolist()[1] == "in_doubt"
    assert adds_for(emulator, "b") == 1

    resent = fyno_pandas.retry_failed(SIX, first, "uid", in_doubt="resend", **to)

    assert (resent["status"] == "sent").all()
    assert adds_for(emulator, "b") == 2
    assert totals(emulator)["b"] == 4  # the lost answer's add had landed: resent counts twice
    # every add of the frame is now acknowledged: running it again is a new push
    again = fyno_pandas.push(SIX, "uid", **to)
    assert again.attrs["fyno"]["resume"].startswith("the same adds were acknowledged at")


def test_retry_failed_can_assume_in_doubt_rows_stored(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    emulator.configure(drop_after_requests=[2])
    first = fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    emulator.configure(drop_after_requests=[])
    requests = len(emulator.requests)

    assumed = fyno_pandas.retry_failed(SIX, first, "uid", in_doubt="assume_stored", **to)

    assert len(emulator.requests) == requests  # nothing sent
    assert (assumed["status"] == "sent").all()
    assert pd.isna(assumed.loc[1, "request_id"])
    assert "assumed stored" in assumed.loc[1, "error"]
    assert assumed.attrs["fyno"]["sent"] == 6
    # recorded acknowledged: the frame's adds finished, so running it again adds again
    again = fyno_pandas.push(SIX, "uid", **to)
    assert again.attrs["fyno"]["resume"].startswith("the same adds were acknowledged at")
    assert (again["status"] == "sent").all()


def test_the_cli_resumes_and_resends_in_doubt_rows_on_request(
    emulator: FynoEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in (
        ("FYNO_ENDPOINT", emulator.endpoint),
        ("FYNO_WSID", emulator.wsid),
        ("FYNO_API_KEY", emulator.api_key),
    ):
        monkeypatch.setenv(name, value)
    path = tmp_path / "adds.csv"
    SIX.to_csv(path, index=False)
    argv = ["push", str(path), "--id-col", "uid", "--op", "logins=add", "--concurrency", "1"]
    argv += ["--ledger", str(tmp_path / "ledger.sqlite"), "--no-progress"]
    emulator.configure(drop_after_requests=[2])
    assert cli.main(argv) == cli.EXIT_ROWS_FAILED
    emulator.configure(drop_after_requests=[])
    capsys.readouterr()

    assert cli.main(argv) == cli.EXIT_ROWS_FAILED  # b stays in doubt, nothing sent
    assert "1 in doubt (not resent), 0 to send" in capsys.readouterr().out
    assert adds_for(emulator, "b") == 1

    assert cli.main([*argv, "--resend-in-doubt"]) == cli.EXIT_OK
    assert "1 in doubt (resent), 1 to send" in capsys.readouterr().out
    assert adds_for(emulator, "b") == 2
    assert sum(adds_for(emulator, u) for u in SIX["uid"]) == 7


@pytest.mark.parametrize("batch_size", [None, 2], ids=["per row", "batch"])
def test_appends_and_batches_resume_the_same_way(
    emulator: FynoEmulator, to: dict[str, Any], batch_size: int | None
) -> None:
    frame = pd.DataFrame(
        {"uid": ["a", "b", "c"], "badges": pd.Series([["x", "y"], ["z"], ["w"]], dtype=object)}
    )
    options = {**to, "ops": {"badges": "append"}, "schema": {"badges": "list"}}
    # per row: a's second element's answer is lost; batch: the first batch (a and b)
    emulator.configure(drop_after_requests=[2 if batch_size is None else 1])
    first = fyno_pandas.push(frame, "uid", concurrency=1, batch_size=batch_size, **options)
    doubt = ["in_doubt", "sent", "sent"] if batch_size is None else ["in_doubt"] * 2 + ["sent"]
    assert first["status"].tolist() == doubt
    emulator.configure(drop_after_requests=[])
    requests = len(emulator.requests)

    again = fyno_pandas.push(frame, "uid", concurrency=1, batch_size=batch_size, **options)

    assert len(emulator.requests) == requests
    assert again["status"].tolist() == [s if s == "in_doubt" else "unchanged" for s in doubt]
    assert {u: p["badges"] for u, p in emulator.profiles.items()} == {
        "a": ["x", "y"],
        "b": ["z"],
        "c": ["w"],
    }


def test_a_schema_1_ledger_is_migrated_and_keeps_its_pushes(tmp_path: Path) -> None:
    import sqlite3

    from fyno_pandas.ledger import SCHEMA_VERSION, Scope
    from fyno_pandas.ledger.database import APPLICATION_ID
    from fyno_pandas.ledger.schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO scopes VALUES (1, 'http://127.0.0.1:1/v1', 'W', 'live')")
        conn.execute("INSERT INTO pushes VALUES (1, 1, 0, 1, '{}', '{}')")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    with fyno_pandas.Ledger(path) as book:
        assert book.pushes().index.tolist() == [1]
        scope = Scope("http://127.0.0.1:1/v1", "W", "live")
        assert book.add_history(scope, "f") == ([], [])
        push_id = book.begin_push(scope, {}, "f")
        book.record_adds_raw(scope, push_id, [[("k", "in_flight", None, None)]])
        pushes, rows = book.add_history(scope, "f")
    assert [p[0] for p in pushes] == [push_id]
    assert [r[1:4] for r in rows] == [("k", "in_flight", None)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (4,)
    conn.close()


def test_a_dry_run_shows_what_a_resume_would_do(emulator: FynoEmulator, to: dict[str, Any]) -> None:
    emulator.configure(drop_after_requests=[2])
    fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    emulator.configure(drop_after_requests=[])
    requests = len(emulator.requests)

    dry = fyno_pandas.push(SIX, "uid", dry_run=True, **to)

    assert len(emulator.requests) == requests
    assert dry["status"].tolist() == ["unchanged", "in_doubt"] + ["unchanged"] * 4
    assert dry.attrs["fyno"]["resume"].endswith(
        "5 acknowledged, 1 in doubt (not resent), 0 to send"
    )


def test_push_plan_resumes_too_and_logs_the_note(
    emulator: FynoEmulator, to: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    emulator.configure(drop_after_requests=[2])
    fyno_pandas.push(SIX, "uid", concurrency=1, **to)
    emulator.configure(drop_after_requests=[])
    planned = {k: v for k, v in to.items() if k not in ("preview", "progress", "retry_policy")}
    the_plan = fyno_pandas.plan(SIX, "uid", **planned)

    result = fyno_pandas.push_plan(the_plan, progress=False)

    assert result["status"].tolist() == ["unchanged", "in_doubt"] + ["unchanged"] * 4
    assert "1 in doubt (not resent), 0 to send" in caplog.text


def test_a_resumed_row_still_sends_its_changed_set_values(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"uid": list("abc"), "logins": [1, 2, 3], "plan": ["free"] * 3})
    to = {**to, "schema": {"logins": "number", "plan": "string"}}
    emulator.configure(error_requests=[4], error_statuses=[400])  # b's add (set, add per row)
    first = fyno_pandas.push(frame, "uid", concurrency=1, **to)
    assert first["status"].tolist() == ["sent", "failed", "sent"]
    emulator.configure(error_requests=[])

    again = fyno_pandas.push(frame.assign(plan="pro"), "uid", concurrency=1, **to)

    assert again["status"].tolist() == ["sent"] * 3
    assert again.attrs["fyno"]["resume"].startswith("resuming push 1: 2 acknowledged")
    assert {u: p["plan"] for u, p in emulator.profiles.items()} == dict.fromkeys("abc", "pro")
    assert totals(emulator) == {"a": 1, "b": 2, "c": 3}  # the acknowledged adds not resent


def test_an_identical_push_while_one_runs_refuses_and_nothing_counts_twice(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(8)], "logins": [1] * 8})
    emulator.configure(latency=0.1)
    out: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: out.update(a=fyno_pandas.push(frame, "uid", concurrency=1, **to))
    )
    runner.start()
    deadline = time.monotonic() + 10
    while not emulator.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(fyno_pandas.FynoInputError, match="push 1 with the same adds is still"):
        fyno_pandas.push(frame, "uid", concurrency=1, **to)
    runner.join()

    assert (out["a"]["status"] == "sent").all()
    assert totals(emulator) == dict.fromkeys(frame["uid"], 1)
    again = fyno_pandas.push(frame, "uid", concurrency=1, **to)  # ended: a new push adds again
    assert (again["status"] == "sent").all()
    assert "sending adds them again" in again.attrs["fyno"]["resume"]


def test_a_seed_stopped_after_an_add_landed_keeps_it_in_flight(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": ["x", "y"]})
    options = {**to, "ops": {"logins": "add", "badges": "append"}, "schema": None}
    emulator.configure(stall_after_requests=[1], stall_seconds=1.5)  # the logins seed lands
    threading.Timer(0.5, lambda: signal.raise_signal(signal.SIGINT)).start()
    first = fyno_pandas.push(frame, "uid", concurrency=1, raise_on_interrupt=False, **options)
    assert first.attrs["fyno"]["interrupted"]
    assert first["status"].tolist() == ["in_doubt", "pending"]
    assert "may have been applied" in first.loc[0, "error"]
    emulator.configure(stall_after_requests=[])

    again = fyno_pandas.push(frame, "uid", concurrency=1, **options)

    assert again["status"].tolist() == ["in_doubt", "sent"]
    assert totals(emulator) == {"a": 5, "b": 7}  # a's add not sent again


@pytest.mark.parametrize("answer", ["no item statuses", "a later item refused"])
def test_a_202_batch_with_add_items_not_all_refused_leaves_them_in_doubt(
    emulator: FynoEmulator, to: dict[str, Any], monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x", "y"], ["z"]]})
    options = {**to, "ops": {"logins": "add", "badges": "append"}, "batch_size": 10}
    options["schema"] = {"logins": "number", "badges": "list"}
    real = transport.Urllib3Transport.post

    def post(self: Any, path: str, body: bytes) -> Any:
        status, data, retry_after = real(self, path, body)
        if len(emulator.requests) == 1:  # the first batch's answer, as a gateway mangles it
            items = [{"$add": "ok", "$append": "ok"}, {"$append": "bad"}, {"$add": "ok"}]
            fake = {"request_id": "r-1"} if answer == "no item statuses" else {"batch": items}
            data = json.dumps(fake).encode()
        return status, data, retry_after

    monkeypatch.setattr(transport.Urllib3Transport, "post", post)
    first = fyno_pandas.push(frame, "uid", concurrency=1, **options)
    expected = ["in_doubt", "in_doubt" if answer == "no item statuses" else "sent"]
    assert first["status"].tolist() == expected
    stored = totals(emulator)

    again = fyno_pandas.retry_failed(frame, first, "uid", concurrency=1, **options)

    assert again["status"].tolist() == expected
    assert totals(emulator) == stored == {"a": 5, "b": 7}


def test_retry_failed_without_a_ledger_keeps_a_row_whose_add_was_accepted(
    emulator: FynoEmulator, to: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": ["x"]})
    options = {**to, "ledger": False, "ops": {"logins": "add", "badges": "append"}}
    options["schema"] = {"logins": "number", "badges": "list"}
    emulator.configure(error_requests=[2], error_statuses=[400])  # the append: refused
    first = fyno_pandas.push(frame, "uid", concurrency=1, **options)
    assert first["status"].tolist() == ["in_doubt"]
    assert "resending the row repeats them" in first.loc[0, "error"]
    emulator.configure(error_requests=[])

    kept = fyno_pandas.retry_failed(frame, first, "uid", concurrency=1, **options)
    assert kept["status"].tolist() == ["in_doubt"]
    assert totals(emulator) == {"a": 5}
    resent = fyno_pandas.retry_failed(frame, first, "uid", in_doubt="resend", **options)
    assert resent["status"].tolist() == ["sent"]
    # the acknowledged add is not sent again; the refused append is
    assert emulator.profiles["a"] == {"logins": 5, "badges": ["x"]}
