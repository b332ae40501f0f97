"""build_plan: ids, names, options and the PushPlan interface the sender and preview use."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.errors import FynoInputError
from fyno_pandas.planning.build import COLUMN_COLUMNS, ISSUE_COLUMNS, build_plan
from fyno_pandas.planning.issues import rule_hint, rule_link


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "plan": ["pro", "free", None],
            "ltv": [23000, 20.34, np.nan],
            "premium": [True, False, True],
        },
        index=["a", "b", "c"],
    )


def test_ids_become_strings_without_dot_zero() -> None:
    df = pd.DataFrame({"id": [7.0, 8.5, np.nan], "x": [1, 2, 3]})
    plan = build_plan(df, "id")
    assert plan.distinct_ids.tolist() == ["7", "8.5", None]
    df = pd.DataFrame({"id": pd.array([7, None], dtype="Int64"), "x": [1, 2]})
    assert build_plan(df, "id").distinct_ids.tolist() == ["7", None]


def test_missing_and_blank_ids_skip_the_row() -> None:
    df = pd.DataFrame({"id": ["u1", None, "  ", ""], "x": [1, 2, 3, 4]}, index=list("pqrs"))
    plan = build_plan(df, "id")
    assert plan.sendable.tolist() == [True, False, False, False]
    assert plan.skip_reasons.tolist() == [None, "missing_id", "missing_id", "missing_id"]
    skipped = plan.issues[plan.issues.rule == "missing_id"]
    assert skipped.row.tolist() == ["q", "r", "s"]
    assert set(skipped.action) == {"row_skipped"}


def test_duplicate_ids_the_later_row_wins() -> None:
    df = pd.DataFrame({"id": ["u1", "u2", "u1"], "x": [1, 2, 3]})
    plan = build_plan(df, "id")
    assert plan.sendable.tolist() == [False, True, True]
    assert plan.skip_reasons[0] == "duplicate_id"
    (issue,) = plan.issues[plan.issues.rule == "duplicate_id"].itertuples()
    assert (issue.row, issue.action) == (0, "row_skipped")


def test_id_column_is_sent_only_when_asked() -> None:
    plan = build_plan(frame(), "user_id")
    assert plan.properties == ["plan", "ltv", "premium"]
    plan = build_plan(frame(), "user_id", columns=["user_id", "ltv"])
    assert plan.properties == ["user_id", "ltv"]
    assert json.loads(plan.set_body(0)) == {
        "distinct_id": "1",
        "$set": {"user_id": 1, "ltv": 23000.0},
    }


@pytest.mark.parametrize(
    ("kwargs", "rule", "column"),
    [
        ({"id_col": "nope"}, "unknown_id_col", "nope"),
        ({"id_col": "user_id", "columns": ["plan", "nope"]}, "unknown_column", "nope"),
        ({"id_col": "user_id", "nulls": "drop"}, "invalid_option", None),
        ({"id_col": "user_id", "long_strings": "cut"}, "invalid_option", None),
        ({"id_col": "user_id", "naive_tz": "Mars/Olympus"}, "invalid_option", None),
        ({"id_col": "user_id", "naive_tz": None}, "invalid_option", None),
        ({"id_col": "user_id", "schema": {"ltv": "integer"}}, "invalid_schema", "ltv"),
    ],
)
def test_invalid_arguments_raise_input_errors(kwargs: dict, rule: str, column: object) -> None:
    with pytest.raises(FynoInputError) as err:
        build_plan(frame(), **kwargs)
    assert (err.value.rule, err.value.column) == (rule, column)


@pytest.mark.parametrize(
    ("kwargs", "close"),
    [
        ({"id_col": "userid"}, "did you mean 'user_id'?"),
        ({"id_col": "user_id", "columns": ["plan", "ltvs"]}, "did you mean 'ltv'?"),
        ({"id_col": "Premium"}, "did you mean 'premium'?"),
    ],
)
def test_a_mistyped_column_names_the_closest_and_how_many_there_are(
    kwargs: dict, close: str
) -> None:
    with pytest.raises(FynoInputError) as err:
        build_plan(frame(), **kwargs)
    assert close in str(err.value)
    assert f"{len(frame().columns)} columns" in str(err.value)


def test_a_column_name_like_none_lists_the_columns() -> None:
    with pytest.raises(FynoInputError) as err:
        build_plan(frame(), "xyzzy")
    assert "'user_id', 'plan', 'ltv', 'premium'" in str(err.value)
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize("name", ["$email", "", "   "])
def test_invalid_property_names_are_rejected(name: str) -> None:
    df = pd.DataFrame({"id": [1], name: [2]})
    with pytest.raises(FynoInputError) as err:
        build_plan(df, "id")
    assert (err.value.rule, err.value.column) == ("invalid_property_name", name)


def test_colliding_property_names_are_rejected() -> None:
    df = pd.DataFrame({"id": [1], 1: [2], "1": [3]})
    with pytest.raises(FynoInputError) as err:
        build_plan(df, "id")
    assert err.value.rule == "duplicate_property"
    dup = pd.DataFrame([[1, 2, 3]], columns=["id", "x", "x"])
    with pytest.raises(FynoInputError, match="also sent"):
        build_plan(dup, "id")


def test_property_names_are_strings_of_the_labels() -> None:
    df = pd.DataFrame({"id": [1], 2024: [5]})
    plan = build_plan(df, "id")
    assert plan.properties == ["2024"]
    assert json.loads(plan.set_body(0))["$set"] == {"2024": 5}


def test_nulls_skip_leaves_missing_out() -> None:
    plan = build_plan(frame(), "user_id")
    assert json.loads(plan.set_body(2)) == {"distinct_id": "3", "$set": {"premium": True}}
    assert plan.unset_body(2) is None
    assert plan.columns.set_index("column").loc["plan", "missing"] == 1
    assert plan.issues.empty  # missing values are counted, not listed


def test_nulls_unset_clears_the_property() -> None:
    plan = build_plan(frame(), "user_id", nulls="unset")
    assert json.loads(plan.unset_body(2)) == {"distinct_id": "3", "$unset": ["plan", "ltv"]}
    assert plan.unsets["plan"].tolist() == [False, False, True]
    assert json.loads(plan.batch_item(2)) == {
        "distinct_id": "3",
        "action": {"$set": {"premium": True}, "$unset": ["plan", "ltv"]},
    }


def test_nulls_error_names_column_and_row() -> None:
    with pytest.raises(FynoInputError) as err:
        build_plan(frame(), "user_id", nulls="error")
    assert (err.value.column, err.value.row, err.value.rule) == ("plan", "c", "null_value")


def test_long_strings_error_names_column_and_row() -> None:
    df = pd.DataFrame({"id": [1, 2], "bio": ["ok", "x" * 256]}, index=["r1", "r2"])
    with pytest.raises(FynoInputError) as err:
        build_plan(df, "id", long_strings="error")
    assert (err.value.column, err.value.row) == ("bio", "r2")


def test_row_with_nothing_to_set_is_skipped_and_reported() -> None:
    df = pd.DataFrame({"id": [1, 2], "x": [1.0, np.nan], "y": ["a", "z" * 300]})
    plan = build_plan(df, "id")
    assert plan.sendable.tolist() == [True, False]
    assert plan.skip_reasons[1] == "empty_row"
    row = plan.issues[plan.issues.rule == "empty_row"]
    assert (row.row.tolist(), row.action.tolist()) == ([1], ["row_skipped"])
    assert len(plan) == 1


def test_schema_wins_over_known_types() -> None:
    df = pd.DataFrame({"id": [1], "a": [5], "b": [6]})
    plan = build_plan(df, "id", schema={"a": "string"}, known_types={"a": "number", "b": "list"})
    assert plan.known_types == {"a": "string", "b": "list"}
    assert plan.fyno_types == {"a": "string", "b": "list"}
    assert sorted(plan.issues.rule) == ["empty_row", "type_mismatch", "type_mismatch"]


def test_tables_have_the_contract_columns() -> None:
    df = pd.DataFrame({"id": [1, 2], "when": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    plan = build_plan(df, "id")
    assert list(plan.columns.columns) == COLUMN_COLUMNS
    assert list(plan.issues.columns) == ISSUE_COLUMNS
    row = plan.columns.iloc[0]
    assert (row.fyno_type, row["values"], row.coerced, row.example_after) == (
        "date",
        2,
        2,
        '"2020-01-01T00:00:00.000Z"',
    )
    (issue,) = plan.issues.itertuples()
    assert issue.row is None  # column-wide
    assert issue.message.startswith("2 datetimes without a time zone")


def test_issue_values_are_truncated_reprs() -> None:
    df = pd.DataFrame({"id": [1], "bio": ["y" * 400]})
    issues = build_plan(df, "id").issues
    (value,) = issues.value[issues.rule == "string_too_long"]
    assert len(value) <= 60
    assert value.startswith("'yyy")


def test_summary_counts_and_destination() -> None:
    config = FynoConfig.resolve("WS1", "secret", "test", require_credentials=False)
    plan = build_plan(frame(), "user_id", config=config)
    summary = plan.summary()
    assert summary["destination"] == config.label
    assert {k: summary[k] for k in ("rows", "rows_to_send", "rows_skipped", "values")} == {
        "rows": 3,
        "rows_to_send": 3,
        "rows_skipped": 0,
        "values": 7,
    }
    assert "secret" not in repr(plan)


def test_payloads_and_to_frame() -> None:
    plan = build_plan(frame(), "user_id")
    assert plan.payloads()[1] == {
        "distinct_id": "2",
        "$set": {"plan": "free", "ltv": 20.34, "premium": False},
    }
    table = plan.to_frame()
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["c", "plan"] is None
    assert table.loc["a", "premium"] is True


def test_set_bodies_match_set_body() -> None:
    plan = build_plan(frame(), "user_id")
    assert plan.set_bodies() == [plan.set_body(i) for i in range(3)]
    assert plan.set_body(0, ["ltv"]) == b'{"distinct_id":"1","$set":{"ltv":23000.0}}'


def test_seed_values_avoid_date_like_strings() -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "code": ["2020-01-01", None, "A-17"]})
    plan = build_plan(df, "id")
    assert plan.seed_values(["code"]) == {"code": 2}


def test_value_hashes_are_stable_and_zero_where_unset() -> None:
    plan = build_plan(frame(), "user_id")
    hashes = plan.value_hashes("plan")
    assert hashes.dtype == np.uint64
    assert hashes[2] == 0
    expected = pd.util.hash_array(np.array(['"pro"', '"free"'], dtype=object))
    assert hashes[:2].tolist() == expected.tolist()
    # siphash with pandas' fixed key: the same in every process and on every machine
    assert int(hashes[0]) == int(pd.util.hash_array(np.array(['"pro"'], dtype=object))[0])


@pytest.mark.parametrize("kinds", [3, 5_000])
@pytest.mark.parametrize("missing", [False, True])
def test_value_hashes_are_the_same_however_many_distinct_values(kinds: int, missing: bool) -> None:
    n = 5_000
    values = pd.Series([f"v{i % kinds}" for i in range(n)], dtype=object)
    if missing:
        values[::7] = None
    plan = build_plan(pd.DataFrame({"id": range(n), "x": values}), "id")
    hashes = plan.value_hashes("x")
    fragments = plan.fragments["x"]
    is_set = np.not_equal(fragments, None)
    expected = pd.util.hash_array(fragments[is_set], categorize=False)
    assert hashes[is_set].tolist() == expected.tolist()
    assert not hashes[~is_set].any()


def test_restrict_sends_only_kept_cells() -> None:
    plan = build_plan(frame(), "user_id")
    keep = {p: np.array([True, False, False]) for p in plan.properties}
    keep["premium"] = np.array([True, True, False])
    small = plan.restrict(keep)
    assert small.sendable.tolist() == [True, True, False]
    assert small.unchanged.tolist() == [False, False, True]
    assert json.loads(small.set_body(1)) == {"distinct_id": "2", "$set": {"premium": False}}
    assert plan.sendable.all()  # the original is untouched
    assert len(small) == 2


def test_values_dropped_after_planning_carry_their_rule_s_hint_and_link() -> None:
    df = pd.DataFrame({"id": [1, 2], "s": ["p", "q"]})
    dropped = build_plan(df, "id").drop_values("s", "type_mismatch", "another push typed it")
    added = dropped.issues[dropped.issues["rule"] == "type_mismatch"]
    assert list(added.columns) == ISSUE_COLUMNS
    assert set(added["hint"]) == {rule_hint("type_mismatch", "dropped", "s")}
    assert set(added["link"]) == {rule_link("type_mismatch")}


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["1", "x"], "1 string holds a number;"), (["1", "2", "x"], "2 strings hold numbers;")],
)
def test_counted_messages_take_the_singular_or_the_plural(values: list, expected: str) -> None:
    plan = build_plan(pd.DataFrame({"id": range(len(values)), "zip": values}), "id")
    (message,) = plan.issues.message[plan.issues.rule == "numeric_string"]
    assert message.startswith(expected)


def test_dropped_cells_name_left_out_properties_by_row() -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "b": ["x" * 300, "ok", "y" * 300], "a": [np.inf, 1.0, 2.0]})
    rows, names = build_plan(df, "id").dropped_cells()
    assert list(zip(rows.tolist(), names.tolist(), strict=True)) == [(0, "a"), (0, "b"), (2, "b")]


def test_index_is_kept_with_duplicate_labels() -> None:
    df = pd.DataFrame({"id": [1, 2], "x": [np.inf, 1.0]}, index=["same", "same"])
    plan = build_plan(df, "id")
    assert plan.index.equals(df.index)
    assert plan.issues.row[plan.issues.rule == "not_finite"].tolist() == ["same"]
    assert plan.skip_reasons.tolist() == ["empty_row", None]


def test_caller_frame_is_not_modified() -> None:
    df = frame()
    df.attrs["note"] = "mine"
    before = df.copy()
    build_plan(df, "user_id", long_strings="truncate", nulls="unset")
    pd.testing.assert_frame_equal(df, before)
    assert df.attrs == {"note": "mine"}


def test_naive_tz_accepts_tzinfo_objects() -> None:
    df = pd.DataFrame({"id": [1], "t": pd.to_datetime(["2020-01-01 12:00"])})
    plan = build_plan(df, "id", naive_tz=dt.timezone(dt.timedelta(hours=2)))
    assert json.loads(plan.set_body(0))["$set"]["t"] == "2020-01-01T10:00:00.000Z"


def test_options_are_normalised() -> None:
    plan = build_plan(frame(), "user_id", schema={"ltv": "number"}, nulls="unset")
    assert plan.options == {
        "columns": ["plan", "ltv", "premium"],
        "schema": {"ltv": "number"},
        "naive_tz": "UTC",
        "nulls": "unset",
        "long_strings": "report",
    }
