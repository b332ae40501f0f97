"""`plan`, `push`, `push_plan` and `retry_failed`: what ``df.fyno`` and the package export.

``plan`` needs no credentials (it only labels the preview with the destination, and reads the
ledger when the destination is known); ``push`` and ``push_plan`` resolve them first and raise
`FynoConfigError` before anything is sent. Every option name and value is checked
(`FynoInputError`) before any work starts.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd

from ..client.config import FynoConfig
from ..display.preview import show_preview
from ..errors import FynoAuthError, FynoInputError, PushInterrupted
from ..ledger.bridge import choose_ledger, known_types, opened, skip_acknowledged
from ..ledger.scope import Scope
from ..options.docs import takes
from ..options.model import RECORDED, Destination, PlanOptions, SendOptions, names, pick
from ..planning.build import build_plan
from ..planning.plan import PushPlan
from ..results.replay import conform, made_by_earlier_push, match_rows, pushed_id
from ..sending.mode import for_plan
from ..sending.sender import STATUSES, dry_run_result
from ..sending.session import PushSession
from .mirror import MirrorSync, check_mirror, retry_clears, show_text
from .resume import Resume, finish, prepare

__all__ = ["plan", "push", "push_plan", "retry_failed"]

log = logging.getLogger("fyno_pandas")


@takes("plan")
def plan(df: pd.DataFrame, id_col: Any, **options: Any) -> PushPlan:
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
    return _plan(df, id_col, options)


def _plan(df: pd.DataFrame, id_col: Any, o: dict[str, Any]) -> PushPlan:
    """`plan` with ``o`` holding every option of `plan`, checked."""
    choice = choose_ledger(o["ledger"])
    config = FynoConfig.resolve(**pick(o, Destination), require_credentials=False)
    with opened(choice if config.wsid else None, create=False) as book:
        known = known_types(book, config) if book is not None else None
        the_plan = build_plan(df, id_col, config=config, known_types=known, **pick(o, PlanOptions))
        if book is not None and o["only_changed"]:
            the_plan = skip_acknowledged(the_plan, book, config)
    return dataclasses.replace(
        the_plan,
        ledger=False if choice is None else choice,
        options={**the_plan.options, "only_changed": o["only_changed"]},
    )


@takes("push")
def push(df: pd.DataFrame, id_col: Any, **options: Any) -> pd.DataFrame:
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
    return _push(df, id_col, options)


def _push(df: pd.DataFrame, id_col: Any, o: dict[str, Any]) -> pd.DataFrame:
    """`push` with ``o`` holding every option of `push`, checked."""
    where = pick(o, Destination)
    config = FynoConfig.resolve(**where, require_credentials=not o["dry_run"])
    check_mirror(o)
    resolved = {name: getattr(config, name) for name in where}
    the_plan = _plan(df, id_col, {**pick(o, entry="plan"), **resolved})
    if o.get("_made"):  # a retry's rows in doubt: what the push retried made of them
        the_plan = dataclasses.replace(the_plan, made=o["_made"])
    sync = None
    if o["mirror"]:  # reads the ledger's holders and refuses above the limit: nothing sent yet
        sync = MirrorSync(the_plan, o)
        sync.finish()
    the_plan, resumed = prepare(the_plan, config, o, o.get("_fingerprint"))
    if o["preview"]:
        show_preview(the_plan)
        show_text("Sending: " + for_plan(the_plan, o["concurrency"], o["batch_size"]).describe())
        if sync is not None:
            show_text(sync.text())
        if resumed.note:
            show_text(resumed.note)
    return _push_plan(the_plan, pick(o, entry="push_plan"), sync, resumed)


@takes("push_plan")
def push_plan(plan: PushPlan, **options: Any) -> pd.DataFrame:
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
    return _push_plan(plan, options)


def _push_plan(
    plan: PushPlan,
    o: dict[str, Any],
    sync: MirrorSync | None = None,
    resumed: Resume | None = None,
) -> pd.DataFrame:
    """`push_plan` with ``o`` holding every option of `push_plan`, checked; ``sync`` (finished)
    clears the leavers after the plan, in the same push; ``resumed``: what `prepare` decided
    (None: decided here)."""
    base = plan.config
    where = {name: getattr(base, name, None) for name in names(Destination)}
    if resumed is None:  # `push_plan`: the note goes to the log (there is no preview)
        known = FynoConfig.resolve(**where, require_credentials=False)
        plan, resumed = prepare(plan, known, o)
        if resumed.note:
            log.warning("%s", resumed.note)
    if o["dry_run"]:
        result = dry_run_result(plan) if sync is None else sync.dry_run(dry_run_result(plan))
        return finish(result, resumed, dry_run=True)
    clears = 0 if sync is None else len(sync.clear)  # type: ignore[arg-type]
    config = FynoConfig.resolve(**where)
    send = pick(o, SendOptions)
    del send["dry_run"]  # a PushSession always sends
    send["progress"] = send["progress"] and len(plan) + clears > 0
    with PushSession(
        config,
        **send,
        total=len(plan) + clears,
        ledger=plan.ledger if o["ledger"] is None else o["ledger"],
        options={**plan.options, **{k: o[k] for k in RECORDED}, **_mirrored(sync)},
        fingerprint=resumed.fingerprint,
    ) as push:
        try:
            result = push.send(plan) if sync is None else sync.push(push, plan)
        except (FynoAuthError, PushInterrupted) as exc:
            finish(exc.result, resumed, push.ledger)
            raise
        return finish(result, resumed, push.ledger)


def _mirrored(sync: MirrorSync | None) -> dict[str, Any]:
    return {} if sync is None else {"mirror": True}


def _same(value: Any) -> Any:
    """``ops`` or ``unset`` in a form that compares equal however it was spelled."""
    if value is None:
        return []
    if hasattr(value, "items"):
        return sorted((str(k), v) for k, v in value.items() if v != "set")
    return sorted([value] if isinstance(value, str) else value)


@takes("retry_failed")
def retry_failed(
    df: pd.DataFrame, result: pd.DataFrame, id_col: Any, **options: Any
) -> pd.DataFrame:
    """Resend the rows of ``df`` that ``result`` reports ``failed`` or ``pending``.

    ``result`` may come straight from `push` or back from a file (``to_csv``, ``to_parquet``):
    rows are matched to ``df`` by ``distinct_id``, and the push's operations (``ops``,
    ``unset``) come from the result's summary, else from the ledger's record of its
    ``push_id``; with neither, pass ``ops=`` (``ops={}`` when every column was set), since
    resending an add as a set would overwrite the user's total.

    Rows ``in_doubt`` (an add or append that may have landed) are left alone unless
    ``in_doubt="resend"`` (what was acknowledged is not sent again; the requests in doubt are)
    or ``"assume_stored"`` (the requests in doubt count as stored; the rest of the row is
    sent, and a row left with nothing to send shows ``sent`` with the error column saying it
    was assumed). See `fyno_pandas.pipeline.resume`.

    Rows a mirror push appended (``mirror_clear``) are resent too: each of those users is
    cleared of the pushed properties the ledger says they still hold (a value set for them
    again since that push began is kept). The retry itself never mirrors.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame that was pushed.
    result : pandas.DataFrame
        Its result from `push`, or that result read back from a file.
    id_col : hashable
        The column of distinct ids.

    Returns
    -------
    pandas.DataFrame
        ``result`` with the retried rows' outcome in place of the old one; ``attrs["fyno"]``
        counts the whole frame again and says how many rows were retried.

    Raises
    ------
    FynoInputError
        When ``result`` holds ids ``df`` does not, or says nothing of the push's operations
        and ``ops=`` is not given; as `push`.
    PushInterrupted
        Ctrl-C; ``.result`` holds the whole result, the rows resent so far updated.
    """
    result = conform(result)
    cleared = result["mirror_clear"].to_numpy(dtype=bool)
    inputs = np.flatnonzero(~cleared)
    if id_col not in df.columns:
        _plan(df.iloc[:0], id_col, pick(options, entry="plan"))  # says which columns there are
    where = match_rows(df[id_col], result["distinct_id"].iloc[inputs])
    options, fingerprint = _replayed(result, options)
    retried = ("failed", "pending") + (() if options["in_doubt"] == "keep" else ("in_doubt",))
    failed = result["status"].isin(retried).to_numpy(copy=True)
    failed[inputs[where < 0]] = False
    merged = result.copy()
    merged.attrs["fyno"] = dict(result.attrs.get("fyno", {}), retried=int(failed.sum()))
    if not failed.any():
        return merged
    options = {**options, "mirror": False}
    again = inputs[failed[inputs]]  # result positions of input rows to send again
    parts = []
    if len(again):
        replay = _replay_rows(result, again, options["in_doubt"])
        extra = {"_fingerprint": fingerprint, **replay}
        try:
            parts.append(_push(df.iloc[where[failed[inputs]]], id_col, {**options, **extra}))
        except PushInterrupted as exc:  # carries the whole result, as the retry returns it
            exc.result = _merged(merged, again, [exc.result])
            raise
    clear_rows = np.flatnonzero(failed & cleared)
    if len(clear_rows):
        parts.append(_retry_clears(df, result, clear_rows, id_col, options))
    return _merged(merged, np.concatenate([again, clear_rows]), parts)


def _replayed(result: pd.DataFrame, options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``options`` with the push's own ``ops`` and ``unset`` (never a plain set in their
    place), and the fingerprint of its adds; refused when nothing records them."""
    summary = result.attrs.get("fyno") or {}
    # a retry of a result read from a file returns a summary without them: the ledger has them
    recorded = summary if "ops" in summary else _recorded_push(result, options)
    if recorded is None or "ops" not in recorded:
        if options["ops"] is None:
            raise FynoInputError(
                "the result says nothing of its push's operations (its summary was lost with "
                "a file round trip, and no ledger records its push_id): pass ops= as the push "
                "had it (ops={} when every column was set) and unset= if it cleared properties",
                rule="retry_failed",
            )
        return options, None
    for name in ("ops", "unset"):
        pushed = recorded.get(name) or None
        if options[name] is None:
            options = {**options, name: pushed}
        elif _same(options[name]) != _same(pushed):
            raise FynoInputError(
                f"the push sent {name}={pushed!r}; retry_failed must send the same ({name}= "
                "left out takes it from the result)",
                rule="retry_failed",
            )
    return options, recorded.get("fingerprint")


def _recorded_push(result: pd.DataFrame, options: dict[str, Any]) -> dict[str, Any] | None:
    """The ledger's record of the push ``result`` came from (None: none to be found)."""
    push_id = pushed_id(result)
    choice = choose_ledger(options["ledger"])
    if push_id is None or choice is None:
        return None
    config = FynoConfig.resolve(**pick(options, Destination), require_credentials=False)
    if not config.wsid:
        return None
    with opened(choice, create=False) as book:
        return None if book is None else book.push_record(Scope.of(config), push_id)


def _replay_rows(result: pd.DataFrame, again: np.ndarray, in_doubt: str) -> dict[str, Any]:
    """The private options of a replay of rows ``again`` of ``result``: ``_made``, the add and
    append requests of each row in doubt not to make again (by its position among ``again``),
    and ``_doubt``, the rows in doubt whose progress the result does not say."""
    doubt = result["status"].to_numpy(dtype=object)[again] == "in_doubt"
    applied = result["applied"].to_numpy(dtype=object)[again]
    made, unknown = {}, np.zeros(len(again), dtype=bool)
    for k in np.flatnonzero(doubt).tolist():
        offsets = made_by_earlier_push(applied[k], in_doubt)
        if offsets is None:
            unknown[k] = True
        else:
            made[k] = offsets
    return {"_made": made, "_doubt": unknown if unknown.any() else None}


def _retry_clears(
    df: pd.DataFrame, result: pd.DataFrame, rows: np.ndarray, id_col: Any, options: dict
) -> pd.DataFrame:
    """Send again the mirror clears of ``result``'s rows ``rows``."""
    base = _plan(df.iloc[:0], id_col, pick(options, entry="plan"))
    ids = result["distinct_id"].to_numpy(dtype=object)[rows]
    clears = retry_clears(base, ids, result.index[rows], pushed_id(result), options)
    part = _push_plan(clears, pick(options, entry="push_plan"))
    part["mirror_clear"] = True
    return part


def _merged(merged: pd.DataFrame, rows: np.ndarray, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """``merged`` with the ``parts``' outcome at positions ``rows``; the summary recounted."""
    retried = pd.concat(parts) if len(parts) > 1 else parts[0]
    for column in merged.columns:
        values = merged[column].to_numpy(dtype=object, copy=True)
        values[rows] = retried[column].to_numpy(dtype=object)
        merged[column] = pd.Series(values, index=merged.index, dtype=merged[column].dtype)
    counts = merged["status"].value_counts()
    summary = merged.attrs["fyno"]
    summary.update({s: int(counts.get(s, 0)) for s in STATUSES})
    summary["push_id"] = parts[-1].attrs["fyno"].get("push_id")
    log.info("retried %d rows: %s", len(rows), dict(retried["status"].value_counts()))
    return merged
