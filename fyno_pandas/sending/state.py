"""The state of one push being sent, and the worker pool that sends it.

`PushState` holds the per-row result arrays (each row's status in one array, which every count
is read from), the request tallies and the stop signal, changed only by its methods; `run_units`
runs numbered units of work on a bounded thread pool and refreshes the progress bar from the
calling thread. `sending.units` (the rows) and `sending.seeding` (the type seeds) send through
both.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.http import FynoClient, Outcome
from ..planning.bodies import landed_text
from ..planning.steps import Step, describe_steps
from ..results.columns import STATUSES

if TYPE_CHECKING:
    from ..planning.plan import PushPlan
    from .mode import SendMode

__all__ = ["REFUSED_KEY", "AckHook", "PushState", "bar_class", "refresh_bar", "run_units"]

log = logging.getLogger("fyno_pandas")

#: The answers that refuse the key or workspace: the push stops at the first.
REFUSED_KEY = (401, 403)
#: Each status's code in `PushState`'s status array.
CODE = {status: code for code, status in enumerate(STATUSES)}
#: A row that needed several requests shows the worst of their statuses (the lowest rank).
_RANK = {status: rank for rank, status in enumerate(("in_doubt", "failed", "pending", "sent"))}
_TICK = 0.1  # seconds between progress refreshes (and Ctrl-C checks) of the calling thread

AckHook = Callable[[Sequence[int], "str | None"], None]
_APPLIED = (
    "its adds or appends may have been applied: resending the row repeats them (in doubt: "
    "retry_failed keeps it unless in_doubt='resend')"
)


class PushState:
    """The state of one push: each row's status (one array of `STATUSES` codes, which every
    count is read from), its other result arrays, the request tallies and the stop signal."""

    def __init__(
        self,
        plan: PushPlan,
        client: FynoClient | None,
        on_ack: AckHook | None = None,
        *,
        journal: Any = None,
        mode: SendMode | None = None,
        bar_start: int = 0,
    ) -> None:
        n = len(plan.index)
        self.plan, self.client, self.on_ack = plan, client, on_ack
        config = client.config if client is not None else plan.config
        self.destination = getattr(config, "label", None)
        self._codes = np.where(
            plan.sendable,
            CODE["pending"],
            np.where(plan.unchanged, CODE["unchanged"], CODE["skipped"]),
        ).astype(np.int8)
        self.error = np.where(plan.sendable | plan.unchanged, None, plan.skip_reasons).astype(
            object
        )
        # unchanged rows keep the request that stored their values (from the ledger)
        self.request_id = np.where(plan.unchanged, plan.acked_request_ids, None).astype(object)
        self.http_status = np.zeros(n, dtype=np.int16)  # 0: no answer
        self.attempts = np.zeros(n, dtype=np.int32)
        self.stop = threading.Event()
        self.bar_start = bar_start  # a shared progress bar's count when this plan started
        self._lock = threading.Lock()
        self.requests = self.retries = self.throttled = 0
        # every request id of a row, in order, when it needed several requests
        self.request_ids: dict[int, list[str]] = {}
        # `sending.seeding`: per row, the seed requests made for it; per row, how many of
        # each property's requests a seed or the push a retry replays made (not made again)
        self.prior: dict[int, list[Outcome]] = {}
        self.done: dict[int, dict[str, int]] = {pos: dict(m) for pos, m in plan.made.items()}
        # per row and add/append property: [requests acknowledged, requests that may have
        # landed after them] (`landed`), counting what the replayed push made as acknowledged
        self.landed: dict[int, dict[str, list[int]]] = {
            pos: {p: [n, 0] for p, n in m.items()} for pos, m in plan.made.items()
        }
        # rows an add or append of which may have been applied (`land`), and the
        # requests such a row did not send when it stopped (named in its error)
        self.applied: set[int] = set()
        self.unsent: dict[int, list[Step]] = {}
        # `fyno_pandas.ledger.inflight.AddJournal`: adds recorded in flight before they are sent
        self.journal = journal
        self.auth_failure: Outcome | None = None
        #: How the rows are sent (`fyno_pandas.sending.mode.choose`); None in a dry run.
        self.mode = mode
        self.crash: BaseException | None = None

    def counts(self) -> dict[str, int]:
        """Rows per status, read from the one status array."""
        found = np.bincount(self._codes, minlength=len(STATUSES)).tolist()
        return dict(zip(STATUSES, found, strict=True))

    def statuses(self) -> np.ndarray:
        """Each row's status as text."""
        return np.array(STATUSES, dtype=object)[self._codes]

    def status_of(self, pos: int) -> str:
        return STATUSES[self._codes[pos]]

    def where(self, status: str) -> np.ndarray:
        """A mask of the rows with ``status``."""
        return self._codes == CODE[status]

    def mark(self, positions: Any, status: str) -> None:
        """Give ``positions`` ``status`` with nothing else to record (a dry run)."""
        self._codes[positions] = CODE[status]

    def send(self, endpoint: str, body: bytes, idempotent: bool = True) -> Outcome:
        """Post one request and count it; a 401/403 stops every worker before its next
        attempt."""
        assert self.client is not None  # a dry run sends nothing
        outcome = self.client.post(endpoint, body, stop=self.stop, idempotent=idempotent)
        with self._lock:
            self.requests += outcome.attempts
            self.retries += outcome.retries
            self.throttled += outcome.throttled
        if outcome.http_status in REFUSED_KEY and self.auth_failure is None:
            self.auth_failure = outcome
            self.stop.set()
        return outcome

    def settle(self, positions: Sequence[int], outcomes: Sequence[Outcome]) -> str:
        """Record the rows' status from their request outcomes: the worst of them (in_doubt,
        failed, pending, sent), with every request id. Returns that status."""
        status, final = _worst(outcomes)
        rids = [o.request_id for o in outcomes if o.request_id]
        # one row (per-row mode) as a scalar index: numpy's fancy indexing costs more
        rows: Any = positions[0] if len(positions) == 1 else np.asarray(positions, dtype=np.intp)
        self._codes[rows] = CODE[status]
        self.request_id[rows] = rids[0] if rids else None
        self.http_status[rows] = final.http_status or 0
        self.attempts[rows] = sum(o.attempts for o in outcomes)
        self.error[rows] = None if status == "sent" else final.error
        if len(rids) > 1:
            self.request_ids.update((pos, rids) for pos in positions)
        return status

    def land(self, pos: int, items: Iterable[tuple[Sequence[str], str]]) -> None:
        """Count row ``pos``'s requests or batch items (``(properties it adds to or appends
        to, status)``): acknowledged when ``sent``, may have landed when ``in_doubt``. The one
        rule for whether a row's adds leave "in flight": a row one of whose adds or appends is
        ``sent`` or ``in_doubt`` may have been applied (``applied``)."""
        for adding, status in items:
            if status not in ("sent", "in_doubt") or not adding:
                continue
            counts = self.landed.setdefault(pos, {})
            for p in adding:
                counts.setdefault(p, [0, 0])[status == "in_doubt"] += 1
            self.applied.add(pos)

    def applied_text(self) -> np.ndarray:
        """Per row in doubt, ``landed`` as JSON text (None for the other rows): what a retry
        needs to send the rest of the row without repeating what landed."""
        out = np.full(len(self._codes), None, dtype=object)
        for pos in np.flatnonzero(self.where("in_doubt")).tolist():
            out[pos] = self._landed_text(pos)
        return out

    def _landed_text(self, pos: int) -> str | None:
        return landed_text(self.landed[pos]) if pos in self.landed else None

    def flying(self, positions: Sequence[int]) -> None:
        """Record these rows' adds and appends in flight in the ledger, before sending them."""
        if self.journal is not None:
            self.journal.flying(positions)

    def finish(self, groups: Sequence[tuple[Sequence[int], Sequence[Outcome]]], rid: Any) -> None:
        """The end of some rows' work, each group of rows with its request outcomes: `settle`
        them, `hold` those whose adds may have been applied, acknowledge the sent ones (under
        ``rid``, or the first row's own request id when None) and journal them."""
        positions = [pos for rows, _ in groups for pos in rows]
        acked: list[int] = []
        for rows, outcomes in groups:
            if self.settle(rows, outcomes) == "sent":
                acked += rows  # `hold` leaves a sent row sent
        self.hold(positions)
        if self.on_ack is not None and acked:
            self.on_ack(acked, self.request_id[acked[0]] if rid is None else rid)
        self.journal_settle(positions)

    def seeded(self, pos: int, props: Sequence[str], outcome: Outcome) -> None:
        """A seed of row ``pos`` that adds to or appends to ``props`` was made: the row's result
        starts with it, and it is not made again."""
        self.prior.setdefault(pos, []).append(outcome)
        self.done.setdefault(pos, {}).update(dict.fromkeys(props, 1))

    def stopped(self, pos: int, steps: Sequence[Step]) -> None:
        """Row ``pos`` stopped before ``steps`` (named in its error when it is held)."""
        self.unsent[pos] = list(steps)

    def hold(self, positions: Sequence[int]) -> None:
        """A row whose add or append may have been applied (``applied``) is never certainly
        not stored: ``failed`` or ``pending`` (stopped half way) becomes ``in_doubt``, so that
        no retry resends it without being told to; the error names the requests not sent."""
        if not self.applied:
            return
        for pos in positions:
            if pos not in self.applied or self._codes[pos] == CODE["sent"]:
                continue
            said = [self.error[pos]]
            if self._codes[pos] != CODE["in_doubt"]:
                self._codes[pos] = CODE["in_doubt"]
                said.append(_APPLIED)
            if self.unsent.get(pos):
                said.append(f"not sent: {describe_steps(self.unsent[pos])}")
            self.error[pos] = "; ".join(filter(None, said))

    def crashed(self, exc: BaseException) -> None:
        """A worker raised ``exc``: every worker stops, and `send_plan` raises the first."""
        self.crash = self.crash or exc
        self.stop.set()

    def journal_settle(self, positions: Sequence[int]) -> None:
        """Record the settled rows' adds: acknowledged when sent; failed when not sent or
        refused for sure (a row in ``applied`` stays in flight: in doubt, with what landed)."""
        if self.journal is None:
            return
        status = {p: self.status_of(p) for p in positions}
        acked = [p for p in positions if status[p] == "sent"]
        failed = [
            p for p in positions if status[p] in ("failed", "pending") and p not in self.applied
        ]
        doubted = {
            p: self._landed_text(p)
            for p in positions
            if status[p] == "in_doubt" and p in self.landed
        }
        self.journal.settle(acked, failed, self.request_id, doubted)


def _worst(outcomes: Sequence[Outcome]) -> tuple[str, Outcome]:
    """The worst status of a row's outcomes, and the outcome that says it (the last when
    every one was sent)."""
    worst = min(outcomes, key=_rank)  # the first of the lowest rank
    return worst.status, outcomes[-1] if worst.status == "sent" else worst


def _rank(outcome: Outcome) -> int:
    return _RANK[outcome.status]


def run_units(push: PushState, count: int, unit: Callable[[int], None], bar: Any) -> bool:
    """Run ``unit(0..count-1)`` on the client's slots (`ConcurrencyLimit`): each unit holds a
    slot from before it starts until it has recorded its answers; the pool keeps spare threads
    for units that wait out a 429 without their slot. True when interrupted by Ctrl-C."""
    if count == 0:
        return False
    cursor = itertools.count()  # next() on it is atomic: the workers' shared cursor
    stop, slots = push.stop, push.client.slots

    go = threading.Event()

    def work(ended: threading.Event) -> None:
        try:
            go.wait()
            while slots.enter(stop):
                try:
                    while (k := next(cursor)) < count:
                        unit(k)  # records and acks before this worker takes its next unit
                        if not slots.keep(stop):
                            break
                    else:
                        return
                finally:
                    slots.leave()
        except BaseException as exc:  # noqa: BLE001  (re-raised by send_plan in the caller)
            push.crashed(exc)
        finally:
            ended.set()

    # Every worker is started before any sends (``go``): a Ctrl-C landing inside
    # `Thread.start` then stops workers that have sent nothing. Waits are on events, never on
    # `Thread.join`, which Python 3.11 leaves wrong when a Ctrl-C interrupts it.
    ended = [threading.Event() for _ in range(max(1, min(slots.threads, count)))]
    threads = [threading.Thread(target=work, args=(e,), name="fyno-worker") for e in ended]
    interrupted = sending = False
    try:
        for thread in threads:
            thread.start()
        sending = True  # before ``go``: from here on every worker is waited for
        go.set()
        while waiting := [e for e in ended if not e.is_set()]:
            waiting[0].wait(_TICK)
            refresh_bar(bar, push)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        log.warning("push interrupted: letting requests in flight finish")
    finally:
        if not sending:
            stop.set()
        go.set()
        for e in ended if sending else ():  # a second Ctrl-C here leaves; workers stop anyway
            e.wait()
    refresh_bar(bar, push)
    return interrupted


def bar_class() -> Any:
    """``tqdm.auto.tqdm`` without its monitor thread (our loop refreshes the bar)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        # tqdm's monitor thread would outlive the push; the bar is refreshed by our own loop.
        monitor_interval = 0

    return _Bar


def refresh_bar(bar: Any, push: PushState) -> None:
    """Show ``push``'s rows done on ``bar`` (None: no bar), its live rate (tqdm's moving
    average of the updates) and the requests in flight allowed now (never more than the units
    of rows left: a 4-row push shows at most 4)."""
    if bar is None:
        return
    counts = push.counts()
    postfix: dict[str, Any] = {"sent": counts["sent"], "failed": counts["failed"]}
    if counts["in_doubt"]:
        postfix["in_doubt"] = counts["in_doubt"]
    if push.client is not None:
        size = push.mode.batch_size if push.mode is not None else None
        left = counts["pending"] if not size else -(-counts["pending"] // size)
        postfix["in_flight"] = min(push.client.slots.limit, left)
        if push.client.limiter.rate != math.inf:
            postfix["max_rps"] = round(push.client.limiter.rate)
    bar.set_postfix(postfix, refresh=False)
    done = push.bar_start + counts["sent"] + counts["failed"] + counts["in_doubt"]
    if done > bar.n:
        bar.update(done - bar.n)
    bar.refresh()
