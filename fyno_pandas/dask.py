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

import logging
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .client.config import FynoConfig
from .display.preview import show_preview
from .errors import FynoAPIError, FynoConnectionError, FynoInputError, PushInterrupted
from .ledger.bridge import choose_ledger
from .options.docs import takes
from .options.model import Destination, PlanOptions, SendOptions, defaults, pick
from .pipeline.chunks import _push_frames, stored_types
from .pipeline.workflow import _plan
from .planning.issues import ISSUE_COLUMNS
from .planning.plan import PushPlan
from .results.columns import empty_result
from .sending.seeding import new_properties
from .sending.session import PushSession

__all__ = ["DaskFynoAccessor"]

log = logging.getLogger("fyno_pandas")


@dd.extensions.register_dataframe_accessor("fyno")
class DaskFynoAccessor:
    """Plan and push a Dask DataFrame's rows as Fyno user-property updates."""

    def __init__(self, frame: dd.DataFrame) -> None:
        self._frame = frame

    @takes("plan")
    def plan(self, id_col: Any, **options: Any) -> pd.DataFrame:
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
        options, _ = self._fixed_types(id_col, options, show=False)
        meta = pd.DataFrame({c: pd.Series(dtype=object) for c in (*ISSUE_COLUMNS, "partition")})
        issues = self._frame.map_partitions(
            _partition_issues, id_col, options, meta=meta, partition_info=True
        ).compute()
        issues = issues.reset_index(drop=True)
        issues.attrs["fyno"] = {
            "types": options["schema"],
            "issues": issues["rule"].value_counts().to_dict(),
        }
        return issues

    @takes("push_frames")
    def push(self, id_col: Any, **options: Any) -> Any:
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
            # The options are checked: _push_frames resolves the destination and opens the
            # output before it reads the first partition.
            chunks = (frame.get_partition(i).compute() for i in range(frame.npartitions))
            return _push_frames(chunks, id_col, options)
        if options["mirror"]:
            raise FynoInputError(
                "mirror=True is refused on a Dask cluster: each worker pushes its own "
                "partitions, and no process sees them all sent; stream them through this "
                "process instead, which clears the leavers once after the last: "
                "fyno_pandas.push_frames((ddf.get_partition(i).compute() for i in "
                "range(ddf.npartitions)), id_col, mirror=True)",
                rule="mirror",
            )
        if options["output"] is not None:
            raise FynoInputError(
                "output= is not used on a Dask cluster: the result is a Dask DataFrame; write "
                "it with result.to_parquet(...) or result.to_csv(...)",
                rule="output",
            )
        where = pick(options, Destination)
        config = FynoConfig.resolve(**where, require_credentials=not options["dry_run"])
        options.update({name: getattr(config, name) for name in where})
        options, first = self._fixed_types(id_col, options, show=options["preview"])
        # the client's choice as a path: workers run no connect() and may not share the
        # client's environment (FYNO_PANDAS_HOME), so they never pick a default of their own
        chosen = choose_ledger(options["ledger"])
        options["ledger"] = False if chosen is None else getattr(chosen, "path", chosen)
        if not options["dry_run"]:
            seed_first(first, config, options)
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        if options["max_rps"] is not None:
            options["max_rps"] = options["max_rps"] / max(threads, 1)
        # each worker thread starts at its share of a remembered rate and tunes its own
        options["_rate_share"] = max(1, min(threads, frame.npartitions))
        log.info("pushing %d partitions on %d worker threads", frame.npartitions, threads)
        return frame.map_partitions(_push_partition, id_col, options, meta=empty_result()).persist()

    def _fixed_types(
        self, id_col: Any, options: dict[str, Any], show: bool
    ) -> tuple[dict[str, Any], PushPlan]:
        """``options`` with the types the first partition fixes (with schema and ledger) as
        ``schema``, and the first partition's plan."""
        first = _plan(self._frame.get_partition(0).compute(), id_col, pick(options, entry="plan"))
        if show:
            show_preview(first)
        types = {**dict(options.get("schema") or {}), **first.fyno_types}
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
        return {**options, "schema": types}, first


def seed_first(first: PushPlan, config: FynoConfig, options: dict[str, Any]) -> None:
    """Fix in Fyno, from the client, the type of every property ``options["schema"]`` holds
    that neither ``schema=`` nor the ledger knows, by sending only the seeds of ``first`` (the
    first partition's plan) and awaiting them; the workers then hold these types as known and
    seed nothing. A seed row is then sent once more here by its own request (the seeded values
    only), and by its worker unless the ledger holds it acknowledged (``unchanged``).

    Raises, before any partition is sent, `FynoInputError` for a new add or append property
    (its seed would be the row's own add, which the worker's push would repeat) or one with no
    value that fixes its type for sure, and `FynoAPIError` (`FynoConnectionError` when Fyno did
    not answer) when a seed was not accepted; `PushInterrupted` on Ctrl-C.
    """
    unfixed = [
        p for p in options["schema"] if p not in first.known_types and first.ops.get(p) != "remove"
    ]
    stepped = [p for p in unfixed if first.ops.get(p) in ("add", "append")]
    seeds = first.seed_values(p for p in new_properties(first) if p not in stepped)
    unsafe = [p for p in unfixed if p not in seeds and p not in stepped]
    for names, why in (
        (stepped, "add to or append to a new property, whose type a seed cannot fix"),
        (unsafe, "have no value in the first partition that fixes their new type for sure"),
    ):
        if names:
            example = {names[0]: options["schema"][names[0]]}
            raise FynoInputError(
                f"column(s) {', '.join(map(repr, names))} {why} on a Dask cluster (a new "
                "property's type is fixed on the client before any partition is sent); fix "
                "its type first, or name it if Fyno holds it, e.g. schema=" + repr(example),
                column=names[0],
                rule="untyped_column",
            )
    if not seeds:
        return
    keep = {p: np.zeros(len(first.index), dtype=bool) for p in first.properties}
    for prop, pos in seeds.items():
        keep[prop][pos] = True
    only_seeds = first.restrict(keep)
    send = {**pick(options, SendOptions), "progress": False, "raise_on_interrupt": False}
    del send["dry_run"]
    recorded = {**first.options, "seeds": True}
    log.info("fixing the type of %d new properties before the partitions", len(seeds))
    with PushSession(config, ledger=options["ledger"], options=recorded, **send) as session:
        result = session.send(only_seeds)
    if result.attrs["fyno"]["interrupted"]:
        raise PushInterrupted(result)
    refused = sorted(set(seeds) - stored_types(only_seeds, seeds, result))
    if refused:
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
    part: pd.DataFrame, id_col: Any, options: dict[str, Any],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:  # fmt: skip
    # Only the plan options, as the workers' own defaults would have it: no ledger.
    alone = {**defaults("plan"), **pick(options, PlanOptions), "ledger": False}
    issues = _plan(part, id_col, alone).issues
    number = partition_info["number"] if partition_info else None
    return issues.assign(partition=number).astype(object)


def _push_partition(part: pd.DataFrame, id_col: Any, options: dict[str, Any]) -> pd.DataFrame:
    # options hold the destination and the types fixed on the client (as schema)
    return _push_frames([part], id_col, {**options, "preview": False, "progress": False})
