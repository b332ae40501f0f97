"""How a request's bytes travel to Fyno, and how a failure to get an answer is described.

Two transports with one interface, ``post(path, body) -> (status, body, Retry-After)`` and
``close()``: `Urllib3Transport`, kept-open connections that urllib3 opens (socket options, TLS,
certificate checks), each request written in one send and its answer read by `read_answer`
(the hot path), and `RequestsTransport`, a ``requests.Session`` (the caller's, or one made when a
proxy applies). `fyno_pandas.client.http.FynoClient` picks one and retries through it; a
transport never retries.

On loopback, in one thread, a request costs `Urllib3Transport` 20-28 us of CPU, where
``requests.Session.post`` costs about 580 us and http.client's own framing (some 300 Python
calls per request: a head built header by header and sent apart from the body, a new reader and
an email-package parse of every answer's head) cost 77-95 us.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import SplitResult, quote, urlsplit

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from ..errors import FynoConnectionError

__all__ = [
    "NETWORK_ERRORS",
    "Answer",
    "AnswerError",
    "NoAnswerError",
    "RequestsTransport",
    "Urllib3Transport",
    "describe_failure",
    "never_sent",
    "read_answer",
]


class AnswerError(FynoConnectionError):
    """No usable answer: one that breaks HTTP's framing, or none (`NoAnswerError`). The request
    may have been applied; `fyno_pandas.client.http.FynoClient` retries it or holds it in doubt
    (it never reaches a caller)."""


class NoAnswerError(AnswerError):
    """The connection closed before an answer began."""


# Errors that mean "no usable answer": socket errors and timeouts (OSError, and so AnswerError),
# a connection closed before or during the answer (http.client), urllib3's wrappers of both, and
# requests' own.
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
_CLOSED = (NoAnswerError, http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

_MAX_LINE = 65536  # bytes of a status or header line, as http.client allows
_MAX_FIELDS = 100  # header fields of an answer, as http.client allows
_NO_BODY = (204, 304)
_END_OF_HEAD = (b"\r\n", b"\n", b"")  # the empty line, or the connection's end


class Urllib3Transport:
    """Keep-alive connections made by urllib3, one per concurrent caller, reused LIFO."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout: float, pool_size: int):
        parts = urlsplit(endpoint)
        self._base = parts.path.rstrip("/")
        self._fields = _header_lines(parts, headers)
        self._heads: dict[str, bytes] = {}  # per path, the request's head up to its length
        self._pool_size = pool_size
        self._idle: list[_Kept] = []
        if parts.scheme == "https":
            import certifi  # installed with requests; the same CA bundle requests uses

            self._new = lambda: HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, ca_certs=certifi.where()
            )
        else:
            self._new = lambda: HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)

    def post(self, path: str, body: bytes) -> tuple[int, bytes, str | None]:
        try:
            kept = self._idle.pop()  # list.pop is atomic: no lock needed
            if not kept.conn.is_connected:  # the server closed it while idle: a new one, no retry
                kept.close()
                kept = _Kept(self._new())
        except IndexError:
            kept = _Kept(self._new())
        try:
            # The head and the body in one send: with TCP_NODELAY two sends cost a segment each
            kept.conn.sock.sendall(self._head(path) + b"%d\r\n\r\n" % len(body) + body)
            answer = read_answer(kept.answers)
        except BaseException:
            kept.close()
            raise
        if answer.kept_open and len(self._idle) < self._pool_size:
            self._idle.append(kept)
        else:
            kept.close()
        return answer.status, answer.body, answer.fields.get("retry-after")

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            # a space or any byte outside ASCII would break the request line: escaped
            target = quote(self._base + path, safe="/%")
            head = f"POST {target} HTTP/1.1\r\n".encode() + self._fields + b"Content-Length: "
            self._heads[path] = head
        return head

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class _Kept:
    """A connection urllib3 made (its socket options, TLS and certificate checks) and the reader
    of its answers, kept together from connect to close."""

    __slots__ = ("answers", "conn")

    def __init__(self, conn: HTTPConnection) -> None:
        conn.connect()
        self.conn, self.answers = conn, conn.sock.makefile("rb")

    def close(self) -> None:
        self.answers.close()  # the socket stays open while a reader of it is
        self.conn.close()


def _header_lines(parts: SplitResult, headers: dict[str, str]) -> bytes:
    """The header lines every request carries: ``Host`` (as http.client writes it), then
    ``headers`` (no line break in them: `fyno_pandas.client.config` refuses such a key)."""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    fields = {"Host": host if parts.port in (None, default) else f"{host}:{parts.port}", **headers}
    return "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode("latin-1")


class Answer(NamedTuple):
    """One HTTP answer: its status, body, header fields (names in lower case), and whether
    the connection may carry the next request."""

    status: int
    body: bytes
    fields: dict[str, str]
    kept_open: bool


def read_answer(answers: BinaryIO) -> Answer:
    """One HTTP/1.1 answer from ``answers``, its body read by ``Content-Length``, chunked, or
    up to the end of the connection; informational (1xx) answers before it are skipped.

    Raises
    ------
    AnswerError
        `NoAnswerError` when the connection closed before an answer, else for an answer that breaks
        HTTP's framing (status line, line lengths, body shorter than announced).
    """
    status, version, fields = _read_head(answers)
    while 100 <= status < 200:
        status, version, fields = _read_head(answers)
    connection = fields.get("connection", "").lower()
    kept_open = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if status in _NO_BODY:
        return Answer(status, b"", fields, kept_open)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return Answer(status, _read_chunked(answers), fields, kept_open)
    length = fields.get("content-length")
    if length is None:  # the body ends where the connection does
        return Answer(status, answers.read(), fields, False)
    if not length.isdigit():
        raise AnswerError("its Content-Length is not a length")
    return Answer(status, _read_exactly(answers, int(length)), fields, kept_open)


def _read_head(answers: BinaryIO) -> tuple[int, str, dict[str, str]]:
    """The status, the HTTP version and the header fields of one answer."""
    line = answers.readline(_MAX_LINE + 1)
    if not line:
        raise NoAnswerError("the connection closed before an answer")
    version, _, rest = line.decode("iso-8859-1").partition(" ")
    code = rest[:3]
    if not (version.startswith("HTTP/") and code.isascii() and code.isdigit()):
        raise AnswerError("it does not start with an HTTP status line")
    lines = []
    while (raw := answers.readline(_MAX_LINE + 1)) not in _END_OF_HEAD:
        if len(raw) > _MAX_LINE or len(lines) >= _MAX_FIELDS:
            raise AnswerError(f"its head is longer than {_MAX_FIELDS} lines of {_MAX_LINE} bytes")
        lines.append(raw.decode("iso-8859-1").partition(":"))
    return int(code), version, {name.strip().lower(): value.strip() for name, _, value in lines}


def _read_chunked(answers: BinaryIO) -> bytes:
    """A body in chunked transfer coding, its trailer fields read past."""
    parts = []
    while True:
        size = answers.readline(_MAX_LINE + 1).split(b";", 1)[0].strip()
        try:
            count = int(size, 16)
        except ValueError:
            raise AnswerError("a chunk's size is not a hexadecimal number") from None
        if count <= 0:
            break
        parts.append(_read_exactly(answers, count))
        _read_exactly(answers, 2)  # the chunk's CRLF
    while answers.readline(_MAX_LINE + 1) not in _END_OF_HEAD:
        pass
    return b"".join(parts)


def _read_exactly(answers: BinaryIO, count: int) -> bytes:
    data = answers.read(count)
    if len(data) < count:
        raise AnswerError(f"its body ended {count - len(data)} bytes early")
    return data


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
    if isinstance(exc, AnswerError):
        return f"an answer HTTP cannot read: {exc}"
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
