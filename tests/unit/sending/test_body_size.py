"""Request bodies and the body-size limit: automatic batches stay under a bound, a 413 splits
a batch in halves (nothing was stored), and one row alone over the limit fails saying so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import requests

from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.pipeline.workflow import push
from fyno_pandas.sending import mode as sendmode

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, seed=0)
TOO_LARGE = "exceeds Fyno's size limit"


def wide(rows: int, columns: int = 10, length: int = 250) -> pd.DataFrame:
    """``rows`` users with ``columns`` strings of ``length`` characters each (distinct)."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghij"))
    text = {
        f"note{k}": ["".join(rng.choice(letters, length)) for _ in range(rows)]
        for k in range(columns)
    }
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(rows)], **text})


def send(df: pd.DataFrame, fyno: FynoEmulator, **kw) -> pd.DataFrame:
    where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
    options = {"preview": False, "progress": False, "retry_policy": FAST, "ledger": False, **kw}
    return push(df, "user_id", **where, **options)


def test_the_emulator_answers_413_before_storing_anything() -> None:
    with FynoEmulator(max_body_bytes=300) as fyno:
        items = [{"distinct_id": f"u{i}", "action": {"$set": {"a": "x" * 50}}} for i in range(5)]
        answer = requests.post(
            f"{fyno.endpoint}/{fyno.wsid}/live/profiles/properties/batch",
            data=json.dumps({"batch": items}),
            headers={"Authorization": f"Bearer {fyno.api_key}"},
            timeout=10,
        )
        assert answer.status_code == 413
        assert fyno.profiles == {}
        assert fyno.property_types == {}


def test_automatic_batches_stay_under_the_body_bound() -> None:
    # 2,000 rows of ten 250-character strings: 16 batches of 125 rows, 340 KB each
    with FynoEmulator(seed=0, max_body_bytes=300_000, log_bodies=False) as fyno:
        result = send(wide(2_000), fyno)
        sizes = [r["body_size"] for r in fyno.requests if r["operation"] == "batch"]
        statuses = {r["status"] for r in fyno.requests}
        stored = len(fyno.profiles)
    assert (result["status"] == "sent").all(), result["error"].dropna().unique()[:3]
    assert statuses == {202}
    assert stored == 2_000
    assert max(sizes) <= sendmode.BODY_MAX
    assert len(sizes) == 16 * 2  # each batch cut in as few equal parts as fit: two


def test_a_413_splits_the_batch_in_halves_until_it_fits() -> None:
    # batches of 40 rows of about 1 KB; the server takes 12 KB at most: halves of halves
    with FynoEmulator(seed=0, max_body_bytes=12_000) as fyno:
        df = wide(200, columns=4)
        result = send(df, fyno, batch_size=40)
        statuses = [r["status"] for r in fyno.requests if r["operation"] == "batch"]
        profiles = fyno.profiles
    assert (result["status"] == "sent").all(), result["error"].dropna().unique()[:3]
    assert statuses.count(413) == 5 * (1 + 2)  # each batch of 40, then its halves of 20
    assert statuses.count(202) == 5 * 4  # quarters of 10 rows
    assert profiles["u7"]["note3"] == df.loc[7, "note3"]
    assert result.attrs["fyno"]["failed"] == 0


def test_a_413_splits_a_batch_of_adds_without_doubt() -> None:
    df = pd.DataFrame({"user_id": [f"u{i}" for i in range(40)], "visits": 1, "note": "n" * 200})
    with FynoEmulator(seed=0, max_body_bytes=3_000) as fyno:
        result = send(df, fyno, batch_size=20, ops={"visits": "add"})
        profiles = fyno.profiles
    assert (result["status"] == "sent").all(), result["error"].dropna().unique()[:3]
    assert {p["visits"] for p in profiles.values()} == {1}  # each add applied once


def test_a_row_alone_over_the_limit_fails_saying_so() -> None:
    df = wide(30, columns=2, length=20)
    df.loc[7, "note0"] = "y" * 250
    df.loc[7, "note1"] = "z" * 250
    for batch_size in (10, None):
        with FynoEmulator(seed=0, max_body_bytes=400) as fyno:
            result = send(df, fyno, batch_size=batch_size)
            stored = set(fyno.profiles)
        failed = result.index[result["status"] == "failed"].tolist()
        assert failed == [7], batch_size
        assert TOO_LARGE in result.loc[7, "error"]
        assert stored == {f"u{i}" for i in range(30)} - {"u7"}
