"""Pushing a Parquet folder from each source: rows/s against pandas chunks, and peak memory.

Run: ``python benchmarks/sources.py [--rows N]`` (5,000,000 by default)

Writes N rows of six mixed columns (text id, text, float, boolean, UTC timestamp, integer) as
a folder of ten Parquet files, starts the emulator as a subprocess (``common.start_emulator``)
at 0 ms latency, and pushes the folder in batch mode (``batch_size=500``, ``ledger=False``,
the result streamed to a file with ``output=``) through each source, each in a fresh Python
process of its own so its peak RSS (``ru_maxrss``) is that push's alone:

a. `push_frames` over pandas chunks of 100,000 rows read from the files (the baseline);
b. a Polars ``scan_parquet`` LazyFrame, ``lazy.fyno.push`` (batches of its streaming engine);
c. a ``pyarrow.dataset`` of the folder, handed to `push_frames`;
d. a DuckDB relation ``read_parquet('folder/*.parquet')``, handed to `push_frames`.

Printed for each: rows/s, the ratio to (a) in the same run (target >= 0.8) and peak RSS
(target < 600 MB).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from common import child_figures, start_emulator

from fyno_pandas import push_frames

FILES = 10
CHUNK_ROWS = 100_000
BATCH_SIZE = 500
SOURCES = {
    "pandas": "a. push_frames over pandas chunks",
    "polars": "b. Polars scan_parquet (lazy.fyno.push)",
    "dataset": "c. pyarrow dataset",
    "duckdb": "d. DuckDB read_parquet relation",
}


def write_folder(rows: int, folder: Path) -> None:
    """``rows`` users in `FILES` Parquet files, written a file at a time."""
    per_file = -(-rows // FILES)
    for number, start in enumerate(range(0, rows, per_file)):
        ids = np.arange(start, min(rows, start + per_file))
        table = pa.table(
            {
                "user_id": pd.Series(ids).map("u{:09d}".format).to_numpy(),
                "plan": np.array(["free", "pro", "team"])[ids % 3],
                "ltv": (ids % 10_000) * 0.25,
                "active": ids % 2 == 0,
                "signup": pa.array(
                    (1_700_000_000 + ids * 60) * 1_000_000, pa.timestamp("us", tz="UTC")
                ),
                "visits": ids % 1_000,
            }
        )
        pq.write_table(table, folder / f"part-{number:02d}.parquet", row_group_size=CHUNK_ROWS)


def pandas_chunks(folder: Path) -> Iterator[pd.DataFrame]:
    start = 0
    for path in sorted(folder.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame


def source_of(name: str, folder: Path) -> object:
    """What each source hands the push (imported here: each child imports only its own)."""
    if name == "pandas":
        return pandas_chunks(folder)
    if name == "polars":
        import polars as pl

        import fyno_pandas.polars  # noqa: F401  (registers lazy.fyno)

        return pl.scan_parquet(folder / "*.parquet")
    if name == "dataset":
        import pyarrow.dataset as ds

        return ds.dataset(folder, format="parquet")
    import duckdb

    return duckdb.sql(f"select * from read_parquet('{folder}/*.parquet')")


def child(name: str, rows: int, settings: dict[str, str], folder: Path) -> None:
    """One push in this process; prints its rows/s and peak RSS as JSON."""
    options = {
        "wsid": settings["FYNO_WSID"],
        "api_key": settings["FYNO_API_KEY"],
        "endpoint": settings["FYNO_ENDPOINT"],
        "batch_size": BATCH_SIZE,
        "ledger": False,
        "preview": False,
        "progress": False,
        "output": folder.parent / f"result-{name}.parquet",
    }
    source = source_of(name, folder)
    started = time.perf_counter()
    if name == "polars":
        summary = source.fyno.push("user_id", **options)  # type: ignore[attr-defined]
    else:
        summary = push_frames(source, "user_id", **options)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows_per_s": rows / elapsed, "peak_mb": peak_mb, "sent": summary["sent"]}))


def run(name: str, rows: int, settings: dict[str, str], folder: Path) -> dict[str, float]:
    figures = child_figures(__file__, settings, name, str(rows), json.dumps(settings), str(folder))
    if figures["sent"] != rows:
        raise RuntimeError(f"{name}: {figures['sent']} of {rows} rows sent")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows in the folder")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, rows, settings, folder = args.child
        child(name, int(rows), json.loads(settings), Path(folder))
        return
    proc, settings = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work) / "users"
            folder.mkdir()
            write_folder(args.rows, folder)
            figures = {name: run(name, args.rows, settings, folder) for name in SOURCES}
    finally:
        proc.terminate()
        proc.wait()
    baseline = figures["pandas"]["rows_per_s"]
    print(f"{args.rows:,} rows from a Parquet folder, batch mode, 0 ms latency, ledger=False:")
    for name, label in SOURCES.items():
        ratio = figures[name]["rows_per_s"] / baseline
        print(
            f"{label}: {figures[name]['rows_per_s']:,.0f} rows/s = {ratio:.2f} of (a) "
            f"(target >= 0.8), peak RSS {figures[name]['peak_mb']:,.0f} MB (target < 600 MB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
