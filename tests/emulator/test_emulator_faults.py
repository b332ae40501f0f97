"""Fault injection: latency, rate limit and throttling (429 + Retry-After), 5xx answers, and
connections dropped before or after the update was applied. Plain ``requests`` over loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fyno_pandas.emulator import FAULT_DEFAULTS, FynoEmulator

BODY = {"distinct_id": "u1", "$set": {"plan": "pro"}}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def post(session: requests.Session, fyno: FynoEmulator, body: Any = BODY) -> requests.Response:
    url = f"{fyno.endpoint}/{fyno.wsid}/live/profiles/properties/set"
    headers = {"Authorization": f"Bearer {fyno.api_key}"}
    return session.post(url, json=body, headers=headers, timeout=10)


def assert_error_body(answer: requests.Response) -> None:
    body = answer.json()
    assert set(body) == {"_message", "status"}
    assert body["status"] == "error"


def test_no_faults_by_default(emulator) -> None:
    assert emulator.faults == {
        **FAULT_DEFAULTS,
        "error_statuses": [500, 502, 503],
        "error_requests": [],
        "drop_after_requests": [],
        "error_after_requests": [],
        "stall_after_requests": [],
    }


def test_error_requests_answer_those_requests_only_and_apply_nothing(emulator, session) -> None:
    emulator.configure(error_requests=[2], error_statuses=[503])
    answers = [
        post(session, emulator, {"distinct_id": f"u{k}", "$set": {"n": k}}).status_code
        for k in range(3)
    ]
    assert answers == [202, 503, 202]
    assert set(emulator.profiles) == {"u0", "u2"}


def test_latency_delays_every_request(emulator, session) -> None:
    emulator.configure(latency=0.2, jitter=0.05)
    started = time.perf_counter()
    assert post(session, emulator).status_code == 202
    assert time.perf_counter() - started >= 0.2  # a lower bound: the sleep happened


def test_rate_limit_answers_429_with_retry_after_in_whole_seconds(emulator, session) -> None:
    emulator.configure(rate_limit=0.5)  # burst max(1, 0.05) = 1 token, refilled every 2 s
    assert post(session, emulator).status_code == 202
    answer = post(session, emulator, {"distinct_id": "u2", "$set": {"plan": "x"}})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert_error_body(answer)
    assert emulator.profiles == {"u1": {"plan": "pro"}}
    assert [r["status"] for r in emulator.requests] == [202, 429]


def test_rate_burst_lets_that_many_through_then_429(emulator, session) -> None:
    emulator.configure(rate_limit=0.1, rate_burst=3)
    statuses = [post(session, emulator).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    answer = post(session, emulator)
    assert int(answer.headers["Retry-After"]) >= 1


def test_throttle_rate_answers_429_with_retry_after_1(emulator, session) -> None:
    emulator.configure(throttle_rate=1.0)
    answer = post(session, emulator)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert_error_body(answer)
    assert emulator.profiles == {}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_rate_answers_a_configured_status_and_applies_nothing(session, status) -> None:
    with FynoEmulator(error_rate=1.0, error_statuses=(status,)) as fyno:
        answer = post(session, fyno)
        assert answer.status_code == status
        assert_error_body(answer)
        assert fyno.profiles == {}
        assert fyno.requests[0]["fault"] == "fault"


def test_error_statuses_are_drawn_from_the_configured_set(emulator, session) -> None:
    emulator.configure(error_rate=1.0)
    statuses = {post(session, emulator).status_code for _ in range(30)}
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1


def test_drop_before_closes_without_answer_and_applies_nothing(emulator, session) -> None:
    emulator.configure(drop_before_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(session, emulator)
    assert emulator.profiles == {}
    (entry,) = emulator.requests
    assert (entry["status"], entry["fault"], entry["request_id"]) == (None, "drop_before", None)


def test_drop_after_applies_then_closes_without_answer(emulator, session) -> None:
    emulator.configure(drop_after_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(session, emulator)
    assert emulator.profiles == {"u1": {"plan": "pro"}}
    (entry,) = emulator.requests
    assert (entry["status"], entry["fault"]) == (None, "drop_after")
    assert entry["request_id"] is not None


def test_drop_after_only_hits_accepted_requests(emulator, session) -> None:
    emulator.configure(drop_after_rate=1.0)
    answer = post(session, emulator, {"distinct_id": "u1", "$set": {}})
    assert answer.status_code == 400


def test_fractions_are_reproducible_with_a_seed(session) -> None:
    def statuses(seed: int) -> list[int]:
        with FynoEmulator(seed=seed, error_rate=0.5) as fyno:
            return [post(session, fyno).status_code for _ in range(40)]

    first = statuses(7)
    assert first == statuses(7)
    assert 0 < first.count(202) < 40


def test_faults_given_at_start(session) -> None:
    with FynoEmulator(throttle_rate=1.0) as fyno:
        assert post(session, fyno).status_code == 429
        fyno.configure(throttle_rate=0.0)
        assert post(session, fyno).status_code == 202


def test_configure_changes_only_the_named_settings(emulator) -> None:
    emulator.configure(error_rate=0.25)
    settings = emulator.configure(latency=0.01)
    assert (settings["error_rate"], settings["latency"]) == (0.25, 0.01)
    assert emulator.configure(**FAULT_DEFAULTS)["error_rate"] == 0.0


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"error_rate": 1.5}, ValueError),
        ({"drop_before_rate": -0.1}, ValueError),
        ({"latency": -1}, ValueError),
        ({"rate_limit": 0}, ValueError),
        ({"rate_burst": 0.5}, ValueError),
        ({"error_statuses": [200]}, ValueError),
        ({"max_body_bytes": 0}, ValueError),
        ({"no_such_fault": 1}, TypeError),
    ],
)
def test_configure_rejects_bad_settings(emulator, changes, error) -> None:
    before = emulator.faults
    with pytest.raises(error):
        emulator.configure(**changes)
    assert emulator.faults == before


def test_faults_spare_the_control_endpoints(emulator, session) -> None:
    emulator.configure(error_rate=1.0, drop_before_rate=1.0)
    base = emulator.endpoint.removesuffix("/v1")
    assert session.get(f"{base}/__emulator/state", timeout=10).status_code == 200
