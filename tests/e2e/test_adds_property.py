"""Property test: whatever a careful user does, an add or an append never counts twice.

Random sequences of pushes (with or without the ledger, per row or in batches), numbered
faults that lose answers (``drop_after``: applied, no answer; ``error_after``: applied, 502;
``error_requests``: not applied, 400 or 502), Ctrl-C after the k-th acknowledged request, and
``retry_failed`` of results kept as they are or read back from CSV and Parquet. A row in doubt
is settled as a careful user would after checking the dashboard: right after the step that
left it in doubt, the user compares what the server holds for them with what the row says was
acknowledged and what may have landed, then later ``resend`` s it only if the server does not
hold it, ``assume_stored`` s it only if it does (either when nothing tells them apart), or keeps
it. A user can pick one ``in_doubt=`` per call, so a retry sends each choice's rows as their
own sub-frame and sub-result and the user pieces the returned rows back together.

What "asked" means: a push that is not a resume of an unfinished identical push asks for its
frame's adds and appends again (a finished push run again adds again, by design); a resume
and a retry ask for nothing new. The model decides resumes from what the user saw: with the
ledger, a push resumes while the frame's last asking push has a row with adds that is not
``sent`` or ``unchanged``. Each frame keeps one ledger choice for all its pushes and retries
(a retry without the ledger of a push made with it cannot tell the ledger what it sent).

After every step, for every user: the adds and appends of rows shown ``sent`` (or
``unchanged`` by a resume) <= what the server holds <= what the pushes asked, per element for
appends; equality when every row of every push ended ``sent``; and a row shown ``sent`` holds
its ``set`` value.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import fyno_pandas
from fyno_pandas.emulator import FAULT_DEFAULTS, FynoEmulator
from fyno_pandas.errors import FynoInputError, PushInterrupted
from fyno_pandas.options.retry import RetryPolicy
from fyno_pandas.results.replay import conform

USERS = [f"u{i}" for i in range(6)]
OPS = {"logins": "add", "badges": "append"}
QUIET = {"preview": False, "progress": False, "concurrency": 1}
FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.002, seed=0)
DONE = ("sent", "unchanged")


@dataclasses.dataclass
class Frame:
    """A frame the user pushes, and whether its pushes and retries use the ledger."""

    number: int
    df: pd.DataFrame
    ledger: bool

    @property
    def note(self) -> str:
        """Its set column: no other frame sets it, so a sent row's value stays stored."""
        return f"note{self.number}"

    def row(self, uid: str) -> pd.Series:
        return self.df.set_index("uid").loc[uid]

    def adds(self, uid: str) -> tuple[int, list[str]]:
        """What the row asks to add to logins (0 when missing) and append to badges."""
        row = self.row(uid)
        return (0 if pd.isna(row["logins"]) else int(row["logins"])), list(row["badges"])

    def has_adds(self, uid: str) -> bool:
        row = self.row(uid)
        return not pd.isna(row["logins"]) or bool(row["badges"])

    def fingerprint(self) -> frozenset:
        rows = self.df[[self.has_adds(u) for u in self.df["uid"]]]
        return frozenset(
            (u, str(n), tuple(b))
            for u, n, b in zip(rows["uid"], rows["logins"], rows["badges"], strict=True)
        )


@dataclasses.dataclass
class Job:
    """One push that asked for its frame's adds, and what the user holds of it: the latest
    result (after resumes and retries), each row's status, the last ``applied`` said of it,
    and whether the dashboard showed its requests in doubt landed (None: cannot tell)."""

    frame: Frame
    result: pd.DataFrame
    status: dict[str, str]
    applied: dict[str, dict[str, list[int]]] = dataclasses.field(default_factory=dict)
    landed: dict[str, bool | None] = dataclasses.field(default_factory=dict)

    def open_rows(self) -> list[str]:
        """Rows whose adds are not known stored: the push is unfinished while there are any."""
        return [u for u, s in self.status.items() if s not in DONE and self.frame.has_adds(u)]

    def retryable(self) -> list[str]:
        return [u for u, s in self.status.items() if s in ("failed", "pending", "in_doubt")]


class CtrlC:
    """An ``on_ack`` hook pressing Ctrl-C after the ``after``-th acknowledged request, then
    holding the worker until the main thread took the KeyboardInterrupt (so the push stops
    right there, whatever the machine's load)."""

    def __init__(self, after: int | None) -> None:
        self.after, self.acks = after, 0
        self.delivered = threading.Event()

    def __call__(self, positions: Any, request_id: str | None) -> None:
        self.acks += 1
        if self.acks == self.after:
            signal.raise_signal(signal.SIGINT)
            assert self.delivered.wait(10), "the main thread never took the Ctrl-C"

    @contextmanager
    def armed(self) -> Iterator[None]:
        def handler(signum: int, frame: Any) -> None:
            self.delivered.set()
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


class World:
    """The emulator, the ledger, the frames, the asking pushes and the model's checks."""

    def __init__(self, emulator: FynoEmulator, folder: Path, frames: list[Frame]) -> None:
        self.emulator, self.frames = emulator, frames
        self.ledger = folder / "ledger.sqlite"
        self.jobs: list[Job] = []
        self.to = {
            "wsid": emulator.wsid,
            "api_key": emulator.api_key,
            "endpoint": emulator.endpoint,
            "retry_policy": FAST,
            **QUIET,
        }

    def options(self, frame: Frame, batch_size: int | None) -> dict[str, Any]:
        schema = {"logins": "number", "badges": "list", frame.note: "string"}
        ledger = self.ledger if frame.ledger else False
        return {**self.to, "ledger": ledger, "schema": schema, "batch_size": batch_size, "ops": OPS}

    def open_job(self, frame: Frame) -> Job | None:
        """The unfinished asking push a ledger push of ``frame`` resumes (None: it asks)."""
        if not frame.ledger:
            return None
        mine = [job for job in self.jobs if job.frame is frame]
        return mine[-1] if mine and mine[-1].open_rows() else None

    def call(self, send: Callable[..., pd.DataFrame], faults: dict, stop: CtrlC) -> pd.DataFrame:
        """``send(on_ack=stop)`` under ``faults``; the result, or the one Ctrl-C carried."""
        self.emulator.configure(**FAULT_DEFAULTS)
        self.emulator.configure(**faults)
        try:
            with stop.armed():
                return send(on_ack=stop)
        except PushInterrupted as exc:
            assert stop.delivered.is_set()
            event("Ctrl-C")
            return exc.result
        finally:
            self.emulator.configure(**FAULT_DEFAULTS)

    # -- steps -----------------------------------------------------------------------------
    def push(self, frame: Frame, batch_size: int | None, faults: dict, stop: CtrlC) -> None:
        before = self.emulator.profiles
        job = self.open_job(frame)
        options = self.options(frame, batch_size)
        result = self.call(
            lambda **o: fyno_pandas.push(frame.df, "uid", **options, **o), faults, stop
        )
        resumed = result.attrs["fyno"].get("resumed")
        event("push: " + ("resumed" if resumed else "asked"))
        assert (resumed is not None) == (job is not None), (
            f"the push {'resumed' if resumed else 'did not resume'}, but its last identical "
            f"push {'was unfinished' if job else 'had finished or there was none'}"
        )
        if job is None:
            job = Job(frame, result, {})
            self.jobs.append(job)
        job.result = result
        self.settle(job, result, before, {u: {} for u in result["distinct_id"]})

    def retry(
        self,
        job: Job,
        trip: Callable[[pd.DataFrame, Path], pd.DataFrame],
        choose: Callable[[list[str]], str],
        batch_size: int | None,
        faults: dict,
        stop: CtrlC,
        folder: Path,
    ) -> None:
        """``retry_failed`` of the job's result, one call per ``in_doubt=`` choice."""
        before = self.emulator.profiles
        back = trip(job.result, folder)
        groups: dict[str, list[str]] = {"keep": [], "resend": [], "assume_stored": []}
        for uid in back["distinct_id"]:
            if job.status[uid] != "in_doubt":
                groups["keep"].append(uid)  # the failed and pending rows are retried too
                continue
            allowed = {
                None: ["resend", "assume_stored"],
                True: ["assume_stored"],
                False: ["resend"],
            }
            groups[choose(["keep", *allowed[job.landed.get(uid)]])].append(uid)
        options = self.options(job.frame, batch_size)
        parts, starts = [], {}
        for choice, uids in groups.items():
            if not uids:
                continue
            rows = back[back["distinct_id"].isin(uids)]
            if stop.delivered.is_set():  # the user pressed Ctrl-C: these rows stay as they were
                parts.append(conform(rows))
                continue
            df = job.frame.df[job.frame.df["uid"].isin(uids)]
            starts.update(
                {u: self.start(job, u, choice) for u in uids if self.sends(job, u, choice)}
            )
            note(f"  retry_failed(in_doubt={choice!r}) of {uids}")
            event(f"retry: in_doubt={choice}")
            retry = self._retrier(df, rows, options, choice, job.frame.ledger)
            part = self.call(retry, faults, stop)
            assert part.index.tolist() == rows.index.tolist(), "not the rows the retry was given"
            parts.append(part)
        job.result = parts[0] if len(parts) == 1 else pd.concat(parts).loc[back.index]
        self.settle(job, job.result, before, starts)

    def _retrier(
        self, df: pd.DataFrame, rows: pd.DataFrame, options: dict, choice: str, ledger: bool
    ) -> Callable[..., pd.DataFrame]:
        options = {k: v for k, v in options.items() if k != "ops"}  # read from the result

        def send(**more: Any) -> pd.DataFrame:
            retry = functools.partial(
                fyno_pandas.retry_failed, df, rows, "uid", **options, **more, in_doubt=choice
            )
            try:
                return retry()
            except FynoInputError as exc:  # the result says nothing of its ops: say them
                refused = exc
            assert "pass ops=" in str(refused)
            assert not ledger, "the ledger records the push, yet the retry asked for its ops"
            return retry(ops=OPS)

        return send

    @staticmethod
    def sends(job: Job, uid: str, choice: str) -> bool:
        """Whether a retry with ``in_doubt=choice`` sends the row."""
        return job.status[uid] in ("failed", "pending") or (
            job.status[uid] == "in_doubt" and choice != "keep"
        )

    def start(self, job: Job, uid: str, choice: str) -> dict[str, int]:
        """How many of each property's requests a retry of the row does not make again."""
        if job.status[uid] != "in_doubt":
            return {}
        landed = job.applied.get(uid, {})
        extra = choice == "assume_stored"
        return {p: acked + (maybe if extra else 0) for p, (acked, maybe) in landed.items()}

    # -- what the user reads ---------------------------------------------------------------
    def settle(self, job: Job, result: pd.DataFrame, before: dict, starts: dict) -> None:
        """Take ``result``'s rows into the job; check the dashboard for the rows the step sent
        (``starts``: from which request on) and left in doubt with a request that may have
        landed; check the invariants."""
        after = self.emulator.profiles
        for uid, status, applied, attempts in zip(
            result["distinct_id"],
            result["status"],
            result["applied"],
            result["attempts"],
            strict=True,
        ):
            job.status[uid] = status
            # a row a resume held sent nothing: its applied is the earlier step's, judged then
            held = attempts == 0
            if status != "in_doubt" or not isinstance(applied, str) or uid not in starts or held:
                continue
            job.applied[uid] = json.loads(applied)
            if any(maybe for _, maybe in job.applied[uid].values()):
                job.landed[uid] = self.dashboard(job, uid, before, after, starts[uid])
            else:  # stopped after acknowledged requests: nothing in doubt to tell apart
                job.landed[uid] = None
        note(f"    -> {dict(zip(result['distinct_id'], result['status'], strict=True))}")
        for status in set(result["status"]):
            event(f"a row {status}")
        for decided in job.landed.values():
            event(f"dashboard: landed={decided}")
        self.check()

    def dashboard(self, job: Job, uid: str, before: dict, after: dict, start: dict) -> bool | None:
        """Did the row's requests in doubt land? What the step added to the user's profile,
        against what it added if they did and if they did not (None: the same)."""
        amount, badges = job.frame.adds(uid)
        old, new = before.get(uid, {}), after.get(uid, {})
        assert new.get("badges", [])[: len(old.get("badges", []))] == old.get("badges", [])
        seen = (
            new.get("logins", 0) - old.get("logins", 0),
            new.get("badges", [])[len(old.get("badges", [])) :],
        )
        landed = job.applied[uid]

        def added(with_maybe: bool) -> tuple[int, list[str]]:
            end = {p: a + (m if with_maybe else 0) for p, (a, m) in landed.items()}
            logins = amount * (end.get("logins", 0) - start.get("logins", 0))
            return logins, badges[start.get("badges", 0) : end.get("badges", 0)]

        if_landed, if_not = added(True), added(False)
        assert seen in (if_landed, if_not), (
            f"{uid}: the step added {seen} to the user, but the row's applied {landed} (from "
            f"{start}) says {if_not}, or {if_landed} if what is in doubt landed"
        )
        return None if if_landed == if_not else seen == if_landed

    def check(self) -> None:
        """The invariants, for every user, after every step."""
        stored = self.emulator.profiles
        everything_sent = all(not job.open_rows() for job in self.jobs)
        for uid in USERS:
            asked, known = (0, Counter()), (0, Counter())
            for job in self.jobs:
                if uid not in job.status or not job.frame.has_adds(uid):
                    continue
                amount, badges = job.frame.adds(uid)
                asked = (asked[0] + amount, asked[1] + Counter(badges))
                if job.status[uid] in DONE:
                    known = (known[0] + amount, known[1] + Counter(badges))
            profile = stored.get(uid, {})
            held = (profile.get("logins", 0), Counter(profile.get("badges", [])))
            assert known[0] <= held[0] <= asked[0], (
                f"{uid}: logins {held[0]} stored; the rows shown sent added {known[0]}, the "
                f"pushes asked for {asked[0]}"
            )
            for element in held[1] | asked[1]:
                assert known[1][element] <= held[1][element] <= asked[1][element], (
                    f"{uid}: badge {element!r} stored {held[1][element]} times; the rows shown "
                    f"sent appended it {known[1][element]} times, the pushes asked for "
                    f"{asked[1][element]}"
                )
            if everything_sent:
                assert held == asked, f"{uid}: every row was sent, yet {held} != {asked}"
        for job in self.jobs:
            for uid, status in job.status.items():
                value = job.frame.row(uid)[job.frame.note]
                if status == "sent" and not pd.isna(value):
                    assert stored.get(uid, {}).get(job.frame.note) == value, (
                        f"{uid}: shown sent, but {job.frame.note}={value!r} is not stored"
                    )


def test_a_retry_from_a_file_records_its_acks_where_a_rerun_finds_them(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: the ledger records a retry read back from a file under the
    ops its record holds ({"badges": ..., "logins": ...}, sorted as JSON); a row's request
    key followed that order, so the retry's acks matched none of the push's rows, and running
    the push again resumed it and sent the retried row's add a second time."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x"], ["y"]]})
    options = {
        **destination,
        **QUIET,
        "ledger": tmp_path / "ledger.sqlite",
        "ops": OPS,
        "schema": {"logins": "number", "badges": "list"},
        "batch_size": None,
    }
    emulator.configure(error_requests=[3], error_statuses=[400])  # b's add: refused, not stored
    first = fyno_pandas.push(frame, "uid", **options)
    assert first["status"].tolist() == ["sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)
    retried = fyno_pandas.retry_failed(
        frame, csv_back(first, tmp_path), "uid", **{k: v for k, v in options.items() if k != "ops"}
    )
    assert retried["status"].tolist() == ["sent", "sent"]

    again = fyno_pandas.push(frame, "uid", **options)  # a finished push: adds everything again

    assert again.attrs["fyno"]["resumed"] is None
    assert again["status"].tolist() == ["sent", "sent"]
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 10, "b": 14}


def test_a_rerun_spelling_ops_in_another_order_resumes_the_push(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """The same adds are the same push however ``ops`` is ordered (``--op`` flags too)."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7], "badges": [["x"], ["y"]]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite", "batch_size": None}
    options["schema"] = {"logins": "number", "badges": "list"}
    emulator.configure(error_requests=[3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add", "badges": "append"})
    assert first["status"].tolist() == ["sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.push(frame, "uid", **options, ops={"badges": "append", "logins": "add"})

    assert again.attrs["fyno"]["resumed"] == first.attrs["fyno"]["push_id"]
    assert again["status"].tolist() == ["unchanged", "sent"]
    assert emulator.profiles == {
        "a": {"logins": 5, "badges": ["x"]},
        "b": {"logins": 7, "badges": ["y"]},
    }


def test_a_retry_of_a_csv_result_can_be_written_to_parquet(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a CSV holds the list columns as text, and the retried rows
    came back as lists in the same column, which Parquet refused (ArrowTypeError)."""
    frame = pd.DataFrame({"uid": ["a", "b"], "logins": [5, 7]})
    options = {**destination, **QUIET, "ledger": False, "schema": {"logins": "number"}}
    emulator.configure(error_requests=[2], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.retry_failed(
        frame, csv_back(first, tmp_path), "uid", **options, ops={"logins": "add"}
    )

    assert again["request_ids"].map(len).tolist() == [1, 1]
    assert again["dropped"].tolist() == [[], []]
    assert parquet_back(again, tmp_path)["status"].tolist() == ["sent", "sent"]


def test_a_list_column_that_is_not_a_list_is_refused_by_name() -> None:
    result = pd.DataFrame({"distinct_id": ["a"], "status": ["failed"], "request_ids": ["r-1"]})
    with pytest.raises(FynoInputError, match="'request_ids' holds 'r-1', not a list") as info:
        conform(result)
    assert info.value.column == "request_ids"


def test_assume_stored_on_a_row_a_resume_held_sends_the_rest_of_the_row(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a resume holds a row in doubt without saying its progress
    (its ``applied`` is empty; the ledger has it). ``assume_stored`` then took the whole row as
    stored: its append was never sent, yet the row showed ``sent``."""
    frame = pd.DataFrame({"uid": ["a"], "logins": [5], "badges": [["x", "y"]]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite", "ops": OPS}
    options.update(schema={"logins": "number", "badges": "list"}, batch_size=None)
    emulator.configure(error_after_requests=[1])  # the add is applied and answered 502
    assert fyno_pandas.push(frame, "uid", **options)["status"].tolist() == ["in_doubt"]
    emulator.configure(**FAULT_DEFAULTS)
    held = fyno_pandas.push(frame, "uid", **options)
    assert held["status"].tolist() == ["in_doubt"]

    again = fyno_pandas.retry_failed(frame, held, "uid", **options, in_doubt="assume_stored")

    assert again["status"].tolist() == ["sent"]
    assert emulator.profiles == {"a": {"logins": 5, "badges": ["x", "y"]}}


def test_ctrl_c_in_a_retry_carries_the_whole_result(
    emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    """Found by the property test: the Ctrl-C of a retry carried only the rows it resent
    (and on the frame's index), so the user lost the other rows' outcome."""
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "logins": [1, 2, 3]})
    options = {**destination, **QUIET, "ledger": False, "ops": {"logins": "add"}}
    options.update(schema={"logins": "number"}, batch_size=None)
    emulator.configure(error_requests=[2, 3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options)
    emulator.configure(**FAULT_DEFAULTS)
    stop = CtrlC(after=1)

    with stop.armed(), pytest.raises(PushInterrupted) as info:
        fyno_pandas.retry_failed(frame, first, "uid", **options, on_ack=stop)

    result = info.value.result
    assert result.index.tolist() == first.index.tolist()
    assert result["status"].tolist() == ["sent", "sent", "pending"]
    assert result.attrs["fyno"]["pending"] == 1
    assert "1 rows pending" in str(info.value)


def test_a_retry_of_a_retried_file_result_finds_the_push_in_the_ledger(
    emulator: FynoEmulator, destination: dict[str, str], tmp_path: Path
) -> None:
    """Found by the property test: a retry of a result read from a file returns a summary
    without the push's ops; retrying that result again read the partial summary instead of the
    ledger's record, asked for ops= and, given them, recorded its acks under another
    fingerprint, so running the push again resumed it and added the row a second time."""
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "logins": [1, 2, 3]})
    options = {**destination, **QUIET, "ledger": tmp_path / "ledger.sqlite"}
    options.update(schema={"logins": "number"}, batch_size=None)
    emulator.configure(error_requests=[2, 3], error_statuses=[400])
    first = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})
    emulator.configure(error_requests=[2])  # the retry's c: refused again
    retried = fyno_pandas.retry_failed(frame, csv_back(first, tmp_path), "uid", **options)
    assert retried["status"].tolist() == ["sent", "sent", "failed"]
    emulator.configure(**FAULT_DEFAULTS)

    again = fyno_pandas.retry_failed(frame, retried, "uid", **options)
    assert again["status"].tolist() == ["sent"] * 3
    rerun = fyno_pandas.push(frame, "uid", **options, ops={"logins": "add"})

    assert rerun.attrs["fyno"]["resumed"] is None  # finished: a new push adds everything again
    assert {u: p["logins"] for u, p in emulator.profiles.items()} == {"a": 2, "b": 4, "c": 6}


# -- round trips ---------------------------------------------------------------------------
def as_is(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    return result


def csv_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.csv"
    result.to_csv(path, index=False)
    return pd.read_csv(path, dtype={"distinct_id": str}, keep_default_na=False, na_values=[""])


def parquet_back(result: pd.DataFrame, folder: Path) -> pd.DataFrame:
    path = folder / "result.parquet"
    result.to_parquet(path)
    # pandas reads back the dtype it wrote for an Arrow list only with the pyarrow backend
    # (pandas-dev/pandas#57411)
    return pd.read_parquet(path, dtype_backend="pyarrow")


# -- strategies ----------------------------------------------------------------------------
@st.composite
def frames(draw: st.DrawFn, number: int) -> Frame:
    uids = draw(st.lists(st.sampled_from(USERS), min_size=2, max_size=6, unique=True))
    n = len(uids)
    logins = draw(st.lists(st.none() | st.integers(0, 20), min_size=n, max_size=n))
    element = st.sampled_from(["gold", "silver", "bronze"])
    badges = draw(st.lists(st.lists(element, max_size=3), min_size=n, max_size=n))
    notes = draw(st.lists(st.none() | st.sampled_from(["x", "y"]), min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "uid": uids,
            "logins": pd.array(logins, dtype="Int64"),
            "badges": pd.Series(badges, dtype=object),
            f"note{number}": pd.Series(notes, dtype=object),
        }
    )
    return Frame(number, df, draw(st.booleans()))


NUMBERS = st.lists(st.integers(1, 10), max_size=2)
FAULTS = st.one_of(
    st.fixed_dictionaries(
        {
            "error_statuses": st.just([400]),
            "error_requests": NUMBERS,
            "drop_after_requests": NUMBERS,
        }
    ),
    st.fixed_dictionaries(
        {
            "error_statuses": st.just([502]),
            "error_requests": st.lists(st.integers(1, 10), max_size=3),
            "drop_after_requests": NUMBERS,
            "error_after_requests": NUMBERS,
        }
    ),
)
TRIPS = st.sampled_from([as_is, csv_back, parquet_back])


def distinct_adds(made: list[Frame]) -> list[Frame]:
    """The frames but one of each set of identical adds (the model keys a push by its frame)."""
    kept: list[Frame] = []
    for frame in made:
        if not frame.fingerprint() or frame.fingerprint() not in [f.fingerprint() for f in kept]:
            kept.append(frame)
    return kept


def step(world: World, data: st.DataObject, number: int, folder: Path) -> None:
    """One push or retry, its options, faults and Ctrl-C drawn from ``data``."""
    batch_size = data.draw(st.sampled_from([None, 2]), label="batch_size")
    faults = data.draw(FAULTS, label="faults")
    stop = CtrlC(data.draw(st.none() | st.integers(1, 6), label="ctrl-c after ack"))
    waiting = [job for job in world.jobs if job.retryable()]
    if waiting and data.draw(st.integers(0, 2), label="retry") > 0:
        job = data.draw(st.sampled_from(waiting), label="job")
        trip = data.draw(TRIPS, label="round trip")
        note(f"step {number}: retry frame {job.frame.number} via {trip.__name__}")

        def choose(allowed: list[str]) -> str:
            """``allowed[0]`` is keep: a user now and then keeps a row without checking it."""
            return data.draw(st.sampled_from(allowed[1:] * 3 + allowed[:1]), label="in_doubt")

        world.retry(job, trip, choose, batch_size, faults, stop, folder)
    else:
        frame = data.draw(st.sampled_from(world.frames), label="frame")
        note(f"step {number}: push frame {frame.number} (ledger={frame.ledger})")
        world.push(frame, batch_size, faults, stop)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_an_add_or_append_is_never_stored_more_often_than_asked(
    emulator: FynoEmulator, data: st.DataObject
) -> None:
    emulator.reset()  # one emulator for every example: each starts from an empty workspace
    emulator.configure(**FAULT_DEFAULTS)
    count = data.draw(st.integers(1, 3), label="frames")
    made = distinct_adds([data.draw(frames(k), label=f"frame {k}") for k in range(count)])
    with tempfile.TemporaryDirectory() as folder:
        world = World(emulator, Path(folder), made)
        for number in range(data.draw(st.integers(1, 7), label="steps")):
            step(world, data, number, Path(folder))
