"""`sources.polars` and ``pl_df.fyno.plan``: every Polars dtype planned as the generated table
says, through Arrow."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pyarrow as pa
import pytest

import fyno_pandas.polars  # noqa: F401  (registers pl_df.fyno)
from fyno_pandas.errors import FynoInputError
from fyno_pandas.planning.issues import ISSUE_COLUMNS
from fyno_pandas.sources.arrow import CHUNK_ROWS, source_chunks
from fyno_pandas.sources.polars import POLARS_DTYPES, batch_stream, polars_table_markdown

ROWS = 3
WHEN = [dt.datetime(2024, 1, 1, 9), None, dt.datetime(2024, 3, 1, 18)]


def one_of_each() -> dict[str, pl.Series]:
    """A column of every dtype Polars exports, keyed by its row in `POLARS_DTYPES`."""
    ints = [1, None, 3]
    columns = {
        **{name: pl.Series(ints, dtype=getattr(pl, name)) for name in _INTEGERS},
        "Int128": pl.Series([2**100 + 1, None, -(2**90)], dtype=pl.Int128),
        "UInt128": pl.Series([2**127 + 3, None, 7], dtype=pl.UInt128),
        **{name: pl.Series([1.5, None, 2.0], dtype=getattr(pl, name)) for name in _FLOATS},
        "Decimal": pl.Series([decimal.Decimal("1.25"), None, decimal.Decimal("3.5")]),
        "Boolean": pl.Series([True, None, False]),
        "String": pl.Series(["x", None, "y"]),
        "Categorical": pl.Series(["x", None, "y"], dtype=pl.Categorical),
        "Enum": pl.Series(["x", None, "y"], dtype=pl.Enum(["x", "y"])),
        "Date": pl.Series([dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)]),
        "Duration": pl.Series([dt.timedelta(days=1), None, dt.timedelta(hours=1)]),
        "Time": pl.Series([dt.time(1), None, dt.time(2)]),
        "Binary": pl.Series([b"x", None, b"y"]),
        "List": pl.Series([["a"], None, ["b", "c"]]),
        "Array": pl.Series([[1, 2], None, [3, 4]], dtype=pl.Array(pl.Int64, 2)),
        "Struct": pl.Series([{"a": 1}, None, {"a": 2}]),
        "Null": pl.Series([None] * ROWS, dtype=pl.Null),
    }
    for unit in ("ms", "us", "ns"):
        naive = pl.Series(WHEN, dtype=pl.Datetime(unit))
        columns[f"Datetime({unit})"] = naive
        columns[f"Datetime({unit}, zone)"] = naive.dt.replace_time_zone("Europe/Paris")
    return columns


_INTEGERS = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
_FLOATS = ("Float16", "Float32", "Float64")


def test_every_polars_dtype_is_planned_as_the_generated_table_says() -> None:
    columns = one_of_each()
    assert {*columns, "Object"} == set(POLARS_DTYPES)  # the table covers every dtype built
    frame = pl.DataFrame({"uid": [f"u{i}" for i in range(ROWS)], **columns})
    plan = frame.fyno.plan("uid")
    planned = {name: (plan.fyno_types.get(name), None) for name in columns}
    for name, rule in POLARS_DTYPES.items():
        if name in columns and rule.rule is not None:
            rules = set(plan.issues.loc[plan.issues["column"] == name, "rule"])
            planned[name] = (planned[name][0], rule.rule if rule.rule in rules else rules)
    expected = {name: (POLARS_DTYPES[name].fyno_type, POLARS_DTYPES[name].rule) for name in columns}
    assert planned == expected


def test_an_object_column_is_refused_by_name_before_anything_is_read() -> None:
    frame = pl.DataFrame({"uid": ["a"], "blob": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(FynoInputError, match="'blob' is a Polars Object column") as raised:
        frame.fyno.plan("uid")
    assert raised.value.column == "blob"
    with pytest.raises(FynoInputError, match="'blob'"):
        frame.lazy().fyno.plan("uid")


def test_a_128_bit_integer_keeps_every_digit() -> None:
    big = 2**100 + 1  # float64 would make it ...376 (rounded)
    frame = pl.DataFrame({"uid": ["a"], "n": pl.Series([big], dtype=pl.Int128)})
    plan = frame.fyno.plan("uid")
    assert plan.fyno_types["n"] == "string"
    assert str(big) in str(plan.fragments["n"][0])


def test_a_lazy_frame_streams_in_batches_of_the_size_asked() -> None:
    lazy = pl.LazyFrame({"uid": [f"u{i}" for i in range(25)], "tags": [["a"]] * 25})
    reader = batch_stream(lazy, rows=10)
    batches = list(reader)
    assert max(b.num_rows for b in batches) <= 10
    assert sum(b.num_rows for b in batches) == 25
    assert reader.schema.field("tags").type == pa.large_list(pa.large_string())


def test_a_lazy_plan_holds_every_batch_to_the_first_batchs_types() -> None:
    rows = CHUNK_ROWS + 5  # the first chunk's dates fix the type; the second's text breaks it
    lazy = pl.LazyFrame({"uid": pl.int_range(rows, eager=True).cast(pl.String)}).with_columns(
        code=pl.when(pl.int_range(pl.len()) < CHUNK_ROWS)
        .then(pl.lit("2024-01-02"))
        .otherwise(pl.lit("gold"))
    )
    issues = lazy.fyno.plan("uid")
    assert issues.attrs["fyno"]["types"]["code"] == "date"
    mismatched = issues.loc[issues["rule"] == "type_mismatch", "row"]
    assert mismatched.tolist() == list(range(CHUNK_ROWS, rows))


def test_the_table_is_markdown_with_a_row_per_dtype() -> None:
    lines = polars_table_markdown().splitlines()
    assert len(lines) == 2 + len(POLARS_DTYPES)
    assert lines[2 + [*POLARS_DTYPES].index("Int128")].startswith("| Int128 | string |")


def test_a_lazy_plan_of_no_rows_has_the_issue_columns() -> None:
    lazy = pl.LazyFrame({"uid": ["a"], "n": [1]}).filter(pl.col("n") > 5)
    issues = lazy.fyno.plan("uid")
    assert list(issues.columns) == ISSUE_COLUMNS
    assert issues.attrs["fyno"] == {"types": {}, "issues": {}}


def test_a_polars_frame_handed_to_push_frames_is_exported_as_its_accessor_exports_it() -> None:
    wide = pl.DataFrame({"uid": ["a"], "n": pl.Series([2**100], dtype=pl.Int128)})
    (chunk,) = source_chunks(wide)
    assert chunk["n"].tolist() == [str(2**100)]
    objects = pl.DataFrame({"uid": ["a"], "o": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(FynoInputError, match="column 'o' is a Polars Object column"):
        list(source_chunks(objects))
    with pytest.raises(FynoInputError, match="column 'o' is a Polars Object column"):
        list(source_chunks(objects.lazy()))
