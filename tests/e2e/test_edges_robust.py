"""Robustness edges: a new ledger opened by many at once, secrets echoed by a server, what a
network failure is called, and which hosts plain http may reach."""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import requests

import fyno_pandas
from fyno_pandas.client.config import check_endpoint
from fyno_pandas.client.http import FynoClient
from fyno_pandas.client.redact import Redactor
from fyno_pandas.errors import FynoAPIError, FynoAuthError, FynoConfigError
from fyno_pandas.ledger import Ledger

# -- #9: a brand-new ledger opened by several processes and threads at the same instant ---------

OPENERS = 8
ROUNDS = 50  # a new file each round; threads start in microseconds, so they get more rounds
THREAD_ROUNDS = 200


def _open_at_once(folder: str, barrier: threading.Barrier, rounds: int) -> list[str]:
    """Open round r's new ledger once every opener is at the barrier; the failures, as text."""
    errors = []
    for r in range(rounds):
        barrier.wait(timeout=60)
        try:
            Ledger(Path(folder) / f"round{r}.sqlite", timeout=10).close()
        except Exception as exc:  # noqa: BLE001  (every failure is what the test counts)
            errors.append(f"round {r}: {type(exc).__name__}: {exc}")
    return errors


def _process_opener(folder: str, barrier: threading.Barrier, rounds: int, out) -> None:
    out.put(_open_at_once(folder, barrier, rounds))


def test_processes_creating_one_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    # spawn: a fork of the test process (threads of other tests) could inherit held locks.
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [
        ctx.Process(target=_process_opener, args=(str(tmp_path), barrier, ROUNDS, out))
        for _ in range(OPENERS)
    ]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)
    assert errors == [], f"{len(errors)} of {OPENERS * ROUNDS} opens failed: {errors[:3]}"


def test_threads_creating_one_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    barrier = threading.Barrier(OPENERS)
    errors: list[str] = []

    def opener() -> None:
        errors.extend(_open_at_once(str(tmp_path), barrier, THREAD_ROUNDS))

    threads = [threading.Thread(target=opener) for _ in range(OPENERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], f"{len(errors)} of {OPENERS * THREAD_ROUNDS} opens failed: {errors[:3]}"


# -- #10: a server that echoes the request headers -----------------------------------------------

KEY = "sk-secret-7Hq2/Zp+9xW4=mK1"  # "/", "+" and "=" are changed by percent-encoding


def _forms(key: str) -> list[str]:
    """The key as sent, percent-encoded, inside Basic credentials, and with JSON's "\\/"."""
    basic = base64.b64encode(f"user:{key}".encode()).decode()
    return [key, quote(key, safe=""), basic, key.replace("/", "\\/")]


def _assert_clean(*texts: object) -> None:
    for text in texts:
        for form in _forms(KEY):
            assert form not in str(text)


class _Echo(BaseHTTPRequestHandler):
    """Answers every POST with the request's headers, in the way ``server.mode`` says."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = self.headers["Authorization"].split()[-1]
        # The encoded forms first: a text answer is cut to 200 characters.
        echo = f"q={quote(token, safe='')} basic={_forms(token)[2]}\n{self.headers}"
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "text":
            self._answer(500, echo, "text/plain")
        elif mode == "escaped":  # JSON without a _message, every "/" escaped
            self._answer(500, json.dumps({"error": echo}).replace("/", "\\/"), "application/json")
        elif mode == "cut":  # the key across the 200th character
            self._answer(500, "x" * 190 + token, "text/plain")
        elif mode in ("json", "auth"):
            answer = {"_message": echo, "headers": dict(self.headers)}
            self._answer(400 if mode == "json" else 401, json.dumps(answer), "application/json")
        else:  # accepted, every batch item refused with the echo as its reason
            answer = {"request_id": f"req {token}"}
            if "batch" in request:
                answer["batch"] = [{"$set": echo} for _ in request["batch"]]
            self._answer(202, json.dumps(answer), "application/json")

    def _answer(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads the answers, not the server's log."""


@pytest.fixture
def echo() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def _push(server: ThreadingHTTPServer, mode: str, **kw: object) -> pd.DataFrame:
    server.mode = mode  # type: ignore[attr-defined]
    frame = pd.DataFrame({"id": ["u1", "u2"], "plan": ["pro", "free"]})
    return fyno_pandas.push(
        frame,
        "id",
        wsid="FYWS",
        api_key=KEY,
        endpoint=f"http://127.0.0.1:{server.server_port}/v1",
        ledger=False,
        preview=False,
        progress=False,
        max_retries=0,
        **kw,
    )


@pytest.mark.parametrize(
    ("mode", "kw", "reason"),
    [
        ("text", {}, "HTTP 500: q=[redacted] basic="),
        ("escaped", {}, 'HTTP 500: {"error": "q=[redacted] basic='),
        ("json", {}, "\nAuthorization: [redacted]\n"),
        ("batch", {"batch_size": 2}, "$set: q=[redacted] basic="),
    ],
)
def test_an_echoed_key_is_in_no_result_and_no_log(
    echo: ThreadingHTTPServer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    kw: dict,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fyno_pandas")
    result = _push(echo, mode, **kw)
    cells = [v for col in result.columns for v in result[col]]
    _assert_clean(repr(result), result.to_dict(), result.attrs, *cells)
    _assert_clean(caplog.text, *(r.getMessage() for r in caplog.records))
    assert list(result["status"]) == ["failed", "failed"]
    assert all(reason in error for error in result["error"])
    if mode != "batch":  # a failed request is logged (a batch item's reason is not)
        assert "[redacted]" in caplog.text


def test_an_echoed_key_is_not_in_a_refused_keys_error(echo: ThreadingHTTPServer) -> None:
    with pytest.raises(FynoAuthError) as caught:
        _push(echo, "auth")
    _assert_clean(str(caught.value), repr(caught.value), caught.value.message)
    _assert_clean(caught.value.result.to_dict())  # type: ignore[attr-defined]


def test_an_echoed_key_is_not_in_a_clients_errors_or_answers(echo: ThreadingHTTPServer) -> None:
    echo.mode = "json"  # type: ignore[attr-defined]
    with FynoClient("FYWS", KEY, endpoint=f"http://127.0.0.1:{echo.server_port}/v1") as client:
        with pytest.raises(FynoAPIError) as caught:
            client.set_properties("u1", {"plan": "pro"})
        echo.mode = "batch"  # type: ignore[attr-defined]
        result = client.batch([{"distinct_id": "u1", "action": {"$set": {"plan": "pro"}}}])
    assert caught.value.status == 400
    _assert_clean(str(caught.value), repr(caught.value), caught.value.message)
    _assert_clean(result, result.request_id, result.statuses)


def _message(text: str) -> str:
    return '{"m": "' + text + '"}'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_message(KEY.replace("/", "\\/")), {"m": "[redacted]"}),  # JSON's escaped "/"
        (_message("".join(f"\\u{ord(c):04x}" for c in KEY)), {"m": "[redacted]"}),
        (_message("k=" + quote(KEY, safe="").lower()), {"m": "k=[redacted]"}),
        ('{"h": {"Authorization": "Bearer other"}}', {"h": {"Authorization": "[redacted]"}}),
        ('{"m": "Authorization: Basic b3RoZXI="}', {"m": "Authorization: [redacted]"}),
        ('{"batch": [{"$set": "ok"}]}', {"batch": [{"$set": "ok"}]}),
    ],
)
def test_a_redactor_reads_every_spelling_in_an_answer(raw: str, expected: dict) -> None:
    assert Redactor(KEY).loads(raw.encode()) == expected


def test_a_text_answer_is_redacted_before_it_is_cut(echo: ThreadingHTTPServer) -> None:
    echo.mode = "cut"  # type: ignore[attr-defined]
    endpoint = f"http://127.0.0.1:{echo.server_port}/v1"
    with FynoClient("FYWS", KEY, endpoint=endpoint, max_retries=0) as client:
        outcome = client.post("set", b"{}")
    assert outcome.error == "HTTP 500: " + "x" * 190 + "[redacted] (after 1 attempt)"


# -- #11: what a network failure is called -------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_says_refused(closed_port: int) -> None:
    frame = pd.DataFrame({"id": ["u1"], "plan": ["pro"]})
    result = fyno_pandas.push(
        frame,
        "id",
        wsid="FYWS",
        api_key=KEY,
        endpoint=f"http://127.0.0.1:{closed_port}/v1",
        ledger=False,
        preview=False,
        progress=False,
        max_retries=0,
    )
    error = result["error"].iloc[0]
    assert "connection refused" in error
    assert "timed out" not in error


def test_a_refused_connection_through_a_session_says_refused(closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}/v1"
    session = requests.Session()
    with FynoClient("FYWS", KEY, endpoint=endpoint, session=session, max_retries=0) as client:
        outcome = client.post("set", b"{}")
    assert outcome.error == "connection refused (after 1 attempt)"


@pytest.mark.skipif(sys.platform != "linux", reason="a full accept queue drops SYNs on Linux")
def test_a_real_connect_timeout_is_still_a_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        waiting = [socket.socket() for _ in range(8)]  # fill the accept queue
        for sock in waiting:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        try:
            endpoint = f"http://127.0.0.1:{port}/v1"
            with FynoClient("FYWS", KEY, endpoint=endpoint, timeout=0.2, max_retries=0) as client:
                outcome = client.post("set", b"{}")
        finally:
            for sock in waiting:
                sock.close()
    assert outcome.error == "timed out after 0.2 s (after 1 attempt)"


def test_a_failed_dns_lookup_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(*args: object, **kw: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)  # no resolver is asked
    endpoint = "http://localhost:8000/v1"
    with FynoClient("FYWS", KEY, endpoint=endpoint, max_retries=0) as client:
        outcome = client.post("set", b"{}")
    assert outcome.error == "host name not found (DNS lookup failed) (after 1 attempt)"


# -- #14: plain http to loopback only --------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint", ["http://localhost:8000/v1", "http://127.0.0.2:1/v1", "http://[::1]:9/v1"]
)
def test_plain_http_to_localhost_and_literal_loopback_is_accepted(endpoint: str) -> None:
    assert check_endpoint(endpoint) == endpoint


@pytest.mark.parametrize(
    "endpoint", ["http://foo.localhost/v1", "http://localhost.evil.com", "http://a.b.localhost:80"]
)
def test_plain_http_to_a_name_under_localhost_is_refused(endpoint: str) -> None:
    with pytest.raises(FynoConfigError, match="plain http"):
        check_endpoint(endpoint)
