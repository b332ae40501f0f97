"""Number rules: which numbers a double can hold, and the JSON text of floats of every width.

Fyno reads a JSON number as a double. A Python int or a Decimal beyond a double's range is still
valid JSON, but it reads as ±infinity, so it is left out like ±inf (`beyond_double`). A float16 or
float32 value is exact in a double, so its text only has to read back to the same narrow value:
the shortest such text, except that an integral value travels as that integer (float16 65504 as
``65504``, not ``6.55e+04``, which is 65500 to any other reader) (`float_texts`).

Used by `fyno_pandas.coercion.encode`; pure: numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DOUBLE_LIMIT", "NOT_FINITE", "beyond_double", "float_texts"]

# The least magnitude that reads as infinity: halfway from the largest double (2**1024 - 2**971)
# to 2**1024, where round-half-to-even goes up.
DOUBLE_LIMIT = 2**1024 - 2**970
NOT_FINITE = "±inf, NaN or too large for a double: not a Fyno number; left out"


def beyond_double(values: np.ndarray) -> np.ndarray:
    """Bool mask of the Python ints or finite Decimals that a double cannot hold.

    Parameters
    ----------
    values : numpy.ndarray
        Object array of ints or finite Decimals (comparing them with an int is exact).

    Returns
    -------
    numpy.ndarray
        True where the value would read as ±infinity.
    """
    return np.fromiter((abs(v) >= DOUBLE_LIMIT for v in values), dtype=bool, count=len(values))


def float_texts(values: np.ndarray) -> np.ndarray:
    """JSON text of finite floats: the shortest text that reads back to the same value.

    Parameters
    ----------
    values : numpy.ndarray
        Finite float16, float32 or float64 values.

    Returns
    -------
    numpy.ndarray
        Object array of str. float64 (and wider, cast down) by ``float.__repr__``; float16 and
        float32 integral values as that integer, the others as numpy's shortest round-trip text
        of their width (float32 0.1 as ``0.1``, not ``0.10000000149011612``).
    """
    texts = np.empty(len(values), dtype=object)
    if values.dtype.itemsize >= 8:
        wide = values.astype(np.float64, copy=False).tolist()
        texts[:] = np.fromiter(map(float.__repr__, wide), dtype=object, count=len(wide))
        return texts
    integral = values == np.trunc(values)
    whole = values[integral].tolist()  # Python floats: exact, and int() of them too
    texts[integral] = np.fromiter(map(str, map(int, whole)), dtype=object, count=len(whole))
    rest = values[~integral]
    narrow = rest.astype(str).astype(object)  # may be scientific (1.00000006e+06) ...
    exact = np.fromiter(map(float.__repr__, rest.tolist()), dtype=object, count=len(rest))
    shorter = np.fromiter(map(len, exact), int, len(rest)) < np.fromiter(
        map(len, narrow), int, len(rest)
    )
    texts[~integral] = np.where(shorter, exact, narrow)  # ... where the double's text is shorter
    return texts
