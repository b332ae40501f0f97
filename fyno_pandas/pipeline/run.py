"""`run_push`: the one place a push opens its `PushSession`.

Every entry point (`push`, `push_plan`, `retry_failed`, `push_frames`, the command line, the
Dask accessor on the client and on each worker, and a plan's Send button) sends through it, so
the session is always made the same way of one `PushRequest`: its destination, its ledger and
its send options. A dry run opens no session: the work gets None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..sending.session import PushSession
from .request import PushRequest

__all__ = ["run_push"]

R = TypeVar("R")


def run_push(
    request: PushRequest,
    work: Callable[[PushSession | None], R],
    *,
    total: int | None = None,
    recorded: Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
) -> R:
    """``work(session)`` inside one push made of ``request`` (``work(None)`` for a dry run).

    Parameters
    ----------
    request : PushRequest
        Where and how to send.
    work : callable
        Sends one or many plans through the session it is given; what it returns is returned.
    total : int, optional
        Rows the progress bar expects; None: each plan sent adds its rows.
    recorded : mapping, optional
        The options recorded with the push in the ledger.
    fingerprint : str, optional
        Names the push's adds and appends in the ledger (`fyno_pandas.pipeline.resume`).
    """
    if request.send.dry_run:
        return work(None)
    with PushSession(
        request.config,
        **request.session_options(),
        total=total,
        ledger=request.ledger_spec,
        options=dict(recorded or {}),
        fingerprint=fingerprint,
        rate_share=request.rate_share,
    ) as session:
        return work(session)
