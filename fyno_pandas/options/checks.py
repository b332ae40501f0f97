"""The checks of the declared options (`fyno_pandas.options.model`), one per option, and the flag
parsers (`comma_list`, `pair`, `count_or_auto`).

Each is ``check(name, value)`` and raises `FynoInputError` with ``rule`` naming the option or
the kind of rule; the messages of ``nulls``, ``long_strings``, ``naive_tz`` and ``schema`` are
those `fyno_pandas.planning.build` gives.
"""

import argparse
import difflib
import os
from collections.abc import Callable, Hashable, Iterable
from numbers import Integral, Real
from typing import Any, get_args

import numpy as np
import pandas as pd

from ..coercion.types import FYNO_TYPES
from ..errors import FynoInputError
from .retry import RetryPolicy

Check = Callable[[str, Any], None]

#: The operations ``ops=`` may name for a column; the first is every column's default.
OPS = ("set", "set_once", "add", "append", "remove")


class FlagValueError(FynoInputError, argparse.ArgumentTypeError):
    """A command-line flag's value that does not parse: a library error, which argparse
    reports with its own message (``argument --op: expected COLUMN=VALUE, not 'logins'``)."""


def python_number(value: Any) -> Any:
    """A number of a numpy type as the Python number it equals, anything else as it is: past
    the checks, a ``uint8`` would wrap around in the sender's arithmetic."""
    if isinstance(value, np.generic) and isinstance(value, Real):
        return value.item()
    return value


def closest(name: Any, choices: Iterable[Hashable], n: int = 1) -> list[Hashable]:
    """The choices whose text is closest to ``name``'s (difflib), best first, for "did you
    mean" in the messages of a misspelt option or column."""
    by_text = {str(choice): choice for choice in choices}
    return [by_text[t] for t in difflib.get_close_matches(str(name), by_text, n=n, cutoff=0.6)]


def flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise FynoInputError(f"{name} must be True or False, not {value!r}", rule=name)


def integer(low: int, high: int | None = None, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise FynoInputError(f"{name} must be an integer >= {low}, not {value!r}", rule=name)
        if high is not None and value > high:
            raise FynoInputError(f"{name} must be at most {high}, not {value!r}", rule=name)

    return check


def auto_or(check: Check) -> Check:
    """``"auto"`` (`fyno_pandas.sending.mode`'s rule decides), or what ``check`` accepts."""

    def checked(name: str, value: Any) -> None:
        if value != "auto":
            try:
                check(name, value)
            except FynoInputError as exc:
                text = str(exc).replace(" must be ", " must be 'auto' or ", 1)
                raise FynoInputError(text, rule=name) from None

    return checked


def count_or_auto(text: str) -> int | str | None:
    """``"auto"`` -> ``"auto"``, ``"none"`` -> None, else an integer (the CLI's ``--batch-size``
    and ``--concurrency``)."""
    lowered = text.strip().lower()
    if lowered in ("auto", "none"):
        return None if lowered == "none" else "auto"
    try:
        return int(text)
    except ValueError:
        message = f"expected auto, none or a whole number, not {text!r}"
        raise FlagValueError(message, rule="invalid_option") from None


def positive(high: float | None = None, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
            raise FynoInputError(f"{name} must be a number > 0, not {value!r}", rule=name)
        if high is not None and not value <= high:
            raise FynoInputError(f"{name} must be at most {high}, not {value!r}", rule=name)

    return check


def one_of(choices: Any) -> Check:
    allowed = get_args(choices)

    def check(name: str, value: Any) -> None:
        if value not in allowed:
            raise FynoInputError(f"{name}={value!r} is not one of {allowed}", rule="invalid_option")

    return check


def time_zone(name: str, value: Any) -> None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(value).tz_convert("UTC")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise FynoInputError(f"{name}={value!r} is not a time zone", rule="invalid_option") from exc


def schema(name: str, value: Any) -> None:
    if value is None:
        return
    if not hasattr(value, "items"):
        raise FynoInputError(f"{name} must be a mapping {{property: type}}", rule="invalid_schema")
    for prop, fyno_type in value.items():
        if fyno_type not in FYNO_TYPES:
            raise FynoInputError(
                f"{name}[{prop!r}] = {fyno_type!r} is not one of {FYNO_TYPES}",
                column=prop,
                rule="invalid_schema",
            )


def retry_policy(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, RetryPolicy):
        raise FynoInputError(f"{name} must be a fyno_pandas.options.retry.RetryPolicy", rule=name)


def hook(name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise FynoInputError(f"{name} must be callable: on_ack(positions, request_id)", rule=name)


def path(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise FynoInputError(f"{name} must be a file path, not {value!r}", rule=name)


def comma_list(text: str) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; nothing -> None (the CLI's ``--columns``)."""
    return [part.strip() for part in text.split(",") if part.strip()] or None


def ops(name: str, value: Any) -> None:
    """``{column: op}``; that each column is sent is checked by the plan."""
    if value is None:
        return
    if not hasattr(value, "items"):
        raise FynoInputError(f"{name} must be a mapping {{column: op}}", rule="invalid_option")
    for column, op in value.items():
        if op not in OPS:
            raise FynoInputError(
                f"{name}[{column!r}] = {op!r} is not one of {OPS}", column=column, rule="invalid_op"
            )


def names(name: str, value: Any) -> None:
    """A list of property names (a single name is taken as a list of one)."""
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise FynoInputError(f"{name} must be a list of property names", rule="invalid_option")


def pair(text: str) -> tuple[str, str]:
    """``"logins=add"`` -> ``("logins", "add")`` (the CLI's ``--op``, ``--schema``, ``--dtype``)."""
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise FlagValueError(f"expected COLUMN=VALUE, not {text!r}", rule="invalid_option")
    return column.strip(), value.strip()
