"""Bad input decided before sending: list elements encoded one way for every op, text that is
not UTF-8 refused or skipped by the plan, option numbers of numpy types and their bounds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.cli import command as cli
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoInputError
from fyno_pandas.options.checks import pair
from fyno_pandas.options.model import SendOptions
from fyno_pandas.planning.bodies import argument
from fyno_pandas.planning.steps import row_steps

pa = pytest.importorskip("pyarrow", reason="pd.ArrowDtype needs pyarrow")

QUIET = {"preview": False, "progress": False}
UTC = dt.timezone.utc
#: What ``encoding_errors="surrogateescape"`` makes of the undecodable byte 0x80.
SURROGATE = "caf\udc80"


def arrow(values: list, pa_type: object) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, pa_type)))


def objects(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


# -- list elements: one encoding for set, append and remove -------------------------------------

DAY_1, DAY_2 = dt.date(2020, 1, 1), dt.date(2020, 1, 2)
NOON_1 = dt.datetime(2020, 1, 1, 12, tzinfo=UTC)
NOON_2 = dt.datetime(2020, 1, 2, 12, tzinfo=UTC)
ELEMENT_TYPES = {
    "date32": (pa.list_(pa.date32()), DAY_1, DAY_2),
    "date64": (pa.list_(pa.date64()), DAY_1, DAY_2),
    "large_list_date32": (pa.large_list(pa.date32()), DAY_1, DAY_2),
    "timestamp_utc": (pa.list_(pa.timestamp("ms", "UTC")), NOON_1, NOON_2),
    "timestamp_tokyo": (pa.list_(pa.timestamp("us", "Asia/Tokyo")), NOON_1, NOON_2),
}


@pytest.mark.parametrize("kind", ELEMENT_TYPES)
def test_remove_and_append_of_arrow_list_elements_store_what_a_set_stores(
    emulator: FynoEmulator, destination: dict[str, str], kind: str
) -> None:
    list_type, first, second = ELEMENT_TYPES[kind]
    options = {**destination, "naive_tz": "Asia/Kolkata", "schema": {"d": "list"}}
    both = pd.DataFrame({"uid": ["a"], "d": arrow([[first, second]], list_type)})
    fyno_pandas.push(both, "uid", **options, **QUIET)
    stored_first, stored_second = emulator.profiles["a"]["d"]
    one = pd.DataFrame({"uid": ["a"], "d": arrow([[first]], list_type)})

    rules = []
    for op in ("remove", "append"):
        rules += fyno_pandas.plan(one, "uid", ops={"d": op}, **options).issues["rule"].tolist()
        result = fyno_pandas.push(one, "uid", ops={"d": op}, **options, **QUIET)
        assert result["status"].tolist() == ["sent"]

    # the remove took the very element the set stored; the append stored the set's text again
    assert emulator.profiles["a"]["d"] == [stored_second, stored_first]
    assert rules == []  # no naive_datetime for days or zoned instants


def test_an_element_is_sent_as_the_text_a_set_sends() -> None:
    digits = Decimal("12345678901234567890.5")
    df = pd.DataFrame(
        {
            "uid": ["a"],
            "amounts": arrow([[digits, Decimal("1.10")]], pa.list_(pa.decimal128(22, 2))),
            "ratios": pd.Series([np.array([0.1, 65504], dtype=np.float32)], dtype=object),
        }
    )
    set_plan = fyno_pandas.plan(df, "uid", ledger=False)
    for op in ("append", "remove"):
        plan = fyno_pandas.plan(df, "uid", ops={"amounts": op, "ratios": op}, ledger=False)
        sent = [argument(plan, step) for step in row_steps(plan, 0)]
        assert sent == [
            '{"amounts":12345678901234567890.50,"ratios":0.1}',
            '{"amounts":1.10,"ratios":65504}',
        ]
        assert set_plan.fragments["amounts"][0] == "[12345678901234567890.50,1.10]"
        assert set_plan.fragments["ratios"][0] == "[0.1,65504]"


# -- text that is not UTF-8: refused or skipped before anything is sent -------------------------


def surrogate_ids() -> pd.DataFrame:
    return pd.DataFrame({"uid": objects(SURROGATE, "b"), "visits": [1, 2]})


@pytest.mark.parametrize("ops", [None, {"visits": "add"}], ids=["set", "add"])
def test_an_id_holding_a_lone_surrogate_skips_its_row_and_the_rest_is_sent_once(
    emulator: FynoEmulator, destination: dict[str, str], ops: dict[str, str] | None
) -> None:
    df = surrogate_ids()
    plan = fyno_pandas.plan(df, "uid", ops=ops, **destination)
    issue = plan.issues.loc[plan.issues["rule"] == "invalid_id"].iloc[0]
    assert (issue["row"], issue["action"]) == (0, "row_skipped")
    assert "not valid UTF-8" in issue["message"]

    result = fyno_pandas.push(df, "uid", ops=ops, **destination, **QUIET)

    assert result["status"].tolist() == ["skipped", "sent"]
    assert result["error"].tolist()[0] == "invalid_id"
    assert emulator.profiles == {"b": {"visits": 2}}
    sent = len(emulator.requests)
    again = fyno_pandas.push(df, "uid", ops=ops, **destination, **QUIET)
    assert again["status"].tolist()[0] == "skipped"
    if ops is None:  # a set pushed twice is unchanged; an add pushed twice adds again
        assert len(emulator.requests) == sent


def test_a_category_id_holding_a_lone_surrogate_is_invalid() -> None:
    ids = pd.Categorical.from_codes([0, 1], categories=pd.Index([SURROGATE, "b"], dtype=object))
    df = pd.DataFrame({"uid": ids, "visits": [1, 2]})
    plan = fyno_pandas.plan(df, "uid", ledger=False)
    assert plan.skip_reasons.tolist() == ["invalid_id", None]


def refused_before_sending(emulator: FynoEmulator, destination: dict, df: pd.DataFrame, **kw):
    with pytest.raises(FynoInputError) as err:
        fyno_pandas.push(df, "uid", **kw, **destination, **QUIET)
    assert emulator.requests == []
    str(err.value).encode("utf-8")  # the message itself is printable text
    return err.value


@pytest.mark.parametrize("ops", [None, {SURROGATE: "add"}], ids=["set", "add"])
def test_a_column_name_holding_a_lone_surrogate_is_refused_before_sending(
    emulator: FynoEmulator, destination: dict[str, str], ops: dict[str, str] | None
) -> None:
    df = pd.DataFrame([["a", 1]], columns=pd.Index(["uid", SURROGATE], dtype=object))
    error = refused_before_sending(emulator, destination, df, ops=ops)
    assert (error.rule, error.column) == ("invalid_property_name", SURROGATE)
    assert "UTF-8" in str(error)


def test_an_unset_name_holding_a_lone_surrogate_is_refused_before_sending(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "visits": [1, 2]})
    error = refused_before_sending(emulator, destination, df, unset=["old", SURROGATE])
    assert (error.rule, error.column) == ("invalid_property_name", SURROGATE)
    assert "UTF-8" in str(error)


# -- option numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [float("inf"), 1e10, 3600.5, float("nan"), 0])
def test_a_timeout_beyond_the_bound_is_refused_before_sending(
    emulator: FynoEmulator, destination: dict[str, str], timeout: float
) -> None:
    df = pd.DataFrame({"uid": ["a"], "visits": [1]})
    error = refused_before_sending(emulator, destination, df, timeout=timeout)
    assert error.rule == "timeout"
    assert "timeout must be" in str(error)


def test_the_longest_timeout_is_accepted(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"uid": ["a"], "visits": [1]})
    result = fyno_pandas.push(df, "uid", timeout=3600, **destination, **QUIET)
    assert result["status"].tolist() == ["sent"]


def test_numbers_of_numpy_types_are_numbers(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"uid": ["a", "b", "c"], "visits": [1, 2, 3]})
    numbers = {
        "concurrency": np.int64(4),
        "batch_size": np.int32(2),
        "max_retries": np.uint8(3),
        "max_rps": np.float64(500.0),
        "timeout": np.float32(10),
    }
    result = fyno_pandas.push(df, "uid", **numbers, **destination, **QUIET)
    assert result["status"].tolist() == ["sent"] * 3
    assert emulator.profiles == {"a": {"visits": 1}, "b": {"visits": 2}, "c": {"visits": 3}}
    summary = result.attrs["fyno"]
    assert (summary["concurrency"], summary["batch_size"]) == (4, 2)
    again = fyno_pandas.push(
        df, "uid", mirror=True, mirror_max_clear=np.int64(0), **destination, **QUIET
    )
    assert again["status"].tolist() == ["unchanged"] * 3
    SendOptions(**numbers)  # the declared checks themselves take them too


@pytest.mark.parametrize("value", [True, np.True_, np.float64(4.0), 4.0, "4"])
def test_a_bool_or_a_float_is_not_an_integer(value: object) -> None:
    df = pd.DataFrame({"uid": ["a"], "visits": [1]})
    with pytest.raises(FynoInputError) as err:
        fyno_pandas.push(df, "uid", concurrency=value, dry_run=True, **QUIET)
    assert err.value.rule == "concurrency"


def test_a_malformed_pair_is_an_input_error_with_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(FynoInputError, match="expected COLUMN=VALUE"):
        pair("logins")
    with pytest.raises(SystemExit):
        cli.main(["push", "users.csv", "--id-col", "uid", "--op", "logins"])
    assert "expected COLUMN=VALUE, not 'logins'" in capsys.readouterr().err
