"""The state of one push being sent, and the worker pool that sends it.

`PushState` holds the per-row result arrays, the tallies and the stop signal; `run_units`
runs numbered units of work on a bounded thread pool and refreshes the progress bar from the
calling thread. `sending.sender` (the rows) and `sending.seeding` (the type seeds)
send through both.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.http import FynoClient, Outcome
from ..planning.steps import Step, describe_steps

if TYPE_CHECKING:
    from ..planning.plan import PushPlan
    from .mode import SendMode

__all__ = ["AckHook", "PushState", "bar_class", "may_have_added", "refresh_bar", "run_units"]

log = logging.getLogger("fyno_pandas")

_AUTH = (401, 403)
#: A row that needed several requests shows the worst of their statuses.
_WORST = ("in_doubt", "failed", "pending", "sent")
_TICK = 0.1  # seconds between progress refreshes (and Ctrl-C checks) of the calling thread

AckHook = Callable[[Sequence[int], "str | None"], None]
_APPLIED = (
    "its adds or appends may have been applied: resending the row repeats them (in doubt: "
    "retry_failed keeps it unless in_doubt='resend')"
)


def may_have_added(requests: Iterable[tuple[bool, str]]) -> bool:
    """May any of a row's non-idempotent requests have been applied? ``requests``: per request
    (a seed, a step, a batch item), whether it adds or appends and its status; a ``sent`` or
    ``in_doubt`` one may have been. The one rule for whether a row's adds leave "in flight"."""
    return any(adds and status in ("sent", "in_doubt") for adds, status in requests)


class PushState:
    """The state of one push: per-row result arrays, tallies and the stop signal."""

    def __init__(self, plan: PushPlan, client: FynoClient | None, on_ack: AckHook | None) -> None:
        n = len(plan.index)
        self.plan, self.client, self.on_ack = plan, client, on_ack
        config = client.config if client is not None else plan.config
        self.destination = getattr(config, "label", None)
        self.status = np.where(
            plan.sendable, "pending", np.where(plan.unchanged, "unchanged", "skipped")
        ).astype(object)
        self.error = np.where(plan.sendable | plan.unchanged, None, plan.skip_reasons).astype(
            object
        )
        # unchanged rows keep the request that stored their values (from the ledger)
        self.request_id = np.where(plan.unchanged, plan.acked_request_ids, None).astype(object)
        self.http_status = np.zeros(n, dtype=np.int64)  # 0: no answer
        self.attempts = np.zeros(n, dtype=np.int64)
        self.stop = threading.Event()
        self.bar_start = 0  # a shared progress bar's count when this plan started
        self.lock = threading.Lock()
        self.sent = self.failed = self.in_doubt = 0
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
        # rows an add or append of which may have been applied (`may_have_added`), and the
        # requests such a row did not send when it stopped (named in its error)
        self.applied: set[int] = set()
        self.unsent: dict[int, list[Step]] = {}
        # `fyno_pandas.ledger.inflight.AddJournal`: adds recorded in flight before they are sent
        self.journal: Any = None
        self.auth_failure: Outcome | None = None
        #: How the rows are sent (`fyno_pandas.sending.mode.choose`); None in a dry run.
        self.mode: SendMode | None = None
        self.crash: BaseException | None = None

    def count(self, outcomes: Sequence[Outcome]) -> None:
        with self.lock:
            for o in outcomes:
                self.requests += o.attempts
                self.retries += o.retries
                self.throttled += o.throttled
        for o in outcomes:
            if o.http_status in _AUTH and self.auth_failure is None:
                self.auth_failure = o
                self.stop.set()  # every worker stops before its next attempt

    def settle(self, positions: Sequence[int], outcomes: Sequence[Outcome]) -> None:
        """Record the rows' status from their request outcomes: the worst of them (in_doubt,
        failed, pending, sent), with every request id."""
        status = next(s for s in _WORST if any(o.status == s for o in outcomes))
        bad = next((o for o in outcomes if o.status == status), None) if status != "sent" else None
        final = bad or outcomes[-1]
        rids = [o.request_id for o in outcomes if o.request_id]
        rid = rids[0] if rids else None
        attempts, http_status = sum(o.attempts for o in outcomes), final.http_status or 0
        error = None if bad is None else final.error
        for pos in positions:
            self.status[pos] = status
            self.request_id[pos] = rid
            if len(rids) > 1:
                self.request_ids[pos] = rids
            self.http_status[pos] = http_status
            self.attempts[pos] = attempts
            self.error[pos] = error
        with self.lock:
            if status == "sent":
                self.sent += len(positions)
            elif status == "failed":
                self.failed += len(positions)
            elif status == "in_doubt":
                self.in_doubt += len(positions)

    def land(self, pos: int, adding: Sequence[str], status: str) -> None:
        """Count a request of row ``pos`` that adds to or appends to ``adding``: acknowledged
        when ``sent``, may have landed when ``in_doubt``."""
        if status not in ("sent", "in_doubt") or not adding:
            return
        counts = self.landed.setdefault(pos, {})
        for p in adding:
            counts.setdefault(p, [0, 0])[status == "in_doubt"] += 1

    def applied_text(self) -> np.ndarray:
        """Per row in doubt, ``landed`` as JSON text (None for the other rows): what a retry
        needs to send the rest of the row without repeating what landed."""
        out = np.full(len(self.status), None, dtype=object)
        for pos in np.flatnonzero(self.status == "in_doubt").tolist():
            out[pos] = self._landed_text(pos)
        return out

    def _landed_text(self, pos: int) -> str | None:
        return json.dumps(self.landed[pos], sort_keys=True) if pos in self.landed else None

    def flying(self, positions: Sequence[int]) -> None:
        """Record these rows' adds and appends in flight in the ledger, before sending them."""
        if self.journal is not None:
            self.journal.flying(positions)

    def conclude(self, positions: Sequence[int], outcomes: Sequence[Outcome]) -> None:
        """`settle` the rows, then `hold` those whose adds may have been applied."""
        self.settle(positions, outcomes)
        self.hold(positions)

    def hold(self, positions: Sequence[int]) -> None:
        """A row whose add or append may have been applied (``applied``) is never certainly
        not stored: ``failed`` or ``pending`` (stopped half way) becomes ``in_doubt``, so that
        no retry resends it without being told to; the error names the requests not sent."""
        for pos in positions:
            if pos not in self.applied or self.status[pos] == "sent":
                continue
            said = [self.error[pos]]
            if self.status[pos] != "in_doubt":
                with self.lock:
                    self.failed -= self.status[pos] == "failed"
                    self.in_doubt += 1
                self.status[pos] = "in_doubt"
                said.append(_APPLIED)
            if self.unsent.get(pos):
                said.append(f"not sent: {describe_steps(self.unsent[pos])}")
            self.error[pos] = "; ".join(filter(None, said))

    def journal_settle(self, positions: Sequence[int]) -> None:
        """Record the settled rows' adds: acknowledged when sent; failed when not sent or
        refused for sure (a row in ``applied`` stays in flight: in doubt, with what landed)."""
        if self.journal is not None:
            acked = [p for p in positions if self.status[p] == "sent"]
            failed = [
                p
                for p in positions
                if self.status[p] in ("failed", "pending") and p not in self.applied
            ]
            doubted = {
                p: self._landed_text(p)
                for p in positions
                if self.status[p] == "in_doubt" and p in self.landed
            }
            self.journal.settle(acked, failed, self.request_id, doubted)

    def ack(self, positions: Sequence[int], request_id: str | None) -> None:
        if self.on_ack is not None and positions:
            self.on_ack(positions, request_id)


def run_units(push: PushState, count: int, unit: Callable[[int], None], bar: Any) -> bool:
    """Run ``unit(0..count-1)`` on the client's slots (`ConcurrencyLimit`): each unit holds a
    slot from before it starts until it has recorded its answers; the pool keeps spare threads
    for units that wait out a 429 without their slot. True when interrupted by Ctrl-C."""
    if count == 0:
        return False
    cursor = itertools.count()  # next() on it is atomic: the workers' shared cursor
    stop, slots = push.stop, push.client.slots

    def work() -> None:
        try:
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
            push.crash = push.crash or exc
            stop.set()

    workers = max(1, min(slots.threads, count))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fyno")
    interrupted = False
    try:
        futures = [pool.submit(work) for _ in range(workers)]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=_TICK, return_when=FIRST_EXCEPTION)
            refresh_bar(bar, push)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        log.warning("push interrupted: letting requests in flight finish")
    finally:
        pool.shutdown(wait=True)  # a second Ctrl-C here leaves; the workers stop on their own
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
    average of the updates) and the requests in flight allowed now."""
    if bar is None:
        return
    postfix: dict[str, Any] = {"sent": push.sent, "failed": push.failed}
    if push.in_doubt:
        postfix["in_doubt"] = push.in_doubt
    if push.client is not None:
        postfix["in_flight"] = push.client.slots.limit
        if push.client.limiter.rate != math.inf:
            postfix["max_rps"] = round(push.client.limiter.rate)
    bar.set_postfix(postfix, refresh=False)
    done = push.bar_start + push.sent + push.failed + push.in_doubt
    if done > bar.n:
        bar.update(done - bar.n)
    bar.refresh()
