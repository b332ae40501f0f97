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

from .config import FynoConfig
from .display import show_preview
from .errors import FynoAuthError, FynoInputError, PushInterrupted
from .ledger.bridge import choose_ledger, known_types, opened, skip_acknowledged
from .mirror import MirrorSync, check_mirror, retry_clears, show_text
from .optiondocs import takes
from .options import RECORDED, Destination, PlanOptions, SendOptions, names, pick
from .planning import build_plan
from .pushplan import PushPlan
from .resume import Resume, finish, prepare
from .sender import STATUSES, dry_run_result
from .sendmode import for_plan
from .session import PushSession

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
            finish(exc.result, resumed, push.ledger)  # type: ignore[attr-defined]
            raise
        return finish(result, resumed, push.ledger)


def _mirrored(sync: MirrorSync | None) -> dict[str, Any]:
    return {} if sync is None else {"mirror": True}


def _same(value: Any) -> Any:
    """``ops`` or ``unset`` in a form that compares equal however it was spelled."""
    if hasattr(value, "items"):
        return {str(k): v for k, v in value.items() if v != "set"}
    return sorted([value] if isinstance(value, str) else value)


@takes("retry_failed")
def retry_failed(
    df: pd.DataFrame, result: pd.DataFrame, id_col: Any, **options: Any
) -> pd.DataFrame:
    """Resend the rows of ``df`` that ``result`` reports ``failed`` or ``pending``.

    Rows ``in_doubt`` (an add or append that may have landed) are left alone unless
    ``in_doubt="resend"`` (sent again: they may count twice) or ``"assume_stored"`` (not
    sent; recorded acknowledged in the ledger, shown ``sent`` with no request id and the error
    column saying so). See `fyno_pandas.resume`.

    Rows a mirror push appended (``mirror_clear``) are resent too: each of those users is
    cleared of the pushed properties the ledger says they still hold (a value set for them
    again since that push began is kept). The retry itself never mirrors.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame that was pushed (the same rows, in the same order).
    result : pandas.DataFrame
        Its result from `push`.
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
        When ``result`` is not the result of ``df`` (other length or index); as `push`.
    """
    cleared = np.zeros(len(result), dtype=bool)
    if "mirror_clear" in result.columns:
        cleared = result["mirror_clear"].to_numpy(dtype=bool)
    inputs = result.index[~cleared]
    if len(inputs) != len(df) or not inputs.equals(df.index):
        raise FynoInputError(
            "result does not belong to this frame: it must have the same rows and index",
            rule="retry_failed",
        )
    summary = result.attrs.get("fyno", {})
    for name in ("ops", "unset"):  # the push's own operations, never a plain set in their place
        pushed = summary.get(name)
        if options[name] is None:
            options = {**options, name: pushed}
        elif pushed is not None and _same(options[name]) != _same(pushed):
            raise FynoInputError(
                f"the push sent {name}={pushed!r}; retry_failed must send the same ({name}= "
                "left out takes it from the result)",
                rule="retry_failed",
            )
    retried = ("failed", "pending") + (() if options["in_doubt"] == "keep" else ("in_doubt",))
    failed = result["status"].isin(retried).to_numpy()
    doubt = (result["status"] == "in_doubt").to_numpy()
    merged = result.copy()
    merged.attrs["fyno"] = dict(result.attrs.get("fyno", {}), retried=int(failed.sum()))
    if not failed.any():
        return merged
    options = {**options, "mirror": False}
    again = np.flatnonzero(failed[~cleared])  # positions in df
    rows, parts = np.flatnonzero(~cleared)[again], []
    if len(again):
        # one chain with the push retried (`fyno_pandas.resume`); its in-doubt rows stay so
        fingerprint = result.attrs.get("fyno", {}).get("fingerprint")
        forced = doubt[~cleared][again]
        more = {"_fingerprint": fingerprint, "_doubt": forced if forced.any() else None}
        parts.append(_push(df.iloc[again], id_col, {**options, **more}))
    clear_rows = np.flatnonzero(failed & cleared)
    if len(clear_rows):
        base = _plan(df.iloc[:0], id_col, pick(options, entry="plan"))
        ids = result["distinct_id"].to_numpy(dtype=object)[clear_rows]
        push_id = result.attrs.get("fyno", {}).get("push_id")
        clears = retry_clears(base, ids, result.index[clear_rows], push_id, options)
        part = _push_plan(clears, pick(options, entry="push_plan"))
        part["mirror_clear"] = True
        parts.append(part)
        rows = np.concatenate([rows, clear_rows])
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
