"""`sources.arrow`: any Arrow stream or dataset as pandas chunks of a bounded size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fyno_pandas
from fyno_pandas.errors import FynoSourceError
from fyno_pandas.sources.arrow import arrow_chunks, is_arrow_source


class OnlyTheProtocol:
    """An object that offers nothing but the Arrow PyCapsule stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


def users(n: int) -> pa.Table:
    return pa.table({"uid": [f"u{i}" for i in range(n)], "n": list(range(n))})


def test_batches_are_gathered_and_cut_into_chunks_indexed_by_stream_position() -> None:
    table = users(25)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7))
    chunks = list(arrow_chunks(reader, rows=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [c.index[0] for c in chunks] == [0, 10, 20]
    assert pd.concat(chunks)["uid"].tolist() == table.column("uid").to_pylist()
    assert pd.concat(chunks).index.equals(pd.RangeIndex(25))


def test_anything_exporting_a_stream_is_a_source_but_a_pandas_frame_is_a_chunk() -> None:
    table = users(3)
    assert is_arrow_source(OnlyTheProtocol(table))
    assert is_arrow_source(table)
    assert not is_arrow_source(table.to_pandas())
    assert not is_arrow_source([table.to_pandas()])
    (chunk,) = arrow_chunks(OnlyTheProtocol(table))
    assert chunk["n"].tolist() == [0, 1, 2]


def test_a_dataset_of_parquet_files_is_read_batch_by_batch(tmp_path: Path) -> None:
    table = users(30)
    pq.write_table(table.slice(0, 12), tmp_path / "a.parquet")
    pq.write_table(table.slice(12), tmp_path / "b.parquet")
    chunks = list(arrow_chunks(ds.dataset(tmp_path), rows=8))
    assert [len(c) for c in chunks] == [8, 8, 8, 6]
    assert sorted(pd.concat(chunks)["uid"]) == sorted(table.column("uid").to_pylist())


def test_a_stream_that_fails_half_way_is_a_source_error_naming_it() -> None:
    schema = users(1).schema

    def batches():  # a query that fails after its first batch
        yield users(2).to_batches()[0]
        raise pa.ArrowInvalid("the query failed half way")

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(FynoSourceError, match="RecordBatchReader: the query failed half way"):
        list(arrow_chunks(reader))


def test_a_producer_s_own_error_reaches_the_caller_as_raised() -> None:
    def batches():  # a database driver's error, already made one of ours by its source
        yield users(2).to_batches()[0]
        raise FynoSourceError("the query failed half way (password masked)")

    reader = pa.RecordBatchReader.from_batches(users(1).schema, batches())
    with pytest.raises(FynoSourceError, match="password masked"):
        list(arrow_chunks(reader))


def test_view_layouts_nested_in_lists_and_structs_convert_as_their_large_layouts() -> None:
    # what a Polars frame exports: string_view, also inside its lists and structs
    table = pa.table(
        {
            "uid": pa.array(["a", "b"], pa.string_view()),
            "tags": pa.array([["x", "y"], None], pa.list_(pa.string_view())),
            "blobs": pa.array([[b"x"], []], pa.large_list(pa.binary_view())),
            "pair": pa.array([["p", "q"], ["r", "s"]], pa.list_(pa.string_view(), 2)),
            "who": pa.array([{"n": "x"}, None], pa.struct([("n", pa.string_view())])),
        }
    )
    (chunk,) = arrow_chunks(OnlyTheProtocol(table))
    assert chunk["uid"].tolist() == ["a", "b"]
    assert list(chunk["tags"][0]) == ["x", "y"]
    assert chunk["tags"][1] is None
    assert [list(v) for v in chunk["blobs"]] == [[b"x"], []]
    assert list(chunk["pair"][1]) == ["r", "s"]
    assert chunk["who"].tolist() == [{"n": "x"}, None]


def test_an_integer_column_with_a_null_keeps_every_digit() -> None:
    big = 2**53 + 1  # float64 rounds it to 2**53
    table = pa.table({"uid": ["a", "b", "c"], "n": pa.array([big, None, 5], pa.int64())})
    chunk = next(arrow_chunks(table))
    assert chunk["n"].tolist() == [big, pd.NA, 5]
    plan = fyno_pandas.plan(chunk, "uid", ledger=False)
    assert plan.payloads()[0] == {"distinct_id": "a", "$set": {"n": big}}
