"""Send a `PushPlan` with a bounded thread pool and say, for every input row, what happened.

Order of work:

1. **type seeds**: for each property the plan sends that neither ``schema`` nor the ledger knows
   (``plan.known_types``), the push first claims its type in the ledger (pushes sharing it
   agree on one type; cells of a property another push claimed otherwise are dropped), then
   sends one row whose value no reading of ISO 8601 types otherwise (``plan.seed_values``),
   carrying only the properties it seeds. Every seed's answer is awaited before any other
   request carrying them, because Fyno fixes a property's type from the first value it
   processes. A property whose seed was not accepted gets no type: the rows carrying it are
   ``failed`` and not sent, so no race decides;
2. **rows**: every sendable row, by ``concurrency`` workers pulling from one shared cursor:
   ``properties/set`` per row (plus ``properties/unset`` when the row clears properties), or,
   with ``batch_size``, ``properties/batch`` with that many rows per request (rows then take
   their item's status from the answer).

Threads: a `concurrent.futures.ThreadPoolExecutor` that is shut down before `send_plan` returns,
so no thread outlives the call; nothing asynchronous (safe inside Jupyter's event loop).
Stopping: a 401/403 stops every worker at once (rows not yet sent stay ``pending``) and raises
`FynoAuthError` with the partial result on ``.result``; Ctrl-C stops the workers, lets in-flight
requests finish, and returns the partial result (or raises `PushInterrupted` carrying it, when
``raise_on_interrupt``). Progress: a ``tqdm.auto`` bar driven by the calling thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import pandas as pd

from .client import FynoClient, Outcome, error_for
from .errors import PushInterrupted

__all__ = ["STATUSES", "bar_class", "dry_run_result", "send_plan"]

log = logging.getLogger("fyno_pandas")

STATUSES = ("sent", "failed", "skipped", "pending", "dry_run", "unchanged")
_AUTH = (401, 403)
_TICK = 0.1  # seconds between progress refreshes (and Ctrl-C checks) of the calling thread

AckHook = Callable[[Sequence[int], "str | None"], None]


def bar_class() -> Any:
    """``tqdm.auto.tqdm`` without its monitor thread (our loop refreshes the bar)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        # tqdm's monitor thread would outlive the push; the bar is refreshed by our own loop.
        monitor_interval = 0

    return _Bar


class _Push:
    """The state of one push: per-row result arrays, tallies and the stop signal."""

    def __init__(self, plan: Any, client: FynoClient | None, on_ack: AckHook | None) -> None:
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
        self.sent = self.failed = self.requests = self.retries = self.throttled = 0
        self.auth_failure: Outcome | None = None
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
        """Record the rows' status from their request outcomes (all must be sent for 'sent')."""
        last = outcomes[-1]
        bad = next((o for o in outcomes if not o.ok), None)
        final = bad or last
        status = "sent" if bad is None else bad.status
        rid = next((o.request_id for o in outcomes if o.request_id), None)
        for pos in positions:
            self.status[pos] = status
            self.request_id[pos] = rid
            self.http_status[pos] = final.http_status or 0
            self.attempts[pos] = sum(o.attempts for o in outcomes)
            self.error[pos] = None if bad is None else final.error
        with self.lock:
            if status == "sent":
                self.sent += len(positions)
            elif status == "failed":
                self.failed += len(positions)

    def fail_carriers(self, prop: str, why: Outcome | str) -> None:
        """Fail the pending rows that set ``prop``, whose type could not be fixed."""
        rows = np.flatnonzero(
            np.not_equal(self.plan.fragments[prop], None) & (self.status == "pending")
        )
        reason = why if isinstance(why, str) else f"its first value was not accepted: {why.error}"
        log.warning("property %r has no type (%s): %d rows not sent", prop, reason, len(rows))
        self.status[rows] = "failed"
        self.error[rows] = f"not sent: property {prop!r} got no type ({reason})"
        if not isinstance(why, str):
            self.http_status[rows] = why.http_status or 0
        with self.lock:
            self.failed += len(rows)

    def ack(self, positions: Sequence[int], request_id: str | None) -> None:
        if self.on_ack is not None and positions:
            self.on_ack(positions, request_id)


def _row_unit(push: _Push, bodies: dict[int, bytes], unsets: set[int]) -> Callable[[int], None]:
    """Per-row mode: ``set`` (and ``unset`` when the row clears properties), then record."""
    plan, post, stop = push.plan, push.client.post, push.stop

    def run(pos: int) -> None:
        outcomes = []
        body = bodies.pop(pos, None)
        if body is not None:
            outcomes.append(post("set", body, stop=stop))
        if pos in unsets and (not outcomes or outcomes[0].ok):
            outcomes.append(post("unset", plan.unset_body(pos), stop=stop))
        push.count(outcomes)
        push.settle((pos,), outcomes)
        if push.status[pos] == "sent":
            push.ack((pos,), push.request_id[pos])

    return run


def _batch_unit(push: _Push, chunks: list[np.ndarray]) -> Callable[[int], None]:
    """Batch mode: one ``properties/batch`` per chunk; rows take their item's status."""
    plan, post, stop = push.plan, push.client.post, push.stop

    def run(k: int) -> None:
        chunk = chunks[k].tolist()
        body = ('{"batch":[' + ",".join(map(plan.batch_item, chunk)) + "]}").encode()
        outcome = post("batch", body, stop=stop)
        push.count((outcome,))
        push.settle(chunk, (outcome,))
        if not outcome.ok:
            return
        items = outcome.json.get("batch") if isinstance(outcome.json, dict) else None
        items = items if isinstance(items, list) else []
        acked = []
        for i, pos in enumerate(chunk):
            reason = _item_error(items[i] if i < len(items) else None)
            if reason is None:
                acked.append(pos)
                continue
            push.status[pos], push.error[pos] = "failed", reason
            with push.lock:
                push.sent -= 1
                push.failed += 1
        push.ack(acked, outcome.request_id)

    return run


def _item_error(item: Any) -> str | None:
    """None for an accepted batch item (every action ``"ok"``), else the reason."""
    if not isinstance(item, dict) or not item:
        return "no status for this row in the batch answer"
    bad = {k: v for k, v in item.items() if v != "ok"}
    if not bad:
        return None
    return "; ".join(f"{k}: {v}" if k != "error" else str(v) for k, v in bad.items())


def _run(push: _Push, count: int, unit: Callable[[int], None], workers: int, bar: Any) -> bool:
    """Run ``unit(0..count-1)`` on ``workers`` threads; True when interrupted by Ctrl-C."""
    if count == 0:
        return False
    cursor = itertools.count()  # next() on it is atomic: the workers' shared cursor
    stop = push.stop

    def work() -> None:
        try:
            while not stop.is_set():
                k = next(cursor)
                if k >= count:
                    return
                unit(k)  # records and acks before this worker takes its next unit
        except BaseException as exc:  # noqa: BLE001  (re-raised by send_plan in the caller)
            push.crash = push.crash or exc
            stop.set()

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, count)), thread_name_prefix="fyno")
    interrupted = False
    try:
        futures = [pool.submit(work) for _ in range(pool._max_workers)]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=_TICK, return_when=FIRST_EXCEPTION)
            _refresh(bar, push)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        log.warning("push interrupted: letting requests in flight finish")
    finally:
        pool.shutdown(wait=True)  # a second Ctrl-C here leaves; the workers stop on their own
    _refresh(bar, push)
    return interrupted


def _refresh(bar: Any, push: _Push) -> None:
    if bar is not None:
        bar.n = push.bar_start + push.sent + push.failed
        bar.set_postfix(sent=push.sent, failed=push.failed, refresh=False)
        bar.refresh()


def send_plan(
    plan: Any,
    client: FynoClient,
    *,
    concurrency: int = 16,
    batch_size: int | None = None,
    progress: bool = True,
    on_ack: AckHook | None = None,
    raise_on_interrupt: bool = False,
    bar: Any = None,
    claims: Any = None,
) -> pd.DataFrame:
    """Send every sendable row of ``plan`` and return the per-row result.

    Parameters
    ----------
    plan : PushPlan
    client : FynoClient
    concurrency : int
        Worker threads (and connections) at most.
    batch_size : int, optional
        None: one ``properties/set`` per row; N: ``properties/batch`` with N rows per request.
    progress : bool
        Show a ``tqdm.auto`` progress bar.
    on_ack : callable, optional
        ``on_ack(positions, request_id)``, called from the worker for every acknowledged request
        (the row positions Fyno accepted) before that worker takes its next request, so that
        after a crash at most ``concurrency`` acknowledged requests are unrecorded: as many rows
        one row per request, ``concurrency * batch_size`` rows in batch mode.
    raise_on_interrupt : bool
        On Ctrl-C raise `PushInterrupted` (partial result on ``.result``) instead of returning.
    bar : tqdm, optional
        A progress bar shared by several plans (left open, advanced from its current count);
        None: ``progress`` decides, and the bar is closed on return.
    claims : TypeClaims, optional
        Where pushes sharing a ledger claim a new property's type before seeding it
        (`fyno_pandas.ledger.bridge.TypeClaims`); cells of a property another push claimed
        with another type are dropped (``type_mismatch``) before anything is sent.

    Raises
    ------
    FynoAuthError
        On 401/403; ``.result`` holds the partial result (rows not sent are ``pending``).
    """
    started = time.monotonic()
    new = new_properties(plan)
    if claims is not None and new:
        plan = _without_taken(plan, new, claims.claim(new))
    push = _Push(plan, client, on_ack)
    positions = np.flatnonzero(plan.sendable)
    own_bar = bar is None and progress and len(positions) > 0
    if own_bar:
        bar = bar_class()(total=len(positions), unit="row", desc="fyno push", leave=True)
    if bar is not None:
        push.bar_start = bar.n
    log.info("pushing %d rows to %s", len(positions), client.config.label)
    try:
        interrupted = _seed_types(push, new, concurrency, claims)
        positions = positions[push.status[positions] == "pending"]
        if not interrupted and not push.stop.is_set():
            if batch_size is None:
                interrupted = _send_rows(push, positions, concurrency, bar)
            else:
                size = batch_size
                chunks = [positions[i : i + size] for i in range(0, len(positions), size)]
                interrupted = _run(push, len(chunks), _batch_unit(push, chunks), concurrency, bar)
    except KeyboardInterrupt:  # between the phases (encoding): nothing is in flight
        push.stop.set()
        interrupted = True
    finally:
        if own_bar:
            bar.close()
        else:
            _refresh(bar, push)
    if push.crash is not None:
        raise push.crash
    result = _result_frame(push, started, interrupted)
    summary = result.attrs["fyno"]
    log.info("push done: %s", {s: summary[s] for s in STATUSES if summary[s]})
    if push.auth_failure is not None:
        o = push.auth_failure
        exc = error_for(o.http_status, o.error, client.config)
        exc.result = result  # type: ignore[attr-defined]
        log.error("%s", exc)
        raise exc
    if interrupted and raise_on_interrupt:
        raise PushInterrupted(result)
    return result


def new_properties(plan: Any) -> dict[str, str]:
    """``{property: planned type}`` of the properties whose type no one fixed yet (no ``schema``
    entry, not in the ledger) and that some sendable row sets."""
    sending = plan.sendable
    return {
        p: plan.fyno_types[p]
        for p in plan.properties
        if p not in plan.known_types
        and p in plan.fyno_types
        and np.not_equal(plan.fragments[p][sending], None).any()
    }


def _seed_types(push: _Push, new: dict[str, str], concurrency: int, claims: Any) -> bool:
    """Fix the type of every new property with one value of it, and wait for all of them.

    A property whose seed Fyno did not accept (or that has no safe seed) gets no type, so
    every row carrying it is ``failed`` and not sent: whichever value Fyno processed first
    would otherwise decide its type. True when interrupted by Ctrl-C.
    """
    plan = push.plan
    chosen = plan.seed_values(list(new))
    by_row: dict[int, list[str]] = {}
    for prop, pos in chosen.items():
        by_row.setdefault(pos, []).append(prop)
    seeds = list(by_row.items())
    refused = {p: "no value can fix its type for sure" for p in new if p not in chosen}
    if seeds:
        log.debug("fixing the type of %d new properties first", len(chosen))

    def unit(k: int) -> None:
        pos, props = seeds[k]
        outcome = push.client.post("set", plan.set_body(pos, props), stop=push.stop)
        push.count((outcome,))
        if outcome.ok:
            if claims is not None:
                claims.fixed(props)
        elif outcome.status == "failed":
            refused.update(dict.fromkeys(props, outcome))

    interrupted = _run(push, len(seeds), unit, concurrency, None)
    for prop, why in refused.items():
        push.fail_carriers(prop, why)
    return interrupted


def _without_taken(plan: Any, new: dict[str, str], taken: dict[str, str]) -> Any:
    """``plan`` without the values of properties another push claimed with another type."""
    for prop, other in taken.items():
        del new[prop]
        message = (
            f"a {plan.fyno_types[prop]} value for a {other} property (another push fixed its "
            "type after this plan was made); Fyno would not store it"
        )
        plan = plan.drop_values(prop, "type_mismatch", message)
        log.warning("property %r: %s", prop, message)
    return plan


def _send_rows(push: _Push, positions: np.ndarray, concurrency: int, bar: Any) -> bool:
    plan = push.plan
    has_set = np.zeros(len(plan.index), dtype=bool)
    has_unset = np.zeros(len(plan.index), dtype=bool)
    for p in plan.properties:
        has_set |= np.not_equal(plan.fragments[p], None)
        has_unset |= plan.unsets[p]
    with_set = positions[has_set[positions]]
    # Bodies encoded once, in bulk, before the workers start: the hot path only sends bytes.
    bodies = dict(zip(with_set.tolist(), plan.set_bodies(with_set), strict=True))
    order = positions.tolist()
    run_row = _row_unit(push, bodies, set(np.flatnonzero(has_unset).tolist()))
    return _run(push, len(order), lambda k: run_row(order[k]), concurrency, bar)


def _summary(push: _Push, started: float, interrupted: bool) -> dict[str, Any]:
    elapsed = time.monotonic() - started
    counts = dict(zip(*np.unique(push.status.astype(str), return_counts=True), strict=True))
    summary: dict[str, Any] = {s: int(counts.get(s, 0)) for s in STATUSES}
    done = summary["sent"] + summary["failed"]
    summary.update(
        rows=len(push.status),
        elapsed_s=round(elapsed, 3),
        rows_per_s=round(done / elapsed, 1) if elapsed > 0 else None,
        requests=push.requests,
        retries=push.retries,
        throttled=push.throttled,
        interrupted=interrupted,
        push_id=None,
        destination=push.destination,
    )
    return summary


def _result_frame(push: _Push, started: float, interrupted: bool) -> pd.DataFrame:
    plan = push.plan
    http = pd.array(push.http_status, dtype="Int64")
    http[push.http_status == 0] = pd.NA
    result = pd.DataFrame(
        {
            "distinct_id": pd.Series(plan.distinct_ids, dtype=object, index=plan.index),
            "status": pd.Series(push.status, dtype=object, index=plan.index),
            "request_id": pd.Series(push.request_id, dtype=object, index=plan.index),
            "http_status": pd.Series(http, index=plan.index),
            "attempts": pd.Series(push.attempts, index=plan.index),
            "error": pd.Series(push.error, dtype=object, index=plan.index),
            "dropped": pd.Series(plan.dropped_by_row(), dtype=object, index=plan.index),
        },
        index=plan.index,
    )
    result.attrs["fyno"] = _summary(push, started, interrupted)
    return result


def dry_run_result(plan: Any) -> pd.DataFrame:
    """The result of a dry run: sendable rows ``dry_run``, the others as the plan says."""
    push = _Push(plan, None, None)
    push.status[plan.sendable] = "dry_run"
    return _result_frame(push, time.monotonic(), False)
