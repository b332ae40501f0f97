"""`sending.sender.send_plan`: a plan's rows sent, and what stops them."""

from __future__ import annotations

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoAuthError
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
