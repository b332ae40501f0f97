"""coerce_series on pd.ArrowDtype columns, one test per Arrow type family."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pytest

from fyno_pandas.coercion.coerce import coerce_series

pa = pytest.importorskip("pyarrow", reason="pd.ArrowDtype needs pyarrow")


def arrow(values: list, pa_type: object) -> pd.Series:
    return pd.Series(values, dtype=pd.ArrowDtype(pa_type))


def sent(s: pd.Series, **kw: object) -> list[object]:
    c = coerce_series(s, **kw)
    return [None if f is None else json.loads(f) for f in c.fragments]


@pytest.mark.parametrize("pa_type", ["int8", "int64", "uint16", "uint64"])
def test_arrow_ints(pa_type: str) -> None:
    c = coerce_series(arrow([1, None, 42], getattr(pa, pa_type)()))
    assert (c.fyno_type, c.fragments.tolist()) == ("number", ["1", None, "42"])
    assert c.missing.tolist() == [False, True, False]


@pytest.mark.parametrize("pa_type", ["float32", "float64"])
def test_arrow_floats_nan_missing_inf_dropped(pa_type: str) -> None:
    c = coerce_series(arrow([1.5, None, float("nan"), float("inf")], getattr(pa, pa_type)()))
    assert c.fragments.tolist() == ["1.5", None, None, None]
    assert c.missing.tolist() == [False, True, True, False]
    assert [(i.rule, i.positions.tolist()) for i in c.issues] == [("not_finite", [3])]


def test_arrow_decimal128_keeps_digits() -> None:
    s = arrow([Decimal("12345678901234.5678"), None], pa.decimal128(18, 4))
    c = coerce_series(s)
    assert c.fragments.tolist() == ["12345678901234.5678", None]
    assert c.fyno_type == "number"


@pytest.mark.parametrize("pa_type", ["string", "large_string"])
def test_arrow_strings(pa_type: str) -> None:
    assert sent(arrow(["a", None, "é"], getattr(pa, pa_type)())) == ["a", None, "é"]


def test_arrow_bool() -> None:
    c = coerce_series(arrow([True, None, False], pa.bool_()))
    assert c.fragments.tolist() == ["true", None, "false"]


def test_arrow_timestamp_without_zone_is_localized() -> None:
    s = arrow([dt.datetime(2020, 7, 1, 12), None], pa.timestamp("us"))
    c = coerce_series(s, naive_tz="Europe/Paris")
    assert json.loads(c.fragments[0]) == "2020-07-01T10:00:00.000Z"
    assert [(i.rule, i.column_wide) for i in c.issues] == [("naive_datetime", True)]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_arrow_timestamp_with_zone_goes_to_utc(unit: str) -> None:
    moment = dt.datetime(2020, 10, 1, 18, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    c = coerce_series(arrow([moment, None], pa.timestamp(unit, tz="Asia/Kolkata")))
    assert json.loads(c.fragments[0]) == "2020-10-01T13:00:00.000Z"
    assert c.issues == []


@pytest.mark.parametrize("pa_type", ["date32", "date64"])
def test_arrow_dates(pa_type: str) -> None:
    c = coerce_series(arrow([dt.date(2020, 10, 1), None], getattr(pa, pa_type)()))
    assert (c.fyno_type, c.fragments.tolist()) == ("date", ['"2020-10-01"', None])


def test_arrow_list_of_strings() -> None:
    s = arrow([["iPhone 16 Pro", "iPad"], None, []], pa.list_(pa.string()))
    assert sent(s) == [["iPhone 16 Pro", "iPad"], None, []]


def test_arrow_dictionary_is_typed_by_its_values() -> None:
    s = pd.Series(["a", "b", None]).astype(pd.ArrowDtype(pa.dictionary(pa.int8(), pa.string())))
    assert sent(s) == ["a", "b", None]


@pytest.mark.parametrize(
    ("values", "pa_type"),
    [
        ([dt.timedelta(seconds=1)], pa.duration("s")),
        ([dt.time(12, 30)], pa.time64("us")),
        ([dt.time(12, 30)], pa.time32("s")),
        ([b"\x00\x01"], pa.binary()),
        ([{"a": 1}], pa.struct([("a", pa.int8())])),
    ],
    ids=["duration", "time64", "time32", "binary", "struct"],
)
def test_arrow_types_fyno_cannot_hold(values: list, pa_type: object) -> None:
    c = coerce_series(arrow([*values, None], pa_type))
    assert c.fragments.tolist() == [None, None]
    assert [(i.rule, i.action, i.positions.tolist()) for i in c.issues] == [
        ("unsupported_type", "dropped", [0])
    ]
    assert c.missing.tolist() == [False, True]


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_pandas_str_dtype_of_both_storages(storage: str) -> None:
    dtype = pd.StringDtype(storage, na_value=float("nan")) if _has_na_value() else "string"
    c = coerce_series(pd.Series(["x", None, "y" * 256], dtype=dtype))
    assert c.fragments.tolist() == ['"x"', None, None]
    assert [i.rule for i in c.issues] == ["string_too_long"]


def _has_na_value() -> bool:
    """pandas >= 2.3 has the "str" dtype (StringDtype with na_value=NaN)."""
    try:
        pd.StringDtype("python", na_value=float("nan"))
    except TypeError:
        return False
    return True
