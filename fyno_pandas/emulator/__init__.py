"""A local stand-in for Fyno's user-property API: a real HTTP/1.1 server on loopback.

Three ways to start it::

    from fyno_pandas.emulator import FynoEmulator

    with FynoEmulator(seed=0) as fyno:          # background thread, free port
        push(df, "user_id", wsid=fyno.wsid, api_key=fyno.api_key, endpoint=fyno.endpoint)
        fyno.profiles, fyno.property_types, fyno.requests

    fyno = FynoEmulator().start()               # notebooks: keep it running across cells
    fyno.stop()

    python -m fyno_pandas.emulator --port 8765  # prints export FYNO_ENDPOINT=... lines

The storage and typing rules are in :mod:`.storage`, the fault injection in :mod:`.faults`, the
HTTP routes in :mod:`.server`. This package imports nothing else from fyno_pandas: it is an
independent reading of Fyno's documentation that the client is tested against.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .faults import DEFAULTS as FAULT_DEFAULTS
from .faults import Faults
from .server import EmulatorServer
from .state import EmulatorState, copy_store

__all__ = ["DEFAULT_API_KEY", "DEFAULT_WSID", "FAULT_DEFAULTS", "FynoEmulator", "StoreView"]

DEFAULT_WSID = "FYEMULATOR"
DEFAULT_API_KEY = "emulator-key"  # fixed, so that notebook outputs are stable


@dataclass(frozen=True)
class StoreView:
    """A snapshot of one (workspace, version): its profiles and its property types."""

    profiles: dict[str, dict[str, Any]]
    property_types: dict[str, str]


class FynoEmulator:
    """Fyno's user-property API on a local port, with inspection and fault injection.

    Parameters
    ----------
    workspaces
        ``{wsid: api_key}``; default ``{"FYEMULATOR": "emulator-key"}``. The first one is
        :attr:`wsid` / :attr:`api_key`.
    seed
        Makes request ids and fault draws deterministic.
    host, port
        Where to listen; port 0 picks a free port.
    log_bodies
        Keep each request's parsed body in :attr:`requests` (off saves memory in long runs).
    **faults
        Initial fault settings, the arguments of :meth:`configure`.
    """

    def __init__(
        self,
        workspaces: dict[str, str] | None = None,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_bodies: bool = True,
        **faults: Any,
    ) -> None:
        workspaces = dict(workspaces) if workspaces else {DEFAULT_WSID: DEFAULT_API_KEY}
        self.seed = seed
        self.host = host
        self.port = port
        self.wsid, self.api_key = next(iter(workspaces.items()))
        self._state = EmulatorState(workspaces, seed=seed, log_bodies=log_bodies)
        self._faults = Faults(seed=seed, **faults)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FynoEmulator:
        """Bind the port and serve from a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = EmulatorServer((self.host, self.port), self._state, self._faults)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fyno-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FynoEmulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "not running"
        return f"FynoEmulator({where}, wsid={self.wsid!r})"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> str:
        """The base URL to pass as ``endpoint``, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return f"http://{self.host}:{self.port}/v1"

    # -- inspection ------------------------------------------------------------------------
    def store(self, wsid: str | None = None, version: str = "live") -> StoreView:
        """A snapshot of one workspace's profiles and property types (default workspace, live)."""
        key = (wsid or self.wsid, version)
        if key not in self._state.stores:
            raise KeyError(f"no workspace {key[0]!r} with version {version!r}")
        with self._state.lock:
            copied = copy_store(self._state.stores[key])
        return StoreView(copied["profiles"], copied["property_types"])

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        """``{distinct_id: {prop: value}}`` of the default workspace, live (a copy)."""
        return self.store().profiles

    @property
    def property_types(self) -> dict[str, str]:
        """``{prop: fyno type}`` of the default workspace, live (a copy)."""
        return self.store().property_types

    @property
    def requests(self) -> list[dict[str, Any]]:
        """One dict per request: method, path, operation, wsid, version, status, body_size,
        body, request_id, fault (None, "fault" for an injected 429/5xx, "drop_before",
        "drop_after"; dropped requests have status None)."""
        with self._state.lock:
            return list(self._state.log)

    def state(self) -> dict[str, Any]:
        """What ``GET /__emulator/state`` answers: workspaces, requests, faults."""
        snapshot = self._state.snapshot()
        snapshot["faults"] = self._faults.settings
        return snapshot

    # -- control ---------------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings at run time (thread-safe); unnamed settings keep their value.

        Settings (defaults): latency=0.0, jitter=0.0 (seconds), rate_limit=None (requests/s),
        rate_burst=None (max(1, rate_limit/10)), error_rate=0.0, error_statuses=(500, 502, 503),
        error_requests=() (numbers of the requests that answer an error),
        throttle_rate=0.0, drop_before_rate=0.0, drop_after_rate=0.0, drop_after_requests=(),
        error_after_rate=0.0, error_after_requests=() (applied, then answered 5xx),
        stall_after_requests=() (applied, answer held stall_seconds=30.0),
        max_body_bytes=1_000_000 (see :mod:`.faults`).
        ``configure(**FAULT_DEFAULTS)`` turns every fault off. Returns all current settings.
        """
        return self._faults.configure(**changes)

    @property
    def faults(self) -> dict[str, Any]:
        """The current fault settings."""
        return self._faults.settings

    def reset(self) -> None:
        """Forget profiles, property types and the request log (fault settings stay)."""
        self._state.reset()
