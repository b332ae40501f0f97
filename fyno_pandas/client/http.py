"""`FynoClient`: Fyno's property endpoints over HTTP, with timeouts, retries and error mapping.

``requests`` is the public face: pass your own ``requests.Session`` (proxies, certificates,
adapters) and every request goes through it. Without one (and without a proxy in the
environment for the endpoint) the hot path goes two layers down: connections urllib3 opens (the
library ``requests`` ships with), kept open and reused across requests, each request written
and its answer read by `fyno_pandas.client.transport` itself: about a twentieth of
``Session.post``'s CPU per request, which is what lets a push keep 16-32 connections busy from
one Python thread pool (see ``benchmarks/push_throughput.py`` and ``client_cpu.py``). Both
transports, and how a network failure is described, are in `fyno_pandas.client.transport`.

The retry rule is in `fyno_pandas.options.retry`, and what it decides after each attempt in
`fyno_pandas.client.retries` (pure); the status -> exception mapping is `error_for`.
`FynoClient.post` never raises for an HTTP or network failure: it returns an `Outcome`, which is
what the sender records per row. The API key is sent in the ``Authorization`` header only; it is
never in a repr, a log line, an exception or an `Outcome`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests

from ..errors import FynoAPIError, FynoAuthError, FynoConnectionError, FynoInputError
from ..options import checks
from ..options.model import OPTIONS
from ..options.retry import (
    LOST,
    NOT_SENT,
    OK,
    THROTTLED,
    RetryPolicy,
    classify_status,
    parse_retry_after,
)
from .concurrency import ConcurrencyLimit
from .config import FynoConfig
from .ratelimit import RateLimiter
from .redact import Redactor
from .retries import RETRY_AFTER, SENT, Attempt, Decision, Ending, decide
from .transport import (
    NETWORK_ERRORS,
    RequestsTransport,
    Urllib3Transport,
    describe_failure,
    never_sent,
)

__all__ = ["BatchResult", "FynoClient", "Outcome", "error_for"]

log = logging.getLogger("fyno_pandas")

OPERATIONS = ("set", "set-once", "numerical-add", "list-append", "list-remove", "unset", "batch")


@dataclass(slots=True)
class Outcome:
    """What became of one request, after every retry.

    Attributes
    ----------
    status : str
        ``"sent"`` (Fyno answered 2xx), ``"failed"``, ``"pending"`` (stopped before an answer)
        or ``"in_doubt"`` (a request that is not idempotent may have been applied: not resent).
    http_status : int or None
        The last answer's status (None when the last attempt got no answer).
    request_id : str or None
    attempts : int
        Requests made, retries and 429s included.
    error : str or None
        Fyno's ``_message`` or the client-side reason.
    json : Any
        The last answer's parsed body (None when it was not JSON).
    retries, throttled : int
        Retries after errors, and 429 answers.
    """

    status: str
    http_status: int | None
    request_id: str | None
    attempts: int
    error: str | None
    json: Any = None
    retries: int = 0
    throttled: int = 0

    @property
    def ok(self) -> bool:
        """True when Fyno accepted the request."""
        return self.status == "sent"


@dataclass(frozen=True)
class BatchResult:
    """The answer to a ``properties/batch`` request: its id and one status object per item."""

    request_id: str | None
    statuses: list[Any]


def error_for(status: int | None, message: str | None, config: FynoConfig, **kw: Any) -> Exception:
    """The exception for a failed request: the one place statuses become exception types.

    Parameters
    ----------
    status : int or None
        The HTTP status, None when no answer came (network error or timeout).
    message : str or None
        Fyno's ``_message`` or the client-side reason.
    config : FynoConfig
        Names the workspace, version and endpoint in auth errors (never the key).
    request_id : str, optional
        Passed to `FynoAPIError`.
    result : pandas.DataFrame, optional
        The partial result of the push the failure stopped (the error's ``result``).
    """
    exc: FynoAPIError | FynoConnectionError
    if status is None:
        exc = FynoConnectionError(f"no answer from {config.endpoint}: {message}")
    elif status in (401, 403):
        exc = auth_error(status, message, config, request_id=kw.get("request_id"))
    else:
        exc = FynoAPIError(status, message or "", request_id=kw.get("request_id"))
    exc.result = kw.get("result")
    return exc


def auth_error(
    status: int, message: str | None, config: FynoConfig, request_id: str | None = None
) -> FynoAuthError:
    """The `FynoAuthError` of a 401 or 403: it names the workspace, version and endpoint (never
    the key)."""
    destination = f"workspace {config.wsid!r} ({config.version}) at {config.endpoint}"
    return FynoAuthError(status, message or "", destination=destination, request_id=request_id)


def _message_of(status: int, data: Any, raw: bytes, redact: Redactor) -> str:
    if isinstance(data, dict) and isinstance(data.get("_message"), str):
        return data["_message"]  # redacted with the rest of data
    # Parsed JSON, not raw (an escape "\/" hides the key); redacted before a cut through the key.
    body = raw.decode("utf-8", "replace") if data is None else json.dumps(data, ensure_ascii=False)
    text = redact(body)[:200].strip()
    return f"HTTP {status}" + (f": {text}" if text else "")


class FynoClient:
    """A reusable client for Fyno's user-property endpoints.

    Parameters
    ----------
    wsid, api_key, version, endpoint : str, optional
        As `FynoConfig.resolve` (``FYNO_*`` environment variables otherwise).
    session : requests.Session, optional
        Send through this session (its proxies, certificates and adapters apply).
    timeout : float, default 30
        Seconds allowed for connecting and for each read (at most `MAX_TIMEOUT`, 3600).
    max_retries : int, default 8
        Retries of connection errors, timeouts and 5xx (429s are counted apart).
    pool_size : int, default 16
        Connections kept open between requests.
    retry_policy : RetryPolicy, optional
        Backoff and 429 settings; ``max_retries`` overrides its own.
    limiter : RateLimiter, optional
        Shared request-rate limiter; by default an uncapped one that adapts to 429 answers.
    slots : ConcurrencyLimit, optional
        The requests in flight, shared by the workers of a push: a request that waits out a
        429 or a backoff lends its slot meanwhile, and accepted round trips are reported to it
        (by default ``pool_size`` slots, fixed).
    config : FynoConfig, optional
        A resolved configuration (instead of wsid, api_key, version, endpoint).
    """

    def __init__(
        self,
        wsid: str | None = None,
        api_key: str | None = None,
        version: str | None = None,
        endpoint: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        max_retries: int = 8,
        pool_size: int = 16,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        slots: ConcurrencyLimit | None = None,
        config: FynoConfig | None = None,
    ) -> None:
        if config is None:
            config = FynoConfig.resolve(wsid, api_key, version, endpoint)
        self.config = config.require()
        OPTIONS["timeout"].check("timeout", timeout)  # type: ignore[misc]
        checks.integer(1)("pool_size", pool_size)
        checks.retry_policy("retry_policy", retry_policy)
        self.timeout = float(timeout)
        self.policy = replace(retry_policy or RetryPolicy(), max_retries=max_retries)
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.slots = slots if slots is not None else ConcurrencyLimit(pool_size)
        headers = {
            "Authorization": f"Bearer {config.api_key}",
            "Content-Type": "application/json",
            "User-Agent": "fyno_pandas",
        }
        prefix = f"/{config.wsid}/{config.version}/profiles/properties/"
        self._paths = {op: prefix + op for op in OPERATIONS}
        proxied = bool(requests.utils.get_environ_proxies(config.endpoint))
        if session is not None or proxied:
            self._owned_session = requests.Session() if session is None else None
            use = session if session is not None else self._owned_session
            self._transport: Any = RequestsTransport(config.endpoint, headers, self.timeout, use)
        else:
            self._owned_session = None
            self._transport = Urllib3Transport(config.endpoint, headers, self.timeout, pool_size)
        self._local = threading.local()  # one jitter source per thread: no lock, no shared state
        # Every answer's text passes through it: a proxy may echo the Authorization header.
        self._redact = Redactor(config.api_key)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"FynoClient({self.config.label})"

    def __enter__(self) -> FynoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept-open connections (and the session the client made itself)."""
        self._transport.close()
        if self._owned_session is not None:
            self._owned_session.close()

    def post(
        self,
        operation: str,
        body: bytes,
        *,
        stop: threading.Event | None = None,
        idempotent: bool = True,
    ) -> Outcome:
        """Send one request with retries; never raises for HTTP or network failures.

        Parameters
        ----------
        operation : str
            ``set``, ``unset``, ``batch``, ... (the path's last segment).
        body : bytes
            The JSON body, already encoded.
        stop : threading.Event, optional
            When set, no further attempt is made and waits are cut short; the outcome is then
            ``pending`` unless an answer already settled it.
        idempotent : bool, default True
            False for an add or an append: an attempt that may have been applied (timeout,
            connection closed, 5xx) is not resent and the outcome is ``in_doubt``
            (`fyno_pandas.options.retry.may_resend`).
        """
        path = self._paths[operation]
        first = time.monotonic()
        ending, data = Ending(None, "not sent"), None
        attempts = retries = throttled = 0
        while True:
            if stop is not None and stop.is_set():
                error = f"stopped: {ending.error}"
                return Outcome(
                    "pending", ending.status, None, attempts, error, None, retries, throttled
                )
            if not self.limiter.acquire(stop):
                continue  # stopped while waiting for a slot: the check above returns
            attempts += 1
            ending, data = self._send(operation, path, body, attempts)
            elapsed = time.monotonic() - first
            attempt = Attempt(ending, attempts, retries, throttled, elapsed, len(body))
            decision = decide(attempt, self.policy, idempotent, self._rng())
            retries, throttled = decision.retries, decision.throttled
            if decision.action != RETRY_AFTER:
                return _outcome(decision, ending.status, data, attempts)
            if decision.wait is not None:
                self.slots.sleep(decision.wait, stop)

    def _send(self, operation: str, path: str, body: bytes, attempt: int) -> tuple[Ending, Any]:
        """One attempt, and the answer's parsed body; the answer is reported to the rate limiter
        and the concurrency limit."""
        sent_at = time.monotonic()
        try:
            status, raw, retry_after = self._transport.post(path, body)
        except NETWORK_ERRORS as exc:
            error = describe_failure(exc, self.timeout)
            log.debug("%s attempt %d: %s", operation, attempt, error)
            return Ending(None, error, NOT_SENT if never_sent(exc) else LOST), None
        try:
            data = self._redact.loads(raw) if raw else None
        except ValueError:
            data = None
        kind = classify_status(status)
        if kind == OK:
            self.limiter.on_success()
            self.slots.observe(time.monotonic() - sent_at)
            return Ending(status), data
        error = _message_of(status, data, raw, self._redact)
        log.debug("%s attempt %d: HTTP %d %s", operation, attempt, status, error)
        if kind != THROTTLED:
            return Ending(status, error), data
        wait = parse_retry_after(retry_after, cap=self.policy.retry_after_cap)
        paused = self.limiter.on_throttle(wait, sent_at)
        return Ending(status, error, retry_after=wait, paused=paused), data

    def _rng(self) -> Any:
        rng = getattr(self._local, "rng", None)
        if rng is None:
            rng = self._local.rng = self.policy.rng()
        return rng

    def _checked(self, operation: str, body: bytes) -> Outcome:
        outcome = self.post(operation, body)
        if not outcome.ok:
            raise error_for(outcome.http_status, outcome.error, self.config)
        return outcome

    def set_properties(self, distinct_id: str, values: dict[str, Any]) -> str:
        """``properties/set`` for one user; returns the request id.

        Raises
        ------
        FynoInputError
            For an empty ``values`` or a value JSON cannot carry (NaN, infinity).
        FynoAuthError, FynoAPIError, FynoConnectionError
            When Fyno refuses the request or cannot be reached after every retry.
        """
        if not isinstance(values, Mapping):
            raise FynoInputError(f"values must map property names to values, not {values!r}")
        if not values:
            raise FynoInputError("values must name at least one property", rule="empty_row")
        body = _dumps({"distinct_id": _check_id(distinct_id), "$set": dict(values)})
        return self._checked("set", body).request_id or ""

    def unset_properties(self, distinct_id: str, names: list[str]) -> str:
        """``properties/unset`` for one user; returns the request id."""
        if (
            not isinstance(names, list | tuple)
            or not names
            or not all(isinstance(n, str) for n in names)
        ):
            raise FynoInputError(f"names must be a non-empty list of property names, not {names!r}")
        body = _dumps({"distinct_id": _check_id(distinct_id), "$unset": list(names)})
        return self._checked("unset", body).request_id or ""

    def batch(self, items: list[dict[str, Any]]) -> BatchResult:
        """``properties/batch``: items ``{"distinct_id": ..., "action": {"$set": {...}}}``.

        Returns
        -------
        BatchResult
            The request id and one status object per item, in order (``{"$set": "ok"}`` when
            the item was accepted).
        """
        if not isinstance(items, list | tuple) or not items:
            raise FynoInputError(f"a batch needs a non-empty list of items, not {items!r}")
        outcome = self._checked("batch", _dumps({"batch": list(items)}))
        statuses = outcome.json.get("batch", []) if isinstance(outcome.json, dict) else []
        return BatchResult(outcome.request_id, list(statuses))


def _outcome(decision: Decision, status: int | None, data: Any, attempts: int) -> Outcome:
    """The request's outcome when ``decision`` ends it; ``status`` and ``data`` are the last
    answer's."""
    sent = decision.action == SENT
    request_id = data.get("request_id") if sent and isinstance(data, dict) else None
    return Outcome(
        decision.action,
        status,
        request_id,
        attempts,
        decision.error,
        data,
        decision.retries,
        decision.throttled,
    )


def _check_id(distinct_id: Any) -> str:
    if not isinstance(distinct_id, str) or not distinct_id:
        raise FynoInputError(f"distinct_id must be a non-empty string, not {distinct_id!r}")
    return distinct_id


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise FynoInputError(f"the body cannot be sent as JSON: {exc}") from None
