"""`sending.mode`: the request mode and the requests in flight the options mean."""

from __future__ import annotations

import math

import pytest

from fyno_pandas.sending.mode import (
    BATCH_MAX,
    BODY_MAX,
    CEILING,
    DOUBT_MAX,
    PER_ROW_MAX,
    START,
    choose,
    in_flight,
)


@pytest.mark.parametrize(
    ("rows", "adds", "batch_size"),
    [
        (PER_ROW_MAX, False, None),
        (PER_ROW_MAX + 1, False, math.ceil((PER_ROW_MAX + 1) / START)),
        (10**6, False, BATCH_MAX),
        (10**6, True, DOUBT_MAX),
    ],
)
def test_auto_sends_small_pushes_per_row_and_large_ones_in_batches(
    rows: int, adds: bool, batch_size: int | None
) -> None:
    mode = choose(rows, adds, "auto", "auto")
    assert (mode.batch_size, mode.auto) == (batch_size, ("concurrency", "batch_size"))
    assert mode.body_max == BODY_MAX


def test_explicit_values_win_and_are_not_bounded() -> None:
    mode = choose(10**6, True, 4, 1000)
    assert (mode.batch_size, mode.concurrency, mode.adaptive, mode.auto) == (1000, 4, False, ())
    assert mode.body_max == math.inf
    assert choose(10**6, False, "auto", None).mode == "per_row"


def test_in_flight() -> None:
    assert in_flight("auto") == (START, CEILING, True)
    assert in_flight(8) == (8, 8, False)


@pytest.mark.parametrize(
    ("concurrency", "said"),
    [
        (1, "one request per row, 1 request in flight (auto: batch_size)"),
        (4, "one request per row, 4 requests in flight (auto: batch_size)"),
        ("auto", f"{START} requests in flight, adapting up to {CEILING}"),
    ],
)
def test_the_mode_says_its_requests_in_flight_in_words(concurrency: object, said: str) -> None:
    assert said in choose(3, False, concurrency, "auto").describe()
