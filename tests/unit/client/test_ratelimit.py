"""`client.ratelimit`: the limiter's arguments, its chance test for 429s, a sporadic 429."""

from __future__ import annotations

import math

import pytest

from fyno_pandas.client.ratelimit import RateLimiter, _peak, _tail
from fyno_pandas.errors import FynoInputError


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"max_rps": 0}, "max_rps"),
        ({"max_rps": "10"}, "max_rps"),
        ({"decrease": 1.0}, "invalid_option"),
        ({"decrease": "half"}, "invalid_option"),
        ({"min_rps": "one"}, "min_rps"),
        ({"min_rps": 0}, "min_rps"),
    ],
)
def test_bad_arguments_raise_an_input_error_naming_the_rule(kwargs: dict, rule: str) -> None:
    with pytest.raises(FynoInputError) as caught:
        RateLimiter(**kwargs)
    assert caught.value.rule == rule


@pytest.mark.parametrize(("n", "k", "p"), [(10, 3, 0.1), (100, 12, 0.1), (30, 3, 0.02)])
def test_the_binomial_tail_is_the_exact_sum(n: int, k: int, p: float) -> None:
    exact = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert _tail(n, k, p) == pytest.approx(exact, rel=1e-6)


def test_the_tail_below_the_mean_is_certain() -> None:
    assert _tail(100, 5, 0.1) == 1.0


def test_the_peak_rate_is_the_busiest_window() -> None:
    assert _peak([0.0, 0.1, 0.2, 0.3, 2.0, 2.05], window=0.5) == 4 / 0.5


def test_a_lone_429_is_sporadic_and_leaves_the_rate_alone() -> None:
    limiter = RateLimiter(max_rps=50)
    assert limiter.on_throttle(5.0, sent_at=0.0) is False
    assert (limiter.rate, limiter.learnt, limiter.throttled, limiter.decreases) == (50, None, 1, 0)
