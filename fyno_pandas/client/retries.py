"""What to do after one attempt of a request: the retry and 429 decisions, pure.

`decide` reads an `Attempt` (its `Ending`: the answer's status or the kind of network failure;
the counts so far, the time spent) with the `RetryPolicy` and answers a `Decision`: retry after
so many seconds, or end the request as sent, failed or in doubt. It sleeps, sends and measures
nothing: `fyno_pandas.client.http.FynoClient.post` sends, reports each answer to the rate
limiter (which says whether a 429 paused every worker), then acts on the decision. The rule
itself is `fyno_pandas.options.retry`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..options.retry import FATAL, OK, RETRY, THROTTLED, RetryPolicy, classify_status, may_resend

__all__ = ["FAILED", "IN_DOUBT", "RETRY_AFTER", "SENT", "Attempt", "Decision", "Ending", "decide"]

# A `Decision`'s action; all but RETRY_AFTER are the statuses of the request's `Outcome`.
SENT = "sent"
FAILED = "failed"
IN_DOUBT = "in_doubt"
RETRY_AFTER = "retry"
# Beyond this many 429s the backoff without Retry-After stops growing.
_THROTTLE_BACKOFF_STEPS = 10


@dataclass(frozen=True, slots=True)
class Ending:
    """How one attempt ended: Fyno's answer, or a network failure.

    Attributes
    ----------
    status : int or None
        The answer's HTTP status; None when no answer came.
    error : str
        The answer's message, or the network failure's description.
    failure : str or None
        Without an answer: `fyno_pandas.options.retry.NOT_SENT` (the body never left) or
        ``LOST`` (it may have been applied).
    retry_after : float or None
        A 429's ``Retry-After`` in seconds (already capped), when it carried one.
    paused : bool
        The rate limiter paused every worker for this 429 (it showed a limit).
    """

    status: int | None
    error: str = ""
    failure: str | None = None
    retry_after: float | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's ending, and the request's counts before it.

    Attributes
    ----------
    ending : Ending
    number : int
        Attempts made, this one included.
    retries, throttled : int
        Retries after errors, and 429 answers, before this attempt's ending.
    elapsed : float
        Seconds since the request's first attempt.
    body_size : int
        The request body's bytes (named when Fyno answers 413).
    """

    ending: Ending
    number: int = 1
    retries: int = 0
    throttled: int = 0
    elapsed: float = 0.0
    body_size: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do next.

    Attributes
    ----------
    action : str
        `RETRY_AFTER`, or how the request ends: `SENT`, `FAILED` or `IN_DOUBT`.
    wait : float or None
        Seconds to wait before the retry; None when the rate limiter's pause is the wait.
    error : str or None
        The ending's error (`FAILED`, `IN_DOUBT`).
    retries, throttled : int
        The request's counts after this attempt.
    """

    action: str
    wait: float | None = None
    error: str | None = None
    retries: int = 0
    throttled: int = 0


def decide(attempt: Attempt, policy: RetryPolicy, idempotent: bool, rng: random.Random) -> Decision:
    """The decision after ``attempt``: retry (after how long), or how the request ends.

    Parameters
    ----------
    attempt : Attempt
    policy : RetryPolicy
        ``max_retries``, the backoff, and the bounds on 429s.
    idempotent : bool
        False for an add or an append: an attempt that may have been applied is not resent.
    rng : random.Random
        The backoff's jitter.

    Returns
    -------
    Decision
    """
    ending = attempt.ending
    if ending.status is None:
        return _after_error(attempt, ending.failure or "", policy, idempotent, rng)
    kind = classify_status(ending.status)
    if kind == OK:
        return Decision(SENT, retries=attempt.retries, throttled=attempt.throttled)
    if kind == THROTTLED:
        return _after_throttle(attempt, policy, rng)
    if kind == FATAL:
        error = ending.error
        if ending.status == 413:
            error = _too_large(attempt.body_size, error)
        return Decision(FAILED, error=error, retries=attempt.retries, throttled=attempt.throttled)
    return _after_error(attempt, RETRY, policy, idempotent, rng)


def _after_error(
    attempt: Attempt, failure: str, policy: RetryPolicy, idempotent: bool, rng: random.Random
) -> Decision:
    """A network failure, a 5xx or a 408: retried with backoff up to ``max_retries``."""
    counts = {"retries": attempt.retries, "throttled": attempt.throttled}
    if not may_resend(idempotent, failure):
        return Decision(IN_DOUBT, error=_in_doubt(attempt.ending.error), **counts)
    if attempt.retries >= policy.max_retries:
        return Decision(FAILED, error=_gave_up(attempt.ending.error, attempt.number), **counts)
    retries = attempt.retries + 1
    wait = policy.backoff(retries, rng)
    return Decision(RETRY_AFTER, wait=wait, retries=retries, throttled=attempt.throttled)


def _after_throttle(attempt: Attempt, policy: RetryPolicy, rng: random.Random) -> Decision:
    """A 429: retried after ``Retry-After`` (or a backoff), bounded in count and in time."""
    throttled = attempt.throttled + 1
    if throttled > policy.max_throttled or attempt.elapsed > policy.max_throttle_time:
        error = f"{attempt.ending.error} (still throttled after {throttled} answers 429)"
        return Decision(FAILED, error=error, retries=attempt.retries, throttled=throttled)
    # A limit pauses everyone for Retry-After (in the limiter); a sporadic 429, or one without
    # Retry-After, is waited out by its own request alone.
    ending = attempt.ending
    if ending.retry_after is None:
        wait: float | None = policy.backoff(min(throttled, _THROTTLE_BACKOFF_STEPS), rng)
    else:
        wait = None if ending.paused else ending.retry_after
    return Decision(RETRY_AFTER, wait=wait, retries=attempt.retries, throttled=throttled)


def _too_large(size: int, error: str) -> str:
    """The error of a body Fyno refused as too large (413)."""
    return f"the request body ({size:,} bytes) exceeds Fyno's size limit ({error})"


def _in_doubt(error: str) -> str:
    """The error of a request that may have been applied and is not resent."""
    return (
        f"in doubt: {error}; Fyno may have applied this add or append, so it was not resent "
        "(check the user's value in Fyno before sending it again)"
    )


def _gave_up(error: str, attempts: int) -> str:
    """The error of a request that failed every attempt."""
    return f"{error} (after {attempts} attempt{'' if attempts == 1 else 's'})"
