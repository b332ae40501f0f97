"""`sending.sender.send_plan`: a plan's rows sent, and what stops them."""

from __future__ import annotations

import tracemalloc

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoAuthError
from fyno_pandas.sending import sender as sender_module
from fyno_pandas.sending.sender import dry_run_result, send_plan

USERS = pd.DataFrame({"uid": ["a", "b", None], "n": [1, 2, 3]})


def _plan() -> fyno_pandas.PushPlan:
    return fyno_pandas.plan(USERS, "uid", ledger=False, schema={"n": "number"})


@pytest.mark.parametrize("batch_size", [None, 2])
def test_the_summary_counts_the_result(client: FynoClient, batch_size: int | None) -> None:
    result = send_plan(_plan(), client, batch_size=batch_size, progress=False)
    summary = result.attrs["fyno"]
    assert result["status"].tolist() == ["sent", "sent", "skipped"]
    assert (summary["sent"], summary["skipped"], summary["rows"]) == (2, 1, 3)
    assert summary["requests"] == (2 if batch_size is None else 1)


def test_a_refused_key_raises_with_the_partial_result(emulator: FynoEmulator) -> None:
    with (
        FynoClient(emulator.wsid, "wrong-key", endpoint=emulator.endpoint) as client,
        pytest.raises(FynoAuthError) as caught,
    ):
        send_plan(_plan(), client, batch_size=None, concurrency=1, progress=False)
    assert caught.value.result["status"].tolist()[2] == "skipped"
    assert set(caught.value.result["status"].tolist()[:2]) <= {"failed", "pending"}
    assert "wrong-key" not in str(caught.value)


def test_a_dry_run_sends_nothing() -> None:
    assert dry_run_result(_plan())["status"].tolist() == ["dry_run", "dry_run", "skipped"]


def _held_by_sender(client: FynoClient, rows: int, batch_size: int | None) -> float:
    """Bytes a row that the sender's own code holds when the first unit is acknowledged."""
    the_plan = fyno_pandas.plan(
        pd.DataFrame({"uid": [f"u{i}" for i in range(rows)], "n": 1}), "uid", ledger=False
    )
    snapshots: list[tracemalloc.Snapshot] = []

    def measure(positions: object, request_id: object) -> None:
        if not snapshots:
            snapshots.append(tracemalloc.take_snapshot())

    tracemalloc.start()
    try:
        send_plan(
            the_plan, client, batch_size=batch_size, concurrency=1, progress=False, on_ack=measure
        )
    finally:
        tracemalloc.stop()
    sender = [tracemalloc.Filter(True, sender_module.__file__)]
    return sum(s.size for s in snapshots[0].filter_traces(sender).statistics("filename")) / rows


@pytest.mark.parametrize(("rows", "batch_size"), [(1_000, None), (20_000, 500)])
def test_rows_to_send_cost_no_python_object_each(
    client: FynoClient, rows: int, batch_size: int | None
) -> None:
    """While sending, the rows to send are an array, not a Python int and a list slot for every
    row (44 bytes a row, for the whole push); only the units in flight hold their rows' ints."""
    assert _held_by_sender(client, rows, batch_size) < 16
