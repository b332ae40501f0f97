"""The emulator's HTTP/1.1 layer: standard library ``http.server``, keep-alive, TCP_NODELAY.

Routes
------
- ``POST /v1/{WSID}/{live|test}/profiles/properties/{operation}`` for the operations in
  :data:`OPERATIONS` (``set``, ``set-once``, ``numerical-add``, ``list-append``, ``list-remove``,
  ``unset``, ``batch``): 202, 400, 401, 413, or a fault (429, 5xx, dropped connection).
- ``GET /__emulator/state``, ``POST /__emulator/config`` (JSON of ``configure()``'s arguments),
  ``POST /__emulator/reset``: control endpoints for tests and notebooks (no auth, not logged).
- Any other path 404; a known path with another method 405 (with ``Allow``).

Every error body is ``{"_message": ..., "status": "error"}``. Order of checks for an operation:
route, body size (413), faults (see :mod:`.faults`), Bearer key of the path's workspace (401),
JSON (400; ``NaN``/``Infinity`` are not JSON), body rules (400, see :mod:`.storage`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import Faults, Verdict
from .state import VERSIONS, EmulatorState
from .storage import OPERATIONS

__all__ = ["ALL_OPERATIONS", "EmulatorServer"]

ALL_OPERATIONS = frozenset([*OPERATIONS, "batch"])
_CONTROL = {"/__emulator/state": "GET", "/__emulator/config": "POST", "/__emulator/reset": "POST"}
_DRAIN_LIMIT = 64 * 1024 * 1024  # above this a refused body is not read: the connection closes
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100
_UNAUTHORIZED = b'{"_message": "Invalid API details", "status": "error"}'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _error(message: str) -> bytes:
    return json.dumps({"_message": message, "status": "error"}).encode()


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server holding the emulator's state and fault settings."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: EmulatorState, faults: Faults) -> None:
        self.state = state
        self.faults = faults
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name, which can take seconds offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is normal (timeouts, retries): no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Shut down open keep-alive connections so their handler threads end."""
        with self._connections_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):  # already closed by the peer
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # StreamRequestHandler sets TCP_NODELAY in setup()
    server: EmulatorServer
    raw_requestline: bytes  # set by handle_one_request before parse_request

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log lives in memory, not on stderr."""

    def parse_request(self) -> bool:
        """Request line and headers into ``self.headers``, a dict with lower-case names.

        Replaces http.server's version, whose email-package header parser is a sixth of the
        time of a request on loopback; this one splits lines and does nothing else.
        """
        self.command = ""  # until the request line is read (http.server uses None)
        self.close_connection = True
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = line
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(400, f"Bad request line {line[:100]!r}")
            return False
        self.command, self.path, self.request_version = words
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(_MAX_HEADER_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = str(raw, "iso-8859-1").partition(":")
            if len(raw) > _MAX_HEADER_LINE or len(headers) >= _MAX_HEADERS or not sep:
                self.send_error(431 if sep else 400, "Bad request headers")
                return False
            headers[name.strip().lower()] = value.strip()
        self.headers = headers  # type: ignore[assignment]  # a dict: only .get() is used
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    # -- answers ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, extra: str = "") -> None:
        phrase = HTTPStatus(status).phrase
        if self.close_connection:
            extra += "Connection: close\r\n"
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        # One write: with TCP_NODELAY, separate header and body writes cost a segment each.
        self.wfile.write(head.encode("latin-1") + (b"" if self.command == "HEAD" else body))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found by http.server itself (bad request line, unknown method) in our format."""
        self.close_connection = True
        self._send(code, _error(message or HTTPStatus(code).phrase))

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/411 for a bad length."""
        if self.headers.get("transfer-encoding"):
            self.close_connection = True
            self._send(411, _error("Content-Length is required"))
            return None
        length = self.headers.get("content-length")
        try:
            size = int(length) if length else 0
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            self._send(400, _error("Invalid Content-Length"))
            return None
        return self.rfile.read(size) if size else b""

    # -- routing ---------------------------------------------------------------------------
    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_OPTIONS(self) -> None:
        self._route("OPTIONS")

    def _route(self, method: str) -> None:
        path = self.path.partition("?")[0]
        parts = path.split("/")
        if (
            len(parts) == 7
            and parts[1] == "v1"
            and parts[2]
            and parts[3] in VERSIONS
            and parts[4] == "profiles"
            and parts[5] == "properties"
            and parts[6] in ALL_OPERATIONS
        ):
            if method == "POST":
                self._operation(path, parts[2], parts[3], parts[6])
            else:
                self._refuse(path, parts[6], 405)
        elif path in _CONTROL:
            self._control(path, method)
        else:
            self._refuse(path, None, 404)

    def _refuse(self, path: str, operation: str | None, status: int) -> None:
        """Answer 404/405 (after reading any body, so keep-alive stays in step) and log it."""
        if self._read_body() is None:
            return
        self._log(path, operation, None, None, status, 0, None, None)
        extra = "Allow: POST\r\n" if status == 405 else ""
        self._send(status, _error(HTTPStatus(status).phrase), extra)

    def _log(self, path, operation, wsid, version, status, size, body, request_id, fault=None):
        self.server.state.record(
            {
                "method": self.command,
                "path": path,
                "operation": operation,
                "wsid": wsid,
                "version": version,
                "status": status,
                "body_size": size,
                "body": body,
                "request_id": request_id,
                "fault": fault,
            }
        )

    # -- the property operations -------------------------------------------------------------
    def _operation(self, path: str, wsid: str, version: str, operation: str) -> None:
        where = (path, operation, wsid, version)  # how `_log` names the request
        if self._refused_too_large(where):
            return
        raw = self._read_body()
        if raw is None:
            return
        verdict = self.server.faults.before()
        if self._fault_before(where, verdict, len(raw)):
            return
        state = self.server.state
        if not state.authorized(wsid, self.headers.get("authorization")):
            self._log(*where, 401, len(raw), None, None)
            self._send(401, _UNAUTHORIZED)
            return
        try:
            body = _DECODER.decode(raw.decode("utf-8"))
        except ValueError:
            self._log(*where, 400, len(raw), None, None)
            self._send(400, _error("Request body is not valid JSON"))
            return
        status, answer = state.handle(wsid, version, operation, body, raw)
        self._answer(where, verdict, status, answer, body, len(raw))

    def _refused_too_large(self, where: tuple[str, str, str, str]) -> bool:
        """Answer 413 when the announced body is over the limit; drain it when that is cheap,
        so the connection can stay open."""
        length = self.headers.get("content-length")
        if not (length and length.isdigit() and int(length) > self.server.faults.max_body_bytes):
            return False
        size = int(length)
        if size <= _DRAIN_LIMIT:
            while size > 0:
                chunk = self.rfile.read(min(size, 1 << 20))
                if not chunk:
                    break
                size -= len(chunk)
        else:
            self.close_connection = True
        self._log(*where, 413, int(length), None, None)
        self._send(413, _error("Request body is too large"))
        return True

    def _fault_before(self, where: tuple[str, str, str, str], verdict: Verdict, size: int) -> bool:
        """Drop the request or answer its fault's status (nothing applied); False: no fault."""
        if verdict.drop:
            self._log(*where, None, size, None, None, "drop_before")
            self.close_connection = True
            return True
        if verdict.status is None:
            return False
        self._log(*where, verdict.status, size, None, None, "fault")
        if verdict.retry_after is not None:
            message = _error("Too many requests")
            self._send(429, message, f"Retry-After: {verdict.retry_after}\r\n")
        else:
            self._send(verdict.status, _error(HTTPStatus(verdict.status).phrase))
        return True

    def _answer(
        self,
        where: tuple[str, str, str, str],
        verdict: Verdict,
        status: int,
        answer: dict,
        body: Any,
        size: int,
    ) -> None:
        """Answer a handled request, unless a fault after it drops, fails or stalls the answer."""
        request_id = answer.get("request_id")
        logged = body if self.server.state.log_bodies else None
        after = self.server.faults.after(verdict) if status == 202 else None
        if after is None:
            self._log(*where, status, size, logged, request_id)
            self._send(status, json.dumps(answer).encode())
            return
        kind, arg = after
        shown = {"drop": None, "error": arg, "stall": status}[kind]
        self._log(*where, shown, size, logged, request_id, kind + "_after")
        if kind == "drop":
            self.close_connection = True
        elif kind == "error":
            self._send(arg, _error(HTTPStatus(arg).phrase))
        else:
            time.sleep(arg)
            self._send(status, json.dumps(answer).encode())

    # -- control endpoints -------------------------------------------------------------------
    def _control(self, path: str, method: str) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if method != _CONTROL[path]:
            self._send(405, _error("Method Not Allowed"), f"Allow: {_CONTROL[path]}\r\n")
            return
        server = self.server
        if path == "/__emulator/state":
            snapshot = server.state.snapshot()
            snapshot["faults"] = server.faults.settings
            self._send(200, json.dumps(snapshot).encode())
        elif path == "/__emulator/reset":
            server.state.reset()
            self._send(200, b'{"status": "ok"}')
        else:
            try:
                changes = _DECODER.decode(raw.decode("utf-8")) if raw else {}
                if not isinstance(changes, dict):
                    raise TypeError("the configuration should be a JSON object")
                settings = server.faults.configure(**changes)
            except (ValueError, TypeError) as exc:
                self._send(400, _error(str(exc)))
                return
            self._send(200, json.dumps(settings).encode())
