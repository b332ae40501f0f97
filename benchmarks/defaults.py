"""Fast by default: `push` with its default settings against the best hand-tuned setting.

Run: ``python benchmarks/defaults.py [--rows 5000] [--repeat 1] [--quick]``

Starts the emulator as a subprocess (``common.start_emulator``) and, all in the same run, pushes
the same users frame (``--rows``, default 5,000) with defaults (neither ``concurrency`` nor
``batch_size`` passed) and with each setting of a small hand-tuned grid: concurrency 16 or 64,
per row (``batch_size=None``) or ``batch_size=500``. Every push gets a fresh ledger file (so a
limit the client remembers never leaks into the next push) except the deliberate second push of
the rate-limit lines. Before each push the emulator is reset and its faults set again; with a
rate limit it then waits 1 s, so its bucket starts full. Rows/s = rows sent / wall seconds of the
``push`` call; with ``--repeat K`` each figure is the best of K pushes. Printed:

1. one line per cell, latency 0, 50 and 200 ms (emulator ``latency``) x no limit or 200
   requests/s (emulator ``rate_limit``): the defaults' rows/s and the settings they chose (the
   summary's ``mode``, ``batch_size`` and ``concurrency``; "?" where the summary has none), the
   grid's best setting and its rows/s, and their ratio (target: defaults >= 0.8 of the best in
   every cell); a second line holds every grid setting's rows/s, then one line counts the cells
   that pass;
2. rate-limit lines, per row (``batch_size=None``, concurrency left at its default), 50 ms
   latency, ``rate_limit=200``, at least 2,000 rows (the limit must bite): a first push with a
   fresh ledger, then a second push of the same frame into the same ledger (``only_changed=False``,
   or the ledger would leave every row unchanged; the client may use the limit it learnt). For
   each: goodput = rows sent / wall seconds / 200 (target >= 0.9 first, >= 0.95 second), the
   share of requests answered 429 (the summary's throttled / requests; target <= 2%) and rows
   lost, whose status is not "sent" (must be 0); these two pushes run once, whatever ``--repeat``;
3. the sporadic-429 line, per row, 50 ms latency, no limit, the rows of the rate-limit lines:
   rows/s with 5% of requests answered 429 with Retry-After: 1 (emulator ``throttle_rate=0.05``)
   over rows/s without them (target >= 0.8);
4. the sporadic-429 batch lines, defaults (batches), 200 ms latency, no limit, 1,300,000 rows
   (over 20 s without 429s here): a push with a fresh ledger and no 429s (the baseline) and a
   second one into that ledger (``only_changed=False``); then into another fresh ledger a
   first push with 5% of requests answered 429 with Retry-After: 1 (target: at most the
   baseline's seconds plus three Retry-Afters, 3 s; no rate learnt) and a second push with no
   429s (``only_changed=False``; target: >= 0.9 of the baseline's rows/s; also printed: its
   ratio to the second push after no 429s, the same ledger state without anything learnt).
   These four pushes run once, whatever ``--repeat``.

``--quick`` is a smoke run: 1,000 rows (unless ``--rows``), latency 0 and 50 ms only, the
rate-limit and sporadic-429 lines at 2,000 rows, the batch lines at 200,000 rows (too short to
measure).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from common import Bench, start_emulator, users

from fyno_pandas.ledger import Ledger, Scope

LIMIT = 200  # requests/s
GRID: list[dict[str, Any]] = [
    {"concurrency": concurrency, "batch_size": batch_size}
    for batch_size in (None, 500)
    for concurrency in (16, 64)
]
LIMITED_ROWS = 2_000  # at 200 requests/s per row: 10 s, long enough for the limit to bite
BATCH_ROWS = 1_300_000  # at 200 ms, in batches: over 20 s on a 2-core machine
RETRY_AFTER = 1.0  # seconds: the emulator's Retry-After on a random 429


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def label(setting: dict[str, Any]) -> str:
    batch = "per row" if setting["batch_size"] is None else f"batch {setting['batch_size']}"
    return f"concurrency {setting['concurrency']}, {batch}"


def sent(result: pd.DataFrame) -> int:
    return int((result["status"] == "sent").sum())


def timed(
    bench: Bench, df: pd.DataFrame, faults: dict[str, Any], ledger: Path, **settings: Any
) -> tuple[pd.DataFrame, float]:
    """One push of ``df`` into ``ledger`` against an emulator just reset to ``faults``: the
    result and the wall seconds of the call."""
    bench.configure(**faults)
    if faults.get("rate_limit"):
        time.sleep(1.0)
    result, wall, _ = bench.push(df, ledger=ledger, **settings)
    return result, wall


def best_rate(
    bench: Bench, df: pd.DataFrame, faults: dict[str, Any], repeat: int, **settings: Any
) -> tuple[float, dict[str, Any]]:
    """The best rows/s of ``repeat`` pushes, each with a fresh ledger, and the last summary."""
    best = 0.0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            result, wall = timed(bench, df, faults, Path(folder) / "ledger.sqlite", **settings)
        best = max(best, sent(result) / wall)
    return best, result.attrs["fyno"]


def cell(bench: Bench, df: pd.DataFrame, latency: float, limit: int | None, repeat: int) -> bool:
    """Print one cell's two lines; True when the defaults reach 0.8 of the grid's best."""
    faults = {"latency": latency, "rate_limit": limit}
    ours, summary = best_rate(bench, df, faults, repeat)
    chose = ", ".join(f"{k} {summary.get(k, '?')}" for k in ("mode", "batch_size", "concurrency"))
    grid = [(best_rate(bench, df, faults, repeat, **setting)[0], setting) for setting in GRID]
    top, setting = max(grid, key=lambda pair: pair[0])
    ratio = ours / top
    where = f"latency {latency * 1000:.0f} ms, {f'{limit} requests/s' if limit else 'no limit'}"
    print(
        f"{where}, {len(df):,} rows: defaults {ours:,.0f} rows/s ({chose}); best "
        f"{label(setting)} {top:,.0f} rows/s; ratio {ratio:.2f} (target >= 0.8) "
        f"{verdict(ratio >= 0.8)}"
    )
    print("    grid: " + "; ".join(f"{label(s)} {rate:,.0f}" for rate, s in grid), flush=True)
    return ratio >= 0.8


def rate_limited(bench: Bench, df: pd.DataFrame) -> None:
    """The rate-limit lines: a first push with a fresh ledger, a second into the same one."""
    faults = {"latency": 0.05, "rate_limit": LIMIT}
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.sqlite"
        for name, extra, target in (
            ("first push, fresh ledger", {}, 0.9),
            ("second push, same ledger", {"only_changed": False}, 0.95),
        ):
            result, wall = timed(bench, df, faults, ledger, batch_size=None, **extra)
            summary = result.attrs["fyno"]
            goodput = sent(result) / wall / LIMIT
            share = summary["throttled"] / summary["requests"]
            lost = len(df) - sent(result)
            print(
                f"{LIMIT} requests/s limit, per row, 50 ms latency, {len(df):,} rows, {name}: "
                f"goodput {goodput:.2f} of {LIMIT} (target >= {target}) "
                f"{verdict(goodput >= target)}; {summary['throttled']:,} of "
                f"{summary['requests']:,} requests answered 429 = {share:.1%} (target <= 2%) "
                f"{verdict(share <= 0.02)}; {lost} rows lost (must be 0) {verdict(lost == 0)}; "
                f"concurrency {summary.get('concurrency', '?')}",
                flush=True,
            )


def sporadic(bench: Bench, df: pd.DataFrame, repeat: int) -> None:
    """The sporadic-429 line: rows/s with 5% of requests throttled over rows/s without."""
    with_429, _ = best_rate(
        bench, df, {"latency": 0.05, "throttle_rate": 0.05}, repeat, batch_size=None
    )
    without, _ = best_rate(bench, df, {"latency": 0.05}, repeat, batch_size=None)
    ratio = with_429 / without
    print(
        f"sporadic 429s (5% of requests, Retry-After: 1), per row, 50 ms latency, "
        f"{len(df):,} rows: {with_429:,.0f} rows/s vs {without:,.0f} without = {ratio:.2f} "
        f"(target >= 0.8) {verdict(ratio >= 0.8)}"
    )


def sporadic_batches(bench: Bench, df: pd.DataFrame) -> None:
    """The sporadic-429 batch lines: into a fresh ledger, a push with no 429s (the baseline)
    then a second one; into another, a push with 5% random 429s then a second with none."""
    calm = {"latency": 0.2}
    with tempfile.TemporaryDirectory() as folder:
        calm_ledger, ledger = Path(folder) / "calm.sqlite", Path(folder) / "ledger.sqlite"
        baseline, calm_wall = timed(bench, df, calm, calm_ledger)
        again, again_wall = timed(bench, df, calm, calm_ledger, only_changed=False)
        first, first_wall = timed(bench, df, {**calm, "throttle_rate": 0.05}, ledger)
        second, second_wall = timed(bench, df, calm, ledger, only_changed=False)
        remembered = Ledger(ledger).learnt_rate(Scope(bench.endpoint, bench.wsid, "live"))
    calm_rate = sent(baseline) / calm_wall
    summary = first.attrs["fyno"]
    bound = calm_wall + 3 * RETRY_AFTER
    ratio = sent(second) / second_wall / calm_rate
    like = sent(second) / second_wall / (sent(again) / again_wall)
    where = f"200 ms latency, {len(df):,} rows, {summary.get('mode', '?')}"
    print(
        f"sporadic 429s in batches, {where} {summary.get('batch_size', '?')}: no 429s "
        f"{calm_wall:.1f} s ({calm_rate:,.0f} rows/s); 5% answered 429 (Retry-After: 1) "
        f"{first_wall:.1f} s (target <= {bound:.1f} s) {verdict(first_wall <= bound)}, "
        f"{summary['throttled']:,} of {summary['requests']:,} requests answered 429, learnt "
        f"{summary.get('learnt_rps', '?')} requests/s, {len(df) - sent(first)} rows lost",
        flush=True,
    )
    print(
        f"    second push, same ledger (remembering {remembered} requests/s), no 429s: "
        f"{second_wall:.1f} s = {ratio:.2f} of the fresh ledger's rows/s (target >= 0.9) "
        f"{verdict(ratio >= 0.9)}; {like:.2f} of a second push after no 429s "
        f"({again_wall:.1f} s, the same ledger state with nothing learnt)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, help="rows per push (default 5,000; --quick 1,000)")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many pushes")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rows, cells")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    rows = args.rows or (1_000 if args.quick else 5_000)
    latencies = (0.0, 0.05) if args.quick else (0.0, 0.05, 0.2)
    proc, settings = start_emulator()
    bench = Bench(settings)
    try:
        # warm-up: imports, connection setup and the first plan are not what we measure
        with tempfile.TemporaryDirectory() as folder:
            timed(bench, users(200), {}, Path(folder) / "ledger.sqlite")

        df = users(rows)
        passed = [
            cell(bench, df, lat, lim, args.repeat) for lat in latencies for lim in (None, LIMIT)
        ]
        print(
            f"defaults >= 0.8 of the best in {sum(passed)} of {len(passed)} cells "
            f"{verdict(all(passed))}"
        )
        limited = users(max(rows, LIMITED_ROWS))
        rate_limited(bench, limited)
        sporadic(bench, limited, args.repeat)
        sporadic_batches(bench, users(200_000 if args.quick else BATCH_ROWS))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
