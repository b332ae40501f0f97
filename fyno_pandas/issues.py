"""The issue table of a plan (``plan.issues``): its columns, and the builder that fills it. Pure.

`fyno_pandas.planning` documents the rules and actions; this module only says what an issue
row holds and keeps the rows in order: by row position, column-wide issues (position -1) and
row issues first, then the columns in the frame's order.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import chain

import numpy as np
import pandas as pd

__all__ = ["ISSUE_COLUMNS", "IssueRows"]

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
