"""Pushing from an Arrow stream: the same stored state as a pandas push of the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

ROWS = 1_000


def segment() -> pa.Table:
    """1,000 users of every Fyno type, with nulls, lists, instants, date-like text and a column
    added to what each user holds."""
    k = np.arange(ROWS)
    return pa.table(
        {
            "uid": [f"u{i:04d}" for i in k],
            "plan": pa.array(np.array(["free", "pro", None], dtype=object)[k % 3]),
            "ltv": pa.array(np.where(k % 7 == 0, np.nan, k * 1.5), from_pandas=True),
            "active": pa.array([None if i % 5 == 0 else bool(i % 2) for i in k]),
            "signup": pa.array(k * 86_400_000_000, pa.timestamp("us", tz="UTC")),
            "seen": pa.array(k * 3_600_000_000, pa.timestamp("us")),
            "tags": pa.array([["a", "b"][: i % 3] if i % 4 else None for i in k]),
            "code": pa.array([f"2024-01-{1 + i % 28:02d}" for i in k]),
            "credits": pa.array(k % 4),  # added to what the user holds
        }
    )


def stored(fyno: FynoEmulator, push: object) -> tuple[dict, object]:
    where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
    result = push(**where, ops={"credits": "add"}, preview=False, progress=False, batch_size=100)
    return fyno.profiles, result


@pytest.mark.parametrize("source", ["table", "reader", "protocol", "dataset"])
def test_an_arrow_source_stores_what_a_pandas_push_of_its_rows_stores(
    source: str, tmp_path: Path
) -> None:
    table = segment()
    if source == "reader":
        given = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(333))
    elif source == "protocol":
        given = type("Stream", (), {"__arrow_c_stream__": table.__arrow_c_stream__})()
    elif source == "dataset":
        pq.write_table(table, tmp_path / "users.parquet", row_group_size=250)
        given = ds.dataset(tmp_path / "users.parquet")
    else:
        given = table
    with FynoEmulator(seed=0) as pandas_side, FynoEmulator(seed=0) as arrow_side:
        expected, _ = stored(
            pandas_side, lambda **kw: fyno_pandas.push(table.to_pandas(), "uid", **kw)
        )
        held, result = stored(arrow_side, lambda **kw: fyno_pandas.push_frames(given, "uid", **kw))
    assert len(result) == ROWS
    assert result["distinct_id"].tolist() == table.column("uid").to_pylist()
    assert held == expected
    assert len(held) == ROWS
