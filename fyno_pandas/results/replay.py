"""What `fyno_pandas.retry_failed` replays of a result, however the result travelled. Pure.

A result read back from a CSV or Parquet file has lost its ``attrs`` and its index, and its
columns may carry other dtypes (an all-empty ``request_id`` column reads as floats, a CSV holds
the list columns as their text, Parquet as arrays). So a retry
reads only the columns: rows are matched to the frame by ``distinct_id`` (the k-th row of an id
with the k-th row of the frame with that id), the push by ``push_id``, and a row in doubt's
progress by ``applied``. Never a guess: what cannot be matched is refused by name.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..coercion.ids import id_strings
from ..errors import FynoInputError
from .columns import COLUMNS, DTYPES, LISTS

__all__ = ["conform", "first_push_id", "made_by_earlier_push", "match_rows", "pushed_id"]

#: What a column an older result lacks holds (None for the others).
_EMPTY = {"attempts": 0, "mirror_clear": False}


def conform(result: pd.DataFrame) -> pd.DataFrame:
    """``result`` with the columns and dtypes of every push's result (a copy; attrs kept).

    Columns an older result lacks get their empty value; ``status`` must be there.
    """
    if "status" not in result.columns or "distinct_id" not in result.columns:
        raise FynoInputError(
            "result has no 'status' or 'distinct_id' column: pass the result of a push",
            rule="retry_failed",
        )
    out = pd.DataFrame({name: _conformed(result, name) for name in COLUMNS}, index=result.index)
    out.attrs = dict(result.attrs)
    return out


def _conformed(result: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``result`` in the result's dtype, however the file held it."""
    dtype = DTYPES[name]
    if name not in result.columns:
        empty: Any = [[]] * len(result) if name in LISTS else _EMPTY.get(name)
        return pd.Series(empty, index=result.index, dtype=dtype)
    column = result[name]
    if pd.api.types.is_dtype_equal(column.dtype, dtype):
        return column.copy()
    if name in LISTS:
        lists = [_as_list(cell, name) for cell in column.to_numpy(dtype=object)]
        return pd.Series(lists, index=result.index, dtype=dtype)
    if dtype == "bool":  # text read back from a file: "False" is not truthy
        return column.astype(str).str.lower().eq("true")
    if dtype == "Int64":
        return pd.to_numeric(column, errors="coerce").astype("Int64")
    if dtype == "int64":
        return column.astype(dtype)
    values = column.astype(object)  # text: a file's all-empty column reads as floats
    return values.where(pd.notna(values), None).astype(dtype)


def _as_list(cell: Any, column: str) -> list[str]:
    """A list column's cell as a list, however the file held it: a list, an array (Parquet),
    or its text (``to_csv``); missing is empty."""
    if isinstance(cell, str):
        parsed = _list_text(cell)
        if parsed is None:
            raise FynoInputError(
                f"result column {column!r} holds {cell!r}, not a list: pass the result of a "
                "push, read back as it was written",
                column=column,
                rule="retry_failed",
            )
        cell = parsed
    if isinstance(cell, (list, tuple, np.ndarray)):
        return [str(item) for item in cell]
    return []


def _list_text(text: str) -> list[str] | None:
    """The strings of a list's text, as a list prints (``['a', 'b']``) or as ``to_csv`` writes
    an Arrow list cell, an array's text (``['a' 'b']``, which ``literal_eval`` would read as
    one concatenated string); None for any other text."""
    try:
        read = tokenize.generate_tokens(io.StringIO(text).readline)
        tokens = [t for t in read if t.string.strip()]
    except (tokenize.TokenError, SyntaxError):
        return None
    inner = [t for t in tokens[1:-1] if t.string != ","]
    if [t.string for t in tokens[:1] + tokens[-1:]] != ["[", "]"] or any(
        t.type != tokenize.STRING for t in inner
    ):
        return None
    return [ast.literal_eval(t.string) for t in inner]


def match_rows(df_ids: pd.Series, result_ids: pd.Series) -> np.ndarray:
    """For each result row, the position of its row in the frame (-1: a row without an id).

    Raises `FynoInputError` naming ids of the result the frame does not have.
    """
    frame_text, _ = id_strings(df_ids)
    result_text, _ = id_strings(result_ids.reset_index(drop=True))
    if np.array_equal(frame_text, result_text):
        return np.arange(len(frame_text))
    codes, _ = pd.factorize(np.concatenate([frame_text, result_text]))  # None: -1
    frame_keys = _keys(codes[: len(frame_text)], len(codes))
    out = pd.Index(frame_keys).get_indexer(_keys(codes[len(frame_text) :], len(codes)))
    no_id = pd.isna(result_text)
    out[no_id] = -1
    missing = result_text[(out < 0) & ~no_id].tolist()
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise FynoInputError(
            f"result does not belong to this frame: {len(missing)} of its distinct ids are not "
            f"in it ({shown}); pass the frame that was pushed (a result read from a file keeps "
            "its ids when read with dtype={'distinct_id': str})",
            rule="retry_failed",
        )
    return out


def _keys(codes: np.ndarray, rows: int) -> np.ndarray:
    """Each id's code with its occurrence among the rows holding it, as one integer: the k-th
    row of an id is the key (``rows`` bounds the occurrences)."""
    occurrence = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    return codes.astype(np.int64) * rows + occurrence


def pushed_id(result: pd.DataFrame) -> int | None:
    """The ledger's id of the push ``result`` came from (its ``push_id`` column, else its
    summary); None when it was sent without a ledger."""
    ids = pd.to_numeric(result["push_id"], errors="coerce").dropna().unique()
    if len(ids):
        return int(ids.max())  # a retried result holds its retry's id on the rows it resent
    summary_id = result.attrs.get("fyno", {}).get("push_id")
    return None if summary_id is None else int(summary_id)


def first_push_id(result: pd.DataFrame) -> int | None:
    """The ledger's id of the first push ``result``'s rows came from (a retried result holds
    the original push's id on the rows it did not resend); None when none is recorded."""
    ids = pd.to_numeric(result["push_id"], errors="coerce").dropna()
    return int(ids.min()) if len(ids) else pushed_id(result)


def made_by_earlier_push(applied: Any, in_doubt: str) -> dict[str, int] | None:
    """The add and append requests a retry of a row in doubt does not make again: the ones
    acknowledged, and with ``in_doubt="assume_stored"`` the ones that may have landed too.
    None: the row's ``applied`` cell says nothing (a result of an older version)."""
    if not isinstance(applied, str) or not applied:
        return None
    counts: Mapping[str, list[int]] = json.loads(applied)
    extra = in_doubt == "assume_stored"
    return {p: int(acked) + (int(maybe) if extra else 0) for p, (acked, maybe) in counts.items()}
