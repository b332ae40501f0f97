"""`connect`: name the destination (and the ledger) once, for every later plan and push.

Settings are looked up in this order: an explicit argument, then the innermost `connect` that
names the setting, then the ``FYNO_*`` environment variables, then the defaults. `connect` is a
plain call (it holds until the next one replaces it, or `disconnect`) and a context manager (the
settings hold inside the ``with`` block only). Connections live in the process, not in a
``contextvars`` context: Jupyter runs each cell in a context of its own, and a notebook's
``connect`` must hold in its later cells and in the threads a push starts.
"""

from __future__ import annotations

import threading
from typing import Any

from ..options.model import Destination, names

__all__ = ["Connection", "connect", "connected", "disconnect"]

#: What a connection can name: the destination, and the ledger.
SETTINGS = (*names(Destination), "ledger")

_lock = threading.Lock()
_stack: list[Connection] = []


class Connection:
    """The settings of one `connect` call; a context manager. ``repr`` never shows the key."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = {k: v for k, v in settings.items() if v is not None}

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            if self in _stack:
                _stack.remove(self)

    def __repr__(self) -> str:
        shown = {k: ("<hidden>" if k == "api_key" else v) for k, v in self.settings.items()}
        return f"Connection({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def connect(
    target: Any = None,
    *,
    wsid: str | None = None,
    api_key: str | None = None,
    version: str | None = None,
    endpoint: str | None = None,
    ledger: Any = None,
) -> Connection:
    """Send every later plan and push to this destination, unless a call names another.

    Parameters
    ----------
    target : object, optional
        Anything with ``wsid``, ``api_key`` and ``endpoint`` attributes (and, optionally,
        ``version``): a `fyno_pandas.emulator.FynoEmulator`, a `FynoConfig`, your own settings.
    wsid, api_key, version, endpoint : str, optional
        As the options of `fyno_pandas.push`; they win over ``target``'s.
    ledger : Ledger, str, path or False, optional
        The ledger every later plan and push uses (False: none).

    Returns
    -------
    Connection
        Use it in a ``with`` block to scope the settings to the block.

    Examples
    --------
    >>> fyno_pandas.connect(wsid="FYXXXXXXXX", api_key=key, ledger="users.sqlite")
    >>> with fyno_pandas.connect(emulator):
    ...     users.fyno.push("user_id")
    """
    settings = {name: getattr(target, name, None) for name in names(Destination)} if target else {}
    named = {"wsid": wsid, "api_key": api_key, "version": version, "endpoint": endpoint}
    settings.update({k: v for k, v in named.items() if v is not None})
    settings["ledger"] = ledger
    connection = Connection(settings)
    with _lock:
        _stack.append(connection)
    return connection


def disconnect() -> None:
    """Forget every connection: settings come from arguments and ``FYNO_*`` again."""
    with _lock:
        _stack.clear()


def connected(name: str) -> Any:
    """The innermost connection's value of setting ``name``, or None."""
    with _lock:
        for connection in reversed(_stack):
            if name in connection.settings:
                return connection.settings[name]
    return None
