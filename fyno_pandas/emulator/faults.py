"""Fault injection for the emulator: latency, a token-bucket rate limit, random errors and drops.

Faults apply to requests that reach a property operation (a known ``/v1/...`` path and method),
as a gateway in front of Fyno would: after routing (404/405) and the body-size check (413), before
authentication and body validation. Per request, in this order:

1. sleep ``latency + uniform(0, jitter)`` seconds;
2. ``rate_limit`` (requests/s, token bucket holding ``rate_burst`` tokens, default
   ``max(1, rate_limit / 10)``): without a token, 429 with ``Retry-After`` = the whole seconds
   until the next token, at least 1;
3. ``throttle_rate``: that fraction answers 429 with ``Retry-After: 1``;
4. ``drop_before_rate``: that fraction closes the connection without answering; nothing applied;
5. ``error_rate``: that fraction answers one of ``error_statuses`` (uniformly); nothing applied;
   ``error_requests``: the requests with these numbers (1 is the first request to reach a
   property operation since the faults were last configured) answer the first of
   ``error_statuses``; nothing applied (a fault that hits the same request every run);
6. the request is handled; then, only for accepted (202) requests, which are applied:
   ``drop_after_requests`` (request numbers, as ``error_requests``) and ``drop_after_rate``
   (that fraction) close the connection without an answer, so the client cannot know;
   ``error_after_requests`` and ``error_after_rate`` answer the first of ``error_statuses``
   instead of 202 (a gateway timing out after the write); ``stall_after_requests`` hold the
   answer ``stall_seconds`` (default 30) before sending the 202, a deterministic window in
   which a test can kill the client after the emulator applied the request and before the
   client recorded it (the request is in the request log, with ``fault`` ``stall_after``, from
   the moment it was applied). Numbered faults are checked before the rates, in this order.

With a seed, the random draws come from one ``random.Random(seed)``, so a single-connection run
is reproducible (with concurrent clients the draws interleave with arrival order).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULTS", "Faults", "Verdict"]

DEFAULTS: dict[str, Any] = {
    "latency": 0.0,
    "jitter": 0.0,
    "rate_limit": None,
    "rate_burst": None,
    "error_rate": 0.0,
    "error_statuses": (500, 502, 503),
    "error_requests": (),
    "throttle_rate": 0.0,
    "drop_before_rate": 0.0,
    "drop_after_rate": 0.0,
    "drop_after_requests": (),
    "error_after_rate": 0.0,
    "error_after_requests": (),
    "stall_after_requests": (),
    "stall_seconds": 30.0,
    "max_body_bytes": 1_000_000,
}

_RATES = ("error_rate", "throttle_rate", "drop_before_rate", "drop_after_rate", "error_after_rate")
_NUMBERED = (
    "error_requests",
    "drop_after_requests",
    "error_after_requests",
    "stall_after_requests",
)


class Verdict:
    """What the fault layer decided for one request (None fields: no fault)."""

    __slots__ = ("drop", "number", "retry_after", "status")

    def __init__(self, status=None, retry_after=None, drop=False, number=None):
        self.status = status
        self.retry_after = retry_after
        self.drop = drop
        self.number = number  # the request's number since the faults were configured


Check = Callable[[str, Any], Any]
_PASS = Verdict()
_DROP = Verdict(drop=True)


def _within(convert: Callable[[Any], Any], holds: Callable[[Any], bool], wants: str) -> Check:
    """A setting's check: ``convert`` the value, then raise unless it ``holds``."""

    def check(name: str, value: Any) -> Any:
        value = convert(value)
        if not holds(value):
            raise ValueError(f"{name} must be {wants}, got {value}")
        return value

    return check


def _or_none(check: Check) -> Check:
    return lambda name, value: None if value is None else check(name, value)


def _integers(values: Any) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


_FRACTION = _within(float, lambda v: 0.0 <= v <= 1.0, "between 0 and 1")
_DELAY = _within(float, lambda v: 0.0 <= v <= 60.0, "between 0 and 60 seconds")
_NUMBERS = _within(_integers, lambda v: all(n >= 1 for n in v), "request numbers from 1")
_CHECKS: dict[str, Check] = {
    **dict.fromkeys(_RATES, _FRACTION),
    "latency": _DELAY,
    "jitter": _DELAY,
    "rate_limit": _or_none(
        _within(float, lambda v: 0.0 < v < math.inf, "a positive number or None")
    ),
    # A bucket must hold at least one whole token, or no request would ever pass.
    "rate_burst": _or_none(_within(float, lambda v: 1.0 <= v < math.inf, "at least 1 or None")),
    "error_statuses": _within(
        _integers, lambda v: bool(v) and all(400 <= s <= 599 for s in v), "HTTP error codes"
    ),
    **dict.fromkeys(_NUMBERED, _NUMBERS),
    "stall_seconds": _within(float, lambda v: 0.0 <= v <= 600.0, "between 0 and 600 seconds"),
    "max_body_bytes": _within(int, lambda v: v >= 1, "positive"),
}


def _check(name: str, value: Any) -> Any:
    """Validate and normalise one setting; raises ValueError or TypeError with its name."""
    check = _CHECKS.get(name)
    if check is None:
        raise TypeError(f"unknown fault setting {name!r}; known: {', '.join(DEFAULTS)}")
    return check(name, value)


class Faults:
    """The fault settings and their state (random generator, token bucket). Thread-safe."""

    def __init__(self, seed: int | None = None, **settings: Any) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._settings = dict(DEFAULTS)
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self.configure(**settings)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change the named settings (others keep their value); return all settings."""
        checked = {name: _check(name, value) for name, value in changes.items()}
        with self._lock:
            self._settings.update(checked)
            s = self._settings
            self._active = bool(
                s["latency"]
                or s["jitter"]
                or s["rate_limit"]
                or any(s[n] for n in _NUMBERED)
                or any(s[r] for r in _RATES)
            )
            self._count = 0
            # A changed limit starts with a full bucket, like a freshly started server.
            self._tokens = self._burst()
            self._stamp = time.monotonic()
            return self.settings_locked()

    def settings_locked(self) -> dict[str, Any]:
        s = dict(self._settings)
        s["error_statuses"] = list(s["error_statuses"])
        for name in _NUMBERED:
            s[name] = list(s[name])
        return s

    @property
    def settings(self) -> dict[str, Any]:
        """A JSON-ready copy of the current settings."""
        with self._lock:
            return self.settings_locked()

    @property
    def max_body_bytes(self) -> int:
        return self._settings["max_body_bytes"]

    def _burst(self) -> float:
        rate, burst = self._settings["rate_limit"], self._settings["rate_burst"]
        if rate is None:
            return 0.0
        return burst if burst is not None else max(1.0, rate / 10.0)

    def before(self) -> Verdict:
        """Sleep for latency, then decide whether the request is refused or dropped."""
        if not self._active:  # the common case stays lock-free
            return _PASS
        with self._lock:
            s = self._settings
            delay = s["latency"] + (self._rng.uniform(0.0, s["jitter"]) if s["jitter"] else 0.0)
        if delay:
            time.sleep(delay)
        with self._lock:
            s = self._settings
            self._count += 1
            number = self._count
            if number in s["error_requests"]:
                return Verdict(s["error_statuses"][0])
            rate = s["rate_limit"]
            if rate is not None:
                now = time.monotonic()
                self._tokens = min(self._burst(), self._tokens + (now - self._stamp) * rate)
                self._stamp = now
                if self._tokens < 1.0:
                    wait = (1.0 - self._tokens) / rate
                    return Verdict(429, max(1, math.ceil(wait)))
                self._tokens -= 1.0
            rng = self._rng
            if s["throttle_rate"] and rng.random() < s["throttle_rate"]:
                return Verdict(429, 1)
            if s["drop_before_rate"] and rng.random() < s["drop_before_rate"]:
                return _DROP
            if s["error_rate"] and rng.random() < s["error_rate"]:
                return Verdict(rng.choice(s["error_statuses"]))
        return Verdict(number=number)

    def after(self, verdict: Verdict) -> tuple[str, Any] | None:
        """What becomes of an applied (202) request's answer: ``("drop", None)``,
        ``("error", status)``, ``("stall", seconds)`` or None (answered as usual)."""
        if not self._active:
            return None
        with self._lock:
            s, number = self._settings, verdict.number
            if number in s["drop_after_requests"]:
                return ("drop", None)
            if number in s["error_after_requests"]:
                return ("error", s["error_statuses"][0])
            if number in s["stall_after_requests"]:
                return ("stall", s["stall_seconds"])
            if s["drop_after_rate"] and self._rng.random() < s["drop_after_rate"]:
                return ("drop", None)
            if s["error_after_rate"] and self._rng.random() < s["error_after_rate"]:
                return ("error", self._rng.choice(s["error_statuses"]))
        return None
