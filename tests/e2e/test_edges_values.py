"""Values at the edges: Arrow lists of dates, narrow floats, numbers beyond a double, extreme years.

One test per rule, then a property test that plans and pushes generated frames to the emulator
and checks that every value sent means what the frame's value means.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fyno_pandas
from fyno_pandas.coercion.coerce import Coerced, coerce_series
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.planning.plan import PushPlan

pa = pytest.importorskip("pyarrow", reason="pd.ArrowDtype needs pyarrow")

UTC = dt.timezone.utc
PLUS5 = dt.timezone(dt.timedelta(hours=5))
MINUS5 = dt.timezone(dt.timedelta(hours=-5))
# The least int a double rounds to infinity: halfway from the largest double to 2**1024.
DOUBLE_LIMIT = 2**1024 - 2**970


def arrow(values: list, pa_type: object) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, pa_type)))


def objects(*values: object) -> pd.Series:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # one by one: numpy would unpack lists
        out[i] = value
    return pd.Series(out, dtype=object)


def issues(c: Coerced) -> dict[tuple[str, str], list[int]]:
    return {(i.rule, i.action): i.positions.tolist() for i in c.issues}


def sent(c: Coerced) -> list[object]:
    return [None if f is None else json.loads(f) for f in c.fragments]


# -- 3. Arrow lists of dates and zoned timestamps ------------------------------------------------

LIST_KINDS = {
    "list": pa.list_,
    "large_list": pa.large_list,
    "fixed_size_list": lambda t: pa.list_(t, 1),
}


@pytest.mark.parametrize("kind", LIST_KINDS)
@pytest.mark.parametrize("day_type", [pa.date32(), pa.date64()], ids=["date32", "date64"])
def test_arrow_list_days_go_as_days(kind: str, day_type: object) -> None:
    s = arrow([[dt.date(2020, 1, 1)], None, [dt.date(1, 1, 1)]], LIST_KINDS[kind](day_type))
    c = coerce_series(s, naive_tz="Asia/Kolkata")
    assert c.fragments.tolist() == ['["2020-01-01"]', None, '["0001-01-01"]']
    assert c.issues == []


@pytest.mark.parametrize("kind", LIST_KINDS)
@pytest.mark.parametrize("unit", ["s", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo"])
def test_arrow_list_zoned_timestamps_go_to_utc_unreported(kind: str, unit: str, tz: str) -> None:
    noon = dt.datetime(2020, 1, 1, 12, tzinfo=UTC)
    s = arrow([[noon], None], LIST_KINDS[kind](pa.timestamp(unit, tz)))
    c = coerce_series(s, naive_tz="Asia/Kolkata")
    assert sent(c) == [["2020-01-01T12:00:00.000Z"], None]
    assert c.issues == []


def test_arrow_list_naive_timestamps_are_localized_and_reported() -> None:
    s = arrow(
        [[dt.datetime(2020, 1, 1, 12)], [], [dt.datetime(2020, 3, 29, 2, 30)]],
        pa.list_(pa.timestamp("us")),
    )
    c = coerce_series(s, naive_tz="Europe/Paris")
    assert sent(c) == [["2020-01-01T11:00:00.000Z"], [], None]  # 02:30 does not exist there
    assert issues(c) == {("invalid_list", "dropped"): [2], ("naive_datetime", "coerced"): [0]}


def test_arrow_list_with_a_missing_or_out_of_range_element_is_left_out() -> None:
    lists = pa.array([[0, None], [3_000_000], [-800_000], [18_262]], pa.list_(pa.date32()))
    c = coerce_series(pd.Series(pd.arrays.ArrowExtensionArray(lists)))
    assert sent(c) == [None, None, None, ["2020-01-01"]]
    assert issues(c) == {("invalid_list", "dropped"): [0, 1, 2]}


def test_arrow_lists_of_dates_reach_fyno_as_days_and_instants(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "days": arrow([[dt.date(2020, 1, 1)], [dt.date(2021, 6, 30)]], pa.list_(pa.date32())),
            "seen": arrow(
                [[dt.datetime(2020, 1, 1, 12, tzinfo=UTC)], []],
                pa.list_(pa.timestamp("us", "UTC")),
            ),
        }
    )
    fyno_pandas.push(
        df,
        "id",
        ledger=False,
        preview=False,
        progress=False,
        naive_tz="Asia/Kolkata",
        **destination,
    )
    assert emulator.profiles == {
        "a": {"days": ["2020-01-01"], "seen": ["2020-01-01T12:00:00.000Z"]},
        "b": {"days": ["2021-06-30"], "seen": []},
    }


# -- 4. float16 / float32 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s",
    [
        pd.Series([65504, 0.1, -2048, 1.5], dtype="float16"),
        pd.Series([65504, 0.1, -2048, 1.5], dtype="float32"),
        pd.Series([65504, 0.1, -2048, 1.5, None], dtype="Float32"),
        arrow([65504, 0.1, -2048, 1.5], pa.float16()),
        arrow([65504, 0.1, -2048, 1.5], pa.float32()),
        objects(np.float16(65504), np.float32(0.1), np.float16(-2048), np.float32(1.5)),
    ],
    ids=["float16", "float32", "Float32", "arrow_halffloat", "arrow_float", "object"],
)
def test_narrow_floats_integral_as_integers_others_shortest(s: pd.Series) -> None:
    c = coerce_series(s)
    assert c.fragments.tolist()[:4] == ["65504", "0.1", "-2048", "1.5"]


def test_float32_integral_values_keep_every_digit() -> None:
    c = coerce_series(pd.Series([123456792.0, 1e20, 3.4028235e38], dtype="float32"))
    expected = [123456792, 100000002004087734272, int(np.float32(3.4028235e38))]
    assert [int(f) for f in c.fragments] == expected


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (
            objects([np.float16(65504), np.float32(123456792.0), np.float32(0.1)]),
            "[65504,123456792,0.1]",
        ),
        (arrow([[65504, 0.1]], pa.list_(pa.float16())), "[65504,0.1]"),
        (arrow([[123456792.0, 0.1]], pa.list_(pa.float32())), "[123456792,0.1]"),
    ],
    ids=["object", "arrow_halffloat", "arrow_float"],
)
def test_narrow_floats_in_lists(s: pd.Series, expected: str) -> None:
    assert coerce_series(s).fragments.tolist() == [expected]


@settings(max_examples=200, deadline=None)
@given(bits=st.integers(0, 2**32 - 1), half=st.booleans())
def test_every_narrow_float_reads_back_to_itself(bits: int, half: bool) -> None:
    width, view = (np.float16, np.uint16) if half else (np.float32, np.uint32)
    value = np.array([bits % (2 ** (8 * np.dtype(view).itemsize))], view).view(width)
    if not np.isfinite(value[0]):
        return
    (text,) = coerce_series(pd.Series(value)).fragments
    read = json.loads(text)
    if value[0] == np.trunc(value[0]):
        assert type(read) is int
        assert read == int(value[0])
    else:
        assert width(read) == value[0]
        assert len(text) <= len(repr(float(value[0])))


# -- 5. numbers a double cannot hold -------------------------------------------------------------


def test_numbers_beyond_a_double_are_dropped_as_not_finite() -> None:
    big = [Decimal("1e400"), Decimal("-1e400"), 10**400, -(10**400), DOUBLE_LIMIT]
    s = objects(*big, DOUBLE_LIMIT - 1, 2**60, Decimal("1.5"))
    c = coerce_series(s)
    assert sent(c)[5:] == [DOUBLE_LIMIT - 1, 2**60, 1.5]
    assert float(DOUBLE_LIMIT - 1) == np.finfo(np.float64).max
    assert issues(c) == {
        ("not_finite", "dropped"): [0, 1, 2, 3, 4],
        ("unsafe_integer", "warned"): [5, 6],
    }
    assert all("too large for a double" in i.message for i in c.issues if i.rule == "not_finite")


def test_lists_holding_numbers_beyond_a_double_are_left_out() -> None:
    c = coerce_series(objects([Decimal("1e400")], [1, 10**400], [-(10**400)], [10**300]))
    assert sent(c) == [None, None, None, [10**300]]
    assert issues(c) == {("invalid_list", "dropped"): [0, 1, 2]}


def test_numbers_beyond_a_double_never_reach_fyno(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "n": objects(7, 10**400, Decimal("-1e400"))})
    result = fyno_pandas.push(df, "id", ledger=False, preview=False, progress=False, **destination)
    assert emulator.profiles == {"a": {"n": 7}}
    assert result["dropped"].tolist() == [[], ["n"], ["n"]]


# -- 12. values that raised deep inside ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(1, 1, 1, tzinfo=PLUS5), None),
        (dt.datetime(9999, 12, 31, 23, tzinfo=MINUS5), None),
        (dt.datetime(1, 1, 1, 6, tzinfo=PLUS5), "0001-01-01T01:00:00.000Z"),
        (dt.datetime(9999, 12, 31, 18, tzinfo=MINUS5), "9999-12-31T23:00:00.000Z"),
        (dt.datetime(9999, 12, 31, 19, tzinfo=ZoneInfo("America/New_York")), None),
        (dt.datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata")), None),
    ],
)
def test_zoned_datetimes_at_the_ends_of_the_calendar(value: dt.datetime, expected: str) -> None:
    c = coerce_series(objects(value))
    assert sent(c) == [expected]
    assert issues(c) == ({} if expected else {("date_out_of_range", "dropped"): [0]})
    c = coerce_series(objects([value]))
    assert sent(c) == [None if expected is None else [expected]]
    assert issues(c) == ({} if expected else {("invalid_list", "dropped"): [0]})


@pytest.mark.parametrize(
    ("wall", "tz", "expected"),
    [
        ("9999-12-31T23:00", "America/New_York", None),
        ("9999-12-31T18:59:59", "America/New_York", "9999-12-31T23:59:59.000Z"),
        ("9999-12-31T23:00", "America/Los_Angeles", None),
        ("0001-01-01T00:00", "America/New_York", "0001-01-01T04:56:02.000Z"),
        ("0001-01-01T00:00", "Asia/Kolkata", None),
        ("10000-01-01T05:00", "Asia/Kolkata", "9999-12-31T23:30:00.000Z"),
        ("20000-01-01T00:00", "America/New_York", None),
    ],
)
@pytest.mark.parametrize("arrow_backed", [False, True], ids=["numpy", "arrow"])
def test_naive_datetimes_at_the_ends_are_localized(
    wall: str, tz: str, expected: str | None, arrow_backed: bool
) -> None:
    values = np.array([wall], dtype="datetime64[s]")
    s = arrow(values, pa.timestamp("s")) if arrow_backed else pd.Series(values)
    c = coerce_series(s, naive_tz=tz)
    assert sent(c) == [expected]
    dropped = {("date_out_of_range", "dropped"): [0]} if expected is None else {}
    assert issues(c) == {**dropped, ("naive_datetime", "coerced"): [0]}


def test_naive_wall_times_in_lists_at_the_ends() -> None:
    s = objects([dt.datetime(9999, 12, 31, 23)], [dt.datetime(9999, 12, 31, 12)])
    c = coerce_series(s, naive_tz="America/New_York")
    assert sent(c) == [None, ["9999-12-31T17:00:00.000Z"]]


def test_zoned_columns_at_the_ends() -> None:
    first = pd.Series(np.array(["0001-01-01T00:00"], dtype="datetime64[s]"))
    try:
        zoned = first.dt.tz_localize(ZoneInfo("Asia/Kolkata"))
    except OverflowError:  # pandas 2 asks Python's datetime, which stops at year 1
        zoned = None
    if zoned is not None:
        c = coerce_series(zoned)
        assert (sent(c), issues(c)) == ([None], {("date_out_of_range", "dropped"): [0]})
    far = arrow([-(10**11), 10**12, 0], pa.timestamp("s", "Asia/Kolkata"))
    c = coerce_series(far)
    assert sent(c) == [None, None, "1970-01-01T00:00:00.000Z"]
    assert issues(c) == {("date_out_of_range", "dropped"): [0, 1]}


@pytest.mark.parametrize("pa_type", [pa.date32(), pa.date64()], ids=["date32", "date64"])
def test_arrow_dates_outside_python_years(pa_type: object) -> None:
    day = 86_400_000 if pa_type == pa.date64() else 1
    s = arrow([-800_000 * day, 3_000_000 * day, 18_262 * day, None], pa_type)
    c = coerce_series(s)
    assert sent(c) == [None, None, "2020-01-01", None]
    assert issues(c) == {("date_out_of_range", "dropped"): [0, 1]}


def test_signalling_nan_decimal_is_not_finite() -> None:
    c = coerce_series(objects(Decimal("sNaN"), Decimal("NaN"), Decimal(1), [Decimal("sNaN")]))
    assert c.missing.tolist() == [False, True, False, False]
    assert sent(c) == [None, None, 1, None]
    assert issues(c) == {("not_finite", "dropped"): [0], ("invalid_list", "dropped"): [3]}


def test_a_plan_reports_each_edge_value_instead_of_raising() -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "when": objects(
                dt.datetime(1, 1, 1, tzinfo=PLUS5),
                dt.datetime(9999, 12, 31, 23, tzinfo=MINUS5),
                dt.datetime(2020, 1, 1, tzinfo=UTC),
            ),
            "naive": np.array(["9999-12-31T23:00", "0001-01-01", "2020-01-01"], "datetime64[s]"),
            "amount": objects(Decimal("sNaN"), Decimal("1e400"), 1),
        }
    )
    plan = fyno_pandas.plan(df, "id", ledger=False, naive_tz="America/New_York")
    cells = plan.issues[plan.issues.row.notna()]
    assert sorted(zip(cells.row, cells.column.fillna(""), cells.rule, strict=True)) == [
        (0, "", "empty_row"),
        (0, "amount", "not_finite"),
        (0, "naive", "date_out_of_range"),
        (0, "when", "date_out_of_range"),
        (1, "amount", "not_finite"),
        (1, "when", "date_out_of_range"),
    ]


# -- property: what is sent means what the frame holds -------------------------------------------

ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Kiritimati", "Australia/Sydney"]
# No decimal digits: strings that look like dates or numbers follow other rules.
TEXT = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=5)
NAIVE = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59))
OFFSETS = [dt.timezone(dt.timedelta(minutes=m)) for m in (-14 * 60, -300, 0, 330, 14 * 60)]
AWARE = st.datetimes(
    min_value=dt.datetime(1, 1, 1),
    max_value=dt.datetime(9999, 12, 31, 23, 59),
    timezones=st.sampled_from([*OFFSETS, *map(ZoneInfo, ZONES)]),
)
EDGE_TIMES = st.sampled_from(
    [
        dt.datetime(1, 1, 1, tzinfo=PLUS5),
        dt.datetime(9999, 12, 31, 23, tzinfo=MINUS5),
        dt.datetime(9999, 12, 31, 23, 59),
        dt.datetime(1, 1, 1),
    ]
)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), DOUBLE_LIMIT, DOUBLE_LIMIT - 1]),
    st.floats(),
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal(t) for t in ("1e400", "-1e400", "sNaN", "NaN", "Infinity")]),
)
SCALARS = st.one_of(NUMBERS, st.booleans(), TEXT, NAIVE, AWARE, EDGE_TIMES, st.dates())
OBJECTS = st.one_of(st.none(), SCALARS, st.lists(st.one_of(st.none(), SCALARS), max_size=3))


def maybe(elements: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), elements)


def instant(value: dt.datetime, naive_tz: str) -> np.datetime64:
    """The UTC millisecond a datetime names, in numpy (no overflow at the calendar's ends)."""
    offset = (value if value.tzinfo else value.replace(tzinfo=ZoneInfo(naive_tz))).utcoffset()
    wall = np.datetime64(value.replace(tzinfo=None), "us")
    return (wall - np.timedelta64(offset, "us")).astype("datetime64[ms]")


def means(stored: object, value: object, naive_tz: str) -> bool:
    """Whether a JSON value Fyno stores means ``value`` of the frame."""
    if isinstance(value, (bool, np.bool_)):
        return stored is bool(value)
    if isinstance(value, (int, np.integer)):
        return type(stored) is int and stored == int(value)
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        if value == np.trunc(value):
            return type(stored) is int and stored == int(value)
        return type(stored) is float and value.dtype.type(stored) == value
    if isinstance(value, float):
        return type(stored) is float and stored == value
    if isinstance(value, Decimal):  # every digit is sent; a double reader keeps the nearest
        return type(stored) in (int, float) and float(stored) == float(value)
    if isinstance(value, str):
        return stored == value
    if isinstance(value, dt.datetime):
        if not (isinstance(stored, str) and stored.endswith("Z")):
            return False
        return np.datetime64(stored[:-1], "ms") == instant(value, naive_tz)
    if isinstance(value, dt.date):
        return stored == value.isoformat()
    if isinstance(value, (list, tuple)):
        return (
            isinstance(stored, list)
            and len(stored) == len(value)
            and all(means(s, v, naive_tz) for s, v in zip(stored, value, strict=True))
        )
    return False


def missing(value: object) -> bool:
    if isinstance(value, Decimal):
        return value.is_qnan()
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return value is None


@st.composite
def columns(draw: st.DrawFn) -> dict[str, list]:
    """The Python values of each column of a frame (see `frame`), ``n`` rows each."""
    n = draw(st.integers(1, 5))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=n, max_size=n))

    def lists(elements: st.SearchStrategy) -> list:
        return column(maybe(st.lists(maybe(elements), max_size=3)))

    seconds = column(maybe(st.one_of(NAIVE, EDGE_TIMES.filter(lambda d: d.tzinfo is None))))
    return {
        **{f"o{i}": column(OBJECTS) for i in range(3)},
        "days": lists(st.dates()),
        "instants": lists(NAIVE.map(lambda d: d.replace(tzinfo=UTC))),
        "walls": lists(NAIVE),
        "ints": lists(st.integers(-(2**63), 2**63 - 1)),
        "texts": lists(TEXT),
        "halves": column(st.floats(width=16).map(np.float16)),
        "singles": column(st.floats(width=32).map(np.float32)),
        "seconds": [None if d is None else d.replace(microsecond=0) for d in seconds],
    }


def frame(data: dict[str, list], zone: str) -> pd.DataFrame:
    """Object columns, Arrow lists (zoned ones in ``zone``), float16/32 and datetime64[s]."""
    df = pd.DataFrame({"id": [f"u{i}" for i in range(len(data["o0"]))]})
    for name in ("o0", "o1", "o2"):
        df[name] = objects(*data[name])
    df["days"] = arrow(data["days"], pa.list_(pa.date32()))
    df["instants"] = arrow(data["instants"], pa.list_(pa.timestamp("us", zone)))
    df["walls"] = arrow(data["walls"], pa.list_(pa.timestamp("us")))
    df["ints"] = arrow(data["ints"], pa.list_(pa.int64()))
    df["texts"] = arrow(data["texts"], pa.list_(pa.string()))
    df["halves"] = np.array(data["halves"], dtype=np.float16)
    df["singles"] = np.array(data["singles"], dtype=np.float32)
    df["seconds"] = np.array([np.datetime64(d) for d in data["seconds"]], "datetime64[s]")
    return df


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=columns(), zone=st.sampled_from(ZONES), list_zone=st.sampled_from(ZONES))
def test_what_is_sent_means_what_the_frame_holds(
    emulator: FynoEmulator, destination: dict[str, str], data: dict, zone: str, list_zone: str
) -> None:
    df = frame(data, list_zone)
    push_and_check(emulator, destination, df, data, zone)


def push_and_check(
    emulator: FynoEmulator, destination: dict[str, str], df: pd.DataFrame, data: dict, zone: str
) -> PushPlan:
    """Plan and push ``df`` (built from ``data``); check both promises cell by cell.

    Every value planned to be sent means the frame's value unless the plan reports the cell;
    every property Fyno typed has the plan's type; a row reported sent has every value it
    carried stored, and nothing else.
    """
    emulator.reset()
    plan = fyno_pandas.plan(df, "id", ledger=False, naive_tz=zone)
    reported = set(zip(plan.issues.row, plan.issues.column, strict=True))
    for payload in plan.payloads():
        row = int(payload["distinct_id"][1:])
        for name, value in payload.get("$set", {}).items():
            if (row, name) not in reported:
                assert means(value, data[name][row], zone), (row, name, value)
    result = fyno_pandas.push(
        df, "id", ledger=False, preview=False, progress=False, naive_tz=zone, **destination
    )
    for name, fyno_type in emulator.property_types.items():
        assert fyno_type == plan.fyno_types.get(name), (name, fyno_type, plan.fyno_types)
    profiles = emulator.profiles
    for row, (status, dropped) in enumerate(zip(result.status, result.dropped, strict=True)):
        assert status in ("sent", "skipped")
        profile = profiles.get(f"u{row}", {})
        for name, values in data.items():
            value = values[row]
            if status == "skipped" or name in dropped or missing(value):
                assert name not in profile, (row, name, value, profile.get(name))
            else:
                assert name in profile, (row, name, value)
                assert means(profile[name], value, zone), (row, name, value, profile[name])
    return plan


def test_a_signalling_nan_id_skips_its_row_instead_of_raising() -> None:
    frame = pd.DataFrame({"id": pd.Series([Decimal("sNaN"), "u1"], dtype=object), "n": [1, 2]})
    plan = fyno_pandas.plan(frame, "id", ledger=False)
    assert plan.distinct_ids.tolist() == [None, "u1"]
    assert plan.skip_reasons.tolist() == ["missing_id", None]


# -- property: date-like and numeric text, alone, among words and inside lists -------------------

# Other scripts' decimal digits: \\d matches them, and some readers (Python's int) read them.
OTHER_DIGITS = [
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "０１２３４５６７８９",
]
DOCUMENTED = [
    "2020-10-01",
    "2020-10-01T18:30:00Z",
    "2020-10-01T18:30:00.000Z",
    "2020-10-01T18:30:00+02:00",
    "2020-10-01T18:30:00.000+05:30",
]
WIDER = [
    "2024-01-01T10:00:00.123456+00:00",
    "2024-01-01 10:00:00",
    "2024-01-01T10:00z",
    "2024-01-01T10:00:00+0530",
    "2024-01-01t10:00:00,5-03",
    "2024-02-29T23:59:59.999999999Z",
]
MALFORMED = [
    "2023-04-31",
    "2021-02-30",
    "0000-01-01",
    "2021-01-01T25:00:00Z",
    "2021-01-01T10:60",
    "2021-01-01T10:00:60",
    "2021-01-01T10:00+24:00",
    "2021-01-01T10:00-05:60",
    "2023-01-01T\uff12\uff15:00",  # hour 25, in fullwidth digits
]
NEAR_MISSES = [
    "2024",
    "2024-01",
    "20240101",
    "2024-W01-1",
    "2024-001",
    "2024-1-1",
    "2024-01-01T",
    "2024-01-01T10",
    "2024-01-01x",
    " 2024-01-01",
    "2024-01-01 ",
    "2024-01-01\n",
    "2024-01-01T10:00:00Zjunk",
    "on 2024-01-01",
]
NUMERIC_WORDS = [
    "007", " 3 ", "+1", "-0", "1e5", ".5", "5.", "1_000", "0x1F", "1,5", "NaN", "Infinity", "-inf",
    "\u0661\u0662\u0663", "１２",
]  # fmt: skip
WORDS = ["alpha", "never", "pending", "", " ", "N/A", "true", "null"]


def _number(width: int, common: st.SearchStrategy, odd: list[int]) -> st.SearchStrategy:
    return st.one_of(common, st.sampled_from(odd)).map(lambda v: f"{v:0{width}d}")


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    """A string of a date-like shape (`coercion.datelike`): real, malformed, in any digits."""
    year = draw(_number(4, st.integers(1, 9999), [0, 1969, 1970, 2000]))
    month = draw(_number(2, st.integers(1, 12), [0, 13, 99]))
    day = draw(_number(2, st.integers(1, 28), [0, 29, 30, 31, 32]))
    text = f"{year}-{month}-{day}"
    if draw(st.booleans()):
        hour = draw(_number(2, st.integers(0, 23), [24, 25, 99]))
        minute = draw(_number(2, st.integers(0, 59), [60, 99]))
        text += draw(st.sampled_from("Tt ")) + f"{hour}:{minute}"
        if draw(st.booleans()):
            text += ":" + draw(_number(2, st.integers(0, 59), [60, 61]))
            if draw(st.booleans()):
                digits = draw(st.text("0123456789", min_size=1, max_size=10))
                text += draw(st.sampled_from(".,")) + digits
        sign, off_h, off_m = (
            draw(st.sampled_from("+-")),
            draw(_number(2, st.integers(0, 23), [24, 99])),
            draw(_number(2, st.sampled_from([0, 30, 45]), [59, 60])),
        )
        text += draw(
            st.sampled_from(
                ["", "Z", "z", sign + off_h, sign + off_h + off_m, f"{sign}{off_h}:{off_m}"]
            )
        )
    if draw(st.integers(0, 9)) == 0:  # some digits in another script
        script = draw(st.sampled_from(OTHER_DIGITS))
        where = draw(st.sets(st.integers(0, len(text) - 1), max_size=3))
        text = "".join(
            script[int(c)] if i in where and c.isdigit() else c for i, c in enumerate(text)
        )
    return text


DATE_TEXT = st.one_of(date_texts(), st.sampled_from(DOCUMENTED + WIDER + MALFORMED))
NUMERIC_TEXT = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),
    st.decimals(places=3).map(str),
    st.sampled_from(NUMERIC_WORDS),
)
STRINGS = st.one_of(DATE_TEXT, NUMERIC_TEXT, st.sampled_from(NEAR_MISSES + WORDS), TEXT)
MIXED = st.one_of(st.none(), STRINGS, SCALARS)
MIXED_OBJECTS = st.one_of(MIXED, st.lists(MIXED, max_size=3), st.lists(STRINGS, max_size=3))
# Date-like as docs/topics/types.md says: YYYY-MM-DD, then [Tt ]HH:MM[:SS[.,fraction]][offset].
DATE_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


@st.composite
def text_columns(draw: st.DrawFn) -> dict[str, list]:
    """Columns of strings (see `text_frame`), ``n`` rows each."""
    n = draw(st.integers(1, 6))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=n, max_size=n))

    return {
        "o0": column(MIXED_OBJECTS),
        "o1": column(MIXED_OBJECTS),
        "stamps": column(maybe(DATE_TEXT)),  # a new property of date-like text only
        "mixed": column(maybe(STRINGS)),
        "strs": column(maybe(STRINGS)),
        "arrow_strs": column(maybe(st.one_of(DATE_TEXT, NUMERIC_TEXT))),
        "cats": column(maybe(st.one_of(DATE_TEXT, st.sampled_from(WORDS)))),
        "tags": column(maybe(st.lists(STRINGS, max_size=3))),
        "otags": column(maybe(st.lists(st.one_of(STRINGS, NUMBERS, st.dates()), max_size=3))),
    }


def text_frame(data: dict[str, list]) -> pd.DataFrame:
    """Object columns, str, string[pyarrow], category, Arrow lists of str and object lists."""
    df = pd.DataFrame({"id": [f"u{i}" for i in range(len(data["o0"]))]})
    for name in ("o0", "o1", "stamps", "mixed", "otags"):
        df[name] = objects(*data[name])
    df["strs"] = pd.Series(data["strs"], dtype="string")
    df["arrow_strs"] = pd.Series(data["arrow_strs"], dtype=pd.ArrowDtype(pa.string()))
    df["cats"] = pd.Series(data["cats"], dtype="category")
    df["tags"] = arrow(data["tags"], pa.list_(pa.string()))
    return df


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=text_columns(), zone=st.sampled_from(ZONES))
def test_date_like_and_numeric_text_is_sent_as_the_frame_holds(
    emulator: FynoEmulator, destination: dict[str, str], data: dict, zone: str
) -> None:
    plan = push_and_check(emulator, destination, text_frame(data), data, zone)
    for name, values in data.items():
        texts = [v for v in values if v is not None]
        if not texts or not all(isinstance(v, str) and DATE_SHAPE.fullmatch(v) for v in texts):
            continue
        if plan.fyno_types.get(name) == "date":  # documented dates only: Fyno's type too
            continue
        # a new string property whose only values are date-like: nothing stored unless reported
        assert name not in emulator.property_types, (name, texts)
        assert all(name not in p for p in emulator.profiles.values()), (name, texts)
        seedless = plan.issues[(plan.issues.column == name) & (plan.issues.rule == "no_safe_seed")]
        assert sorted(seedless.row) == [i for i, v in enumerate(values) if v is not None], name


@pytest.mark.parametrize(
    ("column", "expected_rule"),
    [
        (pd.Series(["0000-01-01"], dtype="category"), "no_safe_seed"),  # pandas 3 reads year 0
        (pd.Series(["0000-12-31T10:00:00Z"], dtype=object), "no_safe_seed"),
        (objects(["0000-01-01", "a"]), "invalid_list"),
        (objects(["2023-01-01T\uff12\uff15:00", "a"]), "invalid_list"),  # hour 25, fullwidth
        (objects(["\uff12\uff10\uff12\uff13-01-01"]), "invalid_list"),
        (arrow([["2023-01-01T10:00+\u0662\u0664"]], pa.list_(pa.string())), "invalid_list"),
    ],
    ids=["category", "object", "list", "list_fullwidth_hour", "list_fullwidth_year", "arrow"],
)
def test_year_zero_and_other_scripts_digits_are_never_real_dates(
    column: pd.Series, expected_rule: str, emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    """A strict reader refuses them: never sent to a date property, nor inside a list."""
    df = pd.DataFrame({"id": ["u0"], "p": column})
    plan = fyno_pandas.plan(df, "id", ledger=False)
    result = fyno_pandas.push(df, "id", ledger=False, preview=False, progress=False, **destination)
    rules = plan.issues.loc[plan.issues.row.notna(), "rule"]
    assert sorted(rules) == sorted([expected_rule, "empty_row"])
    assert plan.fyno_types.get("p") != "date"
    assert result["dropped"].tolist() == [["p"]]
    assert emulator.profiles == {}
    assert emulator.property_types == {}


def test_year_zero_and_other_scripts_digits_are_text_on_a_string_property(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    texts = ["alpha", "0000-01-01", "\uff12\uff10\uff12\uff13-01-01", "2023-01-01T10:0\uff15:00Z"]
    df = pd.DataFrame({"id": ["u0", "u1", "u2", "u3"], "p": objects(*texts)})
    result = fyno_pandas.push(df, "id", ledger=False, preview=False, progress=False, **destination)
    assert result["status"].tolist() == ["sent"] * 4
    assert emulator.property_types == {"p": "string"}
    assert [emulator.profiles[f"u{i}"]["p"] for i in range(4)] == texts
