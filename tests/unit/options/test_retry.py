"""The retry rule: what is retried, the jittered backoff, and Retry-After in both forms."""

from __future__ import annotations

import email.utils
import random

import pytest

from fyno_pandas.errors import FynoInputError
from fyno_pandas.options.retry import (
    NEVER_RETRY,
    RetryPolicy,
    backoff_delay,
    classify_status,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "ok"),
        (202, "ok"),
        (429, "throttled"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (408, "retry"),
        (400, "fatal"),
        (401, "fatal"),
        (403, "fatal"),
        (404, "fatal"),
        (413, "fatal"),
        (422, "fatal"),
    ],
)
def test_classify_status(status: int, kind: str) -> None:
    assert classify_status(status) == kind


def test_never_retry_statuses_are_fatal() -> None:
    assert {classify_status(s) for s in NEVER_RETRY} == {"fatal"}


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    rng = random.Random(1)
    for retry in range(1, 12):
        ceiling = min(8.0, 0.5 * 2 ** (retry - 1))
        draws = [backoff_delay(retry, 0.5, 8.0, rng) for _ in range(200)]
        assert all(0 <= d < ceiling for d in draws)
        # full jitter spreads over the whole range, not only near the ceiling
        assert min(draws) < ceiling * 0.1
        assert max(draws) > ceiling * 0.9


def test_backoff_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy(seed=7)
    a, b = policy.rng(), policy.rng()
    draws_a = [policy.backoff(n, a) for n in range(1, 6)]
    assert draws_a == [policy.backoff(n, b) for n in range(1, 6)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 0.5 ", 0.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("7200", 60.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, cap=60.0) == expected


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, cap=60.0, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now + 3600, usegmt=True), cap=60, now=now) == 60
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), cap=60, now=now) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"max_retries": 1.5}, {"backoff_base": -1}, {"retry_after_cap": "x"}],
)
def test_policy_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(FynoInputError):
        RetryPolicy(**kwargs)
