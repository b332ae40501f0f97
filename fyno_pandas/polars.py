"""``pl_df.fyno`` and ``lazy.fyno``: plan and push Polars frames through the one pipeline.

``import fyno_pandas.polars`` registers the namespaces (``pip install 'fyno_pandas[polars]'``);
``import fyno_pandas`` alone never imports Polars. A frame is read through Arrow, never as row
objects (`fyno_pandas.sources.polars` says how each Polars dtype is carried, and
`fyno_pandas.sources.arrow` how Arrow becomes the pandas the plan reads), so every option,
preview, ledger and result is the one of ``df.fyno``:

- a ``DataFrame`` is converted whole, then ``plan``, ``push`` and ``retry_failed`` are those
  of ``df.fyno``; the result is a Polars DataFrame of the pandas result's columns (its rows
  in the frame's order);
- a ``LazyFrame`` runs in batches of Polars' streaming engine, pushed as `push_frames` pushes
  chunks (types from the first batch, held for the rest); the whole frame is never collected.

Polars frames have no ``attrs``: a push's summary (what ``result.attrs["fyno"]`` holds in
pandas) is logged as its summary line, and `summary` returns it for a result this process
returned (it is kept as long as that result object lives, so take it before filtering, as
pandas' ``attrs`` are lost by most operations too); the ledger keeps the push's record either
way, which is what `retry_failed` reads.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import pandas as pd
import polars as pl

from .display.outcome import report
from .options.docs import takes
from .pipeline import retry
from .pipeline.chunks import push_chunks
from .pipeline.request import PushRequest
from .pipeline.workflow import plan_frame, push_frame
from .planning.issues import ISSUE_COLUMNS
from .planning.plan import PushPlan
from .sources.arrow import arrow_chunks, arrow_frame
from .sources.polars import arrow_table, batch_stream

__all__ = ["PolarsFynoNamespace", "PolarsLazyFynoNamespace", "summary"]

#: id(result) -> its summary, while the result lives.
_SUMMARIES: dict[int, dict[str, Any]] = {}


def summary(result: pl.DataFrame) -> dict[str, Any]:
    """The summary of a push's Polars result (pandas' ``result.attrs["fyno"]``); an empty
    dict for a frame no push of this process returned."""
    return _SUMMARIES.get(id(result), {})


def _as_polars(result: pd.DataFrame) -> pl.DataFrame:
    """The pandas result as Polars, its summary kept for `summary`."""
    frame = pl.from_pandas(result)
    _SUMMARIES[id(frame)] = dict(result.attrs.get("fyno", {}))
    weakref.finalize(frame, _SUMMARIES.pop, id(frame), None)
    return frame


def _as_pandas_result(result: pl.DataFrame | pd.DataFrame) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        return result
    frame = result.to_pandas()
    frame.attrs["fyno"] = summary(result)
    return frame


@pl.api.register_dataframe_namespace("fyno")
class PolarsFynoNamespace:
    """Plan and push a Polars DataFrame's rows as Fyno user-property updates."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def _pandas(self) -> pd.DataFrame:
        return arrow_frame(arrow_table(self._frame))

    @takes("plan", PushRequest.for_planning)
    def plan(self, id_col: Any, *, request: PushRequest) -> PushPlan:
        """`fyno_pandas.plan` of the frame, read through Arrow.

        Parameters
        ----------
        id_col : str
            The column of distinct ids.

        Returns
        -------
        PushPlan
        """
        return plan_frame(self._pandas(), id_col, request)

    @takes("push", PushRequest.of)
    def push(self, id_col: Any, *, request: PushRequest) -> pl.DataFrame:
        """`fyno_pandas.push` of the frame, read through Arrow.

        Parameters
        ----------
        id_col : str
            The column of distinct ids.

        Returns
        -------
        polars.DataFrame
            The columns of pandas' result, one row per row of the frame, in its order; the
            summary is logged and returned by `fyno_pandas.polars.summary` (Polars frames
            have no ``attrs``). An error's ``.result`` is the pandas result.
        """
        result = push_frame(self._pandas(), id_col, request)
        report(result, request.send.progress)
        return _as_polars(result)

    @takes("retry_failed", PushRequest.deferred)
    def retry_failed(self, result: Any, id_col: Any, *, request: Any) -> pl.DataFrame:
        """`fyno_pandas.retry_failed` of the frame: resend the rows ``result`` reports
        ``failed`` or ``pending``.

        Parameters
        ----------
        result : polars.DataFrame or pandas.DataFrame
            The push's result (the ledger's record of its ``push_id`` gives its operations).
        id_col : str
            The column of distinct ids.

        Returns
        -------
        polars.DataFrame
            ``result`` with the retried rows' outcome in place; its summary by `summary`.
        """
        pandas_result = _as_pandas_result(result)
        again = retry.retry_failed.__wrapped__(  # type: ignore[attr-defined]
            self._pandas(), pandas_result, id_col, request=request
        )
        return _as_polars(again)


@pl.api.register_lazyframe_namespace("fyno")
class PolarsLazyFynoNamespace:
    """Plan and push a Polars LazyFrame batch by batch, never collecting it whole."""

    def __init__(self, frame: pl.LazyFrame) -> None:
        self._frame = frame

    @takes("plan", PushRequest.for_planning)
    def plan(self, id_col: Any, *, request: PushRequest) -> pd.DataFrame:
        """Check every batch against the types the first one fixes; send nothing.

        Parameters
        ----------
        id_col : str
            The column of distinct ids.

        Returns
        -------
        pandas.DataFrame
            The issues of every batch (the columns of ``plan.issues``;
            ``row`` is the row's position in the frame). ``.attrs["fyno"]`` holds ``types``
            (what every batch is held to) and ``issues`` (counts per rule).
        """
        types = dict(request.plan.schema or {})
        found = []
        for chunk in arrow_chunks(batch_stream(self._frame)):
            held = dataclasses.replace(request.plan, schema=types or None)
            planned = plan_frame(chunk, id_col, dataclasses.replace(request, plan=held))
            types = {**planned.fyno_types, **types}
            found.append(planned.issues)
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in ISSUE_COLUMNS})
        issues = pd.concat(found, ignore_index=True) if found else empty
        issues.attrs["fyno"] = {
            "types": types,
            "issues": issues["rule"].value_counts().to_dict(),
        }
        return issues

    @takes("push_frames", PushRequest.of)
    def push(self, id_col: Any, *, request: PushRequest) -> pl.DataFrame | dict[str, Any]:
        """`fyno_pandas.push_frames` of the frame's batches, from Polars' streaming engine.

        Parameters
        ----------
        id_col : str
            The column of distinct ids.

        Returns
        -------
        polars.DataFrame or dict
            The result, one row per row of the frame in its order (its summary by `summary`);
            with ``output=``, the result streams to that file and the summary is returned.
        """
        outcome = push_chunks(batch_stream(self._frame), id_col, request)
        report(outcome, request.send.progress)
        return outcome if isinstance(outcome, dict) else _as_polars(outcome)

    @takes("retry_failed", PushRequest.deferred)
    def retry_failed(self, result: Any, id_col: Any, *, request: Any) -> pl.DataFrame:
        """`fyno_pandas.retry_failed`, collecting only the rows to resend.

        Parameters
        ----------
        result : polars.DataFrame or pandas.DataFrame
            The push's result.
        id_col : str
            The column of distinct ids.

        Returns
        -------
        polars.DataFrame
            ``result`` with the retried rows' outcome in place; its summary by `summary`.
        """

        def rows_of(ids: list[str]) -> pd.DataFrame:
            wanted = self._frame.filter(pl.col(id_col).cast(pl.String).is_in(ids))
            return arrow_frame(arrow_table(wanted.collect()))

        again = retry.retry_some(rows_of, _as_pandas_result(result), id_col, request)
        return _as_polars(again)
