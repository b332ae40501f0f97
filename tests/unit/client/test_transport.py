"""`client.transport`: both transports against the emulator, and how a failure is described;
`read_answer` on the framings other servers and gateways use (chunked, no length, HTTP/1.0,
informational answers, broken ones), which the emulator does not make, and a bare loopback
server whose answers close their connection."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
import urllib3

from fyno_pandas.client.transport import (
    NETWORK_ERRORS,
    NoAnswerError,
    RequestsTransport,
    Urllib3Transport,
    describe_failure,
    never_sent,
    read_answer,
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


# Answers as servers and gateways frame them: (the bytes, status, body, connection kept open).
ANSWERS = {
    "length": (b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}", 202, b"{}", True),
    "chunked, with an extension and a trailer": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3;x=1\r\n{"a\r\n4\r\n":1}\r\n0\r\nX-Trailer: t\r\n\r\n',
        200,
        b'{"a":1}',
        True,
    ),
    "informational first": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
        202,
        b"{}",
        True,
    ),
    "no content": (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", True),
    "closing": (
        b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        503,
        b"x",
        False,
    ),
    "HTTP/1.0": (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, b"", False),
    "HTTP/1.0 kept alive": (
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
        200,
        b"",
        True,
    ),
}


@pytest.mark.parametrize("name", ANSWERS)
def test_an_answer_is_read_to_its_end_and_no_further(name: str) -> None:
    raw, status, body, kept_open = ANSWERS[name]
    answers = io.BytesIO(raw + raw)  # the next answer on the same connection
    for _ in range(2 if kept_open else 1):
        answer = read_answer(answers)
        assert (answer.status, answer.body, answer.kept_open) == (status, body, kept_open)


def test_a_body_without_length_ends_with_the_connection() -> None:
    answer = read_answer(io.BytesIO(b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down"))
    assert (answer.status, answer.body, answer.kept_open) == (502, b"upstream down", False)


def test_header_names_are_read_in_lower_case() -> None:
    raw = b"HTTP/1.1 429 Too Many\r\nRetry-After:  3 \r\nContent-Length: 0\r\n\r\n"
    assert read_answer(io.BytesIO(raw)).fields["retry-after"] == "3"


BROKEN = {
    "not HTTP": b"SSH-2.0-OpenSSH\r\n\r\n",
    "no status code": b"HTTP/1.1 OK\r\n\r\n",
    "a body cut short": b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\n{}",
    "a negative length": b"HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n",
    "a chunk size that is not hex": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "a chunk cut short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    "too many header fields": b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n",
    "a header line too long": b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n",
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_answer_is_a_network_error_that_may_have_been_applied(name: str) -> None:
    # NETWORK_ERRORS: the client retries it, or holds an add in doubt
    with pytest.raises(NETWORK_ERRORS) as caught:
        read_answer(io.BytesIO(BROKEN[name]))
    assert describe_failure(caught.value, 1.0).startswith("an answer HTTP cannot read: ")
    assert not never_sent(caught.value)


def test_no_answer_at_all_is_a_closed_connection() -> None:
    with pytest.raises(NoAnswerError) as caught:
        read_answer(io.BytesIO(b""))
    assert describe_failure(caught.value, 1.0) == "connection closed without an answer"
    assert not never_sent(caught.value)


def test_a_connection_the_answer_closes_is_not_reused() -> None:
    """A server that says each answer closes its connection, yet leaves it open (and never
    reads it again): every request opens its own, none waits on an old one."""
    accepted: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(5)  # a client that reuses a connection leaves accept() waiting
        held = []

        def serve() -> None:
            with contextlib.suppress(TimeoutError):
                for _ in range(3):
                    conn, _ = server.accept()
                    held.append(conn)
                    accepted.append(conn.recv(65536))
                    conn.sendall(ANSWERS["closing"][0])

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
        for chosen in make("urllib3", endpoint, {"Authorization": "Bearer k"}, timeout=2.0):
            answers = [chosen.post("/W/live/set", BODY) for _ in range(3)]  # type: ignore[attr-defined]
        thread.join(5)
        for conn in held:
            conn.close()
    assert answers == [(503, b"x", None)] * 3
    assert len(accepted) == 3
    assert accepted[0].startswith(b"POST /v1/W/live/set HTTP/1.1\r\nHost: 127.0.0.1:")
    assert accepted[0].endswith(b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
