"""A push whose partitions are sent by many processes at once (a Dask or Spark cluster): the
rules every such push follows, decided in the one process that starts it.

The first rows (a first partition, or chunk) fix every property's type there, with
``schema=`` and the ledger; the new types are fixed in Fyno by those rows' seeds before any
partition is sent (`seed_first`), so no partition fixes a type by racing another. Each
partition is then pushed with ``max_rps`` shared out (`shared`); ``mirror=True`` and
``output=`` are refused (`refuse_on_a_cluster`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..display.preview import show_preview
from ..errors import FynoAPIError, FynoConnectionError, FynoInputError, PushInterrupted
from ..planning.plan import PushPlan
from ..sending.seeding import new_properties
from . import run
from .chunks import stored_types
from .request import PushRequest

if TYPE_CHECKING:
    from ..sending.session import PushSession

__all__ = ["fixed_types", "prepared", "refuse_on_a_cluster", "seed_first", "shared"]

log = logging.getLogger("fyno_pandas")


def refuse_on_a_cluster(request: PushRequest, cluster: str, stream_instead: str) -> None:
    """Refuse what a ``cluster`` (Dask, Spark) cannot do, before anything is read or sent;
    ``stream_instead`` is the call that streams the partitions through this process."""
    if request.mirror.mirror:
        raise FynoInputError(
            f"mirror=True is refused on a {cluster} cluster: each worker pushes its own "
            "partitions, and no process sees them all sent; stream them through this "
            f"process instead, which clears the leavers once after the last: {stream_instead}",
            rule="mirror",
        )
    if request.output is not None:
        raise FynoInputError(
            f"output= is not used on a {cluster} cluster: the result is returned; write it "
            "with result.to_parquet(...) or result.to_csv(...)",
            rule="output",
        )


def prepared(first: PushPlan, request: PushRequest, first_rows: str) -> PushRequest:
    """The request every partition is pushed with, once ``first`` (the plan of the
    ``first_rows``) is shown and has fixed the types, in ``schema`` and by seed in Fyno.

    The ledger is handed on as a path: the workers run no ``connect()`` and may not share this
    process's environment (``FYNO_PANDAS_HOME``), so they never pick a default of their own.
    """
    if request.preview:
        show_preview(first)
    schema = fixed_types(first, request.plan.schema, first_rows)
    request = dataclasses.replace(
        request,
        plan=dataclasses.replace(request.plan, schema=schema),
        ledger=getattr(request.ledger, "path", request.ledger),
    )
    if not request.send.dry_run:
        seed_first(first, request)
    return request


def shared(request: PushRequest, threads: int, partitions: int) -> PushRequest:
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


def fixed_types(
    first: PushPlan, schema: Mapping[str, str] | None, first_rows: str
) -> dict[str, str]:
    """The types ``first`` (the plan of the ``first_rows``) fixes, with ``schema`` and the
    ledger; refused when a column has no value there."""
    types = {**dict(schema or {}), **first.fyno_types}
    cleared = first.options.get("unset") or ()  # unset=: no value, no type needed
    untyped = [p for p in first.properties if p not in types and p not in cleared]
    if untyped:
        raise FynoInputError(
            f"column(s) {', '.join(map(repr, untyped))} have no value in {first_rows}, so "
            "their Fyno type would be decided by whichever partition is sent first; name "
            "it, e.g. schema={" + repr(untyped[0]) + ": 'string'}",
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
                f"column(s) {', '.join(map(repr, names))} {why} on a cluster (a new "
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
