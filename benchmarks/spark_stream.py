"""How a PySpark DataFrame best reaches the driver a partition at a time, as pandas chunks.

Run: ``python benchmarks/spark_stream.py [--rows N]`` (pyspark and Java 17 needed)

Each candidate runs in a fresh Python process with its own local Spark (``local[2]``, 8
partitions), reads every row of a generated frame (an id, text, a double with nulls, a
boolean, a timestamp, a list) as pandas chunks of 100,000 rows and drops them, as the push's
chunk loop would after sending. Printed per candidate: rows/s of the reading alone (the push
itself is bound by the API's rate) and the peak RSS of the Python driver and of the JVM (in
local mode the JVM runs the executors too):

- ``rows``: ``toLocalIterator(prefetchPartitions=True)``, rows gathered with
  ``pandas.DataFrame.from_records``;
- ``arrow``: `fyno_pandas.spark.arrow_reader` (``mapInArrow`` batches as Arrow IPC cells,
  ``toLocalIterator(prefetchPartitions=True)``) through `fyno_pandas.sources.arrow.arrow_chunks`;
- ``whole``: ``toArrow()`` (the whole table on the driver at once), for scale;
- ``push``: the whole of a streamed `fyno_pandas.spark.push` to the emulator (run as a
  subprocess, ``common.start_emulator``), ``batch_size=500``, no ledger, the result written to
  a Parquet file (``output=``, so the driver holds no result): the rows/s are then the push's,
  bound by the emulator sharing these cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import start_emulator

CANDIDATES = ("rows", "arrow", "whole", "push")
CHUNK_ROWS = 100_000


def session() -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    return (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )


def frame(spark: Any, rows: int) -> Any:
    return spark.range(rows, numPartitions=8).selectExpr(
        "format_string('u%09d', id) as uid",
        "array('free', 'pro', 'team')[cast(id % 3 as int)] as plan",
        "if(id % 7 = 0, null, id * 1.5) as ltv",
        "id % 2 = 0 as active",
        "timestamp_seconds(id) as signup",
        "if(id % 4 = 0, null, array('a', 'b')) as tags",
    )


def chunks(candidate: str, sdf: Any) -> Any:
    import pandas as pd

    from fyno_pandas.sources.arrow import arrow_chunks
    from fyno_pandas.spark import arrow_reader

    if candidate == "arrow":
        return arrow_chunks(arrow_reader(sdf))
    if candidate == "whole":
        return arrow_chunks(sdf.toArrow())
    rows = sdf.toLocalIterator(prefetchPartitions=True)
    batched = iter(lambda: list(itertools.islice(rows, CHUNK_ROWS)), [])
    return (pd.DataFrame.from_records(batch, columns=sdf.columns) for batch in batched)


def jvm_peak_mb() -> float:
    """The peak RSS of this process's Java child (the local Spark driver and executors)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(os.getpid()) and "java" in fields["Name"]:
            return int(fields["VmHWM"].split()[0]) / 1024
    return float("nan")


def measure(candidate: str, rows: int) -> dict[str, float]:
    spark = session()
    sdf = frame(spark, rows)
    frame(spark, 1000).count()  # the JVM warmed up, outside the timing
    start = time.perf_counter()
    if candidate == "push":
        import fyno_pandas.spark

        quiet = {"preview": False, "progress": False, "ledger": False}
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "result.parquet"
            summary = fyno_pandas.spark.push(sdf, "uid", batch_size=500, output=output, **quiet)
        seen = summary["sent"]
    else:
        seen = sum(len(chunk) for chunk in chunks(candidate, sdf))
    seconds = time.perf_counter() - start
    assert seen == rows, (candidate, seen)
    return {
        "rows_per_s": rows / seconds,
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "jvm_peak_mb": jvm_peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--candidate", choices=CANDIDATES)
    parser.add_argument("--only", nargs="+", choices=CANDIDATES, default=CANDIDATES)
    args = parser.parse_args()
    if args.candidate:
        print(json.dumps(measure(args.candidate, args.rows)))
        return
    emulator, settings = start_emulator()
    try:
        for candidate in args.only:
            report(candidate, args.rows, {**os.environ, **settings})
    finally:
        emulator.terminate()
        emulator.wait()


def report(candidate: str, rows: int, env: dict[str, str]) -> None:
    run = [sys.executable, __file__, "--rows", str(rows), "--candidate", candidate]
    out = subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    print(
        f"{candidate:6} {figures['rows_per_s']:>10,.0f} rows/s   driver peak "
        f"{figures['driver_peak_mb']:6.0f} MB   JVM peak {figures['jvm_peak_mb']:6.0f} MB"
    )


if __name__ == "__main__":
    main()
