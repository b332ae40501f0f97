"""A push's result at a glance: its one summary line, and the rows that need attention.

`summary_line` says, in one line, what became of the rows (counts by status), how many values
were left out, and how long the push took; `report` logs it at INFO after every push and shows
it where the progress bar was (stderr, or the notebook cell's output) when ``progress`` is on.
A caller that shows the line itself (the widget's Send, the command line) wraps the push in
`shown_by_caller`, so the line is not said twice. `problems` returns the rows to look at.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..planning.issues import plural
from ..results.columns import STATUSES
from ..results.replay import conform

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = [
    "ATTENTION",
    "RESEND",
    "acknowledged_at",
    "acknowledged_words",
    "needs_attention",
    "plural",
    "problems",
    "report",
    "shown_by_caller",
    "summary_line",
    "tally",
]

log = logging.getLogger("fyno_pandas")

#: Statuses of rows that were not (or may not have been) stored: each needs a look.
ATTENTION = ("failed", "in_doubt", "pending")
_SENDING = ("sent", "failed", "in_doubt")  # statuses of rows a request was made for
_shown_by_caller: ContextVar[bool] = ContextVar("fyno_summary_shown_by_caller", default=False)
#: How a user resends what the ledger leaves out.
RESEND = "only_changed=False"


def acknowledged_at(plan: PushPlan) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The first and last time the ledger says Fyno acknowledged these users' requests."""
    times = plan.acked_at[~np.isnat(plan.acked_at)]
    if not len(times):
        return None
    return pd.Timestamp(times.min(), tz="UTC"), pd.Timestamp(times.max(), tz="UTC")


def acknowledged_words(summary: Mapping[str, Any], at: Any, resend: str) -> str:
    """What the ledger lets a plan leave out (``rows_unchanged`` and ``values_unchanged`` of its
    ``summary``), in words that claim only what this ledger knows: Fyno acknowledged these
    values to it, not that Fyno holds them now. ``at``: `acknowledged_at`."""
    when = ""
    if at is not None:
        first, last = (f"{t:%Y-%m-%d %H:%M:%S}" for t in at)
        when = f" (at {first} UTC)" if first == last else f" (between {first} and {last} UTC)"
    return (
        f"{plural(summary['rows_unchanged'], 'row')}, "
        f"{plural(summary['values_unchanged'], 'value')} acknowledged earlier to this "
        f"ledger{when}; {resend} resends them"
    )


def problems(result: pd.DataFrame) -> pd.DataFrame:
    """The rows of a push's result that need attention.

    Those whose status is ``failed``, ``in_doubt`` or ``pending``, and those that had values
    left out (a non-empty ``dropped``), in the result's order. Works on a result read back from
    a file (``to_csv``, ``to_parquet``) and on concatenated results.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of `push`, `push_plan`, `push_frames` or `retry_failed`.

    Returns
    -------
    pandas.DataFrame
        The selected rows of ``result``, with all its columns.

    Raises
    ------
    FynoInputError
        When ``result`` has no ``status`` or ``distinct_id`` column.
    """
    return result[_attention_rows(conform(result))]


def _attention_rows(result: pd.DataFrame) -> np.ndarray:
    failed = result["status"].isin(ATTENTION).to_numpy(dtype=bool)
    return failed | (_left_out(result) > 0)


def _left_out(result: pd.DataFrame) -> np.ndarray:
    """Per row, how many of its values were left out (the length of its ``dropped`` list)."""
    return result["dropped"].list.len().fillna(0).to_numpy(dtype=np.int64)


def tally(outcome: pd.DataFrame | Mapping[str, Any]) -> dict[str, Any]:
    """What `summary_line` says of a push's result, or of the summary `push_frames` returns
    with ``output=`` (its plans' dropped values): rows per status (every status of
    `STATUSES`), ``left_out`` values, ``elapsed_s`` and ``rows_per_s`` (None when unknown)."""
    if isinstance(outcome, pd.DataFrame):
        counts: Mapping[str, Any] = outcome["status"].value_counts()
        info = outcome.attrs.get("fyno", {})
        left_out = int(_left_out(outcome).sum())
    else:
        counts, info = outcome, outcome
        left_out = int(outcome.get("plan", {}).get("values_dropped", 0))
    numbers: dict[str, Any] = {status: int(counts.get(status, 0)) for status in STATUSES}
    numbers.update(
        left_out=left_out, elapsed_s=info.get("elapsed_s"), rows_per_s=info.get("rows_per_s")
    )
    return numbers


def needs_attention(numbers: Mapping[str, Any]) -> bool:
    """Whether a row failed, is in doubt or pending, or a value was left out."""
    return bool(numbers["left_out"] or any(numbers[s] for s in ATTENTION))


def summary_line(outcome: pd.DataFrame | Mapping[str, Any], resend: str = RESEND) -> str:
    """One line: rows by status, values left out, elapsed time and rows per second.

    Starts with ✓ when no row failed, is in doubt or pending and no value was left out, else
    with ⚠. Rows ``unchanged`` are said to be acknowledged earlier to this ledger
    (``resend`` names how to resend them); the time is said when a request was made.
    """
    numbers = tally(outcome)
    # "unchanged" is what this ledger was told, not what Fyno holds now
    words = {"unchanged": f"unchanged (acknowledged earlier to this ledger; {resend} resends them)"}
    parts = [
        f"{numbers[status]:,} {words.get(status, status.replace('_', ' '))}"
        for status in STATUSES
        if numbers[status]
    ] or ["no rows"]
    text = ", ".join(parts)
    if numbers["left_out"]:
        text += f"; {plural(numbers['left_out'], 'value')} left out (the dropped column)"
    if numbers["elapsed_s"] is not None and any(numbers[s] for s in _SENDING):
        rate = numbers["rows_per_s"]
        text += f"; in {numbers['elapsed_s']:.2f} s" + (
            "" if rate is None else f" ({rate:,.1f} rows/s)"
        )
    mark = "⚠" if needs_attention(numbers) else "✓"
    return f"{mark} Fyno push: {text}"


@contextlib.contextmanager
def shown_by_caller() -> Iterator[None]:
    """Inside it, `report` only logs: the caller shows the summary line itself."""
    token = _shown_by_caller.set(True)
    try:
        yield
    finally:
        _shown_by_caller.reset(token)


def report(outcome: pd.DataFrame | Mapping[str, Any], progress: bool) -> None:
    """Log the push's summary line at INFO; with ``progress``, show it where the bar was:
    the notebook cell's output inside IPython, else stderr."""
    line = summary_line(outcome)
    log.info("%s", line)
    if not progress or _shown_by_caller.get():
        return
    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        from IPython.display import display

        display({"text/plain": line}, raw=True)
        return
    print(line, file=sys.stderr)
