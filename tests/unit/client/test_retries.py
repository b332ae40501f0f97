"""`decide`, the retry and 429 decisions of `FynoClient.post`, as a table: one row per branch."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fyno_pandas.client.retries import Attempt, Decision, Ending, decide
from fyno_pandas.options.retry import LOST, NOT_SENT, RetryPolicy

POLICY = {
    "max_retries": 2,
    "backoff_base": 1.0,
    "backoff_cap": 30.0,
    "retry_after_cap": 60.0,
    "max_throttled": 50,
    "max_throttle_time": 100.0,
}
IN_DOUBT = (
    "in doubt: {}; Fyno may have applied this add or append, so it was not resent "
    "(check the user's value in Fyno before sending it again)"
)


class HalfJitter:
    """Draws 0.5 every time: the backoff before retry n is 0.5 * min(30, 2 ** (n - 1))."""

    def random(self) -> float:
        return 0.5


def answered(status: int, error: str = "", **counts: Any) -> Attempt:
    return Attempt(Ending(status, error), **counts)


def unanswered(failure: str, error: str, **counts: Any) -> Attempt:
    return Attempt(Ending(None, error, failure), **counts)


def throttle(retry_after: float | None, paused: bool = False, **counts: Any) -> Attempt:
    return Attempt(Ending(429, "slow", retry_after=retry_after, paused=paused), **counts)


# (attempt, idempotent, policy changes, decision)
TABLE = {
    "200 is sent": (answered(200), True, {}, Decision("sent")),
    "202 after a retry and a 429 keeps both counts": (
        answered(202, number=3, retries=1, throttled=1),
        True,
        {},
        Decision("sent", retries=1, throttled=1),
    ),
    "400 is not retried": (answered(400, "bad"), True, {}, Decision("failed", error="bad")),
    "404 is not retried": (answered(404, "gone"), True, {}, Decision("failed", error="gone")),
    "401 is not retried": (answered(401, "no"), True, {}, Decision("failed", error="no")),
    "403 is not retried": (answered(403, "no"), True, {}, Decision("failed", error="no")),
    "413 names the body's size": (
        answered(413, "HTTP 413", body_size=2_000_000),
        True,
        {},
        Decision(
            "failed",
            error="the request body (2,000,000 bytes) exceeds Fyno's size limit (HTTP 413)",
        ),
    ),
    "408 is retried after the first backoff": (
        answered(408, "late"),
        True,
        {},
        Decision("retry", wait=0.5, retries=1),
    ),
    "500 on the second retry waits twice as long": (
        answered(500, "oops", number=2, retries=1),
        True,
        {},
        Decision("retry", wait=1.0, retries=2),
    ),
    "502 of an add is in doubt": (
        answered(502, "bad gateway"),
        False,
        {},
        Decision("in_doubt", error=IN_DOUBT.format("bad gateway")),
    ),
    "503 after max_retries fails": (
        answered(503, "down", number=3, retries=2),
        True,
        {},
        Decision("failed", error="down (after 3 attempts)", retries=2),
    ),
    "503 with no retries allowed fails after one attempt": (
        answered(503, "down"),
        True,
        {"max_retries": 0},
        Decision("failed", error="down (after 1 attempt)"),
    ),
    "429 with Retry-After, sporadic: its request waits it out alone": (
        throttle(2.0, paused=False),
        True,
        {},
        Decision("retry", wait=2.0, throttled=1),
    ),
    "429 with Retry-After, a limit: the limiter's pause is the wait": (
        throttle(2.0, paused=True),
        True,
        {},
        Decision("retry", wait=None, throttled=1),
    ),
    "429 without Retry-After backs off by its count of 429s": (
        throttle(None, throttled=2),
        True,
        {},
        Decision("retry", wait=2.0, throttled=3),
    ),
    "429 without Retry-After: the backoff stops growing at the tenth": (
        throttle(None, throttled=20),
        True,
        {"backoff_cap": 10_000.0},
        Decision("retry", wait=0.5 * 2**9, throttled=21),
    ),
    "429 of an add is resent (it was not applied)": (
        throttle(1.0),
        False,
        {},
        Decision("retry", wait=1.0, throttled=1),
    ),
    "429 does not count against max_retries": (
        throttle(1.0, number=4, retries=2),
        True,
        {},
        Decision("retry", wait=1.0, retries=2, throttled=1),
    ),
    "429 beyond max_throttled fails": (
        throttle(1.0, throttled=50),
        True,
        {},
        Decision("failed", error="slow (still throttled after 51 answers 429)", throttled=51),
    ),
    "429 after max_throttle_time fails": (
        throttle(1.0, elapsed=100.5),
        True,
        {},
        Decision("failed", error="slow (still throttled after 1 answers 429)", throttled=1),
    ),
    "connection refused is retried": (
        unanswered(NOT_SENT, "connection refused"),
        True,
        {},
        Decision("retry", wait=0.5, retries=1),
    ),
    "connection refused of an add is resent (it never left)": (
        unanswered(NOT_SENT, "connection refused"),
        False,
        {},
        Decision("retry", wait=0.5, retries=1),
    ),
    "a timeout is retried": (
        unanswered(LOST, "timed out after 1 s"),
        True,
        {},
        Decision("retry", wait=0.5, retries=1),
    ),
    "a timeout of an add is in doubt": (
        unanswered(LOST, "timed out after 1 s"),
        False,
        {},
        Decision("in_doubt", error=IN_DOUBT.format("timed out after 1 s")),
    ),
    "a closed connection of an add is in doubt, even with retries left": (
        unanswered(LOST, "connection closed without an answer", number=2, retries=1),
        False,
        {},
        Decision(
            "in_doubt", error=IN_DOUBT.format("connection closed without an answer"), retries=1
        ),
    ),
    "no answer after max_retries fails": (
        unanswered(NOT_SENT, "connection refused", number=3, retries=2),
        True,
        {},
        Decision("failed", error="connection refused (after 3 attempts)", retries=2),
    ),
}


@pytest.mark.parametrize(
    ("attempt", "idempotent", "changes", "expected"), TABLE.values(), ids=TABLE
)
def test_decision(attempt: Attempt, idempotent: bool, changes: dict, expected: Decision) -> None:
    policy = RetryPolicy(**{**POLICY, **changes})
    assert decide(attempt, policy, idempotent, HalfJitter()) == expected  # type: ignore[arg-type]


def test_the_backoff_is_drawn_from_the_jitter_source() -> None:
    policy = RetryPolicy(**POLICY)
    drawn = decide(answered(500), policy, True, random.Random(7)).wait
    assert drawn == policy.backoff(1, random.Random(7))
    assert 0 <= drawn < 1.0
