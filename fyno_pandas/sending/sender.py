"""Send a `PushPlan` with a bounded thread pool and say, for every input row, what happened.

Order of work:

1. **type seeds** (`fyno_pandas.sending.seeding`): for each property the plan sends that neither
   ``schema`` nor the ledger knows (``plan.known_types``), the push first claims its type in
   the ledger (pushes sharing it agree on one type; cells of a property another push claimed
   otherwise are dropped), then sends one row whose value no reading of ISO 8601 types
   otherwise (``plan.seed_values``), carrying only the properties it seeds. Every seed's answer
   is awaited before any other request carrying them, because Fyno fixes a property's type
   from the first value it processes. A property whose seed was not accepted gets no type: the
   rows carrying it are ``failed`` and not sent, so no race decides;
2. **rows**: every sendable row, by workers pulling from one shared cursor, each holding one of the
   client's slots (`client.concurrency`) while it works: ``properties/set`` per row (plus
   ``properties/unset`` when the row clears properties), or ``properties/batch`` with ``batch_size``
   rows per request (rows then take their item's status from the answer); the request mode and batch
   size follow `sending.mode`. An automatic batch over its body bound, or any batch answered
   413, is split. With ``ops=`` a row makes its requests one after the other in `planning.steps`'
   order (a batch carries a row's items together, in that order), stopping at the first that is
   not accepted; one worker per row, so never two in flight for one user. An add or
   append that may have been applied is not resent: ``in_doubt``. With a ledger, a row's adds and
   appends are recorded in flight before they are sent, then acknowledged or failed (``journal``,
   `fyno_pandas.ledger.inflight`). Every unit, per row or batch, is sent, settled, acknowledged
   and journalled the one way `fyno_pandas.sending.units` says.

Threads (`fyno_pandas.sending.state`): a `concurrent.futures.ThreadPoolExecutor` that is shut down
before `send_plan` returns, so no thread outlives the call; nothing asynchronous (safe inside
Jupyter's event loop).
Stopping: a 401/403 stops every worker at once (rows not yet sent stay ``pending``) and raises
`FynoAuthError` with the partial result on ``.result``; Ctrl-C stops the workers, lets in-flight
requests finish, and returns the partial result (or raises `PushInterrupted` carrying it, when
``raise_on_interrupt``). Progress: a ``tqdm.auto`` bar driven by the calling thread.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..client.http import FynoClient, auth_error
from ..errors import PushInterrupted
from ..results.columns import STATUSES, list_column, request_columns, result_frame
from .mode import AUTO, for_plan
from .seeding import new_properties, seed_types, without_taken
from .state import REFUSED_KEY, AckHook, PushState, bar_class, refresh_bar, run_units
from .units import batch_unit, row_unit

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = ["dry_run_result", "send_plan"]

log = logging.getLogger("fyno_pandas")


def send_plan(
    plan: PushPlan,
    client: FynoClient,
    *,
    concurrency: int | str = AUTO,
    batch_size: int | str | None = AUTO,
    progress: bool = True,
    on_ack: AckHook | None = None,
    raise_on_interrupt: bool = True,
    bar: Any = None,
    claims: Any = None,
    journal: Any = None,
) -> pd.DataFrame:
    """Send every sendable row of ``plan`` and return the per-row result.

    Parameters
    ----------
    plan : PushPlan
    client : FynoClient
    concurrency : int or "auto"
        The option as given: it sizes automatic batches (`fyno_pandas.sending.mode`); the
        requests in flight are the client's ``slots``.
    batch_size : int, None or "auto"
        None: one ``properties/set`` per row; N: ``properties/batch`` with N rows per request;
        ``"auto"``: `fyno_pandas.sending.mode.choose` decides from the rows to send.
    progress : bool
        Show a ``tqdm.auto`` progress bar.
    on_ack : callable, optional
        ``on_ack(positions, request_id)``, called from the worker for every acknowledged request
        (the row positions Fyno accepted) before that worker takes its next row, so that after
        a crash at most the slots' ceiling of acknowledged requests are unrecorded, twice that
        while requests wait out 429s (`fyno_pandas.client.concurrency`): rows one row per request,
        batches in batch mode.
    raise_on_interrupt : bool
        On Ctrl-C raise `PushInterrupted` (partial result on ``.result``) instead of returning.
    bar : tqdm, optional
        A progress bar shared by several plans (left open, advanced from its current count);
        None: ``progress`` decides, and the bar is closed on return.
    claims : TypeClaims, optional
        Where pushes sharing a ledger claim a new property's type before seeding it
        (`fyno_pandas.ledger.bridge.TypeClaims`); cells of a property another push claimed
        with another type are dropped (``type_mismatch``) before anything is sent.
    journal : AddJournal, optional
        Where rows that add or append are recorded in flight before they are sent, then
        acknowledged or failed (`fyno_pandas.ledger.inflight.AddJournal`).

    Raises
    ------
    FynoAuthError
        On 401/403; ``.result`` holds the partial result (rows not sent are ``pending``).
    """
    started = time.monotonic()
    new = new_properties(plan)
    if claims is not None and new:
        plan = without_taken(plan, new, claims.claim(new))
    positions = np.flatnonzero(plan.sendable)
    own_bar = bar is None and progress and len(positions) > 0
    if own_bar:
        bar = bar_class()(total=len(positions), unit="row", desc="fyno push", leave=True)
    mode = for_plan(plan, concurrency, batch_size)
    push = PushState(
        plan, client, on_ack, journal=journal, mode=mode, bar_start=0 if bar is None else bar.n
    )
    log.info("pushing %d rows to %s: %s", len(positions), client.config.label, mode.describe())
    try:
        interrupted = _send(push, new, claims, bar)
    finally:
        if own_bar:
            bar.close()
        else:
            refresh_bar(bar, push)
    return _ended(push, started, interrupted, raise_on_interrupt)


def _send(push: PushState, new: dict[str, str], claims: Any, bar: Any) -> bool:
    """The seeds, then the rows, in units (`fyno_pandas.sending.units`). True when
    interrupted by Ctrl-C."""
    try:
        if seed_types(push, new, claims):
            return True
        if push.stop.is_set():  # a 401/403 answered a seed
            return False
        # an array, each unit's rows made Python ints as it starts: a list of every row to
        # send held an int object and a slot per row (44 bytes) for the whole push
        rows = np.flatnonzero(push.where("pending"))
        size = push.mode.batch_size if push.mode is not None else None
        if size is None:
            return run_units(push, len(rows), lambda k: row_unit(push, int(rows[k])), bar)
        units = -(-len(rows) // size)
        return run_units(
            push, units, lambda k: batch_unit(push, rows[k * size : (k + 1) * size].tolist()), bar
        )
    except KeyboardInterrupt:  # between the phases: nothing is in flight
        push.stop.set()
        return True


def _ended(
    push: PushState, started: float, interrupted: bool, raise_on_interrupt: bool
) -> pd.DataFrame:
    """The push's result, or what ended it raised with the result on it."""
    if push.crash is not None:
        raise push.crash
    refused = None
    if push.auth_failure is not None:
        o = push.auth_failure
        refused = auth_error(o.http_status or 401, o.error, push.client.config)
        _say_refused(push, refused.refusal)
    result = _result_frame(push, started, interrupted)
    summary = result.attrs["fyno"]
    log.info("push done: %s", {s: summary[s] for s in STATUSES if summary[s]})
    if refused is not None:  # not logged: the error is the one report, its caller shows it
        refused.result = result
        raise refused
    if interrupted and raise_on_interrupt:
        raise PushInterrupted(result)
    return result


def _say_refused(push: PushState, refusal: str) -> None:
    """Each row the refusal failed or left unsent says so in its error (a row in doubt keeps
    what its error says of what may have been applied)."""
    push.error[np.isin(push.http_status, REFUSED_KEY) & push.where("failed")] = refusal
    unsent = push.where("pending")
    push.error[unsent] = [
        f"not sent: {refusal}" if said is None else f"{said}; not sent: {refusal}"
        for said in push.error[unsent]
    ]


def _summary(push: PushState, started: float, interrupted: bool) -> dict[str, Any]:
    elapsed = time.monotonic() - started
    summary: dict[str, Any] = push.counts()
    done = summary["sent"] + summary["failed"]
    summary.update(
        rows=len(push.plan.index),
        elapsed_s=round(elapsed, 3),
        rows_per_s=round(done / elapsed, 1) if elapsed > 0 else None,
        requests=push.requests,
        retries=push.retries,
        throttled=push.throttled,
        interrupted=interrupted,
        push_id=None,
        destination=push.destination,
    )
    if push.mode is not None:  # how it was sent: the rule's choices and what was measured
        mode, slots, learnt = push.mode, push.client.slots, push.client.limiter.learnt
        summary.update(
            mode=mode.mode,
            batch_size=mode.batch_size,
            concurrency=mode.concurrency,
            concurrency_peak=slots.peak,
            auto=list(mode.auto),
            learnt_rps=None if learnt is None else round(learnt, 1),
        )
    # what retry_failed must send the same way (a set in place of an add would overwrite)
    summary["ops"] = dict(push.plan.ops)
    summary["unset"] = list(push.plan.options.get("unset") or [])
    return summary


def _result_frame(push: PushState, started: float, interrupted: bool) -> pd.DataFrame:
    plan = push.plan
    http = pd.array(push.http_status, dtype="Int16")
    http[push.http_status == 0] = pd.NA
    request_id, request_ids = request_columns(push.request_id, push.request_ids)
    columns = {
        "distinct_id": plan.distinct_ids,
        "status": push.statuses(),
        "request_id": request_id,
        "http_status": http,
        "attempts": push.attempts,
        "error": push.error,
        "dropped": list_column(len(plan.index), *plan.dropped_cells()),
        "request_ids": request_ids,
        "applied": push.applied_text(),
    }
    result = result_frame(columns, plan.index)
    result.attrs["fyno"] = _summary(push, started, interrupted)
    return result


def dry_run_result(plan: PushPlan) -> pd.DataFrame:
    """The result of a dry run: sendable rows ``dry_run``, the others as the plan says."""
    push = PushState(plan, None, None)
    push.mark(plan.sendable, "dry_run")
    return _result_frame(push, time.monotonic(), False)
