"""The fast paths give what the plain ones give: bodies built column by column, acks written
by group, the ``only_changed`` check straight from the stored records."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.ledger import Ledger, Scope, latest_acks, unchanged_mask
from fyno_pandas.ledger.bridge import AckRecorder
from fyno_pandas.ledger.check import compare_states
from fyno_pandas.planning.bodies import step_body
from fyno_pandas.planning.build import build_plan
from fyno_pandas.planning.steps import row_steps

from .test_ledger import acked_dict

SCOPE = Scope("http://127.0.0.1:9/v1", "FYTEST", "live")

FRAME = pd.DataFrame(
    {
        "uid": ["a", "b", "c", "d", 'é\u2028"x\\', "f"],
        "plan": ["pro", None, "team", "free", "pro", None],
        "ltv": [1.5, 2.0, np.nan, 1e300, -0.0, 7.25],
        "logins": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
        "active": pd.array([True, None, False, True, None, True], dtype="boolean"),
        "tags": pd.Series([["x", "y"], ["z"], None, ["x"], [], ["y"]], dtype=object),
    }
)


def parsed_bodies(plan) -> list[dict]:
    """What today's bodies hold: every step of every sendable row, parsed back."""
    return [
        json.loads(step_body(plan, pos, step))
        for pos in np.flatnonzero(plan.sendable).tolist()
        for step in row_steps(plan, pos)
    ]


@pytest.mark.parametrize(
    ("ops", "nulls"),
    [
        ({}, "skip"),
        ({}, "unset"),
        ({"plan": "set_once", "logins": "add"}, "unset"),
        ({"plan": "set_once", "logins": "add", "tags": "append"}, "skip"),
        ({"tags": "remove", "active": "set_once"}, "unset"),
    ],
)
def test_payloads_are_the_bodies_parsed_back(ops, nulls):
    plan = build_plan(FRAME, "uid", ops=ops, nulls=nulls)
    payloads = plan.payloads()
    assert payloads == parsed_bodies(plan)
    assert [list(p) for p in payloads] == [list(b) for b in parsed_bodies(plan)]  # key order


def test_payloads_of_rows_setting_different_properties_keep_row_order():
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "a": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
            "b": pd.array(np.where(rng.random(n) < 0.5, None, "x"), dtype=object),
            "c": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        }
    )
    frame.loc[frame.index % 7 == 0, "c"] = None
    for nulls in ("skip", "unset"):
        plan = build_plan(frame, "uid", nulls=nulls)
        assert plan.payloads() == parsed_bodies(plan)


def test_rows_recorded_by_group_equal_the_same_acks_given_as_dicts(tmp_path: Path):
    plan = build_plan(FRAME, "uid", nulls="unset")
    rows = np.flatnonzero(plan.sendable).tolist()
    with Ledger(tmp_path / "rows.sqlite") as by_rows, Ledger(tmp_path / "dicts.sqlite") as dicts:
        push = by_rows.begin_push(SCOPE, {})
        recorder = AckRecorder(plan, by_rows, SCOPE, push, by_rows.ack_writer(SCOPE, push))
        for pos in rows[:2]:
            recorder((pos,), f"r{pos}")  # one at a time: the first fixes the types
        recorder(rows[2:], "batch")  # a batch request: one ack for its rows
        push = dicts.begin_push(SCOPE, {})
        acks = []
        for pos in rows:
            hashes = {p: int(plan.value_hashes(p)[pos]) for p in plan.properties}
            hashes = {p: h for p, h in hashes.items() if h or plan.unsets[p][pos]}
            types = {p: plan.fyno_types[p] for p in hashes if plan.fragments[p][pos] is not None}
            acks.append(
                (plan.distinct_ids[pos], hashes, types, f"r{pos}" if pos in rows[:2] else "batch")
            )
        dicts.record_acks(SCOPE, push, acks[:2])
        dicts.record_acks(SCOPE, push, acks[2:])
        assert acked_dict(by_rows, SCOPE) == acked_dict(dicts, SCOPE)
        assert by_rows.property_types(SCOPE) == dicts.property_types(SCOPE)
        assert recorder.not_stored == []


def test_a_group_from_many_threads_merges_each_users_states(tmp_path: Path):
    plan = build_plan(FRAME, "uid")
    with Ledger(tmp_path / "ledger.sqlite") as led:
        push = led.begin_push(SCOPE, {})
        led.record_acks(SCOPE, push, [("a", {"old": 5}, {"old": "number"}, "first")])
        writer = led.ack_writer(SCOPE, push)
        recorder = AckRecorder(plan, led, SCOPE, push, writer)
        rows = np.flatnonzero(plan.sendable).tolist()
        threads = [threading.Thread(target=recorder, args=((pos,), f"r{pos}")) for pos in rows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = acked_dict(led, SCOPE)
    assert got[("a", "old")] == (5, "first")  # merged into what the user had
    assert got[("a", "ltv")] == (int(plan.value_hashes("ltv")[0]), "r0")
    assert writer.acks == len(rows)


def test_another_writer_taking_the_next_ack_ids_is_survived(tmp_path: Path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as one, Ledger(path) as two:
        push = one.begin_push(SCOPE, {})
        one.record_acks(SCOPE, push, [("u1", {"a": 1}, {"a": "number"}, "r1")])
        one.record_acks(SCOPE, push, [("u1", {"a": 2}, {"a": "number"}, "r2")])
        two.record_acks(
            SCOPE, push, [("u2", {"a": 3}, {"a": "number"}, "r3")]
        )  # takes one's next id
        one.record_acks(SCOPE, push, [("u1", {"a": 4}, {"a": "number"}, "r4")])
        assert acked_dict(one, SCOPE) == {("u1", "a"): (4, "r4"), ("u2", "a"): (3, "r3")}
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT ack_id FROM acks ORDER BY ack_id")]
    assert ids == list(range(1, len(ids) + 1))  # no two acks share an id, none skipped
    conn.close()


@pytest.mark.parametrize("dense", [True, False])
def test_compare_states_equals_the_frame_check(tmp_path: Path, dense: bool):
    with Ledger(tmp_path / "ledger.sqlite") as led:
        push = led.begin_push(SCOPE, {})
        led.record_acks(
            SCOPE,
            push,
            [
                ("u1", {"ltv": 10, "city": 7}, {"ltv": "number"}, "r1"),
                ("u2", {"ltv": 20, "city": 0}, {"ltv": "number"}, "r2"),
            ],
        )
        if not dense:
            led.record_acks(SCOPE, push, [("u3", {"ltv": 30}, {"ltv": "number"}, "r3")])
        ids = np.array(["u1", "u2", "u3"] if not dense else ["u1", "u2"], dtype=object)
        if not dense:
            ids = np.array(["u2", None, "u1", "u9", "u3", "u1"], dtype=object)
        plan = {
            "ltv": np.arange(len(ids), dtype=np.uint64) * 10 + 10,
            "city": np.full(len(ids), 7, dtype=np.uint64),
            "new": np.ones(len(ids), dtype=np.uint64),
        }
        frame = led.acknowledged_hashes(SCOPE, ids)
        masks, request_ids, at = compare_states(plan, ids, led.acknowledged_states(SCOPE, ids))
        expected = unchanged_mask(plan, ids, frame)
        latest = latest_acks(frame, ids)
    for prop, mask in expected.items():
        np.testing.assert_array_equal(masks[prop], mask, err_msg=prop)
    assert request_ids.tolist() == latest["request_id"].tolist()
    np.testing.assert_array_equal(at, latest["acked_at"].dt.tz_convert(None).to_numpy())


def test_compare_states_of_an_unknown_scope_matches_nothing(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite") as led:
        states = led.acknowledged_states(SCOPE, ["u1"])
    masks, request_ids, at = compare_states(
        {"a": np.ones(2, dtype=np.uint64)}, ["u1", None], states
    )
    assert masks["a"].tolist() == [False, False]
    assert request_ids.tolist() == [None, None]
    assert np.isnat(at).all()
