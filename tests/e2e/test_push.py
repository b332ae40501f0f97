"""push()/plan()/push_plan(): option checks, configuration, dry run, preview, the caller's frame."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pyarrow as pa
import pytest

import fyno_pandas
from fyno_pandas import problems
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoConfigError, FynoInputError
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.pipeline.workflow import plan, push, push_plan

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, seed=0)
#: A line that blames a property for what a refused key did (the type seeds' failures).
BLAMES_A_PROPERTY = re.compile(r"rows? not sent|\bno type\b|property '")


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FYNO_WSID", "FYNO_API_KEY", "FYNO_VERSION", "FYNO_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)


def frame() -> pd.DataFrame:
    df = pd.DataFrame({"user_id": ["a", "b", "c"], "plan": ["pro", "free", None]})
    df.attrs["source"] = "crm"
    return df


def test_accessor_push_with_environment(emulator: FynoEmulator, monkeypatch) -> None:
    monkeypatch.setenv("FYNO_WSID", emulator.wsid)
    monkeypatch.setenv("FYNO_API_KEY", emulator.api_key)
    monkeypatch.setenv("FYNO_ENDPOINT", emulator.endpoint)
    df = frame()
    before = df.copy()
    result = df.fyno.push("user_id", preview=False, progress=False)
    assert result["status"].tolist() == ["sent", "sent", "skipped"]
    assert emulator.profiles == {"a": {"plan": "pro"}, "b": {"plan": "free"}}
    pd.testing.assert_frame_equal(df, before)
    assert df.attrs == {"source": "crm"}
    assert result.attrs["fyno"]["sent"] == sum(result["status"] == "sent")


def test_missing_credentials_raise_before_sending(emulator: FynoEmulator, no_env) -> None:
    with pytest.raises(FynoConfigError, match="api_key"):
        push(frame(), "user_id", wsid=emulator.wsid, endpoint=emulator.endpoint, preview=False)
    with pytest.raises(FynoConfigError, match="version"):
        push(frame(), "user_id", **creds(emulator), version="prod", preview=False)
    the_plan = plan(frame(), "user_id", endpoint=emulator.endpoint)  # plan needs no key
    with pytest.raises(FynoConfigError):
        push_plan(the_plan, progress=False)
    assert emulator.requests == []


def creds(fyno: FynoEmulator) -> dict:
    return {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}


def test_http_to_a_remote_host_is_refused(no_env) -> None:
    with pytest.raises(FynoConfigError, match="plain http"):
        push(frame(), "user_id", wsid="WS", api_key="k", endpoint="http://api.example.com/v1")
    with pytest.raises(FynoConfigError, match="plain http"):
        plan(frame(), "user_id", endpoint="http://10.1.2.3/v1")


@pytest.mark.parametrize(
    "options",
    [
        {"colour": "red"},
        {"concurrency": 0},
        {"concurrency": True},
        {"concurrency": 1000},
        {"batch_size": 0},
        {"batch_size": 5000},
        {"max_rps": -1},
        {"timeout": 0},
        {"max_retries": -1},
        {"progress": "yes"},
        {"dry_run": 1},
        {"retry_policy": {"max_retries": 1}},
        {"on_ack": "ledger"},
    ],
)
def test_bad_options_raise_input_error(emulator: FynoEmulator, options: dict) -> None:
    with pytest.raises(FynoInputError):
        push(frame(), "user_id", **creds(emulator), preview=False, **options)
    assert emulator.requests == []


def test_unknown_plan_option(emulator: FynoEmulator) -> None:
    with pytest.raises(FynoInputError, match="colour"):
        plan(frame(), "user_id", colour="red")


def test_dry_run_sends_nothing(emulator: FynoEmulator, no_env) -> None:
    result = push(frame(), "user_id", endpoint=emulator.endpoint, dry_run=True, preview=False)
    assert result["status"].tolist() == ["dry_run", "dry_run", "skipped"]
    assert result.attrs["fyno"]["dry_run"] == 2
    assert emulator.requests == []


def test_preview_is_shown_before_sending(emulator: FynoEmulator, capsys) -> None:
    push(frame(), "user_id", **creds(emulator), progress=False, retry_policy=FAST)
    assert "Fyno push plan" in capsys.readouterr().err


def test_max_rps_and_batch_options(emulator: FynoEmulator) -> None:
    df = pd.DataFrame({"user_id": [f"u{i}" for i in range(30)], "n": range(30)})
    result = push(
        df,
        "user_id",
        **creds(emulator),
        preview=False,
        progress=False,
        max_rps=1000,
        batch_size=7,
        concurrency=2,
    )
    assert (result["status"] == "sent").all()
    assert result.attrs["fyno"]["requests"] == 1 + 5  # the type seed, then 5 batches
    assert len(emulator.profiles) == 30


def test_a_batch_result_is_arrow_backed_and_its_rows_share_their_request(
    emulator: FynoEmulator,
) -> None:
    n = 1_200
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "ltv": [float("inf")] + [1.5] * (n - 1)})
    result = push(
        df, "uid", **creds(emulator), batch_size=500, preview=False, progress=False, ledger=False
    )
    assert result["request_id"].dtype == "string[pyarrow]"
    assert result["request_ids"].dtype.pyarrow_dtype.value_type == pa.array(result["status"]).type
    assert result["status"].iloc[1:].eq("sent").all()
    # one request id per batch of 500 rows
    assert result["request_id"].iloc[1:].nunique() == 3
    assert result["request_ids"].tolist()[1:] == [[r] for r in result["request_id"].iloc[1:]]
    assert result["dropped"].tolist()[:2] == [["ltv"], []]


def test_every_push_ends_with_its_summary_line_where_the_bar_was(
    emulator: FynoEmulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    df = frame().assign(ltv=[1.5, float("inf"), 2.0])
    with caplog.at_level(logging.INFO, logger="fyno_pandas"):
        push(df, "user_id", **creds(emulator), preview=False, ledger=False)
        shown = capsys.readouterr().err.splitlines()[-1]
        push(df, "user_id", **creds(emulator), preview=False, progress=False, ledger=False)
        quiet = capsys.readouterr().err

    assert re.fullmatch(
        r"⚠ Fyno push: 3 sent; 1 value left out \(the dropped column\); "
        r"in \d+\.\d\d s \([\d,]+\.\d rows/s\)",
        shown,
    )
    assert "Fyno push:" not in quiet
    logged = [r.getMessage() for r in caplog.records if "Fyno push:" in r.getMessage()]
    assert len(logged) == 2
    assert logged[0] == shown


def test_the_result_reads_status_error_dropped_first_and_concatenates(
    emulator: FynoEmulator,
) -> None:
    first = push(
        frame().assign(ltv=[float("inf"), 1.0, 2.0]),
        "user_id",
        **creds(emulator),
        preview=False,
        progress=False,
        ledger=False,
    )
    dry = push(frame(), "user_id", **creds(emulator), dry_run=True, preview=False)

    both = pd.concat([first, dry])
    assert list(both.columns[:3]) == ["status", "error", "dropped"]
    assert both.dtypes.to_dict() == first.dtypes.to_dict() == dry.dtypes.to_dict()
    assert problems(both).index.tolist() == [0]


def test_push_plan_push_frames_and_retry_failed_end_with_the_line_too(
    emulator: FynoEmulator, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    df = frame().assign(ltv=[1.5, float("inf"), 2.0])
    where = {**creds(emulator), "ledger": False}
    emulator.configure(error_rate=1.0, error_statuses=(400,))
    failed = push(df, "user_id", **where, preview=False, progress=False, max_retries=0)
    capsys.readouterr()
    emulator.configure(error_rate=0.0)

    fyno_pandas.retry_failed(df, failed, "user_id", **where, preview=False)
    retried = capsys.readouterr().err.splitlines()[-1]
    push_plan(plan(df, "user_id", **where))
    planned = capsys.readouterr().err.splitlines()[-1]
    summary = fyno_pandas.push_frames(
        [df.iloc[:2], df.iloc[2:]], "user_id", **where, preview=False, output=tmp_path / "r.csv"
    )
    framed = capsys.readouterr().err.splitlines()[-1]

    assert failed["status"].tolist() == ["failed", "failed", "failed"]
    assert retried.startswith("⚠ Fyno push: 3 sent; 1 value left out (the dropped column); in ")
    assert planned.startswith("⚠ Fyno push: 3 sent; 1 value left out (the dropped column); in ")
    assert summary["sent"] == 3
    assert framed.startswith("⚠ Fyno push: 3 sent; 1 value left out (the dropped column); in ")


def test_a_refused_key_is_said_once_in_one_line_with_what_to_check(
    emulator: FynoEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """New properties (their types are fixed first) and a wrong key: the error is the one
    report; the preview, the logs and the rows never repeat it or blame the properties."""
    caplog.set_level(logging.INFO, logger="fyno_pandas")
    users = pd.DataFrame(
        {"user_id": ["a", "b", "c", "d"], "plan": ["pro", "free", "team", "pro"], "ltv": 1.5}
    )
    wrong = {**creds(emulator), "api_key": "wrong-key-0c4f"}
    with pytest.raises(fyno_pandas.FynoAuthError) as caught:
        push(users, "user_id", **wrong, preview=True, progress=False)
    shown = capsys.readouterr()
    told = [str(caught.value), *caplog.messages, *(shown.out + shown.err).splitlines()]
    about_the_key = [line for line in told if "refused" in line or "401" in line]
    assert about_the_key == [str(caught.value)]
    assert "\n" not in str(caught.value)
    assert "check the API key and workspace (FYNO_API_KEY / FYNO_WSID" in str(caught.value)
    assert not [line for line in told if BLAMES_A_PROPERTY.search(line)]
    rows = caught.value.result
    assert set(rows["status"]) <= {"failed", "pending"}
    assert rows["error"].str.contains("API key").all(), rows["error"].tolist()
    assert "wrong-key-0c4f" not in "\n".join([*told, *rows["error"]])
