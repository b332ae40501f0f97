"""What a plan sends per property, filled column by column: the arrays and ``plan.columns``.

`fyno_pandas.planning.build.build_plan` adds each sent column (`Properties.add_column`) and each
property cleared by ``unset=`` (`Properties.add_unset`), in the plan's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..coercion.coerce import Coerced
from .issues import shown
from .steps import unset_column

__all__ = ["COLUMN_COLUMNS", "Properties"]

COLUMN_COLUMNS = [
    "column",
    "dtype",
    "fyno_type",
    "values",
    "missing",
    "coerced",
    "dropped",
    "example_before",
    "example_after",
    "note",
]
_COLUMN_DTYPES = dict.fromkeys(("values", "missing", "coerced", "dropped"), np.int64)


@dataclass
class Properties:
    """What the plan sends per property, filled column by column in order."""

    n: int
    names: list[str] = field(default_factory=list)
    fyno_types: dict[str, str] = field(default_factory=dict)
    fragments: dict[str, np.ndarray] = field(default_factory=dict)
    unsets: dict[str, np.ndarray] = field(default_factory=dict)
    is_set: dict[str, np.ndarray] = field(default_factory=dict)
    ambiguous: dict[str, np.ndarray] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # plan.columns

    def add_column(self, name: str, s: pd.Series, c: Coerced, clear: np.ndarray | None) -> None:
        """A sent column; ``clear``: the rows whose missing values are unset (None: none)."""
        self.names.append(name)
        if c.fyno_type is not None:
            self.fyno_types[name] = c.fyno_type
        self.fragments[name] = c.fragments
        self.unsets[name] = np.zeros(self.n, dtype=bool) if clear is None else c.missing & clear
        self.is_set[name] = c.present
        self.ambiguous[name] = c.ambiguous  # type: ignore[assignment]
        self.rows.append(_column_row(name, s, c))

    def add_unset(self, name: str, rows: np.ndarray) -> None:
        """A property cleared (``unset=``) for ``rows``."""
        self.names.append(name)
        self.fragments[name] = np.full(self.n, None, dtype=object)
        self.ambiguous[name] = np.zeros(self.n, dtype=bool)
        self.unsets[name], self.is_set[name] = rows.copy(), np.zeros(self.n, dtype=bool)
        self.rows.append(unset_column(name))

    def anything(self) -> np.ndarray:
        """The rows with a value to set or unset."""
        anything = np.zeros(self.n, dtype=bool)
        for name in self.names:
            anything |= self.is_set[name] | self.unsets[name]
        return anything

    def table(self) -> pd.DataFrame:
        """``plan.columns``: one row per property."""
        return pd.DataFrame(
            {
                c: pd.Series([r[c] for r in self.rows], dtype=_COLUMN_DTYPES.get(c, object))
                for c in COLUMN_COLUMNS
            }
        )


def _column_row(name: str, s: pd.Series, c: Coerced) -> dict[str, Any]:
    def cells(action: str) -> int:
        hit = np.zeros(len(s), dtype=bool)  # a mask, since one cell can break several rules
        for issue in c.issues:
            if issue.action == action:
                hit[issue.positions] = True
        return int(hit.sum())

    sent = int(c.present.sum())
    first = (
        np.argmax(c.present) if sent else (np.argmax(~c.missing) if (~c.missing).any() else None)
    )
    return {
        "column": name,
        "dtype": str(s.dtype),
        "fyno_type": c.fyno_type,
        "values": sent,
        "missing": int(c.missing.sum()),
        "coerced": cells("coerced"),
        "dropped": cells("dropped"),
        "example_before": None if first is None else shown(s, [int(first)])[0],
        "example_after": None if first is None else c.fragments[first],
        "note": c.note,
    }
