"""`conform` reads a result back, from a file or as pushed, in the result's own dtypes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fyno_pandas.results.columns import COLUMNS, DTYPES, result_frame
from fyno_pandas.results.replay import conform


def a_result() -> pd.DataFrame:
    return result_frame(
        {
            "distinct_id": ["u1", "u2", None],
            "status": ["sent", "in_doubt", "skipped"],
            "request_id": ["r1", "r2", None],
            "http_status": [202, 500, None],
            "attempts": [1, 3, 0],
            "error": [None, "HTTP 500", "missing_id"],
            "dropped": [[], ["ltv", "plan"], []],
            "request_ids": [["r1"], ["r2", "r3"], []],
            "mirror_clear": [False, False, False],
            "push_id": [7, 7, None],
            "applied": [None, '{"logins": [1, 0]}', None],
        },
        pd.RangeIndex(3),
    )


def csv_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    result.to_csv(folder / "r.csv", index=False)
    return pd.read_csv(folder / "r.csv", dtype={"distinct_id": str}, na_values=[""])


def parquet_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    # pandas cannot read back the dtype it wrote for an Arrow list column unless the backend
    # is pyarrow (pandas-dev/pandas#57411)
    result.to_parquet(folder / "r.parquet")
    return pd.read_parquet(folder / "r.parquet", dtype_backend="pyarrow")


def parquet_as_arrays(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """As a reader without pandas' metadata sees it: the lists as numpy arrays."""
    result.to_parquet(folder / "r.parquet")
    return pq.read_table(folder / "r.parquet").to_pandas(ignore_metadata=True)


def as_objects(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    return result.astype(object)


@pytest.mark.parametrize("trip", [csv_back, parquet_back, parquet_as_arrays, as_objects])
def test_a_result_read_back_conforms_to_the_same_dtypes_and_values(
    trip: Callable[[pd.DataFrame, Path], pd.DataFrame], tmp_path: Path
) -> None:
    result = a_result()
    back = conform(trip(result, tmp_path))
    assert {c: back[c].dtype for c in COLUMNS} == DTYPES
    pd.testing.assert_frame_equal(back, result)


def test_an_older_result_gets_the_missing_columns_empty() -> None:
    older = a_result()[["distinct_id", "status", "error"]]
    back = conform(older)
    assert {c: back[c].dtype for c in COLUMNS} == DTYPES
    assert back["request_ids"].tolist() == [[], [], []]
    assert back["attempts"].tolist() == [0, 0, 0]
    assert back["applied"].isna().all()
