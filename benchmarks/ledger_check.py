"""Ledger speed: recording acks, and the ``only_changed`` check for 1,000,000 rows x 7 properties.

Run: ``python benchmarks/ledger_check.py [--rows 1000000] [--props 7]``. Prints one line per
figure. The check is what ``plan(only_changed=True)`` adds to planning:
``fyno_pandas.ledger.bridge.skip_acknowledged`` (hash the plan's values, read the scope's
stored states, compare, restrict the plan), timed against planning the same rows.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from fyno_pandas.ledger import Ledger, Scope
from fyno_pandas.ledger.bridge import AckRecorder, skip_acknowledged
from fyno_pandas.planning.build import build_plan

ENDPOINT, WSID, VERSION = "http://127.0.0.1:9/v1", "FYBENCH", "live"
SCOPE = Scope(ENDPOINT, WSID, VERSION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--props", type=int, default=7)
    parser.add_argument("--group", type=int, default=500, help="acks per record_acks call")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    frame = pd.DataFrame({"user_id": [f"user-{i:07d}" for i in range(n)]})
    makers = [
        lambda: rng.normal(100, 30, n),
        lambda: rng.integers(0, 1000, n),
        lambda: rng.random(n) < 0.5,
        lambda: pd.Categorical(rng.choice(["free", "pro", "team"], n)),
        lambda: (
            pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**8, n), "s")
        ),
        lambda: np.array([f"city {i}" for i in rng.integers(0, 500, n)], dtype=object),
        lambda: rng.normal(0, 1, n),
    ]
    for k in range(args.props):
        frame[f"prop_{k}"] = makers[k % len(makers)]()
    start = time.perf_counter()
    plan = build_plan(frame, "user_id")
    planned = time.perf_counter() - start
    hashes = {p: plan.value_hashes(p) for p in plan.properties}
    hashed = time.perf_counter() - start - planned
    print(
        f"build_plan {n:,} rows x {args.props} props: {planned:.2f} s "
        f"(+ value_hashes {hashed:.2f} s)"
    )
    ids = plan.distinct_ids
    props = plan.properties
    types = plan.fyno_types

    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "ledger.sqlite") as ledger:
        push = ledger.begin_push(SCOPE, {"bench": True})
        columns = [hashes[p].tolist() for p in props]
        start = time.perf_counter()
        for lo in range(0, args.rows, args.group):
            acks = [
                (
                    ids[i],
                    {p: col[i] for p, col in zip(props, columns, strict=True)},
                    types,
                    f"req-{i}",
                )
                for i in range(lo, min(lo + args.group, args.rows))
            ]
            ledger.record_acks(SCOPE, push, acks)
        elapsed = time.perf_counter() - start
        print(
            f"record_acks: {args.rows:,} acks x {args.props} props in {elapsed:.2f} s "
            f"({args.rows / elapsed:,.0f} acks/s, groups of {args.group})"
        )

        # What a per-row push does: 16 workers, each waiting for its ack to be committed.
        writer = ledger.ack_writer(SCOPE, push)
        recorder = AckRecorder(plan, ledger, SCOPE, push, writer)
        n_threads, per_thread = 16, min(500, args.rows // 16)

        def work(t: int) -> None:
            for i in range(t * per_thread, (t + 1) * per_thread):
                recorder((i,), f"t{t}-{i}")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        print(
            f"AckWriter: {writer.acks:,} acks from {n_threads} threads in {elapsed:.2f} s "
            f"({writer.acks / elapsed:,.0f} acks/s, {writer.commits} commits)"
        )

        # Half the rows changed one property since the ledger's push: plan them again, and
        # time what plan(only_changed=True) adds, bridge.skip_acknowledged (hash the plan's
        # values, load the scope, join, restrict).
        changed = frame.copy()
        changed.loc[::2, props[0]] = changed.loc[::2, props[0]] + 1
        start = time.perf_counter()
        replan = build_plan(changed, "user_id")
        planned = time.perf_counter() - start
        destination = SimpleNamespace(endpoint=ENDPOINT, wsid=WSID, version=VERSION)
        start = time.perf_counter()
        kept = skip_acknowledged(replan, ledger, destination)
        total = time.perf_counter() - start
        print(
            f"check {args.rows:,} rows x {args.props} props (only_changed): {total:.2f} s, "
            f"{kept.values_unchanged:,} values unchanged, {len(kept):,} rows to send; "
            f"planning them took {planned:.2f} s; check / plan = {total / planned:.2f} "
            "(target <= 0.5)"
        )
        few = ids[rng.choice(args.rows, size=1000, replace=False)]
        start = time.perf_counter()
        acked_few = ledger.acknowledged_hashes(SCOPE, few)
        print(
            f"check 1,000 of {args.rows:,} users: {time.perf_counter() - start:.3f} s "
            f"({len(acked_few):,} values)"
        )
        print(f"file size: {(Path(tmp) / 'ledger.sqlite').stat().st_size / 1e6:,.0f} MB")
        print(f"pandas {pd.__version__}")


if __name__ == "__main__":
    main()
