"""How a request's bytes travel to Fyno, and how a failure to get an answer is described.

Two transports with one interface, ``post(path, body) -> (status, body, Retry-After)`` and
``close()``: `Urllib3Transport`, urllib3's kept-open connections driven through the http.client
layer (the hot path: about a fifth of ``requests.Session.post``'s CPU per request), and
`RequestsTransport`, a ``requests.Session`` (the caller's, or one made when a proxy applies).
`fyno_pandas.client.http.FynoClient` picks one and retries through it; a transport never retries.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = [
    "NETWORK_ERRORS",
    "RequestsTransport",
    "Urllib3Transport",
    "describe_failure",
    "never_sent",
]

# Errors that mean "no usable answer": socket errors and timeouts (OSError), a connection closed
# before or during the answer (http.client), urllib3's wrappers of both, and requests' own.
NETWORK_ERRORS = (
    OSError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    requests.exceptions.RequestException,
)
_TIMEOUTS = (TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout)
# Raised for a refused connection, a failed DNS lookup or an unreachable host, yet a subclass of
# urllib3's ConnectTimeoutError: a timeout only when a TimeoutError lies under it.
_NEW_CONNECTION = urllib3.exceptions.NewConnectionError
_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

_putrequest = http.client.HTTPConnection.putrequest
_putheader = http.client.HTTPConnection.putheader
_endheaders = http.client.HTTPConnection.endheaders
_getresponse = http.client.HTTPConnection.getresponse


class Urllib3Transport:
    """Keep-alive urllib3 connections, one per concurrent caller, reused LIFO."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout: float, pool_size: int):
        parts = urlsplit(endpoint)
        self._base = parts.path.rstrip("/")
        self._headers = list(headers.items())
        self._pool_size = pool_size
        self._idle: list[HTTPConnection] = []
        if parts.scheme == "https":
            import certifi  # installed with requests; the same CA bundle requests uses

            self._new = lambda: HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, ca_certs=certifi.where()
            )
        else:
            self._new = lambda: HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)

    def post(self, path: str, body: bytes) -> tuple[int, bytes, str | None]:
        try:
            conn = self._idle.pop()  # list.pop is atomic: no lock needed
            if not conn.is_connected:  # the server closed it while idle: a new one, no retry
                conn.close()
        except IndexError:
            conn = self._new()
        try:
            # urllib3 made the connection (socket options, TLS and certificate checks in its
            # connect()); the framing is the http.client layer it inherits, called directly:
            # the answer skips urllib3's response wrapper (together about 40% of the CPU of
            # conn.request + conn.getresponse). http.client sends the headers and the body in
            # two sends (a cProfile of 20,000 requests counted 40,025 sendall calls).
            _putrequest(conn, "POST", self._base + path, skip_accept_encoding=True)
            for name, value in self._headers:
                _putheader(conn, name, value)
            _putheader(conn, "Content-Length", str(len(body)))
            _endheaders(conn, body)
            response = _getresponse(conn)
            data = response.read()
        except BaseException:
            conn.close()
            raise
        if len(self._idle) < self._pool_size:
            self._idle.append(conn)
        else:
            conn.close()
        return response.status, data, response.getheader("Retry-After")

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class RequestsTransport:
    """Requests through a ``requests.Session`` (the caller's, or ours when a proxy applies)."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout: float, session: Any):
        self._base = endpoint.rstrip("/")
        self._headers = headers
        self._timeout = timeout
        self._session = session

    def post(self, path: str, body: bytes) -> tuple[int, bytes, str | None]:
        response = self._session.post(
            self._base + path, data=body, headers=self._headers, timeout=self._timeout
        )
        return response.status_code, response.content, response.headers.get("Retry-After")

    def close(self) -> None:
        """The session belongs to whoever made it."""


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A short client-side reason (no URL with query, no headers: nothing secret).

    Read from the socket error under urllib3's and requests' wrappers.
    """
    chain = _causes(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "host name not found (DNS lookup failed)"
    if any(isinstance(e, _TIMEOUTS) and not isinstance(e, _NEW_CONNECTION) for e in chain):
        return f"timed out after {timeout:g} s"
    if any(isinstance(e, _CLOSED) for e in chain):
        return "connection closed without an answer"
    return f"connection error: {type(exc).__name__}"


def never_sent(exc: BaseException) -> bool:
    """True when the request certainly never reached the server (refused, DNS lookup failed)."""
    chain = _causes(exc)
    return any(isinstance(e, (ConnectionRefusedError, socket.gaierror)) for e in chain)


def _causes(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and what it wraps: causes, contexts and urllib3's ``MaxRetryError.reason``."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        reason = getattr(exc, "reason", None)
        exc = exc.__cause__ or (reason if isinstance(reason, BaseException) else exc.__context__)
    return chain
