"""The SQLite ledger on its own: types, hashes, scopes, pushes, concurrency, crashes, errors."""

from __future__ import annotations

import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.errors import FynoLedgerError
from fyno_pandas.ledger import (
    SCHEMA_VERSION,
    Ledger,
    Scope,
    default_path,
    latest_acks,
    unchanged_mask,
)

E = "http://127.0.0.1:9/v1"
SCOPE = Scope(E, "FYTEST", "live")
U64_MAX = 2**64 - 1


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


def acked_dict(led: Ledger, scope=None, ids=None) -> dict[tuple[str, str], tuple[int, str]]:
    frame = led.acknowledged_hashes(scope or SCOPE, ids)
    return {
        (d, p): (int(h), r)
        for d, p, h, r in zip(
            frame["distinct_id"],
            frame["property"],
            frame["value_hash"],
            frame["request_id"],
            strict=True,
        )
    }


def wait_until(condition, what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


# -- location -------------------------------------------------------------------------------


def test_default_path_follows_fyno_pandas_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FYNO_PANDAS_HOME", str(tmp_path / "home"))
    with Ledger() as led:
        assert led.path == tmp_path / "home" / "ledger.sqlite"
        assert led.path.is_file()
    monkeypatch.delenv("FYNO_PANDAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_path() == tmp_path / "user" / ".fyno_pandas" / "ledger.sqlite"


def test_repr_shows_the_path_only(ledger):
    assert repr(ledger) == f"Ledger({str(ledger.path)!r})"


def test_pickle_reopens_the_same_file(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u1", {"ltv": 1}, {"ltv": "number"}, "r1")])
    with pickle.loads(pickle.dumps(ledger)) as copy:
        assert copy.path == ledger.path
        assert copy.property_types(SCOPE) == {"ltv": "number"}


# -- property types -------------------------------------------------------------------------


def test_first_acknowledged_type_wins_and_never_changes(ledger):
    first = ledger.begin_push(SCOPE, {})
    rejected = ledger.record_acks(
        SCOPE,
        first,
        [
            ("u1", {"ltv": 1, "name": 2}, {"ltv": "number", "name": "string"}, "r1"),
            ("u2", {"ltv": 3}, {"ltv": "string"}, "r2"),  # same transaction, came second
        ],
    )
    assert rejected == [("u2", "ltv")]
    second = ledger.begin_push(SCOPE, {})
    rejected = ledger.record_acks(
        SCOPE, second, [("u3", {"ltv": 4, "name": 5}, {"ltv": "boolean", "name": "date"}, "r3")]
    )
    # A date travels as an ISO string, which a String property stores.
    assert rejected == [("u3", "ltv")]
    assert ledger.property_types(SCOPE) == {"ltv": "number", "name": "string"}
    props = ledger.properties(SCOPE).set_index("property")
    assert props.loc["ltv", "push_id"] == first
    assert props["fixed_at"].dt.tz is not None
    acked = acked_dict(ledger)
    assert ("u2", "ltv") not in acked
    assert ("u3", "ltv") not in acked
    assert acked[("u3", "name")] == (5, "r3")


def test_an_unset_does_not_fix_a_type_but_is_remembered(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u1", {"city": 0}, {}, "r1")])
    assert ledger.property_types(SCOPE) == {}
    assert ledger.properties(SCOPE)["fyno_type"].isna().tolist() == [True]
    assert acked_dict(ledger) == {("u1", "city"): (0, "r1")}
    ledger.record_acks(SCOPE, push, [("u2", {"city": 7}, {"city": "string"}, "r2")])
    assert ledger.property_types(SCOPE) == {"city": "string"}


def test_readers_take_a_workspace_id_for_the_scope_the_configuration_resolves(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u1", {"ltv": 1}, {"ltv": "number"}, "r1")])
    assert ledger.property_types("FYTEST", "live", E) == {"ltv": "number"}
    assert ledger.properties("FYTEST", "live", E + "/").equals(ledger.properties(SCOPE))
    with pytest.raises(TypeError, match="Scope alone"):
        ledger.property_types(SCOPE, "test")


def test_property_types_of_an_unknown_scope_are_empty(ledger):
    assert ledger.property_types("NOPE", "test") == {}
    assert ledger.pushes().empty


# -- values ---------------------------------------------------------------------------------


def column(name, hashes, is_set, is_unset=None, fyno_type=None):
    is_set = np.array(is_set, dtype=bool)
    unset = np.zeros(len(is_set), dtype=bool) if is_unset is None else np.array(is_unset)
    return (name, np.array(hashes, dtype=np.uint64), is_set, unset, fyno_type)


def test_a_batch_is_one_ack_that_merges_with_what_each_user_had(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u1", {"name": 9}, {"name": "string"}, "r0")])
    rejected = ledger.record_batch(
        SCOPE,
        push,
        ["u1", "u2", "u3"],
        [
            column("ltv", [1, 2, 0], [True, True, False], fyno_type="number"),
            column("city", [0, 0, 0], [False, False, False], [False, True, False]),
        ],
        "batch-1",
    )
    assert rejected.tolist() == [[False, False]] * 3
    assert acked_dict(ledger) == {
        ("u1", "name"): (9, "r0"),  # kept: the batch did not touch it
        ("u1", "ltv"): (1, "batch-1"),
        ("u2", "ltv"): (2, "batch-1"),
        ("u2", "city"): (0, "batch-1"),  # an unset
    }
    assert ledger.pushes()["acks"].tolist() == [2]  # requests, not users
    assert ledger.property_types(SCOPE) == {"name": "string", "ltv": "number"}


def test_a_batch_with_an_id_twice_is_refused(ledger):
    push = ledger.begin_push(SCOPE, {})
    with pytest.raises(FynoLedgerError, match="once"):
        ledger.record_batch(SCOPE, push, ["u1", "u1"], [column("a", [1, 2], [True, True])], "b")


def test_ids_that_are_not_text_are_looked_up_as_text(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("9", {"a": 1}, {}, "r1"), ("10", {"a": 2}, {}, "r2")])
    for exact in (True, False):
        found = ledger.acknowledged_hashes(SCOPE, [9, 10], exact=exact)
        assert sorted(found["distinct_id"].astype(str)) == ["10", "9"]
    assert len(ledger.acknowledged_hashes(SCOPE, ["9", 10])) == 2


def test_a_batch_value_of_another_type_than_the_fixed_one_is_not_recorded(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u1", {"ltv": 1}, {"ltv": "number"}, "r1")])
    rejected = ledger.record_batch(
        SCOPE,
        push,
        ["u1", "u2"],
        [
            column("ltv", [5, 6], [True, False], fyno_type="string"),
            column("plan", [7, 8], [True, True], fyno_type="string"),
        ],
        "batch-1",
    )
    assert rejected.tolist() == [[True, False], [False, False]]
    acked = acked_dict(ledger)
    assert acked[("u1", "ltv")] == (1, "r1")
    assert acked[("u1", "plan")] == (7, "batch-1")
    assert ("u2", "ltv") not in acked


def test_hashes_upsert_per_property(ledger):
    push = ledger.begin_push(SCOPE, {})
    types = {"ltv": "number", "name": "string"}
    ledger.record_acks(SCOPE, push, [("u1", {"ltv": 1, "name": U64_MAX}, types, "r1")])
    ledger.record_acks(SCOPE, push, [("u1", {"ltv": np.uint64(3)}, types, "r2")])
    assert acked_dict(ledger) == {("u1", "ltv"): (3, "r2"), ("u1", "name"): (U64_MAX, "r1")}
    frame = ledger.acknowledged_hashes(SCOPE, ["u1"])
    assert list(frame.columns) == [
        "distinct_id",
        "property",
        "value_hash",
        "request_id",
        "acked_at",
    ]
    assert frame["value_hash"].dtype == np.uint64
    assert str(frame["acked_at"].dt.tz) == "UTC"


def test_later_ack_in_the_same_group_wins(ledger):
    push = ledger.begin_push(SCOPE, {})
    acks = [("u1", {"ltv": 1}, {}, "r1"), ("u1", {"ltv": 2}, {}, None)]
    ledger.record_acks(SCOPE, push, acks)
    assert acked_dict(ledger) == {("u1", "ltv"): (2, None)}


def test_scopes_are_separate(ledger):
    scopes = [
        SCOPE,
        Scope(E, "FYOTHER", "live"),
        Scope(E, "FYTEST", "test"),
        Scope("https://x.example/v1", "FYTEST", "live"),
    ]
    for n, scope in enumerate(scopes, start=1):
        push = ledger.begin_push(scope, {})
        ledger.record_acks(
            scope, push, [("u1", {"ltv": n}, {"ltv": ("number", "string")[n % 2]}, f"r{n}")]
        )
    for n, scope in enumerate(scopes, start=1):
        assert acked_dict(ledger, scope) == {("u1", "ltv"): (n, f"r{n}")}
    assert ledger.property_types(SCOPE) == {"ltv": "string"}
    assert ledger.property_types(Scope(E, "FYTEST", "test")) == {"ltv": "string"}
    assert ledger.property_types(Scope(E, "FYOTHER", "live")) == {"ltv": "number"}
    # The endpoint is spelled as FynoConfig spells it: no trailing slash.
    assert acked_dict(ledger, Scope(E + "/", "FYTEST", "live")) == {("u1", "ltv"): (1, "r1")}


def test_an_endpoint_left_out_is_the_configured_one(ledger, monkeypatch):
    monkeypatch.setenv("FYNO_ENDPOINT", E)
    scope = Scope.resolve("FYTEST", "live")
    push = ledger.begin_push(scope, {})
    ledger.record_acks(scope, push, [("u1", {"ltv": 1}, {"ltv": "number"}, "r")])
    assert ledger.property_types("FYTEST", "live") == {"ltv": "number"}
    assert ledger.pushes()["endpoint"].tolist() == [E]


@pytest.mark.parametrize("asked", [5, 90, None])
def test_acknowledged_hashes_returns_exactly_the_users_asked(ledger, asked):
    push = ledger.begin_push(SCOPE, {})
    acks = [(f"u{i}", {"a": i + 1, "b": i + 2}, {}, f"r{i}") for i in range(100)]
    ledger.record_acks(SCOPE, push, acks)
    ids = None if asked is None else [f"u{i}" for i in range(asked)] + [None, "nobody", "u0"]
    frame = ledger.acknowledged_hashes(SCOPE, ids)
    expected = range(100 if asked is None else asked)
    assert sorted(map(str, frame["distinct_id"])) == sorted([f"u{i}" for i in expected] * 2)
    assert acked_dict(ledger, ids=ids)[("u3", "b")] == (5, "r3")


def test_any_distinct_id_round_trips(ledger):
    # The scan joins ids with the unit separator; an id holding it takes the slower path.
    odd = ["a\x1fb", "ü ñ 🙂", "", "x" * 300]
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [(d, {"a": i + 1}, {}, f"r{i}") for i, d in enumerate(odd)])
    for ids in (None, odd, odd[:1]):
        assert sorted(d for d, _ in acked_dict(ledger, ids=ids)) == sorted(ids or odd)


def test_acknowledged_hashes_of_an_unknown_scope_is_an_empty_frame(ledger):
    frame = ledger.acknowledged_hashes(Scope(E, "NOPE", "live"), ["u1"])
    assert frame.empty
    assert list(frame.columns) == [
        "distinct_id",
        "property",
        "value_hash",
        "request_id",
        "acked_at",
    ]


def test_sparse_ack_ids_are_looked_up_by_key(ledger):
    # u0's value stays from the first push while many later acks go to other users, so the
    # acks still referenced are far apart.
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(SCOPE, push, [("u0", {"a": 1}, {}, "first")])
    for _ in range(3):
        ledger.record_acks(SCOPE, push, [(f"u{i}", {"a": 2}, {}, "x") for i in range(1, 50)])
    ledger.record_acks(SCOPE, push, [("u1", {"a": 3}, {}, "last")])
    acked = acked_dict(ledger, ids=["u0", "u1"])
    assert acked == {("u0", "a"): (1, "first"), ("u1", "a"): (3, "last")}


# -- unchanged_mask -------------------------------------------------------------------------


def test_unchanged_mask_compares_hashes_per_cell(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(
        SCOPE,
        push,
        [("u1", {"ltv": 10, "city": 0}, {"ltv": "number"}, "r1"), ("u2", {"ltv": 20}, {}, "r2")],
    )
    ids = np.array(["u1", "u2", "u3", None, "u1"], dtype=object)
    plan = {
        "ltv": np.array([10, 21, 10, 10, 10], dtype=np.uint64),
        "city": np.array([0, 0, 0, 0, 5], dtype=np.uint64),
        "new": np.array([1, 1, 1, 1, 1], dtype=np.uint64),
    }
    acked = ledger.acknowledged_hashes(SCOPE, ids)
    mask = unchanged_mask(plan, ids, acked)
    assert mask["ltv"].tolist() == [True, False, False, False, True]
    # An acknowledged unset matches a cell the plan does not set; no ack never matches.
    assert mask["city"].tolist() == [True, False, False, False, False]
    assert mask["new"].tolist() == [False] * 5
    plain = acked.astype({"distinct_id": object, "property": object})
    for prop, values in unchanged_mask(plan, ids, plain).items():
        np.testing.assert_array_equal(values, mask[prop])


def test_latest_acks_gives_each_rows_most_recent_request(ledger):
    push = ledger.begin_push(SCOPE, {})
    ledger.record_acks(
        SCOPE, push, [("u1", {"a": 1, "b": 1}, {}, "old"), ("u2", {"a": 1}, {}, "r2")]
    )
    time.sleep(0.01)  # a later transaction, a later acked_at
    ledger.record_acks(SCOPE, push, [("u1", {"b": 2}, {}, "new")])
    ids = ["u1", None, "u3", "u2", "u1"]
    latest = latest_acks(ledger.acknowledged_hashes(SCOPE, ids), ids)
    assert latest["request_id"].tolist() == ["new", None, None, "r2", "new"]
    assert latest["acked_at"].isna().tolist() == [False, True, True, False, False]
    assert latest.loc[0, "acked_at"] > latest.loc[3, "acked_at"]


def test_unchanged_mask_with_an_empty_ledger():
    empty = pd.DataFrame(
        {
            "distinct_id": pd.Series([], dtype=object),
            "property": pd.Series([], dtype=object),
            "value_hash": np.array([], dtype=np.uint64),
        }
    )
    mask = unchanged_mask({"a": np.array([0, 1], dtype=np.uint64)}, ["u1", None], empty)
    assert mask["a"].tolist() == [False, False]
    empty["request_id"] = pd.Series([], dtype=object)
    empty["acked_at"] = pd.Series([], dtype="datetime64[ns, UTC]")
    latest = latest_acks(empty, ["u1", None])
    assert latest["request_id"].tolist() == [None, None]
    assert latest["acked_at"].isna().all()


# -- pushes ---------------------------------------------------------------------------------


def test_pushes_are_recorded_without_the_api_key(ledger):
    options = {"id_col": "user_id", "concurrency": np.int64(4), "api_key": "sk-very-secret"}
    first = ledger.begin_push(SCOPE, options)
    ledger.record_acks(SCOPE, first, [("u1", {"a": 1}, {}, "r1"), ("u2", {"a": 1}, {}, "r2")])
    ledger.end_push(first, {"sent": np.int64(2), "failed": 0})
    second = ledger.begin_push(Scope(E, "FYTEST", "test"), {})
    assert second > first
    pushes = ledger.pushes()
    assert pushes.index.tolist() == [first, second]
    row = pushes.loc[first]
    assert row["options"] == {"id_col": "user_id", "concurrency": 4}
    assert row["counts"] == {"sent": 2, "failed": 0}
    assert row["acks"] == 2
    assert row["ended_at"] >= row["started_at"]
    assert pd.isna(pushes.loc[second, "ended_at"])
    assert ledger.pushes(version="test").index.tolist() == [second]
    assert ledger.pushes(wsid="NOPE").empty
    ledger.close()
    for file in ledger.path.parent.iterdir():
        assert b"sk-very-secret" not in file.read_bytes()


def test_end_push_of_an_unknown_push_fails(ledger):
    with pytest.raises(FynoLedgerError, match="no push 42"):
        ledger.end_push(42, {})


# -- threads --------------------------------------------------------------------------------


def test_group_commit_from_many_threads(ledger):
    push = ledger.begin_push(SCOPE, {})
    writer = ledger.ack_writer(SCOPE, push)

    def work(t: int) -> None:
        for i in range(50):
            assert writer.ack(f"t{t}-{i}", {"n": i + 1}, {"n": "number"}, f"r{t}-{i}") == []

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.acks == 800
    assert 1 <= writer.commits <= 800
    acked = acked_dict(ledger)
    assert len(acked) == 800
    assert acked[("t7-9", "n")] == (10, "r7-9")
    assert ledger.pushes().loc[push, "acks"] == 800


def test_callers_waiting_for_a_commit_share_the_next_one(ledger):
    push = ledger.begin_push(SCOPE, {})
    writer = ledger.ack_writer(SCOPE, push)
    blocker = sqlite3.connect(ledger.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the first caller's commit waits for this lock
    first = threading.Thread(target=writer.ack, args=("u0", {"a": 1}, {}, "r0"))
    first.start()
    # busy with an empty queue: the first caller took it (a leader yields before it does)
    wait_until(lambda: writer._busy and not writer._queue, "the first caller to start its commit")
    others = [
        threading.Thread(target=writer.ack, args=(f"u{i}", {"a": 1}, {}, f"r{i}"))
        for i in range(1, 8)
    ]
    for thread in others:
        thread.start()
    wait_until(lambda: len(writer._queue) == 7, "seven callers to queue")
    blocker.execute("ROLLBACK")
    blocker.close()
    for thread in [first, *others]:
        thread.join()
    assert (writer.acks, writer.commits) == (8, 2)
    assert len(acked_dict(ledger)) == 8


def test_a_failed_group_commit_raises_in_every_caller(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite", timeout=0.2) as led:
        push = led.begin_push(SCOPE, {})
        writer = led.ack_writer(SCOPE, push)
        blocker = sqlite3.connect(led.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                writer.ack(f"u{i}", {"a": 1}, {}, f"r{i}")
            except FynoLedgerError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        blocker.execute("ROLLBACK")
        blocker.close()
        assert len(errors) == 4
        assert all(str(led.path) in str(exc) for exc in errors)
        assert writer.ack("u9", {"a": 1}, {}, "r9") == []  # usable again once the lock is free
        assert acked_dict(led) == {("u9", "a"): (1, "r9")}


# -- processes ------------------------------------------------------------------------------

WRITER = """
import sys
from fyno_pandas.ledger import Ledger, Scope
path, name, kind, groups = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
scope = Scope("http://127.0.0.1:9/v1", "FYTEST", "live")
with Ledger(path) as led:
    push = led.begin_push(scope, {"writer": name})
    for g in range(groups):
        acks = [
            (f"{name}-{g}-{i}", {"shared": g * 100 + i + 1, "own": 1, "more": 2},
             {"shared": kind, "own": "number"}, f"{name}-r{g}-{i}")
            for i in range(100)
        ]
        led.record_acks(scope, push, acks)
        print(g + 1, flush=True)
    led.end_push(push, {"sent": groups * 100})
"""


def run_writer(path: Path, name: str, kind: str, groups: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, kind, str(groups)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_write_at_once(tmp_path):
    path = tmp_path / "ledger.sqlite"
    procs = [run_writer(path, "A", "number", 40), run_writer(path, "B", "string", 40)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with Ledger(path) as led:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        pushes = led.pushes()
        assert sorted(o["writer"] for o in pushes["options"]) == ["A", "B"]
        assert pushes["counts"].tolist() == [{"sent": 4000}] * 2
        assert pushes["acks"].tolist() == [4000, 4000]
        frame = led.acknowledged_hashes(SCOPE)
        users = frame["distinct_id"].astype(str)
        assert users.nunique() == 8000
        shared = led.property_types(SCOPE)["shared"]
        winner = "A" if shared == "number" else "B"
        # The type is fixed by whichever process committed first; the other's values are
        # rejected (Fyno would drop them), every one of them.
        has_shared = frame[frame["property"] == "shared"]["distinct_id"].astype(str)
        assert has_shared.str[0].unique().tolist() == [winner]
        assert len(has_shared) == 4000


def test_a_killed_writer_leaves_whole_transactions(tmp_path):
    path = tmp_path / "ledger.sqlite"
    proc = run_writer(path, "K", "number", 100_000)
    committed = 0
    while committed < 5:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        committed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with Ledger(path) as led:
        frame = led.acknowledged_hashes(SCOPE)
        users = frame["distinct_id"].astype(str).nunique()
        assert users % 100 == 0
        assert users >= committed * 100
        assert len(frame) == 3 * users  # every user with all three of its values
        push = led.pushes().iloc[0]
        assert pd.isna(push["ended_at"])
        assert push["acks"] == users


# -- unusable files -------------------------------------------------------------------------


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(FynoLedgerError, match="is a directory") as info:
        Ledger(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_a_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(FynoLedgerError) as info:
        Ledger(path)
    assert str(path) in str(info.value)


def test_another_applications_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    with pytest.raises(FynoLedgerError, match="not a fyno_pandas ledger") as info:
        Ledger(path)
    assert str(path) in str(info.value)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(FynoLedgerError, match="newer") as info:
        Ledger(path)
    assert str(path) in str(info.value)


def test_reopening_keeps_the_data_and_the_schema(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        push = led.begin_push(SCOPE, {})
        led.record_acks(SCOPE, push, [("u1", {"a": 1}, {"a": "number"}, "r1")])
    with Ledger(path) as led:
        assert led.property_types(SCOPE) == {"a": "number"}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_an_invalid_type_rolls_the_whole_group_back(ledger):
    push = ledger.begin_push(SCOPE, {})
    acks = [("u1", {"a": 1}, {"a": "number"}, "r1"), ("u2", {"b": 1}, {"b": "integer"}, "r2")]
    with pytest.raises(FynoLedgerError, match=str(ledger.path)):
        ledger.record_acks(SCOPE, push, acks)
    assert acked_dict(ledger) == {}
    assert ledger.property_types(SCOPE) == {}


# -- learnt rates -----------------------------------------------------------------------------


def test_a_learnt_rate_is_remembered_per_scope_and_forgotten(tmp_path):
    other = Scope(E, "FYTEST", "test")
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        assert led.learnt_rate(SCOPE) is None  # a scope the ledger does not know yet
        led.remember_rate(SCOPE, 180)
        led.remember_rate(other, 42.5)
        led.remember_rate(SCOPE, 150.0)  # the last push to learn it wins
    with Ledger(path) as led:
        assert led.learnt_rate(SCOPE) == 150.0
        assert led.learnt_rate(other) == 42.5
        led.remember_rate(SCOPE, None)
        led.remember_rate(Scope(E, "NEVER", "live"), None)  # nothing to forget: no scope made
        assert led.learnt_rate(SCOPE) is None
        assert led.learnt_rate(other) == 42.5
        assert "NEVER" not in set(led.pushes()["wsid"])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM scopes WHERE wsid = 'NEVER'").fetchone() == (0,)
    conn.close()


@pytest.mark.parametrize("rps", [0, -1.0, float("nan"), float("inf"), "fast", [1.0]])
def test_a_learnt_rate_must_be_a_positive_number(ledger, rps):
    with pytest.raises(ValueError, match="positive number"):
        ledger.remember_rate(SCOPE, rps)
    assert ledger.learnt_rate(SCOPE) is None


def test_a_learnt_rate_expires_after_a_week(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        led.remember_rate(SCOPE, 80.0)

    def learnt_days_ago(days: float) -> float | None:
        conn = sqlite3.connect(path)
        conn.execute("UPDATE rate_limits SET learnt_at = ?", (time.time() - days * 86400,))
        conn.commit()
        conn.close()
        with Ledger(path) as led:
            return led.learnt_rate(SCOPE)

    assert learnt_days_ago(6.9) == 80.0
    assert learnt_days_ago(7.1) is None  # Fyno's limits change; an old one is a guess


def _schema_2_file(path: Path) -> None:
    """A ledger file of schema version 2 holding one acknowledged value: written by today's
    code, then taken back to version 2 (migrations 3 and 4 only add ``rate_limits`` and
    ``add_requests.applied``)."""
    with Ledger(path) as led:
        push = led.begin_push(SCOPE, {})
        led.record_acks(SCOPE, push, [("u1", {"a": 7}, {"a": "number"}, "r1")])
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE rate_limits")
    conn.execute("ALTER TABLE add_requests DROP COLUMN applied")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_a_schema_2_ledger_is_migrated_and_keeps_its_values(tmp_path):
    path = tmp_path / "v2.sqlite"
    _schema_2_file(path)
    with Ledger(path) as led:
        assert acked_dict(led) == {("u1", "a"): (7, "r1")}
        assert led.property_types(SCOPE) == {"a": "number"}
        assert led.learnt_rate(SCOPE) is None
        led.remember_rate(SCOPE, 99.0)
        assert led.learnt_rate(SCOPE) == 99.0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (4,)
    conn.close()


def test_reading_a_schema_2_ledger_migrates_it_like_every_reader(tmp_path):
    # A plan only reads the ledger, yet opening an older file migrates it first (one write
    # transaction), so readers never meet a file without the tables they query.
    from fyno_pandas.ledger.bridge import opened

    path = tmp_path / "v2.sqlite"
    _schema_2_file(path)
    with opened(path, create=False) as led:
        assert led is not None
        assert led.learnt_rate(SCOPE) is None
        assert led.property_types(SCOPE) == {"a": "number"}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)
    conn.close()


@pytest.mark.parametrize(
    ("old_props", "new_props"),
    [((1, 2, 3), (1, 2, 3)), ((1, 2, 3), (3, 2, 1)), ((1, 2), (2, 5)), ((4,), (4, 1))],
    ids=["same order", "other order", "some new", "one more"],
)
def test_merging_a_state_replaces_each_property_in_place(old_props, new_props) -> None:
    from fyno_pandas.ledger.values import REC
    from fyno_pandas.ledger.writes import merge_state

    old = b"".join(REC.pack(p, 10 * p, 1) for p in old_props)
    new = b"".join(REC.pack(p, 20 * p, 2) for p in new_props)
    merged = {p: (h, a) for p, h, a in REC.iter_unpack(old)}
    merged.update((p, (h, a)) for p, h, a in REC.iter_unpack(new))
    expected = b"".join(REC.pack(p, h, a) for p, (h, a) in merged.items())
    assert merge_state(old, new) == expected
