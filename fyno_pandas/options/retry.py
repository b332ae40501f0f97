"""The retry rule, pure: what to retry, how long to wait, and how to read ``Retry-After``.

The rule (Fyno documents no rate limit or 5xx, so this is our policy):

- connection errors, timeouts and HTTP 5xx are retried up to ``max_retries`` times, waiting an
  exponential backoff with *full jitter* (a uniform draw in ``[0, min(cap, base * 2**n))``), so
  that many workers failing together do not retry together;
- HTTP 429 is retried too, after ``Retry-After`` when the answer carries one (capped), else after
  the backoff; a 429 does not count against ``max_retries`` (it says "later", not "broken"), but
  429s are bounded by their own generous count and by a total time so nothing loops forever;
- 400, 401, 403, 404 and 413 (and every other 4xx) are never retried: sending the same body again
  gets the same answer (`sending.sender` sends a batch answered 413 again as two halves);
- a request that is not idempotent (``numerical-add``, ``list-append``, a batch holding one:
  Fyno takes no idempotency key) is resent only when it certainly never reached Fyno's storage:
  a refused connection, a failed DNS lookup, a 429. A timeout, a connection closed before the
  answer, or a 5xx (a gateway may answer one after the write) leave it *in doubt*: never resent
  automatically (`may_resend`).

Nothing here sleeps or does I/O; `fyno_pandas.client.http` applies the rule.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass, field

from ..errors import FynoInputError

__all__ = [
    "NEVER_RETRY",
    "RetryPolicy",
    "backoff_delay",
    "classify_status",
    "may_resend",
    "parse_retry_after",
]

#: Statuses that a retry cannot fix (listed for the docs; every 4xx but 429 behaves so).
NEVER_RETRY = frozenset({400, 401, 403, 404, 413})

# What `classify_status` answers.
OK = "ok"
RETRY = "retry"
THROTTLED = "throttled"
FATAL = "fatal"
# How a failed attempt ended, as `may_resend` reads it.
NOT_SENT = "not_sent"  # refused connection, DNS failure: the body never left
LOST = "lost"  # timeout, connection closed before the answer: it may have been applied


def may_resend(idempotent: bool, failure: str) -> bool:
    """Whether an attempt that ended in ``failure`` may be sent again automatically.

    ``failure`` is `THROTTLED` (429), `RETRY` (5xx, 408), `NOT_SENT` or `LOST`. An idempotent
    request may always be resent (``max_retries`` bounds it); one that is not (an add, an
    append) only when Fyno certainly did not store it: `NOT_SENT` and `THROTTLED`.
    """
    return idempotent or failure in (NOT_SENT, THROTTLED)


def classify_status(status: int) -> str:
    """Say what to do with an HTTP status.

    Returns
    -------
    str
        ``"ok"`` for 2xx, ``"throttled"`` for 429, ``"retry"`` for 5xx (and 408, a server-side
        timeout), ``"fatal"`` for everything else (400, 401, 403, 404, 413, ...).
    """
    if 200 <= status < 300:
        return OK
    if status == 429:
        return THROTTLED
    if status >= 500 or status == 408:
        return RETRY
    return FATAL


def backoff_delay(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter.

    Parameters
    ----------
    retry : int
        1 for the first retry, 2 for the second, ...
    base : float
        Seconds; the ceiling of the first retry's wait.
    cap : float
        Seconds; no wait is longer.
    rng : random.Random
        The source of jitter (seed it in tests).

    Returns
    -------
    float
        A uniform draw in ``[0, min(cap, base * 2 ** (retry - 1)))``.
    """
    ceiling = min(cap, base * 2.0 ** max(retry - 1, 0))
    return rng.random() * ceiling


def parse_retry_after(value: str | None, *, cap: float, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header in either form and cap it.

    Parameters
    ----------
    value : str or None
        ``"120"`` (seconds; decimals accepted) or an HTTP date such as
        ``"Wed, 21 Oct 2015 07:28:00 GMT"``.
    cap : float
        The longest wait honoured, in seconds (a server asking for hours gets ``cap``).
    now : float, optional
        The current time as a Unix timestamp (for tests); defaults to `time.time`.

    Returns
    -------
    float or None
        Seconds to wait, in ``[0, cap]``; None when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means no zone was given
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers behind the rule; the defaults suit the real API, tests shrink them.

    Attributes
    ----------
    max_retries : int
        Retries (after the first attempt) for connection errors, timeouts and 5xx.
    backoff_base, backoff_cap : float
        Seconds; see `backoff_delay`.
    retry_after_cap : float
        The longest ``Retry-After`` honoured, in seconds.
    max_throttled : int
        How many 429 answers one request may get before it fails.
    max_throttle_time : float
        Seconds; a request answered 429 is not retried once this long has passed since its
        first attempt.
    seed : int or None
        Seeds the jitter (tests); None draws from the OS.
    """

    max_retries: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    max_throttled: int = 100
    max_throttle_time: float = 600.0
    seed: int | None = field(default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise FynoInputError(f"max_retries must be an integer >= 0, not {self.max_retries!r}")
        for name in ("backoff_base", "backoff_cap", "retry_after_cap", "max_throttle_time"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0:
                raise FynoInputError(f"{name} must be a number >= 0, not {value!r}")

    def rng(self) -> random.Random:
        """A jitter source; one per worker so draws need no lock."""
        return random.Random(self.seed)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1-based); see `backoff_delay`."""
        return backoff_delay(retry, self.backoff_base, self.backoff_cap, rng)
