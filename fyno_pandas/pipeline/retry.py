"""`retry_failed`: resend the rows a push's result reports failed, pending or in doubt.

The push's operations and the fingerprint of its adds come from the ledger's record of the
result's ``push_id``, else from the result's summary (``attrs``, which pandas drops in many
operations and a file round trip loses); the rows are matched to the frame by
``distinct_id`` (`fyno_pandas.results.replay`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..display.outcome import report
from ..errors import FynoInputError, PushInterrupted
from ..ledger.bridge import opened
from ..ledger.scope import Scope
from ..options.docs import takes
from ..options.model import MirrorOptions
from ..planning.build import build_plan
from ..results.columns import STATUSES
from ..results.replay import (
    conform,
    first_push_id,
    made_by_earlier_push,
    match_rows,
    pushed_id,
)
from .mirror import retry_clears
from .request import PushRequest
from .workflow import plan_frame, push_frame, send_planned

__all__ = ["retry_failed", "retry_some"]

log = logging.getLogger("fyno_pandas")


def _same(value: Any) -> Any:
    """``ops`` or ``unset`` in a form that compares equal however it was spelled."""
    if value is None:
        return []
    if hasattr(value, "items"):
        return sorted((str(k), v) for k, v in value.items() if v != "set")
    return sorted([value] if isinstance(value, str) else value)


@takes("retry_failed", PushRequest.deferred)
def retry_failed(
    df: pd.DataFrame, result: pd.DataFrame, id_col: Any, *, request: Callable[[], PushRequest]
) -> pd.DataFrame:
    """Resend the rows of ``df`` that ``result`` reports ``failed`` or ``pending``.

    ``result`` may come straight from `push` or back from a file (``to_csv``, ``to_parquet``):
    rows are matched to ``df`` by ``distinct_id``, and the push's operations (``ops``,
    ``unset``) come from the ledger's record of its ``push_id``, else (no ledger) from the
    result's summary; with neither, pass ``ops=`` (``ops={}`` when every column was set), since
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
        build_plan(df.iloc[:0], id_col)  # says which columns there are
    where = match_rows(df[id_col], result["distinct_id"].iloc[inputs])
    # the result is judged first, then the destination: resolved once, here
    replayed = _replayed(result, request())
    failed = result["status"].isin(_retried(replayed)).to_numpy(copy=True)
    failed[inputs[where < 0]] = False
    merged = result.copy()
    merged.attrs["fyno"] = dict(result.attrs.get("fyno", {}), retried=int(failed.sum()))
    if not failed.any():
        return merged
    request = dataclasses.replace(replayed, mirror=MirrorOptions())  # a retry never mirrors
    again = inputs[failed[inputs]]  # result positions of input rows to send again
    parts = []
    if len(again):
        replay = dataclasses.replace(request, **_replay_rows(result, again, request))
        try:
            parts.append(push_frame(df.iloc[where[failed[inputs]]], id_col, replay))
        except PushInterrupted as exc:  # carries the whole result, as the retry returns it
            exc.with_result(_merged(merged, again, [exc.result], progress=False))
            raise
    clear_rows = np.flatnonzero(failed & cleared)
    if len(clear_rows):
        parts.append(_retry_clears(df, result, clear_rows, id_col, request))
    return _merged(merged, np.concatenate([again, clear_rows]), parts, request.send.progress)


def _retried(request: PushRequest) -> tuple[str, ...]:
    """The statuses a retry sends again."""
    doubt = () if request.adds.in_doubt == "keep" else ("in_doubt",)
    return ("failed", "pending", *doubt)


def _replayed(result: pd.DataFrame, request: PushRequest) -> PushRequest:
    """``request`` with the push's own ``ops`` and ``unset`` (never a plain set in their
    place) and the fingerprint of its adds, as the ledger recorded the push (the result's
    summary when the ledger has no record of it); refused when nothing records them."""
    recorded = _recorded_push(result, request)
    if recorded is None:  # no ledger: the summary, unless pandas dropped it with the attrs
        summary = result.attrs.get("fyno") or {}
        recorded = summary if "ops" in summary else None
    given = request.plan
    if recorded is None:
        if given.ops is None:
            raise FynoInputError(
                "the result says nothing of its push's operations (its summary was lost with "
                "a file round trip, and no ledger records its push_id): pass ops= as the push "
                "had it (ops={} when every column was set) and unset= if it cleared properties",
                rule="retry_failed",
            )
        return request
    pushed = {name: recorded.get(name) or None for name in ("ops", "unset")}
    for name, value in pushed.items():
        if getattr(given, name) is not None and _same(getattr(given, name)) != _same(value):
            raise FynoInputError(
                f"the push sent {name}={value!r}; retry_failed must send the same ({name}= "
                "left out takes it from the result)",
                rule="retry_failed",
            )
    kept = {name: getattr(given, name) for name in pushed if getattr(given, name) is not None}
    return dataclasses.replace(
        request,
        plan=dataclasses.replace(given, **{**pushed, **kept}),
        fingerprint=recorded.get("fingerprint"),
        replays=first_push_id(result),
    )


def _recorded_push(result: pd.DataFrame, request: PushRequest) -> dict[str, Any] | None:
    """The ledger's record of the push ``result`` came from (None: none to be found)."""
    push_id = pushed_id(result)
    if push_id is None or request.ledger is None or not request.config.wsid:
        return None
    with opened(request.ledger, create=False) as book:
        return None if book is None else book.push_record(Scope.of(request.config), push_id)


def _replay_rows(result: pd.DataFrame, again: np.ndarray, request: PushRequest) -> dict[str, Any]:
    """What a replay of rows ``again`` of ``result`` adds to its request: ``made``, the add
    and append requests of each row in doubt not to make again (by its position among
    ``again``), and ``doubt``, the rows in doubt whose progress the result does not say."""
    doubt = result["status"].to_numpy(dtype=object)[again] == "in_doubt"
    applied = result["applied"].to_numpy(dtype=object)[again]
    made, unknown = {}, np.zeros(len(again), dtype=bool)
    for k in np.flatnonzero(doubt).tolist():
        offsets = made_by_earlier_push(applied[k], request.adds.in_doubt)
        if offsets is None:
            unknown[k] = True
        else:
            made[k] = offsets
    return {"made": made, "doubt": unknown if unknown.any() else None}


def _retry_clears(
    df: pd.DataFrame, result: pd.DataFrame, rows: np.ndarray, id_col: Any, request: PushRequest
) -> pd.DataFrame:
    """Send again the mirror clears of ``result``'s rows ``rows``."""
    base = plan_frame(df.iloc[:0], id_col, request)
    ids = result["distinct_id"].to_numpy(dtype=object)[rows]
    clears = retry_clears(base, ids, result.index[rows], pushed_id(result))
    part = send_planned(clears, request)
    part["mirror_clear"] = True
    return part


def _merged(
    merged: pd.DataFrame, rows: np.ndarray, parts: list[pd.DataFrame], progress: bool
) -> pd.DataFrame:
    """``merged`` with the ``parts``' outcome at positions ``rows``; the summary recounted;
    the retry's own summary line reported (`fyno_pandas.display.outcome.report`)."""
    retried = pd.concat(parts) if len(parts) > 1 else parts[0]
    _place(merged, rows, retried)
    summary = merged.attrs["fyno"]
    summary["push_id"] = parts[-1].attrs["fyno"].get("push_id")
    log.info("retried %d rows: %s", len(rows), dict(retried["status"].value_counts()))
    report(retried, progress)
    return merged


def _place(merged: pd.DataFrame, rows: np.ndarray, retried: pd.DataFrame) -> None:
    """Put ``retried``'s rows at positions ``rows`` of ``merged``; its statuses recounted."""
    for column in merged.columns:
        values = merged[column].to_numpy(dtype=object, copy=True)
        values[rows] = retried[column].to_numpy(dtype=object)
        merged[column] = pd.Series(values, index=merged.index, dtype=merged[column].dtype)
    counts = merged["status"].value_counts()
    merged.attrs.setdefault("fyno", {}).update({s: int(counts.get(s, 0)) for s in STATUSES})


def retry_some(
    rows_of: Callable[[list[str]], pd.DataFrame],
    result: pd.DataFrame,
    id_col: Any,
    request: Callable[[], PushRequest],
) -> pd.DataFrame:
    """`retry_failed` of a frame never held whole (a Polars LazyFrame, a Spark DataFrame):
    ``rows_of(ids)`` reads its rows of those distinct ids (as text), asked only for the ids of
    rows a retry may resend; the whole result is returned, theirs replaced."""
    whole = result.reset_index(drop=True)
    cleared = whole["mirror_clear"].to_numpy(dtype=bool)
    resent = whole["status"].isin(("failed", "pending", "in_doubt")).to_numpy(dtype=bool)
    ids = whole["distinct_id"][resent & ~cleared].dropna().unique().tolist()
    rows = np.flatnonzero(whole["distinct_id"].isin(ids).to_numpy(dtype=bool) | cleared)
    if not len(rows):
        return whole
    part = whole.iloc[rows]
    part.attrs["fyno"] = result.attrs.get("fyno", {})
    again = retry_failed.__wrapped__(  # type: ignore[attr-defined]
        rows_of(ids), part, id_col, request=request
    )
    merged = whole.copy()
    merged.attrs["fyno"] = dict(again.attrs.get("fyno", {}))
    _place(merged, rows, again)
    return merged
