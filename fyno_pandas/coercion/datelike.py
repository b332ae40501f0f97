"""Strings that some reading of ISO 8601 would take for a date: the planner's worst case.

Fyno documents five date forms (``2020-10-01``, ``2020-10-01T18:30:00Z``,
``2020-10-01T18:30:00.000Z``, ``2020-10-01T18:30:00+02:00``, ``2020-10-01T18:30:00.000+05:30``)
but not how it reads anything else. A new property takes the type of its first value, so a string
that *any* plausible ISO-8601 reader would call a date must never be that first value of a String
property. Where the reading is not documented we assume the one that loses data, and call
**date-like** every string of the shape

    ``YYYY-MM-DD``, optionally followed by ``T``, ``t`` or a space and ``HH:MM``, optionally
    ``:SS``, optionally a fraction of any length (``.`` or ``,``), optionally an offset: ``Z``,
    ``z``, ``±HH``, ``±HHMM`` or ``±HH:MM``;

whether or not it is a real date (``2023-04-31`` and ``2021-01-01T25:00`` are date-like too: a
strict reader stores nothing for them and creates no property). A date-like string is **real**
only when it is written in ASCII digits and names a day of the years 0001-9999: year ``0000``
(which pandas 3 reads) and digits of other scripts (which ``\\d`` matches and Python's ``int``
reads, but a strict reader does not) make it malformed. Of the date-like strings, the
**documented** ones (`ISO_DATE`, ASCII digits, a real calendar date and clock time) are the only
strings sent to a Date property. Reduced forms (``2024``, ``2024-01``), week and ordinal dates
and the basic format (``20240101``) are not treated as date-like.

Pure: numpy and pandas only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DATE_LIKE", "ISO_DATE", "date_like", "documented_date"]

#: The documented forms: ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)``, in
#: ASCII digits (``\d`` would match every script's).
ISO_DATE = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{3})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))?"
)
_ISO_LENGTHS = np.array([10, 20, 24, 25, 29])
#: Every date-like shape (see the module docstring), with groups for the range checks.
DATE_LIKE = (
    r"(?P<day>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?"
    r"(?:[Zz]|[+-](?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?)?"
)
_SHORTEST = 10
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _real_days(days: pd.Series) -> np.ndarray:
    """Bool mask: ``YYYY-MM-DD`` in ASCII digits naming a day of the years 0001-9999.

    Counted in integers, not by `pandas.to_datetime`: pandas 3 reads year 0000, which Python
    and a strict reader refuse, and pandas 2 refuses years before 1677.
    """
    text = days.to_numpy(dtype=object)
    ok = np.fromiter(map(str.isascii, text), dtype=bool, count=len(text))
    if ok.any():
        ymd = pd.Series(text[ok], dtype=object).str.split("-", expand=True).astype(np.int64)
        year, month, day = (ymd[i].to_numpy() for i in range(3))
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        last = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
        ok[ok] = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)
    return ok


def _candidates(values: np.ndarray) -> np.ndarray:
    """Positions of strings that could match at all: long enough, ``dddd-`` in front."""
    head = pd.Series(values, dtype=object).str.slice(0, 5)
    ok = head.str.fullmatch(r"\d{4}-").to_numpy(dtype=bool, na_value=False)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    return np.flatnonzero(ok & (lengths >= _SHORTEST))


def date_like(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``values`` (an object array of str) are date-like, and which of those are real.

    Returns
    -------
    like, real : numpy.ndarray
        Bool masks: the string has a date-like shape; it is also written in ASCII digits and
        names a real day of the years 0001-9999, a clock time within 00:00-23:59:59 and an
        offset within ±23:59.
    """
    like = np.zeros(len(values), dtype=bool)
    real = np.zeros(len(values), dtype=bool)
    cand = _candidates(values)
    if not len(cand):
        return like, real
    parts = pd.Series(values[cand], dtype=object).str.fullmatch(DATE_LIKE)
    hit = parts.to_numpy(dtype=bool, na_value=False)
    if not hit.any():
        return like, real
    fields = pd.Series(values[cand[hit]], dtype=object).str.extract(DATE_LIKE)
    ok = _real_days(fields["day"])
    # every digit ASCII (the time's and the offset's too): pd.to_numeric gives NaN otherwise
    ok &= np.fromiter(map(str.isascii, values[cand[hit]]), dtype=bool, count=int(hit.sum()))
    for name, top in (("h", 23), ("m", 59), ("s", 59), ("oh", 23), ("om", 59)):
        number = pd.to_numeric(fields[name], errors="coerce").to_numpy(dtype=float)
        ok &= ~(number > top)  # NaN (the part is absent) passes
    like[cand[hit]] = True
    real[cand[hit]] = ok
    return like, real


def documented_date(values: np.ndarray) -> np.ndarray:
    """Bool mask of strings in a documented form (`ISO_DATE`) that name a real date."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    mask = np.zeros(len(values), dtype=bool)
    cand = np.flatnonzero(np.isin(lengths, _ISO_LENGTHS))
    if len(cand):
        sub = pd.Series(values[cand], dtype=object)
        hit = sub.str.fullmatch(ISO_DATE).to_numpy(dtype=bool, copy=True)
        hit[hit] = _real_days(sub[hit].str.slice(0, 10))
        mask[cand] = hit
    return mask
