"""`plan`, `push` and `push_plan`: what ``df.fyno`` and the package export (with `retry`).

``plan`` needs no credentials (it only labels the preview with the destination, and reads the
ledger when the destination is known); ``push`` and ``push_plan`` resolve them first and raise
`FynoConfigError` before anything is sent. Every option name and value is checked
(`FynoInputError`) before any work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, NamedTuple

import pandas as pd

from ..display.outcome import report
from ..display.preview import show_preview
from ..errors import FynoAuthError, PushInterrupted
from ..ledger.bridge import known_types, opened, reading_ahead, skip_acknowledged
from ..options.docs import takes
from ..options.model import RECORDED
from ..planning.build import build_plan
from ..planning.plan import PushPlan
from ..sending.mode import for_plan
from ..sending.sender import dry_run_result
from ..sending.session import PushSession
from . import run
from .mirror import MirrorSync, show_text
from .request import PushRequest
from .resume import Resume, finish, prepare

__all__ = [
    "Prepared",
    "plan",
    "plan_frame",
    "prepared",
    "push",
    "push_plan",
    "send_planned",
]

log = logging.getLogger("fyno_pandas")


@takes("plan", PushRequest.for_planning)
def plan(df: pd.DataFrame, id_col: Any, *, request: PushRequest) -> PushPlan:
    """Plan a push of ``df`` without sending anything.

    The destination is not required here: it labels the preview, and the ledger is only
    consulted when the workspace is known. The plan checks values against the property types
    the ledger saw fixed (``schema=`` wins), a push of the plan records to the same ledger, and
    planning never creates the ledger file.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows; never modified.
    id_col : hashable
        The column of distinct ids.

    Returns
    -------
    PushPlan

    Raises
    ------
    FynoOptionError
        For an option name ``plan`` does not take (also a `TypeError`).
    FynoInputError
        For a value the plan rejects.
    FynoConfigError
        For a malformed (not a missing) setting.
    FynoLedgerError
        When the ledger file cannot be read.
    """
    return plan_frame(df, id_col, request)


def plan_frame(df: pd.DataFrame, id_col: Any, request: PushRequest) -> PushPlan:
    """The plan of ``df`` that ``request`` asks for: its plan options, the types its ledger
    saw fixed at its destination and, with ``only_changed``, without what that ledger holds
    as acknowledged (the ledger is read only when the workspace is known, never created)."""
    config = request.config
    with opened(request.ledger if config.wsid else None, create=False) as book:
        known = known_types(book, config) if book is not None else None
        checked = book if request.only_changed else None
        with reading_ahead(checked, config, len(df)) as ahead:
            the_plan = build_plan(
                df, id_col, config=config, known_types=known, **request.plan_options()
            )
            if checked is not None:
                the_plan = skip_acknowledged(the_plan, checked, config, ahead)
    return dataclasses.replace(
        the_plan,
        ledger=request.ledger_spec,
        options={**the_plan.options, "only_changed": request.only_changed},
    )


@takes("push", PushRequest.of)
def push(df: pd.DataFrame, id_col: Any, *, request: PushRequest) -> pd.DataFrame:
    """Plan, preview and send ``df``'s rows as Fyno user-property updates.

    With the ledger (the default) only values it does not hold as acknowledged are sent, so
    running the same push again resumes it. Every option is checked before anything is sent.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows; never modified.
    id_col : hashable
        The column of distinct ids.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``: distinct_id, status, request_id, http_status, attempts, error,
        dropped; ``.attrs["fyno"]`` holds the summary.

    Raises
    ------
    FynoConfigError
        Missing or malformed settings, before anything is sent.
    FynoOptionError
        An option name ``push`` does not take (also a `TypeError`), before anything is sent.
    FynoInputError
        A bad value, before anything is sent.
    FynoAuthError
        Fyno refused the key (401/403); the push stopped at once, ``.result`` holds the rows.
    PushInterrupted
        Only with ``raise_on_interrupt=True``: Ctrl-C; ``.result`` holds the partial result.
    """
    result = push_frame(df, id_col, request)
    report(result, request.send.progress)
    return result


def push_frame(df: pd.DataFrame, id_col: Any, request: PushRequest) -> pd.DataFrame:
    """`push` of a request: planned, narrowed to what is left to resume, previewed, sent."""
    ready = prepared(df, id_col, request)
    if request.preview:
        show_preview(ready.plan)
        mode = for_plan(ready.plan, request.send.concurrency, request.send.batch_size)
        show_text("Sending: " + mode.describe())
        if ready.sync is not None:
            show_text(ready.sync.text())
        if ready.resumed.note:
            show_text(ready.resumed.note)
    return send_planned(ready.plan, request, ready.sync, ready.resumed)


class Prepared(NamedTuple):
    """A frame's plan ready to send: narrowed by `prepare`, with its mirror sync (finished)."""

    plan: PushPlan
    sync: MirrorSync | None
    resumed: Resume


def prepared(df: pd.DataFrame, id_col: Any, request: PushRequest) -> Prepared:
    """Plan ``df``; with ``mirror=True`` read the ledger's holders and refuse above the limit,
    before anything is sent; narrow the plan to what is left of an unfinished push."""
    the_plan = plan_frame(df, id_col, request)
    if request.made:  # a retry's rows in doubt: what the push retried made of them
        the_plan = dataclasses.replace(the_plan, made=dict(request.made))
    sync = None
    if request.mirror.mirror:
        sync = MirrorSync(the_plan, request.mirror.mirror_max_clear)
        sync.finish()
    the_plan, resumed = prepare(the_plan, request)
    return Prepared(the_plan, sync, resumed)


@takes("push_plan", PushRequest.for_plan)
def push_plan(plan: PushPlan, *, request: PushRequest) -> pd.DataFrame:
    """Send a `PushPlan` to the destination it was planned for.

    Parameters
    ----------
    plan : PushPlan
        From `plan` (its ``config`` says where to send; ``FYNO_*`` fill what it lacks).

    Returns
    -------
    pandas.DataFrame
        As `push`.
    """
    result = send_planned(plan, request)
    report(result, request.send.progress)
    return result


def send_planned(
    plan: PushPlan,
    request: PushRequest,
    sync: MirrorSync | None = None,
    resumed: Resume | None = None,
) -> pd.DataFrame:
    """Send ``plan`` as ``request`` says, through `run.run_push`; ``sync`` (finished) clears
    the leavers after the plan, in the same push; ``resumed``: what `prepare` decided (None:
    decided here, its note logged, since there is no preview)."""
    if resumed is None:
        plan, resumed = prepare(plan, request)
        if resumed.note:
            log.warning("%s", resumed.note)
    total = len(plan) + (0 if sync is None else len(sync.clear))  # type: ignore[arg-type]
    if not total:
        request = dataclasses.replace(
            request, send=dataclasses.replace(request.send, progress=False)
        )
    recorded = {
        **plan.options,
        **{name: getattr(request.send, name) for name in RECORDED},
        **({} if sync is None else {"mirror": True}),
    }
    work = functools.partial(_send_one, plan, sync, resumed)
    return run.run_push(
        request, work, total=total, recorded=recorded, fingerprint=resumed.fingerprint
    )


def _send_one(
    plan: PushPlan, sync: MirrorSync | None, resumed: Resume, session: PushSession | None
) -> pd.DataFrame:
    """Send ``plan`` (then ``sync``'s clears) through ``session``; None: a dry run."""
    if session is None:
        result = dry_run_result(plan) if sync is None else sync.dry_run(dry_run_result(plan))
        return finish(result, resumed, dry_run=True)
    try:
        result = session.send(plan) if sync is None else sync.push(session, plan)
    except (FynoAuthError, PushInterrupted) as exc:
        finish(exc.result, resumed, session.ledger)
        raise
    return finish(result, resumed, session.ledger)
