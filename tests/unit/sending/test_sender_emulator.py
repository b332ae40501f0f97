"""Sending a plan against the emulator: alignment, every status, type seeds, batch, stops."""

from __future__ import annotations

import logging
import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoAuthError, PushInterrupted
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.pipeline.workflow import plan, push, push_plan

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, retry_after_cap=0.05, seed=0)
COLUMNS = [
    "status",
    "error",
    "dropped",
    "distinct_id",
    "request_id",
    "http_status",
    "attempts",
    "request_ids",
    "mirror_clear",
    "push_id",
    "applied",
]


def users(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "plan": rng.choice(["free", "pro"], n),
            "ltv": rng.integers(0, 1000, n).astype(float),
        }
    )


def dest(fyno: FynoEmulator) -> dict:
    return {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}


def send(df: pd.DataFrame, fyno: FynoEmulator, **kw) -> pd.DataFrame:
    kw.setdefault("preview", False)
    kw.setdefault("progress", False)
    kw.setdefault("retry_policy", FAST)
    return push(df, "user_id", **dest(fyno), **kw)


def poison(the_plan, prop: str, pos: int) -> None:
    """Make one cell a value Fyno refuses (an object), as no plan would."""
    the_plan.fragments[prop] = the_plan.fragments[prop].copy()
    the_plan.fragments[prop][pos] = '{"nested":1}'


def test_result_is_aligned_to_a_shuffled_duplicated_label_index(emulator: FynoEmulator) -> None:
    df = users(30)
    df.index = pd.Index([f"row{i % 7}" for i in range(30)])  # duplicates, not integers
    df = df.sample(frac=1.0, random_state=3)
    df.iloc[4, df.columns.get_loc("user_id")] = None  # one row without an id
    result = send(df, emulator)
    assert list(result.columns) == COLUMNS
    assert result.index.equals(df.index)
    expected_ids = df["user_id"].astype("string[pyarrow]")
    assert result["distinct_id"].tolist() == expected_ids.tolist()
    sent = result[result["status"] == "sent"]
    assert len(sent) == 29
    assert result["status"].iloc[4] == "skipped"
    assert result["error"].iloc[4]
    for distinct_id, ltv in zip(df["user_id"], df["ltv"], strict=True):
        if not pd.isna(distinct_id):
            assert emulator.profiles[distinct_id]["ltv"] == ltv
    by_id = {r["request_id"]: r for r in emulator.requests}
    for distinct_id, request_id in zip(sent["distinct_id"], sent["request_id"], strict=True):
        assert by_id[request_id]["body"]["distinct_id"] == distinct_id
    assert (sent["http_status"] == 202).all()
    assert (sent["attempts"] == 1).all()


def test_each_status(emulator: FynoEmulator) -> None:
    df = users(6)
    df.loc[1, "user_id"] = None
    the_plan = plan(df, "user_id", **dest(emulator))
    poison(the_plan, "plan", 2)
    unchanged = the_plan.restrict({"ltv": np.arange(6) != 3, "plan": np.arange(6) != 3})
    result = push_plan(unchanged, progress=False, retry_policy=FAST)
    assert result["status"].tolist() == ["sent", "skipped", "failed", "unchanged", "sent", "sent"]
    assert result["http_status"].iloc[2] == 400
    assert "not allowed" in result["error"].iloc[2]
    dry = push_plan(the_plan, dry_run=True)
    assert dry["status"].tolist() == ["dry_run", "skipped"] + ["dry_run"] * 4
    summary = result.attrs["fyno"]
    assert (summary["sent"], summary["failed"], summary["skipped"], summary["unchanged"]) == (
        3,
        1,
        1,
        1,
    )
    assert summary["requests"] == len(emulator.requests)


def test_new_property_types_are_fixed_first(emulator: FynoEmulator) -> None:
    # a date-like code in the first row would make "code" a Date if it landed first
    codes = ["2024-01-02"] + [f"C{i}" for i in range(1, 200)]
    df = pd.DataFrame({"user_id": [f"u{i}" for i in range(200)], "code": codes})
    emulator.configure(jitter=0.002)
    result = send(df, emulator, concurrency=16)
    assert (result["status"] == "sent").all()
    assert emulator.property_types == {"code": "string"}
    first = emulator.requests[0]
    assert first["body"]["$set"] == {"code": "C1"}
    assert emulator.profiles["u0"] == {"code": "2024-01-02"}  # stored as a string later


def test_known_types_are_not_seeded(emulator: FynoEmulator) -> None:
    df = users(10)
    result = send(df, emulator, schema={"plan": "string", "ltv": "number"})
    assert len(emulator.requests) == 10
    assert (result["status"] == "sent").all()


def test_unset_per_row_and_in_batch(emulator: FynoEmulator) -> None:
    df = pd.DataFrame({"user_id": ["a", "b", "c"], "plan": ["pro", None, "free"]})
    before = pd.DataFrame({"user_id": ["a", "b", "c"], "plan": ["x", "y", "z"]})
    send(before, emulator)
    result = send(df, emulator, nulls="unset", schema={"plan": "string"})
    assert emulator.profiles == {"a": {"plan": "pro"}, "b": {}, "c": {"plan": "free"}}
    unsets = [r["body"] for r in emulator.requests if r["operation"] == "unset"]
    assert unsets == [{"distinct_id": "b", "$unset": ["plan"]}]
    assert result["status"].tolist() == ["sent"] * 3
    send(before, emulator)
    batch = send(df, emulator, nulls="unset", batch_size=2, schema={"plan": "string"})
    assert emulator.profiles == {"a": {"plan": "pro"}, "b": {}, "c": {"plan": "free"}}
    pairs = [r["body"]["batch"] for r in emulator.requests if r["operation"] == "batch"]
    assert [b for b in pairs if len(b) == 2][-1][1] == {
        "distinct_id": "b",
        "action": {"$unset": ["plan"]},
    }
    assert batch["status"].tolist() == ["sent"] * 3
    assert batch["request_id"].nunique() == 2


def test_batch_rows_take_their_item_status(emulator: FynoEmulator) -> None:
    df = users(25)
    the_plan = plan(df, "user_id", schema={"plan": "string", "ltv": "number"}, **dest(emulator))
    poison(the_plan, "plan", 7)
    acks: list[tuple[list[int], str]] = []
    result = push_plan(
        the_plan,
        batch_size=10,
        progress=False,
        retry_policy=FAST,
        on_ack=lambda positions, rid: acks.append((list(positions), rid)),
    )
    assert len(emulator.requests) == 3
    assert result["status"].tolist() == ["sent"] * 7 + ["failed"] + ["sent"] * 17
    assert result["http_status"].tolist() == [202] * 25
    assert "not allowed" in result["error"].iloc[7]
    assert result["request_id"].iloc[:10].nunique() == 1
    assert "u7" not in emulator.profiles
    assert sorted(p for positions, _ in acks for p in positions) == [p for p in range(25) if p != 7]
    assert {rid for _, rid in acks} == set(result["request_id"])


def test_failed_batch_request_fails_its_rows(emulator: FynoEmulator) -> None:
    emulator.configure(error_rate=1.0)
    result = send(
        users(12), emulator, batch_size=5, max_retries=1, schema={"plan": "string", "ltv": "number"}
    )
    assert (result["status"] == "failed").all()
    assert (result["attempts"] == 2).all()
    assert len(emulator.requests) == 6


def test_on_ack_runs_before_the_worker_takes_its_next_row(emulator: FynoEmulator) -> None:
    order: list[tuple[str, int]] = []
    df = users(20)
    the_plan = plan(df, "user_id", schema={"plan": "string", "ltv": "number"}, **dest(emulator))
    seen = threading.local()

    def on_ack(positions, request_id) -> None:
        # the next request this thread makes must come after this ack
        seen.count = getattr(seen, "count", 0) + 1
        order.append((threading.current_thread().name, len(emulator.requests)))

    push_plan(the_plan, concurrency=1, progress=False, on_ack=on_ack)
    assert [n for _, n in order] == list(range(1, 21))


def test_401_stops_the_push(emulator: FynoEmulator, caplog: pytest.LogCaptureFixture) -> None:
    emulator.configure(latency=0.01)
    key = "not-the-key-3f9a"
    df = users(200)
    with pytest.raises(FynoAuthError) as info:
        push(
            df,
            "user_id",
            wsid=emulator.wsid,
            api_key=key,
            endpoint=emulator.endpoint,
            version="live",
            concurrency=4,
            batch_size=None,
            preview=False,
            progress=False,
            schema={"plan": "string", "ltv": "number"},
        )
    result = info.value.result
    counts = result["status"].value_counts()
    assert counts["failed"] <= 4
    assert counts["pending"] >= 196
    assert len(emulator.requests) <= 4
    assert emulator.wsid in str(info.value)
    assert "live" in str(info.value)
    assert emulator.endpoint in str(info.value)
    assert key not in str(info.value)
    assert key not in caplog.text


def test_a_key_refused_half_way_through_a_row_leaves_its_add_in_doubt_and_says_so(
    emulator: FynoEmulator,
) -> None:
    """The row's add was applied before its remove was refused: its error keeps saying that
    a resend repeats the add; the row never sent says the key was refused."""
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2], "tags": [["x"], ["y"]]})
    emulator.configure(error_requests=(2,), error_statuses=(401,))
    with pytest.raises(FynoAuthError) as caught:
        push(
            df,
            "uid",
            wsid=emulator.wsid,
            api_key=emulator.api_key,
            endpoint=emulator.endpoint,
            schema={"n": "number", "tags": "list"},
            ops={"n": "add", "tags": "remove"},
            concurrency=1,
            batch_size=None,
            ledger=False,
            preview=False,
            progress=False,
        )
    rows = caught.value.result
    assert rows["status"].tolist() == ["in_doubt", "pending"]
    assert "resending the row repeats them" in rows["error"].iloc[0]
    assert rows["error"].iloc[1].startswith("not sent: Fyno refused the API key")


def test_ctrl_c_returns_the_partial_result(emulator: FynoEmulator) -> None:
    emulator.configure(latency=0.02)
    df = users(2000)
    timer = threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = send(
            df,
            emulator,
            concurrency=4,
            batch_size=None,
            schema={"plan": "string", "ltv": "number"},
            raise_on_interrupt=False,
        )
    finally:
        timer.cancel()
    counts = result["status"].value_counts()
    assert result.attrs["fyno"]["interrupted"] is True
    assert 0 < counts.get("sent", 0) < 2000
    assert counts["pending"] == 2000 - counts["sent"]
    # in-flight requests finished and were recorded: Fyno holds exactly the rows marked sent
    assert set(emulator.profiles) == set(result.loc[result["status"] == "sent", "distinct_id"])


def test_ctrl_c_raises_by_default(emulator: FynoEmulator) -> None:
    emulator.configure(latency=0.02)
    timer = threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    try:
        with pytest.raises(PushInterrupted) as info:
            send(users(2000), emulator, concurrency=4, batch_size=None)
    finally:
        timer.cancel()
    assert (info.value.result["status"] == "pending").any()


def test_no_thread_outlives_the_call(emulator: FynoEmulator) -> None:
    emulator.configure(error_rate=0.2, drop_before_rate=0.1)
    before = set(threading.enumerate())
    result = send(users(100), emulator, concurrency=8, progress=True, max_retries=20)
    assert (result["status"] == "sent").all()
    # the emulator's own connection threads (in this process) are not ours to count
    left = [t for t in set(threading.enumerate()) - before if "process_request" not in t.name]
    assert left == []


def test_the_key_is_never_shown(
    emulator: FynoEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    workspaces = {"WSKEY": "sekrit-key-0123456789"}
    with FynoEmulator(workspaces=workspaces, seed=0) as fyno:
        fyno.configure(error_rate=0.3, drop_before_rate=0.1)
        the_plan = plan(
            users(50),
            "user_id",
            wsid="WSKEY",
            api_key="sekrit-key-0123456789",
            endpoint=fyno.endpoint,
        )
        result = push_plan(the_plan, progress=True, retry_policy=FAST, max_retries=1)
        shown = [repr(the_plan), repr(the_plan.config), result.to_string(), repr(result.attrs)]
        with pytest.raises(FynoAuthError) as info:
            push(
                users(5),
                "user_id",
                wsid="WSKEY",
                api_key="sekrit-key-wrong",
                endpoint=fyno.endpoint,
                preview=True,
                progress=False,
                retry_policy=FAST,
            )
        shown += [str(info.value), repr(info.value), info.value.result.to_string()]
    out = capsys.readouterr()
    shown += [caplog.text, out.out, out.err]
    assert "fyno_pandas" in {r.name for r in caplog.records}
    for text in shown:
        assert "sekrit" not in text
