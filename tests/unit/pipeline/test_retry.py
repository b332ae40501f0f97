"""`retry_failed` replays the push from the ledger's record of its push id; the result's
summary (``attrs``, which pandas drops) is only the fallback without a ledger."""

from __future__ import annotations

import pandas as pd

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

QUIET = {"preview": False, "progress": False}


def users() -> pd.DataFrame:
    return pd.DataFrame({"uid": ["a", "b", "c", "d"], "plan": ["free", "pro", "pro", "team"]})


def dropped_attrs(result: pd.DataFrame) -> pd.DataFrame:
    """``result`` as pandas hands it back from a concat of parts with other attrs."""
    parts = [result.iloc[:2].copy(), result.iloc[2:].copy()]
    parts[1].attrs = {}
    joined = pd.concat(parts)
    assert joined.attrs == {}
    return joined


def test_a_plain_push_whose_attrs_were_dropped_is_replayed_from_the_ledger(
    destination: dict[str, str],
) -> None:
    df = users()
    result = fyno_pandas.push(df, "uid", **destination, **QUIET)
    failed = dropped_attrs(result)
    failed["status"] = failed["status"].mask(failed["distinct_id"].isin(["b", "d"]), "failed")

    again = fyno_pandas.retry_failed(df, failed, "uid", **destination, **QUIET, only_changed=False)

    assert again["status"].tolist() == ["sent"] * 4
    assert again.attrs["fyno"]["retried"] == 2
    assert (again["push_id"] != result["push_id"]).tolist() == [False, True, False, True]


def test_the_ledgers_record_wins_over_a_summary_of_another_push(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    fyno_pandas.push(pd.DataFrame({"uid": ["b"], "logins": [10]}), "uid", **destination, **QUIET)
    df = pd.DataFrame({"uid": ["a", "b"], "logins": [2, 3]})
    emulator.configure(error_requests=[2], error_statuses=[400])  # b's add refused
    result = fyno_pandas.push(
        df, "uid", **destination, **QUIET, ops={"logins": "add"}, concurrency=1, batch_size=None
    )
    emulator.configure(error_requests=[])
    other = fyno_pandas.push(users(), "uid", **destination, **QUIET)
    result.attrs = other.attrs  # a summary that says ops={}: a set in place of the add

    fyno_pandas.retry_failed(df, result, "uid", **destination, **QUIET)

    assert emulator.profiles["b"]["logins"] == 13  # 3 added to 10, not set to 3
