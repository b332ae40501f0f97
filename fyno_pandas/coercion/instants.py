"""Wall times and zoned datetimes to naive UTC ``datetime64``, for every year numpy can hold.

Python's datetime stops at years 1 and 9999, and so do `datetime.astimezone` and pandas'
localization wherever pandas asks Python's time zone objects for the offset: a wall time or an
instant next to either end raised (``OverflowError``, ``NotImplementedError``) instead of landing
just outside Fyno's range, where the encoder reports it as ``date_out_of_range``. Here the
arithmetic is done in numpy, which holds those years.

Used by `coercion.encode` and `coercion.coerce`; pure: numpy and pandas only.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = ["aware_to_utc", "localize"]

# 400 Gregorian years are a whole number of weeks: the same dates fall on the same weekdays.
_CYCLE = np.timedelta64(146_097, "D")
_NEAR = (np.datetime64("0001-01-03"), np.datetime64("9999-12-30"))  # within 2 days of an end
# A UTC offset is under a day: wall times a day past either end stay outside in every zone.
_OUTSIDE = (np.datetime64("0000-12-31"), np.datetime64("10000-01-02"))


def _localize(values: np.ndarray, naive_tz: str) -> np.ndarray:
    # A zone's name as zoneinfo reads it on every pandas: pandas 2 would hand it to pytz, which
    # cuts local mean time to whole minutes and gives NaT before the year 1677 or so.
    zone = ZoneInfo(naive_tz) if isinstance(naive_tz, str) else naive_tz
    idx = pd.DatetimeIndex(values).tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    return idx.tz_convert(None).to_numpy()


def localize(values: np.ndarray, naive_tz: str) -> np.ndarray:
    """Naive wall times in ``naive_tz`` -> naive UTC datetime64; NaT where no such instant.

    Wall times within two days of either end of years 1-9999 are localized 400 years inward
    and moved back: the calendar repeats every 400 years and so do a zone's rules there (its
    local mean time before the 1800s, its last rule after 2037). Wall times further outside
    are returned as they are, since no zone brings them back inside.

    Parameters
    ----------
    values : numpy.ndarray
        datetime64 wall times of any unit.
    naive_tz : str or tzinfo
        The zone they are read in.

    Returns
    -------
    numpy.ndarray
        datetime64 of the same unit.
    """
    if naive_tz == "UTC":
        return values
    days = values.astype("datetime64[D]")  # bounds in days: in ns they would overflow
    early, late = days < _NEAR[0], days >= _NEAR[1]
    if not (early.any() or late.any()):
        return _localize(values, naive_tz)
    inside = (days >= _OUTSIDE[0]) & (days < _OUTSIDE[1])
    shift = np.where(early, _CYCLE, np.where(late, -_CYCLE, np.timedelta64(0, "D")))[inside]
    out = values.copy()
    out[inside] = _localize(values[inside] + shift, naive_tz) - shift
    return out


def aware_to_utc(values: np.ndarray) -> np.ndarray:
    """Zoned Python or pandas datetimes -> naive UTC datetime64[us]: wall time minus offset.

    Parameters
    ----------
    values : numpy.ndarray
        Object array of datetimes whose ``tzinfo`` is set.

    Returns
    -------
    numpy.ndarray
        datetime64[us]; ``datetime.astimezone`` would overflow for 0001-01-01T00:00+05:00.
    """
    walls = np.array([v.replace(tzinfo=None) for v in values], dtype="datetime64[us]")
    offsets = np.array([v.utcoffset() for v in values], dtype="timedelta64[us]")
    return walls - offsets
