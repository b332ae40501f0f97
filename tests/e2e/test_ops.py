"""Operations per column (set_once, add, append, remove, unset=) and adds that never count twice."""

from __future__ import annotations

import socket
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.cli import command as cli
from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoInputError
from fyno_pandas.options.retry import LOST, NOT_SENT, RETRY, THROTTLED, RetryPolicy, may_resend

QUIET = {"preview": False, "progress": False}
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.02, seed=0)
OPS = {"first": "set_once", "logins": "add", "badges": "append", "tags": "remove"}


def preload(destination: dict[str, str]) -> None:
    """Users a and b hold first_seen, tags and an old property before the ops push."""
    df = pd.DataFrame(
        {
            "uid": ["a", "b"],
            "first": ["early", None],
            "tags": [["x", "y", "z"], ["x", "y", "z"]],
            "old": ["o", "o"],
        }
    )
    fyno_pandas.push(df, "uid", ledger=False, **QUIET, **destination)


def ops_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": ["a", "b", "c", "d", "e"],
            "name": ["Ann", "Bob", "Cy", "Dee", "Eve"],
            "first": ["late"] * 5,
            "logins": pd.Series([3, 2.5, "x", float("inf"), np.nan], dtype=object),
            "badges": pd.Series([["g", "h"], "k", None, [True], []], dtype=object),
            "tags": pd.Series(["x", ["y", "z"], "x", None, None], dtype=object),
        }
    )


EXPECTED = {
    "a": {"name": "Ann", "first": "early", "logins": 3, "badges": ["g", "h"], "tags": ["y", "z"]},
    "b": {"name": "Bob", "first": "late", "logins": 2.5, "badges": ["k"], "tags": ["x"]},
    "c": {"name": "Cy", "first": "late"},
    "d": {"name": "Dee", "first": "late"},
    "e": {"name": "Eve", "first": "late"},
}


def user_requests(emulator: FynoEmulator, uid: str) -> list[tuple[str, Any]]:
    out = []
    for r in emulator.requests:
        body = r["body"]
        if r["operation"] == "batch":
            for item in body["batch"]:
                if item["distinct_id"] == uid:
                    out.append(("batch", item["action"]))
        elif body.get("distinct_id") == uid:
            key = next(k for k in body if k.startswith("$"))
            out.append((r["operation"], body[key]))
    return out


@pytest.mark.parametrize("batch_size", [None, 3])
def test_every_op_stores_what_the_plan_says(
    emulator: FynoEmulator, destination: dict[str, str], batch_size: int | None
) -> None:
    preload(destination)
    df = ops_frame()
    options = {"ops": OPS, "unset": ["old"], "ledger": False, **destination}
    plan = fyno_pandas.plan(df, "uid", **options)
    dropped = plan.issues[plan.issues["action"] == "dropped"]
    assert set(zip(dropped["row"], dropped["column"], dropped["rule"], strict=True)) == {
        (2, "logins", "add_not_number"),
        (3, "logins", "not_finite"),
        (3, "badges", "invalid_element"),
    }
    assert plan.fyno_types["logins"] == "number"
    assert plan.fyno_types["badges"] == "list"
    result = fyno_pandas.push(df, "uid", batch_size=batch_size, **options, **QUIET)
    assert result["status"].tolist() == ["sent"] * 5
    assert emulator.profiles == EXPECTED  # "old" unset for every row, the rest as planned
    types = emulator.property_types
    assert (types["logins"], types["badges"], types["tags"]) == ("number", "list", "list")
    # the seed row's add and first element were sent once (3, not 6; [g, h], not [g, g, h])
    if batch_size is None:
        assert [op for op, _ in user_requests(emulator, "a")].count("numerical-add") == 1
    assert all(r["request_id"] == r["request_ids"][0] for _, r in result.iterrows())


def test_a_users_requests_go_in_the_fixed_order(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    preload(destination)
    fyno_pandas.push(
        ops_frame(), "uid", ops=OPS, unset=["old"], ledger=False, **QUIET, **destination
    )
    ops = [op for op, _ in user_requests(emulator, "b")][1:]  # after the preload's set
    assert ops == [
        "set",
        "set-once",
        "numerical-add",
        "list-append",
        "list-remove",
        "list-remove",
        "unset",
    ]
    removes = [arg for op, arg in user_requests(emulator, "b") if op == "list-remove"]
    assert removes == [{"tags": "y"}, {"tags": "z"}]  # a list cell: one request per element
    appends = [arg for op, arg in user_requests(emulator, "a") if op == "list-append"]
    assert appends == [{"badges": "g"}, {"badges": "h"}]  # the seed, then the rest, in order
    result = fyno_pandas.push(
        ops_frame(), "uid", ops=OPS, ledger=False, batch_size=5, **QUIET, **destination
    )
    items = [arg for op, arg in user_requests(emulator, "b") if op == "batch"]
    assert items == [
        {
            "$set": {"name": "Bob"},
            "$once": {"first": "late"},
            "$add": {"logins": 2.5},
            "$append": {"badges": "k"},
            "$remove": {"tags": "y"},
        },
        {"$remove": {"tags": "z"}},
    ]
    assert len(result.loc[1, "request_ids"]) == 1  # one batch request carried both items


def test_the_preview_counts_requests(destination: dict[str, str]) -> None:
    plan = fyno_pandas.plan(ops_frame(), "uid", ops=OPS, unset=["old"], ledger=False)
    # a: set, once, add, 2 appends, 1 remove, unset = 7; b: 7; c: 4; d: 3; e: 3
    assert plan.summary()["requests"] == 24
    assert "Requests:           24 in per-row mode" in repr(plan)


def test_ops_and_unset_are_checked() -> None:
    df = ops_frame()
    with pytest.raises(FynoInputError, match="not one of"):
        fyno_pandas.plan(df, "uid", ops={"logins": "increment"}, ledger=False)
    with pytest.raises(FynoInputError, match="not a sent column"):
        fyno_pandas.plan(df, "uid", ops={"nope": "add"}, ledger=False)
    with pytest.raises(FynoInputError, match="also sends"):
        fyno_pandas.plan(df, "uid", unset=["name"], ledger=False)
    push = cli._parser()._subparsers._group_actions[0].choices["push"]  # type: ignore[union-attr]
    args = push.parse_args(["f.csv", "--id-col", "uid", "--op", "logins=add", "--op", "b=append"])
    values = cli._option_values(push.parse_args(["f.csv", "--id-col", "u", "--unset", "a, b"]))
    assert cli._option_values(args)["ops"] == {"logins": "add", "b": "append"}
    assert values["unset"] == ["a", "b"]
    assert values["ops"] is None


def test_a_known_property_of_another_type_drops_the_op(destination: dict[str, str]) -> None:
    df = pd.DataFrame({"uid": ["a"], "logins": [1], "badges": ["x"]})
    schema = {"logins": "string", "badges": "number"}
    plan = fyno_pandas.plan(
        df, "uid", ops={"logins": "add", "badges": "append"}, schema=schema, ledger=False
    )
    assert set(plan.issues["rule"]) == {"op_type_mismatch", "empty_row"}
    assert len(plan) == 0


def test_the_retry_rule() -> None:
    for failure in (NOT_SENT, THROTTLED, LOST, RETRY):
        assert may_resend(True, failure)
    assert may_resend(False, NOT_SENT)
    assert may_resend(False, THROTTLED)
    assert not may_resend(False, LOST)
    assert not may_resend(False, RETRY)


ADDS = pd.DataFrame({"uid": ["a", "b", "c"], "logins": [1, 2, 4]})
ADD = {"ops": {"logins": "add"}, "schema": {"logins": "number"}, "concurrency": 1}


@pytest.mark.parametrize(
    "faults",
    [{"error_requests": [2], "error_statuses": [500]}, {"drop_after_rate": 1.0}],
    ids=["5xx", "answer lost"],
)
def test_an_add_that_may_have_landed_is_in_doubt_and_never_resent(
    emulator: FynoEmulator, destination: dict[str, str], faults: dict[str, Any]
) -> None:
    emulator.configure(**faults)
    result = fyno_pandas.push(
        ADDS, "uid", retry_policy=FAST, ledger=False, **ADD, **QUIET, **destination
    )
    doubtful = result["status"] == "in_doubt"
    assert doubtful.any()
    assert set(result["status"]) <= {"sent", "in_doubt"}
    assert (result.loc[doubtful, "attempts"] == 1).all()
    assert result.loc[doubtful, "error"].str.contains("in doubt").all()
    assert result.attrs["fyno"]["in_doubt"] == int(doubtful.sum())
    assert len(emulator.requests) == 3  # nothing resent
    stored = sum(p.get("logins", 0) for p in emulator.profiles.values())
    assert stored <= ADDS["logins"].sum()
    # retry_failed leaves in-doubt rows alone
    again = fyno_pandas.retry_failed(ADDS, result, "uid", ledger=False, **ADD, **destination)
    assert len(emulator.requests) == 3
    assert again.attrs["fyno"]["retried"] == 0


def test_a_429_is_retried_for_an_add(emulator: FynoEmulator, destination: dict[str, str]) -> None:
    emulator.configure(error_requests=[1, 2], error_statuses=[429])
    result = fyno_pandas.push(
        ADDS, "uid", retry_policy=FAST, ledger=False, **ADD, **QUIET, **destination
    )
    assert result["status"].tolist() == ["sent"] * 3
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 1, "b": 2, "c": 4}


def test_a_refused_connection_is_retried_for_an_add() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = FynoClient(
        "FYX", "key", endpoint=f"http://127.0.0.1:{port}/v1", max_retries=2, retry_policy=FAST
    )
    with client:
        outcome = client.post("numerical-add", b"{}", idempotent=False)
    assert outcome.status == "failed"
    assert outcome.attempts == 3
    assert "connection refused" in (outcome.error or "")


def test_a_set_after_an_add_is_never_unchanged(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    three = pd.DataFrame({"uid": ["a"], "logins": [3]})
    one = pd.DataFrame({"uid": ["a"], "logins": [1]})
    first = fyno_pandas.push(three, "uid", **QUIET, **destination)
    added = fyno_pandas.push(one, "uid", ops={"logins": "add"}, **QUIET, **destination)
    assert emulator.profiles["a"]["logins"] == 4
    again = fyno_pandas.push(three, "uid", **QUIET, **destination)
    assert [first["status"][0], added["status"][0], again["status"][0]] == ["sent"] * 3
    assert emulator.profiles["a"]["logins"] == 3
    # an add is never unchanged either: the same add pushed twice adds twice
    fyno_pandas.push(one, "uid", ops={"logins": "add"}, **QUIET, **destination)
    fyno_pandas.push(one, "uid", ops={"logins": "add"}, **QUIET, **destination)
    assert emulator.profiles["a"]["logins"] == 5


def test_set_once_in_the_ledger(emulator: FynoEmulator, destination: dict[str, str]) -> None:
    once = {"ops": {"first": "set_once"}, **QUIET, **destination}
    early = pd.DataFrame({"uid": ["a", "b"], "first": ["early", "early"]})
    late = pd.DataFrame({"uid": ["a", "b", "c"], "first": ["late", "late", "late"]})
    assert fyno_pandas.push(early, "uid", **once)["status"].tolist() == ["sent"] * 2
    result = fyno_pandas.push(late, "uid", **once)
    assert result["status"].tolist() == ["unchanged", "unchanged", "sent"]
    assert {u: p["first"] for u, p in emulator.profiles.items()} == {
        "a": "early",
        "b": "early",
        "c": "late",
    }
    # the ledger knows a holds *some* value, not which: a set of the same value is sent
    again = fyno_pandas.push(early.iloc[:1], "uid", **QUIET, **destination)
    assert again["status"].tolist() == ["sent"]


def test_a_new_add_property_is_seeded_once(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(20)], "logins": range(1, 21)})
    result = fyno_pandas.push(df, "uid", ops={"logins": "add"}, **QUIET, **destination)
    assert (result["status"] == "sent").all()
    adds = [r for r in emulator.requests if r["operation"] == "numerical-add"]
    assert len(adds) == 20  # the seed row's add was not sent again
    assert sum(p["logins"] for p in emulator.profiles.values()) == sum(range(1, 21))
    assert emulator.property_types == {"logins": "number"}
    assert fyno_pandas.Ledger().property_types(
        destination["wsid"], "live", endpoint=destination["endpoint"]
    ) == {"logins": "number"}


def test_a_batch_holding_an_add_is_in_doubt_as_a_whole(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = ADDS.assign(logins=pd.Series([1, 2, None], dtype="Float64"), name=["A", "B", "C"])
    emulator.configure(drop_after_rate=1.0)
    result = fyno_pandas.push(
        df,
        "uid",
        batch_size=3,
        max_retries=2,
        retry_policy=FAST,
        ledger=False,
        **{**ADD, "schema": {"logins": "number", "name": "string"}},
        **QUIET,
        **destination,
    )
    # a and b add: in doubt; c only sets, so its row may be resent (failed, retry_failed's)
    assert result["status"].tolist() == ["in_doubt", "in_doubt", "failed"]
    assert len(emulator.requests) == 1  # the batch held adds: never resent
    assert sum(p.get("logins", 0) for p in emulator.profiles.values()) <= 3


def test_a_seed_in_doubt_leaves_its_row_in_doubt_and_sends_no_other(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    emulator.configure(drop_after_rate=1.0)
    result = fyno_pandas.push(
        ADDS, "uid", ops={"logins": "add"}, concurrency=1, **QUIET, **destination
    )
    assert result["status"].tolist() == ["in_doubt", "failed", "failed"]
    assert "got no type" in result.loc[1, "error"]
    assert len(emulator.requests) == 1
    assert emulator.profiles["a"]["logins"] == 1


def test_elements_follow_the_list_rules() -> None:
    badges = [["ok", 1, 2.5], "2023-04-31", "x" * 256, [True], ["a", None], "fine", np.nan]
    df = pd.DataFrame({"uid": list("abcdefg"), "badges": pd.Series(badges, dtype=object)})
    plan = fyno_pandas.plan(df, "uid", ops={"badges": "append"}, nulls="error", ledger=False)
    bad = plan.issues[plan.issues["rule"] == "invalid_element"]
    assert sorted(bad["row"]) == [1, 2, 3, 4]
    assert plan.payloads() == [
        {"distinct_id": "a", "$append": {"badges": "ok"}},
        {"distinct_id": "a", "$append": {"badges": 1}},
        {"distinct_id": "a", "$append": {"badges": 2.5}},
        {"distinct_id": "f", "$append": {"badges": "fine"}},
    ]


def test_a_remove_never_types_a_property_in_the_ledger(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    df = pd.DataFrame({"uid": ["a"], "tags": ["x"]})
    result = fyno_pandas.push(df, "uid", ops={"tags": "remove"}, **QUIET, **destination)
    assert result["status"].tolist() == ["sent"]
    assert emulator.property_types == {}
    ledger_types = fyno_pandas.Ledger().property_types(
        destination["wsid"], "live", endpoint=destination["endpoint"]
    )
    assert ledger_types == {}


def test_chunks_and_dask_carry_the_ops(emulator: FynoEmulator, destination: dict[str, str]) -> None:
    import dask.dataframe as dd

    import fyno_pandas.dask  # registers ddf.fyno

    df = pd.DataFrame({"uid": [f"u{i % 4}" for i in range(8)], "n": [1] * 8})
    chunks = [df.iloc[i : i + 4] for i in range(0, 8, 4)]  # each chunk names every user once
    options = {"ops": {"n": "add"}, "unset": ["gone"], **QUIET, **destination}
    result = fyno_pandas.push_frames(iter(chunks), "uid", **options)
    assert (result["status"] == "sent").all()
    assert {u: p["n"] for u, p in emulator.profiles.items()} == dict.fromkeys(
        ["u0", "u1", "u2", "u3"], 2
    )
    issues = dd.from_pandas(df, npartitions=2).fyno.plan("uid", ops={"n": "add"}, unset=["gone"])
    assert len(issues) == 0


def test_a_row_that_failed_after_its_add_says_so(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    emulator.configure(error_requests=[2], error_statuses=[400])
    df = pd.DataFrame({"uid": ["a"], "n": [1], "tags": ["x"]})
    ops = {"n": "add", "tags": "remove"}
    schema = {"n": "number", "tags": "list"}
    result = fyno_pandas.push(
        df, "uid", ops=ops, schema=schema, ledger=False, **QUIET, **destination
    )
    assert result["status"].tolist() == ["in_doubt"]  # its add was accepted: never resent
    assert "resending the row repeats them" in result.loc[0, "error"]
    assert len(result.loc[0, "request_ids"]) == 1  # the add's


def test_retry_failed_sends_the_pushs_own_operations(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    week = pd.DataFrame({"uid": ["a", "b"], "logins": [2, 3], "badges": [["x"], ["y"]]})
    ops = {"logins": "add", "badges": "append"}
    options = {"ledger": False, "concurrency": 1, "max_retries": 0, **destination, **QUIET}
    emulator.configure(error_requests=[3], error_statuses=[400])  # after a's two seeds: b's add
    result = fyno_pandas.push(week, "uid", ops=ops, **options)
    assert result["status"].tolist() == ["sent", "failed"]
    emulator.configure(error_requests=[])

    with pytest.raises(FynoInputError, match="must send the same"):
        fyno_pandas.retry_failed(week, result, "uid", ops={"logins": "add"}, **options)
    again = fyno_pandas.retry_failed(week, result, "uid", **options)

    assert again["status"].tolist() == ["sent", "sent"]
    assert emulator.profiles["b"] == {"logins": 3, "badges": ["y"]}
    b_requests = [
        r["operation"]
        for r in emulator.requests
        if r["body"] is not None and r["body"].get("distinct_id") == "b"
    ]
    assert b_requests[-2:] == ["numerical-add", "list-append"]
