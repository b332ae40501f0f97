"""`plan`, `push`, `push_plan` and `retry_failed`: what ``df.fyno`` and the package export.

``plan`` needs no credentials (it only labels the preview with the destination, and reads the
ledger when the destination is known); ``push`` and ``push_plan`` resolve them first and raise
`FynoConfigError` before anything is sent. Every option name and value is checked
(`FynoInputError`) before any work starts.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from .config import FynoConfig
from .errors import FynoInputError
from .ledger.bridge import choose_ledger, known_types, opened, skip_acknowledged
from .options import check_flag, check_plan, check_send, take_send_options
from .retry import RetryPolicy
from .sender import STATUSES, AckHook, dry_run_result
from .session import PushSession

__all__ = ["plan", "push", "push_plan", "retry_failed"]

log = logging.getLogger("fyno_pandas")


def plan(
    df: pd.DataFrame,
    id_col: Any,
    *,
    wsid: str | None = None,
    api_key: str | None = None,
    version: str | None = None,
    endpoint: str | None = None,
    ledger: Any = None,
    only_changed: bool = True,
    **options: Any,
) -> Any:
    """Plan a push of ``df`` without sending anything.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows; never modified.
    id_col : hashable
        The column of distinct ids.
    wsid, api_key, version, endpoint : str, optional
        The destination (``FYNO_*`` environment variables otherwise); not required here, but
        the ledger is only consulted when the workspace is known.
    ledger : Ledger, str, path, None or False
        None: the default file (``$FYNO_PANDAS_HOME/ledger.sqlite`` or
        ``~/.fyno_pandas/ledger.sqlite``); a path: that file; False: no ledger. The plan
        checks values against the property types the ledger saw fixed (``schema=`` wins), and
        a push of the plan records to the same ledger. Planning never creates the file.
    only_changed : bool, default True
        Leave out the values the ledger says Fyno already acknowledged for that user; rows
        with nothing new are ``unchanged``.
    **options
        ``columns``, ``schema``, ``naive_tz``, ``nulls``, ``long_strings``: see
        `fyno_pandas.planning.build_plan`.

    Returns
    -------
    PushPlan

    Raises
    ------
    FynoInputError
        For an unknown option or a value the plan rejects.
    FynoConfigError
        For a malformed (not a missing) setting.
    FynoLedgerError
        When the ledger file cannot be read.
    """
    from .planning import build_plan

    check_plan(options)
    check_flag("only_changed", only_changed)
    choice = choose_ledger(ledger)
    config = FynoConfig.resolve(wsid, api_key, version, endpoint, require_credentials=False)
    with opened(choice if config.wsid else None, create=False) as book:
        known = known_types(book, config) if book is not None else None
        the_plan = build_plan(df, id_col, config=config, known_types=known, **options)
        if book is not None and only_changed:
            the_plan = skip_acknowledged(the_plan, book, config)
    the_plan.ledger = False if choice is None else choice
    the_plan.options["only_changed"] = only_changed
    return the_plan


def push(
    df: pd.DataFrame,
    id_col: Any,
    *,
    wsid: str | None = None,
    api_key: str | None = None,
    version: str | None = None,
    endpoint: str | None = None,
    concurrency: int = 16,
    max_rps: float | None = None,
    batch_size: int | None = None,
    timeout: float = 30,
    max_retries: int = 8,
    preview: bool = True,
    dry_run: bool = False,
    progress: bool = True,
    ledger: Any = None,
    only_changed: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Plan, preview and send ``df``'s rows as Fyno user-property updates.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows; never modified.
    id_col : hashable
        The column of distinct ids.
    wsid, api_key, version, endpoint : str, optional
        The destination; ``FYNO_WSID``, ``FYNO_API_KEY``, ``FYNO_VERSION`` (default ``live``)
        and ``FYNO_ENDPOINT`` (default ``https://api.fyno.io/v1``) otherwise.
    concurrency, max_rps, batch_size, timeout, max_retries, progress
        See `push_plan`.
    preview : bool, default True
        Show the plan's preview before sending.
    dry_run : bool, default False
        Plan and preview only; sendable rows get status ``dry_run`` (no credentials needed).
    ledger, only_changed
        See `plan`: the ledger remembers what Fyno acknowledged; with ``only_changed`` only
        values it does not hold are sent, so running the same push again resumes it.
    **options
        Plan options (``columns``, ``schema``, ``naive_tz``, ``nulls``, ``long_strings``) and
        the advanced send options of `push_plan` (``session``, ``retry_policy``,
        ``raise_on_interrupt``, ``on_ack``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``: distinct_id, status, request_id, http_status, attempts, error,
        dropped; ``.attrs["fyno"]`` holds the summary.

    Raises
    ------
    FynoConfigError
        Missing or malformed settings, before anything is sent.
    FynoInputError
        An unknown option or a bad value, before anything is sent.
    FynoAuthError
        Fyno refused the key (401/403); the push stopped at once, ``.result`` holds the rows.
    PushInterrupted
        Only with ``raise_on_interrupt=True``: Ctrl-C; ``.result`` holds the partial result.
    """
    send = take_send_options(
        options,
        concurrency=concurrency,
        max_rps=max_rps,
        batch_size=batch_size,
        timeout=timeout,
        max_retries=max_retries,
        dry_run=dry_run,
        progress=progress,
    )
    check_flag("preview", preview)
    config = FynoConfig.resolve(wsid, api_key, version, endpoint, require_credentials=not dry_run)
    the_plan = plan(
        df,
        id_col,
        wsid=config.wsid,
        api_key=config.api_key,
        version=config.version,
        endpoint=config.endpoint,
        ledger=ledger,
        only_changed=only_changed,
        **options,
    )
    if preview:
        from .preview import show_preview

        show_preview(the_plan)
    return push_plan(the_plan, **send)


def push_plan(
    plan: Any,
    *,
    concurrency: int = 16,
    max_rps: float | None = None,
    batch_size: int | None = None,
    timeout: float = 30,
    max_retries: int = 8,
    dry_run: bool = False,
    progress: bool = True,
    ledger: Any = None,
    session: Any = None,
    retry_policy: RetryPolicy | None = None,
    raise_on_interrupt: bool = False,
    on_ack: AckHook | None = None,
) -> pd.DataFrame:
    """Send a `PushPlan` to the destination it was planned for.

    Parameters
    ----------
    plan : PushPlan
        From `plan` (its ``config`` says where to send; ``FYNO_*`` fill what it lacks).
    concurrency : int, default 16
        Requests in flight at most (threads and kept-open connections), 1..256.
    max_rps : float, optional
        Requests per second at most, for all workers together.
    batch_size : int, optional
        None: one ``properties/set`` per row; N (1..1000): ``properties/batch`` of N rows.
    timeout : float, default 30
        Seconds allowed for connecting and for each read.
    max_retries : int, default 8
        Retries of connection errors, timeouts and 5xx per request (429s are counted apart).
    dry_run : bool, default False
        Send nothing; sendable rows get status ``dry_run``.
    progress : bool, default True
        A ``tqdm.auto`` progress bar.
    ledger : Ledger, str, path or False, optional
        Where to record what Fyno acknowledged; by default the ledger the plan consulted.
    session : requests.Session, optional
        Send through this session (proxies, certificates).
    retry_policy : RetryPolicy, optional
        Backoff and 429 settings (``max_retries`` overrides its own).
    raise_on_interrupt : bool, default False
        On Ctrl-C raise `PushInterrupted` (with ``.result``) instead of returning the result.
    on_ack : callable, optional
        ``on_ack(positions, request_id)`` per acknowledged request; see `send_plan`.
    """
    check_send(
        concurrency, max_rps, batch_size, timeout, max_retries, dry_run, progress,
        raise_on_interrupt, retry_policy, on_ack,
    )  # fmt: skip
    if dry_run:
        return dry_run_result(plan)
    base = plan.config
    config = FynoConfig.resolve(
        getattr(base, "wsid", None),
        getattr(base, "api_key", None),
        getattr(base, "version", None),
        getattr(base, "endpoint", None),
    )
    options = {
        **plan.options,
        "concurrency": concurrency,
        "max_rps": max_rps,
        "batch_size": batch_size,
    }
    with PushSession(
        config,
        concurrency=concurrency,
        max_rps=max_rps,
        batch_size=batch_size,
        timeout=timeout,
        max_retries=max_retries,
        progress=progress and len(plan) > 0,
        total=len(plan),
        ledger=plan.ledger if ledger is None else ledger,
        session=session,
        retry_policy=retry_policy,
        raise_on_interrupt=raise_on_interrupt,
        on_ack=on_ack,
        options=options,
    ) as push:
        return push.send(plan)


def retry_failed(
    df: pd.DataFrame, result: pd.DataFrame, id_col: Any, **push_options: Any
) -> pd.DataFrame:
    """Resend the rows of ``df`` that ``result`` reports ``failed`` or ``pending``.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame that was pushed (the same rows, in the same order).
    result : pandas.DataFrame
        Its result from `push`.
    id_col : hashable
        The column of distinct ids.
    **push_options
        As `push` (``preview`` defaults to False here).

    Returns
    -------
    pandas.DataFrame
        ``result`` with the retried rows' outcome in place of the old one; ``attrs["fyno"]``
        counts the whole frame again and says how many rows were retried.

    Raises
    ------
    FynoInputError
        When ``result`` is not the result of ``df`` (other length or index).
    """
    if len(result) != len(df) or not result.index.equals(df.index):
        raise FynoInputError(
            "result does not belong to this frame: it must have the same rows and index",
            rule="retry_failed",
        )
    again = result["status"].isin(("failed", "pending")).to_numpy()
    merged = result.copy()
    merged.attrs["fyno"] = dict(result.attrs.get("fyno", {}), retried=int(again.sum()))
    if not again.any():
        return merged
    push_options.setdefault("preview", False)
    retried = push(df.iloc[np.flatnonzero(again)], id_col, **push_options)
    rows = np.flatnonzero(again)
    for column in merged.columns:
        values = merged[column].to_numpy(dtype=object, copy=True)
        values[rows] = retried[column].to_numpy(dtype=object)
        merged[column] = pd.Series(values, index=merged.index, dtype=merged[column].dtype)
    counts = merged["status"].value_counts()
    summary = merged.attrs["fyno"]
    summary.update({s: int(counts.get(s, 0)) for s in STATUSES})
    summary["push_id"] = retried.attrs["fyno"].get("push_id")
    log.info("retried %d rows: %s", len(rows), dict(retried["status"].value_counts()))
    return merged
