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
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..coercion.ids import id_strings
from ..errors import FynoInputError
from .columns import COLUMNS, DTYPES, LISTS

__all__ = ["conform", "made_by_earlier_push", "match_rows", "pushed_id"]

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
    out = pd.DataFrame(index=result.index)
    for name in COLUMNS:
        if name not in result.columns:
            empty = _EMPTY.get(name)
            out[name] = pd.Series([empty] * len(result), index=result.index, dtype=DTYPES[name])
        elif name in LISTS:
            out[name] = pd.Series(
                [_as_list(cell, name) for cell in result[name]], index=result.index, dtype=object
            )
        elif DTYPES[name] == "object":
            values = result[name].astype(object)
            out[name] = values.where(pd.notna(values), None)
        elif DTYPES[name] == "bool":  # text read back from a file: "False" is not truthy
            out[name] = result[name].astype(str).str.lower().eq("true")
        elif DTYPES[name] == "Int64":
            out[name] = pd.to_numeric(result[name], errors="coerce").astype("Int64")
        else:
            out[name] = result[name].astype(DTYPES[name])
    out.attrs = dict(result.attrs)
    return out


def _as_list(cell: Any, column: str) -> list[str]:
    """A list column's cell as a list, however the file held it: a list, an array (Parquet),
    or the list's text (``to_csv``); missing is empty."""
    if isinstance(cell, str):
        try:
            parsed = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            parsed = None
        if not isinstance(parsed, list):
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


def made_by_earlier_push(applied: Any, in_doubt: str) -> dict[str, int] | None:
    """The add and append requests a retry of a row in doubt does not make again: the ones
    acknowledged, and with ``in_doubt="assume_stored"`` the ones that may have landed too.
    None: the row's ``applied`` cell says nothing (a result of an older version)."""
    if not isinstance(applied, str) or not applied:
        return None
    counts: Mapping[str, list[int]] = json.loads(applied)
    extra = in_doubt == "assume_stored"
    return {p: int(acked) + (int(maybe) if extra else 0) for p, (acked, maybe) in counts.items()}
