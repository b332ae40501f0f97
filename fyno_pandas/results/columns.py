"""The result of a push, declared once: its columns, their dtypes and the statuses of a row.

Every result (sent, dry run, chunked, a Dask partition's, one with no rows, a Parquet file)
is built from this table. The columns are Arrow-backed (text as ``string[pyarrow]``, lists as
``ArrowDtype`` lists): a million rows' request ids, errors and lists are a few buffers, not a
Python object per cell. Pure: no network, no files.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "COLUMNS",
    "DTYPES",
    "LISTS",
    "STATUSES",
    "arrow_types",
    "empty_result",
    "list_column",
    "request_columns",
    "result_frame",
]

#: What became of a row (the ``status`` column; the summary counts each).
STATUSES = ("sent", "failed", "skipped", "pending", "dry_run", "unchanged", "in_doubt")

_TEXT = pd.StringDtype("pyarrow")
# string or large_string, as this pandas stores ``string[pyarrow]``
_TEXT_ARROW = pa.array(pd.array([], dtype=_TEXT)).type
# lists of the same text: ``request_ids`` can hold ``request_id``'s own buffers
_LIST = pd.ArrowDtype(pa.list_(_TEXT_ARROW))
# column, pandas dtype, Arrow type (Parquet: a chunk whose error column is all missing would
# otherwise fix it as type null)
# what an analyst reads first comes first: what became of the row, why, and what was left out
_SCHEMA = (
    ("status", _TEXT, _TEXT_ARROW),
    ("error", _TEXT, _TEXT_ARROW),
    ("dropped", _LIST, _LIST.pyarrow_dtype),
    ("distinct_id", _TEXT, _TEXT_ARROW),
    ("request_id", _TEXT, _TEXT_ARROW),
    ("http_status", "Int16", pa.int16()),
    ("attempts", "int32", pa.int32()),
    ("request_ids", _LIST, _LIST.pyarrow_dtype),  # every request of the row, in order
    ("mirror_clear", "bool", pa.bool_()),  # a user cleared by mirror sync, not an input row
    # the ledger's id of the push that sent the row (None without a ledger): a result read
    # back from a file still names the push whose record a retry replays
    ("push_id", "Int64", pa.int64()),
    # a row in doubt: per add/append property, [requests acknowledged, requests that may have
    # landed after them], as JSON text; a retry sends the rest without repeating them
    ("applied", _TEXT, _TEXT_ARROW),
)
#: Columns a result may be built without, and the value they then hold.
_FILL = {"mirror_clear": False, "push_id": pd.NA, "applied": None}

#: The result's columns, in order.
COLUMNS = tuple(name for name, _, _ in _SCHEMA)
#: ``{column: pandas dtype}``.
DTYPES = {name: dtype for name, dtype, _ in _SCHEMA}
#: The columns holding a list of strings per row.
LISTS = tuple(name for name, dtype, _ in _SCHEMA if dtype == _LIST)


def arrow_types() -> dict[str, pa.DataType]:
    """``{column: pyarrow type}``, the Parquet schema of a result."""
    return {name: arrow for name, _, arrow in _SCHEMA}


def list_column(rows: int, owners: Any, items: Any) -> pa.ListArray:
    """One list of strings per row position ``0 .. rows - 1``: item ``k`` (of a sequence or an
    Arrow array) goes to the list of row ``owners[k]``, the items of a row in their order in
    ``items``; a row owning none gets an empty list. One Arrow array, built without a Python
    list per row."""
    owners = np.asarray(owners, dtype=np.intp)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(owners, minlength=rows), out=offsets[1:])
    if not isinstance(items, pa.Array):
        items = pa.array(np.asarray(items, dtype=object), type=_TEXT_ARROW)
    if (np.diff(owners) < 0).any():
        items = items.take(np.argsort(owners, kind="stable"))
    if items.type != _TEXT_ARROW:
        items = items.cast(_TEXT_ARROW)
    return pa.ListArray.from_arrays(pa.array(offsets), items)


def request_columns(
    first: np.ndarray, every: Mapping[int, Sequence[str]]
) -> tuple[pa.Array, pa.ListArray]:
    """The ``request_id`` and ``request_ids`` columns from each row's first request id (an
    object array, None: no request) and every id of the rows that needed several. Each
    distinct id is converted once, so the rows of a batch cost a copy of its bytes, not a
    Python string each, and a row's one id is the same bytes in both columns."""
    codes, uniques = pd.factorize(first)
    texts = pa.array(np.asarray(uniques, dtype=object), type=_TEXT_ARROW)
    column = texts.take(pa.array(codes, mask=codes < 0))
    one = codes >= 0
    if not every and one.all():  # one request a row: the lists hold the column's own bytes
        return column, list_column(len(first), np.arange(len(first)), column)
    one[list(every)] = False
    owners = np.concatenate(
        [np.flatnonzero(one), np.repeat(list(every), [len(ids) for ids in every.values()])]
    )
    more = pa.array(list(itertools.chain.from_iterable(every.values())), type=_TEXT_ARROW)
    items = pa.concat_arrays([texts.take(codes[one]), more])
    return column, list_column(len(first), owners, items)


def result_frame(columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """A result from one array-like per column (every column of `COLUMNS`), on ``index``.

    A list column is a sequence of lists or, faster, an Arrow list array (`list_column`).
    """
    return pd.DataFrame(
        {
            name: _column(columns[name] if name in columns else _FILL[name], name, index)
            for name in COLUMNS
        },
        index=index,
    )


def _column(values: Any, name: str, index: pd.Index) -> pd.Series:
    if DTYPES[name] == _TEXT and isinstance(values, np.ndarray) and values.dtype == object:
        # through Arrow: several times faster than pandas' check of each str
        values = pa.array(values, type=_TEXT_ARROW, from_pandas=True)
    return pd.Series(values, dtype=DTYPES[name], index=index)


def empty_result(index: pd.Index | None = None) -> pd.DataFrame:
    """A result with no rows: the columns and dtypes of every push's result.

    ``index`` gives the (empty) index its dtype and name; default an empty ``RangeIndex``.
    """
    index = pd.RangeIndex(0) if index is None else index[:0]
    return result_frame(dict.fromkeys(COLUMNS, ()), index)
