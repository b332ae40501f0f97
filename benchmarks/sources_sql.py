"""Memory and throughput of `push_query` on a PostgreSQL table, beside `push_frames` of its rows.

Run: ``python benchmarks/sources_sql.py [--quick]`` (needs PostgreSQL's initdb and pg_ctl, and
the ``sql`` extra; ADBC's figures need ``adbc-driver-postgresql``, and are skipped without it)

Starts the emulator (0 ms latency) and a throwaway PostgreSQL cluster (``tests/e2e/pg_cluster.py``,
as the SQL sources' tests do), loads 1,000,000 users, then runs each step in a fresh Python
process of its own, so its peak RSS (``ru_maxrss``) is that step's alone:

1. ``push_query("select * from users", url, "user_id", output="result.parquet")`` in batch mode,
   given the URL (read through ADBC's Arrow when ``adbc-driver-postgresql`` is installed) and
   given an Engine (read through SQLAlchemy's server-side cursor);
2. ``push_frames`` over pandas chunks of the same rows, made in memory (no database);
3. the query read alone, three ways: SQLAlchemy's server-side cursor, ``pandas.read_sql(
   chunksize=)`` without it (psycopg's client-side cursor holds the whole result) and ADBC:
   whether the reading streams, and what it costs beside the push.

Printed: each step's rows/s and peak RSS (the push's target < 600 MB), and each `push_query`'s
rows/s and peak RSS as a ratio of `push_frames`'.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from common import numbered_chunks, numbered_users, start_emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from pg_cluster import cluster, missing  # the tests' cluster, found on the path above

import fyno_pandas

CHUNK_ROWS = 100_000
BATCH_SIZE = 500
LOAD = """
create table users as
select 'u' || lpad(i::text, 9, '0') as user_id,
       (array['free', 'pro', 'team'])[i % 3 + 1] as plan,
       (i % 10000) * 0.25::float8 as ltv,
       i % 2 = 0 as active,
       timestamptz '2024-01-01 00:00:00+00' + (i % 365) * interval '1 day' as signup
from generate_series(0, %s - 1) as i;
grant select on users to analyst;
"""


def users(n: int, start: int) -> pd.DataFrame:
    """The rows ``LOAD`` makes, ``start`` to ``start + n``, as pandas builds them."""
    ids = np.arange(start, start + n)
    signup = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(ids % 365, unit="D")
    return numbered_users(n, start).assign(signup=signup)


def read(mode: str, url: str) -> Iterator[pd.DataFrame]:
    """The query's rows as pandas chunks, read the ``mode`` way."""
    from fyno_pandas.sources.sql import query_rows

    sql = "select * from users"
    if mode == "read_stream":
        import sqlalchemy as sa

        yield from query_rows(sql, sa.create_engine(url), CHUNK_ROWS)
    elif mode == "read_buffered":
        import sqlalchemy as sa

        with sa.create_engine(url).connect() as connection:
            yield from pd.read_sql(sa.text(sql), connection, chunksize=CHUNK_ROWS)
    else:
        from fyno_pandas.sources.adbc import adbc_uri

        if adbc_uri(url) is None:
            raise ImportError("No module named 'adbc_driver_postgresql'")
        yield from query_rows(sql, url, CHUNK_ROWS)


def child(mode: str, rows: int, settings: dict[str, str], url: str, work: Path) -> None:
    """One step in this process; prints its rows/s and peak RSS as JSON."""
    destination = {
        "wsid": settings["FYNO_WSID"],
        "api_key": settings["FYNO_API_KEY"],
        "endpoint": settings["FYNO_ENDPOINT"],
        "batch_size": BATCH_SIZE,
        "ledger": work / f"{mode}.sqlite",
        "preview": False,
        "progress": False,
        "output": work / f"{mode}.parquet",
    }
    started = time.perf_counter()
    if mode.startswith("query"):
        import sqlalchemy as sa

        con = url if mode == "query" else sa.create_engine(url)
        done = fyno_pandas.push_query("select * from users", con, "user_id", **destination)["sent"]
    elif mode == "frames":
        done = fyno_pandas.push_frames(
            numbered_chunks(rows, CHUNK_ROWS, users), "user_id", **destination
        )["sent"]
    else:
        done = sum(len(chunk) for chunk in read(mode, url))
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows_per_s": rows / elapsed, "peak_mb": peak_mb, "rows": done}))


def run(mode: str, rows: int, settings: dict[str, str], url: str, work: Path) -> dict | None:
    control = settings["FYNO_ENDPOINT"].rsplit("/v1", 1)[0] + "/__emulator"
    requests.post(control + "/reset", timeout=60).raise_for_status()
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            str(rows),
            json.dumps(settings),
            url,
            str(work),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode and "No module named 'adbc_driver_postgresql'" in out.stderr:
        return None
    if out.returncode:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["rows"] != rows:
        raise RuntimeError(f"{mode}: {figures['rows']} of {rows} rows")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows (a smoke run)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, rows, settings, url, work = args.child
        child(mode, int(rows), json.loads(settings), url, Path(work))
        return
    reason = missing()
    if reason is not None:
        sys.exit(f"cannot start PostgreSQL: {reason}")
    rows = 1_000_000 // (10 if args.quick else 1)
    proc, settings = start_emulator()
    try:
        with cluster() as running, tempfile.TemporaryDirectory() as work:
            with running.admin() as admin:  # type: ignore[attr-defined]
                admin.execute(LOAD.replace("%s", str(rows)))
            figures = {
                mode: run(mode, rows, settings, running.url(), Path(work))
                for mode in (
                    "query",
                    "query_engine",
                    "frames",
                    "read_stream",
                    "read_buffered",
                    "read_adbc",
                )
            }
    finally:
        proc.terminate()
        proc.wait()
    report(figures, rows)


def report(figures: dict[str, dict | None], rows: int) -> None:
    labels = {
        "query": "push_query (PostgreSQL URL: ADBC)",
        "query_engine": "push_query (PostgreSQL Engine: server-side cursor)",
        "frames": "push_frames (pandas chunks)",
        "read_stream": "read only: server-side cursor",
        "read_buffered": "read only: read_sql(chunksize=) alone",
        "read_adbc": "read only: ADBC Arrow stream",
    }
    for mode, label in labels.items():
        got = figures[mode]
        if got is None:
            print(f"{label}: skipped (adbc-driver-postgresql is not installed)")
            continue
        rate, peak = got["rows_per_s"], got["peak_mb"]
        print(f"{label}, {rows:,} rows: {rate:,.0f} rows/s, peak RSS {peak:,.0f} MB")
    frames = figures["frames"]
    assert frames is not None
    for mode in ("query", "query_engine"):
        query = figures[mode]
        if query is not None:
            print(
                f"{labels[mode]} / push_frames: rows/s "
                f"{query['rows_per_s'] / frames['rows_per_s']:.2f}, peak RSS "
                f"{query['peak_mb'] / frames['peak_mb']:.2f} (target < 600 MB: "
                f"{query['peak_mb']:,.0f} MB)",
                flush=True,
            )


if __name__ == "__main__":
    main()
