"""`plan`, `push` and `push_plan`: the glue behind ``df.fyno.plan`` and ``df.fyno.push``.

``plan`` needs no credentials (it only labels the preview with the destination); ``push`` and
``push_plan`` resolve them first and raise `FynoConfigError` before anything is sent. Every
option name and value is checked (`FynoInputError`) before any work starts.
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import Any

import pandas as pd

from .client import FynoClient
from .config import FynoConfig
from .errors import FynoInputError
from .ratelimit import RateLimiter
from .retry import RetryPolicy
from .sender import AckHook, dry_run_result, send_plan

__all__ = ["MAX_BATCH_SIZE", "PLAN_OPTIONS", "plan", "push", "push_plan"]

log = logging.getLogger("fyno_pandas")

#: Options `plan` passes to `fyno_pandas.planning.build_plan`.
PLAN_OPTIONS = ("columns", "schema", "naive_tz", "nulls", "long_strings")
#: Fyno documents no batch limit; past this a single failure costs too many rows.
MAX_BATCH_SIZE = 1000
MAX_CONCURRENCY = 256


def _check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - set(PLAN_OPTIONS))
    if unknown:
        raise FynoInputError(
            f"unknown option(s) {', '.join(map(repr, unknown))}; plan options are "
            f"{', '.join(PLAN_OPTIONS)}",
            rule="unknown_option",
        )


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FynoInputError(f"{name} must be an integer >= {low}, not {value!r}", rule=name)
    if high is not None and value > high:
        raise FynoInputError(f"{name} must be at most {high}, not {value!r}", rule=name)
    return value


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise FynoInputError(f"{name} must be a number > 0, not {value!r}", rule=name)
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FynoInputError(f"{name} must be True or False, not {value!r}", rule=name)
    return value


def plan(
    df: pd.DataFrame,
    id_col: Any,
    *,
    wsid: str | None = None,
    api_key: str | None = None,
    version: str | None = None,
    endpoint: str | None = None,
    ledger: Any = None,
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
        The destination (``FYNO_*`` environment variables otherwise); not required here.
    ledger : Ledger, str, False or None
        Where remembered property types come from (accepted; not consulted yet).
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
    """
    from .planning import build_plan

    _check_options(options)
    config = FynoConfig.resolve(wsid, api_key, version, endpoint, require_credentials=False)
    return build_plan(df, id_col, config=config, **options)


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
        Accepted for the ledger (remembering what Fyno acknowledged); not consulted yet.
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
    send_keys = ("session", "retry_policy", "raise_on_interrupt", "on_ack")
    send_extra = {k: options.pop(k) for k in send_keys if k in options}
    _check_options(options)
    _flag("preview", preview)
    send = {
        "concurrency": concurrency,
        "max_rps": max_rps,
        "batch_size": batch_size,
        "timeout": timeout,
        "max_retries": max_retries,
        "dry_run": dry_run,
        "progress": progress,
        "ledger": ledger,
        "only_changed": only_changed,
        **send_extra,
    }
    _check_send(**send)
    config = FynoConfig.resolve(wsid, api_key, version, endpoint, require_credentials=not dry_run)
    the_plan = plan(
        df,
        id_col,
        wsid=config.wsid,
        api_key=config.api_key,
        version=config.version,
        endpoint=config.endpoint,
        ledger=ledger,
        **options,
    )
    if preview:
        from .preview import show_preview

        show_preview(the_plan)
    return push_plan(the_plan, **send)


def _check_send(
    concurrency: Any,
    max_rps: Any,
    batch_size: Any,
    timeout: Any,
    max_retries: Any,
    dry_run: Any,
    progress: Any,
    only_changed: Any,
    raise_on_interrupt: Any = False,
    session: Any = None,
    retry_policy: Any = None,
    on_ack: Any = None,
    ledger: Any = None,
) -> None:
    _int("concurrency", concurrency, 1, MAX_CONCURRENCY)
    if max_rps is not None:
        _positive("max_rps", max_rps)
    if batch_size is not None:
        _int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    _positive("timeout", timeout)
    _int("max_retries", max_retries, 0)
    for name, value in (
        ("dry_run", dry_run),
        ("progress", progress),
        ("only_changed", only_changed),
        ("raise_on_interrupt", raise_on_interrupt),
    ):
        _flag(name, value)
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise FynoInputError("retry_policy must be a fyno_pandas.retry.RetryPolicy")
    if on_ack is not None and not callable(on_ack):
        raise FynoInputError("on_ack must be callable: on_ack(positions, request_id)")


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
    only_changed: bool = True,
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
    ledger, only_changed
        Accepted for the ledger; not consulted yet.
    session : requests.Session, optional
        Send through this session (proxies, certificates).
    retry_policy : RetryPolicy, optional
        Backoff and 429 settings (``max_retries`` overrides its own).
    raise_on_interrupt : bool, default False
        On Ctrl-C raise `PushInterrupted` (with ``.result``) instead of returning the result.
    on_ack : callable, optional
        ``on_ack(positions, request_id)`` per acknowledged request; see `send_plan`.
    """
    _check_send(
        concurrency,
        max_rps,
        batch_size,
        timeout,
        max_retries,
        dry_run,
        progress,
        only_changed,
        raise_on_interrupt,
        session,
        retry_policy,
        on_ack,
    )
    if dry_run:
        return dry_run_result(plan)
    base = plan.config
    config = FynoConfig.resolve(
        getattr(base, "wsid", None),
        getattr(base, "api_key", None),
        getattr(base, "version", None),
        getattr(base, "endpoint", None),
    )
    client = FynoClient(
        config=config,
        session=session,
        timeout=timeout,
        max_retries=max_retries,
        pool_size=concurrency,
        retry_policy=retry_policy,
        limiter=RateLimiter(max_rps),
    )
    with client:
        return send_plan(
            plan,
            client,
            concurrency=concurrency,
            batch_size=batch_size,
            progress=progress,
            on_ack=on_ack,
            raise_on_interrupt=raise_on_interrupt,
        )
