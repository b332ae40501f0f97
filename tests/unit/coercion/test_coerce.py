"""coerce_series on numpy and pandas dtypes: one test per value rule."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.coercion.coerce import Coerced, coerce_series
from fyno_pandas.errors import FynoInputError


def issues(c: Coerced) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for i in c.issues:
        found.setdefault((i.rule, i.action), []).extend(i.positions.tolist())
    return {key: sorted(positions) for key, positions in found.items()}


def values(c: Coerced) -> list[object]:
    return [None if f is None else json.loads(f) for f in c.fragments]


@pytest.mark.parametrize(
    "dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
)
def test_ints_of_every_width_stay_json_ints(dtype: str) -> None:
    c = coerce_series(pd.Series([0, 7, 100], dtype=dtype))
    assert c.fyno_type == "number"
    assert c.fragments.tolist() == ["0", "7", "100"]
    assert c.issues == []


@pytest.mark.parametrize("dtype", ["Int8", "Int64", "UInt32"])
def test_nullable_ints_count_na_as_missing(dtype: str) -> None:
    c = coerce_series(pd.Series([1, None, 3], dtype=dtype))
    assert c.fragments.tolist() == ["1", None, "3"]
    assert c.missing.tolist() == [False, True, False]
    assert c.issues == []


def test_ints_beyond_2_53_are_sent_exactly_and_warned() -> None:
    c = coerce_series(pd.Series([2**64 - 1, 5], dtype="uint64"))
    assert c.fragments.tolist() == ["18446744073709551615", "5"]
    assert issues(c) == {("unsafe_integer", "warned"): [0]}
    c = coerce_series(pd.Series([-(2**62), 2**53], dtype="int64"))
    assert issues(c) == {("unsafe_integer", "warned"): [0]}


def test_floats_nan_is_missing_and_inf_is_dropped() -> None:
    c = coerce_series(pd.Series([1.5, np.nan, np.inf, -np.inf, 3.0, 1e20]))
    assert values(c) == [1.5, None, None, None, 3.0, 1e20]
    assert c.missing.tolist() == [False, True, False, False, False, False]
    assert issues(c) == {("not_finite", "dropped"): [2, 3]}


def test_float32_keeps_its_short_text() -> None:
    c = coerce_series(pd.Series([0.1, 2.5], dtype="float32"))
    assert c.fragments.tolist() == ["0.1", "2.5"]


def test_nullable_float_treats_na_and_nan_as_missing() -> None:
    s = pd.Series([1.25, None, 0.0], dtype="Float64")
    s = s / s * s  # 0/0 makes a NaN that is not <NA>
    c = coerce_series(s)
    assert c.fragments.tolist() == ["1.25", None, None]
    assert c.missing.tolist() == [False, True, True]


@pytest.mark.parametrize("dtype", ["bool", "boolean"])
def test_booleans_are_true_false_never_text(dtype: str) -> None:
    data = [True, False] if dtype == "bool" else [True, None, False]
    c = coerce_series(pd.Series(data, dtype=dtype))
    assert c.fyno_type == "boolean"
    assert [f for f in c.fragments if f is not None] == ["true", "false"]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_naive_datetimes_of_every_unit_are_localized_once(unit: str) -> None:
    s = pd.Series(
        pd.to_datetime(["2020-10-01 18:30:00", None, "2021-01-02"], format="ISO8601")
    ).astype(f"datetime64[{unit}]")
    c = coerce_series(s)
    assert c.fyno_type == "date"
    assert values(c) == ["2020-10-01T18:30:00.000Z", None, "2021-01-02T00:00:00.000Z"]
    (issue,) = c.issues
    assert (issue.rule, issue.action, issue.column_wide) == ("naive_datetime", "coerced", True)
    assert issue.positions.tolist() == [0, 2]


def test_naive_tz_reads_wall_time_in_that_zone() -> None:
    s = pd.Series(pd.to_datetime(["2020-07-01 12:00"]))
    c = coerce_series(s, naive_tz="Europe/Paris")
    assert values(c) == ["2020-07-01T10:00:00.000Z"]


def test_nonexistent_local_time_is_dropped() -> None:
    s = pd.Series(pd.to_datetime(["2021-03-28 02:30", "2021-03-28 04:00"]))
    c = coerce_series(s, naive_tz="Europe/Paris")
    assert c.fragments[0] is None
    assert ("nonexistent_time", "dropped") in issues(c)


def test_aware_datetimes_go_to_utc() -> None:
    s = pd.Series(pd.to_datetime(["2020-10-01T18:30:00+05:30"])).dt.tz_convert("Asia/Kolkata")
    c = coerce_series(s)
    assert values(c) == ["2020-10-01T13:00:00.000Z"]
    assert c.issues == []


def test_sub_millisecond_precision_is_cut_and_reported_once() -> None:
    s = pd.Series(
        pd.to_datetime(["2020-01-01 00:00:00.123456789", "2020-01-01"], utc=True, format="ISO8601")
    )
    c = coerce_series(s)
    assert values(c)[0] == "2020-01-01T00:00:00.123Z"
    (issue,) = c.issues
    assert (issue.rule, issue.column_wide, issue.positions.tolist()) == (
        "datetime_truncated",
        True,
        [0],
    )


def test_dates_outside_year_1_to_9999_are_dropped() -> None:
    s = pd.Series(np.array(["9999-12-31", "10000-01-01"], dtype="datetime64[s]"))
    c = coerce_series(s)
    assert values(c) == ["9999-12-31T00:00:00.000Z", None]
    assert issues(c)[("date_out_of_range", "dropped")] == [1]


def test_python_dates_and_datetimes_in_object_columns() -> None:
    aware = dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    c = coerce_series(pd.Series([aware, dt.datetime(2020, 1, 1, 12), pd.Timestamp("2020-01-03")]))
    assert values(c) == [
        "2020-01-01T10:00:00.000Z",
        "2020-01-01T12:00:00.000Z",
        "2020-01-03T00:00:00.000Z",
    ]
    assert issues(c) == {("naive_datetime", "coerced"): [1, 2]}
    c = coerce_series(pd.Series([dt.date(2020, 10, 1), None], dtype=object))
    assert c.fragments.tolist() == ['"2020-10-01"', None]


def test_decimals_keep_every_digit() -> None:
    digits = "12345678901234567890.123456789012345"
    c = coerce_series(pd.Series([Decimal(digits), Decimal("1.10"), Decimal("-Infinity"), None]))
    assert c.fragments.tolist() == [digits, "1.10", None, None]
    assert issues(c) == {("not_finite", "dropped"): [2]}
    assert c.missing.tolist() == [False, False, False, True]


def test_decimal_nan_is_missing_like_float_nan() -> None:
    c = coerce_series(pd.Series([Decimal("NaN"), Decimal("2")]))
    assert c.missing.tolist() == [True, False]
    assert c.issues == []


def test_strings_are_json_escaped() -> None:
    text = ['quote " back \\ new\nline', "café ✓", "\ud800 lone surrogate", ""]
    c = coerce_series(pd.Series(text, dtype=object))
    assert values(c) == text
    assert all(f.isascii() for f in c.fragments)


def test_long_strings_reported_and_left_out() -> None:
    c = coerce_series(pd.Series(["a" * 255, "b" * 256]))
    assert c.fragments[0] is not None
    assert c.fragments[1] is None
    assert issues(c) == {("string_too_long", "dropped"): [1]}


def test_long_strings_truncated_on_request() -> None:
    c = coerce_series(pd.Series(["b" * 300]), long_strings="truncate")
    assert values(c) == ["b" * 255]
    assert issues(c) == {("string_too_long", "coerced"): [0]}


def test_long_strings_error_names_column_and_row() -> None:
    s = pd.Series(["ok", "c" * 256], index=["r1", "r2"], name="bio")
    with pytest.raises(FynoInputError) as err:
        coerce_series(s, long_strings="error")
    assert (err.value.column, err.value.row, err.value.rule) == ("bio", "r2", "string_too_long")


def test_date_like_strings_are_warned_once_with_a_count() -> None:
    s = pd.Series(["plain", "2020-10-01", "2020-10-01T18:30:00.000+05:30", "2020-13-01"])
    c = coerce_series(s)
    assert c.fyno_type == "string"
    (issue,) = c.issues
    assert (issue.rule, issue.action, issue.column_wide) == ("date_like_string", "warned", True)
    # month 13 is no date, but a strict reader drops it: no first value of a new property
    assert issue.positions.tolist() == [1, 2, 3]
    assert c.ambiguous.tolist() == [False, True, True, True]


def test_column_of_only_iso_strings_is_planned_as_date() -> None:
    c = coerce_series(pd.Series(["2020-10-01", "2021-11-01T13:35:00Z"]))
    assert c.fyno_type == "date"
    assert [i.rule for i in c.issues] == ["date_like_string"]


def test_numeric_strings_are_warned_once() -> None:
    c = coerce_series(pd.Series(["123", "4.5", "abc", "1e3"]))
    assert c.fyno_type == "string"
    (issue,) = c.issues
    assert (issue.rule, issue.positions.tolist(), issue.column_wide) == (
        "numeric_string",
        [0, 1, 3],
        True,
    )


@pytest.mark.parametrize("dtype", ["str", "string", "string[pyarrow]", "object"])
def test_every_string_dtype_is_a_string(dtype: str) -> None:
    pytest.importorskip("pyarrow", reason="string[pyarrow] needs pyarrow")
    c = coerce_series(pd.Series(["a", None, "b"], dtype=dtype))
    assert c.fyno_type == "string"
    assert c.fragments.tolist() == ['"a"', None, '"b"']
    assert c.missing.tolist() == [False, True, False]


def test_category_is_typed_by_its_categories_once() -> None:
    s = pd.Series(pd.Categorical([3, 1, None, 3], categories=[1, 3, 7]))
    c = coerce_series(s)
    assert c.fyno_type == "number"
    assert c.fragments.tolist() == ["3", "1", None, "3"]
    (issue,) = c.issues
    assert (issue.rule, issue.action, issue.column_wide) == ("category", "coerced", True)
    assert issue.positions.tolist() == [0, 1, 3]


def test_category_cell_issues_reach_every_cell_of_that_category() -> None:
    s = pd.Series(pd.Categorical(["x" * 300, "ok", "x" * 300]))
    c = coerce_series(s)
    assert issues(c)[("string_too_long", "dropped")] == [0, 2]


def test_lists_tuples_and_arrays_become_json_arrays() -> None:
    day = dt.date(2023, 12, 5)
    s = pd.Series([["iPhone", "iPad"], (23000, 20.34), np.array([1, 2]), [day], []])
    c = coerce_series(s)
    assert c.fyno_type == "list"
    assert values(c) == [["iPhone", "iPad"], [23000, 20.34], [1, 2], ["2023-12-05"], []]


def test_long_list_columns_are_encoded_block_by_block() -> None:
    lists = [["a", "b"] if i % 3 else [] for i in range(70_000)]
    lists[-1] = ["z", 7]  # the last block takes the per-element path
    c = coerce_series(pd.Series(lists))
    assert values(c) == lists
    assert c.issues == []


def test_naive_datetimes_in_lists_are_localized_and_reported_once() -> None:
    s = pd.Series([[dt.datetime(2020, 7, 1, 12)], ["a"], np.array(["x", "y"])])
    c = coerce_series(s, naive_tz="Europe/Paris")
    assert values(c) == [["2020-07-01T10:00:00.000Z"], ["a"], ["x", "y"]]
    assert [(i.rule, i.positions.tolist(), i.column_wide) for i in c.issues] == [
        ("naive_datetime", [0], True)
    ]


@pytest.mark.parametrize("bad", [[1, None], [[1]], [{"a": 1}], [True], ["x" * 256], [float("inf")]])
def test_lists_fyno_cannot_hold_are_dropped(bad: list) -> None:
    c = coerce_series(pd.Series([["ok"], bad, ["fine"]]))
    assert c.fragments[1] is None
    assert issues(c) == {("invalid_list", "dropped"): [1]}


def test_mixed_object_column_majority_wins() -> None:
    c = coerce_series(pd.Series([1, 2.5, "three", 4, True, None]))
    assert c.fyno_type == "number"
    assert values(c) == [1, 2.5, None, 4, None, None]
    assert issues(c) == {("type_mismatch", "dropped"): [2, 4]}
    assert "most are number" in c.note


def test_each_dropped_value_is_labelled_by_its_own_type() -> None:
    c = coerce_series(pd.Series(["a", "b", True, 1.5, "c"], dtype=object))
    message = {int(p): i.message for i in c.issues for p in i.positions}
    assert message[2].startswith("a boolean value for a string property")
    assert message[3].startswith("a number value for a string property")


def test_a_tie_between_types_is_not_called_a_majority() -> None:
    c = coerce_series(pd.Series(["a", "b", 1, 2], dtype=object))
    assert c.fyno_type == "string"
    assert "a tie" in c.note
    assert "majority" not in c.note
    assert "most are" not in c.note


@pytest.mark.parametrize(
    "value",
    [
        dt.timedelta(1),
        pd.Timedelta(1),
        pd.Period("2020-01"),
        pd.Interval(0, 1),
        1 + 2j,
        b"raw",
        {"a": 1},
        {1, 2},
        dt.time(12, 30),
        object(),
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_fyno_cannot_hold_are_unsupported(value: object) -> None:
    c = coerce_series(pd.Series(["keep", value, "keep"], dtype=object))
    assert c.fragments.tolist() == ['"keep"', None, '"keep"']
    assert issues(c) == {("unsupported_type", "dropped"): [1]}


@pytest.mark.parametrize(
    "s",
    [
        pd.Series(pd.to_timedelta([1, 2], unit="s")),
        pd.Series(pd.period_range("2020", periods=2)),
        pd.Series(pd.interval_range(0, 2)),
        pd.Series([1 + 1j, 2j]),
    ],
    ids=["timedelta64", "period", "interval", "complex"],
)
def test_unsupported_dtypes_drop_every_value(s: pd.Series) -> None:
    c = coerce_series(s)
    assert c.fyno_type is None
    assert issues(c) == {("unsupported_type", "dropped"): [0, 1]}


def test_known_type_makes_other_values_a_mismatch() -> None:
    c = coerce_series(pd.Series([1, 2]), known_type="string")
    assert c.fyno_type == "string"
    assert c.fragments.tolist() == [None, None]
    assert issues(c) == {("type_mismatch", "dropped"): [0, 1]}


def test_iso_strings_fit_a_known_date_property() -> None:
    c = coerce_series(pd.Series(["2020-10-01", "soon"]), known_type="date")
    assert c.fragments.tolist() == ['"2020-10-01"', None]
    assert issues(c) == {("type_mismatch", "dropped"): [1]}


def test_dates_to_a_known_string_property_are_reported_once() -> None:
    s = pd.Series(pd.to_datetime(["2020-01-01"], utc=True))
    c = coerce_series(s, known_type="string")
    assert values(c) == ["2020-01-01T00:00:00.000Z"]
    assert [(i.rule, i.column_wide) for i in c.issues] == [("date_as_string", True)]


def test_sparse_columns_are_densified() -> None:
    c = coerce_series(pd.Series(pd.arrays.SparseArray([0.0, 1.5, np.nan])))
    assert c.fragments.tolist() == ["0.0", "1.5", None]


def test_all_missing_object_column_has_no_type() -> None:
    c = coerce_series(pd.Series([None, np.nan, pd.NA, pd.NaT], dtype=object))
    assert c.fyno_type is None
    assert c.missing.all()
    assert c.issues == []


def test_input_series_is_not_modified() -> None:
    s = pd.Series(["x" * 300, "2020-01-01"])
    before = s.copy()
    coerce_series(s, long_strings="truncate")
    pd.testing.assert_series_equal(s, before)
