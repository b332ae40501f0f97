"""Fault soak: 5,000 rows through 5xx, dropped connections and 429 bursts, nothing lost."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.pipeline.workflow import plan, push_plan

FAST = RetryPolicy(backoff_base=0.002, backoff_cap=0.02, retry_after_cap=0.05, seed=0)


def test_fault_soak(emulator: FynoEmulator) -> None:
    n = 5000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "user_id": [f"user-{i:05d}" for i in range(n)],
            "plan": rng.choice(["free", "pro", "team"], n),
            "ltv": rng.integers(0, 10_000, n) / 100,
            "active": rng.random(n) < 0.5,
            "code": [f"C{i}" if i % 3 else "2024-05-01" for i in range(n)],
        },
        index=pd.Index(rng.permutation(n) * 7, name="row"),
    )
    emulator.configure(
        error_rate=0.10,
        drop_before_rate=0.025,
        drop_after_rate=0.025,
        rate_limit=1000,  # below what the push can do: 429 bursts until it adapts
        rate_burst=100,
    )
    the_plan = plan(
        df, "user_id", wsid=emulator.wsid, api_key=emulator.api_key, endpoint=emulator.endpoint
    )
    # one request per row: 5,000 requests meet every fault
    result = push_plan(
        the_plan,
        concurrency=16,
        batch_size=None,
        max_retries=8,
        progress=False,
        retry_policy=FAST,
    )
    assert result.index.equals(df.index)
    assert set(result["status"]) <= {"sent", "failed"}
    assert result.loc[result["status"] == "failed", "error"].notna().all()
    sent = result["status"] == "sent"
    assert sent.sum() >= n - 5
    log = emulator.requests
    faults = {r["fault"] for r in log}
    assert {"fault", "drop_before", "drop_after"} <= faults
    assert any(r["status"] == 429 for r in log)
    assert result.attrs["fyno"]["throttled"] > 0
    assert result.attrs["fyno"]["requests"] == len(log)
    # Fyno holds exactly what the plan predicted, every sent row and every value
    expected = {
        row["distinct_id"]: {k: v for k, v in row.items() if k != "distinct_id"}
        for row in (json.loads(b) for b in the_plan.set_bodies())
        for row in [{"distinct_id": row["distinct_id"], **row["$set"]}]
    }
    profiles = emulator.profiles
    for distinct_id in result.loc[sent, "distinct_id"]:
        assert profiles[distinct_id] == expected[distinct_id]
    assert emulator.property_types == {
        "plan": "string",
        "ltv": "number",
        "active": "boolean",
        "code": "string",
    }
