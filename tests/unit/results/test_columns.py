"""The result's columns: Arrow-backed dtypes, and list columns built from (row, item) pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from fyno_pandas.results.columns import (
    COLUMNS,
    LISTS,
    arrow_types,
    empty_result,
    list_column,
    request_columns,
    result_frame,
)

TEXT = ("distinct_id", "status", "request_id", "error", "applied")


def test_text_and_list_columns_are_arrow_backed() -> None:
    result = empty_result()
    assert list(result.columns) == list(COLUMNS)
    for name in TEXT:
        assert result[name].dtype == pd.StringDtype("pyarrow"), name
    for name in LISTS:
        assert result[name].dtype.pyarrow_dtype.value_type == pa.array(result["status"]).type
    assert {name: str(result[name].dtype) for name in ("http_status", "attempts", "push_id")} == {
        "http_status": "Int16",
        "attempts": "int32",
        "push_id": "Int64",
    }


def test_arrow_types_are_the_frames_own() -> None:
    table = pa.Table.from_pandas(empty_result(), preserve_index=False)
    assert {f.name: f.type for f in table.schema} == arrow_types()


def test_list_column_groups_items_by_row_in_their_order() -> None:
    owners = np.array([3, 0, 3, 3, 1])
    items = np.array(["c1", "a", "c2", "c3", "b"], dtype=object)
    column = list_column(5, owners, items)
    assert column.to_pylist() == [["a"], ["b"], [], ["c1", "c2", "c3"], []]


def test_list_column_of_no_items_is_empty_lists() -> None:
    column = list_column(3, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object))
    assert column.to_pylist() == [[], [], []]


def test_result_frame_takes_lists_or_an_arrow_list_array() -> None:
    index = pd.Index([10, 11], name="row")
    built = {name: [None, None] for name in COLUMNS}
    built.update(status=["sent", "failed"], attempts=[1, 2], http_status=[202, None])
    built.update(dropped=[["x"], []], request_ids=list_column(2, [0, 1, 1], ["r", "s", "t"]))
    result = result_frame(built, index)
    assert result.index.equals(index)
    assert result["dropped"].tolist() == [["x"], []]
    assert result["request_ids"].tolist() == [["r"], ["s", "t"]]
    assert result["error"].isna().all()


def test_request_columns_share_a_batch_id_and_keep_every_id_of_a_row() -> None:
    first = np.array(["b1", "b1", None, "b2", "r1", "b2"], dtype=object)
    column, lists = request_columns(first, {4: ["r1", "r2", "r3"]})
    assert column.to_pylist() == ["b1", "b1", None, "b2", "r1", "b2"]
    assert lists.to_pylist() == [["b1"], ["b1"], [], ["b2"], ["r1", "r2", "r3"], ["b2"]]


def test_request_ids_of_one_request_a_row_share_the_request_id_bytes() -> None:
    """When every row made one request (a push that sent every row), the ``request_ids`` lists
    hold the ``request_id`` column's own values: the ids' bytes are not copied a second time."""
    first = np.array([f"batch-{k // 500:04d}" for k in range(10_000)], dtype=object)
    before = pa.total_allocated_bytes()
    column, lists = request_columns(first, {})
    held = pa.total_allocated_bytes() - before
    assert lists.to_pylist() == [[rid] for rid in first]
    assert held < 1.2 * column.nbytes


def test_when_every_row_has_one_request_its_id_is_the_same_bytes_in_both_columns() -> None:
    first = np.array(["r1", "r1", "r2"], dtype=object)
    column, lists = request_columns(first, {})
    assert lists.to_pylist() == [["r1"], ["r1"], ["r2"]]
    assert lists.values.buffers()[2].address == column.buffers()[2].address
