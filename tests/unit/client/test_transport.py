"""`client.transport`: both transports against the emulator, and how a failure is described."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
import urllib3

from fyno_pandas.client.transport import (
    NETWORK_ERRORS,
    RequestsTransport,
    Urllib3Transport,
    describe_failure,
    never_sent,
)
from fyno_pandas.emulator import FynoEmulator

BODY = json.dumps({"distinct_id": "u1", "$set": {"plan": "pro"}}).encode()


def headers(emulator: FynoEmulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"}


def path(emulator: FynoEmulator) -> str:
    return f"/{emulator.wsid}/live/profiles/properties/set"


@pytest.fixture(params=["urllib3", "requests"])
def transport(request: pytest.FixtureRequest, emulator: FynoEmulator) -> Iterator[object]:
    yield from make(request.param, emulator.endpoint, headers(emulator), timeout=5.0)


def make(kind: str, endpoint: str, head: dict[str, str], timeout: float) -> Iterator[object]:
    if kind == "urllib3":
        chosen = Urllib3Transport(endpoint, head, timeout, pool_size=2)
        yield chosen
        chosen.close()
    else:
        with requests.Session() as session:
            yield RequestsTransport(endpoint, head, timeout, session)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_answer_is_status_body_and_retry_after(transport, emulator: FynoEmulator) -> None:
    for _ in range(2):  # the second request goes through the kept-open connection
        status, raw, retry_after = transport.post(path(emulator), BODY)
        assert (status, retry_after) == (202, None)
        assert "request_id" in json.loads(raw)
    assert emulator.profiles == {"u1": {"plan": "pro"}}


def test_a_429_carries_its_retry_after(transport, emulator: FynoEmulator) -> None:
    emulator.configure(throttle_rate=1.0)
    status, _, retry_after = transport.post(path(emulator), BODY)
    assert (status, retry_after) == (429, "1")


def test_a_connection_closed_before_the_answer_may_have_been_applied(
    transport, emulator: FynoEmulator
) -> None:
    emulator.configure(drop_after_rate=1.0)
    with pytest.raises(NETWORK_ERRORS) as caught:
        transport.post(path(emulator), BODY)
    assert describe_failure(caught.value, 5.0) == "connection closed without an answer"
    assert not never_sent(caught.value)


@pytest.mark.parametrize("kind", ["urllib3", "requests"])
def test_a_refused_connection_never_sent_the_body(kind: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    for chosen in make(kind, endpoint, {}, timeout=5.0):
        with pytest.raises(NETWORK_ERRORS) as caught:
            chosen.post("/set", BODY)  # type: ignore[attr-defined]
    assert describe_failure(caught.value, 5.0) == "connection refused"
    assert never_sent(caught.value)


def test_a_slow_answer_times_out(emulator: FynoEmulator) -> None:
    emulator.configure(latency=0.5)
    for chosen in make("urllib3", emulator.endpoint, headers(emulator), timeout=0.1):
        with pytest.raises(NETWORK_ERRORS) as caught:
            chosen.post(path(emulator), BODY)  # type: ignore[attr-defined]
    assert describe_failure(caught.value, 0.1) == "timed out after 0.1 s"
    assert not never_sent(caught.value)


def test_a_failed_dns_lookup_is_read_under_the_wrappers() -> None:
    wrapped = urllib3.exceptions.NameResolutionError("nowhere.invalid", None, socket.gaierror())
    wrapped.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert describe_failure(wrapped, 1.0) == "host name not found (DNS lookup failed)"
    assert never_sent(wrapped)


def test_an_unknown_failure_names_only_its_type() -> None:
    assert describe_failure(urllib3.exceptions.ProtocolError("x"), 1.0) == (
        "connection error: ProtocolError"
    )
