"""Push throughput: `push` against the naive loop an analyst writes, in the same run.

Run: ``python benchmarks/push_throughput.py [--quick]``

Starts the emulator as a subprocess (``python -m fyno_pandas.emulator``, so it does not share
this process's GIL), changes its faults between scenarios through ``POST /__emulator/config``,
and prints four figures, each next to the naive baseline
(``for _, row in df.iterrows(): requests.post(...)``) measured here. Figures 1, 2 and 4 send one
request per row (``batch_size=None``; figure 1 also 16 in flight), which the naive loop does:

1. 0 ms latency, 5,000 rows: rows/s and client CPU ms/row (``time.process_time`` of this
   process: planning, encoding, sending and the result frame included; target <= 0.35);
2. 50 ms latency, concurrency 32, 5,000 rows: rows/s as a fraction of 32 / 0.05 = 640 (target
   >= 0.85) and the ratio to the naive loop (target >= 25x; the naive loop runs 100 rows, which
   at one request per 50 ms is already 5 s);
3. batch mode, 50 ms latency, batch_size 500, 100,000 rows: rows/s (target >= 20,000);
4. the emulator limited to 200 requests/s (429 + Retry-After): goodput as a fraction of 200
   (target >= 0.9), share of requests answered 429 (target <= 2%), rows lost (must be 0); the
   naive loop, which does not retry, loses rows.

Figure 1 is also measured with the ledger on (a fresh ledger file each time, so every row is
sent and recorded), alternating with runs without it, median of 3 each: the ledger may cost at
most 10% of the rows/s. The other figures run without a ledger (``ledger=False``), since they
push the same users again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests
from common import Bench, start_emulator, users


def naive(bench: Bench, df: pd.DataFrame) -> tuple[float, float, int]:
    """The loop an analyst writes: rows/s, client CPU ms/row, rows not accepted (no retry)."""
    url = f"{bench.endpoint}/{bench.wsid}/live/profiles/properties/set"
    headers = {"Authorization": f"Bearer {bench.key}"}
    lost = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _, row in df.iterrows():
        values = {k: v for k, v in row.items() if k != "user_id"}
        values["signup"] = values["signup"].isoformat()
        values["active"] = bool(values["active"])
        answer = requests.post(
            url,
            json={"distinct_id": row["user_id"], "$set": values},
            headers=headers,
            timeout=30,
        )
        lost += answer.status_code != 202
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(df) / wall, cpu / len(df) * 1000, lost


#: Figures 1 and 1b send one request per row with 16 in flight (the defaults before
#: ``concurrency="auto"`` and ``batch_size="auto"``, which `benchmarks/defaults.py` measures).
PER_ROW = {"batch_size": None, "concurrency": 16}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller frames (a smoke run)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    proc, settings = start_emulator()
    bench = Bench(settings)
    try:
        # warm-up: imports, connection setup and the first plan are not what we measure
        bench.configure()
        bench.push(users(200), **PER_ROW)

        n = 5000 // scale
        bench.configure()
        result, wall, cpu = bench.push(users(n), **PER_ROW)
        assert (result["status"] == "sent").all()
        bench.configure()
        naive_rps, naive_cpu, _ = naive(bench, users(n // 5))
        print(
            f"1. 0 ms latency, {n:,} rows: push {n / wall:,.0f} rows/s, "
            f"{cpu / n * 1000:.3f} ms CPU/row (target <= 0.35); naive loop {naive_rps:,.0f} "
            f"rows/s, {naive_cpu:.3f} ms CPU/row -> {naive_cpu / (cpu / n * 1000):.1f}x less "
            f"CPU, {n / wall / naive_rps:.1f}x faster"
        )

        off, on = [], []
        with tempfile.TemporaryDirectory() as folder:
            for k in range(3):
                bench.configure()
                off.append(n / bench.push(users(n), **PER_ROW)[1])
                bench.configure()
                ledger = Path(folder) / f"ledger{k}.sqlite"
                result, wall, _ = bench.push(users(n), ledger=ledger, **PER_ROW)
                assert (result["status"] == "sent").all()
                on.append(n / wall)
        ratio = statistics.median(on) / statistics.median(off)
        print(
            f"1b. ledger on, 0 ms latency, {n:,} rows: {statistics.median(on):,.0f} rows/s vs "
            f"{statistics.median(off):,.0f} without (median of 3) = {ratio:.2f} (target >= 0.9)"
        )

        bench.configure(latency=0.05)
        result, wall, cpu = bench.push(users(n), concurrency=32, batch_size=None)
        assert (result["status"] == "sent").all()
        rps = n / wall
        naive_rps, _, _ = naive(bench, users(100))
        print(
            f"2. 50 ms latency, concurrency 32, {n:,} rows: push {rps:,.0f} rows/s = "
            f"{rps / 640:.2f} of the ideal 640 (target >= 0.85); naive loop {naive_rps:.1f} "
            f"rows/s -> {rps / naive_rps:.0f}x (target >= 25x)"
        )

        big = 100_000 // scale
        frame = users(big)
        bench.configure(latency=0.05)
        result, wall, cpu = bench.push(frame, batch_size=500, concurrency=32)
        assert (result["status"] == "sent").all()
        print(
            f"3. batch_size 500, 50 ms latency, {big:,} rows: push {big / wall:,.0f} rows/s "
            f"(target >= 20,000), {cpu / big * 1000:.3f} ms CPU/row; naive loop "
            f"{naive_rps:.1f} rows/s (scenario 2) -> {big / wall / naive_rps:,.0f}x"
        )

        bench.configure(rate_limit=200)
        result, wall, cpu = bench.push(users(n), batch_size=None)
        summary = result.attrs["fyno"]
        sent = int((result["status"] == "sent").sum())
        goodput = sent / wall
        share = summary["throttled"] / summary["requests"]
        bench.configure(rate_limit=200)
        naive_rps, _, naive_lost = naive(bench, users(1000 // scale))
        print(
            f"4. 200 requests/s limit, {n:,} rows: goodput {goodput:.1f} rows/s = "
            f"{goodput / 200:.2f} of 200 (target >= 0.9), {share:.1%} of requests answered "
            f"429 (target <= 2%), {n - sent} rows lost (must be 0); naive loop over "
            f"{1000 // scale:,} rows: {naive_lost} lost"
        )
        print(json.dumps({k: summary[k] for k in ("requests", "throttled", "elapsed_s")}))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
