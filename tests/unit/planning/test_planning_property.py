"""Property test: over generated mixed-dtype frames, no present cell goes missing silently."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fyno_pandas.planning.build import build_plan

ISO = ["2020-10-01", "2020-10-01T18:30:00Z", "2020-10-01T18:30:00.000+05:30", "2020-02-30"]
TEXT = st.one_of(
    st.text(max_size=6),
    st.sampled_from([*ISO, "123", "4.5e3", "x" * 256]),
)
DATETIMES = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1))
OBJECTS = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    TEXT,
    st.booleans(),
    DATETIMES,
    DATETIMES.map(lambda d: d.replace(tzinfo=dt.timezone.utc)),
    st.dates(),
    # sNaN is left out: pandas' own isna raises InvalidOperation on it
    st.decimals(allow_nan=False),
    st.sampled_from([Decimal("NaN"), Decimal("-Infinity")]),
    st.lists(st.one_of(TEXT, st.integers(), st.floats(), st.none(), st.dates()), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.timedeltas(),
    st.binary(max_size=3),
    st.complex_numbers(),
)


def column(kind: str, n: int) -> st.SearchStrategy:
    """A strategy for one column of ``n`` values of the given kind."""

    def sized(elements: st.SearchStrategy) -> st.SearchStrategy:
        return st.lists(elements, min_size=n, max_size=n)

    maybe = st.one_of
    if kind == "int64":
        return sized(st.integers(-(2**63), 2**63 - 1)).map(lambda v: pd.Series(v, dtype="int64"))
    if kind == "Int64":
        return sized(maybe(st.none(), st.integers(-(2**60), 2**60))).map(
            lambda v: pd.Series(v, dtype="Int64")
        )
    if kind == "float64":
        return sized(st.floats(width=64)).map(lambda v: pd.Series(v, dtype="float64"))
    if kind == "bool":
        return sized(st.booleans()).map(lambda v: pd.Series(v, dtype="bool"))
    if kind == "boolean":
        return sized(maybe(st.none(), st.booleans())).map(lambda v: pd.Series(v, dtype="boolean"))
    if kind == "string":
        return sized(maybe(st.none(), TEXT)).map(lambda v: pd.Series(v, dtype="string"))
    if kind == "category":
        return sized(maybe(st.none(), TEXT)).map(lambda v: pd.Series(v, dtype="category"))
    if kind == "naive":
        return sized(maybe(st.none(), DATETIMES)).map(
            lambda v: pd.Series(pd.to_datetime(v), dtype="datetime64[ns]")
        )
    if kind == "aware":
        return sized(maybe(st.none(), DATETIMES)).map(
            lambda v: pd.Series(pd.to_datetime(v), dtype="datetime64[ns]").dt.tz_localize(
                "Asia/Kolkata", ambiguous="NaT", nonexistent="NaT"
            )
        )
    return sized(OBJECTS).map(lambda v: pd.Series(v, dtype=object))


KINDS = ["int64", "Int64", "float64", "bool", "boolean", "string", "category", "naive"]
KINDS += ["aware", "object", "object"]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 8))
    ids = draw(
        st.lists(st.one_of(st.none(), st.integers(0, 5), st.just("")), min_size=n, max_size=n)
    )
    data = {"id": pd.Series(ids, dtype=object)}
    for i, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))):
        data[f"c{i}_{kind}"] = draw(column(kind, n))
    return pd.DataFrame(data)


def is_present(value: object) -> bool:
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return True
    return not pd.isna(value)


def same_value(original: object, sent: object) -> bool:
    """Scalars whose JSON form can be compared exactly with the input."""
    if isinstance(original, (bool, np.bool_)):
        return sent is bool(original)
    if isinstance(original, (int, np.integer)):
        return type(sent) is int and sent == int(original)
    if isinstance(original, (float, np.floating)):
        return isinstance(sent, float) and sent == float(original)
    if isinstance(original, str):
        return sent == original
    return True


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), nulls=st.sampled_from(["skip", "unset"]))
def test_every_present_cell_is_sent_or_reported(df: pd.DataFrame, nulls: str) -> None:
    plan = build_plan(df, "id", nulls=nulls, naive_tz="Europe/Paris")
    issues = plan.issues
    cells = issues[issues.row.notna()]
    dropped = set(
        zip(
            cells.row[cells.action == "dropped"],
            cells.column[cells.action == "dropped"],
            strict=True,
        )
    )
    coerced = set(
        zip(
            cells.row[cells.action == "coerced"],
            cells.column[cells.action == "coerced"],
            strict=True,
        )
    )
    wide = set(issues.column[issues.row.isna() & (issues.action == "coerced")])
    skipped = set(issues.row[issues.action == "row_skipped"])
    for pos in range(len(df)):
        has_id = plan.distinct_ids[pos] is not None
        body = json.loads(plan.set_body(pos)) if has_id else {"$set": {}}
        json.dumps(body, allow_nan=False)
        if plan.sendable[pos]:
            assert plan.skip_reasons[pos] is None
        else:
            assert pos in skipped or plan.unchanged[pos]
        for name in plan.properties:
            value = df[name].iloc[pos]
            if not is_present(value):
                assert name not in body["$set"]
                assert plan.unsets[name][pos] == (
                    nulls == "unset"
                    and plan.skip_reasons[pos] in (None, "empty_row")
                    and plan.distinct_ids[pos] is not None
                    and pos not in skipped
                )
                continue
            if (pos, name) in dropped:
                assert name not in body["$set"]
                continue
            assert pos in skipped or name in body["$set"], (pos, name, value)
            if name in body["$set"] and not same_value(value, body["$set"][name]):
                assert (pos, name) in coerced or name in wide, (value, body["$set"][name])
    for payload in plan.payloads():
        json.loads(json.dumps(payload, allow_nan=False))
        assert isinstance(payload["distinct_id"], str)
        assert payload.get("$set") or payload.get("$unset")


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False), min_size=1, max_size=20))
def test_finite_floats_round_trip_exactly(values: list[float]) -> None:
    df = pd.DataFrame({"id": range(len(values)), "x": values})
    plan = build_plan(df, "id")
    for pos, value in enumerate(values):
        if math.isfinite(value):
            assert json.loads(plan.set_body(pos))["$set"]["x"] == value


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.decimals(allow_nan=False, allow_infinity=False), min_size=1, max_size=10))
def test_decimals_round_trip_without_losing_digits(values: list[Decimal]) -> None:
    df = pd.DataFrame({"id": range(len(values)), "x": pd.Series(values, dtype=object)})
    plan = build_plan(df, "id")
    for pos, value in enumerate(values):
        sent = json.loads(plan.set_body(pos), parse_float=Decimal, parse_int=Decimal)
        assert sent["$set"]["x"] == value
