"""The result of a push, declared once: its columns, their dtypes and the statuses of a row.

Every result (sent, dry run, chunked, a Dask partition's, one with no rows, a Parquet file)
is built from this table. Pure: no network, no files; pyarrow is imported only when the Arrow
types are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = [
    "COLUMNS",
    "DTYPES",
    "LISTS",
    "STATUSES",
    "arrow_types",
    "empty_result",
    "result_frame",
]

#: What became of a row (the ``status`` column; the summary counts each).
STATUSES = ("sent", "failed", "skipped", "pending", "dry_run", "unchanged", "in_doubt")

# column, pandas dtype, Arrow type (Parquet: a chunk whose error column is all None would
# otherwise fix it as type null)
_SCHEMA = (
    ("distinct_id", "object", "string"),
    ("status", "object", "string"),
    ("request_id", "object", "string"),
    ("http_status", "Int64", "int64"),
    ("attempts", "int64", "int64"),
    ("error", "object", "string"),
    ("dropped", "object", "list<string>"),
    ("request_ids", "object", "list<string>"),  # every request of the row, in order
    ("mirror_clear", "bool", "bool"),  # a user cleared by mirror sync, not an input row
    # the ledger's id of the push that sent the row (None without a ledger): a result read
    # back from a file still names the push whose record a retry replays
    ("push_id", "Int64", "int64"),
    # a row in doubt: per add/append property, [requests acknowledged, requests that may have
    # landed after them], as JSON text; a retry sends the rest without repeating them
    ("applied", "object", "string"),
)
#: Columns a result may be built without, and the value they then hold.
_FILL = {"mirror_clear": False, "push_id": pd.NA, "applied": None}

#: The result's columns, in order.
COLUMNS = tuple(name for name, _, _ in _SCHEMA)
#: ``{column: pandas dtype}``.
DTYPES = {name: dtype for name, dtype, _ in _SCHEMA}
#: The columns holding a list of strings per row.
LISTS = tuple(name for name, _, arrow in _SCHEMA if arrow == "list<string>")


def arrow_types() -> dict[str, Any]:
    """``{column: pyarrow type}``, the Parquet schema of a result (needs pyarrow)."""
    import pyarrow as pa

    made = {"string": pa.string(), "int64": pa.int64(), "list<string>": pa.list_(pa.string())}
    made["bool"] = pa.bool_()
    return {name: made[arrow] for name, _, arrow in _SCHEMA}


def result_frame(columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """A result from one array-like per column (every column of `COLUMNS`), on ``index``."""
    return pd.DataFrame(
        {
            name: pd.Series(
                columns[name] if name in columns else _FILL[name], dtype=DTYPES[name], index=index
            )
            for name in COLUMNS
        },
        index=index,
    )


def empty_result(index: pd.Index | None = None) -> pd.DataFrame:
    """A result with no rows: the columns and dtypes of every push's result.

    ``index`` gives the (empty) index its dtype and name; default an empty ``RangeIndex``.
    """
    index = pd.RangeIndex(0) if index is None else index[:0]
    return result_frame(dict.fromkeys(COLUMNS, ()), index)
