"""Memory and throughput of `push_frames` on a table that never sits whole in memory.

Run: ``python benchmarks/push_memory.py [--quick]``

Starts the emulator as a subprocess (``common.start_emulator``), then runs each push in a
fresh Python process of its own, so its peak RSS (``ru_maxrss``) is that push's alone:

1. in memory: a 500,000-row frame built first, then ``push(df, batch_size=500)``;
2. in chunks: 5,000,000 rows generated 100,000 at a time and sent with
   ``push_frames(chunks, batch_size=500, output="result.parquet")``.

The in-memory push runs three times (its median is kept), the chunked one once; both with a
fresh ledger file (the default: every acknowledgement recorded, so the chunked push also writes
ten times as many users into its ledger) and with ``ledger=False`` (the chunking alone).
Printed for each: the chunked push's peak RSS (target < 600 MB) beside the in-memory push's,
whose RSS grows with its rows, and the chunked rows/s as a fraction of the in-memory rows/s
(target >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from common import child_figures, numbered_chunks, numbered_users, start_emulator

from fyno_pandas import push, push_frames

CHUNK_ROWS = 100_000
BATCH_SIZE = 500


def child(mode: str, rows: int, settings: dict[str, str], work: Path, ledger: bool) -> None:
    """One push in this process; prints its rows/s and peak RSS as JSON."""
    destination = {
        "wsid": settings["FYNO_WSID"],
        "api_key": settings["FYNO_API_KEY"],
        "endpoint": settings["FYNO_ENDPOINT"],
        "batch_size": BATCH_SIZE,
        "ledger": work / f"{mode}-{os.getpid()}.sqlite" if ledger else False,
        "preview": False,
        "progress": False,
    }
    if mode == "memory":
        df = numbered_users(rows, 0)
        started = time.perf_counter()
        sent = push(df, "user_id", **destination).attrs["fyno"]["sent"]
    else:
        started = time.perf_counter()
        summary = push_frames(
            numbered_chunks(rows, CHUNK_ROWS),
            "user_id",
            output=work / "result.parquet",
            **destination,
        )
        sent = summary["sent"]
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows_per_s": rows / elapsed, "peak_mb": peak_mb, "sent": sent}))


def run(
    mode: str, rows: int, settings: dict[str, str], work: Path, ledger: bool
) -> dict[str, float]:
    flags = ["--ledger"] if ledger else []
    figures = child_figures(
        __file__, settings, mode, str(rows), json.dumps(settings), str(work), *flags
    )
    if figures["sent"] != rows:
        raise RuntimeError(f"{mode}: {figures['sent']} of {rows} rows sent")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows (a smoke run)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--ledger", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, rows, settings, work = args.child
        child(mode, int(rows), json.loads(settings), Path(work), args.ledger)
        return
    scale = 10 if args.quick else 1
    in_memory_rows, chunked_rows = 500_000 // scale, 5_000_000 // scale
    proc, settings = start_emulator()
    try:
        for ledger in (True, False):
            with tempfile.TemporaryDirectory() as work:
                # The in-memory push is short, so its rows/s varies more: median of three.
                runs = [
                    run("memory", in_memory_rows, settings, Path(work), ledger) for _ in range(3)
                ]
                memory = sorted(runs, key=lambda r: r["rows_per_s"])[1]
                chunked = run("chunks", chunked_rows, settings, Path(work), ledger)
            report(
                "ledger on" if ledger else "ledger=False",
                memory,
                chunked,
                in_memory_rows,
                chunked_rows,
            )
    finally:
        proc.terminate()
        proc.wait()


def report(
    label: str,
    memory: dict[str, float],
    chunked: dict[str, float],
    in_memory_rows: int,
    chunked_rows: int,
) -> None:
    ratio = chunked["rows_per_s"] / memory["rows_per_s"]
    print(
        f"{label}: in memory, {in_memory_rows:,} rows: {memory['rows_per_s']:,.0f} rows/s, "
        f"peak RSS {memory['peak_mb']:,.0f} MB"
    )
    print(
        f"{label}: in chunks of {CHUNK_ROWS:,}, {chunked_rows:,} rows: "
        f"{chunked['rows_per_s']:,.0f} rows/s = {ratio:.2f} of in memory (target >= 0.9), "
        f"peak RSS {chunked['peak_mb']:,.0f} MB (target < 600 MB; "
        f"{chunked['peak_mb'] / memory['peak_mb']:.2f}x the in-memory push of a tenth of the rows)",
        flush=True,
    )


if __name__ == "__main__":
    main()
