"""Client CPU of `push` against a hand-written thread-pool client, side by side in one run.

Run: ``python benchmarks/client_cpu.py [--quick]``

The emulator runs in its own process (``common.start_emulator``), with 0 ms latency, so the
client CPU measured here (``time.process_time`` of this process, every thread included) is the
client's alone. The frame has six mixed columns: ``user_id`` (the key), ``plan`` (text), ``ltv``
(float), ``active`` (bool), ``signup`` (UTC datetime) and ``logins`` (int). The baseline is the
client an engineer writes by hand (`handwritten`): ``df.to_dict("records")``, a ``json.dumps``
body per request, and a ``requests.Session`` shared by a ``ThreadPoolExecutor(16)``. `push` runs
with ``concurrency=16`` and ``ledger=False``.

1. per row: 4,000 rows, one ``properties/set`` request each (``batch_size=None``); target: the
   hand-written client uses at least 3.5x the CPU of `push`;
2. in batches: 40,000 rows in ``properties/batch`` requests of 500 rows (``batch_size=500``);
   target: at least 1.5x.

Each figure is the median of three runs, the two clients alternating, after a warm-up of each.
``--quick`` is a smoke run: a tenth of the rows, whose ratios carry more of a push's fixed
cost (planning, the result frame), so its PASS/FAIL is not the figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import requests
from common import Bench, start_emulator, users
from requests.adapters import HTTPAdapter

CONCURRENCY = 16
PER_ROW_ROWS = 4_000
BATCH_ROWS = 40_000
BATCH_SIZE = 500
RUNS = 3


def six_columns(n: int) -> pd.DataFrame:
    """`common.users` (five columns) and an integer ``logins``."""
    df = users(n)
    df["logins"] = (df.index.to_numpy() * 7919) % 1000
    return df


def _isoformat(value: Any) -> str:
    return value.isoformat()


def handwritten(bench: Bench, df: pd.DataFrame, batch_size: int | None) -> int:
    """Send ``df`` as a hand-written client does; return the rows whose request got a 202."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=CONCURRENCY))
    session.headers.update(
        {"Authorization": f"Bearer {bench.key}", "Content-Type": "application/json"}
    )
    base = f"{bench.endpoint}/{bench.wsid}/live/profiles/properties"
    records = df.to_dict("records")

    def post_one(record: dict[str, Any]) -> int:
        body = {"distinct_id": record.pop("user_id"), "$set": record}
        answer = session.post(f"{base}/set", data=json.dumps(body, default=_isoformat), timeout=30)
        return int(answer.status_code == 202)

    def post_batch(start: int) -> int:
        chunk = records[start : start + (batch_size or 0)]
        items = [{"distinct_id": r.pop("user_id"), "action": {"$set": r}} for r in chunk]
        body = json.dumps({"batch": items}, default=_isoformat)
        answer = session.post(f"{base}/batch", data=body, timeout=30)
        return len(chunk) if answer.status_code == 202 else 0

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        if batch_size is None:
            accepted = sum(pool.map(post_one, records))
        else:
            accepted = sum(pool.map(post_batch, range(0, len(records), batch_size)))
    session.close()
    return accepted


def ours(bench: Bench, df: pd.DataFrame, batch_size: int | None) -> int:
    result, _, _ = bench.push(df, concurrency=CONCURRENCY, batch_size=batch_size)
    return int((result["status"] == "sent").sum())


def cpu_seconds(send: Callable[[], int], rows: int) -> float:
    """The client CPU of one ``send`` (every row must be accepted)."""
    cpu = time.process_time()
    accepted = send()
    cpu = time.process_time() - cpu
    assert accepted == rows, f"{accepted} of {rows} rows accepted"
    return cpu


def compare(bench: Bench, rows: int, batch_size: int | None) -> tuple[float, float]:
    """Median client CPU seconds per row of `ours` and `handwritten`, alternating."""
    df = six_columns(rows)
    timings: dict[str, list[float]] = {"ours": [], "handwritten": []}
    for _ in range(RUNS):
        for name, client in (("ours", ours), ("handwritten", handwritten)):
            bench.configure()
            timings[name].append(cpu_seconds(lambda c=client: c(bench, df, batch_size), rows))
    return (
        statistics.median(timings["ours"]) / rows,
        statistics.median(timings["handwritten"]) / rows,
    )


def report(label: str, ours_cpu: float, theirs_cpu: float, target: float) -> None:
    ratio = theirs_cpu / ours_cpu
    verdict = "PASS" if ratio >= target else "FAIL"
    print(
        f"{label}: push {ours_cpu * 1e6:.1f} us CPU/row, hand-written {theirs_cpu * 1e6:.1f} "
        f"us CPU/row -> {ratio:.2f}x less (target >= {target}x, median of {RUNS}) {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows (a smoke run)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    proc, settings = start_emulator()
    bench = Bench(settings)
    try:
        # warm-up: imports, connections and first-call caches are not what we measure
        warm = six_columns(1_000)
        for client in (ours, handwritten):
            for batch_size in (None, BATCH_SIZE):
                bench.configure()
                client(bench, warm, batch_size)
        per_row, batch = PER_ROW_ROWS // scale, BATCH_ROWS // scale
        report(f"1. per row, {per_row:,} rows", *compare(bench, per_row, None), 3.5)
        report(
            f"2. batches of {BATCH_SIZE}, {batch:,} rows",
            *compare(bench, batch, BATCH_SIZE),
            1.5,
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
