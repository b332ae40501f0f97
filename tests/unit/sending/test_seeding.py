"""`sending.seeding`: a new property's type is fixed by one value of it, sent first."""

from __future__ import annotations

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.sending.mode import choose
from fyno_pandas.sending.seeding import new_properties, seed_types, without_taken
from fyno_pandas.sending.state import PushState


def _plan(df: pd.DataFrame, **options: object) -> fyno_pandas.PushPlan:
    return fyno_pandas.plan(df, "uid", ledger=False, **options)  # type: ignore[arg-type]


def test_only_properties_no_one_typed_are_new() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2], "s": ["x", "y"], "gone": [None, None]})
    assert new_properties(_plan(df, schema={"s": "string"})) == {"n": "number"}


def test_a_seed_carries_only_what_it_seeds_and_comes_first(
    client: FynoClient, emulator: FynoEmulator
) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2], "s": ["x", "y"], "logins": [3, 4]})
    plan = _plan(df, schema={"s": "string"}, ops={"logins": "add"})
    push = PushState(plan, client, mode=choose(2, True, 1, None))
    assert seed_types(push, new_properties(plan), None) is False
    assert [(r["operation"], r["body"]) for r in emulator.requests] == [
        ("set", {"distinct_id": "a", "$set": {"n": 1}}),
        ("numerical-add", {"distinct_id": "a", "$add": {"logins": 3}}),
    ]
    assert push.done[0] == {"logins": 1}  # the add seed is the row's add: not made again
    assert emulator.property_types == {"n": "number", "logins": "number"}


def test_a_refused_seed_fails_every_row_carrying_its_property(
    client: FynoClient, emulator: FynoEmulator
) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2]})
    plan = _plan(df)
    emulator.configure(error_requests=(1,), error_statuses=(400,))
    push = PushState(plan, client, mode=choose(2, False, 1, None))
    seed_types(push, new_properties(plan), None)
    assert push.statuses().tolist() == ["failed", "failed"]
    assert "property 'n' got no type" in push.error[1]


@pytest.mark.parametrize("rows", [1, 2])
def test_the_warning_counts_the_rows_not_sent_in_words(
    client: FynoClient, emulator: FynoEmulator, caplog: pytest.LogCaptureFixture, rows: int
) -> None:
    plan = _plan(pd.DataFrame({"uid": ["a", "b"][:rows], "n": [1, 2][:rows]}))
    emulator.configure(error_requests=(1,), error_statuses=(400,))
    seed_types(PushState(plan, client, mode=choose(2, False, 1, None)), new_properties(plan), None)
    said = "1 row not sent" if rows == 1 else "2 rows not sent"
    assert next(m for m in caplog.messages if "not sent" in m).endswith(said)


def test_a_row_s_later_new_property_says_in_plain_words_why_it_got_no_type(
    client: FynoClient, emulator: FynoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2], "logins": [3, 4]})
    plan = _plan(df, ops={"logins": "add"})
    emulator.configure(error_requests=(1,), error_statuses=(400,))
    push = PushState(plan, client, mode=choose(2, True, 1, None))
    seed_types(push, new_properties(plan), None)
    said = [*(error for error in push.error if error), *caplog.messages]
    assert any("property 'logins' has no type" in text for text in said)
    assert [text for text in said if "seed" in text] == []


def test_a_refused_key_refuses_no_property(
    emulator: FynoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The push stops: its rows stay pending, and no line blames the properties seeded."""
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2], "s": ["x", "y"]})
    plan = _plan(df)
    with FynoClient(emulator.wsid, "wrong", endpoint=emulator.endpoint) as wrong:
        push = PushState(plan, wrong, mode=choose(2, False, 1, None))
        seed_types(push, new_properties(plan), None)
    assert push.auth_failure is not None
    assert push.statuses().tolist() == ["pending", "pending"]
    assert push.error.tolist() == [None, None]
    assert caplog.messages == []


def test_a_property_claimed_with_another_type_is_dropped() -> None:
    df = pd.DataFrame({"uid": ["a"], "n": [1], "s": ["x"]})
    plan = _plan(df)
    new = new_properties(plan)
    narrowed = without_taken(plan, new, {"n": "string"})
    assert "n" not in new
    assert narrowed.issues["rule"].tolist() == ["type_mismatch"]
