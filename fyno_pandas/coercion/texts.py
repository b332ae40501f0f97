"""JSON texts written once per distinct value, the rows of one value sharing its str.

A column repeats (prices, signup days, ages), and a text per row holds ~60 bytes where a pointer
holds 8: `per_distinct` writes the texts of the distinct values and spreads them over the rows.
Values are told apart by their bits, so 0.0 and -0.0, equal but written apart, stay two.

Used by `fyno_pandas.coercion.encode`; pure: numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["BLOCK", "day_texts", "instant_texts", "int_texts", "per_distinct"]

BLOCK = 65_536
_SAMPLE = 10_000  # values looked at: fewer than ~500,000 distinct ones repeat in over 1% of them


def per_distinct(values: np.ndarray, texts: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``texts`` of each distinct value of ``values``, spread over the rows (object array)."""
    if values.dtype == object or values.dtype.itemsize not in (1, 2, 4, 8):
        return texts(values)
    keys = values.view(f"u{values.dtype.itemsize}")
    sample = keys[:: max(1, len(keys) // _SAMPLE)]
    if len(np.unique(sample)) > 0.99 * len(sample):
        # next to no repeats (measurements, instants to the second): nothing to share, and
        # factorizing would add a tenth to planning such a column
        return texts(values)
    codes, distinct = pd.factorize(keys)
    return texts(distinct.view(values.dtype))[codes]


def int_texts(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(str, values.tolist()), dtype=object, count=len(values))


def instant_texts(ms: np.ndarray) -> np.ndarray:
    """``"...000Z"`` of UTC ``datetime64[ms]`` values."""
    texts = np.empty(len(ms), dtype=object)
    for start in range(0, len(ms), BLOCK):  # blocks bound the fixed-width text buffers
        block = slice(start, start + BLOCK)
        texts[block] = '"' + np.datetime_as_string(ms[block], unit="ms").astype(object) + 'Z"'
    return texts


def day_texts(days: np.ndarray) -> np.ndarray:
    return '"' + np.datetime_as_string(days, unit="D").astype(object) + '"'
