"""The issue table of a plan (``plan.issues``): its columns, and the builder that fills it. Pure.

`fyno_pandas.planning.build` documents the rules and actions; this module only says what an issue
row holds and keeps the rows in order: by row position, column-wide issues (position -1) and
row issues first, then the columns in the frame's order; `short_repr` and `shown` give the
``value`` column's text.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ISSUE_COLUMNS", "IssueRows", "short_repr", "shown"]

#: The columns of ``plan.issues`` (and of ``ddf.fyno.plan()``, which adds ``partition``).
ISSUE_COLUMNS = ["row", "column", "value", "rule", "action", "message"]

_Chunk = tuple[np.ndarray, int, Hashable, list[str], str, str, str]


class IssueRows:
    """Collects issue rows as arrays, then sorts them into ``plan.issues``."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.chunks: list[_Chunk] = []

    def add(
        self,
        pos: np.ndarray,
        order: int,
        column: Hashable,
        values: list[str],
        rule: str,
        action: str,
        message: str,
    ) -> None:
        """Issues of the rows at positions ``pos`` (``[-1]``: the whole column), one value each.

        ``order`` is the column's place in the frame (-1 for row issues, which come first).
        """
        self.chunks.append((pos, order, column, values, rule, action, message))

    def frame(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The issues as a DataFrame of `ISSUE_COLUMNS`, and each one's row position."""
        if not self.chunks:
            empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in ISSUE_COLUMNS})
            return empty, np.array([], dtype=np.int64)
        pos = np.concatenate([c[0] for c in self.chunks]).astype(np.int64)
        sizes = [len(c[0]) for c in self.chunks]
        order = np.repeat([c[1] for c in self.chunks], sizes)
        column = np.repeat(np.array([c[2] for c in self.chunks], dtype=object), sizes)
        action = np.repeat(np.array([c[5] for c in self.chunks], dtype=object), sizes)
        sort = np.lexsort((order, pos))  # rows in order; column-wide (pos -1) first
        rows = np.full(len(pos), None, dtype=object)
        cell = pos >= 0
        rows[cell] = self.index[pos[cell]].to_numpy(dtype=object)
        data = {
            "row": rows,
            "column": column,
            "value": np.fromiter(chain.from_iterable(c[3] for c in self.chunks), object),
            "rule": np.repeat([c[4] for c in self.chunks], sizes),
            "action": action,
            "message": np.repeat([c[6] for c in self.chunks], sizes),
        }
        # object columns keep None (pandas 3 would infer "str" and turn None into NaN)
        frame = pd.DataFrame({k: pd.Series(v[sort], dtype=object) for k, v in data.items()})
        return frame, pos[sort]


_REPR_MAX = 60


def short_repr(value: Any) -> str:
    """A value as an analyst reads it, cut to 60 characters, for issue and column tables: text
    and bytes quoted (``'01234'`` is not ``1234``), anything else as it prints
    (``2024-01-05 10:00:00+00:00``, not ``Timestamp('2024-01-05 10:00:00+0000', tz='UTC')``)."""
    if isinstance(value, (np.number, np.bool_)):
        value = value.item()  # numpy 2 reprs scalars as np.float64(1.5)
    if isinstance(value, str):
        text = repr(str(value))  # numpy's str_ reprs as np.str_('x')
    else:
        text = repr(value) if isinstance(value, bytes) else str(value)
    return text if len(text) <= _REPR_MAX else text[: _REPR_MAX - 1] + "…"


def shown(s: pd.Series, positions: Any) -> list[str]:
    """`short_repr` of the cells of ``s`` at ``positions``, for issue and column tables.

    An Arrow value Python's datetime cannot hold (a year-1 instant in a zone) is shown as Arrow
    prints it rather than raised from deep inside pandas.
    """
    try:
        return [short_repr(v) for v in s.iloc[positions]]
    except (OverflowError, ValueError):
        import pyarrow as pa

        values = pa.array(s.array)
        texts = (values.slice(int(p), 1).to_string(indent=0, window=8) for p in positions)
        return [short_repr(" ".join(text.split())[1:-1].strip()) for text in texts]
