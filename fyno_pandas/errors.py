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
    └── FynoSourceError                 a source could not be read: a database or its query
                                        (the driver's message, the URL's password masked), or
                                        an Arrow stream that failed half way

    KeyboardInterrupt
    └── PushInterrupted                 Ctrl-C during a push (``.result`` holds the partial
                                        result); not a FynoPandasError, so that
                                        ``except Exception`` never swallows Ctrl-C

Messages never contain the API key, nor a database URL's password. In IPython and Jupyter
these errors show as their message and one line saying how to see the whole traceback
(`FynoPandasError._render_traceback_`): they say what to change in the caller's code, which
the library's frames do not.
``FYNO_PANDAS_TRACEBACK=full`` in the environment shows every frame instead.
"""

from __future__ import annotations

import os
import traceback
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
    "FynoSourceError",
    "PushInterrupted",
]


class FynoPandasError(Exception):
    """Base class of every error raised by fyno_pandas.

    Attributes
    ----------
    result : pandas.DataFrame, dict or None
        The rows' outcomes so far when the error stopped a push (a streamed push's summary),
        else None.
    """

    result: Any = None

    def _render_traceback_(self) -> list[str]:
        """How IPython shows this error: its message first, then how to see every frame (all
        of them with ``FYNO_PANDAS_TRACEBACK=full``)."""
        if os.environ.get("FYNO_PANDAS_TRACEBACK", "").strip().lower() == "full":
            return "".join(traceback.format_exception(self)).splitlines()
        return [
            f"{type(self).__name__}: {self}",
            "(the full traceback: %env FYNO_PANDAS_TRACEBACK=full, then run the cell again)",
        ]

    def with_result(self, result: Any) -> FynoPandasError:
        """This error, now carrying ``result`` (the push's outcome so far, completed)."""
        self.result = result
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, vars(self))


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
    """Fyno refused the credentials (401/403) for this workspace and version.

    Attributes
    ----------
    refusal : str
        What Fyno refused, for whom, without advice: the command line adds its own (it names
        its environment variables, and takes no ``api_key=``).
    """

    ADVICE = (
        "check the API key and workspace "
        "(FYNO_API_KEY / FYNO_WSID, or fyno_pandas.connect(api_key=..., wsid=...))"
    )

    def __init__(
        self, status: int, message: str, *, destination: str, request_id: str | None = None
    ) -> None:
        super().__init__(status, message, request_id=request_id)
        answer = f"{status} {message}".strip()
        self.refusal = f"Fyno refused the API key for {destination} ({answer})"
        self.args = (f"{self.refusal}: {self.ADVICE}",)


class FynoConnectionError(FynoPandasError, ConnectionError):
    """Fyno could not be reached, or did not answer, after every retry."""


class FynoLedgerError(FynoPandasError):
    """The ledger database cannot be opened or written."""


class FynoSourceError(FynoPandasError):
    """A source could not be read: a database could not be reached or its query failed (the
    driver's error is not chained, since its text may hold the URL's password), or an Arrow
    stream failed while it was read."""


class PushInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a push; ``result`` holds every row's outcome so far.

    A `KeyboardInterrupt` (and not a `FynoPandasError`), so that "Run All" and scripts stop
    here as they would on any Ctrl-C, and ``except Exception`` never swallows it.
    """

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result

    def with_result(self, result: Any) -> PushInterrupted:
        """This interruption, now carrying ``result`` (the push's outcome so far, completed)."""
        self.result = result
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, vars(self))

    def __str__(self) -> str:  # read when shown: the result's in-doubt rows are settled later
        return _interrupted_message(self.result)


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An error unpickled as it was raised (a Dask or Spark worker's, on the driver): its
    ``__init__`` takes other arguments than the ``args`` it leaves, so it is not called."""
    error = cls.__new__(cls)
    error.args = args
    vars(error).update(state)
    return error


def _interrupted_message(result: Any) -> str:
    """One line: what is left, and how to finish it without resending what was acknowledged."""
    statuses = result["status"] if hasattr(result, "columns") else None
    if statuses is None:  # a streamed push's summary (the rows went to the output file)
        left = {s: int(result.get(s, 0)) for s in ("pending", "in_doubt")}
        ledger = result.get("push_id") is not None
    else:
        left = {s: int((statuses == s).sum()) for s in ("pending", "in_doubt")}
        ledger = result.attrs.get("fyno", {}).get("push_id") is not None
    how = (
        "running the same push again resumes it without resending what was acknowledged"
        if ledger
        else "retry_failed(df, exc.result, id_col) sends the pending rows"
    )
    doubt = f", {left['in_doubt']} in doubt" if left["in_doubt"] else ""
    return f"push interrupted: {left['pending']} rows pending (not sent){doubt}; {how}"
