"""The daily sync and its memory: a push's footprint and a second push of the same users.

Run: ``python benchmarks/daily_sync.py [--rows 1000000] [--quick]``

Starts the emulator as a subprocess (``common.start_emulator``) and measures each figure in a
fresh Python process of its own (batch defaults, the ledger on, a fresh ledger file each), on
``common.users`` plus a bool column (six columns). Printed, as ratios:

(a) memory, each over the frame's size (``df.memory_usage(deep=True).sum()``):

- planning: the process's RSS after ``plan(df)`` minus its RSS before (the plan held);
- the result: ``result.memory_usage(deep=True).sum()`` of ``push(df)``;
- the push's peak: the highest RSS a thread sampled every 5 ms during ``push(df)``, minus the
  RSS just before it (target <= 5x);

(b) the daily sync: ``push(df)`` into a fresh ledger, then 1% of the rows get a new ``ltv``
and the frame is pushed again into the same ledger (``only_changed``, the default): that second
push's seconds over the seconds of ``plan(df, ledger=False)`` of the same frame in the same
process (planning alone; target <= 1.5x). Both timed three times each, alternating, after the
first push; the medians are compared.

``--quick`` is a smoke run of 100,000 rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
from common import start_emulator, users

from fyno_pandas import plan, push

CHANGED_SHARE = 0.01
_PAGE = os.sysconf("SC_PAGE_SIZE")


def frame(rows: int) -> pd.DataFrame:
    df = users(rows)
    df["verified"] = np.arange(rows) % 3 == 0
    return df


def rss() -> int:
    """This process's resident set size, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def peak_during(work: Callable[[], Any]) -> tuple[Any, int]:
    """``work()``'s return value and the highest RSS sampled while it ran."""
    highest, done = [rss()], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            highest[0] = max(highest[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = work()
    finally:
        done.set()
        sampler.join()
    return out, max(highest[0], rss())


def child(kind: str, rows: int, settings: dict[str, str], ledger: Path) -> dict[str, float]:
    """One measurement in this process (``kind``: planning, push or sync)."""
    where = {
        "wsid": settings["FYNO_WSID"],
        "api_key": settings["FYNO_API_KEY"],
        "endpoint": settings["FYNO_ENDPOINT"],
        "ledger": ledger,
    }
    quiet = {"preview": False, "progress": False}
    df = frame(rows)
    figures: dict[str, float] = {"frame": float(df.memory_usage(deep=True).sum())}
    gc.collect()
    before = rss()
    if kind == "planning":
        the_plan = plan(df, "user_id", **where)
        figures["planning"] = rss() - before
        figures["rows"] = len(the_plan)
    elif kind == "push":
        result, peak = peak_during(lambda: push(df, "user_id", **where, **quiet))
        figures["peak"] = peak - before
        figures["result"] = float(result.memory_usage(deep=True).sum())
        figures["sent"] = int((result["status"] == "sent").sum())
    else:
        figures.update(daily_sync(df, where, quiet))
    return figures


def daily_sync(df: pd.DataFrame, where: dict[str, Any], quiet: dict[str, bool]) -> dict[str, float]:
    """Seconds of planning alone and of the second push, three of each, alternating."""
    push(df, "user_id", **where, **quiet)
    rng = np.random.default_rng(1)
    changed = rng.choice(len(df), int(len(df) * CHANGED_SHARE), replace=False)
    df.loc[df.index[changed], "ltv"] = df["ltv"].iloc[changed] + 1.0
    planning, second, sent = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        plan(df, "user_id", **{**where, "ledger": False})
        planning.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = push(df, "user_id", **where, **quiet)
        second.append(time.perf_counter() - started)
        sent.append(int((result["status"] == "sent").sum()))
        df.loc[df.index[changed], "ltv"] = df["ltv"].iloc[changed] + 1.0
    return {
        "planning_s": statistics.median(planning),
        "second_s": statistics.median(second),
        "changed": len(changed),
        "sent": min(sent),
    }


def run(kind: str, rows: int, settings: dict[str, str], work: Path) -> dict[str, float]:
    control = settings["FYNO_ENDPOINT"].rsplit("/v1", 1)[0] + "/__emulator"
    requests.post(control + "/reset", timeout=60).raise_for_status()
    ledger = work / f"{kind}.sqlite"
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(rows), json.dumps(settings), str(ledger)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows (a smoke run)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, rows, settings, ledger = args.child
        print(json.dumps(child(kind, int(rows), json.loads(settings), Path(ledger))))
        return
    rows = 100_000 if args.quick else args.rows
    proc, settings = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as work:
            planned = run("planning", rows, settings, Path(work))
            pushed = run("push", rows, settings, Path(work))
            synced = run("sync", rows, settings, Path(work))
    finally:
        proc.terminate()
        proc.wait()
    report(rows, planned, pushed, synced)


def report(rows: int, planned: dict, pushed: dict, synced: dict) -> None:
    size = pushed["frame"]
    mb = 1e6
    if pushed["sent"] != rows:
        raise RuntimeError(f"the push sent {pushed['sent']} of {rows} rows")
    print(f"{rows:,} users x 6 columns: frame {size / mb:.0f} MB")
    print(f"  planning: RSS +{planned['planning'] / mb:.0f} MB = {planned['planning'] / size:.1f}x")
    print(f"  result: {pushed['result'] / mb:.0f} MB = {pushed['result'] / size:.1f}x")
    ratio = pushed["peak"] / size
    verdict = "PASS" if ratio <= 5 else "MISS"
    print(
        f"  push peak above the RSS before it: {pushed['peak'] / mb:.0f} MB = {ratio:.1f}x "
        f"(target <= 5x: {verdict})"
    )
    ratio = synced["second_s"] / synced["planning_s"]
    verdict = "PASS" if ratio <= 1.5 else "MISS"
    print(
        f"  daily sync, {synced['changed']:,} rows changed ({synced['sent']:,} sent): second "
        f"push {synced['second_s']:.2f} s, planning alone {synced['planning_s']:.2f} s = "
        f"{ratio:.2f}x (target <= 1.5x: {verdict})",
        flush=True,
    )


if __name__ == "__main__":
    main()
