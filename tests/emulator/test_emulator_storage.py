"""The emulator's storage rules: type fixing, every silent drop, and each property operation.

Driven over loopback with plain ``requests``; the type table is also checked on the pure
``fyno_type`` function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.emulator.storage import fyno_type

LONG = "x" * 256


@pytest.fixture
def send(emulator: FynoEmulator) -> Iterator[Any]:
    """``send(operation, body)`` -> response; asserts the answer is 202 unless told otherwise."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emulator.api_key}"
    base = f"{emulator.endpoint}/{emulator.wsid}/live/profiles/properties/"

    def _send(operation: str, body: dict[str, Any], expect: int = 202) -> requests.Response:
        answer = session.post(base + operation, json=body, timeout=10)
        assert answer.status_code == expect, answer.text
        return answer

    yield _send
    session.close()


def set_(send: Any, values: dict[str, Any], user: str = "u1") -> None:
    send("set", {"distinct_id": user, "$set": values})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (False, "boolean"),
        (0, "number"),
        (23000, "number"),
        (20.34, "number"),
        ("Premium", "string"),
        ("", "string"),
        ("x" * 255, "string"),
        (LONG, None),
        ("2020-10-01", "date"),
        ("2020-10-01T18:30:00.000Z", "date"),
        ("2020-10-01T18:30:00Z", "date"),
        ("2020-10-01T18:30:00.000+05:30", "date"),
        ("2020-10-01T18:30:00+02:00", "date"),
        ("2020-10-01T18:30:00-03:00", "date"),
        # undocumented forms: read as dates, the worst case for a client that means text
        ("2020-10-01T18:30:00", "date"),
        ("2020-10-01T18:30:00.123456Z", "date"),
        ("2024-01-01T10:00:00.123456+00:00", "date"),
        ("2020-10-01 18:30:00Z", "date"),
        ("2020-10-01t18:30z", "date"),
        ("2020-10-01T18:30+0530", "date"),
        ("2020-10-01T18:30:00,5-03", "date"),
        ("2020-10", "string"),
        ("20201001", "string"),
        ("2021-02-30", None),  # malformed dates
        ("2023-04-31 10:00", None),
        ("2021-13-01", None),
        ("2021-01-01T25:00:00Z", None),
        ("2021-01-01T10:00:00+24:00", None),
        (["iPhone 16 Pro", "iPad 32 GB"], "list"),
        ([23000, 20.34], "list"),
        (["2020-10-01T18:30:00Z", "2023-12-05"], "list"),
        (["a", 1, "2023-12-05"], "list"),
        ([], "list"),
        (["ok", LONG], None),
        (["2021-02-30"], None),
        ([True], None),
        (float("inf"), None),
        ([1, float("-inf")], None),
        (10**400, "number"),
    ],
)
def test_first_value_type(value: Any, expected: str | None) -> None:
    assert fyno_type(value) == expected


def test_new_properties_take_the_type_of_their_first_value(emulator, send) -> None:
    values = {
        "premium_user": True,
        "ltv": 23000,
        "cost": 20.34,
        "user_type": "Premium",
        "membership_date": "2020-10-01T18:30:00.000Z",
        "day": "2020-10-01",
        "products": ["iPhone 16 Pro", "iPad 32 GB"],
        "amounts": [23000, 20.34],
        "dates": ["2020-10-01T18:30:00Z", "2023-12-05"],
        "mixed": ["a", 1],
        "nothing_yet": [],
    }
    set_(send, values)
    assert emulator.profiles == {"u1": values}
    assert emulator.property_types == {
        "premium_user": "boolean",
        "ltv": "number",
        "cost": "number",
        "user_type": "string",
        "membership_date": "date",
        "day": "date",
        "products": "list",
        "amounts": "list",
        "dates": "list",
        "mixed": "list",
        "nothing_yet": "list",
    }


def test_unknown_user_is_created_even_when_nothing_is_stored(emulator, send) -> None:
    set_(send, {"too_long": LONG}, user="new-user")
    assert emulator.profiles == {"new-user": {}}
    assert emulator.property_types == {}


def test_boolean_is_not_a_number(emulator, send) -> None:
    set_(send, {"flag": True, "count": 3})
    set_(send, {"flag": 1, "count": False})
    assert emulator.profiles["u1"] == {"flag": True, "count": 3}
    assert emulator.property_types == {"flag": "boolean", "count": "number"}


@pytest.mark.parametrize(
    ("first", "later"),
    [
        (5, "ABC"),  # the seed's example: cost expects a number
        (5, "7"),
        (5, ["a"]),
        ("text", 5),
        ("text", True),
        ("text", ["text"]),
        ("2020-10-01", "tomorrow"),
        ("2020-10-01", 20201001),
        (True, "true"),
        (["a"], "a"),
        (["a"], 1),
        ("text", LONG),
        (["a"], ["b", LONG]),
        (["a"], ["2021-02-30"]),
        (["a"], [False]),
        ("2020-10-01", "2021-02-30"),
    ],
)
def test_later_value_that_does_not_fit_is_accepted_and_not_stored(
    emulator, send, first: Any, later: Any
) -> None:
    set_(send, {"p": first})
    ptype = emulator.property_types["p"]
    set_(send, {"p": later})
    assert emulator.profiles["u1"] == {"p": first}
    assert emulator.property_types == {"p": ptype}


@pytest.mark.parametrize("first", [LONG, "2021-02-30", "2021-01-01T25:00:00Z", ["ok", LONG]])
def test_unstorable_first_value_does_not_create_the_property(emulator, send, first: Any) -> None:
    set_(send, {"p": first, "other": 1})
    assert emulator.profiles["u1"] == {"other": 1}
    assert "p" not in emulator.property_types
    set_(send, {"p": 5})  # the next storable value fixes the type
    assert emulator.property_types["p"] == "number"


def test_number_beyond_a_double_is_accepted_and_not_stored(emulator) -> None:
    url = f"{emulator.endpoint}/{emulator.wsid}/live/profiles/properties/"
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with requests.Session() as session:
        for operation, data in [
            ("set", b'{"distinct_id": "u1", "$set": {"big": 1e400, "ok": 1}}'),
            ("numerical-add", b'{"distinct_id": "u1", "$add": {"ok": -1e400}}'),
        ]:
            answer = session.post(url + operation, data=data, headers=headers, timeout=10)
            assert answer.status_code == 202
    assert emulator.profiles == {"u1": {"ok": 1}}
    assert emulator.property_types == {"ok": "number"}


def test_iso_string_is_a_date_when_new_and_a_string_on_a_string_property(emulator, send) -> None:
    set_(send, {"when": "2020-10-01", "note": "hello"})
    set_(send, {"note": "2020-10-01T18:30:00Z"}, user="u2")
    set_(send, {"note": "2021-02-30"}, user="u3")  # malformed, but text is text
    assert emulator.property_types == {"when": "date", "note": "string"}
    assert emulator.profiles["u2"] == {"note": "2020-10-01T18:30:00Z"}
    assert emulator.profiles["u3"] == {"note": "2021-02-30"}


def test_string_of_exactly_255_characters_is_stored(emulator, send) -> None:
    set_(send, {"s": "a"})
    set_(send, {"s": "b" * 255})
    set_(send, {"s": LONG})
    assert emulator.profiles["u1"] == {"s": "b" * 255}


def test_set_replaces_the_users_value_only(emulator, send) -> None:
    set_(send, {"plan": "free"}, user="u1")
    set_(send, {"plan": "free"}, user="u2")
    set_(send, {"plan": "pro"}, user="u1")
    assert emulator.profiles == {"u1": {"plan": "pro"}, "u2": {"plan": "free"}}


def test_set_once_only_sets_missing_properties(emulator, send) -> None:
    set_(send, {"plan": "free"})
    send("set-once", {"distinct_id": "u1", "$once": {"plan": "pro", "first_seen": "2024-01-05"}})
    send("set-once", {"distinct_id": "u1", "$once": {"first_seen": "2025-01-05"}})
    assert emulator.profiles["u1"] == {"plan": "free", "first_seen": "2024-01-05"}
    assert emulator.property_types["first_seen"] == "date"


def test_set_once_of_a_dropped_value_leaves_the_property_unset(emulator, send) -> None:
    set_(send, {"n": 1}, user="u0")
    send("set-once", {"distinct_id": "u1", "$once": {"n": "one"}})
    send("set-once", {"distinct_id": "u1", "$once": {"n": 2}})
    assert emulator.profiles["u1"] == {"n": 2}


def test_numerical_add_starts_from_zero_and_adds(emulator, send) -> None:
    send("numerical-add", {"distinct_id": "u1", "$add": {"visits": 2}})
    send("numerical-add", {"distinct_id": "u1", "$add": {"visits": -0.5}})
    assert emulator.profiles["u1"] == {"visits": 1.5}
    assert emulator.property_types == {"visits": "number"}


def test_numerical_add_on_another_type_is_not_stored(emulator, send) -> None:
    set_(send, {"plan": "free"})
    send("numerical-add", {"distinct_id": "u1", "$add": {"plan": 1}})
    assert emulator.profiles["u1"] == {"plan": "free"}


def test_list_append_and_remove(emulator, send) -> None:
    send("list-append", {"distinct_id": "u1", "$append": {"tags": "a"}})
    send("list-append", {"distinct_id": "u1", "$append": {"tags": 1}})
    send("list-append", {"distinct_id": "u1", "$append": {"tags": "a"}})
    send("list-append", {"distinct_id": "u1", "$append": {"tags": LONG}})
    assert emulator.profiles["u1"] == {"tags": ["a", 1, "a"]}
    assert emulator.property_types == {"tags": "list"}
    send("list-remove", {"distinct_id": "u1", "$remove": {"tags": "1"}})  # a string is not 1
    assert emulator.profiles["u1"] == {"tags": ["a", 1, "a"]}
    send("list-remove", {"distinct_id": "u1", "$remove": {"tags": "a"}})
    assert emulator.profiles["u1"] == {"tags": [1]}


def test_list_operations_on_other_types_or_missing_values(emulator, send) -> None:
    set_(send, {"plan": "free"})
    send("list-append", {"distinct_id": "u1", "$append": {"plan": "x"}})
    send("list-remove", {"distinct_id": "u1", "$remove": {"plan": "free"}})
    send("list-remove", {"distinct_id": "u1", "$remove": {"never": "x"}})
    assert emulator.profiles["u1"] == {"plan": "free"}
    assert emulator.property_types == {"plan": "string"}


def test_appending_does_not_change_the_logged_request_body(emulator, send) -> None:
    set_(send, {"tags": ["a"]})
    send("list-append", {"distinct_id": "u1", "$append": {"tags": "b"}})
    assert emulator.requests[0]["body"] == {"distinct_id": "u1", "$set": {"tags": ["a"]}}


def test_unset_removes_values_and_the_type_stays_fixed(emulator, send) -> None:
    set_(send, {"plan": "free", "ltv": 5})
    send("unset", {"distinct_id": "u1", "$unset": ["plan", "not_there"]})
    assert emulator.profiles["u1"] == {"ltv": 5}
    set_(send, {"plan": 3})
    assert emulator.profiles["u1"] == {"ltv": 5}
    assert emulator.property_types == {"plan": "string", "ltv": "number"}
