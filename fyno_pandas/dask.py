"""``ddf.fyno``: plan and push a Dask DataFrame, partition by partition.

``import fyno_pandas.dask`` registers the accessor (``pip install 'fyno_pandas[dask]'``);
``import fyno_pandas`` alone never imports Dask.

Every partition is held to the types the first one fixes (with ``schema=`` and the ledger), so
no partition can fix a property's type by racing another:

- on the local scheduler the partitions are computed one at a time and streamed through
  `fyno_pandas.push_frames`: one rate limiter, one progress bar, one ledger push;
- with a ``dask.distributed`` client the types are decided on the client from the first
  partition (a column with no value there must be named in ``schema=``), and the new ones
  (neither in ``schema=`` nor in the ledger) are fixed in Fyno on the client, by the seeds of
  the first partition's plan, before any partition is sent (`fyno_pandas.pipeline.cluster`);
  then each partition is pushed on the worker that holds it, with ``max_rps`` shared out over
  the cluster's worker threads (each starts at its share of the rate the ledger remembers, then
  tunes its own concurrency and rate: `fyno_pandas.sending.mode`), and the result is a Dask
  DataFrame, already persisted (the pushes run when ``push`` is called, once). ``mirror=True``
  is refused there (no process sees every partition sent); on the local scheduler it clears
  the leavers once, after the last partition.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import dask.dataframe as dd
import pandas as pd

from .display.outcome import report
from .options.docs import takes
from .pipeline.chunks import push_chunks
from .pipeline.cluster import fixed_types, prepared, refuse_on_a_cluster, shared
from .pipeline.request import PushRequest
from .pipeline.workflow import plan_frame
from .planning.issues import ISSUE_COLUMNS
from .results.columns import empty_result

__all__ = ["DaskFynoAccessor"]

log = logging.getLogger("fyno_pandas")

_FIRST_ROWS = "the first partition"
_STREAM_INSTEAD = (
    "fyno_pandas.push_frames((ddf.get_partition(i).compute() for i in "
    "range(ddf.npartitions)), id_col, mirror=True)"
)


@dd.extensions.register_dataframe_accessor("fyno")
class DaskFynoAccessor:
    """Plan and push a Dask DataFrame's rows as Fyno user-property updates."""

    def __init__(self, frame: dd.DataFrame) -> None:
        self._frame = frame

    @takes("plan", PushRequest.for_planning)
    def plan(self, id_col: Any, *, request: PushRequest) -> pd.DataFrame:
        """Check every partition against the types the first one fixes; send nothing.

        The options are those of `fyno_pandas.plan` (``wsid``, ``version``, ``endpoint`` and
        ``ledger`` are used to look up the types the ledger knows).

        Parameters
        ----------
        id_col : hashable
            The column of distinct ids.

        Returns
        -------
        pandas.DataFrame
            One row per cell or row that would not be sent as is: the issues of every
            partition (columns row, column, value, rule, action, message, partition).
            ``.attrs["fyno"]`` holds ``types`` (what every partition is held to) and
            ``issues`` (counts per rule).
        """
        types = fixed_types(
            plan_frame(self._first(), id_col, request), request.plan.schema, _FIRST_ROWS
        )
        # each partition alone, held to those types, as the workers' own defaults would have
        # it: no ledger
        alone = dataclasses.replace(
            request, ledger=None, plan=dataclasses.replace(request.plan, schema=types)
        )
        meta = pd.DataFrame({c: pd.Series(dtype=object) for c in (*ISSUE_COLUMNS, "partition")})
        issues = self._frame.map_partitions(
            _partition_issues, id_col, alone, meta=meta, partition_info=True
        ).compute()
        issues = issues.reset_index(drop=True)
        issues.attrs["fyno"] = {
            "types": types,
            "issues": issues["rule"].value_counts().to_dict(),
        }
        return issues

    @takes("push_frames", PushRequest.of)
    def push(self, id_col: Any, *, request: PushRequest) -> Any:
        """Push every partition's rows; see the module docstring for where they are sent from.

        The options are those of `fyno_pandas.push_frames`. On a cluster ``output=`` is
        refused (write the result with ``result.to_parquet``), ``preview`` shows the first
        partition on the client, and ``ledger`` must be a path, None or False: each worker
        opens it itself (None: the worker's default file, so use a shared
        ``FYNO_PANDAS_HOME`` or False).

        Parameters
        ----------
        id_col : hashable
            The column of distinct ids.

        Returns
        -------
        pandas.DataFrame, dict or dask.dataframe.DataFrame
            On the local scheduler, what `push_frames` returns; with a distributed client, a
            persisted Dask DataFrame of the result, partitioned like the input.

        Raises
        ------
        FynoInputError, FynoAPIError, FynoConnectionError
            On a cluster, before any partition is sent, when a new property's type cannot be
            fixed from the client (`fyno_pandas.pipeline.cluster.seed_first`).
        """
        frame = self._frame
        client = _distributed_client()
        if client is None:
            chunks = (frame.get_partition(i).compute() for i in range(frame.npartitions))
            outcome = push_chunks(chunks, id_col, request)
            report(outcome, request.send.progress)
            return outcome
        refuse_on_a_cluster(request, "Dask", _STREAM_INSTEAD)
        first = plan_frame(self._first(), id_col, request)
        request = prepared(first, request, _FIRST_ROWS)
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        log.info("pushing %d partitions on %d worker threads", frame.npartitions, threads)
        shared_out = shared(request, threads, frame.npartitions)
        return frame.map_partitions(
            _push_partition, id_col, shared_out, meta=empty_result()
        ).persist()

    def _first(self) -> pd.DataFrame:
        return self._frame.get_partition(0).compute()


def _distributed_client() -> Any:
    """The ``dask.distributed`` client in use, or None for the local scheduler."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _partition_issues(
    part: pd.DataFrame, id_col: Any, request: PushRequest,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:  # fmt: skip
    issues = plan_frame(part, id_col, request).issues
    number = partition_info["number"] if partition_info else None
    return issues.assign(partition=number).astype(object)


def _push_partition(part: pd.DataFrame, id_col: Any, request: PushRequest) -> pd.DataFrame:
    # the request holds the destination and the types fixed on the client (as schema)
    return push_chunks([part], id_col, request)  # type: ignore[return-value]
