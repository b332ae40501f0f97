"""The issue table of a plan (``plan.issues``): its columns, and the builder that fills it. Pure.

`fyno_pandas.planning.build` documents the rules and actions; this module says what an issue
row holds, what to do about each rule (`HINTS`, the one list of the rules the planner reports,
and `rule_link`, the rule's section of the documentation), and keeps the rows in order: by row
position, column-wide issues (position -1) and row issues first, then the columns in the frame's
order; `short_repr` and `shown` give the ``value`` column's text.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DOCS_URL",
    "HINTS",
    "ISSUE_COLUMNS",
    "IssueRows",
    "plural",
    "rule_hint",
    "rule_link",
    "short_repr",
    "shown",
]

#: The columns of ``plan.issues`` (and of ``ddf.fyno.plan()``, which adds ``partition``).
ISSUE_COLUMNS = ["row", "column", "value", "rule", "action", "message", "hint", "link"]

#: Where the documentation site is published: each issue's ``link`` is this address, the rules
#: page and the rule's anchor. Point it at a local build (``"file:///.../docs/_build/html/"``)
#: to read the pages offline; plans made afterwards link there.
DOCS_URL = "https://fyno-pandas.readthedocs.io/en/latest/"
_RULES_PAGE = "topics/rules.html"

#: What resolves each (rule, action) ``plan.issues`` can hold, in the order of the table in
#: `fyno_pandas.planning.build`; ``{column}`` stands for the property's name, quoted.
HINTS: dict[tuple[str, str], str] = {
    ("string_too_long", "dropped"): 'long_strings="truncate" sends them cut to 255 characters',
    ("string_too_long", "coerced"): (
        "nothing, cut as asked; to choose the cut yourself: df[{column}].str.slice(0, 255)"
    ),
    ("not_finite", "dropped"): (
        "df[{column}].replace([np.inf, -np.inf], np.nan), and nulls= decides what a missing "
        "value does"
    ),
    ("naive_datetime", "coerced"): (
        'nothing if naive_tz names where they were recorded; else say it: naive_tz="Europe/Berlin"'
    ),
    ("datetime_truncated", "coerced"): (
        "nothing, unless sub-millisecond precision matters: send it as a number in another column"
    ),
    ("date_out_of_range", "dropped"): (
        "usually placeholders: replace them with pd.NaT, e.g. df[{column}].mask(df[{column}] "
        '> pd.Timestamp("9999-12-31"))'
    ),
    ("nonexistent_time", "dropped"): (
        'df[{column}].dt.tz_localize("Europe/Berlin", nonexistent="shift_forward", ambiguous="NaT")'
    ),
    ("type_mismatch", "dropped"): (
        'convert df[{column}] to one type (pd.to_numeric(..., errors="coerce"), '
        '.astype("boolean"), .astype(str)), or name its type: schema={{column}: "string"}'
    ),
    ("date_as_string", "coerced"): (
        "nothing if {column} holds text; send dates to a new property name"
    ),
    ("date_like_string", "warned"): (
        "pd.to_datetime(df[{column}], utc=True) if they are dates; nothing if they are text"
    ),
    ("no_safe_seed", "dropped"): (
        "pd.to_datetime(df[{column}], utc=True) if they are dates; "
        'schema={{column}: "string"} if Fyno already holds {column} as text'
    ),
    ("numeric_string", "warned"): (
        'pd.to_numeric(df[{column}].str.replace(",", "")) if they are quantities; '
        'schema={{column}: "string"} if they are codes'
    ),
    ("unsafe_integer", "warned"): "df[{column}].astype(str) if it is an identifier",
    ("unsupported_type", "dropped"): (
        "convert df[{column}]: .dt.total_seconds() (timedelta), .dt.to_timestamp() (period), "
        '.str.decode("utf-8") (bytes), pd.json_normalize (dicts)'
    ),
    ("invalid_list", "dropped"): (
        "keep the elements Fyno holds: df[{column}].map(lambda xs: [x for x in xs if "
        "isinstance(x, str)])"
    ),
    ("add_not_number", "dropped"): 'pd.to_numeric(df[{column}], errors="coerce")',
    ("invalid_element", "dropped"): (
        "keep the elements Fyno holds: df[{column}].map(lambda xs: [x for x in xs if "
        "isinstance(x, str)])"
    ),
    ("op_type_mismatch", "dropped"): (
        "check ops={{column}: ...}; a type Fyno fixed cannot change: use a new property name"
    ),
    ("category", "coerced"): "nothing: the categories gave {column} its type",
    ("missing_id", "row_skipped"): "df.dropna(subset=[{column}]), or fill the ids",
    ("invalid_id", "row_skipped"): (
        'read the file with its encoding (pd.read_csv(..., encoding="latin-1")), or decode the ids'
    ),
    ("duplicate_id", "row_skipped"): (
        'df.drop_duplicates({column}, keep="last"), or combine the rows: '
        "df.groupby({column}).agg(...)"
    ),
    ("empty_row", "row_skipped"): 'nulls="unset" if its missing values should clear properties',
}


def rule_hint(rule: str, action: str, column: Hashable) -> str:
    """What resolves ``rule`` (`HINTS`), for the property ``column``."""
    return HINTS[rule, action].replace("{column}", json.dumps(str(column), ensure_ascii=False))


def rule_link(rule: str) -> str:
    """The address of ``rule``'s section of the documentation (MyST anchors headings as is)."""
    return f"{DOCS_URL}{_RULES_PAGE}#{rule}"


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
        hints = [rule_hint(c[4], c[5], c[2]) for c in self.chunks]
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
            "hint": np.repeat(np.array(hints, dtype=object), sizes),
            "link": np.repeat(
                np.array([rule_link(c[4]) for c in self.chunks], dtype=object), sizes
            ),
        }
        # object columns keep None (pandas 3 would infer "str" and turn None into NaN)
        frame = pd.DataFrame({k: pd.Series(v[sort], dtype=object) for k, v in data.items()})
        return frame, pos[sort]


_REPR_MAX = 60


def plural(count: int, word: str) -> str:
    """``3 rows``, ``1 row``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


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
