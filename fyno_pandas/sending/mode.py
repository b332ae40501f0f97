"""How a push sends its rows: one request per row or batches, and how many requests in flight.

Pure. `choose` turns the ``concurrency`` and ``batch_size`` options into a `SendMode`; their
default ``"auto"`` applies this rule (docs/topics/performance.md states it):

- **request mode**: a push of at most ``PER_ROW_MAX`` (50) rows sends one request per row
  (each row its own request id); a larger one sends ``properties/batch`` requests of
  ``ceil(rows / START)`` rows, so that the whole push fills the starting number of requests in
  flight in one round, and at most ``BATCH_MAX`` (500) rows, or ``DOUBT_MAX`` (20) when the
  push adds or appends: a batch whose answer is lost puts all its adds in doubt. Batches win at
  every latency measured (`benchmarks/defaults.py`): at 0 ms the emulator takes 15x the rows/s
  in batches, at 200 ms a request per row is bound by ``concurrency / 0.2 s``;
- **body size**: an automatic batch whose body (as encoded) is over ``BODY_MAX`` (256 KiB) is
  cut into as many equal parts as it takes to fit (`fyno_pandas.sending.sender`). Fyno documents no
  size limit for properties; 256 KiB is a quarter of the emulator's 1,000,000 bytes and of the
  1 MB many gateways refuse by default. Any batch answered 413 (before anything is stored) is
  sent again as two halves, down to a row alone, which then fails saying its body is too
  large;
- **concurrency**: ``START`` (16) requests in flight, adapted while the push runs to the round
  trips measured (`fyno_pandas.client.concurrency.ConcurrencyLimit`), never above ``CEILING`` (64).

Explicit values win: ``batch_size=None`` is one request per row, ``batch_size=N`` batches of N;
``concurrency=N`` is N in flight, not adapted.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from ..planning.issues import plural
from ..planning.steps import NOT_IDEMPOTENT

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = [
    "AUTO",
    "BATCH_MAX",
    "BODY_MAX",
    "CEILING",
    "DOUBT_MAX",
    "PER_ROW_MAX",
    "START",
    "SendMode",
    "choose",
]

AUTO = "auto"
PER_ROW_MAX = 50
BATCH_MAX = 500
BODY_MAX = 256 * 1024  # bytes of an automatic batch's body, at most
DOUBT_MAX = 20
START = 16
CEILING = 64


@dataclasses.dataclass(frozen=True)
class SendMode:
    """The request mode and concurrency of one push (or chunk).

    Attributes
    ----------
    batch_size : int or None
        Rows per ``properties/batch`` request; None: one request per row.
    concurrency : int
        Requests in flight at the start (throughout, when not ``adaptive``).
    ceiling : int
        Requests in flight at most.
    adaptive : bool
        Whether the number in flight follows the measured round trips.
    auto : tuple of str
        The options chosen by the rule (``"concurrency"``, ``"batch_size"``).
    """

    batch_size: int | None
    concurrency: int
    ceiling: int
    adaptive: bool
    auto: tuple[str, ...] = ()

    @property
    def body_max(self) -> float:
        """Bytes of a batch's body at most: `BODY_MAX` when the rule chose the batch size, else
        no bound (an explicit ``batch_size`` is sent as asked; a 413 still splits it)."""
        return BODY_MAX if "batch_size" in self.auto else math.inf

    @property
    def mode(self) -> str:
        """``"per_row"`` or ``"batch"``."""
        return "per_row" if self.batch_size is None else "batch"

    def describe(self) -> str:
        """One line: what is sent and how many in flight, and which part the rule chose."""
        what = (
            "one request per row"
            if self.batch_size is None
            else f"batches of {self.batch_size:,} rows"
        )
        flight = plural(self.concurrency, "request") + " in flight"
        if self.adaptive:
            flight += f", adapting up to {self.ceiling}"
        chosen = f" (auto: {' and '.join(self.auto)})" if self.auto else ""
        return f"{what}, {flight}{chosen}"


def choose(rows: int, adds: bool, concurrency: Any, batch_size: Any) -> SendMode:
    """The `SendMode` for ``rows`` sendable rows.

    Parameters
    ----------
    rows : int
        Rows to send.
    adds : bool
        Whether the rows add or append (not idempotent).
    concurrency : int or "auto"
    batch_size : int, None or "auto"
    """
    auto = tuple(
        n for n, v in (("concurrency", concurrency), ("batch_size", batch_size)) if v == AUTO
    )
    start, ceiling, adaptive = in_flight(concurrency)
    if batch_size == AUTO:
        if rows <= PER_ROW_MAX:
            batch_size = None
        else:
            batch_size = min(DOUBT_MAX if adds else BATCH_MAX, math.ceil(rows / start))
    return SendMode(batch_size, start, ceiling, adaptive, auto)


def for_plan(plan: PushPlan, concurrency: Any, batch_size: Any) -> SendMode:
    """`choose` for a `PushPlan`'s sendable rows (with or without adds and appends)."""
    adds = bool(NOT_IDEMPOTENT & set(plan.ops.values()))
    return choose(int(plan.sendable.sum()), adds, concurrency, batch_size)


def in_flight(concurrency: Any) -> tuple[int, int, bool]:
    """``(start, ceiling, adaptive)``: the requests in flight the ``concurrency`` option means."""
    if concurrency == AUTO:
        return START, CEILING, True
    return int(concurrency), int(concurrency), False
