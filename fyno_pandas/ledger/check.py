"""The ``only_changed`` check: which plan cells Fyno already acknowledged (pure, vectorised)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .values import States

__all__ = [
    "CHANGED",
    "HOLDS",
    "categories",
    "compare_states",
    "latest_acks",
    "match_rows",
    "unchanged_mask",
]

#: Recorded for an acknowledged add, append or remove: the value is unknown, so the mark must
#: match no plan hash (a later ``set`` of any value is sent). 0 marks an acknowledged unset.
CHANGED = np.uint64(1)
#: Recorded for an acknowledged set_once: the user holds some value (not this value's hash).
HOLDS = np.uint64(2)


def unchanged_mask(
    plan_hashes: Mapping[str, np.ndarray],
    distinct_ids: Sequence[str | None] | np.ndarray,
    acked: pd.DataFrame,
    rows: np.ndarray | None = None,
    any_value: Collection[str] = (),
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
    rows : ndarray, optional
        `match_rows` of ``acked`` and ``distinct_ids``, when the caller has it already.
    any_value : collection of str
        Properties (set_once) for which any acknowledged value, not an unset, matches.

    Returns
    -------
    {property: bool ndarray}
        True where the acknowledged hash equals the plan's hash (an acknowledged unset matches
        a cell that is not set).
    """
    n = len(distinct_ids)
    users, user_codes = categories(acked["distinct_id"])
    props, prop_codes = categories(acked["property"])
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
    row = match_rows(users, distinct_ids) if rows is None else rows
    found = row >= 0
    at = row[found]
    out = {}
    for k, prop in enumerate(wanted):
        mask = np.zeros(n, dtype=bool)
        plan = np.asarray(plan_hashes[prop], dtype=np.uint64)[found]
        same = table[at, k] != 0 if prop in any_value else table[at, k] == plan
        mask[found] = present[at, k] & same
        out[prop] = mask
    return out


def compare_states(
    plan_hashes: Mapping[str, np.ndarray],
    distinct_ids: Sequence[str | None] | np.ndarray,
    states: States,
    any_value: Collection[str] = (),
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """`unchanged_mask` and `latest_acks` straight from the records `read_states` read (with
    each user's latest request): no row per value, no request id per value.

    Returns the masks per property, and per plan row the user's latest request id (None when
    the ledger does not know the user) and its time (datetime64[ns], UTC; NaT).
    """
    n = len(distinct_ids)
    rows = match_rows(states.users, distinct_ids)
    found = rows >= 0
    everyone = len(rows) == len(states.users) and bool(found.all())
    at = rows[found]
    in_order = everyone and bool((at == np.arange(len(at))).all())
    out = {}
    for prop, (held, present) in _columns(states, list(plan_hashes)).items():
        held = held if in_order else held[at]
        plan = np.asarray(plan_hashes[prop], dtype=np.uint64)
        same = held != 0 if prop in any_value else held == (plan if everyone else plan[found])
        if present is not None:
            same &= present if in_order else present[at]
        mask = same if everyone else np.zeros(n, dtype=bool)
        if not everyone:
            mask[found] = same
        out[prop] = mask
    out.update((p, np.zeros(n, dtype=bool)) for p in plan_hashes if p not in out)
    request_id = np.full(n, None, dtype=object)
    when = np.full(n, np.datetime64("NaT", "ns"))
    if states.latest_request is not None and states.latest_at is not None:
        request_id[found] = states.latest_request[at]
        when[found] = states.latest_at[at].view("datetime64[ns]")
    return out, request_id, when


def _columns(states: States, wanted: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Per wanted property the ledger holds: each user's hash (0 where none) and which users
    hold one (None: all of them)."""
    users, rec = len(states.users), states.rec
    width = len(rec) // users if users else 0
    column = {pid: wanted.index(name) for pid, name in states.names.items() if name in wanted}
    if users and len(rec) == users * width and (states.per_user == width).all():
        props = rec["prop"].reshape(users, width)
        if (props == props[0]).all():  # every user holds the same properties in the same order
            hashes = rec["hash"].reshape(users, width)
            return {
                wanted[column[pid]]: (hashes[:, j], None)
                for j, pid in enumerate(props[0].tolist())
                if pid in column
            }
    owner = np.repeat(np.arange(users), states.per_user)
    col = np.full(max(states.names, default=0) + 1, -1, dtype=np.intp)
    for pid, k in column.items():
        col[pid] = k
    col = col[rec["prop"]] if len(rec) else np.zeros(0, dtype=np.intp)
    sel = col >= 0
    table = np.zeros((users, len(wanted)), dtype=np.uint64)
    present = np.zeros((users, len(wanted)), dtype=bool)
    table[owner[sel], col[sel]] = rec["hash"][sel]
    present[owner[sel], col[sel]] = True
    held = present.any(axis=0)
    return {wanted[k]: (table[:, k], present[:, k]) for k in np.flatnonzero(held).tolist()}


def latest_acks(
    acked: pd.DataFrame,
    distinct_ids: Sequence[str | None] | np.ndarray,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per plan row, the user's most recent acknowledged request: request_id and acked_at.

    For rows reported ``unchanged`` (their earlier request id, and since when). Rows whose user
    the ledger does not know get None and NaT. The result has a RangeIndex, one row per id.
    """
    users, codes = categories(acked["distinct_id"])
    at = acked["acked_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    latest = np.full(len(users), -1, dtype=np.intp)
    if len(codes) and (np.diff(codes) >= 0).all():
        # Rows grouped by user, as the ledger reads them: each group's latest time, in one pass.
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        newest = np.maximum.reduceat(at, starts)
        is_newest = at == np.repeat(newest, np.diff(np.r_[starts, len(at)]))
        newest_rows = np.flatnonzero(is_newest)
        latest[codes[newest_rows]] = newest_rows  # ties: the last row at that time is kept
    elif len(codes):
        order = np.lexsort((at, codes))  # by user, then time: each user's last row is latest
        ends = np.flatnonzero(np.r_[codes[order][1:] != codes[order][:-1], True])
        latest[codes[order][ends]] = order[ends]
    row = match_rows(users, distinct_ids) if rows is None else rows
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


def match_rows(users: pd.Index, distinct_ids: Sequence[str | None] | np.ndarray) -> np.ndarray:
    """Per distinct id, its position in ``users`` (the ledger's users), or -1.

    One factorize of both lists: about twice as fast as ``users.get_indexer`` for a million
    string ids, whose hash table pandas would build for that one lookup. Ids in the very order
    of ``users`` (a sorted frame pushed again: the ledger reads users sorted) need no lookup.
    """
    ids = np.asarray(distinct_ids, dtype=object)
    if len(ids) == len(users) and len(ids):
        known = np.asarray(users, dtype=object)
        middle = len(ids) // 2
        ends = (0, middle, -1)
        if all(known[k] == ids[k] for k in ends) and (known == ids).all():
            return np.arange(len(ids))
    codes, _ = pd.factorize(np.concatenate([np.asarray(users, dtype=object), ids]))
    position = np.full(len(users) + len(ids) + 1, -1, dtype=np.intp)
    position[codes[: len(users)]] = np.arange(len(users))
    return position[codes[len(users) :]]  # a missing id (None) has code -1: the last slot


def categories(col: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """(unique values as an Index, codes) of a column: free for a categorical, else factorize."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.categories, col.cat.codes.to_numpy()
    codes, uniques = pd.factorize(col.to_numpy(dtype=object))
    return pd.Index(uniques, dtype=object), codes
