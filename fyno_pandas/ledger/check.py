"""The ``only_changed`` check: which plan cells Fyno already acknowledged (pure, vectorised)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["latest_acks", "unchanged_mask"]


def unchanged_mask(
    plan_hashes: Mapping[str, np.ndarray],
    distinct_ids: Sequence[str | None] | np.ndarray,
    acked: pd.DataFrame,
) -> dict[str, np.ndarray]:
    """Cells whose value Fyno already acknowledged, per property (a vectorised hash join).

    Parameters
    ----------
    plan_hashes : {property: uint64 ndarray}
        The plan's hashes per row (``PushPlan.value_hashes``; 0 where not set).
    distinct_ids : array-like of str or None
        The plan's distinct id per row (None never matches).
    acked : DataFrame
        :meth:`Ledger.acknowledged_hashes` (distinct_id, property, value_hash; categorical or
        plain columns).

    Returns
    -------
    {property: bool ndarray}
        True where the acknowledged hash equals the plan's hash (an acknowledged unset matches
        a cell that is not set).
    """
    n = len(distinct_ids)
    users, user_codes = _categories(acked["distinct_id"])
    props, prop_codes = _categories(acked["property"])
    # The plan's column of each acknowledged property (-1: not in the plan).
    wanted = list(plan_hashes)
    column = np.asarray(pd.Index(wanted, dtype=object).get_indexer(props), dtype=np.intp)
    col = column[prop_codes] if len(prop_codes) else np.zeros(0, dtype=np.intp)
    sel = col >= 0
    # One scatter builds the acknowledged hash of every (user, plan property); present marks
    # which exist, so a missing value never equals a plan hash of 0.
    table = np.zeros((len(users), len(wanted)), dtype=np.uint64)
    present = np.zeros((len(users), len(wanted)), dtype=bool)
    table[user_codes[sel], col[sel]] = acked["value_hash"].to_numpy(dtype=np.uint64)[sel]
    present[user_codes[sel], col[sel]] = True
    # users is the categorical's own Index: its hash table, built by the ledger read, is reused.
    row = users.get_indexer(np.asarray(distinct_ids, dtype=object))
    found = row >= 0
    at = row[found]
    out = {}
    for k, prop in enumerate(wanted):
        mask = np.zeros(n, dtype=bool)
        plan = np.asarray(plan_hashes[prop], dtype=np.uint64)[found]
        mask[found] = present[at, k] & (table[at, k] == plan)
        out[prop] = mask
    return out


def latest_acks(
    acked: pd.DataFrame, distinct_ids: Sequence[str | None] | np.ndarray
) -> pd.DataFrame:
    """Per plan row, the user's most recent acknowledged request: request_id and acked_at.

    For rows reported ``unchanged`` (their earlier request id, and since when). Rows whose user
    the ledger does not know get None and NaT. The result has a RangeIndex, one row per id.
    """
    users, codes = _categories(acked["distinct_id"])
    at = acked["acked_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((at, codes))  # by user, then time: each user's last row is its latest
    ends = (
        np.flatnonzero(np.r_[codes[order][1:] != codes[order][:-1], True]) if len(order) else order
    )
    latest = np.full(len(users), -1, dtype=np.intp)
    latest[codes[order][ends]] = order[ends]
    row = users.get_indexer(np.asarray(distinct_ids, dtype=object))
    pick = np.full(len(row), -1, dtype=np.intp)
    pick[row >= 0] = latest[row[row >= 0]]
    known = pick >= 0
    request_id = np.full(len(pick), None, dtype=object)
    request_id[known] = acked["request_id"].to_numpy(dtype=object)[pick[known]]
    when = np.full(len(pick), np.datetime64("NaT", "ns"))
    when[known] = at[pick[known]].view("datetime64[ns]")
    return pd.DataFrame(
        {
            "request_id": pd.Series(request_id, dtype=object),
            "acked_at": pd.DatetimeIndex(when).tz_localize("UTC"),
        }
    )


def _categories(col: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """(unique values as an Index, codes) of a column: free for a categorical, else factorize."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.categories, col.cat.codes.to_numpy()
    codes, uniques = pd.factorize(col.to_numpy(dtype=object))
    return pd.Index(uniques, dtype=object), codes
