"""The exceptions fyno_pandas raises: one small hierarchy.

::

    FynoPandasError                     every error this library raises on purpose
    ├── FynoConfigError (ValueError)    missing or malformed wsid, api key, version or endpoint
    ├── FynoInputError (ValueError)     the DataFrame or an argument breaks a rule
    │   │                               (``.column``, ``.row`` and ``.rule`` say which)
    │   └── FynoOptionError (TypeError) an option name the call does not take (a typo:
    │                                   the message names the closest option)
    ├── FynoAPIError                    Fyno answered with an error (``.status``, ``.message``)
    │   └── FynoAuthError               401/403: the key does not open this workspace
    ├── FynoConnectionError             no answer from Fyno after every retry
    ├── FynoLedgerError                 the local ledger file cannot be used
    └── PushInterrupted                 Ctrl-C during a push (``.result`` holds the partial result)

Messages never contain the API key.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FynoAPIError",
    "FynoAuthError",
    "FynoConfigError",
    "FynoConnectionError",
    "FynoInputError",
    "FynoLedgerError",
    "FynoOptionError",
    "FynoPandasError",
    "PushInterrupted",
]


class FynoPandasError(Exception):
    """Base class of every error raised by fyno_pandas."""


class FynoConfigError(FynoPandasError, ValueError):
    """A connection setting is missing or malformed; nothing was sent."""


class FynoInputError(FynoPandasError, ValueError):
    """The input breaks a rule; ``column``, ``row`` and ``rule`` locate it when known."""

    def __init__(
        self,
        message: str,
        *,
        column: Any = None,
        row: Any = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.row = row
        self.rule = rule


class FynoOptionError(FynoInputError, TypeError):
    """An option name the function does not take, as Python raises `TypeError` for one.

    The message names the closest option of any group (``did you mean 'concurrency'?``).
    """


class FynoAPIError(FynoPandasError):
    """Fyno answered with an error status.

    Attributes
    ----------
    status : int
        The HTTP status code.
    message : str
        Fyno's ``_message`` (or the start of the body when it is not JSON).
    request_id : str or None
        The request id, when the answer carried one.
    """

    def __init__(self, status: int, message: str, *, request_id: str | None = None) -> None:
        super().__init__(f"Fyno answered {status}: {message}")
        self.status = status
        self.message = message
        self.request_id = request_id


class FynoAuthError(FynoAPIError):
    """Fyno refused the credentials (401/403) for this workspace and version."""


class FynoConnectionError(FynoPandasError, ConnectionError):
    """Fyno could not be reached, or did not answer, after every retry."""


class FynoLedgerError(FynoPandasError):
    """The ledger database cannot be opened or written."""


class PushInterrupted(FynoPandasError):  # noqa: N818 (reads as an event, like KeyboardInterrupt)
    """A push was interrupted (Ctrl-C); ``result`` holds the rows' outcomes so far."""

    def __init__(self, result: Any) -> None:
        super().__init__(
            "push interrupted; the partial result is on .result (unsent rows 'pending')"
        )
        self.result = result
