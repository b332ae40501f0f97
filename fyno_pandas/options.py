"""Checks of the plan and send options, so a bad value fails before any work starts."""

from __future__ import annotations

from numbers import Real
from typing import Any

from .errors import FynoInputError
from .retry import RetryPolicy

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_CONCURRENCY",
    "PLAN_OPTIONS",
    "SEND_EXTRAS",
    "check_plan",
    "check_send",
    "take_send_options",
]

#: Options `fyno_pandas.plan` passes to `fyno_pandas.planning.build_plan`.
PLAN_OPTIONS = ("columns", "schema", "naive_tz", "nulls", "long_strings")
#: Advanced send options `push` passes through to `fyno_pandas.push_plan`.
SEND_EXTRAS = ("session", "retry_policy", "raise_on_interrupt", "on_ack")
#: Fyno documents no batch limit; past this a single failure costs too many rows.
MAX_BATCH_SIZE = 1000
MAX_CONCURRENCY = 256


def check_plan(options: dict[str, Any]) -> None:
    """Refuse option names `build_plan` does not take (its own checks judge the values)."""
    unknown = sorted(set(options) - set(PLAN_OPTIONS))
    if unknown:
        raise FynoInputError(
            f"unknown option(s) {', '.join(map(repr, unknown))}; plan options are "
            f"{', '.join(PLAN_OPTIONS)}",
            rule="unknown_option",
        )


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FynoInputError(f"{name} must be an integer >= {low}, not {value!r}", rule=name)
    if high is not None and value > high:
        raise FynoInputError(f"{name} must be at most {high}, not {value!r}", rule=name)
    return value


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise FynoInputError(f"{name} must be a number > 0, not {value!r}", rule=name)
    return float(value)


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is a bool, else `FynoInputError` naming the option."""
    if not isinstance(value, bool):
        raise FynoInputError(f"{name} must be True or False, not {value!r}", rule=name)
    return value


def check_send(
    concurrency: Any = 16,
    max_rps: Any = None,
    batch_size: Any = None,
    timeout: Any = 30,
    max_retries: Any = 8,
    dry_run: Any = False,
    progress: Any = True,
    raise_on_interrupt: Any = False,
    retry_policy: Any = None,
    on_ack: Any = None,
) -> None:
    """Check the send options of `fyno_pandas.push_plan` (see there for their meaning)."""
    _int("concurrency", concurrency, 1, MAX_CONCURRENCY)
    if max_rps is not None:
        _positive("max_rps", max_rps)
    if batch_size is not None:
        _int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    _positive("timeout", timeout)
    _int("max_retries", max_retries, 0)
    for name, value in (
        ("dry_run", dry_run),
        ("progress", progress),
        ("raise_on_interrupt", raise_on_interrupt),
    ):
        check_flag(name, value)
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise FynoInputError("retry_policy must be a fyno_pandas.retry.RetryPolicy")
    if on_ack is not None and not callable(on_ack):
        raise FynoInputError("on_ack must be callable: on_ack(positions, request_id)")


def take_send_options(options: dict[str, Any], **named: Any) -> dict[str, Any]:
    """Check a push's options before any work; return its send options.

    ``options`` is the caller's ``**options``: the advanced send options (`SEND_EXTRAS`) are
    taken out of it and what is left must be plan options. ``named`` are the send options the
    caller names in its signature.
    """
    send = {**named, **{k: options.pop(k) for k in SEND_EXTRAS if k in options}}
    check_plan(options)
    check_send(**{k: v for k, v in send.items() if k != "session"})
    return send
