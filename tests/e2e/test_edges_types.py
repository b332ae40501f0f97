"""A new property's type is fixed on purpose, never by a race (issue 13, items 1, 2 and 13).

Every test pushes over loopback to the emulator, whose date reading is the worst case
(`fyno_pandas.emulator.storage`): any plausible ISO-8601 date types a new property as Date.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator

QUIET = {"preview": False, "progress": False}


def assert_sent_rows_stored(result: pd.DataFrame, frame: pd.DataFrame, fyno: FynoEmulator) -> None:
    """Every value of a row reported sent, and not listed as dropped, is what Fyno holds."""
    profiles = fyno.profiles
    for label, row in result.iterrows():
        if row["status"] != "sent":
            continue
        stored = profiles[row["distinct_id"]]
        for column in frame.columns.drop("id"):
            value = frame.at[label, column]
            if column in row["dropped"] or pd.isna(value):
                continue
            assert column in stored, f"row {label}: {column}={value!r} was not stored"


def test_a_datetime_among_text_is_never_the_first_value_of_a_string_property(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    when = pd.Series([pd.Timestamp("2024-05-01", tz="UTC"), "never", "pending"], dtype=object)
    frame = pd.DataFrame({"id": ["u0", "u1", "u2"], "last": when})

    result = fyno_pandas.push(frame, "id", ledger=False, **destination, **QUIET)

    assert emulator.property_types == {"last": "string"}
    assert [emulator.profiles[u]["last"] for u in ("u0", "u1", "u2")] == [
        "2024-05-01T00:00:00.000Z",
        "never",
        "pending",
    ]
    assert_sent_rows_stored(result, frame, emulator)


def test_a_new_property_whose_only_values_look_like_dates_is_dropped_before_sending(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    frame = pd.DataFrame({"id": ["u0", "u1"], "code": ["2020-01-01", "x" * 300], "n": [1, 2]})

    plan = fyno_pandas.plan(frame, "id", ledger=False, **destination)
    result = fyno_pandas.push_plan(plan, progress=False)

    issues = plan.issues[plan.issues["action"] == "dropped"]
    assert issues[["row", "rule", "action"]].values.tolist() == [
        [0, "no_safe_seed", "dropped"],
        [1, "string_too_long", "dropped"],
    ]
    assert result["dropped"].tolist() == [["code"], ["code"]]
    assert emulator.property_types == {"n": "number"}
    assert_sent_rows_stored(result, frame, emulator)


def test_a_schema_date_sends_date_strings_that_have_no_safe_seed(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    frame = pd.DataFrame({"id": ["u0"], "code": ["2020-01-01"]})

    result = fyno_pandas.push(
        frame, "id", schema={"code": "date"}, ledger=False, **destination, **QUIET
    )

    assert result["status"].tolist() == ["sent"]
    assert emulator.property_types == {"code": "date"}


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T10:00:00.123456+00:00",  # what isoformat() writes
        "2024-01-01 10:00:00",
        "2024-01-01T10:00z",
        "2024-01-01T10:00:00+0530",
        "2023-04-31",  # not a real day: a strict reader stores nothing and creates nothing
    ],
)
def test_wider_iso_forms_are_date_like_and_never_seed_a_string_property(
    text: str, destination: dict[str, str], emulator: FynoEmulator
) -> None:
    frame = pd.DataFrame({"id": ["u0", "u1"], "note": [text, "alpha"]})

    plan = fyno_pandas.plan(frame, "id", ledger=False, **destination)
    result = fyno_pandas.push_plan(plan, progress=False)

    assert plan.seed_values(["note"]) == {"note": 1}
    assert "date_like_string" in set(plan.issues["rule"])
    assert emulator.property_types == {"note": "string"}
    assert emulator.profiles["u0"]["note"] == text
    assert_sent_rows_stored(result, frame, emulator)


def test_a_failed_seed_fails_the_rows_carrying_its_property_and_retry_failed_resends_them(
    destination: dict[str, str], emulator: FynoEmulator, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {"id": ["u0", "u1", "u2"], "code": ["2020-01-01", "alpha", "beta"], "n": [1, 2, 3]}
    )
    ledger = tmp_path / "ledger.sqlite"
    options = {"ledger": ledger, "concurrency": 1, "max_retries": 0, **destination, **QUIET}
    emulator.configure(error_requests=[1])  # the first request is the seed of code

    result = fyno_pandas.push(frame, "id", **options)

    assert result["status"].tolist() == ["failed"] * 3
    assert all("'code' got no type" in e for e in result["error"])
    assert "code" not in emulator.property_types
    with fyno_pandas.Ledger(ledger) as book:
        assert "code" not in book.property_types(emulator.wsid, "live", emulator.endpoint)

    again = fyno_pandas.retry_failed(frame, result, "id", **options)

    assert again["status"].tolist() == ["sent"] * 3
    assert emulator.property_types == {"code": "string", "n": "number"}
    assert_sent_rows_stored(again, frame, emulator)
    with fyno_pandas.Ledger(ledger) as book:
        types = book.property_types(emulator.wsid, "live", emulator.endpoint)
    assert types == {"code": "string", "n": "number"}


def test_two_pushes_racing_for_a_new_property_agree_with_what_fyno_fixed(
    destination: dict[str, str],
    emulator: FynoEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Push A's seed reaches Fyno first; push B, planned before A claimed, finishes first."""
    ledger = tmp_path / "ledger.sqlite"
    numbers = pd.DataFrame({"id": ["a0", "a1"], "p": [1, 2]})
    texts = pd.DataFrame({"id": ["b0", "b1"], "p": ["x", "y"]})
    plan_a = fyno_pandas.plan(numbers, "id", ledger=ledger, **destination)
    plan_b = fyno_pandas.plan(texts, "id", ledger=ledger, **destination)
    a_seeded, b_done = threading.Event(), threading.Event()
    real_post = FynoClient.post

    def post(self: FynoClient, operation: str, body: bytes, **kw: Any) -> Any:
        outcome = real_post(self, operation, body, **kw)
        if b'"distinct_id":"a' in body and not a_seeded.is_set():
            a_seeded.set()
            assert b_done.wait(30)
        return outcome

    monkeypatch.setattr(FynoClient, "post", post)
    results: dict[str, pd.DataFrame] = {}
    push_a = lambda: results.update(a=fyno_pandas.push_plan(plan_a, progress=False))  # noqa: E731
    pusher = threading.Thread(target=push_a)
    pusher.start()
    assert a_seeded.wait(30)
    try:
        results["b"] = fyno_pandas.push_plan(plan_b, progress=False)
    finally:
        b_done.set()
        pusher.join(30)

    assert emulator.property_types == {"p": "number"}
    with fyno_pandas.Ledger(ledger) as book:
        assert book.property_types(emulator.wsid, "live", emulator.endpoint) == {"p": "number"}
    assert results["a"]["status"].tolist() == ["sent", "sent"]
    assert results["b"]["dropped"].tolist() == [["p"], ["p"]]
    assert "sent" not in set(results["b"]["status"])
    assert_sent_rows_stored(results["a"], numbers, emulator)
    assert_sent_rows_stored(results["b"], texts, emulator)


def test_a_claim_whose_seed_failed_is_released_for_the_next_push(
    destination: dict[str, str], emulator: FynoEmulator, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    options = {"ledger": ledger, "max_retries": 0, **destination, **QUIET}
    emulator.configure(error_requests=[1])
    first = fyno_pandas.push(pd.DataFrame({"id": ["u0"], "p": [1]}), "id", **options)
    assert first["status"].tolist() == ["failed"]

    texts = pd.DataFrame({"id": ["u1"], "p": ["x"]})
    second = fyno_pandas.push(texts, "id", **options)

    assert second["status"].tolist() == ["sent"]
    assert emulator.property_types == {"p": "string"}


BATCH_PUSH = """
import sys
import pandas as pd
import fyno_pandas
fyno_pandas.push(pd.read_pickle(sys.argv[1]), "id", ledger=sys.argv[2], concurrency=4,
                 batch_size=100, preview=False, progress=False)
"""


def test_a_batch_push_killed_mid_way_resends_at_most_concurrency_batches(
    destination: dict[str, str], emulator: FynoEmulator, tmp_path: Path
) -> None:
    """The bound after a crash is ``concurrency`` requests: ``concurrency x batch_size`` rows."""
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(20_000)], "n": range(20_000)})
    frame.to_pickle(tmp_path / "frame.pkl")
    ledger = tmp_path / "ledger.sqlite"
    emulator.configure(latency=0.005)
    env = {
        **os.environ,
        "FYNO_ENDPOINT": emulator.endpoint,
        "FYNO_WSID": emulator.wsid,
        "FYNO_API_KEY": emulator.api_key,
    }
    args = [sys.executable, "-c", BATCH_PUSH, str(tmp_path / "frame.pkl"), str(ledger)]
    child = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 60
    while len(emulator.requests) < 60 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    emulator.configure(latency=0.0)
    batches = lambda: [r for r in emulator.requests if r["operation"] == "batch"]  # noqa: E731
    before = len(batches())
    assert 0 < before < 200, "the push should have been killed mid-way"

    fyno_pandas.push(frame, "id", ledger=ledger, batch_size=100, **destination, **QUIET)

    def users(requests: list[dict]) -> set[str]:
        return {item["distinct_id"] for r in requests if r["body"] for item in r["body"]["batch"]}

    resent = users(batches()[:before]) & users(batches()[before:])
    assert len(resent) <= 4 * 100
    assert len(emulator.profiles) == len(frame)


def test_a_list_holding_a_malformed_date_is_reported_not_sent(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    tags = pd.Series([["a", "2023-04-31"], ("b", "2023-04-30 10:00"), ["c"]], dtype=object)
    frame = pd.DataFrame({"id": ["u0", "u1", "u2"], "tags": tags})

    plan = fyno_pandas.plan(frame, "id", ledger=False)
    result = fyno_pandas.push_plan(
        fyno_pandas.plan(frame, "id", ledger=False, **destination), progress=False
    )

    assert ["invalid_list", "dropped"] in plan.issues[["rule", "action"]].values.tolist()
    assert plan.issues.loc[plan.issues["rule"] == "invalid_list", "row"].tolist() == [0]
    assert result["dropped"].tolist() == [["tags"], [], []]
    assert {u: p["tags"] for u, p in emulator.profiles.items()} == {
        "u1": ["b", "2023-04-30 10:00"],
        "u2": ["c"],
    }
