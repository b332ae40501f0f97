"""FynoClient against the emulator over loopback: answers, retries per fault mode, 429s, errors."""

from __future__ import annotations

import time

import pytest
import requests

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.client.http import FynoClient, error_for
from fyno_pandas.client.ratelimit import RateLimiter
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import (
    FynoAPIError,
    FynoAuthError,
    FynoConfigError,
    FynoConnectionError,
    FynoInputError,
)
from fyno_pandas.options.retry import RetryPolicy

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.005, seed=0)
SET = b'{"distinct_id":"u1","$set":{"plan":"pro"}}'


def client_for(fyno: FynoEmulator, **kw) -> FynoClient:
    kw.setdefault("retry_policy", FAST)
    return FynoClient(fyno.wsid, fyno.api_key, endpoint=fyno.endpoint, **kw)


def test_set_properties_returns_the_request_id(emulator: FynoEmulator) -> None:
    with client_for(emulator) as client:
        request_id = client.set_properties("u1", {"plan": "pro", "ltv": 12.5})
    assert request_id == emulator.requests[-1]["request_id"]
    assert emulator.profiles == {"u1": {"plan": "pro", "ltv": 12.5}}


def test_unset_and_batch(emulator: FynoEmulator) -> None:
    with client_for(emulator) as client:
        client.set_properties("u1", {"plan": "pro", "ltv": 1})
        client.unset_properties("u1", ["ltv"])
        result = client.batch(
            [
                {"distinct_id": "u2", "action": {"$set": {"plan": "free"}}},
                {"distinct_id": "u3", "action": {"$set": {"plan": {"nested": 1}}}},
            ]
        )
    assert emulator.profiles["u1"] == {"plan": "pro"}
    assert result.request_id == emulator.requests[-1]["request_id"]
    assert result.statuses[0] == {"$set": "ok"}
    assert result.statuses[1] != {"$set": "ok"}
    assert "u3" not in emulator.profiles


def test_a_users_session_is_used(emulator: FynoEmulator) -> None:
    session = requests.Session()
    with client_for(emulator, session=session) as client:
        outcome = client.post("set", SET)
    assert outcome.status == "sent"
    assert outcome.http_status == 202
    assert emulator.profiles == {"u1": {"plan": "pro"}}


def test_400_is_not_retried(emulator: FynoEmulator) -> None:
    with client_for(emulator) as client:
        outcome = client.post("set", b'{"distinct_id":"u1","$set":{}}')
        with pytest.raises(FynoAPIError) as info:
            client.set_properties("u1", {"x": {"nested": 1}})
    assert (outcome.status, outcome.http_status, outcome.attempts) == ("failed", 400, 1)
    assert "$set" in outcome.error
    assert info.value.status == 400
    assert "not allowed" in info.value.message
    assert len(emulator.requests) == 2


def test_401_names_workspace_version_endpoint_never_the_key(emulator: FynoEmulator) -> None:
    key = "wrong-key-d41d8cd98f00"
    with FynoClient(emulator.wsid, key, "test", emulator.endpoint, retry_policy=FAST) as client:
        outcome = client.post("set", SET)
        with pytest.raises(FynoAuthError) as info:
            client.set_properties("u1", {"plan": "pro"})
        assert key not in repr(client)
    assert (outcome.http_status, outcome.attempts) == (401, 1)
    text = str(info.value)
    assert emulator.wsid in text
    assert "test" in text
    assert emulator.endpoint in text
    assert key not in text
    assert key not in repr(info.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_max_retries_times(emulator: FynoEmulator, status: int) -> None:
    emulator.configure(error_rate=1.0, error_statuses=(status,))
    with client_for(emulator, max_retries=3) as client:
        outcome = client.post("set", SET)
    assert (outcome.status, outcome.http_status, outcome.attempts) == ("failed", status, 4)
    assert outcome.retries == 3
    assert "after 4 attempts" in outcome.error
    assert len(emulator.requests) == 4


def test_dropped_connection_is_retried_then_fails(emulator: FynoEmulator) -> None:
    emulator.configure(drop_before_rate=1.0)
    with client_for(emulator, max_retries=2) as client:
        outcome = client.post("set", SET)
        with pytest.raises(FynoConnectionError):
            client.set_properties("u1", {"plan": "pro"})
    assert (outcome.status, outcome.http_status, outcome.attempts) == ("failed", None, 3)
    assert "connection closed" in outcome.error
    assert emulator.profiles == {}


def test_dropped_after_apply_is_retried_and_stored_once(emulator: FynoEmulator) -> None:
    emulator.configure(drop_after_rate=1.0)
    with client_for(emulator, max_retries=1) as client:
        outcome = client.post("set", SET)
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert emulator.profiles == {"u1": {"plan": "pro"}}  # applied, but the client cannot know


def test_timeout_is_retried(emulator: FynoEmulator) -> None:
    emulator.configure(latency=0.3)
    with client_for(emulator, max_retries=1, timeout=0.05) as client:
        outcome = client.post("set", SET)
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert "timed out" in outcome.error


def test_recovers_after_transient_errors(emulator: FynoEmulator) -> None:
    emulator.configure(error_rate=0.5, drop_before_rate=0.2)
    with client_for(emulator, max_retries=30) as client:
        outcomes = [client.post("set", SET) for _ in range(20)]
    assert all(o.status == "sent" for o in outcomes)
    assert sum(o.attempts for o in outcomes) == len(emulator.requests)
    assert sum(o.attempts - 1 for o in outcomes) == sum(o.retries for o in outcomes)


def test_429_honours_retry_after_and_is_not_a_retry(emulator: FynoEmulator) -> None:
    emulator.configure(rate_limit=1, rate_burst=1)
    with client_for(emulator, max_retries=0) as client:
        first = client.post("set", SET)
        started = time.monotonic()
        second = client.post("set", SET)
        waited = time.monotonic() - started
    assert first.attempts == 1
    # max_retries=0, yet the 429 is retried after Retry-After (1 s) and succeeds
    assert (second.status, second.attempts, second.throttled, second.retries) == ("sent", 2, 1, 0)
    assert waited >= 0.9  # the pause is a lower bound, never a speed claim
    assert [r["status"] for r in emulator.requests] == [202, 429, 202]


def test_429_forever_is_bounded(emulator: FynoEmulator) -> None:
    emulator.configure(throttle_rate=1.0)
    policy = RetryPolicy(backoff_base=0.001, retry_after_cap=0.01, max_throttled=5)
    # a limiter that never slows below 1,000/s: what is tested is the bound, not the slowing
    limiter = RateLimiter(min_rps=1000)
    with client_for(emulator, retry_policy=policy, limiter=limiter) as client:
        outcome = client.post("set", SET)
    assert (outcome.status, outcome.http_status, outcome.attempts) == ("failed", 429, 6)
    assert "429" in outcome.error


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(FynoConfigError, match="plain http"):
        FynoClient("WS", "key", endpoint="http://api.fyno.io/v1")
    # https is accepted (nothing is sent by constructing a client)
    FynoClient("WS", "key", endpoint="https://api.fyno.io/v1").close()


def test_missing_credentials_raise_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FYNO_WSID", "FYNO_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(FynoConfigError, match="api_key"):
        FynoClient("WS")


def test_input_checks(emulator: FynoEmulator) -> None:
    with client_for(emulator) as client:
        with pytest.raises(FynoInputError):
            client.set_properties("u1", {})
        with pytest.raises(FynoInputError):
            client.set_properties("u1", {"x": float("nan")})
        with pytest.raises(FynoInputError):
            client.set_properties("", {"x": 1})
    with pytest.raises(FynoInputError):
        client_for(emulator, timeout=0)
    assert emulator.requests == []


def test_error_for_maps_statuses() -> None:
    config = FynoConfig("WS", "secret", "live", "https://api.fyno.io/v1")
    assert type(error_for(None, "timed out", config)) is FynoConnectionError
    assert type(error_for(401, "Invalid API details", config)) is FynoAuthError
    assert type(error_for(403, "Forbidden", config)) is FynoAuthError
    err = error_for(400, "$set has object/keys that is not allowed", config, request_id="r")
    assert type(err) is FynoAPIError
    assert (err.status, err.request_id) == (400, "r")
    assert "secret" not in str(error_for(401, "x", config))
