"""Plan + encode throughput against the naive ``to_dict("records")`` + ``json.dumps`` path.

Run: ``python benchmarks/plan_throughput.py [rows]`` (default 1,000,000 rows x 8 columns: id,
float, int, bool, category, tz-aware datetime, string with 10% missing, list).

Prints both times, their ratio (target <= 0.5) and the peak memory of plan+encode as a multiple
of ``df.memory_usage(deep=True).sum()`` (target <= 3x). Then the inspection path on the first
200,000 rows: ``plan.payloads()`` + ``json.dumps`` of each payload (the plan built untimed)
against the naive loop on the same rows (target <= 1x). Timings run without tracemalloc (it
slows every allocation); the memory figure comes from a separate, untimed tracemalloc run.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from fyno_pandas.planning.build import build_plan

CHUNK = 50_000  # bodies are built and handed on per chunk, as a sender would


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"customer {i}" for i in range(1000)], dtype=object)
    strings = names[rng.integers(0, 1000, n)]
    strings[rng.random(n) < 0.1] = None
    tags = np.array(["alpha", "beta", "gamma", "delta"], dtype=object)
    sizes = rng.integers(0, 4, n)
    picks = rng.integers(0, 4, int(sizes.sum()))
    ends = np.cumsum(sizes)
    lists = [
        list(tags[picks[e - k : e]]) for e, k in zip(ends.tolist(), sizes.tolist(), strict=True)
    ]
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "score": rng.random(n) * 100,
            "visits": rng.integers(0, 1000, n),
            "active": rng.random(n) < 0.5,
            "plan": pd.Categorical(rng.choice(["free", "pro", "team"], n)),
            "signup": pd.date_range("2020-01-01", periods=n, freq="min", tz="Europe/Paris"),
            "name": pd.Series(strings, dtype=object),
            "tags": lists,
        }
    )


def naive(df: pd.DataFrame) -> int:
    """What an analyst writes: no validation at all."""
    return sum(len(json.dumps(row, default=str)) for row in df.to_dict("records"))


def plan_and_encode(df: pd.DataFrame) -> int:
    plan = build_plan(df, "user_id")
    rows = np.flatnonzero(plan.sendable)
    total = 0
    for start in range(0, len(rows), CHUNK):
        total += sum(map(len, plan.set_bodies(rows[start : start + CHUNK])))
    return total


def dumped_payloads(plan) -> int:
    return sum(len(json.dumps(payload)) for payload in plan.payloads())


def timed(fn, df: pd.DataFrame) -> float:
    gc.collect()
    start = time.perf_counter()
    fn(df)
    return time.perf_counter() - start


def peak_bytes(fn, df: pd.DataFrame) -> int:
    gc.collect()
    tracemalloc.start()
    fn(df)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    df = make_frame(n)
    size = df.memory_usage(deep=True).sum()
    print(f"frame: {n:,} rows x {df.shape[1]} columns, {size / 1e6:.0f} MB (deep)")
    t_plan = timed(plan_and_encode, df)
    print(f"plan+encode: {t_plan:.2f} s ({n / t_plan:,.0f} rows/s)")
    t_naive = timed(naive, df)
    print(f"naive to_dict+json.dumps: {t_naive:.2f} s ({n / t_naive:,.0f} rows/s)")
    print(f"ratio plan+encode / naive: {t_plan / t_naive:.2f} (target <= 0.5)")
    peak = peak_bytes(plan_and_encode, df)
    print(
        f"peak memory of plan+encode: {peak / 1e6:.0f} MB = {peak / size:.2f}x frame (target <= 3x)"
    )
    part = df.iloc[:200_000]
    t_payloads = timed(dumped_payloads, build_plan(part, "user_id"))
    t_part = timed(naive, part)
    print(
        f"payloads() + json.dumps, {len(part):,} rows: {t_payloads:.2f} s vs naive "
        f"{t_part:.2f} s = {t_payloads / t_part:.2f}x (target <= 1x)"
    )


if __name__ == "__main__":
    main()
