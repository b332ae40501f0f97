"""Pushing from an Arrow stream: the same stored state as a pandas push of the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fyno_pandas
import fyno_pandas.polars
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


@pytest.mark.parametrize("source", ["table", "reader", "protocol", "dataset", "polars stream"])
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
    elif source == "polars stream":  # its stream nests string_view in the tags' lists
        given = pl.from_arrow(table)
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


@pytest.mark.parametrize("lazy", [False, True], ids=["polars eager", "polars lazy"])
def test_a_polars_frame_stores_what_a_pandas_push_of_its_rows_stores(
    lazy: bool, tmp_path: Path
) -> None:
    table = segment()
    frame = pl.from_arrow(table)
    if lazy:  # a Parquet folder scanned lazily, as a large segment would be
        pq.write_table(table.slice(0, 600), tmp_path / "a.parquet")
        pq.write_table(table.slice(600), tmp_path / "b.parquet")
        frame = pl.scan_parquet(tmp_path / "*.parquet")
    with FynoEmulator(seed=0) as pandas_side, FynoEmulator(seed=0) as polars_side:
        expected, _ = stored(
            pandas_side, lambda **kw: fyno_pandas.push(table.to_pandas(), "uid", **kw)
        )
        held, result = stored(polars_side, lambda **kw: frame.fyno.push("uid", **kw))
    assert isinstance(result, pl.DataFrame)
    assert result["distinct_id"].to_list() == table.column("uid").to_pylist()
    assert fyno_pandas.polars.summary(result)["sent"] == ROWS
    assert held == expected
    assert len(held) == ROWS


@pytest.mark.parametrize("lazy", [False, True], ids=["polars eager", "polars lazy"])
def test_retry_failed_resends_a_polars_frames_failed_rows_once(lazy: bool) -> None:
    frame = pl.from_arrow(segment())
    given = frame.lazy() if lazy else frame
    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        options = {**where, "preview": False, "progress": False, "batch_size": 100}
        fyno.configure(error_requests=[8, 12], error_statuses=[400])  # after the seeds; not stored
        first = given.fyno.push("uid", **options, ops={"credits": "add"})
        failed = first.filter(pl.col("status") == "failed")["distinct_id"].to_list()
        assert len(failed) >= 100  # two batches' rows (the lazy push seeds in its own)
        fyno.configure(error_requests=[])

        again = given.fyno.retry_failed(first, "uid", **options)
        held = fyno.profiles
    assert again["status"].to_list() == ["sent"] * ROWS
    assert fyno_pandas.polars.summary(again)["sent"] == ROWS
    credits = dict(zip(frame["uid"].to_list(), frame["credits"].to_list(), strict=True))
    assert {uid: held[uid].get("credits") for uid in failed} == {  # added once
        uid: credits[uid] for uid in failed
    }


def test_a_lazy_mirror_push_clears_the_leavers_once_after_its_last_batch(tmp_path: Path) -> None:
    ids = [f"u{i}" for i in range(6)]
    with FynoEmulator(seed=0) as fyno:
        options = {
            "wsid": fyno.wsid,
            "api_key": fyno.api_key,
            "endpoint": fyno.endpoint,
            "ledger": tmp_path / "ledger.sqlite",
            "preview": False,
            "progress": False,
        }
        pl.LazyFrame({"uid": ids, "segment": "churn-risk"}).fyno.push("uid", **options)
        stayers = pl.LazyFrame({"uid": ids[:4], "segment": "churn-risk"})
        result = stayers.fyno.push("uid", mirror=True, **options)
        held = fyno.profiles
    assert result.filter(pl.col("mirror_clear"))["distinct_id"].to_list() == ids[4:]
    assert {uid: held[uid].get("segment") for uid in ids} == {
        **dict.fromkeys(ids[:4], "churn-risk"),
        **dict.fromkeys(ids[4:]),
    }
