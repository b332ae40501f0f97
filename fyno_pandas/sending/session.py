"""`PushSession`: one push made of one or more plans.

One `FynoClient` (its kept-open connections and one rate limiter for every request), one ledger
push (begun on entry, ended with the summed counts on exit, also after an error), and one
progress bar. `fyno_pandas.push_plan` sends a single plan through one; `push_frames` and the Dask
accessor send many chunks through one.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..client.concurrency import ConcurrencyLimit
from ..client.config import FynoConfig
from ..client.http import FynoClient
from ..client.ratelimit import RateLimiter
from ..errors import FynoAuthError, PushInterrupted
from ..ledger.bridge import AckRecorder, TypeClaims, choose_ledger, opened
from ..ledger.inflight import AddJournal
from ..ledger.lease import Lease
from ..ledger.scope import Scope
from ..options.retry import RetryPolicy
from ..planning.issues import plural
from ..planning.steps import NOT_IDEMPOTENT
from ..results.columns import DTYPES, STATUSES
from .mode import AUTO, in_flight
from .sender import send_plan
from .state import AckHook, bar_class

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = ["PushSession"]

log = logging.getLogger("fyno_pandas")

_SUMMED = (*STATUSES, "rows", "requests", "retries", "throttled")


class PushSession:
    """Send one or more plans as one push; use it as a context manager.

    Parameters
    ----------
    config : FynoConfig
        The destination, with credentials (`FynoConfig.require` is checked on entry).
    concurrency, max_rps, batch_size, timeout, max_retries, session, retry_policy,
    raise_on_interrupt, on_ack
        As `fyno_pandas.push_plan`, which checks them (`fyno_pandas.options.model`) before a
        session is made: a session does not check them again.
    progress : bool, default True
        One ``tqdm.auto`` bar for every plan sent.
    total : int, optional
        Rows the bar expects; None: it grows by each plan's rows as the plan is sent.
    ledger : Ledger, str, path, None or False
        Where acknowledged values are recorded: None the default file, False nowhere.
    options : dict, optional
        The plan and send options, recorded with the push in the ledger (never the key).
    fingerprint : str, optional
        Names the push's adds and appends in the ledger (`fyno_pandas.pipeline.resume`).
    rate_share : int, default 1
        How many pushes share the destination's rate at once (a Dask cluster's partitions
        sent at once): this one starts at that share of the rate the ledger remembers, and
        remembers or forgets nothing (nor does a push capped by ``max_rps``). Otherwise a
        limit measured in the push is remembered, and a remembered rate the push outgrew
        without a limit is forgotten.

    Attributes
    ----------
    ledger : Ledger or None
        The open ledger, inside the ``with`` block.
    push_id : int or None
        The ledger's id of this push.
    """

    def __init__(
        self,
        config: FynoConfig,
        *,
        concurrency: int | str = AUTO,
        max_rps: float | None = None,
        batch_size: int | str | None = AUTO,
        timeout: float = 30,
        max_retries: int = 8,
        progress: bool = True,
        total: int | None = None,
        ledger: Any = None,
        session: Any = None,
        retry_policy: RetryPolicy | None = None,
        raise_on_interrupt: bool = True,
        on_ack: AckHook | None = None,
        options: dict[str, Any] | None = None,
        fingerprint: str | None = None,
        rate_share: int = 1,
    ) -> None:
        self.config = config.require()
        self._ledger_choice = choose_ledger(ledger)
        start, ceiling, adaptive = in_flight(concurrency)
        slots = ConcurrencyLimit(start, ceiling, adaptive=adaptive)
        self._max_rps, self._rate_share = max_rps, rate_share
        self._client_options = {
            "session": session,
            "timeout": timeout,
            "max_retries": max_retries,
            "pool_size": slots.ceiling,
            "retry_policy": retry_policy,
            "slots": slots,
        }
        self._send_options = {
            "concurrency": concurrency,
            "batch_size": batch_size,
            "raise_on_interrupt": raise_on_interrupt,
        }
        self._progress, self._total, self._on_ack = progress, total, on_ack
        self._options = dict(options or {})
        self._fingerprint = fingerprint
        self._adds: Any = None  # the group-commit writer of add states, once needed
        self._stack = ExitStack()
        self._bar: Any = None
        self._sums = dict.fromkeys(_SUMMED, 0)
        self._interrupted = False
        self._started = time.monotonic()
        self.ledger: Any = None
        self.push_id: int | None = None
        self._claims: TypeClaims | None = None

    def __enter__(self) -> PushSession:
        with ExitStack() as stack:
            self.ledger = stack.enter_context(opened(self._ledger_choice, create=True))
            learnt = None
            if self.ledger is not None:
                self._scope = Scope.of(self.config)
                learnt = self.ledger.learnt_rate(self._scope)
            start = None if learnt is None else learnt / self._rate_share
            limiter = RateLimiter(self._max_rps, start_rps=start)
            self._client = stack.enter_context(
                FynoClient(config=self.config, limiter=limiter, **self._client_options)
            )
            if self.ledger is not None:
                self.push_id = self.ledger.begin_push(self._scope, self._options, self._fingerprint)
                if self._fingerprint is not None:  # held until the push ended (`resume`)
                    stack.callback(Lease(self.ledger.path, self.push_id).release)
                self._writer = self.ledger.ack_writer(self._scope, self.push_id)
                self._claims = TypeClaims(self.ledger, self._scope, self.push_id)
                stack.callback(self._end_push)
                stack.callback(self._claims.release)
            if self._progress:
                self._bar = bar_class()(
                    total=self._total or 0, unit="row", desc="fyno push", leave=True
                )
                stack.callback(self._bar.close)
            self._started = time.monotonic()
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _end_push(self) -> None:
        limiter = self._client.limiter
        # the next push to this destination starts at it; a cap or a share is not Fyno's limit
        if self._max_rps is None and self._rate_share == 1:
            if limiter.learnt is not None:
                self.ledger.remember_rate(self._scope, limiter.learnt)
            elif limiter.outgrew_start:  # Fyno accepted more, and no limit showed
                self.ledger.remember_rate(self._scope, None)
        self.ledger.end_push(self.push_id, self.summary())

    def send(self, plan: PushPlan) -> pd.DataFrame:
        """Send ``plan``'s sendable rows; return its result (indexed like its frame).

        Raises what `fyno_pandas.sending.sender.send_plan` raises, with the result completed.
        """
        if self._bar is not None and self._total is None:
            self._bar.total += len(plan)
        recorder = None
        hook = self._on_ack
        if self.ledger is not None:
            recorder = AckRecorder(plan, self.ledger, self._scope, self.push_id, self._writer)
            hook = recorder if self._on_ack is None else _both(recorder, self._on_ack)
        journal = None
        if self.ledger is not None and NOT_IDEMPOTENT & set(plan.ops.values()):
            if self._adds is None:
                self._adds = self.ledger.add_writer(self._scope, self.push_id)
            journal = AddJournal(plan, self._adds)
        try:
            result = send_plan(
                plan,
                self._client,
                progress=False,
                on_ack=hook,
                bar=self._bar,
                claims=self._claims,
                journal=journal,
                **self._send_options,
            )
        except (FynoAuthError, PushInterrupted) as exc:
            self._complete(exc.result, recorder)
            raise
        return self._complete(result, recorder)

    def _complete(self, result: pd.DataFrame, recorder: AckRecorder | None) -> pd.DataFrame:
        if recorder is not None and recorder.not_stored:
            dropped = result["dropped"].tolist()
            for pos, prop in recorder.not_stored:
                dropped[pos] = sorted({*dropped[pos], prop})
            result["dropped"] = pd.Series(dropped, index=result.index, dtype=DTYPES["dropped"])
            log.warning(
                "%s accepted but not to be stored: their property's type was fixed otherwise "
                "meanwhile (see the result's dropped column)",
                plural(len(recorder.not_stored), "value"),
            )
        summary = result.attrs["fyno"]
        summary["push_id"] = self.push_id
        result["push_id"] = pd.Series(self.push_id, index=result.index, dtype="Int64")
        for key in _SUMMED:
            self._sums[key] += summary[key]
        self._interrupted |= bool(summary["interrupted"])
        return result

    def summary(self) -> dict[str, Any]:
        """The push so far: rows per status, requests, retries, 429s, elapsed_s, rows_per_s."""
        elapsed = time.monotonic() - self._started
        done = self._sums["sent"] + self._sums["failed"]
        return {
            **self._sums,
            "elapsed_s": round(elapsed, 3),
            "rows_per_s": round(done / elapsed, 1) if elapsed > 0 else None,
            "interrupted": self._interrupted,
            "push_id": self.push_id,
            "destination": self.config.label,
            **_operations(self._options),
        }


def _both(first: AckHook, second: AckHook) -> AckHook:
    def hook(positions: Any, request_id: str | None) -> None:
        first(positions, request_id)
        second(positions, request_id)

    return hook


def _operations(options: dict[str, Any]) -> dict[str, Any]:
    """What a retry must send the same way (a set in place of an add would overwrite)."""
    return {"ops": dict(options.get("ops") or {}), "unset": list(options.get("unset") or [])}
