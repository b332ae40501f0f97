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
  the first partition's plan, before any partition is sent (`seed_first`); then each partition
  is pushed on the worker that holds it, with ``max_rps`` shared out over the cluster's worker
  threads (each starts at its share of the rate the ledger remembers, then tunes its own
  concurrency and rate: `fyno_pandas.sending.mode`), and the result is a Dask DataFrame, already
  persisted (the pushes run when ``push`` is called, once). ``mirror=True`` is refused there
  (no process sees every partition sent); on the local scheduler it clears the leavers once,
  after the last partition.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .display.outcome import report
from .display.preview import show_preview
from .errors import FynoAPIError, FynoConnectionError, FynoInputError, PushInterrupted
from .options.docs import takes
from .pipeline import run
from .pipeline.chunks import push_chunks, stored_types
from .pipeline.request import PushRequest
from .pipeline.workflow import plan_frame
from .planning.issues import ISSUE_COLUMNS
from .planning.plan import PushPlan
from .results.columns import empty_result
from .sending.seeding import new_properties

if TYPE_CHECKING:
    from .sending.session import PushSession

__all__ = ["DaskFynoAccessor"]

log = logging.getLogger("fyno_pandas")


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
        types = _fixed_types(plan_frame(self._first(), id_col, request), request.plan.schema)
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
            fixed from the client (`seed_first`).
        """
        frame = self._frame
        client = _distributed_client()
        if client is None:
            chunks = (frame.get_partition(i).compute() for i in range(frame.npartitions))
            outcome = push_chunks(chunks, id_col, request)
            report(outcome, request.send.progress)
            return outcome
        _refuse_on_a_cluster(request)
        first = plan_frame(self._first(), id_col, request)
        if request.preview:
            show_preview(first)
        # the client's choice as a path: workers run no connect() and may not share the
        # client's environment (FYNO_PANDAS_HOME), so they never pick a default of their own
        request = dataclasses.replace(
            request,
            plan=dataclasses.replace(request.plan, schema=_fixed_types(first, request.plan.schema)),
            ledger=getattr(request.ledger, "path", request.ledger),
        )
        if not request.send.dry_run:
            seed_first(first, request)
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        log.info("pushing %d partitions on %d worker threads", frame.npartitions, threads)
        shared = _shared(request, threads, frame.npartitions)
        return frame.map_partitions(_push_partition, id_col, shared, meta=empty_result()).persist()

    def _first(self) -> pd.DataFrame:
        return self._frame.get_partition(0).compute()


def _refuse_on_a_cluster(request: PushRequest) -> None:
    """Refuse what a cluster cannot do, before anything is read or sent."""
    if request.mirror.mirror:
        raise FynoInputError(
            "mirror=True is refused on a Dask cluster: each worker pushes its own "
            "partitions, and no process sees them all sent; stream them through this "
            "process instead, which clears the leavers once after the last: "
            "fyno_pandas.push_frames((ddf.get_partition(i).compute() for i in "
            "range(ddf.npartitions)), id_col, mirror=True)",
            rule="mirror",
        )
    if request.output is not None:
        raise FynoInputError(
            "output= is not used on a Dask cluster: the result is a Dask DataFrame; write "
            "it with result.to_parquet(...) or result.to_csv(...)",
            rule="output",
        )


def _shared(request: PushRequest, threads: int, partitions: int) -> PushRequest:
    """The request each partition is pushed with: ``max_rps`` shared out over the worker
    threads, each starting at its share of a remembered rate (then tuning its own); no
    preview or bar on the workers."""
    max_rps = request.send.max_rps
    send = dataclasses.replace(
        request.send,
        max_rps=None if max_rps is None else max_rps / max(threads, 1),
        progress=False,
    )
    return dataclasses.replace(
        request, send=send, preview=False, rate_share=max(1, min(threads, partitions))
    )


def _fixed_types(first: PushPlan, schema: Mapping[str, str] | None) -> dict[str, str]:
    """The types the first partition fixes (with ``schema`` and the ledger); refused when a
    column has no value there."""
    types = {**dict(schema or {}), **first.fyno_types}
    cleared = first.options.get("unset") or ()  # unset=: no value, no type needed
    untyped = [p for p in first.properties if p not in types and p not in cleared]
    if untyped:
        raise FynoInputError(
            f"column(s) {', '.join(map(repr, untyped))} have no value in the first "
            "partition, so their Fyno type would be decided by whichever partition is "
            "sent first; name it, e.g. schema={" + repr(untyped[0]) + ": 'string'}",
            column=untyped[0],
            rule="untyped_column",
        )
    return types


def seed_first(first: PushPlan, request: PushRequest) -> None:
    """Fix in Fyno, from the client, the type of every property the request's ``schema``
    holds that neither ``schema=`` nor the ledger knows, by sending only the seeds of
    ``first`` (the first partition's plan) and awaiting them; the workers then hold these
    types as known and seed nothing. A seed row is then sent once more here by its own request
    (the seeded values only), and by its worker unless the ledger holds it acknowledged
    (``unchanged``).

    Raises, before any partition is sent, `FynoInputError` for a new add or append property
    (its seed would be the row's own add, which the worker's push would repeat) or one with no
    value that fixes its type for sure, and `FynoAPIError` (`FynoConnectionError` when Fyno did
    not answer) when a seed was not accepted; `PushInterrupted` on Ctrl-C.
    """
    seeds = _seeds(first, request.plan.schema or {})
    if not seeds:
        return
    keep = {p: np.zeros(len(first.index), dtype=bool) for p in first.properties}
    for prop, pos in seeds.items():
        keep[prop][pos] = True
    only_seeds = first.restrict(keep)
    send = dataclasses.replace(request.send, progress=False, raise_on_interrupt=False)
    log.info("fixing the type of %d new properties before the partitions", len(seeds))
    result = run.run_push(
        dataclasses.replace(request, send=send),
        functools.partial(_send_seeds, only_seeds),
        recorded={**first.options, "seeds": True},
    )
    if result.attrs["fyno"]["interrupted"]:
        raise PushInterrupted(result)
    _refuse_unfixed(sorted(set(seeds) - stored_types(only_seeds, seeds, result)), result)


def _send_seeds(only_seeds: PushPlan, session: PushSession | None) -> pd.DataFrame:
    """Send the seeds through ``session``: never None, seeds are sent only when not a dry run."""
    assert session is not None
    return session.send(only_seeds)


def _seeds(first: PushPlan, schema: Mapping[str, str]) -> dict[str, int]:
    """The seed row of each new property ``schema`` holds; refused (`FynoInputError`) when a
    seed cannot fix one."""
    unfixed = [p for p in schema if p not in first.known_types and first.ops.get(p) != "remove"]
    stepped = [p for p in unfixed if first.ops.get(p) in ("add", "append")]
    seeds = first.seed_values(p for p in new_properties(first) if p not in stepped)
    unsafe = [p for p in unfixed if p not in seeds and p not in stepped]
    for names, why in (
        (stepped, "add to or append to a new property, whose type a seed cannot fix"),
        (unsafe, "have no value in the first partition that fixes their new type for sure"),
    ):
        if names:
            example = {names[0]: schema[names[0]]}
            raise FynoInputError(
                f"column(s) {', '.join(map(repr, names))} {why} on a Dask cluster (a new "
                "property's type is fixed on the client before any partition is sent); fix "
                "its type first, or name it if Fyno holds it, e.g. schema=" + repr(example),
                column=names[0],
                rule="untyped_column",
            )
    return seeds


def _refuse_unfixed(refused: list[str], result: pd.DataFrame) -> None:
    """Raise when a seed was not accepted: `FynoAPIError` with Fyno's status, else
    `FynoConnectionError`."""
    if not refused:
        return
    failed = result[result["status"] != "sent"]
    why = next(iter(failed["error"].dropna()), "no answer")
    message = (
        f"the type of new propert(ies) {', '.join(map(repr, refused))} could not be fixed "
        f"before the partitions are sent ({why}); no partition was sent: push again, or "
        "name the type in schema= once it is fixed in Fyno"
    )
    status = failed["http_status"].dropna()
    if len(status):
        raise FynoAPIError(int(status.iloc[0]), message)
    raise FynoConnectionError(message)


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
